/* Issue 13, findings 8 and 9, with real processes on 127.0.0.1 (a plain
 * federation of three hospital `gaitfed node`s and an evaluator, tiny LSTM):
 *  - revocation takes effect at once: mid-federation `gaitfed pki revoke`
 *    one hospital and copy the CRL into the coordinator kit's crl.pem; that
 *    hospital's next request is refused within 5 s of the CRL landing, on a
 *    new connection and on a connection kept alive from before; the
 *    federation completes without it; the audit log names it and its
 *    serial; a garbage CRL, another CA's and an older one are refused and
 *    the current one kept, also when SIGHUP makes it re-read the file;
 *  - one live node per identity: two `gaitfed node`s with the same kit,
 *    exactly one is served, the other exits 1 with a clear line, the
 *    federation completes with three sites per round, the audit log says so;
 *    a node silent past the 15 s liveness timeout loses its place to a new
 *    instance and, woken up, is the one refused.
 * Children die with the test (PR_SET_PDEATHSIG). */
#include <criterion/criterion.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/fileio.h"
#include "node/https_client.h"
#include "tests/unit/testutil.h"
#include "tests/unit/proc_testutil.h"

#define N_HOSP 3
static const char *const hosp[N_HOSP] = {"imu-clinic", "optical-lab", "video-clinic"};
#define LIVENESS_S(s) (4.0 * (s))

typedef struct {
    char root[1024], kit[1100], db[1100], log[1100];
    int port;
} fed;

/* The consortium: the coordinator's kit in ca/kits/coord (its config names
 * the kit's crl.pem by a relative path, as the skeleton does); the
 * hospitals' and evaluator's kits outside the CA folder (revoking moves a
 * kit kept in it). Configs of a plain federation: min_sites 2, so it can go
 * on without a revoked hospital. */
static void fed_init(fed *f, int rounds, int min_sites)
{
    memset(f, 0, sizeof *f);
    snprintf(f->root, sizeof f->root, "%s", tu_dir());
    const char *root = f->root;
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium revtest > /dev/null && "
                       "%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null && "
                       "%s pki issue --dir %s/ca --name bench --role evaluator --out %s/kits/bench > /dev/null",
                       tu_bin(), root, tu_bin(), root, tu_bin(), root, root), 0);
    for (int i = 0; i < N_HOSP; i++)
        cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name %s --role hospital --out %s/kits/%s > /dev/null", tu_bin(),
                           root, hosp[i], root, hosp[i]), 0);
    snprintf(f->kit, sizeof f->kit, "%s/ca/kits/coord", root);
    snprintf(f->db, sizeof f->db, "%s/coordinator.db", root);
    snprintf(f->log, sizeof f->log, "%s/coordinator.log", root);
    f->port = free_port();
    const char *data = fed_data();
    char path[1300], text[16384];
    snprintf(path, sizeof path, "%s/run.json", f->kit);
    snprintf(text, sizeof text,
             "{\"name\": \"coord\", \"listen\": \"127.0.0.1:%d\", \"key\": \"key.pem\", \"cert\": \"cert.pem\",\n"
             " \"ca\": \"ca.pem\", \"crl\": \"crl.pem\", \"db\": \"%s\", \"secure_aggregation\": false,\n"
             " \"strategy\": \"fedavg\", \"rounds\": %d, \"min_sites\": %d, \"local_epochs\": 1, \"batch\": 32,\n"
             " \"lr\": 0.001, \"seed\": 7, \"cross_site_eval\": false,\n"
             " \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
             " \"timeouts_s\": {\"train\": 20, \"evaluate\": 60}}\n",
             f->port, f->db, rounds, min_sites);
    write_text(path, text);
    for (int i = 0; i < N_HOSP; i++) {
        snprintf(path, sizeof path, "%s/%s.json", root, hosp[i]);
        snprintf(text, sizeof text,
                 "{\"name\": \"%s\", \"role\": \"hospital\", \"coordinator_url\": \"https://localhost:%d\",\n"
                 " \"key\": \"%s/kits/%s/key.pem\", \"cert\": \"%s/kits/%s/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
                 " \"site_db\": \"%s/sites/%s.db\", \"state_dir\": \"state-%s\", \"normalization\": \"own\",\n"
                 " \"threads\": 1, \"poll_ms\": 100, \"backoff_max_ms\": 400}\n",
                 hosp[i], f->port, root, hosp[i], root, hosp[i], root, data, hosp[i], hosp[i]);
        write_text(path, text);
    }
    snprintf(path, sizeof path, "%s/bench.json", root);
    snprintf(text, sizeof text,
             "{\"name\": \"bench\", \"role\": \"evaluator\", \"coordinator_url\": \"https://localhost:%d\",\n"
             " \"key\": \"%s/kits/bench/key.pem\", \"cert\": \"%s/kits/bench/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
             " \"poll_ms\": 100, \"backoff_max_ms\": 400,\n"
             " \"cohorts\": [{\"name\": \"healthy-test\", \"db\": \"%s/cohorts/healthy-test.db\"}]}\n",
             f->port, root, root, root, data);
    write_text(path, text);
}

static pid_t start_coord(const fed *f)
{
    char cfg[1300];
    snprintf(cfg, sizeof cfg, "%s/run.json", f->kit);
    const char *a[] = {"coordinator", "--config", cfg, NULL};
    return proc_spawn(f->log, a);
}

/* `gaitfed node --config root/<cfg>.json`, logging to root/<log>.log. */
static pid_t start_node(const fed *f, const char *cfg, const char *log)
{
    char c[1300], l[1300];
    snprintf(c, sizeof c, "%s/%s.json", f->root, cfg);
    snprintf(l, sizeof l, "%s/%s.log", f->root, log);
    const char *a[] = {"node", "--config", c, "--verbose", NULL};
    return proc_spawn(l, a);
}

static void dump_logs(const fed *f)
{
    tu_sh("for l in %s/*.log; do echo \"== $l\"; tail -n 30 $l; done >&2", f->root);
}

static void wait_ok(const fed *f, pid_t pid, const char *who, double timeout_s)
{
    int rc = wait_exit(pid, timeout_s);
    if (rc != 0) dump_logs(f);
    cr_assert_eq(rc, 0, "%s exited with %d (-1: still running after %.0f s)", who, rc, timeout_s);
}

static void assert_versions(const fed *f, int last)
{
    char b[256], want[256] = "";
    for (int v = 0; v <= last; v++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", v ? "," : "", v);
    proc_query(f->db, "SELECT group_concat(version) FROM (SELECT version FROM models ORDER BY version)", b, sizeof b);
    cr_assert_str_eq(b, want, "model versions %s, expected %s", b, want);
    cr_assert_eq(tu_sh("%s audit verify --db %s > %s/audit.out 2>&1", tu_bin(), f->db, f->root), 0, "audit verify failed");
}

/* The serial of a kit's certificate as the audit log writes it (0x + 16 hex). */
static void kit_serial(const fed *f, const char *kit, char out[32])
{
    char cmd[1400], b[64] = "";
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -serial -in %s/kits/%s/cert.pem | cut -d= -f2", f->root, kit);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(b, sizeof b, p));
    pclose(p);
    snprintf(out, 32, "0x%016llx", strtoull(b, NULL, 16));
}

/* ---- clients of the test process ---- */

/* One request on a new connection with the kit in kit_dir: the HTTP status,
 * or -1 when the coordinator answered none (the handshake refused the
 * certificate); the body into *body (malloc'd) when body is not NULL. */
static long kit_get(const fed *f, const char *kit_dir, const char *path, char **body)
{
    char url[64], key[1200], cert[1200], ca[1200];
    snprintf(url, sizeof url, "https://localhost:%d", f->port);
    snprintf(key, sizeof key, "%s/key.pem", kit_dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", kit_dir);
    snprintf(ca, sizeof ca, "%s/ca/ca.pem", f->root);
    gf_https_client_opts o = {.base_url = url, .key_path = key, .cert_path = cert, .ca_path = ca, .timeout_ms = 20000};
    gf_https_client *c = NULL;
    cr_assert_eq(gf_https_client_new(&o, &c), GF_OK, "%s", gf_errmsg());
    gf_https_resp r;
    long st = gf_https_get(c, path, 1 << 24, &r) == GF_OK ? r.status : -1;
    if (body) *body = st >= 0 ? strdup((const char *)r.body) : NULL;
    if (st >= 0) gf_https_resp_free(&r);
    gf_https_client_free(c);
    return st;
}

static long fresh_get(const fed *f, const char *kit, const char *path)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/kits/%s", f->root, kit);
    return kit_get(f, dir, path, NULL);
}

/* A counter of the coordinator's /metrics (read with its own kit). */
static long metric(const fed *f, const char *series)
{
    char *m = NULL;
    cr_assert_eq(kit_get(f, f->kit, "/metrics", &m), 200);
    const char *p = strstr(m, series);
    cr_assert_not_null(p, "/metrics has no %s", series);
    long v = strtol(p + strlen(series), NULL, 10);
    free(m);
    return v;
}

/* A connection of our own (OpenSSL), kept alive across requests. */
typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} keepalive;

static void ka_open(keepalive *k, const fed *f, const char *kit)
{
    k->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(k->fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {20, 0};
    setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    k->ctx = SSL_CTX_new(TLS_client_method());
    char p[1200];
    snprintf(p, sizeof p, "%s/ca/ca.pem", f->root);
    cr_assert_eq(SSL_CTX_load_verify_file(k->ctx, p), 1);
    SSL_CTX_set_verify(k->ctx, SSL_VERIFY_PEER, NULL);
    snprintf(p, sizeof p, "%s/kits/%s/cert.pem", f->root, kit);
    cr_assert_eq(SSL_CTX_use_certificate_chain_file(k->ctx, p), 1);
    snprintf(p, sizeof p, "%s/kits/%s/key.pem", f->root, kit);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(k->ctx, p, SSL_FILETYPE_PEM), 1);
    k->ssl = SSL_new(k->ctx);
    SSL_set_fd(k->ssl, k->fd);
    SSL_set_tlsext_host_name(k->ssl, "localhost");
    cr_assert_eq(SSL_connect(k->ssl), 1, "handshake: %s", ERR_error_string(ERR_get_error(), NULL));
}

static void ka_close(keepalive *k)
{
    SSL_free(k->ssl);
    SSL_CTX_free(k->ctx);
    close(k->fd);
}

/* GET path on the kept connection: the status (-1: closed, no answer) and
 * the JSON error code into code. Reads exactly one response (Content-Length). */
static long ka_get(keepalive *k, const char *path, char *code, size_t cap)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    code[0] = 0;
    if (SSL_write(k->ssl, req, n) != n) return ERR_clear_error(), -1;
    static char buf[1 << 20];
    size_t got = 0, need = 0;
    char *body = NULL;
    for (;;) {
        if (body && got >= need) break;
        int r = SSL_read(k->ssl, buf + got, (int)(sizeof buf - 1 - got));
        if (r <= 0) return ERR_clear_error(), -1;
        got += (size_t)r;
        buf[got] = 0;
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            const char *cl = strstr(buf, "Content-Length:");
            cr_assert_not_null(cl, "no Content-Length in %s", buf);
            need = (size_t)(body - buf) + strtoul(cl + 15, NULL, 10);
            cr_assert_lt(need, sizeof buf);
        }
    }
    long st = strtol(buf + 9, NULL, 10);
    const char *c = strstr(body, "\"code\":\"");
    if (c) snprintf(code, cap, "%.*s", (int)strcspn(c + 8, "\""), c + 8);
    return st;
}

/* Installs src as the coordinator kit's crl.pem (temp name, then rename). */
static void deliver_crl(const fed *f, const char *src)
{
    cr_assert_eq(tu_sh("cp %s %s/crl.pem.new && mv %s/crl.pem.new %s/crl.pem", src, f->kit, f->kit, f->kit), 0);
}

/* After a CRL was refused: the revoked hospital stays refused on new
 * connections, an honest one is served. */
static void assert_still_revoked(const fed *f, const char *what)
{
    cr_assert_eq(fresh_get(f, hosp[0], "/v1/models/0"), -1, "%s: the revoked hospital got in again", what);
    cr_assert_eq(fresh_get(f, hosp[1], "/v1/models/0"), 200, "%s: an honest hospital is refused", what);
}

/* ---- revocation at once ---- */

#define REV_ROUNDS 40

Test(revoke, revoked_hospital_refused_at_once_on_new_and_kept_connections)
{
    signal(SIGPIPE, SIG_IGN); /* writing on the connection the coordinator closed */
    fed f;
    fed_init(&f, REV_ROUNDS, 2);
    char old_crl[1300], serial[32];
    snprintf(old_crl, sizeof old_crl, "%s/crl-before.pem", f.root);
    cr_assert_eq(tu_sh("cp %s/crl.pem %s", f.kit, old_crl), 0);
    kit_serial(&f, hosp[0], serial);
    pid_t coord = start_coord(&f), node[N_HOSP], eval = start_node(&f, "bench", "bench");
    for (int i = 0; i < N_HOSP; i++) node[i] = start_node(&f, hosp[i], hosp[i]);
    int mid = proc_wait_log(f.log, "round 2 attempt 1 opened", 1, LIVENESS_S(60));
    if (!mid) dump_logs(&f);
    cr_assert(mid, "round 2 never opened");

    /* A connection of the hospital, kept alive from before the revocation. */
    keepalive ka;
    char code[64];
    ka_open(&ka, &f, hosp[0]);
    cr_assert_eq(ka_get(&ka, "/v1/models/0", code, sizeof code), 200, "before the revocation: %s", code);

    double t_revoke = now_s();
    cr_assert_eq(tu_sh("%s pki revoke --dir %s/ca --name %s > %s/revoke.out", tu_bin(), f.root, hosp[0], f.root), 0);
    char crl[1300];
    snprintf(crl, sizeof crl, "%s/ca/crl.pem", f.root);
    deliver_crl(&f, crl);
    double t_land = now_s(), t_kept = 0, t_new = 0;
    long kept_status = 0;
    while ((!t_kept || !t_new) && now_s() - t_land < 10) {
        if (!t_kept) {
            long st = ka_get(&ka, "/v1/models/0", code, sizeof code);
            if (st != 200) t_kept = now_s(), kept_status = st;
        }
        if (!t_new && fresh_get(&f, hosp[0], "/v1/models/0") == -1) t_new = now_s();
        sleep_ms(50);
    }
    int st;
    cr_assert_eq(waitpid(coord, &st, WNOHANG), 0, "the coordinator is gone: nothing was measured");
    cr_assert_eq(kept_status, 403, "kept-alive connection: status %ld (0: still served 10 s after the CRL landed)",
                 kept_status);
    cr_assert_str_eq(code, "certificate_revoked");
    cr_assert_eq(ka_get(&ka, "/v1/models/0", code, sizeof code), -1, "the connection should be closed after the 403");
    ka_close(&ka);
    cr_assert(t_new, "a new connection of the revoked hospital was still served 10 s after the CRL landed");
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long refused_ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    printf("revoke: pki revoke to refusal: kept-alive connection %.2f s, new connection %.2f s "
           "(CRL landed %.2f s after pki revoke started)\n",
           t_kept - t_revoke, t_new - t_revoke, t_land - t_revoke);
    fflush(stdout);
    cr_assert_leq(t_kept - t_land, 5.0, "kept-alive connection refused %.2f s after the CRL landed", t_kept - t_land);
    cr_assert_leq(t_new - t_land, 5.0, "new connection refused %.2f s after the CRL landed", t_new - t_land);

    cr_assert_eq(tu_sh("grep -q 'deliver it to the coordinator: copy %s/ca/crl.pem over the crl.pem' %s/revoke.out",
                       f.root, f.root), 0, "pki revoke should say how to deliver the CRL");

    /* A flood of handshakes with the revoked certificate: refused, and not one audit row each. */
    for (int i = 0; i < 50; i++) cr_assert_eq(fresh_get(&f, hosp[0], "/v1/models/0"), -1);

    /* The revoked node is told and stops. */
    int rc = wait_exit(node[0], LIVENESS_S(30));
    if (rc != 1) dump_logs(&f);
    cr_assert_eq(rc, 1, "the revoked hospital's node should exit 1, got %d", rc);

    /* Bad CRLs are refused, the current one kept (never fail open). */
    char other[1300];
    snprintf(other, sizeof other, "%s/garbage.pem", f.root);
    write_text(other, "-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n");
    const char *bad[][2] = {{other, "garbage"}, {NULL, "another CA's CRL"}, {old_crl, "the CRL from before the revocation"}};
    char other_ca[1300];
    snprintf(other_ca, sizeof other_ca, "%s/other/crl.pem", f.root);
    cr_assert_eq(tu_sh("%s pki init --dir %s/other --consortium revtest > /dev/null", tu_bin(), f.root), 0);
    bad[1][0] = other_ca;
    for (int i = 0; i < 3; i++) {
        deliver_crl(&f, bad[i][0]);
        int refused = proc_wait_log(f.log, "revocation list refused", i + 1, 10);
        if (!refused) dump_logs(&f);
        cr_assert(refused, "%s: not refused", bad[i][1]);
        assert_still_revoked(&f, bad[i][1]);
    }
    cr_assert_eq(tu_sh("grep 'revocation list refused' %s | tail -n 1 | grep -q 'older than the current one'", f.log), 0,
                 "the older CRL should be refused as older");
    /* SIGHUP re-reads the file although it did not change (and refuses it again). */
    kill(coord, SIGHUP);
    int hup = proc_wait_log(f.log, "revocation list refused", 4, 10);
    if (!hup) dump_logs(&f);
    cr_assert(hup && proc_log_count(f.log, "SIGHUP: re-reading the revocation list") == 1, "SIGHUP did not re-read the CRL");
    assert_still_revoked(&f, "after SIGHUP");
    cr_assert_eq(metric(&f, "gaitfed_crl_reloads_total{result=\"taken\"} "), 1);
    cr_assert_eq(metric(&f, "gaitfed_crl_reloads_total{result=\"refused\"} "), 4);
    cr_assert_geq(metric(&f, "gaitfed_refused_connections_total{reason=\"revoked\"} "), 1);

    for (int i = 1; i < N_HOSP; i++) wait_ok(&f, node[i], hosp[i], LIVENESS_S(120));
    wait_ok(&f, eval, "bench", LIVENESS_S(60));
    wait_ok(&f, coord, "coordinator", LIVENESS_S(60));
    assert_versions(&f, REV_ROUNDS);
    char sql[512];
    /* Named with its serial, refused on the kept connection and in new handshakes. */
    for (int h = 0; h < 2; h++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM audit WHERE event = 'certificate_refused' AND json_extract(detail, '$.site') = '%s' "
                 "AND json_extract(detail, '$.serial') = '%s' AND json_extract(detail, '$.where') = '%s'",
                 hosp[0], serial, h ? "handshake" : "request");
        cr_assert_eq(proc_query_long(f.db, sql), 1, "expected one audit row naming %s (serial %s) refused in the %s",
                     hosp[0], serial, h ? "handshake" : "request");
    }
    /* Rate-limited: one row per certificate, kind and minute, however often it knocked (here 55+ times). */
    cr_assert_eq(proc_query_long(f.db, "SELECT count(*) FROM audit WHERE event = 'certificate_refused'"), 2);
    /* No round opened after the refusal counted the hospital (and there were such rounds). */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM rounds WHERE opened_ms > %lld", refused_ms);
    cr_assert_geq(proc_query_long(f.db, sql), 1, "no round opened after the revocation");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM round_sites JOIN rounds USING (round) WHERE site = '%s' AND opened_ms > %lld",
             hosp[0], refused_ms);
    cr_assert_eq(proc_query_long(f.db, sql), 0, "a round opened after the revocation counted %s", hosp[0]);
}

/* ---- one live node per identity ---- */

Test(revoke, second_node_with_the_same_kit_is_refused_and_exits)
{
    fed f;
    fed_init(&f, 3, 3);
    /* The duplicate: the same kit, its own state folder (another machine). */
    cr_assert_eq(tu_sh("sed -e 's|state-%s|state-%s-twin|' %s/%s.json > %s/twin.json", hosp[0], hosp[0], f.root, hosp[0],
                       f.root), 0);
    pid_t coord = start_coord(&f), node[N_HOSP], eval = start_node(&f, "bench", "bench");
    for (int i = 1; i < N_HOSP; i++) node[i] = start_node(&f, hosp[i], hosp[i]);
    /* Both at once: whichever asks first holds the place. */
    pid_t a = start_node(&f, hosp[0], hosp[0]), b = start_node(&f, "twin", "twin");
    int st;
    double t0 = now_s();
    pid_t first = -1;
    while (first <= 0 && now_s() - t0 < LIVENESS_S(60)) {
        first = waitpid(-1, &st, WNOHANG);
        if (first == 0) sleep_ms(50);
    }
    if (first != a && first != b) dump_logs(&f);
    cr_assert(first == a || first == b, "neither duplicate was refused: %s exited first",
              first == coord ? "the coordinator" : first == eval ? "the evaluator" : first > 0 ? "another hospital" : "nothing");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "the refused duplicate should exit 1");
    const char *loser = first == a ? hosp[0] : "twin", *winner_cfg = first == a ? "twin" : hosp[0];
    pid_t winner = first == a ? b : a;
    char want[256];
    snprintf(want, sizeof want, "gaitfed: another node with %s's certificate is already taking part in round ", hosp[0]);
    cr_assert_eq(tu_sh("tail -n 1 %s/%s.log | grep -F \"%s\" | grep -q 'this one exits$'", f.root, loser, want), 0,
                 "%s: the last line should say another node holds the place", loser);
    /* A third on the winner's own state folder is refused before it asks. */
    pid_t c = start_node(&f, winner_cfg, "third");
    cr_assert_eq(wait_exit(c, LIVENESS_S(30)), 1);
    cr_assert_eq(tu_sh("tail -n 1 %s/third.log | grep -q 'another node is running with this state folder; this one exits'",
                       f.root), 0, "the third node should name the busy state folder");

    wait_ok(&f, winner, "the served duplicate", LIVENESS_S(90));
    for (int i = 1; i < N_HOSP; i++) wait_ok(&f, node[i], hosp[i], LIVENESS_S(90));
    wait_ok(&f, eval, "bench", LIVENESS_S(60));
    wait_ok(&f, coord, "coordinator", LIVENESS_S(60));
    assert_versions(&f, 3);
    /* The site took part once per round: its place was never split. */
    cr_assert_eq(proc_query_long(f.db, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 3"), 3);
    char sql[512], serial[32];
    kit_serial(&f, hosp[0], serial);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE event = 'duplicate_instance' AND json_extract(detail, '$.site') = '%s' "
             "AND json_extract(detail, '$.serial') = '%s'", hosp[0], serial);
    cr_assert_eq(proc_query_long(f.db, sql), 1, "expected one duplicate_instance row naming %s", hosp[0]);
}

/* A node silent past the liveness timeout (stopped) loses its place to a new
 * instance with the same kit (a node restarted elsewhere); when it wakes up it
 * is the duplicate: refused, it exits 1. */
Test(revoke, silent_node_loses_its_place_after_the_liveness_timeout)
{
    fed f;
    fed_init(&f, 3, 3);
    cr_assert_eq(tu_sh("sed -e 's|state-%s|state-%s-new|' %s/%s.json > %s/new.json", hosp[0], hosp[0], f.root, hosp[0],
                       f.root), 0);
    pid_t coord = start_coord(&f), node[N_HOSP], eval = start_node(&f, "bench", "bench");
    for (int i = 0; i < N_HOSP; i++) node[i] = start_node(&f, hosp[i], hosp[i]);
    int open = proc_wait_log(f.log, "round 1 attempt 1 opened with 3 sites", 1, LIVENESS_S(60));
    if (!open) dump_logs(&f);
    cr_assert(open, "round 1 never opened with the three hospitals");
    kill(node[0], SIGSTOP);
    sleep_ms(16000); /* past the 15 s liveness timeout */
    pid_t repl = start_node(&f, "new", "new");
    int took = proc_wait_log(f.log, "site imu-clinic: a new node instance takes over", 1, LIVENESS_S(30));
    if (!took) dump_logs(&f);
    cr_assert(took, "the new instance did not take the silent one's place");
    kill(node[0], SIGCONT);
    int rc = wait_exit(node[0], LIVENESS_S(30));
    if (rc != 1) dump_logs(&f);
    cr_assert_eq(rc, 1, "the woken node should be refused and exit 1, got %d", rc);
    cr_assert_eq(tu_sh("tail -n 1 %s/%s.log | grep -q 'certificate is already taking part in round .*this one exits$'", f.root,
                       hosp[0]), 0, "the woken node's last line should say another node holds the place");
    wait_ok(&f, repl, "the new instance", LIVENESS_S(90));
    for (int i = 1; i < N_HOSP; i++) wait_ok(&f, node[i], hosp[i], LIVENESS_S(90));
    wait_ok(&f, eval, "bench", LIVENESS_S(60));
    wait_ok(&f, coord, "coordinator", LIVENESS_S(60));
    assert_versions(&f, 3);
    cr_assert_eq(proc_query_long(f.db, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 3"), 3);
    cr_assert_eq(proc_query_long(f.db, "SELECT count(*) FROM audit WHERE event = 'instance_replaced' AND "
                                       "json_extract(detail, '$.site') = 'imu-clinic' AND "
                                       "json_extract(detail, '$.previous_silent_ms') > 15000"), 1);
    cr_assert_eq(proc_query_long(f.db, "SELECT count(*) FROM audit WHERE event = 'duplicate_instance'"), 1,
                 "the woken node's refusal should be audited");
}

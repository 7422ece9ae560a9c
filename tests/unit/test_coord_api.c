/* A running `gaitfed coordinator` against clients that misbehave: the test
 * process itself speaks the protocol (node/https_client, crypto/secagg) as
 * two hospitals and an evaluator, and checks that one site's certificate
 * cannot submit for another (a message naming another party index, an
 * advert carrying another site's certificate), that roles, rounds, phases,
 * media types and duplicates are enforced with the documented status and
 * error code, and that no, foreign or revoked certificates get no answer at
 * all. The coordinator is killed with the test (PR_SET_PDEATHSIG). */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <jansson.h>

#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/secagg.h"
#include "node/https_client.h"
#include "testutil.h"

typedef struct {
    char dir[1024];
    int port;
    pid_t coord;
} api_fixture;

static void pki(const api_fixture *f, const char *args)
{
    cr_assert_eq(tu_sh("%s pki %s > /dev/null", tu_bin(), args), 0, "gaitfed pki %s", args);
    (void)f;
}

/* sites: the config's "sites" allow-list as JSON, or NULL for none. */
static void start(api_fixture *f, const char *sites)
{
    memset(f, 0, sizeof *f); /* the port is polled until it is non-zero */
    snprintf(f->dir, sizeof f->dir, "%s", tu_dir());
    char a[4200];
    snprintf(a, sizeof a, "init --dir %s/ca --consortium apitest", f->dir), pki(f, a);
    snprintf(a, sizeof a, "init --dir %s/other --consortium othernet", f->dir), pki(f, a);
    const char *who[][2] = {{"coord", "coordinator"}, {"h1", "hospital"}, {"h2", "hospital"}, {"h3", "hospital"},
                            {"bench", "evaluator"}, {"outsider", "hospital"}};
    for (int i = 0; i < 6; i++) {
        snprintf(a, sizeof a, "issue --dir %s/ca --name %s --role %s --out %s/kit-%s", f->dir, who[i][0], who[i][1],
                 f->dir, who[i][0]);
        pki(f, a);
    }
    snprintf(a, sizeof a, "issue --dir %s/other --name h1 --role hospital --out %s/kit-stranger", f->dir, f->dir);
    pki(f, a);
    snprintf(a, sizeof a, "revoke --dir %s/ca --name h3", f->dir), pki(f, a);
    char cfg[1200], text[2048];
    snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
    snprintf(text, sizeof text,
             "{\"name\": \"coord\", \"listen\": \"127.0.0.1:0\", \"key\": \"kit-coord/key.pem\", \"cert\": "
             "\"kit-coord/cert.pem\", \"ca\": \"ca/ca.pem\", \"crl\": \"ca/crl.pem\", \"db\": \"coordinator.db\",\n"
             " \"rounds\": 1, \"min_sites\": 2, \"model\": {\"arch\": \"lstm\", \"d_model\": 8, \"layers\": 1},\n"
             " %s%s%s\"timeouts_s\": {\"train\": 120}}\n",
             sites ? "\"sites\": " : "", sites ? sites : "", sites ? ", " : "");
    cr_assert_eq(gf_write_file_atomic(cfg, text, strlen(text)), GF_OK);
    char portf[1200], log[1200];
    snprintf(portf, sizeof portf, "%s/port", f->dir);
    snprintf(log, sizeof log, "%s/coordinator.log", f->dir);
    pid_t parent = getpid();
    f->coord = fork();
    cr_assert_geq(f->coord, 0);
    if (f->coord == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
        execl(tu_bin(), tu_bin(), "coordinator", "--config", cfg, "--port-file", portf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300 && !f->port; i++) {
        FILE *pf = fopen(portf, "r");
        if (pf) {
            if (fscanf(pf, "%d", &f->port) != 1) f->port = 0;
            fclose(pf);
        }
        if (!f->port) usleep(50000);
    }
    cr_assert_gt(f->port, 0, "the coordinator did not start (see %s)", log);
}

static void stop(api_fixture *f)
{
    kill(f->coord, SIGTERM);
    int st;
    waitpid(f->coord, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the coordinator did not stop cleanly");
    cr_assert_eq(tu_sh("%s audit verify --db %s/coordinator.db > /dev/null", tu_bin(), f->dir), 0);
}

static gf_https_client *client(const api_fixture *f, const char *kit)
{
    char url[64], key[1200], cert[1200], ca[1200];
    snprintf(url, sizeof url, "https://localhost:%d", f->port);
    snprintf(key, sizeof key, "%s/kit-%s/key.pem", f->dir, kit);
    snprintf(cert, sizeof cert, "%s/kit-%s/cert.pem", f->dir, kit);
    snprintf(ca, sizeof ca, "%s/ca/ca.pem", f->dir);
    gf_https_client_opts o = {.base_url = url, .key_path = key, .cert_path = cert, .ca_path = ca, .timeout_ms = 20000};
    gf_https_client *c = NULL;
    cr_assert_eq(gf_https_client_new(&o, &c), GF_OK, "%s", gf_errmsg());
    return c;
}

static json_t *work(gf_https_client *c)
{
    gf_https_resp r;
    cr_assert_eq(gf_https_get(c, "/v1/work", 1 << 20, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.status, 200);
    json_t *j = json_loadb((const char *)r.body, r.len, 0, NULL);
    gf_https_resp_free(&r);
    cr_assert_not_null(j);
    return j;
}

/* Secure-aggregation parameters of a work item. */
static void params_of(const json_t *w, gf_secagg_params *p)
{
    const json_t *s = json_object_get(w, "secagg");
    cr_assert(json_is_object(s));
    memset(p, 0, sizeof *p);
    p->round_id = (uint64_t)json_integer_value(json_object_get(s, "round_id"));
    cr_assert_eq(gf_unhex(json_string_value(json_object_get(s, "nonce")), p->nonce, 32), GF_OK);
    p->n = (uint32_t)json_integer_value(json_object_get(s, "n"));
    p->k = (uint32_t)json_integer_value(json_object_get(s, "k"));
    p->t = (uint32_t)json_integer_value(json_object_get(s, "t"));
    p->L = (uint32_t)json_integer_value(json_object_get(s, "L"));
    p->clip = json_number_value(json_object_get(s, "clip"));
    p->scale = json_number_value(json_object_get(s, "scale"));
    cr_assert_eq(gf_secagg_params_check(p), GF_OK, "%s", gf_errmsg());
}

/* POSTs an advert made by `signer` for party `index` as the client c; returns the response. */
static void post_advert(gf_https_client *c, const gf_secagg_params *p, uint32_t index, const gf_identity *signer,
                        const gf_trust *trust, int64_t attempt, gf_https_resp *r)
{
    gf_secagg_client *sc = NULL;
    cr_assert_eq(gf_secagg_client_new(p, index, signer, trust, &sc), GF_OK, "%s", gf_errmsg());
    uint8_t *msg = NULL;
    size_t len = 0;
    cr_assert_eq(gf_secagg_client_advertise(sc, &msg, &len), GF_OK, "%s", gf_errmsg());
    char *b64 = NULL;
    cr_assert_eq(gf_b64_encode(msg, len, &b64), GF_OK);
    json_t *j = json_pack("{s:I,s:I,s:{},s:s}", "attempt", (json_int_t)attempt, "n_samples", (json_int_t)10, "val",
                          "advert", b64);
    char *body = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(gf_https_post(c, "/v1/rounds/1/advert", "application/json", body, strlen(body), 1 << 16, r), GF_OK,
                 "%s", gf_errmsg());
    free(body), json_decref(j), free(b64), free(msg);
    gf_secagg_client_free(sc);
}

static void expect(const gf_https_resp *r, long status, const char *code, const char *what)
{
    cr_assert_eq(r->status, status, "%s: status %ld (%s: %s), expected %ld %s", what, r->status, r->error_code,
                 r->error_msg, status, code);
    if (code) cr_assert_str_eq(r->error_code, code, "%s: %s", what, r->error_msg);
}

Test(coord_api, one_site_cannot_submit_for_another_and_rules_hold)
{
    api_fixture f;
    start(&f, NULL);
    gf_https_client *c1 = client(&f, "h1"), *c2 = client(&f, "h2"), *ev = client(&f, "bench");
    /* Both hospitals poll until the round opens for them. */
    json_t *w1 = NULL, *w2 = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(w1), json_decref(w2);
        w1 = work(c1), w2 = work(c2);
        if (!strcmp(json_string_value(json_object_get(w1, "state")), "train") &&
            !strcmp(json_string_value(json_object_get(w2, "state")), "train"))
            break;
        usleep(50000);
    }
    cr_assert_str_eq(json_string_value(json_object_get(w1, "state")), "train");
    gf_secagg_params p;
    params_of(w1, &p);
    uint32_t i1 = (uint32_t)json_integer_value(json_object_get(w1, "index"));
    uint32_t i2 = (uint32_t)json_integer_value(json_object_get(w2, "index"));
    int64_t attempt = json_integer_value(json_object_get(w1, "attempt"));
    cr_assert(i1 >= 1 && i2 >= 1 && i1 != i2);
    gf_identity *id1 = NULL, *id2 = NULL;
    gf_trust *trust = NULL;
    char kit[1200], ca[1200];
    snprintf(kit, sizeof kit, "%s/kit-h1", f.dir);
    cr_assert_eq(gf_identity_load_kit(kit, &id1), GF_OK);
    snprintf(kit, sizeof kit, "%s/kit-h2", f.dir);
    cr_assert_eq(gf_identity_load_kit(kit, &id2), GF_OK);
    snprintf(ca, sizeof ca, "%s/ca/ca.pem", f.dir);
    cr_assert_eq(gf_trust_load(ca, NULL, &trust), GF_OK);

    gf_https_resp r;
    /* h1's connection, h2's party index (signed by h1): refused. */
    post_advert(c1, &p, i2, id1, trust, attempt, &r);
    expect(&r, 403, "forbidden", "advert for another party index");
    gf_https_resp_free(&r);
    /* h1's connection and index, but h2's certificate and signature in the advert: refused. */
    post_advert(c1, &p, i1, id2, trust, attempt, &r);
    expect(&r, 422, "invalid", "advert carrying another site's certificate");
    cr_assert(strstr(r.error_msg, "h2") && strstr(r.error_msg, "h1"), "%s", r.error_msg);
    gf_https_resp_free(&r);
    /* An evaluator may not take part in a round. */
    post_advert(ev, &p, i1, id1, trust, attempt, &r);
    expect(&r, 403, "forbidden", "advert from an evaluator");
    gf_https_resp_free(&r);
    /* Another attempt's advert, a wrong media type, an earlier round, an unknown path. */
    post_advert(c1, &p, i1, id1, trust, attempt + 1, &r);
    expect(&r, 410, "stale_round", "advert of another attempt");
    gf_https_resp_free(&r);
    cr_assert_eq(gf_https_post(c1, "/v1/rounds/1/advert", "text/plain", "x", 1, 1 << 16, &r), GF_OK);
    expect(&r, 415, "unsupported_media_type", "advert as text/plain");
    gf_https_resp_free(&r);
    cr_assert_eq(gf_https_post(c1, "/v1/rounds/0/advert", "application/json", "{}", 2, 1 << 16, &r), GF_OK);
    expect(&r, 410, "stale_round", "advert for round 0");
    gf_https_resp_free(&r);
    cr_assert_eq(gf_https_post(c1, "/v1/rounds/1/advert", "application/json", "{\"attempt\":", 11, 1 << 16, &r), GF_OK);
    expect(&r, 400, "bad_request", "malformed JSON");
    gf_https_resp_free(&r);
    cr_assert_eq(gf_https_get(c1, "/v1/nothing", 1 << 16, &r), GF_OK);
    expect(&r, 404, "not_found", "unknown endpoint");
    gf_https_resp_free(&r);
    cr_assert_eq(gf_https_get(c1, "/v1/rounds/1/adverts", 1 << 16, &r), GF_OK);
    expect(&r, 409, "wrong_phase", "advert list before it is closed");
    gf_https_resp_free(&r);
    /* The honest advert is accepted once; the same again is a duplicate. */
    post_advert(c1, &p, i1, id1, trust, attempt, &r);
    expect(&r, 202, NULL, "honest advert");
    gf_https_resp_free(&r);
    post_advert(c1, &p, i1, id1, trust, attempt, &r);
    expect(&r, 409, "duplicate", "second advert");
    gf_https_resp_free(&r);
    /* The model served is the one the work item names. */
    char path[64];
    json_t *model = json_object_get(w1, "model");
    snprintf(path, sizeof path, "/v1/models/%lld", (long long)json_integer_value(json_object_get(model, "version")));
    cr_assert_eq(gf_https_get(c1, path, 1 << 24, &r), GF_OK, "%s", gf_errmsg());
    uint8_t h[32];
    char hex[65];
    gf_sha256(r.body, r.len, h), gf_hex(h, 32, hex);
    cr_assert_str_eq(hex, json_string_value(json_object_get(model, "sha256")));
    gf_https_resp_free(&r);

    /* No answer at all without a consortium certificate, with a foreign or a revoked one. */
    const char *bad[] = {"stranger", "h3"};
    for (int i = 0; i < 2; i++) {
        gf_https_client *b = client(&f, bad[i]);
        gf_err e = gf_https_get(b, "/v1/work", 1 << 16, &r);
        cr_assert(e == GF_ECRYPTO || e == GF_ENET, "%s got an answer", bad[i]);
        gf_https_client_free(b);
    }
    cr_assert_neq(tu_sh("curl -s -o /dev/null --max-time 5 --cacert %s https://localhost:%d/v1/work", ca, f.port), 0,
                  "no client certificate");

    /* /metrics: for coordinator kits only, in valid Prometheus text (checked by a strict
     * parser written from the format's specification) with the counts of this run: at
     * least the 16 requests made above (2 polls, 12 round and model requests, 2 /metrics),
     * and a fatal TLS alert for each of the foreign and the revoked certificate. */
    cr_assert_eq(gf_https_get(c1, "/metrics", 1 << 16, &r), GF_OK);
    expect(&r, 403, "forbidden", "/metrics for a hospital");
    gf_https_resp_free(&r);
    gf_https_client *op = client(&f, "coord");
    cr_assert_eq(gf_https_get(op, "/metrics", 1 << 20, &r), GF_OK, "%s", gf_errmsg());
    expect(&r, 200, NULL, "/metrics");
    cr_assert(!strncmp(r.content_type, "text/plain; version=0.0.4", 25), "%s", r.content_type);
    char mpath[1200];
    snprintf(mpath, sizeof mpath, "%s/metrics.txt", f.dir);
    cr_assert_eq(gf_write_file_atomic(mpath, r.body, r.len), GF_OK);
    gf_https_resp_free(&r);
    cr_assert_eq(tu_sh("%s %s/tests/py/prom_check.py %s 'gaitfed_round=1' 'gaitfed_model_version=0' "
                       "'gaitfed_secure_aggregation=1' 'gaitfed_sites_online{role=\"hospital\"}=2' "
                       "'gaitfed_sites_online{role=\"evaluator\"}=1' 'gaitfed_rounds_aggregated_total=0' "
                       "'gaitfed_refused_connections_total{reason=\"tls\"}>=2' 'gaitfed_http_requests_total>=16'",
                       tu_python(), tu_root(), mpath),
                 0, "/metrics is not valid Prometheus text with this run's counts (%s)", mpath);
    gf_https_client_free(op);

    json_decref(w1), json_decref(w2);
    gf_identity_free(id1), gf_identity_free(id2), gf_trust_free(trust);
    gf_https_client_free(c1), gf_https_client_free(c2), gf_https_client_free(ev);
    stop(&f);
    /* Refused handshakes are in the audit log (batched: the first batch at once). */
    cr_assert_eq(tu_sh("test \"$(sqlite3 %s/coordinator.db \"select json_extract(detail, '$.tls_alerts') >= 1 from audit "
                       "where event = 'connections_refused' order by seq limit 1\")\" = 1",
                       f.dir),
                 0, "no connections_refused audit row with the TLS refusals");
    /* The refused attempts left no participant behind: only h1's honest advert was recorded. */
    cr_assert_eq(tu_sh("test \"$(sqlite3 %s/coordinator.db 'select group_concat(site) from round_sites')\" = h1",
                       f.dir),
                 0);
}

/* GET /v1/status answers the federation's sites and operators only: with a
 * `sites` allow-list, a hospital and an evaluator on it and a coordinator kit
 * get the status; a hospital of the same consortium that is not on it gets
 * 403 forbidden (as on every other endpoint), and is counted as refused. */
Test(coord_api, status_answers_only_allowed_sites_and_coordinator_kits)
{
    api_fixture f;
    start(&f, "[\"h1\", \"h2\", \"bench\"]");
    const char *kits[] = {"h1", "bench", "coord", "outsider"};
    const long want[] = {200, 200, 200, 403};
    gf_https_resp r;
    for (int i = 0; i < 4; i++) {
        gf_https_client *c = client(&f, kits[i]);
        cr_assert_eq(gf_https_get(c, "/v1/status", 1 << 20, &r), GF_OK, "%s: %s", kits[i], gf_errmsg());
        expect(&r, want[i], want[i] == 200 ? NULL : "forbidden", kits[i]);
        json_t *j = json_loadb((const char *)r.body, r.len, 0, NULL);
        /* what an allowed reader sees: the round and the sites; the outsider none of it */
        cr_assert_eq(json_is_integer(json_object_get(j, "round")), want[i] == 200, "%s: %.*s", kits[i], (int)r.len,
                     (const char *)r.body);
        cr_assert(want[i] == 200 || !strstr((const char *)r.body, "\"sites\""), "%s saw the site list", kits[i]);
        json_decref(j);
        gf_https_resp_free(&r);
        gf_https_client_free(c);
    }
    gf_https_client *op = client(&f, "coord");
    cr_assert_eq(gf_https_get(op, "/metrics", 1 << 20, &r), GF_OK, "%s", gf_errmsg());
    cr_assert(strstr((const char *)r.body, "gaitfed_refused_connections_total{reason=\"unregistered\"} 1"), "the outsider is not counted as refused");
    gf_https_resp_free(&r);
    gf_https_client_free(op);
    stop(&f);
}

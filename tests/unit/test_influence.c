/* Bounded influence and the pause (issue 13, findings 2-4), with real
 * processes: a coordinator, three honest `gaitfed node` hospitals and one
 * registered hospital running modified code (tests/evil/evil_node, GF_EVIL),
 * a tiny LSTM. The rogue attacks one round at a time; each round is a run of
 * its own (coordinator restarted with "rounds" one higher, fresh nodes), since
 * a node drops a round's cached update once it trains the next and the
 * reference below needs them. Every stored model version is checked against
 *   - the bound: |θ_r − θ_{r−1}| in L∞ and L2 <= update_clip (FedAvg, server
 *     step 1), up to float32 rounding;
 *   - the reference: θ_{r−1} + the equal-weight mean of the four cached
 *     updates (each node's state_dir), each scaled to L2 <= update_clip, a
 *     non-finite one left out — computed here in double, independently of
 *     the coordinator (secure: within the fixed-point rounding bound);
 * and the stall attack must pause the federation within max_attempt_failures
 * (3) rejected attempts, visibly (/v1/status, /metrics, audit), with the
 * database no longer growing, until `gaitfed coordinator resume`.
 * Each attack prints the largest |Δθ| and the L2 of Δθ next to the honest
 * round's (docs/THREAT_MODEL.md quotes them). */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "model/arena.h"
#include "node/local.h"
#include "tests/unit/proc_testutil.h"

#define N_H 4 /* the last one is the rogue */
static const char *const hosp[N_H] = {"imu-clinic", "optical-lab", "video-clinic", "rogue-clinic"};
static const char *const site_db[N_H] = {"imu-clinic", "optical-lab", "video-clinic", "senior-centre"};
#define ROGUE 3
#define CLIP 0.1 /* below the honest updates' L2 (~0.13): honest clipping is exercised too */

typedef struct {
    char dir[400];
    int port, secure;
    pid_t coord, node[N_H];
} fed;

static double slow(void)
{
    const char *s = getenv("GF_SLOW");
    double f = s && *s ? strtod(s, NULL) : 1;
    return f >= 1 ? f : 1;
}

static void setup(fed *f, int secure)
{
    memset(f, 0, sizeof *f);
    f->secure = secure;
    snprintf(f->dir, sizeof f->dir, "%s", tu_dir());
    const char *d = f->dir, *data = fed_data();
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium infl > /dev/null", tu_bin(), d), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null", tu_bin(), d), 0);
    for (int i = 0; i < N_H; i++)
        cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name %s --role hospital > /dev/null", tu_bin(), d, hosp[i]), 0);
    f->port = free_port();
    char path[1200], text[8192];
    for (int i = 0; i < N_H; i++) {
        snprintf(path, sizeof path, "%s/%s.json", d, hosp[i]);
        snprintf(text, sizeof text,
                 "{\"name\": \"%s\", \"role\": \"hospital\", \"coordinator_url\": \"https://localhost:%d\",\n"
                 " \"key\": \"%s/ca/kits/%s/key.pem\", \"cert\": \"%s/ca/kits/%s/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
                 " \"site_db\": \"%s/sites/%s.db\", \"state_dir\": \"state-%s\", \"threads\": 1, \"poll_ms\": 100,\n"
                 " \"backoff_max_ms\": 400}\n",
                 hosp[i], f->port, d, hosp[i], d, hosp[i], d, data, site_db[i], hosp[i]);
        write_text(path, text);
    }
}

/* The coordinator's config for a run to model version `rounds`; train_s: the train deadline. */
static void coordinator_config(const fed *f, int rounds, int min_sites, double train_s)
{
    const char *d = f->dir;
    char path[1200], text[8192];
    snprintf(path, sizeof path, "%s/coordinator.json", d);
    double s = slow();
    snprintf(text, sizeof text,
             "{\"name\": \"coord\", \"listen\": \"127.0.0.1:%d\", \"key\": \"%s/ca/kits/coord/key.pem\",\n"
             " \"cert\": \"%s/ca/kits/coord/cert.pem\", \"ca\": \"%s/ca/ca.pem\", \"crl\": \"%s/ca/crl.pem\",\n"
             " \"db\": \"coordinator.db\", \"secure_aggregation\": %s, \"rounds\": %d, \"min_sites\": %d,\n"
             " \"local_epochs\": 1, \"batch\": 32, \"lr\": 0.001, \"seed\": 7, \"update_clip\": %g,\n"
             " \"cross_site_eval\": false, \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
             " \"timeouts_s\": {\"train\": %g, \"advert\": %g, \"shares\": %g, \"masked\": %g, \"consistency\": %g,\n"
             "                \"unmask\": %g, \"evaluate\": %g}}\n",
             f->port, d, d, d, d, f->secure ? "true" : "false", rounds, min_sites, CLIP, train_s * s, 15 * s, 15 * s, 15 * s,
             15 * s, 15 * s, 5 * s);
    write_text(path, text);
}

static pid_t start(fed *f, int i, const char *attack)
{
    char cfg[1200], log[1200];
    snprintf(cfg, sizeof cfg, "%s/%s.json", f->dir, hosp[i]);
    snprintf(log, sizeof log, "%s/%s.log", f->dir, hosp[i]);
    if (!attack) {
        const char *a[] = {"node", "--config", cfg, NULL};
        return f->node[i] = tu_spawn(log, tu_bin(), a);
    }
    const char *a[] = {"--attack", attack, "--config", cfg, NULL};
    return f->node[i] = tu_spawn(log, tu_evil(), a);
}

static void dump_logs(const fed *f)
{
    tu_sh("for l in %s/*.log; do echo \"== $l\"; tail -n 25 $l; done >&2", f->dir);
}

/* The first column of the first row of sql as an integer: -1 when there is
 * no row, -2 when the database is not there yet or not readable. */
static long long try_query(const fed *f, const char *sql)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/coordinator.db", f->dir);
    sqlite3 *db;
    sqlite3_stmt *q = NULL;
    long long v = -2;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            int rc = sqlite3_step(q);
            v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : rc == SQLITE_DONE ? -1 : -2;
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static long long query_ll(const fed *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long query_ll(const fed *f, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long v = try_query(f, sql);
    cr_assert_neq(v, -2, "%s: cannot read the coordinator database", sql);
    return v;
}

static sqlite3 *open_db(const fed *f)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/coordinator.db", f->dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", p);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Waits until cond (an SQL count) is positive; fails (logs dumped) after timeout_s or if the coordinator exits. */
static void wait_for(fed *f, double timeout_s, const char *what, const char *sql)
{
    double t0 = now_s();
    while (try_query(f, sql) <= 0) {
        int st;
        if (now_s() - t0 > timeout_s || waitpid(f->coord, &st, WNOHANG) == f->coord) {
            dump_logs(f);
            cr_assert_fail("%s: not within %.0f s (%s)", what, timeout_s, sql);
        }
        sleep_ms(100);
    }
}

/* θ of model version v, in the order updates are sent (gf_arena_pack). */
static float *theta(const fed *f, int v, size_t *L)
{
    sqlite3 *db = open_db(f);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT weights, sha256 FROM models WHERE version = ?", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_int(q, 1, v);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "no model version %d", v);
    gf_model *m;
    cr_assert_eq(gf_local_model_from_blob(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
                                          (const char *)sqlite3_column_text(q, 1), &m, NULL),
                 GF_OK, "%s", gf_errmsg());
    sqlite3_finalize(q);
    sqlite3_close(db);
    *L = gf_arena_numel(&m->params);
    float *t = malloc(*L * sizeof *t);
    gf_arena_pack(&m->params, t);
    gf_model_free(m);
    return t;
}

/* Site i's cached update for round r from version v (node.c "GFUP": magic,
 * version u32, round, model version, n_samples i64, L u64, val length u32,
 * val, L float32, SHA-256). */
static float *cached_update(const fed *f, int i, int r, int v, size_t L)
{
    char p[1300];
    snprintf(p, sizeof p, "%s/state-%s/update-r%d-v%d.bin", f->dir, hosp[i], r, v);
    unsigned char *b = NULL;
    size_t n = 0;
    cr_assert_eq(gf_read_file(p, 64u << 20, &b, &n), GF_OK, "%s", gf_errmsg());
    uint64_t l;
    uint32_t vl;
    cr_assert_geq(n, 44u);
    memcpy(&l, b + 32, 8);
    memcpy(&vl, b + 40, 4);
    cr_assert_eq(l, L, "%s: %llu values, the model has %zu", p, (unsigned long long)l, L);
    cr_assert_eq(n, 44 + vl + 4 * L + 32, "%s: %zu bytes", p, n);
    float *u = malloc(4 * L);
    memcpy(u, b + 44 + vl, 4 * L);
    free(b);
    return u;
}

typedef struct {
    double linf, l2, off; /* of θ_r − θ_{r−1}; off: max |Δθ − reference| */
} change;

/* Round r (model version r−1 → r): the bound and the reference. */
static change check_round(const fed *f, int r, const char *attack, const change *honest)
{
    size_t L, L2;
    float *a = theta(f, r - 1, &L), *b = theta(f, r, &L2);
    cr_assert_eq(L, L2);
    double *ref = calloc(L, sizeof *ref), max_theta = 0;
    int used = 0;
    for (int i = 0; i < N_H; i++) {
        float *u = cached_update(f, i, r, r - 1, L);
        double s = 0;
        int finite = 1;
        for (size_t j = 0; j < L && finite; j++) finite = isfinite(u[j]), s += (double)u[j] * u[j];
        if (finite) {
            double k = sqrt(s) > CLIP ? CLIP / sqrt(s) : 1;
            for (size_t j = 0; j < L; j++) ref[j] += k * u[j];
            used++;
        }
        free(u);
    }
    change c = {0};
    double s2 = 0;
    for (size_t j = 0; j < L; j++) {
        double d = (double)b[j] - a[j];
        c.linf = fmax(c.linf, fabs(d));
        s2 += d * d;
        c.off = fmax(c.off, fabs(d - ref[j] / used));
        max_theta = fmax(max_theta, fmax(fabs(a[j]), fabs(b[j])));
    }
    c.l2 = sqrt(s2);
    /* float32 rounding of θ + Δ: one ulp of max|θ| per coordinate; the
     * coordinator's clip lands 1e-6 inside the bound; secure mode adds the
     * encoding (4 words rounded to 1/scale, divided by Σ weights = 1). */
    double ulp = ldexp(1.0, (int)floor(log2(max_theta)) - 23), tol = ulp + 1e-6 * CLIP;
    if (f->secure) {
        double scale = (double)query_ll(f, "SELECT json_extract(params, '$.scale') FROM rounds WHERE round = %d", r);
        cr_assert_gt(scale, 0);
        tol += N_H * 0.5 / scale;
    }
    fprintf(stderr, "influence: %s %-26s round %d: largest |dtheta| %.4g, L2 %.4g (honest round: %.4g, %.4g); "
                    "%d updates in the reference, off by %.3g (tolerance %.3g; %zu parameters)\n",
            f->secure ? "secure" : "plain ", attack, r, c.linf, c.l2, honest ? honest->linf : c.linf,
            honest ? honest->l2 : c.l2, used, c.off, tol, L);
    cr_assert_leq(c.linf, CLIP + tol, "%s: round %d moved a parameter by %g, update_clip %g", attack, r, c.linf, CLIP);
    cr_assert_leq(c.l2, CLIP * (1 + 1e-5) + sqrt((double)L) * tol, "%s: round %d moved θ by L2 %g, update_clip %g",
                  attack, r, c.l2, CLIP);
    cr_assert_leq(c.off, tol, "%s: round %d is not the equal-weight mean of the clipped updates (off by %g)", attack,
                  r, c.off);
    cr_assert_gt(c.linf, 100 * tol, "round %d: the model barely moved (%g): the checks above prove nothing", r, c.linf);
    free(a), free(b), free(ref);
    return c;
}

/* GET path with the coordinator's kit (curl, an independent client) into out. */
static void get(const fed *f, const char *path, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 20 --cacert %s/ca/ca.pem --cert %s/ca/kits/coord/cert.pem --key %s/ca/kits/coord/key.pem "
             "https://localhost:%d%s",
             f->dir, f->dir, f->dir, f->port, path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    cr_assert_eq(pclose(p), 0, "curl %s failed", path);
}

static long long file_size(const fed *f, const char *name)
{
    char p[1200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    return stat(p, &sb) ? 0 : (long long)sb.st_size;
}

static long long log_lines(const fed *f, int i)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s.log", f->dir, hosp[i]);
    unsigned char *b = NULL;
    size_t n = 0;
    long long k = 0;
    if (gf_read_file(p, 64u << 20, &b, &n) == GF_OK)
        for (size_t j = 0; j < n; j++) k += b[j] == '\n';
    free(b);
    return k;
}

/* Round r's stall: paused within 3 rejected attempts, visible everywhere,
 * nothing growing while paused; then the rogue turns honest and the
 * operator resumes. */
static void stall_then_resume(fed *f, int r, const char *attack)
{
    double t0 = now_s();
    wait_for(f, 120 * slow(), "the federation pauses", "SELECT count(*) FROM audit WHERE event = 'federation_paused'");
    fprintf(stderr, "influence: %s %s: paused %.1f s after the attack started\n", f->secure ? "secure" : "plain", attack,
            now_s() - t0);
    tu_sh("sqlite3 %s/coordinator.db \"SELECT 'influence: rejected: ' || json_extract(detail, '$.reason') FROM audit "
          "WHERE event = 'attempt_rejected' LIMIT 1\" >&2", f->dir);
    cr_assert_eq(query_ll(f, "SELECT count(*) FROM audit WHERE event = 'attempt_rejected' AND "
                             "json_extract(detail, '$.round') = %d", r), 3, "3 rejected attempts before the pause");
    cr_assert_eq(query_ll(f, "SELECT count(*) FROM models WHERE version = %d", r), 0, "no model version from the attack");
    if (f->secure)
        cr_assert_eq(query_ll(f, "SELECT count(*) FROM audit WHERE event = 'federation_paused' AND "
                                 "json_extract(detail, '$.culprit') LIKE 'unknown%%'"), 1, "secure: culprit unknown");
    else
        cr_assert_eq(query_ll(f, "SELECT count(*) FROM audit WHERE event = 'federation_paused' AND "
                                 "json_extract(detail, '$.sites') = '%s'", hosp[ROGUE]), 1, "plain: the rogue named");
    char body[65536];
    get(f, "/v1/status", body, sizeof body);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "/v1/status: %s", body);
    cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "paused", "%s", body);
    cr_assert_not_null(json_object_get(json_object_get(j, "paused"), "reason"), "%s", body);
    json_decref(j);
    get(f, "/metrics", body, sizeof body);
    cr_assert_not_null(strstr(body, "\ngaitfed_paused 1\n"), "%s", body);
    /* Paused: no new attempts, audit rows or database bytes; the nodes wait quietly. */
    long long rows = query_ll(f, "SELECT count(*) FROM audit"), attempt = query_ll(f, "SELECT max(attempt) FROM rounds");
    long long bytes = file_size(f, "coordinator.db") + file_size(f, "coordinator.db-wal"), lines = log_lines(f, 0);
    sleep_ms((long)(4000 * slow()));
    cr_assert_eq(query_ll(f, "SELECT count(*) FROM audit"), rows, "audit rows added while paused");
    cr_assert_eq(query_ll(f, "SELECT max(attempt) FROM rounds"), attempt, "attempts opened while paused");
    cr_assert_eq(file_size(f, "coordinator.db") + file_size(f, "coordinator.db-wal"), bytes, "the database grew while paused");
    cr_assert_leq(log_lines(f, 0) - lines, 2, "an honest node logged %lld lines in 4 s of pause", log_lines(f, 0) - lines);
    if (f->secure) { /* the pause survives a restart of the coordinator (SIGTERM: state committed) */
        kill(f->coord, SIGTERM);
        cr_assert_eq(wait_exit(f->coord, 60 * slow()), 0);
        char cfg[1200], log[1200];
        snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
        snprintf(log, sizeof log, "%s/coordinator.log", f->dir);
        const char *a[] = {"coordinator", "--config", cfg, NULL};
        f->coord = tu_spawn(log, tu_bin(), a);
        int paused = 0;
        for (double t0 = now_s(); !paused && now_s() - t0 < 60 * slow(); sleep_ms(200)) {
            char cmd[1500];
            snprintf(cmd, sizeof cmd, "curl -s --max-time 5 --cacert %s/ca/ca.pem --cert %s/ca/kits/coord/cert.pem --key "
                                      "%s/ca/kits/coord/key.pem https://localhost:%d/v1/status | grep -q '\"state\": *\"paused\"'",
                     f->dir, f->dir, f->dir, f->port);
            paused = tu_sh("%s", cmd) == 0;
        }
        cr_assert(paused, "the restarted coordinator is not paused");
    }
    /* The rogue turns honest; the operator resumes (twice: the second is refused). */
    kill(f->node[ROGUE], SIGTERM);
    cr_assert_geq(wait_exit(f->node[ROGUE], 30 * slow()), 0);
    char cached[1300];
    snprintf(cached, sizeof cached, "%s/state-%s/update-r%d-v%d.bin", f->dir, hosp[ROGUE], r, r - 1);
    unlink(cached); /* it trains again, honestly (a words attack left an honest update there anyway) */
    start(f, ROGUE, "none");
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
    cr_assert_eq(tu_sh("%s coordinator resume --config %s > %s/resume.out 2>&1", tu_bin(), cfg, f->dir), 0);
    cr_assert_neq(tu_sh("%s coordinator resume --config %s > %s/resume2.out 2>&1", tu_bin(), cfg, f->dir), 0);
    cr_assert_eq(tu_sh("grep -q 'the federation is not paused' %s/resume2.out", f->dir), 0);
}

static void finish(fed *f, int rounds)
{
    for (int i = 0; i < N_H; i++) {
        int rc = wait_exit(f->node[i], 240 * slow());
        if (rc) dump_logs(f);
        cr_assert_eq(rc, 0, "%s exited with %d", hosp[i], rc);
    }
    int rc = wait_exit(f->coord, 120 * slow());
    if (rc) dump_logs(f);
    cr_assert_eq(rc, 0, "coordinator exited with %d", rc);
    cr_assert_eq(query_ll(f, "SELECT max(version) FROM models"), rounds);
    cr_assert_eq(tu_sh("%s audit verify --db %s/coordinator.db > /dev/null", tu_bin(), f->dir), 0);
}

/* Runs the federation to model version `rounds`: the coordinator, the
 * honest nodes and the rogue running `attack`, all started afresh (they
 * stop at "done", so the cached updates of the last round stay for the
 * reference). */
static void run_to(fed *f, int rounds, const char *attack, int min_sites, double train_s)
{
    coordinator_config(f, rounds, min_sites, train_s);
    char cfg[1200], log[1200];
    snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
    snprintf(log, sizeof log, "%s/coordinator.log", f->dir);
    const char *a[] = {"coordinator", "--config", cfg, NULL};
    f->coord = tu_spawn(log, tu_bin(), a);
    for (int i = 0; i < ROGUE; i++) start(f, i, NULL);
    start(f, ROGUE, attack);
}

/* Round r with the rogue attacking: run, stop, check. */
static change attack_round(fed *f, int r, const char *attack, const change *honest)
{
    run_to(f, r, attack, N_H, 30);
    finish(f, r);
    return check_round(f, r, attack, honest);
}

Test(influence, plain_updates_clipped_weights_fixed_stall_pauses)
{
    fed f;
    setup(&f, 0);
    change honest = attack_round(&f, 1, "none", NULL);
    attack_round(&f, 2, "scale:1000", &honest);
    cr_assert_geq(query_ll(&f, "SELECT count(*) FROM audit WHERE event = 'update_clipped' AND json_extract(detail, "
                               "'$.site') = '%s' AND json_extract(detail, '$.round') = 2", hosp[ROGUE]), 1);
    attack_round(&f, 3, "set:3e38", &honest);
    cr_assert_geq(query_ll(&f, "SELECT count(*) FROM audit WHERE event = 'update_clipped' AND json_extract(detail, "
                               "'$.site') = '%s' AND json_extract(detail, '$.round') = 3", hosp[ROGUE]), 1);
    attack_round(&f, 4, "samples:100000000", &honest);
    cr_assert_eq(query_ll(&f, "SELECT n_samples FROM round_sites WHERE round = 4 AND site = '%s'", hosp[ROGUE]),
                 100000000, "the claim is recorded (and ignored: equal weights)");
    /* Rounds 5 and 6: every update NaN, min_sites 3. Round 5 opens when the
     * third hospital polls (with or without the rogue); round 6 opens with all
     * four online: the rogue's update is refused on arrival (audited by name)
     * and the round goes on at once without it (the reference leaves the
     * non-finite update out). Round 5's cached updates are gone by then. */
    run_to(&f, 6, "set:nan", N_H - 1, 5);
    finish(&f, 6);
    check_round(&f, 6, "set:nan (min_sites 3)", &honest);
    cr_assert_geq(query_ll(&f, "SELECT count(*) FROM audit WHERE event = 'update_refused' AND json_extract(detail, "
                               "'$.site') = '%s' AND json_extract(detail, '$.round') = 6", hosp[ROGUE]), 1);
    cr_assert_eq(query_ll(&f, "SELECT n_survivors FROM rounds WHERE round = 6"), N_H - 1);
    /* Round 7: the same with min_sites 4, which needs the rogue: each attempt
     * waits for a valid update until the train deadline (5 s) and is rejected. */
    run_to(&f, 7, "set:nan", N_H, 5);
    stall_then_resume(&f, 7, "set:nan");
    cr_assert_geq(query_ll(&f, "SELECT count(*) FROM audit WHERE event = 'update_refused' AND json_extract(detail, "
                               "'$.site') = '%s' AND json_extract(detail, '$.round') = 7", hosp[ROGUE]), 3);
    finish(&f, 7);
    check_round(&f, 7, "none (after resume)", &honest);
}

Test(influence, secure_weights_fixed_aggregate_bounded_stall_pauses)
{
    fed f;
    setup(&f, 1);
    change honest = attack_round(&f, 1, "none", NULL);
    attack_round(&f, 2, "samples:100000000", &honest);
    char p[1200];
    snprintf(p, sizeof p, "%s/%s.log", f.dir, hosp[0]);
    cr_assert_eq(tu_sh("grep -q 'round 2 .*weight 0.2500' %s", p), 0, "an honest site's weight is 1/4 despite the claim");
    /* Round 3: raw words of 7.99 (unclipped): the aggregate is out of bounds, every attempt. */
    run_to(&f, 3, "words:7.99", N_H, 30);
    stall_then_resume(&f, 3, "words:7.99");
    finish(&f, 3);
    check_round(&f, 3, "none (after resume)", &honest);
}

/* Whole federations of real processes on 127.0.0.1, driven through the CLI
 * (GF_BIN): `gaitfed pki` makes the consortium, `gaitfed synth` the data,
 * one `gaitfed coordinator` and three hospital `gaitfed node`s (plus an
 * evaluator) run a tiny LSTM for a couple of rounds. Every child gets
 * SIGKILL when the test process dies (PR_SET_PDEATHSIG), so a failed
 * assertion leaves nothing running. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common/fileio.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "node/local.h"
#include "sites/store.h"
#include "tests/unit/testutil.h"
#include "tests/unit/proc_testutil.h"

#define N_HOSP 3
static const char *const hosp[N_HOSP] = {"imu-clinic", "optical-lab", "video-clinic"};
#define ROUNDS 2

/* ---- fixtures ---- */


/* A consortium CA with kits for the coordinator, the hospitals and an evaluator. */
static void make_pki(const char *root)
{
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium fedtest > /dev/null", tu_bin(), root), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null", tu_bin(), root), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name bench --role evaluator > /dev/null", tu_bin(), root), 0);
    for (int i = 0; i < N_HOSP; i++)
        cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name %s --role hospital > /dev/null", tu_bin(), root, hosp[i]), 0);
}


typedef struct {
    char root[1024];   /* the test's directory: ca/ */
    char dir[1100];    /* this federation: configs, databases, logs */
    int port;
    pid_t coord, node[N_HOSP], eval;
} fed;


/* Deadlines: training of the tiny model takes a fraction of a second and the
 * key phases are messages only; a phase closes as soon as everyone answered,
 * so generous deadlines cost time only where a site is gone (test c waits out
 * one) and keep a loaded machine from turning a slow site into a dropout. The
 * train deadline is the window test (d) kills the coordinator in. */
/* GF_SLOW=F (make test-valgrind: every process under memcheck) multiplies
 * these deadlines and the liveness limits below; 1 when unset. */
static double slow(void)
{
    const char *s = getenv("GF_SLOW");
    double f = s && *s ? strtod(s, NULL) : 1;
    return f >= 1 ? f : 1;
}
#define TIMEOUTS "{\"train\": %g, \"advert\": %g, \"shares\": %g, \"masked\": %g, \"consistency\": %g, \"unmask\": %g, " \
                 "\"evaluate\": %g}"
#define TIMEOUT_ARGS 30 * slow(), 8 * slow(), 8 * slow(), 8 * slow(), 8 * slow(), 8 * slow(), 20 * slow()

/* Configs of one federation in root/name: coordinator (secure or plain,
 * `rounds` rounds, seed 7) and every node (hospital poll pace: poll_ms). */
static void fed_init(fed *f, const char *root, const char *name, int secure, int rounds, long slow_poll_ms)
{
    memset(f, 0, sizeof *f);
    snprintf(f->root, sizeof f->root, "%s", root);
    snprintf(f->dir, sizeof f->dir, "%s/%s", root, name);
    cr_assert_eq(mkdir(f->dir, 0755), 0);
    f->port = free_port();
    const char *data = fed_data();
    char path[1300], text[4096];
    snprintf(path, sizeof path, "%s/coordinator.json", f->dir);
    snprintf(text, sizeof text,
             "{\"name\": \"coord\", \"listen\": \"127.0.0.1:%d\", \"key\": \"%s/ca/kits/coord/key.pem\",\n"
             " \"cert\": \"%s/ca/kits/coord/cert.pem\", \"ca\": \"%s/ca/ca.pem\", \"crl\": \"%s/ca/crl.pem\",\n"
             " \"db\": \"coordinator.db\", \"secure_aggregation\": %s, \"strategy\": \"fedavg\", \"rounds\": %d,\n"
             " \"min_sites\": 3, \"local_epochs\": 1, \"batch\": 32, \"lr\": 0.001, \"seed\": 7,\n"
             " \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
             " \"timeouts_s\": " TIMEOUTS "}\n",
             f->port, root, root, root, root, secure ? "true" : "false", rounds, TIMEOUT_ARGS);
    write_text(path, text);
    for (int i = 0; i < N_HOSP; i++) {
        snprintf(path, sizeof path, "%s/%s.json", f->dir, hosp[i]);
        snprintf(text, sizeof text,
                 "{\"name\": \"%s\", \"role\": \"hospital\", \"coordinator_url\": \"https://localhost:%d\",\n"
                 " \"key\": \"%s/ca/kits/%s/key.pem\", \"cert\": \"%s/ca/kits/%s/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
                 " \"site_db\": \"%s/sites/%s.db\", \"state_dir\": \"state-%s\", \"normalization\": \"own\",\n"
                 " \"threads\": 1, \"poll_ms\": %ld, \"backoff_max_ms\": 400, \"share_local_model\": true}\n",
                 hosp[i], f->port, root, hosp[i], root, hosp[i], root, data, hosp[i], hosp[i],
                 i == N_HOSP - 1 && slow_poll_ms ? slow_poll_ms : 100L);
        write_text(path, text);
    }
    snprintf(path, sizeof path, "%s/bench.json", f->dir);
    snprintf(text, sizeof text,
             "{\"name\": \"bench\", \"role\": \"evaluator\", \"coordinator_url\": \"https://localhost:%d\",\n"
             " \"key\": \"%s/ca/kits/bench/key.pem\", \"cert\": \"%s/ca/kits/bench/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
             " \"poll_ms\": 100, \"backoff_max_ms\": 400,\n"
             " \"cohorts\": [{\"name\": \"healthy-test\", \"db\": \"%s/cohorts/healthy-test.db\"},\n"
             "             {\"name\": \"onfh\", \"db\": \"%s/cohorts/onfh.db\"}]}\n",
             f->port, root, root, root, data, data);
    write_text(path, text);
}

/* Runs `gaitfed args...` with stdout+stderr appended to log; killed with the test. */
static pid_t spawn(const char *log, const char *const *args) { return tu_spawn(log, tu_bin(), args); }

static pid_t start_coord(fed *f)
{
    char cfg[1300], log[1300];
    snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
    snprintf(log, sizeof log, "%s/coordinator.log", f->dir);
    const char *a[] = {"coordinator", "--config", cfg, NULL};
    return f->coord = spawn(log, a);
}

static pid_t start_node(fed *f, const char *name, const char *extra)
{
    char cfg[1300], log[1300];
    snprintf(cfg, sizeof cfg, "%s/%s.json", f->dir, name);
    snprintf(log, sizeof log, "%s/%s.log", f->dir, name);
    const char *a[] = {"node", "--config", cfg, "--verbose", extra, extra ? "1" : NULL, NULL};
    return spawn(log, a);
}




/* 1 once the file holds needle (polled every 5 ms), 0 after timeout_s. */
static int wait_log(const char *path, const char *needle, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        unsigned char *b = NULL;
        size_t n = 0;
        if (gf_read_file(path, 16u << 20, &b, &n) == GF_OK) {
            size_t k = strlen(needle);
            int hit = 0;
            for (size_t i = 0; b && !hit && i + k <= n; i++) hit = !memcmp(b + i, needle, k);
            free(b);
            if (hit) return 1;
        }
        sleep_ms(5);
    }
    return 0;
}

static void dump_logs(const fed *f)
{
    tu_sh("for l in %s/*.log; do echo \"== $l\"; tail -n 30 $l; done >&2", f->dir);
}

/* Waits for every started process and checks it exited 0. */
/* Deadlines here only bound how long a hung federation is waited for; under
 * ASan with other tests running in parallel a healthy run of 2 rounds has
 * taken over 90 s, so they are generous. */
#define LIVENESS_S(s) (4.0 * (s) * slow())
static void wait_all(fed *f, double timeout_s)
{
    const char *who[N_HOSP + 2];
    pid_t pids[N_HOSP + 2];
    int n = 0;
    for (int i = 0; i < N_HOSP; i++)
        if (f->node[i] > 0) who[n] = hosp[i], pids[n++] = f->node[i];
    if (f->eval > 0) who[n] = "bench", pids[n++] = f->eval;
    who[n] = "coordinator", pids[n++] = f->coord;
    double t0 = now_s();
    int bad = -1, rc = 0;
    for (int i = 0; i < n; i++) {
        double left = timeout_s - (now_s() - t0);
        int r = wait_exit(pids[i], left > 1 ? left : 1);
        if (r != 0 && bad < 0) bad = i, rc = r;
    }
    if (bad >= 0) dump_logs(f);
    cr_assert_lt(bad, 0, "%s exited with %d (-1: still running after %.0f s)", bad >= 0 ? who[bad] : "", rc, timeout_s);
}

static void run_all(fed *f, int with_eval)
{
    start_coord(f);
    for (int i = 0; i < N_HOSP; i++) f->node[i] = start_node(f, hosp[i], NULL);
    if (with_eval) f->eval = start_node(f, "bench", NULL);
}

/* ---- reading the coordinator database ---- */

static char *db_path(const fed *f)
{
    char *p = malloc(1300);
    snprintf(p, 1300, "%s/coordinator.db", f->dir);
    return p;
}

/* One value of a query as text (the sqlite3 tool, an independent reader). */
static void query(const fed *f, const char *sql, char *out, size_t cap)
{
    char *db = db_path(f);
    proc_query(db, sql, out, cap);
    free(db);
}

static long query_long(const fed *f, const char *sql)
{
    char *db = db_path(f);
    long v = proc_query_long(db, sql);
    free(db);
    return v;
}

/* Model version v as parsed safetensors (read with the SQLite C API). */
static void load_version(const fed *f, int v, gf_safetensors *st)
{
    char *db = db_path(f);
    proc_model_version(db, v, st);
    free(db);
}

/* Secure against plain within fixpoint_tolerance (proc_testutil.h), the
 * bound on |θ_secure − θ_plain| after R FedAvg rounds of n sites: each
 * round the masked sum carries n encodings rounded to 1/scale (≤ n·0.5/scale
 * per coordinate, all survive so the sum is not rescaled), and θ + Δ is
 * rounded to float32 in both runs (one unit in the last place of max|θ|,
 * 2^(e−23) for max|θ| in [2^e, 2^(e+1))). Local training is deterministic
 * (same seeds, same data), so the second round starts from models that
 * differ only by that much. */
static void assert_same_model(const fed *secure, const fed *plain, int version, const char *what)
{
    gf_safetensors a, b, z;
    load_version(secure, version, &a);
    load_version(plain, version, &b);
    load_version(plain, 0, &z);
    double scale = 0;
    char s[64];
    query(secure, "SELECT json_extract(params, '$.scale') FROM rounds WHERE round = 1", s, sizeof s);
    scale = strtod(s, NULL);
    cr_assert_gt(scale, 0, "no fixed-point scale in the secure run's round parameters");
    double max_theta;
    double d = max_diff(&a, &b, &max_theta);
    double tol = fixpoint_tolerance(scale, N_HOSP, version, max_theta);
    /* The federation must have moved the model far beyond the tolerance,
     * or agreeing within it would prove nothing. */
    double moved = max_diff(&b, &z, NULL);
    cr_assert_gt(moved, 1000 * tol, "%s: training moved the model by only %g (tolerance %g)", what, moved, tol);
    cr_assert_leq(d, tol, "%s: version %d differs by %g, beyond the fixed-point bound %g (scale %g)", what, version, d,
                  tol, scale);
    gf_safetensors_free(&a), gf_safetensors_free(&b), gf_safetensors_free(&z);
}

static void assert_audit_intact(const fed *f)
{
    char *db = db_path(f);
    cr_assert_eq(tu_sh("%s audit verify --db %s > %s/audit.out 2>&1", tu_bin(), db, f->dir), 0,
                 "audit verify failed: see %s/audit.out", f->dir);
    free(db);
}

static void assert_versions(const fed *f, int last)
{
    char b[256], want[256] = "";
    for (int v = 0; v <= last; v++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", v ? "," : "", v);
    query(f, "SELECT group_concat(version) FROM (SELECT version FROM models ORDER BY version)", b, sizeof b);
    cr_assert_str_eq(b, want, "model versions %s, expected %s", b, want);
}

/* Lines of a node's log that contain needle. */
static long count_in_log(const fed *f, const char *name, const char *needle)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "grep -cF '%s' %s/%s.log", needle, f->dir, name);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    long n = -1;
    if (fscanf(p, "%ld", &n) != 1) n = -1;
    pclose(p);
    return n;
}

/* One number of a cross-site row (NAN when absent). */
static double cross_value(const fed *f, const char *model, const char *at, const char *path)
{
    char sql[512], b[64];
    snprintf(sql, sizeof sql, "SELECT json_extract(metrics, '%s') FROM cross_site WHERE model = '%s' AND at_site = '%s'",
             path, model, at);
    query(f, sql, b, sizeof b);
    return *b ? strtod(b, NULL) : NAN;
}

/* The cross-site matrix after the last round: every model (global and each
 * hospital's local one) evaluated at every hospital; the diagonal equals what
 * each hospital reported for its local model in the last round; and one
 * off-diagonal cell, the local model of hosp[0] that travelled encrypted to
 * hosp[1], equals the test's own evaluation of that model, rebuilt from
 * hosp[0]'s cached update and the model version it trained from, on hosp[1]'s
 * validation subjects with hosp[1]'s own statistics. */
static void assert_cross_site(const fed *f, int rounds)
{
    cr_assert_eq(query_long(f, "SELECT count(*) FROM cross_site"), (N_HOSP + 1) * N_HOSP);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM cross_site WHERE round = %d", rounds);
    cr_assert_eq(query_long(f, sql), (N_HOSP + 1) * N_HOSP, "cross-site rows are not filed under the last round");
    cr_assert_eq(query_long(f, "SELECT count(*) FROM audit WHERE event = 'cross_site_evaluation'"), (N_HOSP + 1) * N_HOSP);
    cr_assert_eq(query_long(f, "SELECT count(*) FROM audit WHERE event IN ('cross_site_opened', 'cross_site_closed')"), 2);
    for (int i = 0; i < N_HOSP; i++) {
        double c = cross_value(f, hosp[i], hosp[i], "$.subject_mean.rmse");
        snprintf(sql, sizeof sql, "SELECT json_extract(val, '$.local.subject_mean.rmse') FROM round_sites "
                                  "WHERE round = %d AND site = '%s'", rounds, hosp[i]);
        char b[64];
        query(f, sql, b, sizeof b);
        double v = strtod(b, NULL);
        /* θ_local rebuilt as θ_global + Δ differs from the trained θ by float rounding only. */
        cr_assert(isfinite(c) && fabs(c - v) <= 1e-6 * v, "%s: cross-site diagonal %.9g vs its round report %.9g", hosp[i], c, v);
        for (int j = 0; j < N_HOSP; j++) cr_assert(isfinite(cross_value(f, hosp[i], hosp[j], "$.subject_mean.r2")));
        cr_assert(isfinite(cross_value(f, "global", hosp[i], "$.pooled.rmse")));
    }
    /* hosp[0]'s local model, rebuilt here. */
    gf_safetensors st;
    load_version(f, rounds - 1, &st);
    gf_model *m = NULL;
    gf_task task;
    cr_assert_eq(gf_checkpoint_model(&st, "base version", &m, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, GF_TASK_FORCES);
    gf_safetensors_free(&st);
    size_t L = gf_arena_numel(&m->params);
    char path[1400];
    snprintf(path, sizeof path, "%s/state-%s/update-r%d-v%d.bin", f->dir, hosp[0], rounds, rounds - 1);
    uint8_t *b = NULL;
    size_t len = 0;
    cr_assert_eq(gf_read_file(path, 1u << 26, &b, &len), GF_OK, "%s", gf_errmsg());
    uint32_t vl;
    memcpy(&vl, b + 4 + 4 + 32, 4); /* "GFUP" | version | 4 × i64 | val length | val | Δ | SHA-256 */
    cr_assert_eq(len, 4 + 4 + 32 + 4 + (size_t)vl + 4 * L + 32, "%s: unexpected layout", path);
    /* Δ follows the validation JSON: no alignment to rely on (UBSan). */
    float *theta = malloc(L * sizeof *theta), *d = malloc(L * sizeof *d);
    cr_assert(theta && d);
    memcpy(d, b + 4 + 4 + 32 + 4 + vl, L * sizeof *d);
    gf_arena_pack(&m->params, theta);
    for (size_t k = 0; k < L; k++) theta[k] += d[k];
    gf_arena_unpack(&m->params, theta);
    /* hosp[1]'s validation subjects and own statistics, as its node computes them. */
    gf_store *sto;
    gf_dataset ds;
    snprintf(path, sizeof path, "%s/sites/%s.db", fed_data(), hosp[1]);
    cr_assert_eq(gf_store_open(path, 0, &sto), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_store_load(sto, GF_STORE_NEED_FORCES, &ds), GF_OK, "%s", gf_errmsg());
    gf_store_close(sto);
    unsigned char *is_val = malloc((size_t)ds.n);
    gf_local_moments mom;
    cr_assert_eq(gf_local_split(&ds, GF_LOCAL_VAL_FRAC, 20170101u, is_val, NULL), GF_OK);
    cr_assert_eq(gf_local_stats(&ds, is_val, &mom), GF_OK);
    json_t *j = NULL;
    cr_assert_eq(gf_local_evaluate_val(m, &ds, GF_TASK_FORCES, is_val, mom.mean, mom.sd, &j), GF_OK, "%s", gf_errmsg());
    const char *keys[] = {"$.subject_mean.rmse", "$.subject_mean.r2", "$.pooled.mae"};
    const char *jk[][2] = {{"subject_mean", "rmse"}, {"subject_mean", "r2"}, {"pooled", "mae"}};
    for (int k = 0; k < 3; k++) {
        double want = json_number_value(json_object_get(json_object_get(j, jk[k][0]), jk[k][1]));
        double got = cross_value(f, hosp[0], hosp[1], keys[k]);
        cr_assert(fabs(got - want) <= 1e-9 * fabs(want), "%s of %s's model at %s: coordinator has %.12g, rebuilt %.12g",
                  keys[k], hosp[0], hosp[1], got, want);
    }
    /* The cell is not the global model's: the local model did travel. */
    cr_assert_neq(cross_value(f, "global", hosp[1], "$.subject_mean.rmse"), cross_value(f, hosp[0], hosp[1], "$.subject_mean.rmse"));
    json_decref(j);
    free(is_val), free(theta), free(d), free(b);
    gf_dataset_free(&ds);
    gf_model_free(m);
}

/* Occurrences of id in text as a whole token (not inside a longer name or number). */
static int id_hits(const char *text, const char *id)
{
    int n = 0;
    size_t k = strlen(id);
    for (const char *p = strstr(text, id); p; p = strstr(p + 1, id)) {
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[k]) || p[k] == '_';
        n += !before && !after;
    }
    return n;
}

/* stdout of a shell command (asserting exit 0), malloc'd. */
static char *sh_out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, p)) > 0;)
        if ((n += r) + 1 == cap) b = realloc(b, cap *= 2);
    cr_assert_not_null(b);
    b[n] = 0;
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    return b;
}

/* Subject ids stay at the hospital (issue 13): not one subject id of the
 * hospitals' stores (read from the stores with the sqlite3 tool) appears
 * anywhere in the coordinator database (its whole `.dump`: every table,
 * every column), nor in the report written from it. Negative control: the
 * same search finds an id written into a copy of the database the way a
 * per-subject cross-site row used to hold it. */
static void assert_no_subject_ids(const fed *f)
{
    char cmd[8192], *ids = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&ids, &len);
    for (int i = 0; i < N_HOSP; i++) {
        snprintf(cmd, sizeof cmd, "sqlite3 %s/sites/%s.db 'SELECT subject_id FROM subjects'", fed_data(), hosp[i]);
        char *o = sh_out(cmd);
        fputs(o, mem);
        free(o);
    }
    fclose(mem);
    snprintf(cmd, sizeof cmd, "sqlite3 %s/coordinator.db .dump", f->dir);
    char *dump = sh_out(cmd);
    cr_assert_eq(tu_sh("%s report --db %s/coordinator.db --out %s/report > /dev/null 2>&1", tu_bin(), f->dir, f->dir), 0,
                 "gaitfed report failed on the database");
    snprintf(cmd, sizeof cmd, "cat %s/report/*", f->dir);
    char *report = sh_out(cmd);
    cr_assert(strstr(dump, "CREATE TABLE cross_site") && strstr(dump, "INSERT INTO cross_site"), "no cross-site rows");
    cr_assert(strstr(report, "cross-site") || strstr(report, "Cross-site"), "the report lost its cross-site part");
    int n_ids = 0, leaked = 0;
    char first[64] = "";
    for (char *save = NULL, *id = strtok_r(ids, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
        n_ids++;
        int h = id_hits(dump, id) + id_hits(report, id);
        if (h && !leaked++) snprintf(first, sizeof first, "%s", id);
    }
    fprintf(stderr, "federation: %d subject ids of %d hospitals searched in the database dump (%zu bytes) and the "
                    "report: %d found%s%s\n", n_ids, N_HOSP, strlen(dump), leaked, leaked ? ", e.g. " : "", first);
    cr_assert_geq(n_ids, 3 * N_HOSP, "too few subject ids read from the stores");
    cr_assert_eq(leaked, 0, "%d of %d subject ids are in the coordinator database or report (e.g. %s)", leaked, n_ids,
                 first);
    /* negative control */
    char *probe = strtok(ids, "\n");
    snprintf(cmd, sizeof cmd, "cp %s/coordinator.db %s/probe.db && sqlite3 %s/probe.db \"UPDATE cross_site SET metrics = "
             "json_set(metrics, '$.per_subject', json_object('%s', 1)) WHERE rowid = (SELECT min(rowid) FROM cross_site)\" "
             "&& sqlite3 %s/probe.db .dump", f->dir, f->dir, f->dir, probe, f->dir);
    char *pd = sh_out(cmd);
    cr_assert_gt(id_hits(pd, probe), 0, "the search does not find an id written into the database");
    free(pd), free(dump), free(report), free(ids);
}

/* ---- the tests ---- */

/* (a) A secure federation of three hospitals and an evaluator completes:
 * every process exits 0, versions 0..2 are stored, both rounds aggregated
 * all three masked updates, the evaluator benchmarked both versions on
 * both cohorts, and the audit chain verifies. */
Test(federation, secure_rounds_complete_with_audit_and_evaluations)
{
    const char *root = tu_dir();
    make_pki(root);
    fed f;
    fed_init(&f, root, "secure", 1, ROUNDS, 0);
    run_all(&f, 1);
    wait_all(&f, LIVENESS_S(90));
    assert_versions(&f, ROUNDS);
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 3"), ROUNDS);
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM round_sites"), ROUNDS * N_HOSP);
    cr_assert_eq(query_long(&f, "SELECT count(DISTINCT model_version || cohort) FROM evaluations "
                                "WHERE site = 'bench' AND norm = 'own' AND json_type(metrics, '$.subject_mean.rmse') = 'real'"),
                 ROUNDS * 2, "expected own-normalization metrics for versions 1..2 on both cohorts");
    assert_audit_intact(&f);
    for (int i = 0; i < N_HOSP; i++)
        cr_assert_eq(count_in_log(&f, hosp[i], "unmask posted (secure"), ROUNDS, "%s: expected a finished secure round per round",
                     hosp[i]);
    assert_cross_site(&f, ROUNDS);
    assert_no_subject_ids(&f);
    /* Each closed round's audit row carries the worst site, the spread and the
     * sample-weighted mean of the sites' reports, recomputed here with SQL. */
    char got[256], want[256];
    query(&f, "SELECT printf('%s %.9f %.9f %.9f', json_extract(detail, '$.generalization.worst_site'),"
              " json_extract(detail, '$.generalization.worst'), json_extract(detail, '$.generalization.spread'),"
              " json_extract(detail, '$.generalization.weighted_mean')) FROM audit WHERE event = 'round_closed'"
              " AND json_extract(detail, '$.round') = 2", got, sizeof got);
    query(&f, "SELECT printf('%s %.9f %.9f %.9f', (SELECT site FROM round_sites WHERE round = 2 ORDER BY"
              " json_extract(val, '$.global.subject_mean.rmse') DESC LIMIT 1), max(x), max(x) - min(x), sum(w * x) / sum(w))"
              " FROM (SELECT json_extract(val, '$.global.subject_mean.rmse') AS x, n_samples AS w"
              " FROM round_sites WHERE round = 2)", want, sizeof want);
    cr_assert_str_eq(got, want, "round 2 generalization in the audit row: %s, recomputed: %s", got, want);
}

/* Pooled statistics poisoned by a hospital (issue 13, finding 5): a secure
 * federation with "normalization": "global" whose third hospital runs
 * tests/evil/evil_node --attack stats_x2:1e6 (its sum x^2 times 10^6, after
 * its own node-side check). The coordinator refuses the pooled statistics
 * (SD ~10^4 degrees, over the physical bound), audits each rejected attempt
 * with the reason and that the culprit is hidden, pauses after three, and
 * stores no model version carrying them: none is trained. Control: the same federation with the
 * third hospital honest (evil_node --attack none) accepts its pooled
 * statistics (SD ~16 degrees) as model version 1. Both pooled SDs are
 * printed (the coordinator logs them per channel). */
static void global_init(fed *f, const char *root, const char *name)
{
    fed_init(f, root, name, 1, 1, 0);
    cr_assert_eq(tu_sh("cd %s && sed -i 's/\"normalization\": \"own\"/\"normalization\": \"global\"/' %s.json %s.json %s.json && "
                       "sed -i 's/\"rounds\": 1,/\"rounds\": 1, \"normalization\": \"global\",/' coordinator.json && "
                       "grep -q '\"normalization\": \"global\"' coordinator.json",
                       f->dir, hosp[0], hosp[1], hosp[2]),
                 0);
}

static void start_global(fed *f, const char *attack)
{
    start_coord(f);
    f->node[0] = start_node(f, hosp[0], NULL);
    f->node[1] = start_node(f, hosp[1], NULL);
    char cfg[1300], log[1300];
    snprintf(cfg, sizeof cfg, "%s/%s.json", f->dir, hosp[2]);
    snprintf(log, sizeof log, "%s/%s.log", f->dir, hosp[2]);
    const char *a[] = {"--attack", attack, "--config", cfg, "--verbose", NULL};
    f->node[2] = tu_spawn(log, tu_evil(), a);
}

static void stop_all(fed *f)
{
    for (int i = 0; i < N_HOSP; i++) kill(f->node[i], SIGKILL), wait_exit(f->node[i], 10);
    kill(f->coord, SIGTERM);
    cr_assert_eq(wait_exit(f->coord, 60), 0, "the coordinator did not stop cleanly");
}

/* The largest pooled SD of the last "pooled SD per input channel" line of the coordinator's log (NAN: none). */
static double logged_pooled_sd(const fed *f)
{
    char cmd[1400], out[512];
    snprintf(cmd, sizeof cmd, "grep 'pooled SD per input channel' %s/coordinator.log | tail -n 1 | sed 's/.*(deg)://'",
             f->dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    double m = NAN;
    char *end;
    for (char *q = out; *q;) {
        double v = strtod(q, &end);
        if (end == q) break;
        m = isnan(m) || v > m ? v : m;
        q = end;
    }
    return m;
}

/* 1 once the coordinator database answers sql with a count > 0. */
static int wait_db(const fed *f, const char *sql, double timeout_s)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "test \"$(sqlite3 %s/coordinator.db \"%s\" 2>/dev/null)\" -gt 0 2>/dev/null", f->dir, sql);
    for (double t0 = now_s(); now_s() - t0 < timeout_s; sleep_ms(200))
        if (tu_sh("%s", cmd) == 0) return 1;
    return 0;
}

Test(federation, poisoned_pooled_statistics_refused_and_audited)
{
    const char *root = tu_dir();
    make_pki(root);
    fed h, p;
    global_init(&h, root, "honest");
    global_init(&p, root, "poisoned");
    /* Control: three honest hospitals (one through evil_node doing nothing). */
    start_global(&h, "none");
    int ok = wait_db(&h, "SELECT count(*) FROM audit WHERE event = 'pooled_statistics'", LIVENESS_S(60));
    stop_all(&h);
    if (!ok) dump_logs(&h);
    cr_assert(ok, "control: the honest pooled statistics were not accepted");
    double sd_honest = logged_pooled_sd(&h);
    char stored[64];
    query(&h, "SELECT max(value) FROM audit, json_each(json_extract(detail, '$.x_std')) WHERE event = 'pooled_statistics'",
          stored, sizeof stored);
    /* The attack. */
    start_global(&p, "stats_x2:1e6");
    /* refused every attempt, the federation pauses (max_attempt_failures, default 3); or, unchecked, accepted */
    ok = wait_db(&p, "SELECT count(*) FROM audit WHERE event IN ('federation_paused', 'pooled_statistics')",
                 LIVENESS_S(60));
    sleep_ms(1000); /* a moment for anything that would follow */
    stop_all(&p);
    if (!ok) dump_logs(&p);
    cr_assert(ok, "the statistics session neither failed nor succeeded");
    double sd_poisoned = logged_pooled_sd(&p);
    char poisoned[64] = "";
    if (query_long(&p, "SELECT count(*) FROM audit WHERE event = 'pooled_statistics'"))
        query(&p, "SELECT max(value) FROM audit, json_each(json_extract(detail, '$.x_std')) WHERE event = 'pooled_statistics'",
              poisoned, sizeof poisoned);
    tu_sh("grep -h 'pooled SD per input channel' %s/coordinator.log %s/coordinator.log >&2", h.dir, p.dir);
    fprintf(stderr, "federation: largest pooled SD (deg): honest %s stored, with stats_x2:1e6 %.4g logged%s%s\n", stored,
            sd_poisoned, *poisoned ? ", STORED " : " (refused)", poisoned);
    cr_assert(strtod(stored, NULL) > 5 && strtod(stored, NULL) < 50, "control: pooled SD %s stored", stored);
    cr_assert(isnan(sd_honest) || fabs(strtod(stored, NULL) - sd_honest) <= 1e-3 * sd_honest,
              "control: pooled SD %g logged, %s stored", sd_honest, stored);
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM audit WHERE event = 'pooled_statistics'"), 0,
                 "poisoned pooled statistics were accepted (largest SD %s)", poisoned);
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM models"), 1, "a model version beyond 0 was stored");
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM rounds WHERE outcome IN ('aggregated', 'statistics')"), 0);
    char reason[512];
    query(&p, "SELECT json_extract(detail, '$.reason') || ' | ' || json_extract(detail, '$.culprit') FROM audit "
              "WHERE event = 'attempt_rejected' ORDER BY seq LIMIT 1", reason, sizeof reason);
    cr_assert(strstr(reason, "pooled input statistics of 3 sites") && strstr(reason, "hip_flexion_r") &&
                  strstr(reason, "secure aggregation hides which") && strstr(reason, "| unknown"),
              "audited reason: %s", reason);
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM audit WHERE event = 'attempt_rejected'"), 3,
                 "the federation should pause after 3 rejected attempts");
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM audit WHERE event = 'federation_paused' AND "
                                "json_extract(detail, '$.reason') LIKE '%hip_flexion_r%'"), 1);
    cr_assert(sd_poisoned > 1000, "poisoned pooled SD %g", sd_poisoned);
    assert_audit_intact(&p);
}

/* Subject ids from a modified node (issue 13, finding 7): a secure federation
 * with cross-site evaluation whose third hospital runs tests/evil/evil_node
 * --attack subject_ids:<one of its subject ids>, adding per-subject rows to
 * its cross-site results. The coordinator refuses that post (422, audited
 * cross_site_refused naming the site), keeps the others' results, and no
 * subject id of any hospital store reaches its database or the report. */
Test(federation, subject_ids_from_a_modified_node_are_refused)
{
    const char *root = tu_dir();
    make_pki(root);
    fed f;
    fed_init(&f, root, "leaky", 1, 1, 0);
    /* the stage waits for the refused site until its deadline: a short one */
    cr_assert_eq(tu_sh("cd %s && sed -i 's/\"evaluate\": \\([0-9.]*\\)}/\"evaluate\": \\1, \"cross_eval\": %g}/' coordinator.json && "
                       "grep -q cross_eval coordinator.json", f.dir, 15 * slow()), 0);
    char cmd[1400], id[64];
    snprintf(cmd, sizeof cmd, "sqlite3 %s/sites/%s.db 'SELECT subject_id FROM subjects ORDER BY subject_id LIMIT 1'",
             fed_data(), hosp[2]);
    FILE *p = popen(cmd, "r");
    cr_assert(p && fgets(id, sizeof id, p));
    pclose(p);
    id[strcspn(id, "\n")] = 0;
    char attack[96], cfg[1300], log[1300];
    snprintf(attack, sizeof attack, "subject_ids:%s", id);
    start_coord(&f);
    f.node[0] = start_node(&f, hosp[0], NULL);
    f.node[1] = start_node(&f, hosp[1], NULL);
    snprintf(cfg, sizeof cfg, "%s/%s.json", f.dir, hosp[2]);
    snprintf(log, sizeof log, "%s/%s.log", f.dir, hosp[2]);
    const char *a[] = {"--attack", attack, "--config", cfg, "--verbose", NULL};
    f.node[2] = tu_spawn(log, tu_evil(), a);
    wait_all(&f, LIVENESS_S(90));
    cr_assert_eq(count_in_log(&f, hosp[2], "evil_node: added per-subject rows"), 1, "the attack did not run");
    assert_no_subject_ids(&f);
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM audit WHERE event = 'cross_site_refused' AND "
                                "json_extract(detail, '$.site') = 'video-clinic' AND "
                                "json_extract(detail, '$.reason') LIKE '%per_subject%refused%'"),
                 1, "no cross_site_refused audit row naming the site");
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM cross_site WHERE at_site = 'video-clinic'"), 0);
    cr_assert_eq(query_long(&f, "SELECT count(DISTINCT at_site) FROM cross_site"), 2, "the honest results are lost");
    assert_audit_intact(&f);
}

/* (b) The same federation without secure aggregation, on the same seeds,
 * ends at the same model within the fixed-point quantization bound. */
Test(federation, plain_and_secure_agree_within_fixpoint_bound)
{
    const char *root = tu_dir();
    make_pki(root);
    fed s, p;
    fed_init(&s, root, "secure", 1, ROUNDS, 0);
    fed_init(&p, root, "plain", 0, ROUNDS, 0);
    run_all(&s, 0);
    run_all(&p, 0);
    wait_all(&s, LIVENESS_S(90));
    wait_all(&p, LIVENESS_S(60));
    assert_versions(&s, ROUNDS);
    assert_versions(&p, ROUNDS);
    cr_assert_eq(query_long(&p, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 3"), ROUNDS);
    for (int v = 1; v <= ROUNDS; v++) assert_same_model(&s, &p, v, "secure vs plain");
}

/* (c) A hospital killed with SIGKILL after advertising its keys in round 1:
 * the round goes on without it and is aggregated from the two survivors
 * (the threshold is 2 of 3); the dropout is audited. Its poll pace is slow
 * (1 s), so the kill lands before its next phase. */
Test(federation, node_killed_mid_round_round_finishes_with_survivors)
{
    const char *root = tu_dir();
    make_pki(root);
    fed f;
    fed_init(&f, root, "dropout", 1, 1, 1000);
    run_all(&f, 0);
    char log[1300];
    snprintf(log, sizeof log, "%s/%s.log", f.dir, hosp[N_HOSP - 1]);
    int seen = wait_log(log, "round 1 attempt 1: advert posted", 60);
    if (!seen) dump_logs(&f);
    cr_assert(seen, "the slow node never advertised");
    kill(f.node[N_HOSP - 1], SIGKILL);
    cr_assert_eq(wait_exit(f.node[N_HOSP - 1], 10), 128 + SIGKILL);
    f.node[N_HOSP - 1] = 0;
    wait_all(&f, LIVENESS_S(60));
    assert_versions(&f, 1);
    cr_assert_eq(query_long(&f, "SELECT n_survivors FROM rounds WHERE round = 1 AND outcome = 'aggregated'"), 2);
    char first[256];
    query(&f, "SELECT json_extract(detail, '$.phase') || ':' || json_extract(detail, '$.sites') FROM audit "
              "WHERE event = 'dropouts' ORDER BY seq LIMIT 1", first, sizeof first);
    cr_assert_str_eq(first, "shares:[\"video-clinic\"]", "first audited dropout: %s", first);
    /* The shares phase ran into its deadline with 2 of 3 answers, and says so. */
    query(&f, "SELECT json_extract(detail, '$.phase') || ':' || json_extract(detail, '$.answered') || '/' || "
              "json_extract(detail, '$.expected') FROM audit WHERE event = 'phase_deadline' ORDER BY seq LIMIT 1",
          first, sizeof first);
    cr_assert_str_eq(first, "shares:2/3", "first audited deadline: %s", first);
    assert_audit_intact(&f);
}

/* (d) The coordinator killed with SIGKILL mid-round and restarted with the
 * same config finishes the run. Round 2 is held open by a hospital that left
 * after round 1 (--max-rounds 1): the other two have trained and advertised
 * when the coordinator dies, and one of them is killed with it. After the
 * restart the round reopens as attempt 2; the two post their cached updates
 * without retraining (one from memory, the restarted one from its
 * state_dir), the third comes back and trains. No update is counted twice: the final model equals a
 * plain run of the same seeds within the fixed-point bound (a doubled update
 * would move it by a whole Δ), and the audit chain is intact. */
Test(federation, coordinator_killed_mid_round_resumes_without_double_counting)
{
    const char *root = tu_dir();
    make_pki(root);
    fed f, p;
    fed_init(&f, root, "restart", 1, ROUNDS, 0);
    fed_init(&p, root, "plain", 0, ROUNDS, 0);
    run_all(&p, 0); /* the reference, meanwhile */
    start_coord(&f);
    f.node[0] = start_node(&f, hosp[0], NULL);
    f.node[1] = start_node(&f, hosp[1], NULL);
    f.node[2] = start_node(&f, hosp[2], "--max-rounds");
    cr_assert_eq(wait_exit(f.node[2], 60), 0, "the node with --max-rounds 1 should leave after round 1");
    f.node[2] = 0;
    char log[1300];
    for (int i = 0; i < 2; i++) {
        snprintf(log, sizeof log, "%s/%s.log", f.dir, hosp[i]);
        int seen = wait_log(log, "round 2 attempt 1: advert posted", 60);
        if (!seen) dump_logs(&f);
        cr_assert(seen, "%s never advertised in round 2", hosp[i]);
    }
    kill(f.coord, SIGKILL);
    cr_assert_eq(wait_exit(f.coord, 10), 128 + SIGKILL);
    assert_versions(&f, 1); /* round 2 was open, not aggregated */
    /* The first hospital goes down too: its restarted process finds its
     * update in state_dir. */
    kill(f.node[0], SIGKILL);
    cr_assert_eq(wait_exit(f.node[0], 10), 128 + SIGKILL);
    start_coord(&f);
    f.node[0] = start_node(&f, hosp[0], NULL);
    f.node[2] = start_node(&f, hosp[2], NULL);
    wait_all(&f, LIVENESS_S(90));
    wait_all(&p, LIVENESS_S(60));
    assert_versions(&f, ROUNDS);
    cr_assert_eq(query_long(&f, "SELECT attempt FROM rounds WHERE round = 2"), 2);
    cr_assert_eq(query_long(&f, "SELECT n_survivors FROM rounds WHERE round = 2 AND outcome = 'aggregated'"), 3);
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM round_sites WHERE round = 2"), N_HOSP);
    for (int i = 0; i < 2; i++) /* the logs span both processes of the first hospital */
        cr_assert_eq(count_in_log(&f, hosp[i], "round 2: trained on model version 1"), 1, "%s trained round 2 twice",
                     hosp[i]);
    cr_assert_eq(count_in_log(&f, hosp[0], "round 2: reusing the cached update for model version 1"), 1);
    cr_assert_eq(count_in_log(&f, hosp[1], "round 2 attempt 2: reusing the update trained earlier"), 1);
    assert_audit_intact(&f);
    assert_same_model(&f, &p, ROUNDS, "restarted secure vs plain");
}

/* (e) Certificate problems are fatal, one line, exit 1: a node whose
 * certificate comes from another consortium (the coordinator refuses it in
 * the handshake), and a node that trusts another CA (the coordinator's
 * certificate is unknown to it). A bad config names the field. */
Test(federation, certificate_and_config_problems_are_one_line_fatal_errors)
{
    const char *root = tu_dir();
    make_pki(root);
    cr_assert_eq(tu_sh("%s pki init --dir %s/other --consortium other > /dev/null && "
                       "%s pki issue --dir %s/other --name optical-lab --role hospital > /dev/null",
                       tu_bin(), root, tu_bin(), root), 0);
    fed f;
    fed_init(&f, root, "tls", 1, 1, 0);
    start_coord(&f);
    /* foreign certificate, the right CA and CRL */
    cr_assert_eq(tu_sh("sed -e 's|%s/ca/kits/optical-lab/|%s/other/kits/optical-lab/|g' %s/optical-lab.json > %s/foreign.json",
                       root, root, f.dir, f.dir), 0);
    /* the right certificate, another consortium's CA */
    cr_assert_eq(tu_sh("sed -e 's|\"ca\": \"%s/ca/ca.pem\"|\"ca\": \"%s/other/ca.pem\"|' %s/imu-clinic.json > %s/wrongca.json",
                       root, root, f.dir, f.dir), 0);
    cr_assert_eq(tu_sh("grep -q other/ca.pem %s/wrongca.json && grep -q other/kits %s/foreign.json", f.dir, f.dir), 0);
    char log[1300];
    snprintf(log, sizeof log, "%s/coordinator.log", f.dir);
    cr_assert(wait_log(log, "listening on", 30), "the coordinator did not start");
    const char *cases[][2] = {{"foreign", "refuses this certificate"}, {"wrongca", "certificate"}};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(tu_sh("timeout 60 %s node --config %s/%s.json > %s/%s.out 2> %s/%s.err", tu_bin(), f.dir, cases[i][0],
                           f.dir, cases[i][0], f.dir, cases[i][0]), 1, "%s: expected exit 1", cases[i][0]);
        cr_assert_eq(tu_sh("tail -n 1 %s/%s.err | grep -q '^gaitfed: .*%s'", f.dir, cases[i][0], cases[i][1]), 0,
                     "%s: the last line should name the certificate problem", cases[i][0]);
    }
    cr_assert_eq(tu_sh("sed -e 's|\"threads\"|\"thread\"|' %s/imu-clinic.json > %s/typo.json", f.dir, f.dir), 0);
    cr_assert_eq(tu_sh("%s node --config %s/typo.json 2> %s/typo.err", tu_bin(), f.dir, f.dir), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/typo.err) -eq 1 && grep -q \"typo.json: field 'thread': unknown field\" %s/typo.err",
                       f.dir, f.dir), 0, "expected one line naming the file and the field");
    kill(f.coord, SIGTERM);
    cr_assert_eq(wait_exit(f.coord, 20), 0);
}

/* Warm start: real federations (`gaitfed demo`: coordinator, four hospitals
 * and an evaluator as processes on 127.0.0.1) started from a checkpoint with
 * the coordinator's "initial_model", under each normalization. Checked from
 * the coordinator's database with SQLite and against `gaitfed eval` of the
 * same files: version 0 is the checkpoint bit for bit, the rounds move it,
 * "model" normalization carries exactly the checkpoint's x_mean/x_std and no
 * statistics round runs, and the federation goes on from the checkpoint's
 * quality rather than from a random initialization. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sqlite3.h>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/unit/testutil.h"
#include "tests/unit/proc_testutil.h"

/* The initial checkpoints, relative to GF_ROOT; NULL: a small Transformer
 * (d_model 16, 1 layer) trained here with `gaitfed train` on the shared
 * synthetic cohort. The published Transformer MF60 (trained on real gait,
 * shipped in model/pretrained/) starts the "model" federation only: one
 * reference-size federation of two rounds is enough to show it works. */
static const char *const CHECKPOINTS[] = {NULL, "model/pretrained/Transformer_MF60.safetensors"};
#define N_CKPT (sizeof CHECKPOINTS / sizeof *CHECKPOINTS)

static void ckpt_path(int idx, char *out, size_t cap)
{
    if (CHECKPOINTS[idx]) {
        snprintf(out, cap, "%s/%s", tu_root(), CHECKPOINTS[idx]);
        return;
    }
    const char *data = fed_data(), *tmp = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/gaitfed-warm-ckpt", tmp && *tmp ? tmp : "/tmp");
    snprintf(out, cap, "%s/transformer-small.safetensors", dir);
    cr_assert_eq(tu_sh("flock %s.lock sh -c 'test -e %s || { mkdir -p %s && %s train --data %s/Gait2Hip_MF60.npz "
                       "--model transformer --d-model 16 --layers 1 --heads 2 --ff 32 --dropout 0 --epochs 20 "
                       "--lr 0.005 --folds 0 --threads 1 --out %s.tmp > %s.log 2>&1 && mv %s.tmp %s; }'",
                       dir, out, dir, tu_bin(), data, out, dir, out, out),
                 0, "gaitfed train failed, see %s.log", dir);
}

/* `gaitfed demo` of `rounds` rounds from ckpt under norm in dir/norm. */
static void run_demo(const char *dir, const char *ckpt, const char *norm, int rounds, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, norm);
    cr_assert_eq(tu_sh("%s demo --out %s --rounds %d --local-epochs 1 --initial-model %s --normalization %s > %s.log 2>&1",
                       tu_bin(), out, rounds, ckpt, norm, out),
                 0, "demo failed; see %s.log and %s/logs", out, out);
    cr_assert_eq(tu_sh("%s audit verify --db %s/coordinator.db > /dev/null", tu_bin(), out), 0);
}

/* One value of a query on the run's database as text (empty: NULL or no row). */
static void sql(const char *run, const char *q, char *out, size_t cap)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/coordinator.db", run);
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK, "%s: %s", q, sqlite3_errmsg(db));
    *out = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static long sql_long(const char *run, const char *q)
{
    char b[64];
    sql(run, q, b, sizeof b);
    return strtol(b, NULL, 10);
}

/* Model version v of the run: parsed, and written to run/vV.safetensors. */
static void version(const char *run, int v, gf_safetensors *st)
{
    char q[4096], file[1300];
    snprintf(file, sizeof file, "%s/v%d.safetensors", run, v);
    snprintf(q, sizeof q, "sqlite3 %s/coordinator.db \"SELECT writefile('%s', weights) FROM models WHERE version = %d\" "
                          "> /dev/null", run, file, v);
    cr_assert_eq(tu_sh("%s", q), 0);
    cr_assert_eq(gf_safetensors_read(file, st), GF_OK, "%s", gf_errmsg());
}

/* Every tensor of a (names, shapes, bits) in b, and b has no other. */
static void assert_same_tensors(const gf_safetensors *a, const gf_safetensors *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %d tensors vs %d", what, a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const gf_st_tensor *t = &a->t[i], *u = gf_safetensors_get(b, t->name);
        cr_assert_not_null(u, "%s: %s missing", what, t->name);
        cr_assert_eq(t->numel, u->numel, "%s: %s", what, t->name);
        cr_assert_eq(memcmp(t->data, u->data, t->numel * sizeof(float)), 0, "%s: %s differs", what, t->name);
    }
}

/* Subject-mean RMSE of `gaitfed eval` (an independent run of the metrics). */
static double eval_rmse(const char *model, const char *data, const char *norm)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --norm %s --threads 1", tu_bin(), model, data, norm);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    json_error_t je;
    json_t *j = json_loadf(p, 0, &je);
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    cr_assert_not_null(j, "%s: %s", cmd, je.text);
    double r = json_number_value(json_object_get(json_object_get(j, "subject_mean"), "rmse"));
    json_decref(j);
    cr_assert(r > 0, "%s: no RMSE", cmd);
    return r;
}

/* L2 distance of the parameters (tensors of b, x_mean/x_std left out) of a and b. */
static double l2_dist(const gf_safetensors *a, const gf_safetensors *b)
{
    double s = 0;
    for (int i = 0; i < b->n; i++) {
        const gf_st_tensor *u = &b->t[i], *t = gf_safetensors_get(a, u->name);
        if (!strcmp(u->name, "x_mean") || !strcmp(u->name, "x_std")) continue;
        cr_assert(t && t->numel == u->numel, "tensor %s missing or of another size", u->name);
        for (size_t k = 0; k < u->numel; k++) s += ((double)t->data[k] - u->data[k]) * ((double)t->data[k] - u->data[k]);
    }
    return sqrt(s);
}

/* The model of a checkpoint file, as the CLI and the coordinator build it. */
static gf_model *load_model(const char *ckpt, gf_task *task)
{
    gf_safetensors st;
    gf_model *m;
    cr_assert_eq(gf_safetensors_read(ckpt, &st), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_checkpoint_model(&st, ckpt, &m, task), GF_OK, "%s", gf_errmsg());
    gf_safetensors_free(&st);
    return m;
}

/* A randomly initialized model of ckpt's configuration carrying its
 * x_mean/x_std: what a cold start begins from. */
static void random_twin(const char *ckpt, const char *out)
{
    gf_task task;
    gf_model *m = load_model(ckpt, &task);
    cr_assert_eq(gf_model_init(m, 11), GF_OK);
    json_t *meta = gf_checkpoint_meta(&m->cfg, task);
    cr_assert_eq(gf_safetensors_save_model(out, m, meta), GF_OK, "%s", gf_errmsg());
    json_decref(meta);
    gf_model_free(m);
}

ParameterizedTestParameters(warmstart, model_normalization)
{
    static int idx[N_CKPT];
    for (size_t i = 0; i < N_CKPT; i++) idx[i] = (int)i;
    return cr_make_param_array(int, idx, N_CKPT);
}

/* "normalization": "model", two rounds. */
ParameterizedTest(int *ci, warmstart, model_normalization)
{
    const char *d = tu_dir();
    char ck[1200], run[1200], q[3000], b[512];
    ckpt_path(*ci, ck, sizeof ck);
    run_demo(d, ck, "model", 2, run, sizeof run);
    gf_safetensors init, v[3];
    cr_assert_eq(gf_safetensors_read(ck, &init), GF_OK, "%s", gf_errmsg());
    cr_assert_not_null(gf_safetensors_get(&init, "x_mean"), "the checkpoint carries no statistics");
    for (int k = 0; k < 3; k++) version(run, k, &v[k]);
    /* Version 0 is the checkpoint: every parameter and x_mean/x_std, bit for bit. */
    assert_same_tensors(&init, &v[0], "version 0 vs the initial model");
    /* Every version carries exactly the checkpoint's statistics and its SHA-256. */
    char sha[80];
    snprintf(q, sizeof q, "sha256sum %s | cut -c1-64 > %s/sha", ck, run);
    cr_assert_eq(tu_sh("%s", q), 0);
    snprintf(q, sizeof q, "%s/sha", run);
    FILE *f = fopen(q, "r");
    cr_assert(f && fscanf(f, "%64s", sha) == 1);
    fclose(f);
    for (int k = 0; k < 3; k++) {
        for (int s = 0; s < 2; s++) {
            const char *nm = s ? "x_std" : "x_mean";
            const gf_st_tensor *a = gf_safetensors_get(&init, nm), *g = gf_safetensors_get(&v[k], nm);
            cr_assert(g && !memcmp(a->data, g->data, GF_DIN * sizeof(float)), "version %d: %s is not the initial one", k, nm);
        }
        cr_assert_str_eq(gf_safetensors_meta(&v[k], "initial_model_sha256"), sha, "version %d", k);
        cr_assert_str_eq(gf_safetensors_meta(&v[k], "normalization"), "model");
    }
    /* The rounds moved it. */
    double moved = max_diff(&v[2], &v[0], NULL);
    cr_assert_gt(moved, 1e-4, "two rounds moved the model by only %g", moved);
    /* No statistics round, none sent: two aggregated training rounds, no pooled statistics. */
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM models"), 3);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 4 AND "
                               "json_extract(params, '$.statistics') = 0"), 2);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM audit WHERE event = 'pooled_statistics'"), 0);
    /* The hospitals' configs keep their statistics at home ("own") and took part all the same. */
    cr_assert_eq(tu_sh("grep -l '\"normalization\": \"own\"' %s/kits/*/node.json | wc -l | grep -qx 5", run), 0);
    /* The audit says where the federation started. */
    sql(run, "SELECT json_extract(detail, '$.initial_model.sha256') || ' ' || "
             "json_extract(detail, '$.initial_model.statistics_used') FROM audit WHERE event = 'federation_created'",
        b, sizeof b);
    snprintf(q, sizeof q, "%s 1", sha);
    cr_assert_str_eq(b, q);
    /* The evaluator labels the model-carried statistics "model". */
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm = 'model' AND site = 'evaluator'"), 4);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm = 'pooled'"), 0);
    /* Its number for version 1 on the healthy cohort is `gaitfed eval --norm model` of version 1 ... */
    char data[1300], vf[1300], twin[1300];
    snprintf(data, sizeof data, "%s/data/cohorts/healthy-test.db", run);
    snprintf(vf, sizeof vf, "%s/v1.safetensors", run);
    sql(run, "SELECT json_extract(metrics, '$.subject_mean.rmse') FROM evaluations WHERE model_version = 1 AND "
             "cohort = 'healthy-test' AND norm = 'model'", b, sizeof b);
    double r1 = strtod(b, NULL), r1_eval = eval_rmse(vf, data, "model");
    cr_assert(fabs(r1 - r1_eval) <= 1e-7 * r1_eval, "evaluator %.9g vs gaitfed eval %.9g", r1, r1_eval);
    /* ... and close to the checkpoint's own, far from a random start's:
     * the federation went on from the checkpoint. */
    snprintf(twin, sizeof twin, "%s/random.safetensors", run);
    random_twin(ck, twin);
    /* In parameters, whatever the checkpoint is worth on this cohort: version
     * 1 lies near version 0, far closer than a random start does. */
    gf_safetensors rnd;
    cr_assert_eq(gf_safetensors_read(twin, &rnd), GF_OK, "%s", gf_errmsg());
    double d1 = l2_dist(&v[1], &v[0]), d_rand = l2_dist(&rnd, &v[0]);
    fprintf(stderr, "warmstart: %s: |v1 - v0| %.4g, |random - v0| %.4g\n", ck, d1, d_rand);
    cr_assert_lt(d1, 0.1 * d_rand, "version 1 is %g from the checkpoint, a random start %g", d1, d_rand);
    gf_safetensors_free(&rnd);
    /* In quality, for the checkpoint trained on this synthetic world (the
     * published model, trained on real gait, is not expected to do well
     * here): near the checkpoint's RMSE, far from a random start's. */
    if (!CHECKPOINTS[*ci]) {
        double r_init = eval_rmse(ck, data, "model"), r_rand = eval_rmse(twin, data, "model");
        cr_assert_gt(r_rand, 1.5 * r_init, "the checkpoint (RMSE %g) is no better than a random start (%g)", r_init, r_rand);
        cr_assert_lt(fabs(r1 - r_init), 0.25 * (r_rand - r_init),
                     "version 1 (RMSE %g) is not near the checkpoint (%g) relative to a random start (%g)", r1, r_init, r_rand);
    }
    gf_safetensors_free(&init);
    for (int k = 0; k < 3; k++) gf_safetensors_free(&v[k]);
}

ParameterizedTestParameters(warmstart, global_and_own_normalization)
{
    static int idx[1] = {0}; /* the small checkpoint trained here */
    return cr_make_param_array(int, idx, 1);
}

/* "global" and "own", one training round each: version 0 is the checkpoint's
 * parameters without its statistics; under "global" the first round pools the
 * sites' statistics (version 1: the same parameters, pooled x_mean/x_std),
 * under "own" no version carries any and the evaluator reports "own" only. */
ParameterizedTest(int *ci, warmstart, global_and_own_normalization)
{
    const char *d = tu_dir();
    char ck[1200], run[1200];
    ckpt_path(*ci, ck, sizeof ck);
    gf_safetensors init, v0, v1;
    cr_assert_eq(gf_safetensors_read(ck, &init), GF_OK, "%s", gf_errmsg());
    const gf_st_tensor *mu0 = gf_safetensors_get(&init, "x_mean");
    run_demo(d, ck, "global", 1, run, sizeof run);
    version(run, 0, &v0);
    version(run, 1, &v1);
    cr_assert_null(gf_safetensors_get(&v0, "x_mean"), "global: version 0 carries the checkpoint's statistics");
    cr_assert_eq(v0.n, init.n - 2 * (mu0 != NULL));
    for (int i = 0; i < v0.n; i++) {
        const gf_st_tensor *t = gf_safetensors_get(&init, v0.t[i].name);
        cr_assert(t && !memcmp(t->data, v0.t[i].data, t->numel * sizeof(float)), "global: %s is not the checkpoint's",
                  v0.t[i].name);
    }
    for (int i = 0; i < v0.n; i++) { /* the statistics round leaves θ as it is */
        const gf_st_tensor *t = gf_safetensors_get(&v1, v0.t[i].name);
        cr_assert(t && !memcmp(t->data, v0.t[i].data, t->numel * sizeof(float)), "global: version 1 moved %s",
                  v0.t[i].name);
    }
    const gf_st_tensor *mu1 = gf_safetensors_get(&v1, "x_mean");
    cr_assert_not_null(mu1);
    cr_assert(!mu0 || memcmp(mu0->data, mu1->data, GF_DIN * sizeof(float)), "global: the pooled mean is the checkpoint's");
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM rounds WHERE outcome = 'statistics'"), 1);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm = 'pooled'"), 2);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm = 'model'"), 0);
    gf_safetensors_free(&v0), gf_safetensors_free(&v1);

    run_demo(d, ck, "own", 1, run, sizeof run);
    version(run, 0, &v0);
    version(run, 1, &v1);
    cr_assert_null(gf_safetensors_get(&v0, "x_mean"));
    cr_assert_null(gf_safetensors_get(&v1, "x_mean"));
    cr_assert_eq(v0.n, init.n - 2 * (mu0 != NULL));
    cr_assert_gt(max_diff(&v1, &v0, NULL), 1e-5, "own: the round did not move the model");
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm <> 'own'"), 0);
    cr_assert_eq(sql_long(run, "SELECT count(*) FROM evaluations WHERE norm = 'own'"), 2);
    /* The database belongs to the federation that started from this checkpoint:
     * another initial model, or none, is refused in one line naming it. */
    char twin[1300];
    snprintf(twin, sizeof twin, "%s/random.safetensors", run);
    random_twin(ck, twin);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(tu_sh("cd %s/kits/coordinator && sed 's|\"initial_model\": \"[^\"]*\"|\"initial_model\": \"%s\"|' "
                           "coordinator.json > other.json && { test %d = 0 || sed -i '/initial_model/d' other.json; }",
                           run, twin, k), 0);
        cr_assert_eq(tu_sh("%s coordinator --config %s/kits/coordinator/other.json > /dev/null 2> %s/err", tu_bin(), run, run), 1);
        cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && grep -q 'coordinator.db: the federation in it started from the "
                           "initial model with SHA-256 .* but the config.s initial_model is %s' %s/err",
                           run, k ? "absent" : "the file with SHA-256", run), 0, "case %d", k);
    }
    gf_safetensors_free(&v0), gf_safetensors_free(&v1), gf_safetensors_free(&init);
}

/* The demo checks the checkpoint before it starts anything: one line, exit
 * 1 or 2 (usage), no run directory. */
Test(warmstart, demo_refuses_a_bad_initial_model)
{
    const char *d = tu_dir();
    char ck[1200], plain[1300];
    ckpt_path(0, ck, sizeof ck);
    snprintf(plain, sizeof plain, "%s/nostats.safetensors", d);
    gf_task task;
    gf_model *m = load_model(ck, &task);
    m->has_norm = 0;
    json_t *meta = gf_checkpoint_meta(&m->cfg, task);
    cr_assert_eq(gf_safetensors_save_model(plain, m, meta), GF_OK, "%s", gf_errmsg());
    json_decref(meta);
    gf_model_free(m);
    static const struct {
        const char *args, *needle;
        int rc;
    } cases[] = {
        {"--initial-model %s/none.safetensors", "none.safetensors: No such file", 1},
        {"--initial-model %s --model lstm", "--model lstm, but the initial model is a transformer", 1},
        {"--initial-model %s --normalization model", "nostats.safetensors carries no x_mean/x_std", 1},
        {"--normalization model", "--normalization model uses the initial model", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[1400];
        snprintf(args, sizeof args, cases[i].args, i == 0 ? d : i == 1 ? ck : plain);
        int rc = tu_sh("%s demo --out %s/run %s > %s/out 2> %s/err", tu_bin(), d, args, d, d);
        cr_assert_eq(rc, cases[i].rc, "%s: exit %d", args, rc);
        cr_assert_eq(tu_sh("grep -qF -- '%s' %s/err", cases[i].needle, d), 0, "%s: message", args);
        if (rc == 1) cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1", d), 0, "%s: one line", args);
        cr_assert_eq(tu_sh("test ! -e %s/run", d), 0, "%s: a run directory was made", args);
    }
}

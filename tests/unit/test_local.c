/* node/local: a round's compute at a hospital node, without networking.
 *  - one local epoch equals θ_after − θ_before of the same gf_train run done
 *    centrally, bit for bit (dropout on: same seeding); n_samples, no NaN,
 *    the global model untouched, validation cycles never trained on;
 *  - FedProx (mu > 0) pulls the local model toward the global one;
 *  - the validation split is subject-wise, seeded, deterministic;
 *  - gf_local_stats' sums equal numpy's on the same cycles, exactly; the
 *    plausibility bounds of input statistics hold at their edges;
 *  - gf_local_evaluate's JSON equals `gaitfed eval --norm own`'s;
 *  - gf_local_model_from_blob refuses a wrong SHA-256 and a truncated blob
 *    with a one-line error. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "crypto/hash.h"
#include "model/safetensors.h"
#include "model/trainer.h"
#include "node/local.h"
#include "sites/npz.h"
#include "testutil.h"

#define NSUBJ 10
#define PER 3

/* NSUBJ subjects × PER cycles (slow, med, fast) of plausible angles in
 * degrees and forces in N that depend on the angles and the body mass. */
static void make_ds(gf_dataset *ds, uint64_t seed)
{
    cr_assert_eq(gf_dataset_alloc(ds, NSUBJ * PER, 1, 0), GF_OK, "%s", gf_errmsg());
    gf_rng r;
    gf_rng_seed(&r, seed);
    const char *sp[PER] = {"slow", "med", "fast"};
    for (int s = 0; s < NSUBJ; s++) {
        double off = 3 * gf_rng_normal(&r);
        for (int k = 0; k < PER; k++) {
            int i = s * PER + k;
            gf_cycle_meta *m = &ds->meta[i];
            snprintf(m->subject_id, sizeof m->subject_id, "S%02d", s + 1);
            snprintf(m->speed, sizeof m->speed, "%s", sp[k]);
            m->height_m = 1.6f + 0.02f * s;
            m->weight_kg = 55.0f + 4.5f * s;
            m->trial = 1;
            for (int t = 0; t < GF_T; t++) {
                float *x = ds->x + ((size_t)i * GF_T + t) * GF_DIN;
                for (int c = 0; c < GF_DIN; c++)
                    x[c] = (float)((10 + 3 * c) * sin(2 * M_PI * t / GF_T + 0.4 * c + 0.1 * k) + off + c +
                                   0.5 * gf_rng_normal(&r));
                float *y = ds->yf + ((size_t)i * GF_T + t) * GF_NF;
                for (int o = 0; o < GF_NF; o++)
                    y[o] = m->weight_kg * (float)(2 + 0.05 * x[o % GF_DIN] - 0.03 * x[(o + 3) % GF_DIN] + 0.1 * k);
            }
        }
    }
}

static gf_model *make_global(uint64_t seed, float dropout)
{
    gf_model_config c = gf_model_config_default(GF_ARCH_TRANSFORMER, GF_DIN, GF_NF);
    c.d_model = 16; c.n_layers = 1; c.n_heads = 2; c.d_ff = 32; c.max_len = GF_T; c.dropout = dropout;
    gf_model *m;
    cr_assert_eq(gf_model_create(&c, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, seed), GF_OK);
    m->threads = 1;
    return m;
}

static gf_local_config lcfg(float mu, int epochs)
{
    gf_local_config c = {.epochs = epochs, .batch = 8, .lr = 1e-3f, .weight_decay = 1e-5f, .grad_clip = 0.5f,
                         .mu = mu, .seed = 7, .threads = 1};
    return c;
}

static float *snapshot(const gf_model *m)
{
    float *p = malloc(m->params.size * sizeof *p);
    cr_assert(p);
    memcpy(p, m->params.data, m->params.size * sizeof *p);
    return p;
}

/* The same round done centrally with gf_train: training cycles in their
 * order, z-scored with (mean, sd), targets per kg; returns θ_after − θ_before. */
static double central_last_loss; /* the central run's last epoch training MSE */
static float *central_delta(const gf_model *global, const gf_dataset *ds, const unsigned char *is_val,
                            const float *mean, const float *sd, const gf_local_config *lc)
{
    gf_model *m;
    cr_assert_eq(gf_model_create(&global->cfg, &m), GF_OK);
    memcpy(m->params.data, global->params.data, global->params.size * sizeof(float));
    m->threads = 1;
    const int n = (int)ds->n;
    const size_t rx = (size_t)GF_T * GF_DIN, ry = (size_t)GF_T * GF_NF;
    float *y = malloc((size_t)n * ry * sizeof *y), *xt = malloc((size_t)n * rx * sizeof *xt),
          *yt = malloc((size_t)n * ry * sizeof *yt);
    cr_assert(y && xt && yt);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < ry; k++) y[i * ry + k] = (float)(ds->yf[i * ry + k] / (double)ds->meta[i].weight_kg);
    int nt = 0;
    for (int i = 0; i < n; i++)
        if (!is_val[i]) {
            memcpy(xt + nt * rx, ds->x + i * rx, rx * sizeof(float));
            memcpy(yt + nt * ry, y + i * ry, ry * sizeof(float));
            nt++;
        }
    gf_zscore_apply(xt, xt, (size_t)nt * GF_T, GF_DIN, mean, sd);
    size_t np = gf_arena_numel(&m->params);
    float *before = malloc(np * sizeof *before), *delta = malloc(np * sizeof *delta);
    cr_assert(before && delta);
    gf_arena_pack(&m->params, before);
    gf_train_config tc = gf_train_defaults();
    tc.max_epochs = lc->epochs; tc.patience = 0; tc.batch = lc->batch; tc.clip = lc->grad_clip;
    tc.opt.lr = lc->lr; tc.opt.weight_decay = lc->weight_decay; tc.seed = lc->seed;
    tc.prox_mu = lc->mu; tc.prox_center = before;
    gf_train_result r;
    cr_assert_eq(gf_train(m, xt, yt, nt, GF_T, NULL, NULL, 0, &tc, &r), GF_OK, "%s", gf_errmsg());
    gf_arena_pack(&m->params, delta);
    for (size_t i = 0; i < np; i++) delta[i] -= before[i];
    central_last_loss = r.train_loss[r.n_epochs - 1];
    gf_train_result_free(&r);
    gf_model_free(m);
    free(y); free(xt); free(yt); free(before);
    return delta;
}

static double jnum(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(json_object_get(json_object_get(o, a), b), c);
    cr_assert(json_is_number(v), "val_metrics.%s.%s.%s missing", a, b, c);
    return json_number_value(v);
}

Test(local, one_epoch_equals_central_training_bit_for_bit)
{
    gf_dataset ds;
    make_ds(&ds, 1);
    gf_model *g = make_global(3, 0.1f); /* dropout on: the seeded mask stream must match too */
    unsigned char is_val[NSUBJ * PER];
    int nvs = 0;
    cr_assert_eq(gf_local_split(&ds, GF_LOCAL_VAL_FRAC, 11, is_val, &nvs), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(nvs, 2);
    gf_local_moments st;
    cr_assert_eq(gf_local_stats(&ds, is_val, &st), GF_OK, "%s", gf_errmsg());
    float *before = snapshot(g);
    size_t np = gf_arena_numel(&g->params);
    float *delta = malloc(np * sizeof *delta);
    int64_t ns = -1;
    json_t *vm = NULL;
    gf_local_config lc = lcfg(0, 1);
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, is_val, st.mean, st.sd, &lc, delta, &ns, &vm), GF_OK, "%s",
                 gf_errmsg());
    cr_assert(!memcmp(before, g->params.data, g->params.size * sizeof(float)), "gf_local_train modified the global model");
    cr_assert_eq(ns, (NSUBJ - 2) * PER, "n_samples %lld", (long long)ns);
    double norm = 0;
    for (size_t i = 0; i < np; i++) {
        cr_assert(isfinite(delta[i]), "delta[%zu] = %g", i, delta[i]);
        norm += (double)delta[i] * delta[i];
    }
    cr_assert(norm > 0, "an epoch of training left the parameters unchanged");
    float *ref = central_delta(g, &ds, is_val, st.mean, st.sd, &lc);
    size_t ndiff = 0;
    for (size_t i = 0; i < np; i++) ndiff += memcmp(&delta[i], &ref[i], sizeof(float)) != 0;
    cr_assert_eq(ndiff, 0, "%zu of %zu update elements differ from the central gf_train run", ndiff, np);
    /* validation metrics of both models on the 2 validation subjects */
    cr_assert(json_is_object(vm));
    cr_assert_eq(json_integer_value(json_object_get(vm, "n_cycles")), 2 * PER);
    cr_assert_eq(json_integer_value(json_object_get(vm, "n_subjects")), 2);
    double g_rmse = jnum(vm, "global", "pooled", "rmse"), l_rmse = jnum(vm, "local", "pooled", "rmse");
    jnum(vm, "global", "subject_mean", "r2");
    jnum(vm, "local", "subject_mean", "mae");
    cr_assert(g_rmse > 0 && l_rmse > 0 && g_rmse != l_rmse, "global RMSE %g, local %g", g_rmse, l_rmse);
    cr_assert_null(json_object_get(vm, "per_subject"), "subject ids must not leave the site");
    /* the round's loss: the last local epoch's mean training MSE, as the central run reports it */
    cr_assert_float_eq(json_number_value(json_object_get(vm, "train_loss")), central_last_loss, 1e-12);
    json_decref(vm);
    free(ref); free(delta); free(before);
    gf_model_free(g);
    gf_dataset_free(&ds);
}

/* Validation cycles are never trained on: changing their targets and inputs
 * wildly leaves the update bit-identical. */
Test(local, validation_cycles_are_not_trained_on)
{
    gf_dataset ds;
    make_ds(&ds, 2);
    gf_model *g = make_global(4, 0);
    unsigned char is_val[NSUBJ * PER];
    cr_assert_eq(gf_local_split(&ds, 0.2, 5, is_val, NULL), GF_OK);
    gf_local_moments st;
    cr_assert_eq(gf_local_stats(&ds, is_val, &st), GF_OK);
    size_t np = gf_arena_numel(&g->params);
    float *d1 = malloc(np * 4), *d2 = malloc(np * 4);
    int64_t ns;
    gf_local_config lc = lcfg(0, 1);
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, is_val, st.mean, st.sd, &lc, d1, &ns, NULL), GF_OK);
    for (int i = 0; i < NSUBJ * PER; i++)
        if (is_val[i]) {
            for (int k = 0; k < GF_T * GF_NF; k++) ds.yf[(size_t)i * GF_T * GF_NF + k] = 1e6f;
            for (int k = 0; k < GF_T * GF_DIN; k++) ds.x[(size_t)i * GF_T * GF_DIN + k] = -170.0f;
        }
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, is_val, st.mean, st.sd, &lc, d2, &ns, NULL), GF_OK);
    cr_assert(!memcmp(d1, d2, np * 4), "the validation cycles changed the update");
    /* and the same with every cycle trained on differs (the check can fail) */
    unsigned char none[NSUBJ * PER] = {0};
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, none, st.mean, st.sd, &lc, d2, &ns, NULL), GF_OK);
    cr_assert(memcmp(d1, d2, np * 4), "training on all cycles gave the same update");
    cr_assert_eq(ns, NSUBJ * PER);
    free(d1); free(d2);
    gf_model_free(g);
    gf_dataset_free(&ds);
}

Test(local, fedprox_pulls_toward_the_global_model)
{
    gf_dataset ds;
    make_ds(&ds, 3);
    gf_model *g = make_global(5, 0);
    unsigned char is_val[NSUBJ * PER];
    cr_assert_eq(gf_local_split(&ds, 0.2, 1, is_val, NULL), GF_OK);
    gf_local_moments st;
    cr_assert_eq(gf_local_stats(&ds, is_val, &st), GF_OK);
    size_t np = gf_arena_numel(&g->params);
    float *d0 = malloc(np * 4), *dp = malloc(np * 4);
    int64_t ns;
    gf_local_config c0 = lcfg(0, 3), cp = lcfg(1.0f, 3);
    c0.lr = cp.lr = 1e-2f; /* large steps so the pull shows within 3 epochs */
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, is_val, st.mean, st.sd, &c0, d0, &ns, NULL), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_local_train(g, &ds, GF_TASK_FORCES, is_val, st.mean, st.sd, &cp, dp, &ns, NULL), GF_OK, "%s", gf_errmsg());
    double n0 = 0, np_ = 0;
    for (size_t i = 0; i < np; i++) {
        cr_assert(isfinite(dp[i]));
        n0 += (double)d0[i] * d0[i];
        np_ += (double)dp[i] * dp[i];
    }
    cr_log_info("||theta - global||: mu 0 %.4g, mu 1 %.4g", sqrt(n0), sqrt(np_));
    cr_assert(np_ < 0.95 * n0, "FedProx mu 1: ||Δ|| %g is not below plain %g", sqrt(np_), sqrt(n0));
    /* mu 0 through gf_local_train is the plain central run */
    float *ref = central_delta(g, &ds, is_val, st.mean, st.sd, &c0);
    cr_assert(!memcmp(ref, d0, np * 4), "mu 0 differs from plain training");
    free(ref);
    /* and mu 1 is FedProx run centrally */
    ref = central_delta(g, &ds, is_val, st.mean, st.sd, &cp);
    cr_assert(!memcmp(ref, dp, np * 4), "mu 1 differs from central FedProx training");
    free(ref); free(d0); free(dp);
    gf_model_free(g);
    gf_dataset_free(&ds);
}

Test(local, validation_split_is_subject_wise_and_deterministic)
{
    gf_dataset ds;
    make_ds(&ds, 4);
    const int n = NSUBJ * PER;
    unsigned char a[NSUBJ * PER], b[NSUBJ * PER], c[NSUBJ * PER];
    int na, nc;
    cr_assert_eq(gf_local_split(&ds, 0.2, 42, a, &na), GF_OK);
    cr_assert_eq(gf_local_split(&ds, 0.2, 42, b, NULL), GF_OK);
    cr_assert(!memcmp(a, b, (size_t)n), "same seed, different split");
    int differs = 0;
    for (uint64_t s = 43; s < 53 && !differs; s++) {
        cr_assert_eq(gf_local_split(&ds, 0.2, s, c, &nc), GF_OK);
        differs = memcmp(a, c, (size_t)n) != 0;
    }
    cr_assert(differs, "ten other seeds all gave the split of seed 42");
    cr_assert_eq(na, 2);
    int nval = 0;
    for (int s = 0; s < NSUBJ; s++)
        for (int k = 1; k < PER; k++)
            cr_assert_eq(a[s * PER + k], a[s * PER], "subject S%02d is split across train and validation", s + 1);
    for (int i = 0; i < n; i++) nval += a[i];
    cr_assert_eq(nval, 2 * PER);
    /* reversing the cycle order does not change which subjects are held out */
    gf_dataset rev;
    cr_assert_eq(gf_dataset_alloc(&rev, n, 1, 0), GF_OK);
    for (int i = 0; i < n; i++) rev.meta[i] = ds.meta[n - 1 - i];
    cr_assert_eq(gf_local_split(&rev, 0.2, 42, b, NULL), GF_OK);
    for (int i = 0; i < n; i++) cr_assert_eq(b[i], a[n - 1 - i]);
    gf_dataset_free(&rev);
    gf_dataset_free(&ds);
}

/* numpy on the same training cycles (raw float32 file). */
Test(local, stats_sums_equal_numpy)
{
    gf_dataset ds;
    make_ds(&ds, 5);
    ds.x[7] = -359.99f; /* large, negative and near-tie values exercise the fixed point */
    ds.x[GF_DIN * 3 + 2] = 0.00005f;
    ds.x[GF_DIN * 4 + 1] = 123.45675f;
    unsigned char is_val[NSUBJ * PER];
    cr_assert_eq(gf_local_split(&ds, 0.2, 9, is_val, NULL), GF_OK);
    is_val[0] = 0; /* the edited cycle 0 is a training cycle (per-cycle use is allowed here) */
    gf_local_moments st;
    cr_assert_eq(gf_local_stats(&ds, is_val, &st), GF_OK, "%s", gf_errmsg());
    const char *dir = tu_dir();
    char *xf = tu_path(dir, "x.f32"), *of = tu_path(dir, "ref.txt"), *py = tu_path(dir, "ref.py");
    FILE *fp = fopen(xf, "wb");
    cr_assert(fp);
    int nt = 0;
    for (int i = 0; i < NSUBJ * PER; i++)
        if (!is_val[i]) { fwrite(ds.x + (size_t)i * GF_T * GF_DIN, sizeof(float), (size_t)GF_T * GF_DIN, fp); nt++; }
    fclose(fp);
    fp = fopen(py, "w");
    cr_assert(fp);
    fprintf(fp, "import sys\nimport numpy as np\n"
                "x = np.fromfile(sys.argv[1], dtype='<f4').reshape(-1, %d).astype(np.float64)\n"
                "sx = np.rint(x * 1e4).astype(np.int64).sum(axis=0)\n"
                "sx2 = np.rint(x * x * 1e4).astype(np.int64).sum(axis=0)\n"
                "with open(sys.argv[2], 'w') as f:\n"
                "    print(x.shape[0], file=f)\n"
                "    for c in range(x.shape[1]):\n"
                "        print(int(sx[c]), int(sx2[c]), repr(float(x[:, c].mean())), repr(float(x[:, c].std())), file=f)\n",
            GF_DIN);
    fclose(fp);
    cr_assert_eq(tu_sh("%s %s %s %s", tu_python(), py, xf, of), 0, "numpy reference failed");
    fp = fopen(of, "r");
    cr_assert(fp);
    long long frames;
    cr_assert_eq(fscanf(fp, "%lld", &frames), 1);
    cr_assert_eq(frames, (long long)nt * GF_T);
    cr_assert_eq(st.n_frames, frames);
    float pm[GF_DIN], psd[GF_DIN];
    cr_assert_eq(gf_local_pooled_norm(st.n_frames, st.sum_x, st.sum_x2, pm, psd), GF_OK);
    for (int c = 0; c < GF_DIN; c++) {
        long long sx, sx2;
        double mean, sd;
        cr_assert_eq(fscanf(fp, "%lld %lld %lf %lf", &sx, &sx2, &mean, &sd), 4);
        cr_assert_eq(st.sum_x[c], sx, "channel %d: sum x %lld, numpy %lld", c, (long long)st.sum_x[c], sx);
        cr_assert_eq(st.sum_x2[c], sx2, "channel %d: sum x^2 %lld, numpy %lld", c, (long long)st.sum_x2[c], sx2);
        cr_assert(fabs(st.mean[c] - mean) <= 1e-6 * fmax(1, fabs(mean)), "channel %d mean %g vs %g", c, st.mean[c], mean);
        cr_assert(fabs(st.sd[c] - sd) <= 1e-6 * sd, "channel %d SD %g vs %g", c, st.sd[c], sd);
        /* the pooled statistics of one site's sums are its own (to the fixed point's resolution) */
        cr_assert(fabs(pm[c] - mean) <= 1e-5 * fmax(1, fabs(mean)), "channel %d pooled mean %g vs %g", c, pm[c], mean);
        cr_assert(fabs(psd[c] - sd) <= 1e-4 * sd, "channel %d pooled SD %g vs %g", c, psd[c], sd);
    }
    fclose(fp);
    /* an angle outside +-360 degrees is refused, naming it */
    ds.x[5] = 400.0f;
    cr_assert_eq(gf_local_stats(&ds, is_val, &st), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "cycle 0 frame 0"), "%s", gf_errmsg());
    tu_sh("rm -rf %s", dir);
    free(xf); free(of); free(py);
    gf_dataset_free(&ds);
}

/* Sums of n frames, half at mid + a and half at mid - a, on channel c (mean
 * mid, SD a), the other channels at 0 +- 10 degrees. */
static void two_point_sums(int64_t n, int c, double mid, double a, int64_t sx[GF_DIN], int64_t sx2[GF_DIN])
{
    for (int k = 0; k < GF_DIN; k++) {
        double mu = k == c ? mid : 0, sd = k == c ? a : 10;
        sx[k] = (int64_t)llround((double)n * mu * GF_LOCAL_FIX_SCALE);
        sx2[k] = (int64_t)llround((double)n * (mu * mu + sd * sd) * GF_LOCAL_FIX_SCALE);
    }
}

static void expect_implausible(gf_err e, const char *channel, const char *what)
{
    cr_assert_eq(e, GF_ERANGE, "%s: accepted", what);
    cr_assert(strstr(gf_errmsg(), "site x: ") && strstr(gf_errmsg(), channel), "%s: '%s' lacks the channel %s", what,
              gf_errmsg(), channel);
}

/* Plausibility of input statistics (issue 13): a site's real sums pass and
 * give its mean and SD; each bound holds exactly at its edge (just inside
 * passes, just outside is refused naming the channel); the attack of the
 * issue (sum x^2 x 10^6: SD ~10^4), angles in radians, a negative variance
 * and a frame count that is not whole cycles are refused. */
Test(local, stats_plausibility_bounds)
{
    gf_dataset ds;
    make_ds(&ds, 5);
    gf_local_moments st;
    cr_assert_eq(gf_local_stats(&ds, NULL, &st), GF_OK, "%s", gf_errmsg());
    double m[GF_DIN], sd[GF_DIN];
    cr_assert_eq(gf_local_stats_plausible("site x", st.n_frames, st.sum_x, st.sum_x2, m, sd), GF_OK, "%s", gf_errmsg());
    for (int c = 0; c < GF_DIN; c++) /* st.mean/sd: gf_zscore_stats, equal to numpy's (stats_sums_equal_numpy) */
        cr_assert(fabs(m[c] - st.mean[c]) <= 1e-4 && fabs(sd[c] - st.sd[c]) <= 1e-4 * st.sd[c], "channel %d", c);
    /* each channel's edges */
    int64_t n = 2 * GF_T, sx[GF_DIN], sx2[GF_DIN];
    for (int c = 0; c < GF_DIN; c++) {
        const gf_angle_range *b = &gf_local_angle_range[c];
        double mid = (b->lo + b->hi) / 2, smax = (b->hi - b->lo) / 2;
        cr_assert(b->lo < 0 && b->hi > 0 && smax > 10, "channel %d: [%g, %g]", c, b->lo, b->hi);
        const struct {
            double mid, a;
            int ok;
        } edge[] = {{mid, smax * (1 - 1e-6), 1},          {mid, smax * (1 + 1e-6), 0},
                    {mid, GF_LOCAL_MIN_SD * (1 + 1e-3), 1}, {mid, GF_LOCAL_MIN_SD * (1 - 1e-3), 0},
                    {b->hi - 0.01, 1, 1},                 {b->hi + 0.01, 1, 0},
                    {b->lo + 0.01, 1, 1},                 {b->lo - 0.01, 1, 0}};
        for (size_t k = 0; k < sizeof edge / sizeof *edge; k++) {
            two_point_sums(n, c, edge[k].mid, edge[k].a, sx, sx2);
            gf_err e = gf_local_stats_plausible("site x", n, sx, sx2, m, sd);
            if (edge[k].ok) cr_assert_eq(e, GF_OK, "channel %s, edge %zu: %s", gf_in_cols[c], k, gf_errmsg());
            else expect_implausible(e, gf_in_cols[c], "an edge");
        }
    }
    /* sum x^2 x 10^6 (the attack): SD about 10^3 sqrt(E[x^2]) */
    for (int c = 0; c < GF_DIN; c++) sx[c] = st.sum_x[c], sx2[c] = st.sum_x2[c] * 1000000;
    expect_implausible(gf_local_stats_plausible("site x", st.n_frames, sx, sx2, m, sd), gf_in_cols[0], "x2 * 1e6");
    double ex2 = (double)st.sum_x2[0] / GF_LOCAL_FIX_SCALE / (double)st.n_frames;
    cr_assert(fabs(sd[0] - sqrt(1e6 * ex2 - m[0] * m[0])) <= 1e-6 * sd[0] && sd[0] > 1000, "SD %g", sd[0]);
    /* angles in radians: every channel moves by less than half a degree */
    for (size_t i = 0; i < (size_t)ds.n * GF_T * GF_DIN; i++) ds.x[i] *= (float)(M_PI / 180);
    cr_assert_eq(gf_local_stats(&ds, NULL, &st), GF_OK);
    expect_implausible(gf_local_stats_plausible("site x", st.n_frames, st.sum_x, st.sum_x2, NULL, NULL), gf_in_cols[0],
                       "radians");
    cr_assert(strstr(gf_errmsg(), "not degrees"), "%s", gf_errmsg());
    /* a negative variance, and not whole cycles */
    two_point_sums(n, 4, 0, 5, sx, sx2);
    sx[4] = 10 * n * (int64_t)GF_LOCAL_FIX_SCALE, sx2[4] = 0;
    expect_implausible(gf_local_stats_plausible("site x", n, sx, sx2, NULL, NULL), gf_in_cols[4], "variance < 0");
    two_point_sums(n, 4, 0, 5, sx, sx2);
    cr_assert_eq(gf_local_stats_plausible("site x", n + 1, sx, sx2, NULL, NULL), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "frame-gait cycles") || strstr(gf_errmsg(), "gait cycles"), "%s", gf_errmsg());
    gf_dataset_free(&ds);
}

/* Checkpoint metadata as `gaitfed train` writes it (gf_checkpoint_meta). */
static json_t *meta_for(const gf_model_config *c)
{
    json_t *in = json_array(), *out = json_array();
    for (int i = 0; i < GF_DIN; i++) json_array_append_new(in, json_string(gf_in_cols[i]));
    for (int i = 0; i < GF_NF; i++) json_array_append_new(out, json_string(gf_force_cols[i]));
    char *ins = json_dumps(in, JSON_COMPACT), *outs = json_dumps(out, JSON_COMPACT), b[64];
    json_t *m = json_object();
#define SETI(k, v) (snprintf(b, sizeof b, "%d", (v)), json_object_set_new(m, k, json_string(b)))
    json_object_set_new(m, "format", json_string("gaitfed-model-1"));
    json_object_set_new(m, "model", json_string(gf_arch_name(c->arch)));
    SETI("d_in", c->d_in); SETI("d_out", c->d_out); SETI("d_model", c->d_model); SETI("n_layers", c->n_layers);
    SETI("n_heads", c->n_heads); SETI("d_ff", c->d_ff); SETI("max_len", c->max_len); SETI("prenorm", c->prenorm);
    SETI("gelu", c->gelu); SETI("kernel", c->kernel); SETI("frames", GF_T);
#undef SETI
    snprintf(b, sizeof b, "%.9g", c->dropout);
    json_object_set_new(m, "dropout", json_string(b));
    json_object_set_new(m, "task", json_string("forces"));
    json_object_set_new(m, "units", json_string("N/kg"));
    json_object_set_new(m, "in_units", json_string("deg"));
    json_object_set_new(m, "in_cols", json_string(ins));
    json_object_set_new(m, "out_cols", json_string(outs));
    free(ins); free(outs);
    json_decref(in); json_decref(out);
    return m;
}

Test(local, evaluate_equals_gaitfed_eval)
{
    gf_dataset ds;
    make_ds(&ds, 6);
    gf_model *g = make_global(8, 0.1f);
    const char *dir = tu_dir();
    char *mp = tu_path(dir, "m.safetensors"), *dp = tu_path(dir, "d.npz"), *jp = tu_path(dir, "eval.json");
    json_t *meta = meta_for(&g->cfg);
    cr_assert_eq(gf_safetensors_save_model(mp, g, meta), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_g2h_write(dp, &ds, GF_TASK_FORCES), GF_OK, "%s", gf_errmsg());
    int rc = tu_sh("%s eval --model %s --data %s --norm own --threads 1 > %s", tu_bin(), mp, dp, jp);
    cr_assert_eq(rc, 0, "gaitfed eval failed (%d)", rc);
    json_error_t je;
    json_t *cli = json_load_file(jp, 0, &je);
    cr_assert(cli, "%s: %s", jp, je.text);
    cr_assert_str_eq(json_string_value(json_object_get(cli, "model")), mp);
    json_object_del(cli, "model");
    json_object_del(cli, "data");
    gf_local_norm own = {.own = 1};
    json_t *lib = NULL;
    cr_assert_eq(gf_local_evaluate(g, &ds, GF_TASK_FORCES, &own, &lib), GF_OK, "%s", gf_errmsg());
    char *a = json_dumps(lib, JSON_SORT_KEYS | JSON_INDENT(1)), *b = json_dumps(cli, JSON_SORT_KEYS | JSON_INDENT(1));
    cr_assert(json_equal(lib, cli), "gf_local_evaluate differs from gaitfed eval --norm own:\n%.2000s\n---\n%.2000s", a, b);
    cr_assert(json_object_get(lib, "per_cadence") && json_object_get(lib, "per_channel"));
    /* given statistics: the label says so, and the numbers change */
    gf_local_norm given = {.own = 0};
    for (int c = 0; c < GF_DIN; c++) { given.mean[c] = 0; given.sd[c] = 30; }
    json_t *lg = NULL;
    cr_assert_eq(gf_local_evaluate(g, &ds, GF_TASK_FORCES, &given, &lg), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(json_string_value(json_object_get(lg, "normalization")), "given");
    cr_assert(!json_equal(json_object_get(lg, "pooled"), json_object_get(lib, "pooled")));
    free(a); free(b);
    json_decref(lg); json_decref(lib); json_decref(cli); json_decref(meta);
    tu_sh("rm -rf %s", dir);
    free(mp); free(dp); free(jp);
    gf_model_free(g);
    gf_dataset_free(&ds);
}

Test(local, model_from_blob_checks_sha256_and_refuses_truncation)
{
    gf_model *g = make_global(9, 0.1f);
    g->has_norm = 1;
    for (int c = 0; c < GF_DIN; c++) { g->x_mean[c] = (float)c; g->x_std[c] = 2.0f + c; }
    json_t *meta = meta_for(&g->cfg);
    gf_st_tensor ex[2];
    memset(ex, 0, sizeof ex);
    strcpy(ex[0].name, "x_mean"); strcpy(ex[1].name, "x_std");
    for (int k = 0; k < 2; k++) { ex[k].ndim = 1; ex[k].shape[0] = GF_DIN; ex[k].numel = GF_DIN; }
    ex[0].data = g->x_mean; ex[1].data = g->x_std;
    unsigned char *buf;
    size_t len;
    cr_assert_eq(gf_safetensors_encode("blob", &g->params, ex, 2, meta, &buf, &len), GF_OK, "%s", gf_errmsg());
    uint8_t d[GF_SHA256_LEN];
    char hex[GF_SHA256_HEX];
    cr_assert_eq(gf_sha256(buf, len, d), GF_OK);
    gf_hex(d, GF_SHA256_LEN, hex);

    gf_model *m = NULL;
    gf_task task = GF_TASK_MOMENTS;
    cr_assert_eq(gf_local_model_from_blob(buf, len, hex, &m, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, GF_TASK_FORCES);
    cr_assert_eq(m->cfg.d_model, 16);
    cr_assert_eq(m->cfg.n_heads, 2);
    cr_assert(!memcmp(m->params.data, g->params.data, g->params.size * sizeof(float)), "parameters differ");
    cr_assert(m->has_norm && m->x_std[3] == 5.0f);
    gf_model_free(m);

    /* a wrong digest: refused before parsing, one line */
    char bad[GF_SHA256_HEX];
    memcpy(bad, hex, sizeof bad);
    bad[10] = bad[10] == '0' ? '1' : '0';
    m = (gf_model *)1;
    cr_assert_eq(gf_local_model_from_blob(buf, len, bad, &m, NULL), GF_EFORMAT);
    cr_assert_null(m);
    cr_assert(strstr(gf_errmsg(), "SHA-256 mismatch") && !strchr(gf_errmsg(), '\n'), "%s", gf_errmsg());
    cr_assert_eq(gf_local_model_from_blob(buf, len, "abc", &m, NULL), GF_EINVAL);
    /* a truncated blob with a matching digest: the parser refuses it, one line */
    size_t tl = len - 100;
    cr_assert_eq(gf_sha256(buf, tl, d), GF_OK);
    gf_hex(d, GF_SHA256_LEN, hex);
    gf_err e = gf_local_model_from_blob(buf, tl, hex, &m, NULL);
    cr_assert_neq(e, GF_OK, "a truncated blob was accepted");
    cr_assert_null(m);
    cr_assert(*gf_errmsg() && !strchr(gf_errmsg(), '\n'), "%s", gf_errmsg());
    cr_log_info("truncated blob: %s", gf_errmsg());
    /* the truncated blob with the full blob's digest: the SHA-256 check comes first */
    gf_sha256(buf, len, d);
    gf_hex(d, GF_SHA256_LEN, hex);
    cr_assert_eq(gf_local_model_from_blob(buf, tl, hex, &m, NULL), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "SHA-256 mismatch"), "%s", gf_errmsg());
    free(buf);
    json_decref(meta);
    gf_model_free(g);
}

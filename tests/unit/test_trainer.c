/* model/protocol and model/trainer: splits are subject-disjoint, seeded and
 * complete; training reduces the loss of a learnable problem; early stopping
 * stops and restores the best epoch's parameters; a padded last batch gives
 * the update of the real rows alone; NaN/Inf stop training with GF_ENUMERIC. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optim.h"
#include "model/protocol.h"
#include "model/trainer.h"

/* ---- protocol ---- */

#define NS 60
typedef struct {
    int n;
    char (*id)[8];
    const char **ids;
} cohort;

/* 60 subjects "S01".."S60" with 5..20 cycles each, rows in a seeded random order. */
static cohort make_cohort(uint64_t order_seed)
{
    cohort c = {0};
    gf_rng r;
    gf_rng_seed(&r, 7);
    int cnt[NS];
    for (int s = 0; s < NS; s++) c.n += cnt[s] = 5 + (int)gf_rng_below(&r, 16);
    c.id = malloc((size_t)c.n * sizeof *c.id);
    c.ids = malloc((size_t)c.n * sizeof *c.ids);
    cr_assert(c.id && c.ids);
    int k = 0;
    for (int s = 0; s < NS; s++)
        for (int j = 0; j < cnt[s]; j++) snprintf(c.id[k++], 8, "S%02d", s + 1);
    gf_rng_seed(&r, order_seed);
    for (int i = c.n - 1; i > 0; i--) {
        int j = (int)gf_rng_below(&r, (uint64_t)i + 1);
        char t[8];
        memcpy(t, c.id[i], 8); memcpy(c.id[i], c.id[j], 8); memcpy(c.id[j], t, 8);
    }
    for (int i = 0; i < c.n; i++) c.ids[i] = c.id[i];
    return c;
}
static void free_cohort(cohort *c) { free(c->id); free(c->ids); }

static int subj_index(const char *id) { return atoi(id + 1) - 1; }

/* side[s] of every subject (-2 = not seen); fails if a subject's cycles disagree. */
static void per_subject(const cohort *c, const int *v, int side[NS])
{
    for (int s = 0; s < NS; s++) side[s] = -2;
    for (int i = 0; i < c->n; i++) {
        int s = subj_index(c->ids[i]);
        if (side[s] == -2) side[s] = v[i];
        cr_assert_eq(side[s], v[i], "subject %s is split: cycle %d has %d, another %d", c->ids[i], i, v[i], side[s]);
    }
}

static void holdout(const cohort *c, uint64_t seed, int side[NS])
{
    unsigned char *t = malloc((size_t)c->n);
    int *v = malloc((size_t)c->n * sizeof *v), nt = -1;
    cr_assert_eq(gf_split_holdout(c->ids, c->n, 0.2, seed, t, &nt), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(nt, 12, "20 %% of 60 subjects is 12, got %d", nt);
    for (int i = 0; i < c->n; i++) v[i] = t[i];
    per_subject(c, v, side);
    int k = 0;
    for (int s = 0; s < NS; s++) k += side[s] == 1;
    cr_assert_eq(k, 12, "%d test subjects", k);
    free(t);
    free(v);
}

Test(protocol, holdout_subject_wise_seeded_order_independent)
{
    cohort a = make_cohort(1), b = make_cohort(2);
    int sa[NS], sa2[NS], sb[NS], sc[NS];
    holdout(&a, 42, sa);
    holdout(&a, 42, sa2);
    holdout(&b, 42, sb); /* same subjects, rows in another order */
    holdout(&a, 43, sc);
    cr_assert(!memcmp(sa, sa2, sizeof sa), "same seed, different hold-out");
    cr_assert(!memcmp(sa, sb, sizeof sa), "the hold-out depends on the row order");
    cr_assert(memcmp(sa, sc, sizeof sa), "seed 43 gave the hold-out of seed 42");
    free_cohort(&a);
    free_cohort(&b);
}

Test(protocol, kfold_groups_subjects_covers_pool_balanced)
{
    cohort c = make_cohort(3);
    unsigned char *t = malloc((size_t)c.n), *use = malloc((size_t)c.n);
    int *fold = malloc((size_t)c.n * sizeof *fold), *fold2 = malloc((size_t)c.n * sizeof *fold2);
    cr_assert_eq(gf_split_holdout(c.ids, c.n, 0.2, 5, t, NULL), GF_OK);
    for (int i = 0; i < c.n; i++) use[i] = !t[i];
    cr_assert_eq(gf_split_kfold(c.ids, c.n, use, 5, 5, fold), GF_OK, "%s", gf_errmsg());
    int side[NS], per_fold[5] = {0};
    per_subject(&c, fold, side);
    for (int i = 0; i < c.n; i++) {
        if (t[i]) cr_assert_eq(fold[i], -1, "test cycle %d got fold %d", i, fold[i]);
        else cr_assert(fold[i] >= 0 && fold[i] < 5, "pool cycle %d has fold %d", i, fold[i]);
    }
    for (int s = 0; s < NS; s++)
        if (side[s] >= 0) per_fold[side[s]]++;
    for (int f = 0; f < 5; f++)  /* 48 pool subjects over 5 folds: 9 or 10 each */
        cr_assert(per_fold[f] == 9 || per_fold[f] == 10, "fold %d has %d subjects", f, per_fold[f]);
    cr_assert_eq(gf_split_kfold(c.ids, c.n, use, 5, 5, fold2), GF_OK);
    cr_assert(!memcmp(fold, fold2, (size_t)c.n * sizeof *fold), "same seed, different folds");
    cr_assert_eq(gf_split_kfold(c.ids, c.n, use, 5, 6, fold2), GF_OK);
    cr_assert(memcmp(fold, fold2, (size_t)c.n * sizeof *fold), "seed 6 gave the folds of seed 5");
    /* errors */
    cr_assert_eq(gf_split_kfold(c.ids, c.n, use, 49, 5, fold2), GF_EINVAL);
    cr_assert_eq(gf_split_kfold(c.ids, c.n, use, 1, 5, fold2), GF_EINVAL);
    cr_assert_eq(gf_split_holdout(c.ids, c.n, 1.0, 5, t, NULL), GF_EINVAL);
    const char *one[3] = {"A", "A", "A"};
    cr_assert_eq(gf_split_holdout(one, 3, 0.2, 5, t, NULL), GF_EINVAL, "one subject cannot be split");
    free(t); free(use); free(fold); free(fold2);
    free_cohort(&c);
}

Test(protocol, median)
{
    int a[5] = {40, 3, 17, 99, 17}, b[4] = {10, 1, 4, 7}, c[1] = {5};
    cr_assert_eq(gf_median_int(a, 5), 17);
    cr_assert_eq(gf_median_int(b, 4), 6); /* (4 + 7) / 2 = 5.5, half up */
    cr_assert_eq(gf_median_int(c, 1), 5);
}

/* ---- trainer ---- */

#define T 12
#define DIN 10
#define DOUT 3

static gf_model *small_model(float dropout, uint64_t seed)
{
    gf_model_config c = gf_model_config_default(GF_ARCH_TRANSFORMER, DIN, DOUT);
    c.d_model = 16; c.n_layers = 1; c.n_heads = 2; c.d_ff = 32; c.max_len = 32; c.dropout = dropout;
    gf_model *m;
    cr_assert_eq(gf_model_create(&c, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, seed), GF_OK);
    m->threads = 1;
    return m;
}

/* x ~ N(0,1); y = a fixed linear map of x plus a smoothed copy (learnable);
 * sign = -1 flips the target. */
static void make_problem(int n, uint64_t seed, float sign, float **x, float **y)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    *x = malloc((size_t)n * T * DIN * sizeof **x);
    *y = malloc((size_t)n * T * DOUT * sizeof **y);
    cr_assert(*x && *y);
    for (size_t k = 0; k < (size_t)n * T * DIN; k++) (*x)[k] = (float)gf_rng_normal(&r);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T; t++)
            for (int o = 0; o < DOUT; o++) {
                const float *xt = *x + ((size_t)i * T + t) * DIN;
                float v = 0.5f * xt[o] - 0.3f * xt[o + 3] + 0.2f * xt[9];
                (*y)[((size_t)i * T + t) * DOUT + o] = sign * v;
            }
}

Test(trainer, loss_decreases_on_a_learnable_problem)
{
    float *x, *y;
    make_problem(40, 1, 1, &x, &y);
    gf_model *m = small_model(0, 3);
    gf_train_config c = gf_train_defaults();
    c.max_epochs = 40; c.batch = 16; c.opt.lr = 1e-2f; c.seed = 9; /* 40 = 16 + 16 + 8: a padded batch */
    gf_train_result r;
    cr_assert_eq(gf_train(m, x, y, 40, T, NULL, NULL, 0, &c, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.n_epochs, 40);
    cr_assert_eq(r.best_epoch, 40, "without validation the last epoch is kept");
    cr_assert_null(r.val_loss);
    cr_assert(r.train_loss[39] < 0.2 * r.train_loss[0], "loss %g -> %g did not fall below a fifth", r.train_loss[0], r.train_loss[39]);
    /* the trained model predicts the training targets about as well as the last epoch's loss says */
    double l;
    cr_assert_eq(gf_eval_loss(m, x, y, 40, T, 16, &l), GF_OK);
    cr_assert(l < 0.2 * r.train_loss[0], "eval loss %g", l);
    gf_train_result_free(&r);
    gf_model_free(m);
    free(x); free(y);
}

static int g_calls, g_last_epoch;
static void count_epochs(void *ctx, const gf_epoch_info *in)
{
    (void)ctx;
    g_calls++;
    g_last_epoch = in->epoch;
    cr_assert(isfinite(in->train_loss) && isfinite(in->val_loss));
}

Test(trainer, early_stopping_stops_after_patience)
{
    float *x, *y;
    make_problem(20, 2, 1, &x, &y);
    gf_model *m = small_model(0.1f, 4);
    gf_train_config c = gf_train_defaults();
    /* a step of 1e-30 leaves every weight unchanged in float: the validation
     * loss never improves after epoch 1 */
    c.max_epochs = 50; c.patience = 3; c.batch = 8; c.opt.lr = 1e-30f;
    c.on_epoch = count_epochs;
    g_calls = 0;
    gf_train_result r;
    cr_assert_eq(gf_train(m, x, y, 20, T, x, y, 20, &c, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.best_epoch, 1);
    cr_assert_eq(r.n_epochs, 4, "patience 3: epochs 2, 3, 4 without improvement, ran %d", r.n_epochs);
    cr_assert(r.stopped_early);
    cr_assert_eq(g_calls, 4);
    cr_assert_eq(g_last_epoch, 4);
    for (int e = 1; e < 4; e++) cr_assert_eq(r.val_loss[e], r.val_loss[0], "validation loss changed");
    gf_train_result_free(&r);
    gf_model_free(m);
    free(x); free(y);
}

Test(trainer, best_epoch_parameters_are_restored)
{
    float *x, *y, *xv, *yv;
    make_problem(32, 5, 1, &x, &y);
    make_problem(16, 6, -1, &xv, &yv); /* validation wants the opposite map */
    gf_model *m = small_model(0, 6);
    gf_train_config c = gf_train_defaults();
    c.max_epochs = 12; c.patience = 0; c.batch = 8; c.opt.lr = 1e-2f;
    gf_train_result r;
    cr_assert_eq(gf_train(m, x, y, 32, T, xv, yv, 16, &c, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.n_epochs, 12, "patience 0 never stops early");
    cr_assert(!r.stopped_early);
    cr_assert(r.best_epoch < r.n_epochs, "best epoch %d should come before the last", r.best_epoch);
    double best = INFINITY;
    for (int e = 0; e < r.n_epochs; e++) best = fmin(best, r.val_loss[e]);
    cr_assert_eq(best, r.best_val);
    cr_assert_eq(r.val_loss[r.best_epoch - 1], r.best_val);
    double l;
    cr_assert_eq(gf_eval_loss(m, xv, yv, 16, T, 8, &l), GF_OK);
    cr_assert(fabs(l - r.best_val) <= 1e-6 * r.best_val, "restored model: val loss %.9g, best epoch had %.9g (last %.9g)",
              l, r.best_val, r.val_loss[r.n_epochs - 1]);
    cr_assert(fabs(l - r.val_loss[r.n_epochs - 1]) > 1e-3 * l, "the last epoch's parameters were kept");
    gf_train_result_free(&r);
    gf_model_free(m);
    free(x); free(y); free(xv); free(yv);
}

/* One epoch of 3 cycles in batches of 2 (the second padded) equals the same
 * epoch done by hand with batches prepared at their real sizes 2 and 1. The
 * permutation is reproduced from the documented seeding (stream "shuf"). */
Test(trainer, padded_last_batch_equals_real_rows)
{
    float *x, *y;
    make_problem(3, 7, 1, &x, &y);
    gf_model *a = small_model(0, 8), *b = small_model(0, 8);
    gf_train_config c = gf_train_defaults();
    c.max_epochs = 1; c.batch = 2; c.opt.lr = 1e-2f; c.seed = 11;
    gf_train_result r;
    cr_assert_eq(gf_train(a, x, y, 3, T, NULL, NULL, 0, &c, &r), GF_OK, "%s", gf_errmsg());

    gf_rng shuf;
    gf_rng_derive(&shuf, 11, 0x73687566ull);
    int perm[3] = {0, 1, 2};
    for (int i = 2; i > 0; i--) {
        int j = (int)gf_rng_below(&shuf, (uint64_t)i + 1);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &b->params, &c.opt), GF_OK);
    const size_t rx = T * DIN, ry = T * DOUT;
    float xb[2 * T * DIN], yb[2 * T * DOUT], pb[2 * T * DOUT], dy[2 * T * DOUT];
    double sum = 0;
    for (int s = 0; s < 3; s += 2) {
        int nb = s ? 1 : 2;
        for (int k = 0; k < nb; k++) {
            memcpy(xb + k * rx, x + perm[s + k] * rx, rx * sizeof(float));
            memcpy(yb + k * ry, y + perm[s + k] * ry, ry * sizeof(float));
        }
        double loss;
        float norm;
        cr_assert_eq(gf_model_prepare(b, nb, T), GF_OK);
        gf_model_zero_grad(b);
        cr_assert_eq(gf_model_forward(b, xb, pb, 1, NULL), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_mse_forward(&loss, pb, yb, nb * ry), GF_OK);
        gf_mse_backward(dy, pb, yb, nb * ry);
        cr_assert_eq(gf_model_backward(b, dy), GF_OK);
        cr_assert_eq(gf_clip_grad_norm(&b->grads, c.clip, &norm), GF_OK);
        cr_assert_eq(gf_adamw_step(&opt, &b->params, &b->grads), GF_OK);
        sum += loss * nb;
    }
    cr_assert(fabs(sum / 3 - r.train_loss[0]) <= 1e-6 * r.train_loss[0], "epoch loss %.9g vs %.9g", r.train_loss[0], sum / 3);
    double maxd = 0, maxp = 0;
    for (size_t k = 0; k < a->params.size; k++) {
        maxd = fmax(maxd, fabs((double)a->params.data[k] - b->params.data[k]));
        maxp = fmax(maxp, fabs((double)b->params.data[k]));
    }
    cr_assert(maxd <= 1e-6 * maxp, "parameters differ by %g (max |p| %g)", maxd, maxp);
    /* predictions in padded batches equal those of one full batch */
    float p1[3 * T * DOUT], p2[3 * T * DOUT];
    cr_assert_eq(gf_predict(a, x, 3, T, 2, p1), GF_OK);
    cr_assert_eq(gf_predict(a, x, 3, T, 3, p2), GF_OK);
    for (size_t k = 0; k < 3 * ry; k++) cr_assert(fabs(p1[k] - p2[k]) <= 1e-5, "prediction %zu: %g vs %g", k, p1[k], p2[k]);
    gf_adamw_free(&opt);
    gf_train_result_free(&r);
    gf_model_free(a);
    gf_model_free(b);
    free(x); free(y);
}

Test(trainer, nonfinite_input_or_target_is_enumeric)
{
    float *x, *y;
    make_problem(10, 9, 1, &x, &y);
    gf_model *m = small_model(0.1f, 10);
    gf_train_config c = gf_train_defaults();
    c.max_epochs = 2; c.batch = 4;
    gf_train_result r;
    x[5 * T * DIN + 3] = NAN;
    cr_assert_eq(gf_train(m, x, y, 10, T, NULL, NULL, 0, &c, &r), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "training stopped at epoch 1"), "message: %s", gf_errmsg());
    gf_train_result_free(&r);
    x[5 * T * DIN + 3] = 0;
    y[2 * T * DOUT + 1] = INFINITY;
    cr_assert_eq(gf_train(m, x, y, 10, T, NULL, NULL, 0, &c, &r), GF_ENUMERIC);
    gf_train_result_free(&r);
    y[2 * T * DOUT + 1] = 0;
    float mean[DIN], sd[DIN];
    x[0] = NAN;
    cr_assert_eq(gf_zscore_stats(x, 10, T, DIN, NULL, mean, sd), GF_ENUMERIC);
    /* argument errors */
    x[0] = 0;
    c.max_epochs = 0;
    cr_assert_eq(gf_train(m, x, y, 10, T, NULL, NULL, 0, &c, &r), GF_EINVAL);
    gf_train_result_free(&r);
    gf_model_free(m);
    free(x); free(y);
}

Test(trainer, zscore_stats_match_direct_computation)
{
    enum { N = 3, TT = 4, D = 2 };
    float x[N * TT * D], mean[D], sd[D];
    for (int k = 0; k < N * TT * D; k++) x[k] = (k % D) ? 5.0f : (float)k; /* channel 1 constant */
    unsigned char use[N] = {1, 0, 1};
    cr_assert_eq(gf_zscore_stats(x, N, TT, D, use, mean, sd), GF_OK);
    double s = 0, ss = 0;
    int cnt = 0;
    for (int i = 0; i < N; i++)
        if (use[i])
            for (int t = 0; t < TT; t++) { s += x[(i * TT + t) * D]; cnt++; }
    double mu = s / cnt;
    for (int i = 0; i < N; i++)
        if (use[i])
            for (int t = 0; t < TT; t++) ss += pow(x[(i * TT + t) * D] - mu, 2);
    cr_assert_float_eq(mean[0], mu, 1e-5);
    cr_assert_float_eq(sd[0], sqrt(ss / cnt), 1e-5);
    cr_assert_float_eq(mean[1], 5.0, 0);
    cr_assert_eq(sd[1], 1.0f, "a constant channel is only centred");
    unsigned char none[N] = {0};
    cr_assert_eq(gf_zscore_stats(x, N, TT, D, none, mean, sd), GF_EINVAL);
}

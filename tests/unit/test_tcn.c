/* The TCN (model/tcn.c, model/ops_conv.c) against PyTorch.
 *
 * Oracle: C initializes the weights (seeded, PyTorch's distributions), writes
 * them with inputs and targets to an npz; tests/py/oracle_tcn.py loads them
 * into tests/py/reference_tcn.py's TCNRegressor with load_state_dict(strict=
 * True) and computes, in float64 and in float32, the forward output, the MSE
 * loss, every parameter gradient and a 10-step AdamW + clip_grad_norm_ loss
 * trajectory (dropout 0). Tolerances (rel() as in oracle_testutil.h: max-abs
 * error over max-abs reference, per tensor; |c - r| / |r| for scalars):
 *   forward output  rel <= 1e-5
 *   MSE loss        rel <= 1e-5
 *   each gradient   rel <= 1e-4
 *   each of the 11 trajectory losses  rel <= 1e-4
 * against both the float64 reference and PyTorch's own float32 result.
 * Cases: small (C 16, 3 blocks, K 3, T 25, B 3), even kernels (K 2 and 4:
 * PyTorch's asymmetric 'same' padding) with dilations longer than the
 * sequence, and the reference size (C 128, 6 blocks, K 3, T 180, B 4, d_out
 * 14 and 3) on 2 engine threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle_testutil.h"

#define FWD_TOL 1e-5
#define GRAD_TOL 1e-4
#define TRAJ_TOL 1e-4
#define STEPS 10

typedef struct {
    int d_in, d_out, C, L, K, B, T;
    float dropout;
    uint64_t seed;
    int threads;
} tcn_case;

static gf_model *tcn_make(const tcn_case *c)
{
    gf_model_config cfg = gf_model_config_default(GF_ARCH_TCN, c->d_in, c->d_out);
    cfg.d_model = c->C;
    cfg.n_layers = c->L;
    cfg.kernel = c->K;
    cfg.dropout = c->dropout;
    return ot_make(&cfg, c->seed, c->threads, c->B, c->T);
}

static void tcn_data(const tcn_case *c, float **x, float **t)
{
    ot_data(c->seed, (size_t)c->B * c->T * c->d_in, (size_t)c->B * c->T * c->d_out, x, t);
}

/* Writes the oracle input and runs tests/py/oracle_tcn.py; answers in *ref. */
static void tcn_oracle(const tcn_case *c, const gf_model *m, const float *x, const float *t, int steps,
                       const double opt[6], gf_npz *ref)
{
    int64_t sx[3] = {c->B, c->T, c->d_in}, sy[3] = {c->B, c->T, c->d_out};
    int64_t cfgv[6] = {c->d_in, c->d_out, c->C, c->L, c->K, steps};
    gf_array extra[4] = {ot_f32("x", 3, sx, x), ot_f32("t", 3, sy, t), ot_i64("cfg", 6, cfgv), ot_f64("opt", 6, opt)};
    ot_run_oracle("oracle_tcn.py", &m->params, extra, 4, ref);
}

/* Forward, loss and gradients of one training step, then the trajectory. */
static void oracle_case(const tcn_case *c)
{
    gf_model *m = tcn_make(c);
    float *x, *t;
    tcn_data(c, &x, &t);
    size_t ny = (size_t)c->B * c->T * c->d_out;
    float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cr_assert(y && dy);
    const double optv[6] = {1e-3, 0.9, 0.999, 1e-8, 1e-5, 0.5};
    gf_npz ref;
    tcn_oracle(c, m, x, t, STEPS, optv, &ref); /* the initial weights */

    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK, "%s", gf_errmsg());
    double loss;
    cr_assert_eq(gf_mse_forward(&loss, y, t, ny), GF_OK);
    gf_mse_backward(dy, y, t, ny);
    gf_model_zero_grad(m);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
    char what[64], desc[96];
    snprintf(what, sizeof what, "tcn C%d L%d K%d", c->C, c->L, c->K);
    snprintf(desc, sizeof desc, "tcn oracle C%d L%d K%d T%d B%d", c->C, c->L, c->K, c->T, c->B);
    ot_check_step(&ref, m, y, loss, ny, FWD_TOL, GRAD_TOL, what, desc);

    /* Trajectory from the same initial weights (the gradients above are discarded). */
    gf_model_free(m);
    m = tcn_make(c);
    double traj[STEPS + 1];
    ot_trajectory(m, x, t, ny, STEPS, traj);
    snprintf(what, sizeof what, "tcn C%d", c->C);
    snprintf(desc, sizeof desc, "tcn trajectory C%d L%d K%d T%d B%d", c->C, c->L, c->K, c->T, c->B);
    ot_check_traj(&ref, traj, STEPS, TRAJ_TOL, what, desc);
    gf_npz_free(&ref);
    free(x); free(t); free(y); free(dy);
    gf_model_free(m);
}

Test(tcn, small_oracle)
{
    tcn_case c = {10, 14, 16, 3, 3, 3, 25, 0.0f, 31, 1};
    oracle_case(&c);
}

/* K 4 and 2: PyTorch pads dil*(K-1)/2 before and the rest after; with T 10
 * the dilations 8 and 16 leave taps entirely outside the sequence. */
Test(tcn, even_kernels_long_dilations_oracle)
{
    tcn_case c = {10, 3, 12, 5, 4, 2, 10, 0.0f, 32, 2};
    oracle_case(&c);
    tcn_case c2 = {10, 3, 8, 3, 2, 3, 7, 0.0f, 33, 1};
    oracle_case(&c2);
}

Test(tcn, reference_oracle_forces)
{
    tcn_case c = {10, 14, 128, 6, 3, 4, 180, 0.0f, 34, 2};
    oracle_case(&c);
}

Test(tcn, reference_oracle_moments_k5)
{
    tcn_case c = {10, 3, 128, 4, 5, 2, 180, 0.0f, 35, 2};
    oracle_case(&c);
}

/* Names, shapes and order are PyTorch's state_dict (strict loading depends on
 * it); the default is 6 blocks of kernel 3 on 128 channels. */
Test(tcn, state_dict_names_shapes_and_default)
{
    gf_model_config cfg = gf_model_config_default(GF_ARCH_TCN, 10, 14);
    cr_assert_eq(cfg.n_layers, 6);
    cr_assert_eq(cfg.kernel, 3);
    cr_assert_eq(cfg.d_model, 128);
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(m->params.n, 4 + 4 * 6);
    cr_assert_eq(gf_arena_numel(&m->params), (size_t)594574);
    cr_assert_str_eq(m->params.t[0].name, "input_proj.weight");
    cr_assert(m->params.t[0].ndim == 2 && m->params.t[0].shape[0] == 128 && m->params.t[0].shape[1] == 10);
    cr_assert_str_eq(m->params.t[1].name, "input_proj.bias");
    char want[64];
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 2; k++) {
            const gf_tensor *w = &m->params.t[2 + 4 * i + 2 * k], *b = w + 1;
            snprintf(want, sizeof want, "blocks.%d.conv%d.weight", i, k + 1);
            cr_assert_str_eq(w->name, want);
            cr_assert(w->ndim == 3 && w->shape[0] == 128 && w->shape[1] == 128 && w->shape[2] == 3, "%s", want);
            snprintf(want, sizeof want, "blocks.%d.conv%d.bias", i, k + 1);
            cr_assert_str_eq(b->name, want);
            cr_assert(b->ndim == 1 && b->shape[0] == 128, "%s", want);
        }
    cr_assert_str_eq(m->params.t[26].name, "output_proj.weight");
    cr_assert(m->params.t[26].shape[0] == 14 && m->params.t[26].shape[1] == 128);
    cr_assert_str_eq(m->params.t[27].name, "output_proj.bias");
    gf_model_free(m);
    /* too many blocks, bad kernel */
    cfg.n_layers = 25;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_EINVAL);
    cfg.n_layers = 2;
    cfg.kernel = 1;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_EINVAL);
}

/* Every tensor in U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*K
 * for convolutions (weights and biases) and in_features for the Linears:
 * inside the bound, filling it, variance ~bound²/3; seeded. */
Test(tcn, init_distribution_and_seed)
{
    tcn_case c = {10, 14, 64, 2, 3, 1, 1, 0.1f, 5, 1};
    gf_model *m = tcn_make(&c), *m2 = tcn_make(&c);
    c.seed = 6;
    gf_model *m3 = tcn_make(&c);
    for (int i = 0; i < m->params.n; i++) {
        const gf_tensor *t = &m->params.t[i];
        double fan_in = !strncmp(t->name, "blocks.", 7) ? 64 * 3 : !strncmp(t->name, "input_proj", 10) ? 10 : 64;
        double k = 1.0 / sqrt(fan_in);
        ot_expect_uniform(t, gf_arena_ptr(&m->params, i), k, 1);
    }
    cr_assert(!memcmp(m->params.data, m2->params.data, m->params.size * sizeof(float)));
    cr_assert(memcmp(m->params.data, m3->params.data, m->params.size * sizeof(float)));
    gf_model_free(m); gf_model_free(m2); gf_model_free(m3);
}

/* Dropout acts in training only, is reproducible from the rng state, and is
 * the same for 1 and 2 engine threads. */
Test(tcn, dropout_train_only)
{
    tcn_case c = {10, 3, 16, 2, 3, 3, 20, 0.5f, 9, 1};
    gf_model *m = tcn_make(&c);
    c.dropout = 0;
    gf_model *m0 = tcn_make(&c); /* same seed: same weights */
    c.dropout = 0.5f;
    c.threads = 2;
    gf_model *m2 = tcn_make(&c);
    float *x, *t;
    tcn_data(&c, &x, &t);
    size_t ny = (size_t)c.B * c.T * c.d_out;
    float *y = malloc(ny * 4), *y0 = malloc(ny * 4), *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
    gf_rng r;
    gf_rng_seed(&r, 3);
    cr_assert_eq(gf_model_forward(m, x, y, 0, NULL), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_forward(m0, x, y0, 1, &r), GF_OK);
    cr_assert(!memcmp(y, y0, ny * 4), "eval output depends on dropout");
    cr_assert_eq(gf_model_forward(m, x, y1, 1, NULL), GF_EINVAL, "training with dropout needs an rng");
    gf_rng_seed(&r, 3);
    cr_assert_eq(gf_model_forward(m, x, y1, 1, &r), GF_OK);
    gf_rng_seed(&r, 3);
    cr_assert_eq(gf_model_forward(m2, x, y2, 1, &r), GF_OK);
    double e = 0, s = 0;
    for (size_t i = 0; i < ny; i++) { e = fmax(e, fabs(y1[i] - y2[i])); s = fmax(s, fabs(y1[i])); }
    cr_assert(e <= 1e-6 * s, "1 and 2 threads: different masks (%g)", e);
    cr_assert(memcmp(y1, y0, ny * 4), "dropout 0.5 changed nothing in training");
    gf_model_free(m); gf_model_free(m0); gf_model_free(m2);
    free(x); free(t); free(y); free(y0); free(y1); free(y2);
}

/* Backward adds into the gradients and needs a training forward first. */
Test(tcn, backward_accumulates_and_needs_training_forward)
{
    tcn_case c = {10, 3, 8, 2, 3, 2, 6, 0.0f, 4, 1};
    gf_model *m = tcn_make(&c);
    float *x, *t;
    tcn_data(&c, &x, &t);
    ot_backward_accumulates(m, x, t, (size_t)c.B * c.T * c.d_out);
    free(x); free(t);
    gf_model_free(m);
}

/* NaN or Inf in outputs or gradients is GF_ENUMERIC with a message. */
Test(tcn, nonfinite_is_an_error)
{
    tcn_case c = {10, 3, 8, 2, 3, 2, 6, 0.0f, 4, 1};
    gf_model *m = tcn_make(&c);
    float *x, *t;
    tcn_data(&c, &x, &t);
    size_t ny = (size_t)c.B * c.T * c.d_out;
    float *y = malloc(ny * 4), *dy = malloc(ny * 4);
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK);
    ot_mse(dy, y, t, ny);
    dy[5] = INFINITY;
    cr_assert_eq(gf_model_backward(m, dy), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "NaN or Inf"), "%s", gf_errmsg());
    /* a NaN weight on the residual path reaches the output */
    int iw = gf_arena_find(&m->params, "input_proj.weight");
    gf_arena_ptr(&m->params, iw)[3] = NAN;
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "tcn forward"), "%s", gf_errmsg());
    cr_assert_eq(gf_model_backward(m, dy), GF_ESTATE, "no backward after a failed forward");
    gf_arena_ptr(&m->params, iw)[3] = 0;
    /* a NaN input too */
    x[7] = NAN;
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_ENUMERIC);
    x[7] = 0;
    /* finite outputs, overflowing gradients */
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK, "%s", gf_errmsg());
    for (size_t i = 0; i < ny; i++) dy[i] = 3e38f;
    gf_model_zero_grad(m);
    cr_assert_eq(gf_model_backward(m, dy), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "gradient of"), "%s", gf_errmsg());
    free(x); free(t); free(y); free(dy);
    gf_model_free(m);
}

/* The TCN (model/tcn.c, model/ops_conv.c) against PyTorch.
 *
 * Oracle: C initializes the weights (seeded, PyTorch's distributions), writes
 * them with inputs and targets to an npz; tests/py/oracle_tcn.py loads them
 * into tests/py/reference_tcn.py's TCNRegressor with load_state_dict(strict=
 * True) and computes, in float64 and in float32, the forward output, the MSE
 * loss, every parameter gradient and a 10-step AdamW + clip_grad_norm_ loss
 * trajectory (dropout 0). Tolerances (rel() as in rnn_testutil.h: max-abs
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

#include "model/loss.h"
#include "model/optim.h"
#include "rnn_testutil.h"

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
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, c->seed), GF_OK, "%s", gf_errmsg());
    m->threads = c->threads > 1 ? c->threads : 1;
    cr_assert_eq(gf_model_prepare(m, c->B, c->T), GF_OK, "%s", gf_errmsg());
    return m;
}

static void tcn_data(const tcn_case *c, float **x, float **t)
{
    rnn_case r = {GF_ARCH_TCN, c->d_in, c->d_out, c->C, c->L, c->B, c->T, 0.0f, c->seed, 1};
    rnn_data(&r, x, t);
}

/* Writes the oracle input and runs tests/py/oracle_tcn.py; answers in *ref. */
static void tcn_oracle(const tcn_case *c, const gf_model *m, const float *x, const float *t, int steps,
                       const double opt[6], gf_npz *ref)
{
    const char *dir = tu_tmpdir();
    cr_assert(dir);
    int n = m->params.n + 4, k = 0;
    gf_array *arr = calloc((size_t)n, sizeof *arr);
    cr_assert(arr);
    for (int i = 0; i < m->params.n; i++, k++) {
        const gf_tensor *tt = &m->params.t[i];
        rnn_arr_f32(&arr[k], tt->name, tt->ndim, tt->shape, gf_arena_ptr(&m->params, i));
    }
    int64_t sx[3] = {c->B, c->T, c->d_in}, sy[3] = {c->B, c->T, c->d_out}, s6[1] = {6};
    rnn_arr_f32(&arr[k++], "x", 3, sx, x);
    rnn_arr_f32(&arr[k++], "t", 3, sy, t);
    cr_assert_eq(gf_array_alloc(&arr[k], "cfg", GF_DT_I64, 0, 1, s6), GF_OK);
    int64_t cfgv[6] = {c->d_in, c->d_out, c->C, c->L, c->K, steps};
    memcpy(arr[k++].data, cfgv, sizeof cfgv);
    cr_assert_eq(gf_array_alloc(&arr[k], "opt", GF_DT_F64, 0, 1, s6), GF_OK);
    memcpy(arr[k++].data, opt, 6 * sizeof(double));
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.npz", dir);
    snprintf(out, sizeof out, "%s/ref.npz", dir);
    cr_assert_eq(gf_npz_write(in, arr, n, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < n; i++) gf_array_free(&arr[i]);
    free(arr);
    cr_assert_eq(tu_sh("%s %s/tests/py/oracle_tcn.py %s %s", tu_python(), tu_root(), in, out), 0,
                 "oracle_tcn.py failed (GF_PYTHON must be Debian's python3 with python3-torch)");
    cr_assert_eq(gf_npz_read(out, ref), GF_OK, "%s", gf_errmsg());
    tu_sh("rm -rf %s", dir);
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
    const char *tags[2] = {"f64", "f32"};
    for (int p = 0; p < 2; p++) {
        char key[160];
        snprintf(key, sizeof key, "y_%s", tags[p]);
        double ey = rnn_rel_err(y, rnn_ref(&ref, key, (int64_t)ny)->data, ny);
        snprintf(key, sizeof key, "loss_%s", tags[p]);
        double rl = *(const double *)rnn_ref(&ref, key, 1)->data;
        double el = fabs(loss - rl) / fabs(rl);
        double eg = 0;
        const char *worst = "";
        for (int i = 0; i < m->grads.n; i++) {
            const gf_tensor *tt = &m->grads.t[i];
            snprintf(key, sizeof key, "g_%s.%s", tags[p], tt->name);
            double e = rnn_rel_err(gf_arena_ptr(&m->grads, i), rnn_ref(&ref, key, (int64_t)tt->numel)->data,
                                   tt->numel);
            cr_expect(e <= GRAD_TOL, "tcn C%d L%d K%d vs %s: grad %s rel %.3g > %g", c->C, c->L, c->K, tags[p],
                      tt->name, e, GRAD_TOL);
            if (!(e <= eg)) { eg = e; worst = tt->name; }
        }
        fprintf(stderr, "tcn oracle C%d L%d K%d T%d B%d vs torch %s: forward rel %.2e, loss rel %.2e, max grad rel %.2e (%s)\n",
                c->C, c->L, c->K, c->T, c->B, tags[p], ey, el, eg, worst);
        cr_expect(ey <= FWD_TOL, "forward rel %.3g > %g", ey, FWD_TOL);
        cr_expect(el <= FWD_TOL, "loss rel %.3g > %g", el, FWD_TOL);
    }

    /* Trajectory from the same initial weights (the gradients above are discarded). */
    gf_model_free(m);
    m = tcn_make(c);
    gf_adamw_config oc = gf_adamw_defaults();
    oc.lr = 1e-3f; oc.beta1 = 0.9f; oc.beta2 = 0.999f; oc.eps = 1e-8f; oc.weight_decay = 1e-5f;
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &m->params, &oc), GF_OK, "%s", gf_errmsg());
    double traj[STEPS + 1];
    for (int s = 0; s <= STEPS; s++) {
        gf_model_zero_grad(m);
        cr_assert_eq(gf_model_forward(m, x, y, s < STEPS, NULL), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_mse_forward(&traj[s], y, t, ny), GF_OK, "%s", gf_errmsg());
        if (s == STEPS) break;
        gf_mse_backward(dy, y, t, ny);
        cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
        float norm;
        cr_assert_eq(gf_clip_grad_norm(&m->grads, 0.5f, &norm), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_adamw_step(&opt, &m->params, &m->grads), GF_OK, "%s", gf_errmsg());
    }
    for (int p = 0; p < 2; p++) {
        char key[32];
        snprintf(key, sizeof key, "traj_%s", tags[p]);
        const double *r = rnn_ref(&ref, key, STEPS + 1)->data;
        double worst = 0;
        for (int s = 0; s <= STEPS; s++) {
            double e = fabs(traj[s] - r[s]) / fabs(r[s]);
            cr_expect(e <= TRAJ_TOL, "tcn C%d vs %s: step %d loss %.8g, torch %.8g (rel %.3g)", c->C, tags[p], s,
                      traj[s], r[s], e);
            if (e > worst) worst = e;
        }
        fprintf(stderr, "tcn trajectory C%d L%d K%d T%d B%d vs torch %s: loss %.6g -> %.6g, max rel %.2e\n", c->C,
                c->L, c->K, c->T, c->B, tags[p], traj[0], traj[STEPS], worst);
    }
    cr_assert(traj[STEPS] < traj[0], "10 AdamW steps on one batch did not lower the loss");
    gf_adamw_free(&opt);
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
        const float *p = gf_arena_ptr(&m->params, i);
        double s = 0, s2 = 0, mx = 0;
        for (size_t j = 0; j < t->numel; j++) {
            cr_assert(fabs(p[j]) <= k, "%s[%zu] = %g outside the bound %g", t->name, j, p[j], k);
            s += p[j];
            s2 += (double)p[j] * p[j];
            if (fabs(p[j]) > mx) mx = fabs(p[j]);
        }
        double n = (double)t->numel, mean = s / n, var = s2 / n - mean * mean;
        if (n >= 1000) {
            cr_expect(fabs(mean) < 4 * k / sqrt(3 * n), "%s mean %g", t->name, mean);
            cr_expect(fabs(var / (k * k / 3) - 1) < 0.1, "%s var %g", t->name, var);
            cr_expect(mx > 0.99 * k, "%s max %g", t->name, mx);
        } else {
            cr_expect(mx > 0.5 * k, "%s max %g", t->name, mx);
        }
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
    size_t ny = (size_t)c.B * c.T * c.d_out;
    float *y = malloc(ny * 4), *dy = malloc(ny * 4);
    cr_assert_eq(gf_model_forward(m, x, y, 0, NULL), GF_OK);
    rnn_mse(dy, y, t, ny);
    cr_assert_eq(gf_model_backward(m, dy), GF_ESTATE);
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
    size_t n = m->grads.size;
    float *g1 = malloc(n * 4);
    memcpy(g1, m->grads.data, n * 4);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK);
    for (size_t i = 0; i < n; i++) cr_assert(fabsf(m->grads.data[i] - 2 * g1[i]) <= 1e-6f * fabsf(g1[i]) + 1e-30f);
    free(g1); free(x); free(t); free(y); free(dy);
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
    rnn_mse(dy, y, t, ny);
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

/* LSTM and GRU (model/lstm.c, model/gru.c, model/rnn.c) against PyTorch.
 *
 * Oracle: C initializes the weights (seeded, PyTorch's distributions), writes
 * them with inputs and targets to an npz; tests/py/oracle_rnn.py loads them
 * into nn.LSTM/nn.GRU + nn.Linear with load_state_dict(strict=True) and
 * computes, in float64 and in float32, the forward output, the MSE loss and
 * every parameter gradient. Tolerances (rel() as defined in oracle_testutil.h:
 * max-abs error over max-abs reference, per tensor):
 *   forward output  rel <= 1e-5
 *   MSE loss        rel <= 1e-5
 *   each gradient   rel <= 1e-4
 * against both the float64 reference (the exact answer) and PyTorch's own
 * float32 result. Small case: hidden 16, 2 layers, T 25, B 3; reference case:
 * hidden 128, 2 layers, T 180, B 4 (d_in 10, d_out 14), run on 2 engine
 * threads (batch slices [0,2) and [2,4)). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/ops_rnn.h"
#include "rnn_testutil.h"

#define FWD_TOL 1e-5
#define GRAD_TOL 1e-4

static void oracle_case(const rnn_case *c)
{
    gf_model *m = rnn_make(c);
    float *x, *t;
    rnn_data(c, &x, &t);
    size_t ny = (size_t)c->B * c->T * c->d_out;
    float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cr_assert(y && dy);
    gf_rng rng;
    gf_rng_seed(&rng, 1);
    cr_assert_eq(gf_model_forward(m, x, y, 1, &rng), GF_OK, "%s", gf_errmsg());
    double loss = ot_mse(dy, y, t, ny);
    gf_model_zero_grad(m);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());

    const double opt[6] = {1e-3, 0.9, 0.999, 1e-8, 1e-5, 0.5};
    gf_npz ref;
    rnn_oracle(c, m, x, t, 0, opt, &ref); /* no trajectory here: test_rnn_traj.c */
    char what[64], desc[96];
    snprintf(what, sizeof what, "%s H%d T%d B%d", gf_arch_name(c->arch), c->H, c->T, c->B);
    snprintf(desc, sizeof desc, "rnn oracle %s H%d L%d T%d B%d", gf_arch_name(c->arch), c->H, c->L, c->T, c->B);
    ot_check_step(&ref, m, y, loss, ny, FWD_TOL, GRAD_TOL, what, desc);
    gf_npz_free(&ref);
    free(x); free(t); free(y); free(dy);
    gf_model_free(m);
}

Test(rnn, lstm_small_oracle)
{
    rnn_case c = {GF_ARCH_LSTM, 10, 14, 16, 2, 3, 25, 0.0f, 11, 1};
    oracle_case(&c);
}

Test(rnn, gru_small_oracle)
{
    rnn_case c = {GF_ARCH_GRU, 10, 14, 16, 2, 3, 25, 0.0f, 12, 1};
    oracle_case(&c);
}

Test(rnn, lstm_reference_oracle)
{
    rnn_case c = {GF_ARCH_LSTM, 10, 14, 128, 2, 4, 180, 0.0f, 13, 2};
    oracle_case(&c);
}

Test(rnn, gru_reference_oracle)
{
    rnn_case c = {GF_ARCH_GRU, 10, 3, 128, 2, 4, 180, 0.0f, 14, 2};
    oracle_case(&c);
}

/* Names, shapes and order are PyTorch's state_dict (strict loading depends on it). */
Test(rnn, state_dict_names_and_shapes)
{
    for (int a = 0; a < 2; a++) {
        rnn_case c = {a ? GF_ARCH_GRU : GF_ARCH_LSTM, 10, 14, 128, 2, 1, 1, 0.1f, 1, 1};
        gf_model *m = rnn_make(&c);
        const char *p = a ? "gru" : "lstm";
        int g = a ? 3 : 4;
        cr_assert_eq(m->params.n, 10);
        char want[64];
        for (int l = 0; l < 2; l++) {
            const char *suf[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            for (int s = 0; s < 4; s++) {
                const gf_tensor *t = &m->params.t[4 * l + s];
                snprintf(want, sizeof want, "%s.%s_l%d", p, suf[s], l);
                cr_assert_str_eq(t->name, want);
                cr_assert_eq(t->shape[0], g * 128, "%s", want);
                if (s == 0) cr_assert_eq(t->shape[1], l ? 128 : 10, "%s", want);
                if (s == 1) cr_assert_eq(t->shape[1], 128, "%s", want);
                cr_assert_eq(t->ndim, s < 2 ? 2 : 1, "%s", want);
            }
        }
        cr_assert_str_eq(m->params.t[8].name, "fc.weight");
        cr_assert_eq(m->params.t[8].shape[0], 14);
        cr_assert_eq(m->params.t[8].shape[1], 128);
        cr_assert_str_eq(m->params.t[9].name, "fc.bias");
        cr_assert_eq(m->params.t[9].numel, 14);
        gf_model_free(m);
    }
}

/* Every weight in U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's RNN and Linear
 * defaults for fan_in = H): inside the bound, filling it, mean ~0, variance
 * ~bound²/3; seeded (same seed, same weights; another seed, others). */
Test(rnn, init_distribution_and_seed)
{
    rnn_case c = {GF_ARCH_LSTM, 10, 14, 64, 2, 1, 1, 0.1f, 5, 1};
    gf_model *m = rnn_make(&c), *m2 = rnn_make(&c);
    c.seed = 6;
    gf_model *m3 = rnn_make(&c);
    const double k = 1.0 / 8.0;
    for (int i = 0; i < m->params.n; i++) ot_expect_uniform(&m->params.t[i], gf_arena_ptr(&m->params, i), k, 0);
    cr_assert(!memcmp(m->params.data, m2->params.data, m->params.size * sizeof(float)));
    cr_assert(memcmp(m->params.data, m3->params.data, m->params.size * sizeof(float)));
    gf_model_free(m); gf_model_free(m2); gf_model_free(m3);
}

/* Dropout acts only in training, only between layers, with inverted scaling. */
Test(rnn, dropout_train_only)
{
    for (int a = 0; a < 2; a++) {
        rnn_case c = {a ? GF_ARCH_GRU : GF_ARCH_LSTM, 10, 3, 16, 2, 3, 20, 0.5f, 9, 1};
        gf_model *m = rnn_make(&c);
        c.dropout = 0;
        gf_model *m0 = rnn_make(&c); /* same seed: same weights */
        float *x, *t;
        rnn_data(&c, &x, &t);
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
        cr_assert_eq(gf_model_forward(m, x, y2, 1, &r), GF_OK);
        cr_assert(!memcmp(y1, y2, ny * 4), "same rng state, different masks");
        cr_assert(memcmp(y1, y0, ny * 4), "dropout 0.5 changed nothing in training");
        gf_model_free(m);
        /* Inter-layer only: a 1-layer model ignores dropout. */
        rnn_case c1 = c;
        c1.L = 1;
        c1.dropout = 0.5f;
        m = rnn_make(&c1);
        cr_assert_eq(gf_model_forward(m, x, y, 0, NULL), GF_OK);
        gf_rng_seed(&r, 3);
        cr_assert_eq(gf_model_forward(m, x, y1, 1, &r), GF_OK);
        cr_assert(!memcmp(y, y1, ny * 4), "a single layer has no inter-layer dropout");
        gf_model_free(m);
        gf_model_free(m0);
        free(x); free(t); free(y); free(y0); free(y1); free(y2);
    }
}

/* Backward adds into the gradients and needs a training forward first. */
Test(rnn, backward_accumulates_and_needs_training_forward)
{
    rnn_case c = {GF_ARCH_LSTM, 10, 3, 8, 2, 2, 6, 0.0f, 4, 1};
    gf_model *m = rnn_make(&c);
    float *x, *t;
    rnn_data(&c, &x, &t);
    ot_backward_accumulates(m, x, t, (size_t)c.B * c.T * c.d_out);
    free(x); free(t);
    gf_model_free(m);
}

/* NaN or Inf in outputs or gradients is GF_ENUMERIC with a message, not garbage. */
Test(rnn, nonfinite_is_an_error)
{
    for (int a = 0; a < 2; a++) {
        rnn_case c = {a ? GF_ARCH_GRU : GF_ARCH_LSTM, 10, 3, 8, 2, 2, 6, 0.0f, 4, 1};
        gf_model *m = rnn_make(&c);
        float *x, *t;
        rnn_data(&c, &x, &t);
        size_t ny = (size_t)c.B * c.T * c.d_out;
        float *y = malloc(ny * 4), *dy = malloc(ny * 4);
        cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK);
        ot_mse(dy, y, t, ny);
        dy[5] = INFINITY;
        cr_assert_eq(gf_model_backward(m, dy), GF_ENUMERIC);
        cr_assert(strstr(gf_errmsg(), "non-finite"), "%s", gf_errmsg());
        /* A NaN weight: forward fails naming the output element. */
        gf_arena_ptr(&m->params, 1)[3] = NAN;
        cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_ENUMERIC);
        cr_assert(strstr(gf_errmsg(), "non-finite output"), "%s", gf_errmsg());
        /* Finite outputs, overflowing gradients (huge dy). */
        gf_arena_ptr(&m->params, 1)[3] = 0;
        cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK, "%s", gf_errmsg());
        for (size_t i = 0; i < ny; i++) dy[i] = 3e38f;
        gf_model_zero_grad(m);
        cr_assert_eq(gf_model_backward(m, dy), GF_ENUMERIC);
        cr_assert(strstr(gf_errmsg(), "non-finite gradient"), "%s", gf_errmsg());
        free(x); free(t); free(y); free(dy);
        gf_model_free(m);
    }
}

/* The vectorized sigmoid and tanh of the cells against libm in double, over
 * [-100, 100] densely near 0: relative error below 4 float32 ulps (5e-7)
 * where |f| >= 1e-30, saturation exact, and no NaN for huge inputs. */
Test(rnn, fast_sigmoid_tanh_accuracy)
{
    enum { N = 400001 };
    float *a = malloc(N * sizeof *a), *s = malloc(N * sizeof *s), *t = malloc(N * sizeof *t);
    for (int i = 0; i < N; i++) {
        double u = (i - N / 2) / (double)(N / 2); /* [-1, 1] */
        a[i] = (float)(u * u * u * 100.0);        /* dense near 0 */
    }
    memcpy(s, a, N * sizeof *a);
    memcpy(t, a, N * sizeof *a);
    gf_rnn_vsigmoid(s, N);
    gf_rnn_vtanh(t, N);
    double es = 0, et = 0;
    for (int i = 0; i < N; i++) {
        double x = a[i], rs = 1.0 / (1.0 + exp(-x)), rt = tanh(x);
        if (rs >= 1e-30) es = fmax(es, fabs(s[i] - rs) / rs);
        if (fabs(rt) >= 1e-30) et = fmax(et, fabs(t[i] - rt) / fabs(rt));
        cr_assert(s[i] >= 0 && s[i] <= 1 && t[i] >= -1 && t[i] <= 1, "x = %g: sigmoid %g tanh %g", x, s[i], t[i]);
    }
    fprintf(stderr, "rnn fast sigmoid max rel err %.2e, tanh %.2e\n", es, et);
    cr_expect(es < 5e-7, "sigmoid rel %.3g", es);
    cr_expect(et < 5e-7, "tanh rel %.3g", et);
    float big[5] = {1e30f, -1e30f, 0.0f, -0.0f, NAN};
    float bt[5];
    memcpy(bt, big, sizeof big);
    gf_rnn_vsigmoid(big, 5);
    gf_rnn_vtanh(bt, 5);
    cr_assert(isnan(big[4]) && isnan(bt[4]), "NaN must propagate (the non-finite checks rely on it)");
    cr_assert(big[0] == 1.0f && big[1] < 1e-37f && big[2] == 0.5f);
    cr_assert(bt[0] == 1.0f && bt[1] == -1.0f && bt[2] == 0.0f && bt[3] == 0.0f);
    free(a); free(s); free(t);
}

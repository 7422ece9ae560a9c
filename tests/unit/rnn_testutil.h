/* Shared by the recurrent-model tests (test_rnn*.c): building seeded models,
 * writing the oracle's input npz, running tests/py/oracle_rnn.py and reading
 * its answers.
 *
 * Relative error, as used by every oracle comparison here: for a C tensor c
 * and a reference tensor r of the same shape,
 *     rel(c, r) = max_i |c_i - r_i| / max_i |r_i|
 * (infinity-norm error over infinity-norm of the reference, per tensor; for a
 * scalar it is |c - r| / |r|). An all-zero reference falls back to the
 * absolute error. */
#ifndef GF_RNN_TESTUTIL_H
#define GF_RNN_TESTUTIL_H
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/model.h"
#include "sites/npz.h"
#include "testutil.h"

typedef struct {
    gf_arch arch;
    int d_in, d_out, H, L, B, T;
    float dropout;
    uint64_t seed;
    int threads; /* engine workers (0 means 1) */
} rnn_case;

static inline gf_model *rnn_make(const rnn_case *c)
{
    gf_model_config cfg = gf_model_config_default(c->arch, c->d_in, c->d_out);
    cfg.d_model = c->H;
    cfg.n_layers = c->L;
    cfg.dropout = c->dropout;
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, c->seed), GF_OK, "%s", gf_errmsg());
    m->threads = c->threads > 1 ? c->threads : 1;
    cr_assert_eq(gf_model_prepare(m, c->B, c->T), GF_OK, "%s", gf_errmsg());
    return m;
}

/* x ~ N(0,1) (z-scored angles), t ~ body-mass-normalized targets (N/kg scale). */
static inline void rnn_data(const rnn_case *c, float **x, float **t)
{
    size_t nx = (size_t)c->B * c->T * c->d_in, ny = (size_t)c->B * c->T * c->d_out;
    *x = malloc(nx * sizeof **x);
    *t = malloc(ny * sizeof **t);
    cr_assert(*x && *t);
    gf_rng r;
    gf_rng_derive(&r, c->seed, 77);
    for (size_t i = 0; i < nx; i++) (*x)[i] = (float)gf_rng_normal(&r);
    for (size_t i = 0; i < ny; i++) (*t)[i] = (float)(2.0 * gf_rng_normal(&r) + 1.0);
}

static inline double rnn_mse(float *dy, const float *y, const float *t, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)y[i] - t[i];
        s += d * d;
        if (dy) dy[i] = (float)(2.0 * d / (double)n);
    }
    return s / (double)n;
}

static inline void rnn_arr_f32(gf_array *a, const char *name, int ndim, const int64_t *shape, const float *src)
{
    cr_assert_eq(gf_array_alloc(a, name, GF_DT_F32, 0, ndim, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a->data, src, (size_t)a->count * sizeof(float));
}

/* Writes the oracle input (see tests/py/oracle_rnn.py) and runs the oracle;
 * the reference npz is left in *ref. */
static inline void rnn_oracle(const rnn_case *c, const gf_model *m, const float *x, const float *t, int steps,
                              const double opt[6], gf_npz *ref)
{
    const char *dir = tu_tmpdir();
    cr_assert(dir);
    int n = m->params.n + 4;
    gf_array *arr = calloc((size_t)n, sizeof *arr);
    cr_assert(arr);
    int k = 0;
    for (int i = 0; i < m->params.n; i++, k++) {
        const gf_tensor *tt = &m->params.t[i];
        rnn_arr_f32(&arr[k], tt->name, tt->ndim, tt->shape, gf_arena_ptr(&m->params, i));
    }
    int64_t sx[3] = {c->B, c->T, c->d_in}, sy[3] = {c->B, c->T, c->d_out}, s6[1] = {6};
    rnn_arr_f32(&arr[k++], "x", 3, sx, x);
    rnn_arr_f32(&arr[k++], "t", 3, sy, t);
    cr_assert_eq(gf_array_alloc(&arr[k], "cfg", GF_DT_I64, 0, 1, s6), GF_OK);
    int64_t cfgv[6] = {c->arch == GF_ARCH_GRU, c->d_in, c->d_out, c->H, c->L, steps};
    memcpy(arr[k++].data, cfgv, sizeof cfgv);
    cr_assert_eq(gf_array_alloc(&arr[k], "opt", GF_DT_F64, 0, 1, s6), GF_OK);
    memcpy(arr[k++].data, opt, 6 * sizeof(double));
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.npz", dir);
    snprintf(out, sizeof out, "%s/ref.npz", dir);
    cr_assert_eq(gf_npz_write(in, arr, n, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < n; i++) gf_array_free(&arr[i]);
    free(arr);
    cr_assert_eq(tu_sh("%s %s/tests/py/oracle_rnn.py %s %s", tu_python(), tu_root(), in, out), 0,
                 "oracle_rnn.py failed (GF_PYTHON must be Debian's python3 with python3-torch)");
    cr_assert_eq(gf_npz_read(out, ref), GF_OK, "%s", gf_errmsg());
    tu_sh("rm -rf %s", dir);
}

static inline const gf_array *rnn_ref(const gf_npz *ref, const char *key, int64_t count)
{
    const gf_array *a = gf_npz_get(ref, key);
    cr_assert(a, "reference has no %s", key);
    cr_assert_eq(a->dtype, GF_DT_F64, "%s", key);
    cr_assert_eq(a->count, count, "%s: %lld values, expected %lld", key, (long long)a->count, (long long)count);
    return a;
}

/* rel(c, r) as defined at the top of this file. */
static inline double rnn_rel_err(const float *c, const double *r, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)c[i] - r[i]);
        if (isnan(d)) return NAN;
        if (d > num) num = d;
        if (fabs(r[i]) > den) den = fabs(r[i]);
    }
    return den > 0 ? num / den : num;
}

#endif

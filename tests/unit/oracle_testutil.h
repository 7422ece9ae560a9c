/* Shared by the model tests against the PyTorch oracles (test_rnn*.c,
 * test_tcn.c, test_transformer.c): building seeded models and data, writing
 * the oracle's input npz, running tests/py/oracle_*.py and reading its
 * answers, comparing forward output, loss, gradients and AdamW trajectories.
 *
 * Relative error, as used by every oracle comparison here: for a C tensor c
 * and a reference tensor r of the same shape,
 *     rel(c, r) = max_i |c_i - r_i| / max_i |r_i|
 * (infinity-norm error over infinity-norm of the reference, per tensor; for a
 * scalar it is |c - r| / |r|). An all-zero reference falls back to the
 * absolute error; a NaN anywhere in c gives NaN (fails every bound). */
#ifndef GF_ORACLE_TESTUTIL_H
#define GF_ORACLE_TESTUTIL_H
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optim.h"
#include "sites/npz.h"
#include "testutil.h"

/* Created, initialized with seed, prepared for [B,T] on `threads` engine
 * workers (0 means 1). */
static inline gf_model *ot_make(const gf_model_config *cfg, uint64_t seed, int threads, int B, int T)
{
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(cfg, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, seed), GF_OK, "%s", gf_errmsg());
    m->threads = threads > 1 ? threads : 1;
    cr_assert_eq(gf_model_prepare(m, B, T), GF_OK, "%s", gf_errmsg());
    return m;
}

/* nx values x ~ N(0,1) (z-scored angles), ny values t ~ body-mass-normalized
 * targets (N/kg scale), from seed. */
static inline void ot_data(uint64_t seed, size_t nx, size_t ny, float **x, float **t)
{
    *x = malloc(nx * sizeof **x);
    *t = malloc(ny * sizeof **t);
    cr_assert(*x && *t);
    gf_rng r;
    gf_rng_derive(&r, seed, 77);
    for (size_t i = 0; i < nx; i++) (*x)[i] = (float)gf_rng_normal(&r);
    for (size_t i = 0; i < ny; i++) (*t)[i] = (float)(2.0 * gf_rng_normal(&r) + 1.0);
}

/* Mean squared error in double; dy (if not NULL) gets its gradient. */
static inline double ot_mse(float *dy, const float *y, const float *t, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)y[i] - t[i];
        s += d * d;
        if (dy) dy[i] = (float)(2.0 * d / (double)n);
    }
    return s / (double)n;
}

/* npz arrays for the oracle's input. */
static inline gf_array ot_f32(const char *name, int ndim, const int64_t *shape, const float *src)
{
    gf_array a;
    cr_assert_eq(gf_array_alloc(&a, name, GF_DT_F32, 0, ndim, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a.data, src, (size_t)a.count * sizeof(float));
    return a;
}

static inline gf_array ot_i64(const char *name, int n, const int64_t *v)
{
    gf_array a;
    int64_t shape[1] = {n};
    cr_assert_eq(gf_array_alloc(&a, name, GF_DT_I64, 0, 1, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a.data, v, (size_t)n * sizeof *v);
    return a;
}

static inline gf_array ot_f64(const char *name, int n, const double *v)
{
    gf_array a;
    int64_t shape[1] = {n};
    cr_assert_eq(gf_array_alloc(&a, name, GF_DT_F64, 0, 1, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a.data, v, (size_t)n * sizeof *v);
    return a;
}

/* Writes every parameter (by state_dict name) and then the nextra arrays of
 * extra (freed here) to an input npz, runs tests/py/<script> IN OUT and
 * leaves its answers in *ref. */
static inline void ot_run_oracle(const char *script, const gf_arena *params, gf_array *extra, int nextra,
                                 gf_npz *ref)
{
    const char *dir = tu_tmpdir();
    cr_assert(dir);
    int n = params->n + nextra;
    gf_array *arr = calloc((size_t)n, sizeof *arr);
    cr_assert(arr);
    for (int i = 0; i < params->n; i++) {
        const gf_tensor *tt = &params->t[i];
        arr[i] = ot_f32(tt->name, tt->ndim, tt->shape, gf_arena_ptr(params, i));
    }
    memcpy(arr + params->n, extra, (size_t)nextra * sizeof *extra);
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/in.npz", dir);
    snprintf(out, sizeof out, "%s/ref.npz", dir);
    cr_assert_eq(gf_npz_write(in, arr, n, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < n; i++) gf_array_free(&arr[i]);
    free(arr);
    int rc = tu_sh("%s %s/tests/py/%s %s %s", tu_python(), tu_root(), script, in, out);
    cr_assert_eq(rc, 0, "%s failed (exit %d; GF_PYTHON must be Debian's python3 with python3-torch)", script, rc);
    cr_assert_eq(gf_npz_read(out, ref), GF_OK, "%s", gf_errmsg());
    tu_sh("rm -rf %s", dir);
}

/* The float64 reference tensor key, which must hold count values. */
static inline const gf_array *ot_ref(const gf_npz *ref, const char *key, int64_t count)
{
    const gf_array *a = gf_npz_get(ref, key);
    cr_assert(a, "reference has no %s", key);
    cr_assert_eq(a->dtype, GF_DT_F64, "%s", key);
    cr_assert_eq(a->count, count, "%s: %lld values, expected %lld", key, (long long)a->count, (long long)count);
    return a;
}

/* rel(c, r) as defined at the top of this file. */
static inline double ot_rel_err(const float *c, const double *r, size_t n)
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

/* One training step of the common oracle layout (tests/py/oracle_common.py):
 * the output y [ny], the loss and m's gradients against y_P, loss_P and
 * g_P.<name> for P = f64 and f32. Failure messages start with `what`, the
 * summary line on stderr with `desc`. */
static inline void ot_check_step(const gf_npz *ref, const gf_model *m, const float *y, double loss, size_t ny,
                                 double fwd_tol, double grad_tol, const char *what, const char *desc)
{
    const char *tags[2] = {"f64", "f32"};
    for (int p = 0; p < 2; p++) {
        char key[160];
        snprintf(key, sizeof key, "y_%s", tags[p]);
        double ey = ot_rel_err(y, ot_ref(ref, key, (int64_t)ny)->data, ny);
        snprintf(key, sizeof key, "loss_%s", tags[p]);
        double rl = *(const double *)ot_ref(ref, key, 1)->data;
        double el = fabs(loss - rl) / fabs(rl);
        double eg = 0;
        const char *worst = "";
        for (int i = 0; i < m->grads.n; i++) {
            const gf_tensor *tt = &m->grads.t[i];
            snprintf(key, sizeof key, "g_%s.%s", tags[p], tt->name);
            double e = ot_rel_err(gf_arena_ptr(&m->grads, i), ot_ref(ref, key, (int64_t)tt->numel)->data, tt->numel);
            cr_expect(e <= grad_tol, "%s vs %s: grad %s rel %.3g > %g", what, tags[p], tt->name, e, grad_tol);
            if (!(e <= eg)) { eg = e; worst = tt->name; }
        }
        fprintf(stderr, "%s vs torch %s: forward rel %.2e, loss rel %.2e, max grad rel %.2e (%s)\n", desc, tags[p],
                ey, el, eg, worst);
        cr_expect(ey <= fwd_tol, "forward rel %.3g > %g", ey, fwd_tol);
        cr_expect(el <= fwd_tol, "loss rel %.3g > %g", el, fwd_tol);
    }
}

/* The MSE loss before each of `steps` training steps on the batch (x, t)
 * (zero_grad, training forward, MSE, backward, clip_grad_norm_(0.5), AdamW
 * lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-5), then after the
 * last one (eval forward): traj[steps + 1]. m has dropout 0. */
static inline void ot_trajectory(gf_model *m, const float *x, const float *t, size_t ny, int steps, double *traj)
{
    float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cr_assert(y && dy);
    gf_adamw_config oc = gf_adamw_defaults();
    oc.lr = 1e-3f; oc.beta1 = 0.9f; oc.beta2 = 0.999f; oc.eps = 1e-8f; oc.weight_decay = 1e-5f;
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &m->params, &oc), GF_OK, "%s", gf_errmsg());
    for (int s = 0; s <= steps; s++) {
        gf_model_zero_grad(m);
        cr_assert_eq(gf_model_forward(m, x, y, s < steps, NULL), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_mse_forward(&traj[s], y, t, ny), GF_OK, "%s", gf_errmsg());
        if (s == steps) break;
        gf_mse_backward(dy, y, t, ny);
        cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
        float norm;
        cr_assert_eq(gf_clip_grad_norm(&m->grads, 0.5f, &norm), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_adamw_step(&opt, &m->params, &m->grads), GF_OK, "%s", gf_errmsg());
    }
    gf_adamw_free(&opt);
    free(y); free(dy);
}

/* traj[steps + 1] against traj_f64 and traj_f32 (|c - r| / |r| <= tol each),
 * and the loss must have gone down. Messages as in ot_check_step. */
static inline void ot_check_traj(const gf_npz *ref, const double *traj, int steps, double tol, const char *what,
                                 const char *desc)
{
    const char *tags[2] = {"f64", "f32"};
    for (int p = 0; p < 2; p++) {
        char key[32];
        snprintf(key, sizeof key, "traj_%s", tags[p]);
        const double *r = ot_ref(ref, key, steps + 1)->data;
        double worst = 0;
        for (int s = 0; s <= steps; s++) {
            double e = fabs(traj[s] - r[s]) / fabs(r[s]);
            cr_expect(e <= tol, "%s vs %s: step %d loss %.8g, torch %.8g (rel %.3g)", what, tags[p], s, traj[s], r[s],
                      e);
            if (e > worst) worst = e;
        }
        fprintf(stderr, "%s vs torch %s: loss %.6g -> %.6g, max rel %.2e\n", desc, tags[p], traj[0], traj[steps],
                worst);
    }
    cr_assert(traj[steps] < traj[0], "%d AdamW steps on one batch did not lower the loss", steps);
}

/* Backward adds into the gradients and needs a training forward first
 * (m has dropout 0; x, t one [B,T] batch with ny outputs). */
static inline void ot_backward_accumulates(gf_model *m, const float *x, const float *t, size_t ny)
{
    float *y = malloc(ny * 4), *dy = malloc(ny * 4);
    cr_assert_eq(gf_model_forward(m, x, y, 0, NULL), GF_OK);
    ot_mse(dy, y, t, ny);
    cr_assert_eq(gf_model_backward(m, dy), GF_ESTATE);
    cr_assert_eq(gf_model_forward(m, x, y, 1, NULL), GF_OK);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
    size_t n = m->grads.size;
    float *g1 = malloc(n * 4);
    memcpy(g1, m->grads.data, n * 4);
    cr_assert_eq(gf_model_backward(m, dy), GF_OK);
    for (size_t i = 0; i < n; i++) cr_assert(fabsf(m->grads.data[i] - 2 * g1[i]) <= 1e-6f * fabsf(g1[i]) + 1e-30f);
    free(g1); free(y); free(dy);
}

/* A tensor drawn from U(-k, k): every value inside the bound; with 1000 or
 * more values mean ~0, variance ~k²/3 and the maximum above 0.99 k; with
 * fewer, if small_max, the maximum above 0.5 k. */
static inline void ot_expect_uniform(const gf_tensor *t, const float *p, double k, int small_max)
{
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
    } else if (small_max) {
        cr_expect(mx > 0.5 * k, "%s max %g", t->name, mx);
    }
}

#endif

/* Finite-difference checks for every op in model/ops.h.
 *
 * For an op y = f(x_1..x_k) and a fixed random projection r, L = sum(r o y).
 * backward(dy = r) gives g_i = dL/dx_i. For each input i and several
 * directions v (one along g_i plus noise, others random; elements O(1)),
 * the analytic directional derivative g_i . v (with v as rounded into the
 * perturbed float input) must match the central
 * difference (L(x_i + eps v) - L(x_i - eps v)) / (2 eps), computed with the
 * float op and a double sum, to a relative tolerance FD_TOL. A wrong formula
 * gives O(1) relative error; the float FD error here is ~1e-4.
 * Backward must also ACCUMULATE: gradients are pre-filled with a constant
 * which must still be there (added to) afterwards. Ops run on a 2-thread pool. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/ops.h"

#define FD_TOL 5e-3
#define FD_EPS 1e-3f
#define MAXIN 6

typedef struct fd_case fd_case;
struct fd_case {
    int nin;
    float *x[MAXIN], *dx[MAXIN];
    size_t nx[MAXIN];
    const char *xname[MAXIN];
    float *y, *dy;
    size_t ny;
    void (*fwd)(fd_case *c);
    void (*bwd)(fd_case *c);
    int B, T, C, NH, OC, N;
    float *mean, *rstd, *att, *mask, *scratch;
    gf_pool *pool;
};

static gf_rng R;

static float *fbuf(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    cr_assert_not_null(p);
    return p;
}

static float *frand(size_t n, float lo, float hi)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)gf_rng_range(&R, lo, hi);
    return p;
}

/* Values in +-[0.1, 1.1]: away from ReLU's kink by far more than eps |v|. */
static float *frand_nokink(size_t n)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++) {
        float u = (float)gf_rng_range(&R, 0.1, 1.1);
        p[i] = gf_rng_u64(&R) & 1 ? u : -u;
    }
    return p;
}

static int add_in(fd_case *c, const char *name, float *x, size_t n)
{
    int i = c->nin++;
    c->x[i] = x;
    c->nx[i] = n;
    c->xname[i] = name;
    c->dx[i] = fbuf(n);
    return i;
}

static double loss(fd_case *c)
{
    c->fwd(c);
    double s = 0;
    for (size_t i = 0; i < c->ny; i++) s += (double)c->dy[i] * c->y[i];
    return s;
}

/* Returns the worst relative error over inputs and directions. */
static double fd_check(fd_case *c, const char *what)
{
    const float PRE = 0.25f;
    c->dy = frand(c->ny, -1, 1);
    c->fwd(c);
    for (int i = 0; i < c->nin; i++)
        for (size_t j = 0; j < c->nx[i]; j++) c->dx[i][j] = PRE;
    c->bwd(c);
    for (int i = 0; i < c->nin; i++)
        for (size_t j = 0; j < c->nx[i]; j++) c->dx[i][j] -= PRE;
    double worst = 0;
    for (int i = 0; i < c->nin; i++) {
        size_t n = c->nx[i];
        float *v = fbuf(n), *x0 = fbuf(n);
        memcpy(x0, c->x[i], n * sizeof(float));
        double gn = 0;
        for (size_t j = 0; j < n; j++) gn += (double)c->dx[i][j] * c->dx[i][j];
        gn = sqrt(gn);
        cr_assert(gn > 0, "%s: gradient of %s is identically zero", what, c->xname[i]);
        for (int dir = 0; dir < 3; dir++) {
            for (size_t j = 0; j < n; j++) {
                double g = dir == 0 ? c->dx[i][j] / gn * sqrt((double)n) : 0;
                v[j] = (float)(g + gf_rng_normal(&R) * (dir == 0 ? 0.5 : 1.0));
            }
            /* the analytic side uses the perturbation actually stored in
             * float, so input rounding does not count as FD error */
            double an = 0;
            for (size_t j = 0; j < n; j++) {
                float xp = x0[j] + FD_EPS * v[j], xm = x0[j] - FD_EPS * v[j];
                an += (double)c->dx[i][j] * ((double)xp - (double)xm) / (2.0 * FD_EPS);
            }
            for (size_t j = 0; j < n; j++) c->x[i][j] = x0[j] + FD_EPS * v[j];
            double lp = loss(c);
            for (size_t j = 0; j < n; j++) c->x[i][j] = x0[j] - FD_EPS * v[j];
            double lm = loss(c);
            memcpy(c->x[i], x0, n * sizeof(float));
            double fd = (lp - lm) / (2.0 * FD_EPS);
            double rel = fabs(fd - an) / fmax(fmax(fabs(an), fabs(fd)), 1e-6);
            if (rel > worst) worst = rel;
            cr_expect(rel < FD_TOL, "%s: d/d%s direction %d: analytic %.8g, finite difference %.8g (rel %.3g)",
                      what, c->xname[i], dir, an, fd, rel);
        }
        free(v);
        free(x0);
    }
    cr_log_info("%s: worst relative FD error %.3g", what, worst);
    return worst;
}

static void free_case(fd_case *c)
{
    for (int i = 0; i < c->nin; i++) { free(c->x[i]); free(c->dx[i]); }
    free(c->y); free(c->dy); free(c->mean); free(c->rstd); free(c->att); free(c->mask); free(c->scratch);
    gf_pool_free(c->pool);
}

static void setup(fd_case *c, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    gf_rng_seed(&R, seed);
    cr_assert_eq(gf_pool_create(2, &c->pool), GF_OK);
    gf_blas_set_threads(1);
}

/* ---- linear ---- */
static void lin_f(fd_case *c) { op_linear_forward(c->y, c->x[0], c->x[1], c->x[2], c->N, c->C, c->OC, c->pool); }
static void lin_b(fd_case *c) { op_linear_backward(c->dx[0], c->dx[1], c->dx[2], c->dy, c->x[0], c->x[1], c->N, c->C, c->OC, c->pool); }

Test(ops, linear)
{
    fd_case c;
    setup(&c, 1);
    c.N = 37; c.C = 19; c.OC = 23;
    add_in(&c, "inp", frand((size_t)c.N * c.C, -1, 1), (size_t)c.N * c.C);
    add_in(&c, "weight", frand((size_t)c.OC * c.C, -0.5, 0.5), (size_t)c.OC * c.C);
    add_in(&c, "bias", frand(c.OC, -0.5, 0.5), c.OC);
    c.ny = (size_t)c.N * c.OC;
    c.y = fbuf(c.ny);
    c.fwd = lin_f; c.bwd = lin_b;
    /* forward against a direct loop */
    lin_f(&c);
    for (int n = 0; n < c.N; n++)
        for (int o = 0; o < c.OC; o++) {
            double s = c.x[2][o];
            for (int i = 0; i < c.C; i++) s += (double)c.x[0][n * c.C + i] * c.x[1][o * c.C + i];
            cr_assert(fabs(s - c.y[n * c.OC + o]) < 1e-5, "linear forward [%d,%d]", n, o);
        }
    fd_check(&c, "linear");
    free_case(&c);
}

/* ---- layernorm ---- */
static void ln_f(fd_case *c) { op_layernorm_forward(c->y, c->mean, c->rstd, c->x[0], c->x[1], c->x[2], c->N, c->C, c->pool); }
static void ln_b(fd_case *c) { op_layernorm_backward(c->dx[0], c->dx[1], c->dx[2], c->dy, c->x[0], c->x[1], c->mean, c->rstd, c->N, c->C, c->pool); }

Test(ops, layernorm)
{
    fd_case c;
    setup(&c, 2);
    c.N = 29; c.C = 24;
    add_in(&c, "inp", frand((size_t)c.N * c.C, -2, 2), (size_t)c.N * c.C);
    add_in(&c, "weight", frand(c.C, 0.5, 1.5), c.C);
    add_in(&c, "bias", frand(c.C, -0.5, 0.5), c.C);
    c.ny = (size_t)c.N * c.C;
    c.y = fbuf(c.ny); c.mean = fbuf(c.N); c.rstd = fbuf(c.N);
    c.fwd = ln_f; c.bwd = ln_b;
    /* forward: with weight 1 and bias 0 each row has mean 0 and variance ~1 */
    ln_f(&c);
    for (int n = 0; n < c.N; n++) {
        double m = 0, v = 0;
        for (int i = 0; i < c.C; i++) m += (c.y[n * c.C + i] - c.x[2][i]) / c.x[1][i];
        m /= c.C;
        for (int i = 0; i < c.C; i++) { double z = (c.y[n * c.C + i] - c.x[2][i]) / c.x[1][i] - m; v += z * z; }
        v /= c.C;
        cr_assert(fabs(m) < 1e-5 && fabs(v - 1) < 1e-3, "layernorm row %d: mean %g var %g", n, m, v);
    }
    fd_check(&c, "layernorm");
    free_case(&c);
}

/* ---- elementwise ---- */
static void relu_f(fd_case *c) { op_relu_forward(c->y, c->x[0], c->ny, c->pool); }
static void relu_b(fd_case *c) { op_relu_backward(c->dx[0], c->dy, c->x[0], c->ny, c->pool); }
static void gelu_f(fd_case *c) { op_gelu_forward(c->y, c->x[0], c->ny, c->pool); }
static void gelu_b(fd_case *c) { op_gelu_backward(c->dx[0], c->dy, c->x[0], c->ny, c->pool); }
static void res_f(fd_case *c) { op_residual_forward(c->y, c->x[0], c->x[1], c->ny, c->pool); }
static void res_b(fd_case *c) { op_residual_backward(c->dx[0], c->dx[1], c->dy, c->ny, c->pool); }
static void drop_f(fd_case *c) { op_dropout_forward(c->y, c->x[0], c->mask, c->ny, c->pool); }
static void drop_b(fd_case *c) { op_dropout_backward(c->dx[0], c->dy, c->mask, c->ny, c->pool); }

static void elementwise(void (*f)(fd_case *), void (*b)(fd_case *), int nin, const char *what, size_t n)
{
    fd_case c;
    setup(&c, 3);
    add_in(&c, "a", frand_nokink(n), n);
    if (nin > 1) add_in(&c, "b", frand(n, -1, 1), n);
    c.ny = n;
    c.y = fbuf(n);
    c.fwd = f; c.bwd = b;
    if (f == drop_f) {
        c.mask = fbuf(n);
        op_dropout_mask(c.mask, n, 0.3f, 99, c.pool);
    }
    fd_check(&c, what);
    free_case(&c);
}

/* n spans several GF_DROP_BLOCK blocks so the pool splits the work */
Test(ops, relu) { elementwise(relu_f, relu_b, 1, "relu", 10007); }

/* torch.relu(nan) is nan: a non-finite input must reach the finiteness checks. */
Test(ops, relu_propagates_nan)
{
    float in[40], out[40];
    for (int i = 0; i < 40; i++) in[i] = (float)(i - 20);
    in[7] = NAN;
    in[31] = NAN;
    op_relu_forward(out, in, 40, NULL);
    for (int i = 0; i < 40; i++) {
        if (i == 7 || i == 31) cr_assert(isnan(out[i]), "relu(nan) at %d gave %g", i, out[i]);
        else cr_assert_eq(out[i], in[i] > 0 ? in[i] : 0.0f);
    }
}
Test(ops, gelu) { elementwise(gelu_f, gelu_b, 1, "gelu", 10007); }
Test(ops, residual) { elementwise(res_f, res_b, 2, "residual", 10007); }
Test(ops, dropout_fixed_mask) { elementwise(drop_f, drop_b, 1, "dropout", 10007); }

Test(ops, gelu_matches_erf_definition)
{
    float x[7] = {-3, -1, -0.5f, 0, 0.5f, 1, 3}, y[7];
    op_gelu_forward(y, x, 7, NULL);
    for (int i = 0; i < 7; i++) {
        double want = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
        cr_assert(fabs(y[i] - want) < 1e-6, "gelu(%g) = %.9g, want %.9g", x[i], y[i], want);
    }
}

Test(ops, dropout_mask_rate_scale_and_thread_independence)
{
    size_t n = 200003;
    float *m1 = fbuf(n), *m2 = fbuf(n);
    gf_pool *pool;
    cr_assert_eq(gf_pool_create(2, &pool), GF_OK);
    op_dropout_mask(m1, n, 0.1f, 7, NULL);
    op_dropout_mask(m2, n, 0.1f, 7, pool);
    cr_assert(!memcmp(m1, m2, n * sizeof(float)), "mask depends on the thread count");
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(m1[i] == 0.0f || m1[i] == 1.0f / 0.9f, "mask value %g", m1[i]);
        zeros += m1[i] == 0.0f;
    }
    double rate = (double)zeros / n; /* sd of the rate ~ 0.00067 */
    cr_assert(fabs(rate - 0.1) < 0.004, "drop rate %g", rate);
    op_dropout_mask(m2, n, 0.1f, 8, pool);
    cr_assert(memcmp(m1, m2, n * sizeof(float)), "different seeds, same mask");
    gf_pool_free(pool);
    free(m1);
    free(m2);
}

/* ---- position embedding ---- */
static void pe_f(fd_case *c) { op_posembed_forward(c->y, c->x[0], c->x[1], c->B, c->T, c->C, c->pool); }
static void pe_b(fd_case *c) { op_posembed_backward(c->dx[0], c->dx[1], c->dy, c->B, c->T, c->C, c->pool); }

Test(ops, position_embedding)
{
    fd_case c;
    setup(&c, 4);
    c.B = 3; c.T = 7; c.C = 10;
    size_t n = (size_t)c.B * c.T * c.C;
    add_in(&c, "inp", frand(n, -1, 1), n);
    add_in(&c, "pos", frand((size_t)c.T * c.C, -1, 1), (size_t)c.T * c.C);
    c.ny = n;
    c.y = fbuf(n);
    c.fwd = pe_f; c.bwd = pe_b;
    fd_check(&c, "position embedding");
    free_case(&c);
}

/* ---- attention ---- */
static void at_f(fd_case *c) { op_attention_forward(c->y, c->att, c->x[0], c->mask, c->B, c->T, c->C, c->NH, c->scratch, c->pool); }
static void at_b(fd_case *c) { op_attention_backward(c->dx[0], c->dy, c->x[0], c->att, c->mask, c->B, c->T, c->C, c->NH, c->scratch, c->pool); }

static void attention(int with_mask)
{
    fd_case c;
    setup(&c, 5 + with_mask);
    c.B = 2; c.T = 9; c.C = 12; c.NH = 3;
    size_t n = (size_t)c.B * c.T * 3 * c.C, natt = (size_t)c.B * c.NH * c.T * c.T;
    add_in(&c, "qkv", frand(n, -1.5, 1.5), n);
    c.ny = (size_t)c.B * c.T * c.C;
    c.y = fbuf(c.ny);
    c.att = fbuf(natt);
    c.scratch = fbuf(op_attention_scratch(c.T, gf_pool_threads(c.pool)));
    if (with_mask) {
        c.mask = fbuf(natt);
        op_dropout_mask(c.mask, natt, 0.2f, 5, NULL);
    }
    c.fwd = at_f; c.bwd = at_b;
    /* forward against a direct double-precision evaluation */
    at_f(&c);
    int T = c.T, C = c.C, hs = C / c.NH;
    for (int b = 0; b < c.B; b++)
        for (int h = 0; h < c.NH; h++)
            for (int i = 0; i < T; i++) {
                double s[64], mx = -1e300, z = 0;
                for (int j = 0; j < T; j++) {
                    s[j] = 0;
                    for (int d = 0; d < hs; d++)
                        s[j] += (double)c.x[0][(b * T + i) * 3 * C + h * hs + d] * c.x[0][(b * T + j) * 3 * C + C + h * hs + d];
                    s[j] /= sqrt((double)hs);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++) { s[j] = exp(s[j] - mx); z += s[j]; }
                for (int d = 0; d < hs; d++) {
                    double o = 0;
                    for (int j = 0; j < T; j++) {
                        double p = s[j] / z;
                        if (with_mask) p *= c.mask[(((size_t)b * c.NH + h) * T + i) * T + j];
                        o += p * c.x[0][(b * T + j) * 3 * C + 2 * C + h * hs + d];
                    }
                    float got = c.y[(b * T + i) * C + h * hs + d];
                    cr_assert(fabs(got - o) < 1e-5, "attention out [%d,%d,%d,%d] %g want %g", b, h, i, d, got, o);
                }
            }
    fd_check(&c, with_mask ? "attention with dropout mask" : "attention");
    free_case(&c);
}

Test(ops, attention) { attention(0); }
Test(ops, attention_with_dropout_mask) { attention(1); }

Test(ops, all_finite)
{
    float x[5] = {1, -2, 3, 0, 5};
    cr_assert(op_all_finite(x, 5));
    x[3] = NAN;
    cr_assert(!op_all_finite(x, 5));
    x[3] = -INFINITY;
    cr_assert(!op_all_finite(x, 5));
}

/* The finite-difference method of test_rnn_fd.c and test_tcn_fd.c (described
 * at the top of test_rnn_fd.c): for an op with inputs p_i and outputs o,
 * f(p) = <w, o(p)>; the analytic directional derivative sum_i <g_i, v_i> along
 * v ~ N(0,1) against a Richardson-extrapolated central difference of f.
 * Define FD_TOL (the tolerance), FD_LABEL (the stderr prefix, "rnn") and
 * FD_LABEL_WIDTH (the op-name column) before including. */
#ifndef GF_FD_TESTUTIL_H
#define GF_FD_TESTUTIL_H
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

#if !defined(FD_TOL) || !defined(FD_LABEL) || !defined(FD_LABEL_WIDTH)
#error "define FD_TOL, FD_LABEL and FD_LABEL_WIDTH before including fd_testutil.h"
#endif

#define FD_EPS 1e-2
#define MAXIN 8

typedef double (*fd_objective)(void *ctx); /* <w, op(inputs)> with the current inputs */

typedef struct {
    const char *name;
    float *p;        /* input (perturbed in place, restored) */
    const float *g;  /* analytic gradient of <w, o> w.r.t. p */
    size_t n;
} fd_input;

static gf_rng g_rng;
static double g_eps = FD_EPS;
static int g_richardson = 1;

__attribute__((constructor)) static void fd_env(void)
{
    const char *e = getenv("GF_FD_EPS"), *r = getenv("GF_FD_RICHARDSON");
    if (e) g_eps = atof(e);
    if (r) g_richardson = atoi(r);
}

static inline void randn(float *a, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)(scale * gf_rng_normal(&g_rng));
}

static inline float *alloc_randn(size_t n, double scale)
{
    float *a = malloc(n * sizeof *a);
    cr_assert(a);
    randn(a, n, scale);
    return a;
}

static inline double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Set by an objective when its evaluation crossed a ReLU kink (the model
 * checks); the direction is then discarded and another drawn. */
static int g_crossed;
static long g_dirs, g_retries;
static double g_eps_factor = 1.0; /* model checks: 0.1 (kinks are dense at h 1e-2) */
#define FD_TRIES 200

/* Directional check along v over the inputs in mask (bit i: input i);
 * returns the relative error. Directions an objective flags in g_crossed
 * are discarded and redrawn (up to FD_TRIES). */

static inline double fd_dir(const char *op, fd_objective f, void *ctx, fd_input *in, int nin, unsigned mask)
{
    const double h = g_eps * g_eps_factor;
    for (int attempt = 0; attempt < FD_TRIES; attempt++) {
        float *v[MAXIN] = {0}, *save[MAXIN] = {0};
        double ana = 0, gg = 0;
        for (int i = 0; i < nin; i++) {
            if (!(mask >> i & 1)) continue;
            v[i] = alloc_randn(in[i].n, 1.0);
            save[i] = malloc(in[i].n * sizeof(float));
            memcpy(save[i], in[i].p, in[i].n * sizeof(float));
            ana += dot(in[i].g, v[i], in[i].n);
            gg += dot(in[i].g, in[i].g, in[i].n);
        }
        /* Central differences at steps h and h/2 (s = +h, -h, +h/2, -h/2). */
        double fs[4];
        const double hs[4] = {h, -h, h / 2, -h / 2};
        g_crossed = 0;
        for (int s = 0; s < 4; s++) {
            for (int i = 0; i < nin; i++)
                if (v[i])
                    for (size_t j = 0; j < in[i].n; j++) in[i].p[j] = (float)(save[i][j] + hs[s] * v[i][j]);
            fs[s] = f(ctx);
        }
        for (int i = 0; i < nin; i++) {
            if (!v[i]) continue;
            memcpy(in[i].p, save[i], in[i].n * sizeof(float));
            free(v[i]);
            free(save[i]);
        }
        if (g_crossed) { g_retries++; continue; }
        g_dirs++;
        double d1 = (fs[0] - fs[1]) / (2 * h), d2 = (fs[2] - fs[3]) / h;
        double fd = g_richardson ? (4 * d2 - d1) / 3 : d1;
        double den = fmax(fmax(fabs(fd), fabs(ana)), sqrt(gg));
        double err = den > 0 ? fabs(fd - ana) / den : 0;
        if (getenv("GF_FD_VERBOSE"))
            fprintf(stderr, "  %s mask %x: fd %.6e ana %.6e d1 %.6e d2 %.6e\n", op, mask, fd, ana, d1, d2);
        return err;
    }
    cr_assert_fail("%s mask %x: every one of %d directions crossed a ReLU kink at h = %g", op, mask, FD_TRIES, h);
    return INFINITY;
}

/* All inputs at once, then each alone (3 directions each). Asserts. */
static inline double fd_check(const char *op, fd_objective f, void *ctx, fd_input *in, int nin)
{
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        double e = fd_dir(op, f, ctx, in, nin, (1u << nin) - 1);
        cr_expect(e <= FD_TOL, "%s: all inputs: relative error %.3g > %g", op, e, FD_TOL);
        worst = fmax(worst, e);
        for (int i = 0; i < nin; i++) {
            e = fd_dir(op, f, ctx, in, nin, 1u << i);
            cr_expect(e <= FD_TOL, "%s: d/d%s: relative error %.3g > %g", op, in[i].name, e, FD_TOL);
            worst = fmax(worst, e);
        }
    }
    fprintf(stderr, "%s fd %-*s max rel err %.2e\n", FD_LABEL, FD_LABEL_WIDTH, op, worst);
    return worst;
}

#endif

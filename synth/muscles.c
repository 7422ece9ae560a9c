/* The 14 right hip muscles: maximum isometric forces, angle-dependent moment
 * arms and static optimization. Sources in docs/SYNTHETIC.md. */
#include <math.h>
#include <string.h>

#include "synth/internal.h"

/* Maximum isometric force (N) for a 75 kg adult, within the range spanned by
 * Delp et al. 1990 (Gait2392) and Rajagopal et al. 2016 (Handsfield 2014
 * volumes); scaled linearly with body mass. gf_force_cols order. */
static const double fmax75[GF_NF] = {
    450,  /* addbrev   Delp 286,  Rajagopal 626 */
    650,  /* addlong   418 / 917 */
    1700, /* addmag    1102 / 2388 (all parts) */
    130,  /* grac      108 / 138 */
    2186, /* iliopsoas 800 / 2186 (iliacus + psoas) */
    779,  /* recfem    779 / 1169 */
    180,  /* sart      104 / 249 */
    1800, /* glmax     1296 / 3338 (three parts) */
    710,  /* bflh      717 / 705 */
    2792, /* hamstring 1358 / 2792 (semimem + semiten) */
    1800, /* glmed     1363 / 2199 (three parts) */
    585,  /* glmin     585 (Delp, three parts) */
    200,  /* tfl       155 / 411 */
    444,  /* piri      444 / 444 */
};

void gf_synth_fmax(double mass_kg, const gf_body *b, double *fmax)
{
    for (int i = 0; i < GF_NF; i++) fmax[i] = fmax75[i] * mass_kg / 75.0 * (b ? b->fmax_gain[i] : 1.0);
}

/* Moment arms (m) at 0 deg: flexion (+ flexor), adduction (+ adductor),
 * internal rotation (+ internal rotator); and their change per 60 deg of hip
 * flexion (flexion arm) and per 10 deg of adduction (adduction arm).
 * Approximations of the curves in Delp et al. 1990, Arnold et al. 2010,
 * Rajagopal et al. 2016 (adductors lose flexion arm with flexion, abductors
 * gain frontal arm with adduction). Rotation arms after Delp et al. 1999
 * (J Biomech 32:493): piriformis the largest external rotator near neutral,
 * iliopsoas ~0, gluteus medius the small net of its internally rotating
 * anterior and externally rotating posterior parts. The rectus femoris and
 * short/long adductor flexion arms and the gluteus maximus extension arm
 * (recfem 0.030, addlong 0.025, adductor flexion arms growing 0.015-0.020 m
 * per 60 deg of extension) are chosen inside the spread of those models so that static
 * optimization loads the iliopsoas in pre-swing and the gluteus maximus in
 * loading response as the Rajagopal-model SO of the Gait2Hip-60 walks does
 * (docs/SYNTHETIC.md). */
static const double arm0[GF_NF][3] = {
    {0.022, 0.060, 0.006},   /* addbrev */
    {0.025, 0.065, 0.004},   /* addlong */
    {-0.025, 0.045, -0.004}, /* addmag */
    {0.020, 0.055, 0.002},   /* grac */
    {0.024, 0.003, 0.000},   /* iliopsoas */
    {0.030, -0.008, 0.000},  /* recfem */
    {0.045, -0.015, -0.008}, /* sart */
    {-0.065, -0.005, -0.019},/* glmax */
    {-0.060, 0.010, -0.008}, /* bflh */
    {-0.060, 0.015, 0.008},  /* hamstring */
    {0.004, -0.055, 0.004},  /* glmed */
    {0.010, -0.045, 0.010},  /* glmin */
    {0.040, -0.032, 0.010},  /* tfl */
    {-0.003, -0.012, -0.028},/* piri */
};
static const double dflex60[GF_NF] = {-0.015, -0.020, -0.020, -0.020, 0.012, 0.0,   0.010,
                                      -0.005, 0.0,    0.0,    -0.010, -0.005, 0.0, 0.004};
static const double dadd10[GF_NF] = {-0.002, -0.002, -0.002, -0.002, 0.0,    0.0,    0.0,
                                     0.0,    0.0,    0.0,    -0.004, -0.003, -0.002, -0.001};

void gf_synth_moment_arms(double flex, double add, const gf_body *b, double r[3][GF_NF])
{
    for (int i = 0; i < GF_NF; i++) {
        r[0][i] = arm0[i][0] + dflex60[i] * flex / 60.0;
        r[1][i] = arm0[i][1] + dadd10[i] * add / 10.0;
        r[2][i] = arm0[i][2];
        if (b)
            for (int d = 0; d < 3; d++) r[d][i] *= b->arm_gain[d][i];
    }
}

/* Reserve actuators: cost (R/RES_OPT)^2 per degree of freedom, so expensive
 * that they act only where the muscles cannot balance the moment. */
#define RES_OPT 0.01
#define NA (GF_NF + 3)

static int solve3(double a[3][3], const double b[3], double x[3])
{
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    if (!(fabs(det) > 0)) return -1;
    for (int c = 0; c < 3; c++) {
        double m[3][3];
        memcpy(m, a, sizeof m);
        for (int i = 0; i < 3; i++) m[i][c] = b[i];
        x[c] = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])) / det;
    }
    return 0;
}

/* Dual of min sum w_i^-1 F_i^2 ... written with c_i = 1/Fmax_i^2:
 * F_i(lambda) = clamp(u_i / (2 c_i), lo_i, hi_i), u = A^T lambda;
 * dual D(lambda) = sum_i [c_i F_i^2 - u_i F_i] + lambda . M, concave,
 * gradient M - A F. Newton on the active set with backtracking. */
static void primal(const double a[3][NA], const double *c, const double *lo, const double *hi, const double lam[3],
                   double *f, double *dual, const double m[3])
{
    double d = lam[0] * m[0] + lam[1] * m[1] + lam[2] * m[2];
    for (int i = 0; i < NA; i++) {
        double u = a[0][i] * lam[0] + a[1][i] * lam[1] + a[2][i] * lam[2];
        double v = u / (2.0 * c[i]);
        v = v < lo[i] ? lo[i] : v > hi[i] ? hi[i] : v;
        f[i] = v;
        d += c[i] * v * v - u * v;
    }
    *dual = d;
}

gf_err gf_synth_static_opt(const double r[3][GF_NF], const double *fmax, const double m[3], double *f,
                           double reserve[3])
{
    return gf_synth_static_opt_floor(r, fmax, NULL, m, f, reserve);
}

gf_err gf_synth_static_opt_floor(const double r[3][GF_NF], const double *fmax, const double *fmin, const double m[3],
                                 double *f, double reserve[3])
{
    double a[3][NA], c[NA], lo[NA], hi[NA], x[NA];
    for (int i = 0; i < GF_NF; i++) {
        if (!(fmax[i] > 0)) return gf_fail(GF_EINVAL, "static optimization: Fmax[%d] = %g", i, fmax[i]);
        for (int d = 0; d < 3; d++) a[d][i] = r[d][i];
        c[i] = 1.0 / (fmax[i] * fmax[i]);
        lo[i] = fmin ? fmin[i] : 0.0; /* co-contraction floor (synth/onfh.c) */
        if (!(lo[i] >= 0 && lo[i] <= fmax[i]))
            return gf_fail(GF_EINVAL, "static optimization: Fmin[%d] = %g outside [0, Fmax]", i, lo[i]);
        hi[i] = fmax[i];
    }
    for (int k = 0; k < 3; k++) {
        int i = GF_NF + k;
        for (int d = 0; d < 3; d++) a[d][i] = d == k ? 1.0 : 0.0;
        c[i] = 1.0 / (RES_OPT * RES_OPT);
        lo[i] = -INFINITY;
        hi[i] = INFINITY;
    }
    for (int d = 0; d < 3; d++)
        if (!isfinite(m[d])) return gf_fail(GF_ENUMERIC, "static optimization: moment %d is not finite", d);
    double scale = fabs(m[0]) + fabs(m[1]) + fabs(m[2]) + 1.0;
    double lam[3] = {0, 0, 0}, dual;
    primal(a, c, lo, hi, lam, x, &dual, m);
    int it;
    for (it = 0; it < 100; it++) {
        double g[3], J[3][3] = {{0}}, step[3];
        for (int d = 0; d < 3; d++) {
            g[d] = m[d];
            for (int i = 0; i < NA; i++) g[d] -= a[d][i] * x[i];
        }
        if (fabs(g[0]) + fabs(g[1]) + fabs(g[2]) < 1e-9 * scale) break;
        for (int i = 0; i < NA; i++) {
            if (x[i] <= lo[i] || x[i] >= hi[i]) continue; /* active bound */
            double w = 1.0 / (2.0 * c[i]);
            for (int p = 0; p < 3; p++)
                for (int q = 0; q < 3; q++) J[p][q] += w * a[p][i] * a[q][i];
        }
        if (solve3(J, g, step)) return gf_fail(GF_ENUMERIC, "static optimization: singular Newton system");
        double t = 1.0, nl[3], nx[NA], nd = 0;
        int ok = 0;
        for (int ls = 0; ls < 60; ls++, t *= 0.5) {
            for (int d = 0; d < 3; d++) nl[d] = lam[d] + t * step[d];
            primal(a, c, lo, hi, nl, nx, &nd, m);
            /* the dual is maximized; accept sufficient increase */
            if (nd >= dual + 1e-4 * t * (g[0] * step[0] + g[1] * step[1] + g[2] * step[2])) { ok = 1; break; }
        }
        if (!ok) break;
        memcpy(lam, nl, sizeof lam);
        memcpy(x, nx, sizeof x);
        dual = nd;
    }
    /* Where the muscles cannot balance the moment, the multipliers grow
     * without bound (reserve = lambda RES_OPT^2 / 2) and the line search may
     * stall in rounding before the residual vanishes: the muscle forces at
     * the last multipliers are then (nearly) all at their bounds, and the
     * reserves take the exact remainder, M - R F. */
    for (int d = 0; d < 3; d++) {
        double gd = m[d];
        for (int i = 0; i < GF_NF; i++) gd -= a[d][i] * x[i];
        x[GF_NF + d] = gd;
    }
    for (int i = 0; i < NA; i++)
        if (!isfinite(x[i])) return gf_fail(GF_ENUMERIC, "static optimization: force %d is not finite", i);
    for (int i = 0; i < GF_NF; i++) f[i] = x[i];
    for (int k = 0; k < 3; k++) reserve[k] = x[GF_NF + k];
    return GF_OK;
}

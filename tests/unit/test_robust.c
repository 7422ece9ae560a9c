/* coordinator/robust.c against numpy (tests/py/robust_ref.py): the per-update
 * norms and L2 clipping, and the aggregators (weighted mean, trimmed mean,
 * median) for odd and even site counts, with ties and an outlier. */
#include <math.h>

#include "common/rng.h"
#include "coordinator/robust.h"
#include "testutil.h"

#define L 512

/* n updates: noise quantized to 1/8 (many ties per coordinate), update 0 an
 * outlier x1000, update 1 identical to update 2 (whole-vector ties). */
static void run_case(size_t n, double trim)
{
    static float u[8][L];
    double w[8];
    gf_rng r;
    gf_rng_seed(&r, 11 + n);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < L; j++) u[i][j] = (float)(nearbyint(gf_rng_normal(&r) * 8) / 64);
        w[i] = 1 + (double)gf_rng_below(&r, 1000);
    }
    for (int j = 0; j < L; j++) u[0][j] *= 1000;
    if (n > 2) memcpy(u[1], u[2], sizeof u[1]);
    const char *d = tu_dir();
    char *in = tu_path(d, "u.bin"), *out = tu_path(d, "ref.bin");
    FILE *f = fopen(in, "wb");
    cr_assert(f && fwrite(u, sizeof u[0], n, f) == n && fwrite(w, sizeof w[0], n, f) == n);
    fclose(f);
    cr_assert_eq(tu_sh("%s %s/tests/py/robust_ref.py %zu %d %g %s %s", tu_python(), tu_root(), n, L, trim, in, out), 0);
    static double ref[8 * 2 + 3 * L];
    f = fopen(out, "rb");
    cr_assert(f && fread(ref, sizeof ref[0], 2 * n + 3 * L, f) == 2 * n + 3 * L);
    fclose(f);

    const float *p[8];
    for (size_t i = 0; i < n; i++) {
        p[i] = u[i];
        gf_update_norms un;
        gf_update_norms_of(u[i], L, &un);
        cr_assert_eq(un.nonfinite, 0);
        cr_assert_float_eq(un.l2, ref[2 * i], 1e-9 * ref[2 * i], "n %zu update %zu: L2 %g vs numpy %g", n, i, un.l2, ref[2 * i]);
        cr_assert_float_eq(un.linf, ref[2 * i + 1], 0, "L-inf");
    }
    static float got[L];
    const gf_aggregator kinds[3] = {GF_AGG_MEAN, GF_AGG_TRIMMED_MEAN, GF_AGG_MEDIAN};
    double spread[3] = {0};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(gf_aggregate(kinds[k], p, kinds[k] == GF_AGG_MEAN ? w : NULL, n, L, trim, got), GF_OK, "%s", gf_errmsg());
        const double *want = ref + 2 * n + (size_t)k * L;
        for (int j = 0; j < L; j++) {
            cr_assert_float_eq(got[j], want[j], 1e-6 * (1 + fabs(want[j])), "n %zu %s [%d]: %g vs numpy %g", n,
                               gf_aggregator_name(kinds[k]), j, got[j], want[j]);
            spread[k] = fmax(spread[k], fabs(want[j]));
        }
    }
    /* Not vacuous: with the x1000 outlier the mean is far from the median
     * (n >= 3), so a mean passed off as a median would fail above. */
    if (n >= 3) cr_assert_gt(spread[0], 10 * spread[2], "n %zu: mean %g vs median %g", n, spread[0], spread[2]);
    free(in), free(out);
}

Test(robust, aggregators_match_numpy_odd_and_even_counts_with_ties)
{
    const size_t ns[] = {1, 2, 3, 4, 5, 7, 8};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) run_case(ns[i], 0.25);
    run_case(5, 0.2);  /* floor(1.0) = 1 cut at each end */
    run_case(8, 0.49); /* 3 at each end: the two middle values */
    run_case(4, 0.0);  /* nothing cut: the unweighted mean */
}

Test(robust, trim_count_and_clipping)
{
    cr_assert_eq(gf_trim_count(0.2, 5), 1);
    cr_assert_eq(gf_trim_count(0.2, 4), 0);
    cr_assert_eq(gf_trim_count(0.25, 8), 2);
    cr_assert_eq(gf_trim_count(0.49, 2), 0);
    static float u[L];
    for (int j = 0; j < L; j++) u[j] = (float)(j % 7) - 3;
    gf_update_norms un;
    gf_update_norms_of(u, L, &un);
    double f = gf_update_clip_l2(u, L, un.l2, 1.0);
    cr_assert_lt(f, 1);
    gf_update_norms after;
    gf_update_norms_of(u, L, &after);
    cr_assert_leq(after.l2, 1.0, "clipped L2 %.9g", after.l2);
    cr_assert_gt(after.l2, 1.0 - 1e-5);
    cr_assert_eq(gf_update_clip_l2(u, L, after.l2, 1.0), 1, "within the bound: untouched");
    u[17] = NAN;
    gf_update_norms_of(u, L, &un);
    cr_assert_eq(un.nonfinite, 18);
    u[17] = 0, u[3] = -INFINITY;
    gf_update_norms_of(u, L, &un);
    cr_assert_eq(un.nonfinite, 4);
    const float *none[1] = {u};
    cr_assert_neq(gf_aggregate(GF_AGG_MEDIAN, none, NULL, 0, L, 0, u), GF_OK);
}

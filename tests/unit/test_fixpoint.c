/* Fixed-point encoding into Z_2^32: round trip, weighted average, clipping,
 * NaN/Inf, and the overflow guard exactly at 2^31. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "common/rng.h"
#include "crypto/fixpoint.h"

Test(fixpoint, overflow_guard_boundary_at_2_31)
{
    gf_fixpoint fp;
    /* n·M = 2^31 exactly: refused; one less: accepted. */
    cr_assert_eq(gf_fixpoint_plan(2, 1073741824.0, 1.0, &fp), GF_ERANGE);
    cr_assert_eq(gf_fixpoint_plan(2, 1073741823.0, 1.0, &fp), GF_OK);
    cr_assert_eq(fp.max_q, 1073741823);
    cr_assert_eq(gf_fixpoint_plan(1, 2147483647.0, 1.0, &fp), GF_OK);
    cr_assert_eq(gf_fixpoint_plan(1, 2147483648.0, 1.0, &fp), GF_ERANGE);
    /* 100 sites, clip 1, scale 2^24: 100·2^24 = 1.68e9 < 2^31 ok; scale 2^25: 3.4e9 refused. */
    cr_assert_eq(gf_fixpoint_plan(100, 1.0, 16777216.0, &fp), GF_OK);
    cr_assert_eq(gf_fixpoint_plan(100, 1.0, 33554432.0, &fp), GF_ERANGE);
    /* M rounds: clip·scale = 21474836.475 rounds to 21474836 → 100·M = 2147483600 < 2^31. */
    cr_assert_eq(gf_fixpoint_plan(100, 21474836.475, 1.0, &fp), GF_OK);
    cr_assert_eq(gf_fixpoint_plan(100, 21474836.6, 1.0, &fp), GF_ERANGE); /* M = 21474837 → 2147483700 */
    cr_assert_eq(gf_fixpoint_plan(0, 1, 1, &fp), GF_EINVAL);
    cr_assert_eq(gf_fixpoint_plan(3, NAN, 1, &fp), GF_EINVAL);
    cr_assert_eq(gf_fixpoint_plan(3, 1, INFINITY, &fp), GF_EINVAL);
    cr_assert_eq(gf_fixpoint_plan(3, 1, 1e-3, &fp), GF_EINVAL); /* M = 0 */
    cr_assert_eq(gf_fixpoint_plan_auto(50, 4.0, &fp), GF_OK);
    cr_assert_lt((double)fp.n_sites * fp.max_q, 2147483648.0);
    cr_assert_geq(2.0 * fp.n_sites * fp.max_q, 2147483648.0 - 2.0 * fp.n_sites); /* largest power of two */
}

Test(fixpoint, roundtrip_clip_and_nan)
{
    gf_fixpoint fp;
    cr_assert_eq(gf_fixpoint_plan(10, 2.0, 1 << 20, &fp), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, 9);
    enum { N = 10000 };
    float x[N], back[N];
    uint32_t q[N];
    for (int i = 0; i < N; i++) x[i] = (float)gf_rng_range(&r, -1.99, 1.99);
    x[0] = 5.0f, x[1] = -7.5f, x[2] = 0.0f;
    cr_assert_eq(gf_fixpoint_encode(&fp, x, N, 1.0, q), GF_OK);
    gf_fixpoint_decode(&fp, q, N, back);
    cr_assert_float_eq(back[0], 2.0f, 1e-9);
    cr_assert_float_eq(back[1], -2.0f, 1e-9);
    cr_assert_eq(q[2], 0u);
    for (int i = 3; i < N; i++) cr_assert_leq(fabs((double)back[i] - x[i]), 0.5 / fp.scale + 1e-7 * fabs(x[i]), "%d", i);
    x[77] = NAN;
    cr_assert_eq(gf_fixpoint_encode(&fp, x, N, 1.0, q), GF_ENUMERIC);
    x[77] = -INFINITY;
    cr_assert_eq(gf_fixpoint_encode(&fp, x, N, 1.0, q), GF_ENUMERIC);
    cr_assert_eq(gf_fixpoint_encode(&fp, x, 10, 1.5, q), GF_EINVAL);
}

Test(fixpoint, weighted_sum_decodes_to_weighted_average)
{
    enum { S = 7, N = 2000 };
    gf_fixpoint fp;
    cr_assert_eq(gf_fixpoint_plan_auto(S, 1.0, &fp), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, 11);
    static float x[S][N];
    double cnt[S], tot = 0;
    for (int s = 0; s < S; s++) { cnt[s] = 10 + (double)gf_rng_below(&r, 500); tot += cnt[s]; }
    uint32_t sum[N] = {0}, q[N];
    for (int s = 0; s < S; s++) {
        for (int i = 0; i < N; i++) x[s][i] = (float)gf_rng_range(&r, -1, 1);
        cr_assert_eq(gf_fixpoint_encode(&fp, x[s], N, cnt[s] / tot, q), GF_OK);
        for (int i = 0; i < N; i++) sum[i] += q[i];
    }
    float avg[N];
    gf_fixpoint_decode(&fp, sum, N, avg);
    for (int i = 0; i < N; i++) {
        double want = 0;
        for (int s = 0; s < S; s++) want += cnt[s] / tot * x[s][i];
        cr_assert_leq(fabs(avg[i] - want), S * 0.5 / fp.scale + 1e-6, "coordinate %d: %g vs %g", i, avg[i], want);
    }
}

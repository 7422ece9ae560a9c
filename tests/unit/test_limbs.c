/* crypto/fixpoint limbs: the ring sum (Z_2^32 per word, with and without
 * cancelling masks) of many parties' 16-bit-limb encodings decodes to the
 * exact int64 sum mod 2^64, checked against Python integers
 * (tests/py/limbs_ref.py). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/rng.h"
#include "crypto/fixpoint.h"
#include "testutil.h"

/* Python's exact sum of v[p][n] (party-major) mod 2^64, signed. */
static int64_t *python_sums(const int64_t *v, int P, int N)
{
    const char *dir = tu_dir();
    char *in = tu_path(dir, "in.bin"), *out = tu_path(dir, "out.bin");
    FILE *fp = fopen(in, "wb");
    cr_assert(fp);
    cr_assert_eq(fwrite(v, sizeof *v, (size_t)P * N, fp), (size_t)P * N);
    fclose(fp);
    int rc = tu_sh("%s %s/tests/py/limbs_ref.py %s %d %d %s", tu_python(), tu_root(), in, P, N, out);
    cr_assert_eq(rc, 0, "limbs_ref.py failed (exit %d)", rc);
    int64_t *r = malloc((size_t)N * sizeof *r);
    fp = fopen(out, "rb");
    cr_assert(r && fp);
    cr_assert_eq(fread(r, sizeof *r, (size_t)N, fp), (size_t)N);
    fclose(fp);
    tu_sh("rm -rf %s", dir);
    free(in); free(out);
    return r;
}

/* Sums the encodings of P parties in uint32 words (wrapping mod 2^32, as the
 * secure aggregation ring does); masked: each party adds a random mask per
 * word, the last party the negated sum of the others' masks. */
static void check(const int64_t *v, int P, int N, int masked, uint64_t seed)
{
    uint32_t *enc = malloc((size_t)N * GF_LIMBS * sizeof *enc), *sum = calloc((size_t)N * GF_LIMBS, sizeof *sum),
             *msum = calloc((size_t)N * GF_LIMBS, sizeof *msum);
    int64_t *got = malloc((size_t)N * sizeof *got);
    cr_assert(enc && sum && msum && got);
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (int p = 0; p < P; p++) {
        gf_limbs_encode(v + (size_t)p * N, (size_t)N, enc);
        for (size_t k = 0; k < (size_t)N * GF_LIMBS; k++) {
            cr_assert(enc[k] <= 0xffffu, "limb %zu of party %d is %u", k, p, enc[k]);
            uint32_t m = 0;
            if (masked) {
                m = p == P - 1 ? (uint32_t)(0u - msum[k]) : (uint32_t)gf_rng_u64(&r);
                msum[k] += m;
            }
            sum[k] += enc[k] + m;
        }
    }
    gf_limbs_decode(sum, (size_t)N, got);
    int64_t *ref = python_sums(v, P, N);
    for (int j = 0; j < N; j++)
        cr_assert_eq(got[j], ref[j], "index %d: decoded %lld, Python's exact sum mod 2^64 is %lld", j, (long long)got[j],
                     (long long)ref[j]);
    free(ref); free(enc); free(sum); free(msum); free(got);
}

Test(limbs, single_values_round_trip)
{
    const int64_t v[6] = {0, 1, -1, INT64_MAX, INT64_MIN, -1234567890123456789LL};
    uint32_t enc[6 * GF_LIMBS];
    int64_t back[6];
    gf_limbs_encode(v, 6, enc);
    gf_limbs_decode(enc, 6, back);
    for (int i = 0; i < 6; i++) cr_assert_eq(back[i], v[i], "%lld came back as %lld", (long long)v[i], (long long)back[i]);
    cr_assert_eq(enc[8], 0xffffu, "-1 has all limbs 0xffff");
    cr_assert_eq(enc[11], 0xffffu);
    cr_assert_eq(enc[4], 1u, "1 is limb 0 = 1");
    cr_assert_eq(enc[5], 0u);
}

Test(limbs, random_values_of_257_parties_masked_and_plain)
{
    enum { P = 257, N = 64 };
    int64_t *v = malloc((size_t)P * N * sizeof *v);
    cr_assert(v);
    gf_rng r;
    gf_rng_seed(&r, 5);
    for (size_t k = 0; k < (size_t)P * N; k++) {
        uint64_t u = gf_rng_u64(&r);
        int kind = (int)(k % 8);
        /* full 64-bit range (negatives included), small signed values, extremes */
        v[k] = kind == 0 ? INT64_MAX : kind == 1 ? INT64_MIN : kind == 2 ? (int64_t)(u % 2001) - 1000
                                                                         : (int64_t)(u >> 1) * (u & 1 ? -1 : 1);
    }
    check(v, P, N, 0, 1);
    check(v, P, N, 1, 2);
    free(v);
}

/* The documented limit: 65536 parties all holding the values with every limb
 * 0xffff (-1) or the extremes; each word then reaches 65536·65535 < 2^32. */
Test(limbs, max_parties_extremes_do_not_wrap)
{
    enum { P = 65536, N = 4 };
    int64_t *v = malloc((size_t)P * N * sizeof *v);
    cr_assert(v);
    for (int p = 0; p < P; p++) {
        v[(size_t)p * N + 0] = -1;
        v[(size_t)p * N + 1] = INT64_MAX;
        v[(size_t)p * N + 2] = INT64_MIN;
        v[(size_t)p * N + 3] = p % 2 ? INT64_MIN : 12345;
    }
    check(v, P, N, 1, 3);
    free(v);
}

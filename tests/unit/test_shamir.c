/* Shamir t-of-n over GF(2^61-1): any t shares reconstruct, t-1 do not. */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/rng.h"
#include "crypto/shamir.h"

static void shuffle(gf_shamir_share *s, int n, gf_rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)gf_rng_below(r, (uint64_t)i + 1);
        gf_shamir_share t = s[i];
        s[i] = s[j];
        s[j] = t;
    }
}

Test(shamir, any_t_reconstruct_random_subsets)
{
    gf_rng r;
    gf_rng_seed(&r, 5);
    int ns[] = {1, 2, 3, 5, 10, 21, 50};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        int n = ns[a];
        uint32_t xs[64];
        for (int i = 0; i < n; i++) xs[i] = (uint32_t)(3 * i + 1 + (i > 5 ? 1000 : 0));
        for (int t = 1; t <= n; t += (n > 10 ? 7 : 1)) {
            uint8_t sec[32], got[32];
            cr_assert_eq(RAND_bytes(sec, 32), 1);
            if (t == 2) memset(sec, 0xff, 32); /* extreme chunk values */
            gf_shamir_share sh[64];
            cr_assert_eq(gf_shamir_split(sec, t, n, xs, sh), GF_OK, "%s", gf_errmsg());
            for (int rep = 0; rep < 5; rep++) {
                shuffle(sh, n, &r);
                int m = t + (int)gf_rng_below(&r, (uint64_t)(n - t + 1));
                cr_assert_eq(gf_shamir_combine(sh, m, t, got), GF_OK, "n %d t %d: %s", n, t, gf_errmsg());
                cr_assert_arr_eq(got, sec, 32, "n %d t %d", n, t);
                /* t-1 shares, interpolated as if they were enough: a different value (or refused). */
                if (t >= 2) {
                    gf_err e = gf_shamir_combine(sh, t - 1, t - 1, got);
                    cr_assert(e != GF_OK || memcmp(got, sec, 32) != 0, "n %d t %d: t-1 shares gave the secret", n, t);
                    cr_assert_eq(gf_shamir_combine(sh, t - 1, t, got), GF_ESTATE);
                }
            }
        }
    }
}

Test(shamir, pack_roundtrip_and_bad_inputs)
{
    uint8_t sec[32] = {1, 2, 3}, got[32], buf[GF_SHAMIR_SHARE_BYTES];
    uint32_t xs[3] = {1, 2, 3}, dup[3] = {1, 2, 2}, zero[3] = {0, 1, 2};
    gf_shamir_share sh[3], back[3];
    cr_assert_eq(gf_shamir_split(sec, 2, 3, dup, sh), GF_EINVAL);
    cr_assert_eq(gf_shamir_split(sec, 2, 3, zero, sh), GF_EINVAL);
    cr_assert_eq(gf_shamir_split(sec, 4, 3, xs, sh), GF_EINVAL);
    cr_assert_eq(gf_shamir_split(sec, 2, 3, xs, sh), GF_OK);
    for (int i = 0; i < 3; i++) {
        gf_shamir_share_pack(&sh[i], buf);
        cr_assert_eq(gf_shamir_share_unpack(xs[i], buf, &back[i]), GF_OK);
    }
    cr_assert_eq(gf_shamir_combine(back + 1, 2, 2, got), GF_OK);
    cr_assert_arr_eq(got, sec, 32);
    memset(buf, 0xff, 8);
    cr_assert_eq(gf_shamir_share_unpack(1, buf, &back[0]), GF_EFORMAT);
    back[2] = back[1];
    cr_assert_eq(gf_shamir_combine(back + 1, 2, 2, got), GF_EINVAL); /* duplicate x */
    /* A corrupted share is (almost surely) detected by the chunk range check or changes the secret. */
    cr_assert_eq(gf_shamir_split(sec, 2, 3, xs, sh), GF_OK);
    sh[0].y[0] ^= 1;
    gf_err e = gf_shamir_combine(sh, 2, 2, got);
    cr_assert(e != GF_OK || memcmp(got, sec, 32) != 0);
}

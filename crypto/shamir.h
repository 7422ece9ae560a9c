/* Shamir t-of-n sharing of 32-byte secrets over the prime field p = 2^61 - 1.
 * The secret is cut into 5 chunks of at most 7 bytes (56 bits < p); each chunk
 * is the constant term of its own random polynomial of degree t-1 (coefficients
 * uniform in [0, p) from RAND_bytes). A share is (x, y[5]) with x the holder's
 * party index (>= 1); reconstruction is Lagrange interpolation at 0. */
#ifndef GF_SHAMIR_H
#define GF_SHAMIR_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

#define GF_SHAMIR_CHUNKS 5
#define GF_SHAMIR_SECRET 32
#define GF_SHAMIR_SHARE_BYTES 40  /* serialized y[5], 8 bytes LE each (x is implicit) */
#define GF_SHAMIR_MAX_N 65535
#define GF_SHAMIR_MAX_T 1024  /* polynomial degree cap (coefficients live on the stack) */
#define GF_SHAMIR_P ((uint64_t)0x1FFFFFFFFFFFFFFFULL)

typedef struct {
    uint32_t x;
    uint64_t y[GF_SHAMIR_CHUNKS];
} gf_shamir_share;

/* Shares secret among n holders with x-coordinates xs[0..n) (distinct, 1..65535),
 * threshold t (1 <= t <= n). out[i] gets the share of xs[i]. */
gf_err gf_shamir_split(const uint8_t secret[GF_SHAMIR_SECRET], int t, int n, const uint32_t *xs,
                       gf_shamir_share *out);
/* Reconstructs from the first t of m shares (m >= t; distinct non-zero x, every
 * y < p). GF_ECRYPTO if the result is not a valid secret (a chunk >= 2^56: the
 * shares are inconsistent). */
gf_err gf_shamir_combine(const gf_shamir_share *shares, int m, int t, uint8_t secret[GF_SHAMIR_SECRET]);

void gf_shamir_share_pack(const gf_shamir_share *s, uint8_t out[GF_SHAMIR_SHARE_BYTES]);
/* GF_EFORMAT if some y >= p. */
gf_err gf_shamir_share_unpack(uint32_t x, const uint8_t in[GF_SHAMIR_SHARE_BYTES], gf_shamir_share *s);

#endif

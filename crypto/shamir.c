#include "crypto/shamir.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/keyagree.h"

#define P GF_SHAMIR_P

static uint64_t fred(unsigned __int128 a) /* a < 2^122 */
{
    uint64_t lo = (uint64_t)a & P, hi = (uint64_t)(a >> 61);
    uint64_t r = lo + (hi & P) + (hi >> 61);
    r = (r & P) + (r >> 61);
    return r >= P ? r - P : r;
}
static uint64_t fmul(uint64_t a, uint64_t b) { return fred((unsigned __int128)a * b); }
static uint64_t fadd(uint64_t a, uint64_t b) { uint64_t r = a + b; return r >= P ? r - P : r; }
static uint64_t fsub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + P - b; }
static uint64_t finv(uint64_t a) /* a != 0; Fermat: a^(p-2) */
{
    uint64_t r = 1, e = P - 2;
    while (e) {
        if (e & 1) r = fmul(r, a);
        a = fmul(a, a);
        e >>= 1;
    }
    return r;
}

static gf_err rand_field(uint64_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t v;
        do {
            if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) return gf_fail(GF_ECRYPTO, "shamir: RAND_bytes failed");
            v &= P; /* 61 uniform bits; reject the single value p itself */
        } while (v == P);
        out[i] = v;
    }
    return GF_OK;
}

static void chunks_of(const uint8_t s[32], uint64_t c[GF_SHAMIR_CHUNKS])
{
    for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) {
        c[k] = 0;
        for (int j = 0; j < 7 && 7 * k + j < 32; j++) c[k] |= (uint64_t)s[7 * k + j] << (8 * j);
    }
}

gf_err gf_shamir_split(const uint8_t secret[GF_SHAMIR_SECRET], int t, int n, const uint32_t *xs,
                       gf_shamir_share *out)
{
    if (n < 1 || n > GF_SHAMIR_MAX_N || t < 1 || t > n)
        return gf_fail(GF_EINVAL, "shamir: threshold %d of %d holders", t, n);
    for (int i = 0; i < n; i++) {
        if (xs[i] == 0 || xs[i] > GF_SHAMIR_MAX_N) return gf_fail(GF_EINVAL, "shamir: x-coordinate %u", xs[i]);
        for (int j = 0; j < i; j++)
            if (xs[j] == xs[i]) return gf_fail(GF_EINVAL, "shamir: duplicate x-coordinate %u", xs[i]);
    }
    uint64_t coef[GF_SHAMIR_CHUNKS][GF_SHAMIR_MAX_T];
    if (t > GF_SHAMIR_MAX_T) return gf_fail(GF_EINVAL, "shamir: threshold %d over %d", t, GF_SHAMIR_MAX_T);
    uint64_t c0[GF_SHAMIR_CHUNKS];
    chunks_of(secret, c0);
    gf_err e = GF_OK;
    for (int k = 0; k < GF_SHAMIR_CHUNKS && e == GF_OK; k++) {
        coef[k][0] = c0[k];
        e = rand_field(&coef[k][1], t - 1);
    }
    for (int i = 0; i < n && e == GF_OK; i++) {
        out[i].x = xs[i];
        for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) { /* Horner */
            uint64_t y = 0;
            for (int d = t - 1; d >= 0; d--) y = fadd(fmul(y, xs[i]), coef[k][d]);
            out[i].y[k] = y;
        }
    }
    OPENSSL_cleanse(coef, sizeof coef);
    OPENSSL_cleanse(c0, sizeof c0);
    if (e != GF_OK) OPENSSL_cleanse(out, (size_t)n * sizeof *out);
    return e;
}

gf_err gf_shamir_combine(const gf_shamir_share *sh, int m, int t, uint8_t secret[GF_SHAMIR_SECRET])
{
    if (t < 1 || t > GF_SHAMIR_MAX_T || m < t) return gf_fail(GF_ESTATE, "shamir: %d shares, threshold %d", m, t);
    for (int i = 0; i < t; i++) {
        if (sh[i].x == 0 || sh[i].x > GF_SHAMIR_MAX_N) return gf_fail(GF_EINVAL, "shamir: x-coordinate %u", sh[i].x);
        for (int k = 0; k < GF_SHAMIR_CHUNKS; k++)
            if (sh[i].y[k] >= P) return gf_fail(GF_EFORMAT, "shamir: share value out of field");
        for (int j = 0; j < i; j++)
            if (sh[j].x == sh[i].x) return gf_fail(GF_EINVAL, "shamir: duplicate x-coordinate %u", sh[i].x);
    }
    uint64_t c[GF_SHAMIR_CHUNKS] = {0};
    for (int i = 0; i < t; i++) {
        /* Lagrange basis at 0: prod_j x_j / (x_j - x_i) */
        uint64_t num = 1, den = 1;
        for (int j = 0; j < t; j++) {
            if (j == i) continue;
            num = fmul(num, sh[j].x);
            den = fmul(den, fsub(sh[j].x, sh[i].x));
        }
        uint64_t l = fmul(num, finv(den));
        for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) c[k] = fadd(c[k], fmul(l, sh[i].y[k]));
    }
    gf_err e = GF_OK;
    for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) {
        int bytes = k == GF_SHAMIR_CHUNKS - 1 ? 32 - 7 * k : 7;
        if (c[k] >> (8 * bytes)) e = gf_fail(GF_ECRYPTO, "shamir: inconsistent shares (chunk %d out of range)", k);
        for (int j = 0; j < bytes; j++) secret[7 * k + j] = (uint8_t)(c[k] >> (8 * j));
    }
    OPENSSL_cleanse(c, sizeof c);
    if (e != GF_OK) OPENSSL_cleanse(secret, GF_SHAMIR_SECRET);
    return e;
}

void gf_shamir_share_pack(const gf_shamir_share *s, uint8_t out[GF_SHAMIR_SHARE_BYTES])
{
    for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) gf_put_u64le(out + 8 * k, s->y[k]);
}

gf_err gf_shamir_share_unpack(uint32_t x, const uint8_t in[GF_SHAMIR_SHARE_BYTES], gf_shamir_share *s)
{
    s->x = x;
    for (int k = 0; k < GF_SHAMIR_CHUNKS; k++) {
        s->y[k] = gf_get_u64le(in + 8 * k);
        if (s->y[k] >= P) return gf_fail(GF_EFORMAT, "shamir share: value %d out of field", k);
    }
    return GF_OK;
}

/* Fixed-point encoding of float updates into the ring Z_2^32.
 * A plan fixes (n_sites, clip, scale): a party encodes q = round(clip_c(x·w)·scale)
 * as int32 → uint32, where clip_c clips to [-clip, clip] and w is its sample
 * weight (n_i / Σn, applied before encoding so the ring sum decodes to the
 * weighted average). With M = round(clip·scale) every |q| ≤ M, so the sum of
 * n_sites inputs cannot wrap iff n_sites·M < 2^31: a plan that could overflow
 * is refused up front. The sum decodes as (int32)Σ / scale. */
#ifndef GF_FIXPOINT_H
#define GF_FIXPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

typedef struct {
    uint32_t n_sites;
    double clip;      /* > 0, applied to x·w */
    double scale;     /* > 0, units per 1.0 */
    int64_t max_q;    /* round(clip·scale) */
} gf_fixpoint;

/* GF_ERANGE (naming the product) when n_sites·round(clip·scale) ≥ 2^31;
 * GF_EINVAL for a non-finite or non-positive clip/scale, n_sites = 0, or
 * round(clip·scale) = 0. */
gf_err gf_fixpoint_plan(uint32_t n_sites, double clip, double scale, gf_fixpoint *out);
/* The largest power-of-two scale a plan of (n_sites, clip) accepts. */
gf_err gf_fixpoint_plan_auto(uint32_t n_sites, double clip, gf_fixpoint *out);

/* out[i] = encode(x[i]·weight). weight must be finite and in [0, 1];
 * GF_ENUMERIC naming the index for NaN/Inf input. */
gf_err gf_fixpoint_encode(const gf_fixpoint *fp, const float *x, size_t n, double weight, uint32_t *out);
/* out[i] = (int32)sum[i] / scale. */
void gf_fixpoint_decode(const gf_fixpoint *fp, const uint32_t *sum, size_t n, float *out);

/* Exact ring sums of 64-bit integers (the pooled normalization sums: frame
 * counts, Σx, Σx² in fixed point). A 64-bit value does not fit one Z_2^32
 * word, and wrapping would lose the sum, so each value v is split into four
 * 16-bit limbs of its two's-complement bits u = (uint64)v:
 *     out[4i + k] = (u >> 16k) & 0xffff,  k = 0..3 (least significant first)
 * one limb per uint32 word. The sum of P encodings is at most P·65535 per
 * word, below 2^32 for P <= 65537 parties: the ring sum of up to 65536
 * parties never wraps inside a word (masks cancel mod 2^32 and leave that
 * exact integer). Decoding recombines Σ_k sum[4i+k]·2^16k mod 2^64 (the
 * carries of each word flow into the higher limbs) and reads the result as
 * signed: the exact int64 sum mod 2^64, i.e. the true sum whenever that
 * fits int64. */
#define GF_LIMBS 4
#define GF_LIMBS_MAX_PARTIES 65536u
/* out: 4n words. */
void gf_limbs_encode(const int64_t *v, size_t n, uint32_t *out);
/* sum: 4n words (the ring sum of encodings); out: n values. */
void gf_limbs_decode(const uint32_t *sum, size_t n, int64_t *out);

#endif

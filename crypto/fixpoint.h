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

#endif

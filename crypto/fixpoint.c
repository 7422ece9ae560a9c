#include "crypto/fixpoint.h"

#include <math.h>

gf_err gf_fixpoint_plan(uint32_t n_sites, double clip, double scale, gf_fixpoint *out)
{
    if (n_sites == 0) return gf_fail(GF_EINVAL, "fixpoint: n_sites must be >= 1");
    if (!isfinite(clip) || clip <= 0) return gf_fail(GF_EINVAL, "fixpoint: clip %g must be finite and > 0", clip);
    if (!isfinite(scale) || scale <= 0) return gf_fail(GF_EINVAL, "fixpoint: scale %g must be finite and > 0", scale);
    double mq = nearbyint(clip * scale);
    if (!(mq >= 1)) return gf_fail(GF_EINVAL, "fixpoint: clip*scale rounds to 0 (clip %g, scale %g)", clip, scale);
    /* Compare in exact integer arithmetic where it fits; a huge M fails either way. */
    if (mq >= 2147483648.0 || (uint64_t)n_sites * (uint64_t)mq >= (UINT64_C(1) << 31))
        return gf_fail(GF_ERANGE, "fixpoint: n_sites %u x max encoded %.0f >= 2^31 (the sum could wrap)", n_sites, mq);
    out->n_sites = n_sites;
    out->clip = clip;
    out->scale = scale;
    out->max_q = (int64_t)mq;
    return GF_OK;
}

gf_err gf_fixpoint_plan_auto(uint32_t n_sites, double clip, gf_fixpoint *out)
{
    if (n_sites == 0 || !isfinite(clip) || clip <= 0)
        return gf_fail(GF_EINVAL, "fixpoint: n_sites %u, clip %g", n_sites, clip);
    for (int e = 40; e >= -40; e--)
        if (gf_fixpoint_plan(n_sites, clip, ldexp(1.0, e), out) == GF_OK) return GF_OK;
    return gf_fail(GF_ERANGE, "fixpoint: no scale fits %u sites with clip %g", n_sites, clip);
}

gf_err gf_fixpoint_encode(const gf_fixpoint *fp, const float *x, size_t n, double weight, uint32_t *out)
{
    if (!isfinite(weight) || weight < 0 || weight > 1)
        return gf_fail(GF_EINVAL, "fixpoint: weight %g must be in [0, 1]", weight);
    const double c = fp->clip, s = fp->scale, m = (double)fp->max_q;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return gf_fail(GF_ENUMERIC, "fixpoint: update[%zu] is %s", i, isnan(x[i]) ? "NaN" : "Inf");
        double v = (double)x[i] * weight;
        v = v > c ? c : v < -c ? -c : v;
        double q = nearbyint(v * s);
        q = q > m ? m : q < -m ? -m : q; /* round(v*s) never exceeds round(c*s); belt and braces */
        out[i] = (uint32_t)(int32_t)q;
    }
    return GF_OK;
}

void gf_fixpoint_decode(const gf_fixpoint *fp, const uint32_t *sum, size_t n, float *out)
{
    const double inv = 1.0 / fp->scale;
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)(int32_t)sum[i] * inv);
}

void gf_limbs_encode(const int64_t *v, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u = (uint64_t)v[i]; /* two's complement bits (conversion mod 2^64) */
        for (int k = 0; k < GF_LIMBS; k++) out[GF_LIMBS * i + k] = (uint32_t)((u >> (16 * k)) & 0xffffu);
    }
}

void gf_limbs_decode(const uint32_t *sum, size_t n, int64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0; /* unsigned: the recombination wraps mod 2^64 by definition */
        for (int k = 0; k < GF_LIMBS; k++) u += (uint64_t)sum[GF_LIMBS * i + k] << (16 * k);
        /* signed reading without implementation-defined conversion */
        out[i] = u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
    }
}

/* Bounding what one site can do to the global model in plain mode: the check
 * every update gets on arrival (finite; L2 and L∞ against update_clip; an L2
 * over the bound is scaled down to it) and the coordinate-wise aggregators
 * (docs/THREAT_MODEL.md "Bounded influence"). Pure functions: tested against
 * numpy in tests/unit/test_robust.c. */
#ifndef GF_COORD_ROBUST_H
#define GF_COORD_ROBUST_H
#include <stddef.h>

#include "common/err.h"
#include "coordinator/config.h"

typedef struct {
    double l2, linf;     /* over the finite values */
    size_t nonfinite;    /* 1 + index of the first NaN/Inf; 0 when every value is finite */
} gf_update_norms;

void gf_update_norms_of(const float *u, size_t L, gf_update_norms *out);
/* u *= clip / l2 when l2 > clip (a hair below, so the float result is within
 * the bound too); returns the factor applied (1 when within). */
double gf_update_clip_l2(float *u, size_t L, double l2, double clip);

/* Trimmed mean: floor(trim_fraction·n) values cut at each end of each coordinate. */
size_t gf_trim_count(double trim_fraction, size_t n);

/* out[j] = the aggregator over u[0..n)[j]: mean weighted by w (w may be NULL:
 * equal weights; weights > 0), or the unweighted trimmed mean or median
 * (numpy's: the mean of the two middle values for even n). n >= 1. */
gf_err gf_aggregate(gf_aggregator a, const float *const *u, const double *w, size_t n, size_t L, double trim_fraction,
                    float *out);

#endif

#include "coordinator/robust.h"

#include <math.h>
#include <stdlib.h>

void gf_update_norms_of(const float *u, size_t L, gf_update_norms *out)
{
    double s = 0, m = 0;
    out->nonfinite = 0;
    for (size_t i = 0; i < L; i++) {
        double v = u[i];
        if (!isfinite(v)) {
            if (!out->nonfinite) out->nonfinite = i + 1;
            continue;
        }
        s += v * v;
        if (fabs(v) > m) m = fabs(v);
    }
    out->l2 = sqrt(s);
    out->linf = m;
}

double gf_update_clip_l2(float *u, size_t L, double l2, double clip)
{
    if (!(l2 > clip)) return 1;
    double f = clip / l2 * (1 - 1e-6); /* float rounding of each product stays far inside 1e-6 */
    for (size_t i = 0; i < L; i++) u[i] = (float)(u[i] * f);
    return f;
}

size_t gf_trim_count(double trim_fraction, size_t n)
{
    size_t k = (size_t)floor(trim_fraction * (double)n + 1e-9);
    return 2 * k < n ? k : (n - 1) / 2;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

gf_err gf_aggregate(gf_aggregator a, const float *const *u, const double *w, size_t n, size_t L, double trim_fraction,
                    float *out)
{
    if (!n) return gf_fail(GF_EINVAL, "aggregation: no updates");
    if (a == GF_AGG_MEAN) {
        double W = 0;
        for (size_t i = 0; i < n; i++) W += w ? w[i] : 1;
        if (!(W > 0)) return gf_fail(GF_EINVAL, "aggregation: the weights sum to %g", W);
        for (size_t j = 0; j < L; j++) {
            double acc = 0;
            for (size_t i = 0; i < n; i++) acc += (w ? w[i] : 1) * u[i][j];
            out[j] = (float)(acc / W);
        }
        return GF_OK;
    }
    double *col = malloc(n * sizeof *col);
    if (!col) return gf_fail(GF_ENOMEM, "aggregation: out of memory");
    size_t k = a == GF_AGG_TRIMMED_MEAN ? gf_trim_count(trim_fraction, n) : 0;
    for (size_t j = 0; j < L; j++) {
        for (size_t i = 0; i < n; i++) col[i] = u[i][j];
        qsort(col, n, sizeof *col, cmp_double);
        if (a == GF_AGG_MEDIAN) {
            out[j] = (float)(n % 2 ? col[n / 2] : (col[n / 2 - 1] + col[n / 2]) / 2);
        } else {
            double acc = 0;
            for (size_t i = k; i < n - k; i++) acc += col[i];
            out[j] = (float)(acc / (double)(n - 2 * k));
        }
    }
    free(col);
    return GF_OK;
}

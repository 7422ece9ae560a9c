#include "sites/stats.h"

#include <math.h>
#include <string.h>

gf_err gf_xstats_compute(const gf_dataset *ds, gf_xstats *out)
{
    memset(out, 0, sizeof *out);
    if (ds->n <= 0) return gf_fail(GF_EINVAL, "statistics of an empty data set");
    /* Two passes in double: the mean first, then squared deviations (stable). */
    size_t frames = (size_t)ds->n * GF_T;
    double sum[GF_DIN] = {0}, ss[GF_DIN] = {0};
    for (size_t f = 0; f < frames; f++)
        for (int c = 0; c < GF_DIN; c++) sum[c] += ds->x[f * GF_DIN + c];
    for (int c = 0; c < GF_DIN; c++) out->mean[c] = sum[c] / (double)frames;
    for (size_t f = 0; f < frames; f++)
        for (int c = 0; c < GF_DIN; c++) {
            double d = ds->x[f * GF_DIN + c] - out->mean[c];
            ss[c] += d * d;
        }
    for (int c = 0; c < GF_DIN; c++) {
        out->sd[c] = sqrt(ss[c] / (double)frames);
        if (!isfinite(out->mean[c]) || !isfinite(out->sd[c]))
            return gf_fail(GF_ENUMERIC, "channel %s: non-finite values in inputs", gf_in_cols[c]);
    }
    out->count = (double)frames;
    return GF_OK;
}

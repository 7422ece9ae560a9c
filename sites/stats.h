/* Per-channel input statistics over all frames of a data set: the site's own
 * normalization statistics, which never leave the site. */
#ifndef GF_STATS_H
#define GF_STATS_H
#include "sites/dataset.h"

typedef struct {
    double count;           /* frames */
    double mean[GF_DIN];
    double sd[GF_DIN];      /* population SD (ddof 0) */
} gf_xstats;

gf_err gf_xstats_compute(const gf_dataset *ds, gf_xstats *out);

#endif

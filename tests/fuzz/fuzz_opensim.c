/* libFuzzer target for the OpenSim .mot/.sto reader and the GRF column
 * detection on top: any byte string must parse or fail with an error, never
 * crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "sites/grf_columns.h"
#include "sites/opensim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_osim_table t;
    if (gf_osim_parse("fuzz.sto", data, size, &t) == GF_OK) {
        /* Touch what a consumer touches. */
        (void)gf_osim_col(&t, "hip_flexion_r");
        (void)gf_osim_col(&t, t.raw_labels[t.n_cols - 1]);
        volatile double sink = t.data[(size_t)t.n_rows * (size_t)t.n_cols - 1];
        (void)sink;
        int r, l; /* detection, then the last column named explicitly; failures list the columns */
        (void)gf_grf_columns(&t, "fuzz.mot", NULL, NULL, &r, &l);
        (void)gf_grf_columns(&t, "fuzz.mot", t.raw_labels[t.n_cols - 1], "nope", &r, &l);
    }
    gf_osim_free(&t);
    return 0;
}

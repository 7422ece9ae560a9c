/* libFuzzer target for the .npz reader and the Gait2Hip layer on top. The
 * member cap is lowered to 64 MiB so a small input cannot legitimately
 * inflate past the fuzzer's memory limit (the cap logic is the same). */
#include <stdint.h>
#include <stdlib.h>

#include "sites/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_npz z;
    if (gf_npz_parse_capped("fuzz.npz", data, size, (size_t)64 << 20, &z) != GF_OK) return 0;
    char s[64];
    for (int k = 0; k < z.n; k++)
        for (int64_t i = 0; i < z.arrays[k].count && i < 16; i++) (void)gf_array_get_str(&z.arrays[k], i, s, sizeof s);
    gf_dataset ds;
    int task;
    if (gf_g2h_from_npz("fuzz.npz", &z, &ds, &task) == GF_OK) {
        if (!ds.x || (task == -1) != (!ds.yf && !ds.ym)) abort();
        gf_dataset_free(&ds);
    }
    gf_npz_free(&z);
    return 0;
}

/* libFuzzer target for the .npz reader and the Gait2Hip layer on top.
 * Inputs starting with 'R' are records (u8 name length, name, u32 LE length,
 * .npy bytes) assembled into a gf_npz without a zip: mutations inside a zip
 * member mostly die on its CRC, so this mode is what reaches deep into the
 * Gait2Hip checks. A length past the end of the input is zero-padded (up to
 * 4 MiB) so a tiny seed can stand for a full (1, 180, 10) X; truncation
 * itself is fuzzed by fuzz_npy and by the zip mode. Anything else is parsed as an npz with the member cap
 * lowered to 64 MiB, so a small input cannot legitimately inflate past the
 * fuzzer's memory limit (the cap logic is the same). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sites/npz.h"

static int from_records(const uint8_t *p, size_t n, gf_npz *z)
{
    memset(z, 0, sizeof *z);
    z->arrays = calloc(GF_NPZ_MAX_MEMBERS, sizeof *z->arrays);
    if (!z->arrays) return -1;
    while (n > 0 && z->n < GF_NPZ_MAX_MEMBERS) {
        size_t nl = p[0];
        if (n < 1 + nl + 4 || nl >= sizeof z->arrays[0].name) break;
        char name[sizeof z->arrays[0].name];
        memcpy(name, p + 1, nl);
        name[nl] = 0;
        uint32_t len = (uint32_t)p[1 + nl] | (uint32_t)p[2 + nl] << 8 | (uint32_t)p[3 + nl] << 16 | (uint32_t)p[4 + nl] << 24;
        p += 5 + nl;
        n -= 5 + nl;
        size_t have = len < n ? len : n;
        unsigned char *buf = NULL;
        if (len > n) {
            if (len > ((uint32_t)4 << 20) || !(buf = calloc(len, 1))) break;
            memcpy(buf, p, n);
        }
        gf_array *a = &z->arrays[z->n];
        if (!gf_npz_get(z, name) && gf_npy_parse("fuzz", buf ? buf : p, len, a) == GF_OK) {
            memcpy(a->name, name, nl + 1);
            z->n++;
        }
        free(buf);
        p += have;
        n -= have;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_npz z;
    if (size > 0 && data[0] == 'R') {
        if (from_records(data + 1, size - 1, &z)) return 0;
    } else if (gf_npz_parse_capped("fuzz.npz", data, size, (size_t)64 << 20, &z) != GF_OK) {
        return 0;
    }
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

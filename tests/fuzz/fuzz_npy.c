/* libFuzzer target for the .npy parser. Beyond "no crash", anything it
 * accepts must serialize and parse back to the same array. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sites/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_array a, b;
    if (gf_npy_parse("fuzz.npy", data, size, &a) != GF_OK) return 0;
    char s[64];
    for (int64_t i = 0; i < a.count && i < 64; i++) {
        (void)gf_array_get_f64(&a, i);
        (void)gf_array_get_str(&a, i, s, sizeof s);
    }
    unsigned char *buf;
    size_t len;
    if (gf_npy_serialize(&a, &buf, &len) != GF_OK) abort();
    if (gf_npy_parse("fuzz.npy", buf, len, &b) != GF_OK) abort();
    if (b.dtype != a.dtype || b.itemsize != a.itemsize || b.ndim != a.ndim || b.count != a.count ||
        memcmp(b.shape, a.shape, sizeof a.shape) || memcmp(a.data, b.data, (size_t)a.count * a.itemsize))
        abort();
    free(buf);
    gf_array_free(&a);
    gf_array_free(&b);
    return 0;
}

/* libFuzzer target for id lists (common/idlist.h, `train --test-subjects`):
 * any bytes parse or fail cleanly; what parses is a non-empty list of ids,
 * each non-empty, shorter than the cap, free of separators, '#' and control
 * bytes, and found in the input in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/idlist.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **ids = NULL;
    int n = 0;
    const char *buf = (const char *)data;
    if (gf_idlist_parse("fuzz", buf, size, 32, &ids, &n) != GF_OK) {
        CHECK(!ids && n == 0);
        return 0;
    }
    CHECK(ids && n >= 1 && n <= GF_IDLIST_MAX);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(ids[i]);
        CHECK(l >= 1 && l < 32);
        for (size_t k = 0; k < l; k++) {
            unsigned char c = (unsigned char)ids[i][k];
            CHECK(c >= 0x20 && c != 0x7f && !strchr(", #", c));
        }
        /* in the input, after the previous id */
        const char *p = NULL;
        for (size_t s = at; s + l <= size && !p; s++)
            if (!memcmp(buf + s, ids[i], l)) p = buf + s;
        CHECK(p);
        at = (size_t)(p - buf) + l;
    }
    gf_idlist_free(ids, n);
    return 0;
}

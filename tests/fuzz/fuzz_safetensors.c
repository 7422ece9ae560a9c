/* libFuzzer target for the safetensors reader (gf_safetensors_parse) and the
 * strict loader on top of it: every parsed file is also loaded into a small
 * fixed arena (a, b: [2]; c: [1, 1]) so the name/shape matching runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_safetensors st;
    if (gf_safetensors_parse("fuzz.safetensors", data, size, &st) != GF_OK) {
        if (st.n || st.t || st.meta) abort(); /* a refused parse leaves nothing */
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < st.n; i++) {
        if (!st.t[i].name[0] || (st.t[i].numel && !st.t[i].data)) abort();
        total += st.t[i].numel * 4;
    }
    if (total > size) abort();
    (void)gf_safetensors_meta(&st, "kind");
    gf_arena a;
    memset(&a, 0, sizeof a);
    if (gf_arena_add(&a, "a", 1, (int64_t[]){2}, NULL) == GF_OK && gf_arena_add(&a, "b", 1, (int64_t[]){2}, NULL) == GF_OK &&
        gf_arena_add(&a, "c", 2, (int64_t[]){1, 1}, NULL) == GF_OK && gf_arena_commit(&a) == GF_OK)
        (void)gf_safetensors_load_into(&a, &st, "fuzz.safetensors");
    gf_arena_free(&a);
    gf_safetensors_free(&st);
    return 0;
}

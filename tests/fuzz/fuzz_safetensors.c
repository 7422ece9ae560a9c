/* libFuzzer target for the safetensors reader (gf_safetensors_parse) and the
 * strict loader on top of it: every parsed file is also loaded into a small
 * fixed arena (a, b: [2]; c: [1, 1]) so the name/shape matching runs.
 * Inputs starting with 'J' are "J<header>\xff<data>": the 8-byte header
 * length is computed here, so mutations of the JSON keep a consistent
 * length and reach the entry and offset checks; anything else is a file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_safetensors st;
    uint8_t *own = NULL;
    if (size > 0 && data[0] == 'J') {
        const uint8_t *sep = memchr(data + 1, 0xff, size - 1);
        size_t hl = sep ? (size_t)(sep - data - 1) : size - 1;
        if (!(own = malloc(size + 8))) return 0;
        for (int b = 0; b < 8; b++) own[b] = (uint8_t)((uint64_t)hl >> (8 * b));
        memcpy(own + 8, data + 1, hl);
        size_t rest = sep ? size - 2 - hl : 0;
        if (rest) memcpy(own + 8 + hl, sep + 1, rest);
        data = own;
        size = 8 + hl + rest;
    }
    gf_err e = gf_safetensors_parse("fuzz.safetensors", data, size, &st);
    if (e != GF_OK) {
        free(own);
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
    free(own);
    return 0;
}

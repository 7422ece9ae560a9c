/* Small helpers for the crypto tests: hex conversion and file output. */
#ifndef GF_CRYPTO_TESTUTIL_H
#define GF_CRYPTO_TESTUTIL_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

static inline size_t tu_unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1]) {
        if (h[0] == ':' || h[0] == ' ' || h[0] == '\n') { h++; continue; }
        unsigned v;
        cr_assert_eq(sscanf(h, "%2x", &v), 1, "bad hex at %s", h);
        cr_assert_lt(n, cap);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}
static inline void tu_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}
static inline void tu_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "open %s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}
/* Reads up to cap bytes of path; returns the count. */
static inline size_t tu_read(const char *path, void *p, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    size_t n = fread(p, 1, cap, f);
    fclose(f);
    return n;
}
#endif

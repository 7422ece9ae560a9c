/* libFuzzer target for the text codecs of the wire (crypto/hash.h): base64
 * (adverts, certificates in cross-site keys) and hex (keys, signatures,
 * nonces, digests). The input, NUL-terminated, is decoded under a cap taken
 * from its first byte; what decodes must fit the cap, have the length the
 * text implies and survive a round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = (size_t)data[0] * 16;
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    size_t n = strlen(s);

    uint8_t *b = NULL;
    size_t len = 0;
    gf_err e = gf_b64_decode(s, cap, &b, &len);
    if (e == GF_OK) {
        size_t pads = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
        CHECK(b && len <= cap && n % 4 == 0 && len == n / 4 * 3 - pads);
        char *t = NULL;
        CHECK(gf_b64_encode(b, len, &t) == GF_OK && strlen(t) == n);
        uint8_t *b2 = NULL;
        size_t len2 = 0;
        CHECK(gf_b64_decode(t, cap, &b2, &len2) == GF_OK && len2 == len && !memcmp(b, b2, len));
        free(t), free(b2);
    } else {
        CHECK(!b && !len && !strchr(gf_errmsg(), '\n'));
    }
    free(b);

    size_t hn = n / 2;
    uint8_t *h = malloc(hn + 1);
    char *back = malloc(2 * hn + 1);
    if (h && back && gf_unhex(s, h, hn) == GF_OK) {
        CHECK(n == 2 * hn);
        gf_hex(h, hn, back);
        for (size_t i = 0; i < n; i++) CHECK(back[i] == (s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]));
    }
    free(h), free(back);
    free(s);
    return 0;
}

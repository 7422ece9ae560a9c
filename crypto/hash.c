#include "crypto/hash.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

gf_err gf_sha256(const void *data, size_t len, uint8_t out[GF_SHA256_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != GF_SHA256_LEN)
        return gf_fail(GF_ECRYPTO, "SHA-256 failed");
    return GF_OK;
}

void gf_hex(const uint8_t *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

gf_err gf_unhex(const char *hex, uint8_t *bytes, size_t n)
{
    if (!hex || strlen(hex) != 2 * n) return gf_fail(GF_EFORMAT, "hex string: expected %zu digits", 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return gf_fail(GF_EFORMAT, "hex string: bad digit at %zu", 2 * i);
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    return GF_OK;
}

gf_err gf_b64_encode(const uint8_t *in, size_t len, char **out)
{
    *out = NULL;
    if (len > (1u << 30)) return gf_fail(GF_ERANGE, "base64: %zu bytes is too much", len);
    char *b = malloc(4 * ((len + 2) / 3) + 1);
    if (!b) return gf_fail(GF_ENOMEM, "base64: out of memory");
    EVP_EncodeBlock((unsigned char *)b, in, (int)len);
    *out = b;
    return GF_OK;
}

gf_err gf_b64_decode(const char *in, size_t cap, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = strlen(in);
    if (n % 4) return gf_fail(GF_EFORMAT, "base64: length %zu is not a multiple of 4", n);
    if (n / 4 * 3 > cap + 2) return gf_fail(GF_ERANGE, "base64: more than %zu bytes", cap);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                 (c == '=' && i >= n - 2 && (i == n - 1 || in[n - 1] == '='));
        if (!ok) return gf_fail(GF_EFORMAT, "base64: bad character at %zu", i);
    }
    uint8_t *b = malloc(n / 4 * 3 + 1);
    if (!b) return gf_fail(GF_ENOMEM, "base64: out of memory");
    int got = n ? EVP_DecodeBlock(b, (const unsigned char *)in, (int)n) : 0;
    if (got < 0) {
        free(b);
        return gf_fail(GF_EFORMAT, "base64: not decodable");
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    size_t l = (size_t)got - (n && in[n - 1] == '=') - (n > 1 && in[n - 2] == '=');
    if (l > cap) {
        free(b);
        return gf_fail(GF_ERANGE, "base64: %zu bytes over the cap of %zu", l, cap);
    }
    *out = b;
    *len = l;
    return GF_OK;
}

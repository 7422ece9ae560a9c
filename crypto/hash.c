#include "crypto/hash.h"

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

#include "crypto/maskgen.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "maskgen reads keystream words with memcpy: little-endian hosts only"
#endif

#define BLOCK_BYTES 16384 /* keystream chunk: stays in L1/L2 between generate and add */

static EVP_CIPHER_CTX *ctr_ctx(const uint8_t key[32], const uint8_t iv[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c && EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) == 1) return c;
    EVP_CIPHER_CTX_free(c);
    return NULL;
}

gf_err gf_aes256ctr_xor(const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len)
{
    EVP_CIPHER_CTX *c = ctr_ctx(key, iv);
    if (!c) return gf_fail(GF_ECRYPTO, "aes-256-ctr: init failed");
    gf_err e = GF_OK;
    while (len) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len, ol = 0;
        if (EVP_EncryptUpdate(c, out, &ol, in, n) != 1 || ol != n) {
            e = gf_fail(GF_ECRYPTO, "aes-256-ctr: encryption failed");
            break;
        }
        in += n, out += n, len -= (size_t)n;
    }
    EVP_CIPHER_CTX_free(c);
    return e;
}

gf_err gf_aes256ctr_keystream(const uint8_t key[32], const uint8_t iv[16], uint8_t *out, size_t len)
{
    memset(out, 0, len);
    return gf_aes256ctr_xor(key, iv, out, out, len);
}

gf_err gf_mask_apply_range(uint32_t *v, size_t word_off, size_t n_words, const uint8_t key[32], int sign)
{
    if (sign != 1 && sign != -1) return gf_fail(GF_EINVAL, "mask: sign must be +1 or -1");
    if (!n_words) return GF_OK;
    /* Start at the 16-byte block holding word word_off: IV = block index (BE). */
    uint64_t blk = word_off / 4;
    size_t skip = word_off % 4;
    uint8_t iv[16] = {0};
    for (int i = 0; i < 8; i++) iv[15 - i] = (uint8_t)(blk >> (8 * i));
    EVP_CIPHER_CTX *c = ctr_ctx(key, iv);
    if (!c) return gf_fail(GF_ECRYPTO, "mask: aes-256-ctr init failed");
    static const uint8_t zeros[BLOCK_BYTES];
    _Alignas(64) uint8_t ks[BLOCK_BYTES];
    gf_err e = GF_OK;
    int first = 1;
    while (n_words) {
        size_t want = (n_words + skip) * 4;
        int n = (int)(want < BLOCK_BYTES ? (want + 15) / 16 * 16 : BLOCK_BYTES), ol = 0;
        if (EVP_EncryptUpdate(c, ks, &ol, zeros, n) != 1 || ol != n) {
            e = gf_fail(GF_ECRYPTO, "mask: aes-256-ctr failed");
            break;
        }
        size_t w0 = first ? skip : 0, nw = (size_t)n / 4 - w0;
        if (nw > n_words) nw = n_words;
        const uint8_t *p = ks + 4 * w0;
        if (sign > 0)
            for (size_t i = 0; i < nw; i++) { uint32_t w; memcpy(&w, p + 4 * i, 4); v[i] += w; }
        else
            for (size_t i = 0; i < nw; i++) { uint32_t w; memcpy(&w, p + 4 * i, 4); v[i] -= w; }
        v += nw, n_words -= nw, first = 0, skip = 0;
    }
    OPENSSL_cleanse(ks, sizeof ks);
    EVP_CIPHER_CTX_free(c);
    return e;
}

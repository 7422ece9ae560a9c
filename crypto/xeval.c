/* Cross-site evaluation transport (crypto/xeval.h). */
#include "crypto/xeval.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/keyagree.h"

#define MAGIC "GFXE"
#define INFO_KEY "gaitfed xeval v1 key"
#define INFO_WRAP "gaitfed xeval v1 wrap"
#define INFO_MODEL "gaitfed xeval v1 model"

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* prefix 0 a 0 b (b may be NULL): domain-separated labels; len <= 24 + 128. */
static size_t label(uint8_t *buf, const char *prefix, const char *a, const char *b)
{
    size_t n = 0, l;
    l = strlen(prefix), memcpy(buf, prefix, l), n += l, buf[n++] = 0;
    l = strlen(a), memcpy(buf + n, a, l), n += l;
    if (b) buf[n++] = 0, l = strlen(b), memcpy(buf + n, b, l), n += l;
    return n;
}

gf_err gf_xeval_key_message(const char *name, uint64_t version, const uint8_t model_sha[32], const uint8_t pk[32],
                            uint8_t *buf, size_t *len)
{
    if (!name || !gf_name_valid(name)) return gf_fail(GF_EINVAL, "xeval: invalid site name");
    size_t n = label(buf, INFO_KEY, name, NULL);
    buf[n++] = 0;
    put_u64(buf + n, version), n += 8;
    memcpy(buf + n, model_sha, 32), n += 32;
    memcpy(buf + n, pk, 32), n += 32;
    *len = n;
    return GF_OK;
}

/* AES-256-GCM: out = nonce12 | ct[len] | tag16 (enc) or pt from that (dec). */
static gf_err gcm(int enc, const uint8_t key[32], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                  uint8_t *out)
{
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    if (!cx) return gf_fail(GF_ENOMEM, "xeval: out of memory");
    int ok = 1, ol = 0, fl = 0;
    const uint8_t *nonce = enc ? out : in;
    if (enc) ok = RAND_bytes(out, 12) == 1;
    if (ok && len > (size_t)1 << 30) ok = 0;
    if (enc) {
        ok = ok && EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(cx, NULL, &ol, aad, (int)aad_len) == 1 &&
             EVP_EncryptUpdate(cx, out + 12, &ol, in, (int)len) == 1 && EVP_EncryptFinal_ex(cx, out + 12 + ol, &fl) == 1 &&
             EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + len) == 1;
    } else {
        ok = ok && EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             EVP_DecryptUpdate(cx, NULL, &ol, aad, (int)aad_len) == 1 &&
             EVP_DecryptUpdate(cx, out, &ol, in + 12, (int)len) == 1 &&
             EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + len)) == 1 &&
             EVP_DecryptFinal_ex(cx, out + ol, &fl) == 1;
    }
    EVP_CIPHER_CTX_free(cx);
    return ok ? GF_OK : gf_fail(GF_ECRYPTO, "xeval: %s failed", enc ? "encryption" : "authentication");
}

static gf_err kek(const uint8_t sk[32], const uint8_t pk[32], const uint8_t model_sha[32], const char *from,
                  const char *to, uint8_t out[32], uint8_t *info, size_t *info_len)
{
    uint8_t shared[32];
    *info_len = label(info, INFO_WRAP, from, to);
    gf_err e = gf_x25519_derive(sk, pk, shared);
    if (!e) e = gf_hkdf_sha256(shared, 32, model_sha, 32, info, *info_len, out, 32);
    OPENSSL_cleanse(shared, sizeof shared);
    return e;
}

gf_err gf_xeval_seal(const char *sender, const uint8_t sk[32], uint64_t version, const uint8_t model_sha[32],
                     const float *theta, size_t L, const gf_xeval_recipient *rc, size_t n, uint8_t **out,
                     size_t *out_len)
{
    *out = NULL;
    if (!sender || !gf_name_valid(sender) || !theta || L == 0 || L > GF_XEVAL_MAX_PARAMS || n > GF_XEVAL_MAX_PEERS)
        return gf_fail(GF_EINVAL, "xeval: bad seal arguments");
    size_t sl = strlen(sender), len = 4 + 4 + 8 + 1 + sl + 4 + 8 + 28 + 4 * L;
    for (size_t i = 0; i < n; i++) {
        if (!rc[i].name || !gf_name_valid(rc[i].name) || !rc[i].pk) return gf_fail(GF_EINVAL, "xeval: bad recipient %zu", i);
        len += 1 + strlen(rc[i].name) + GF_XEVAL_WRAP;
    }
    uint8_t *b = malloc(len), *p = b, K[32], key[32], info[24 + 2 * 64];
    if (!b) return gf_fail(GF_ENOMEM, "xeval: out of memory");
    gf_err e = RAND_bytes(K, 32) == 1 ? GF_OK : gf_fail(GF_ECRYPTO, "xeval: RAND_bytes failed");
    memcpy(p, MAGIC, 4), p += 4;
    gf_put_u32le(p, 1), p += 4;
    put_u64(p, version), p += 8;
    *p++ = (uint8_t)sl, memcpy(p, sender, sl), p += sl;
    gf_put_u32le(p, (uint32_t)n), p += 4;
    for (size_t i = 0; i < n && !e; i++) {
        size_t rl = strlen(rc[i].name), il;
        *p++ = (uint8_t)rl, memcpy(p, rc[i].name, rl), p += rl;
        e = kek(sk, rc[i].pk, model_sha, sender, rc[i].name, key, info, &il);
        if (!e) e = gcm(1, key, info, il, K, 32, p);
        p += GF_XEVAL_WRAP;
    }
    OPENSSL_cleanse(key, sizeof key);
    put_u64(p, 28 + 4 * (uint64_t)L), p += 8;
    size_t il = label(info, INFO_MODEL, sender, NULL);
    info[il++] = 0;
    put_u64(info + il, version), il += 8;
    /* float32 little-endian on the wire; this code assumes a little-endian host (as node/ does). */
    if (!e) e = gcm(1, K, info, il, (const uint8_t *)theta, 4 * L, p);
    OPENSSL_cleanse(K, sizeof K);
    if (e) {
        free(b);
        return e;
    }
    *out = b;
    *out_len = len;
    return GF_OK;
}

/* A name of 1..63 valid bytes at *p (length byte first) into name. */
static int take_name(const uint8_t **p, const uint8_t *end, char name[64])
{
    if (end - *p < 1) return 0;
    size_t l = **p;
    if (l < 1 || l > 63 || (size_t)(end - *p - 1) < l) return 0;
    memcpy(name, *p + 1, l);
    name[l] = 0;
    *p += 1 + l;
    return strlen(name) == l && gf_name_valid(name);
}

gf_err gf_xeval_parse(const uint8_t *buf, size_t len, gf_xeval_body *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = buf, *end = buf + len;
    char nm[64];
    if (!buf || len < 4 + 4 + 8 + 2 + 4 + 8 + 28 || memcmp(p, MAGIC, 4) || gf_get_u32le(p + 4) != 1)
        return gf_fail(GF_EFORMAT, "xeval body: not a GFXE v1 message");
    p += 8;
    out->version = get_u64(p), p += 8;
    if (!take_name(&p, end, out->sender)) return gf_fail(GF_EFORMAT, "xeval body: bad sender name");
    if (end - p < 4) return gf_fail(GF_EFORMAT, "xeval body: truncated");
    uint32_t n = gf_get_u32le(p);
    p += 4;
    if (n > GF_XEVAL_MAX_PEERS) return gf_fail(GF_EFORMAT, "xeval body: %u recipients (cap %d)", n, GF_XEVAL_MAX_PEERS);
    out->wraps = p;
    for (uint32_t i = 0; i < n; i++) {
        if (!take_name(&p, end, nm)) return gf_fail(GF_EFORMAT, "xeval body: bad recipient name %u", i);
        if (end - p < GF_XEVAL_WRAP) return gf_fail(GF_EFORMAT, "xeval body: truncated wrap %u", i);
        p += GF_XEVAL_WRAP;
    }
    out->n_wraps = n;
    out->wraps_len = (size_t)(p - out->wraps);
    if (end - p < 8) return gf_fail(GF_EFORMAT, "xeval body: truncated");
    uint64_t m = get_u64(p);
    p += 8;
    if (m != (uint64_t)(end - p) || m < 32 || (m - 28) % 4 || (m - 28) / 4 > GF_XEVAL_MAX_PARAMS)
        return gf_fail(GF_EFORMAT, "xeval body: model ciphertext of %llu bytes where %zu remain", (unsigned long long)m,
                       (size_t)(end - p));
    out->ct = p;
    out->ct_len = (size_t)m;
    out->L = (size_t)(m - 28) / 4;
    return GF_OK;
}

gf_err gf_xeval_open(const gf_xeval_body *b, const char *me, const uint8_t sk[32], const uint8_t sender_pk[32],
                     const uint8_t model_sha[32], float *theta, size_t L)
{
    if (L != b->L) return gf_fail(GF_EFORMAT, "xeval: %s's model has %zu parameters, expected %zu", b->sender, b->L, L);
    const uint8_t *p = b->wraps, *end = b->wraps + b->wraps_len, *wrap = NULL;
    char nm[64];
    for (size_t i = 0; i < b->n_wraps; i++) {
        if (!take_name(&p, end, nm)) return gf_fail(GF_EFORMAT, "xeval body: bad recipient name");
        if (!strcmp(nm, me)) wrap = p;
        p += GF_XEVAL_WRAP;
    }
    if (!wrap) return gf_fail(GF_ENOTFOUND, "xeval: %s's model is not addressed to %s", b->sender, me);
    uint8_t key[32], K[32], info[24 + 2 * 64];
    size_t il;
    gf_err e = kek(sk, sender_pk, model_sha, b->sender, me, key, info, &il);
    if (!e) e = gcm(0, key, info, il, wrap, 32, K);
    OPENSSL_cleanse(key, sizeof key);
    if (!e) {
        il = label(info, INFO_MODEL, b->sender, NULL);
        info[il++] = 0;
        put_u64(info + il, b->version), il += 8;
        e = gcm(0, K, info, il, b->ct, 4 * L, (uint8_t *)theta);
    }
    OPENSSL_cleanse(K, sizeof K);
    if (e) return gf_fail(GF_ECRYPTO, "xeval: %s's model does not authenticate for %s", b->sender, me);
    return GF_OK;
}

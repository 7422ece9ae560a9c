#include "crypto/keyagree.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

gf_err gf_x25519_keypair(uint8_t priv[GF_X25519_LEN], uint8_t pub[GF_X25519_LEN])
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (!k) return gf_fail(GF_ECRYPTO, "x25519: key generation failed");
    size_t pl = GF_X25519_LEN, ql = GF_X25519_LEN;
    int ok = EVP_PKEY_get_raw_private_key(k, priv, &pl) == 1 && EVP_PKEY_get_raw_public_key(k, pub, &ql) == 1 &&
             pl == GF_X25519_LEN && ql == GF_X25519_LEN;
    EVP_PKEY_free(k);
    if (!ok) {
        OPENSSL_cleanse(priv, GF_X25519_LEN);
        return gf_fail(GF_ECRYPTO, "x25519: cannot export raw key");
    }
    return GF_OK;
}

gf_err gf_x25519_public(const uint8_t priv[GF_X25519_LEN], uint8_t pub[GF_X25519_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, GF_X25519_LEN);
    if (!k) return gf_fail(GF_ECRYPTO, "x25519: bad private key");
    size_t ql = GF_X25519_LEN;
    int ok = EVP_PKEY_get_raw_public_key(k, pub, &ql) == 1 && ql == GF_X25519_LEN;
    EVP_PKEY_free(k);
    return ok ? GF_OK : gf_fail(GF_ECRYPTO, "x25519: cannot compute public key");
}

gf_err gf_x25519_derive(const uint8_t priv[GF_X25519_LEN], const uint8_t peer_pub[GF_X25519_LEN],
                        uint8_t out[GF_X25519_LEN])
{
    gf_err e = GF_OK;
    EVP_PKEY *me = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, GF_X25519_LEN);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, GF_X25519_LEN);
    EVP_PKEY_CTX *cx = me ? EVP_PKEY_CTX_new_from_pkey(NULL, me, NULL) : NULL;
    size_t len = GF_X25519_LEN;
    /* OpenSSL refuses an all-zero shared secret (small-order peer) in derive. */
    if (!me || !peer || !cx || EVP_PKEY_derive_init(cx) != 1 || EVP_PKEY_derive_set_peer(cx, peer) != 1 ||
        EVP_PKEY_derive(cx, out, &len) != 1 || len != GF_X25519_LEN) {
        OPENSSL_cleanse(out, GF_X25519_LEN);
        e = gf_fail(GF_ECRYPTO, "x25519: key agreement failed (bad or small-order public key)");
    } else {
        uint8_t acc = 0;
        for (int i = 0; i < GF_X25519_LEN; i++) acc |= out[i];
        if (!acc) e = gf_fail(GF_ECRYPTO, "x25519: all-zero shared secret");
    }
    EVP_PKEY_CTX_free(cx);
    EVP_PKEY_free(me);
    EVP_PKEY_free(peer);
    return e;
}

gf_err gf_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len == 0 || out_len > 255 * 32) return gf_fail(GF_EINVAL, "hkdf: output length %zu", out_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kc) return gf_fail(GF_ECRYPTO, "hkdf: not available");
    static const uint8_t empty[1] = {0};
    OSSL_PARAM p[5], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(ikm_len ? ikm : empty), ikm_len);
    if (salt_len) *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len) *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *q = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kc, out, out_len, p) == 1;
    EVP_KDF_CTX_free(kc);
    if (!ok) {
        OPENSSL_cleanse(out, out_len);
        return gf_fail(GF_ECRYPTO, "hkdf: derivation failed");
    }
    return GF_OK;
}

static gf_err derive_labelled(const uint8_t my_priv[32], const uint8_t peer_pub[32], const uint8_t ctx_hash[32],
                              const char *label, uint32_t a, uint32_t b, uint8_t out[32])
{
    uint8_t z[32], info[64];
    size_t ll = strlen(label);
    memcpy(info, label, ll);
    gf_put_u32le(info + ll, a);
    gf_put_u32le(info + ll + 4, b);
    gf_err e = gf_x25519_derive(my_priv, peer_pub, z);
    if (e == GF_OK) e = gf_hkdf_sha256(z, 32, ctx_hash, 32, info, ll + 8, out, 32);
    OPENSSL_cleanse(z, sizeof z);
    return e;
}

gf_err gf_secagg_share_key(const uint8_t my_priv[32], const uint8_t peer_pub[32], const uint8_t ctx_hash[32],
                           uint32_t from, uint32_t to, uint8_t key[32])
{
    return derive_labelled(my_priv, peer_pub, ctx_hash, GF_SECAGG_INFO_SHARE, from, to, key);
}

gf_err gf_secagg_mask_seed(const uint8_t my_priv[32], const uint8_t peer_pub[32], const uint8_t ctx_hash[32],
                           uint32_t a, uint32_t b, uint8_t seed[32])
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return derive_labelled(my_priv, peer_pub, ctx_hash, GF_SECAGG_INFO_MASK, lo, hi, seed);
}

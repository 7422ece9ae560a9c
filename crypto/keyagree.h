/* X25519 key agreement, SHA-256 and HKDF-SHA256 (OpenSSL 3 EVP) for secure
 * aggregation. Every key here is raw 32 bytes; callers wipe private keys and
 * derived secrets with OPENSSL_cleanse. */
#ifndef GF_KEYAGREE_H
#define GF_KEYAGREE_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/hash.h"

#define GF_X25519_LEN 32

/* Fresh keypair from the OpenSSL CSPRNG. */
gf_err gf_x25519_keypair(uint8_t priv[GF_X25519_LEN], uint8_t pub[GF_X25519_LEN]);
/* Public key of a private key. */
gf_err gf_x25519_public(const uint8_t priv[GF_X25519_LEN], uint8_t pub[GF_X25519_LEN]);
/* Shared secret X25519(priv, peer_pub). Refuses (GF_ECRYPTO) an all-zero
 * result (a small-order peer key). */
gf_err gf_x25519_derive(const uint8_t priv[GF_X25519_LEN], const uint8_t peer_pub[GF_X25519_LEN],
                        uint8_t out[GF_X25519_LEN]);

/* gf_sha256 lives in crypto/hash.h. */
/* HKDF-SHA256 (RFC 5869, extract and expand), out_len <= 255*32. */
gf_err gf_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* Domain-separated derivations used by the protocol (info strings below).
 *   share key  HKDF(X25519(c_u, c_v), salt = ctx_hash, info = "gaitfed secagg v1 share" ‖ u ‖ v)
 *              directional: the key u uses to encrypt to v.
 *   mask seed  HKDF(X25519(s_u, s_v), salt = ctx_hash, info = "gaitfed secagg v1 mask" ‖ min ‖ max)
 * u, v as 4-byte little-endian party indices. */
#define GF_SECAGG_INFO_SHARE "gaitfed secagg v1 share"
#define GF_SECAGG_INFO_MASK  "gaitfed secagg v1 mask"
gf_err gf_secagg_share_key(const uint8_t my_priv[32], const uint8_t peer_pub[32], const uint8_t ctx_hash[32],
                           uint32_t from, uint32_t to, uint8_t key[32]);
gf_err gf_secagg_mask_seed(const uint8_t my_priv[32], const uint8_t peer_pub[32], const uint8_t ctx_hash[32],
                           uint32_t a, uint32_t b, uint8_t seed[32]);

static inline void gf_put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t gf_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void gf_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t gf_get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif

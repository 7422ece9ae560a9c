/* Cross-site evaluation transport: a hospital's locally trained model,
 * readable by the other hospitals of the consortium and not by the
 * coordinator that relays it (docs/PROTOCOL.md, "Cross-site evaluation").
 *
 * Each taking part signs a fresh X25519 key with its certificate key:
 *   key message  "gaitfed xeval v1 key" 0 name 0 | u64le version | sha256(model) | pk
 * (version and sha256: the final global model the evaluation is about). A
 * sender encrypts its model once under a random 32-byte content key K and
 * wraps K for every recipient r:
 *   KEK(s→r)  = HKDF-SHA256(X25519(sk_s, pk_r), salt = sha256(model),
 *                           info = "gaitfed xeval v1 wrap" 0 s 0 r)
 *   wrap      = nonce12 | AES-256-GCM(KEK, K, aad = info) | tag16
 *   model ct  = nonce12 | AES-256-GCM(K, θ as float32 LE, aad = "gaitfed xeval v1 model" 0 s 0 u64le version) | tag16
 * Body ("GFXE" v1, all integers little-endian):
 *   "GFXE" u32 1 | u64 version | u8 len, sender | u32 n | n × (u8 len, recipient, wrap[60]) | u64 m | model ct[m]
 * Caps: names 1..63 bytes (gf_name_valid), n <= GF_XEVAL_MAX_PEERS,
 * m = 28 + 4·L with L <= GF_XEVAL_MAX_PARAMS. */
#ifndef GF_XEVAL_H
#define GF_XEVAL_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/identity.h"

#define GF_XEVAL_MAX_PEERS 256
#define GF_XEVAL_MAX_PARAMS (64u << 20)
#define GF_XEVAL_WRAP 60

/* The bytes a key message signs (into buf, at most GF_XEVAL_KEYMSG_MAX). */
#define GF_XEVAL_KEYMSG_MAX (24 + 2 * 64 + 8 + 32 + 32)
gf_err gf_xeval_key_message(const char *name, uint64_t version, const uint8_t model_sha[32], const uint8_t pk[32],
                            uint8_t *buf, size_t *len);

typedef struct {
    const char *name;     /* recipient */
    const uint8_t *pk;    /* its verified X25519 key (32 bytes) */
} gf_xeval_recipient;

/* Seals theta[L] from `sender` (secret key sk) for recipients[n]; *out
 * malloc'd (caller frees), the body above. */
gf_err gf_xeval_seal(const char *sender, const uint8_t sk[32], uint64_t version, const uint8_t model_sha[32],
                     const float *theta, size_t L, const gf_xeval_recipient *recipients, size_t n, uint8_t **out,
                     size_t *out_len);

/* The structure of a body, pointers into it (no crypto): for the coordinator,
 * which checks the sender and the version, and for recipients. */
typedef struct {
    uint64_t version;
    char sender[64];
    size_t n_wraps;
    const uint8_t *wraps;  /* n_wraps entries, walked by gf_xeval_find_wrap */
    size_t wraps_len;
    const uint8_t *ct;
    size_t ct_len;
    size_t L;              /* (ct_len - 28) / 4 */
} gf_xeval_body;
gf_err gf_xeval_parse(const uint8_t *buf, size_t len, gf_xeval_body *out);

/* Opens the model addressed to `me` (secret key sk) from a sender whose
 * verified key is sender_pk; theta[L] must match the body's L. GF_ECRYPTO
 * when anything fails to authenticate, GF_ENOTFOUND when the body has no wrap
 * for me. */
gf_err gf_xeval_open(const gf_xeval_body *b, const char *me, const uint8_t sk[32], const uint8_t sender_pk[32],
                     const uint8_t model_sha[32], float *theta, size_t L);

#endif

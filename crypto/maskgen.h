/* Mask expansion: AES-256-CTR keyed by a full 256-bit secret, IV = 0 (every
 * key is used for exactly one mask: fresh per round and per pair), keystream
 * read as little-endian uint32 words and added to / subtracted from a vector
 * mod 2^32. Word i is bytes 4i..4i+3 of the keystream, so any word range can
 * be expanded on its own (the server splits work across threads). */
#ifndef GF_MASKGEN_H
#define GF_MASKGEN_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

/* Raw AES-256-CTR keystream with an explicit 16-byte initial counter block
 * (big-endian 128-bit counter, as in NIST SP 800-38A); for known-answer tests. */
gf_err gf_aes256ctr_keystream(const uint8_t key[32], const uint8_t iv[16], uint8_t *out, size_t len);
/* AES-256-CTR encryption of in (len bytes) with an explicit IV. */
gf_err gf_aes256ctr_xor(const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len);

/* v[i] += sign * PRG(key)[word_off + i] for i < n_words; sign is +1 or -1. */
gf_err gf_mask_apply_range(uint32_t *v, size_t word_off, size_t n_words, const uint8_t key[32], int sign);
static inline gf_err gf_mask_apply(uint32_t *v, size_t n_words, const uint8_t key[32], int sign)
{
    return gf_mask_apply_range(v, 0, n_words, key, sign);
}

#endif

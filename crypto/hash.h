/* SHA-256 of buffers, and lower-case hex, for model versions, bodies on the
 * wire and the audit chain. */
#ifndef GF_HASH_H
#define GF_HASH_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

#define GF_SHA256_LEN 32
#define GF_SHA256_HEX (2 * GF_SHA256_LEN + 1)

gf_err gf_sha256(const void *data, size_t len, uint8_t out[GF_SHA256_LEN]);
/* Writes 2n lower-case hex digits and a NUL into hex (2n+1 bytes). */
void gf_hex(const uint8_t *bytes, size_t n, char *hex);
/* Parses exactly 2n hex digits (either case) into bytes; GF_EFORMAT otherwise. */
gf_err gf_unhex(const char *hex, uint8_t *bytes, size_t n);

/* Base64 (RFC 4648, with padding) for small binary fields in JSON messages.
 * encode: *out malloc'd, NUL-terminated. decode: strict (no whitespace, exact
 * padding), at most cap bytes, *out malloc'd; GF_EFORMAT / GF_ERANGE otherwise. */
gf_err gf_b64_encode(const uint8_t *in, size_t len, char **out);
gf_err gf_b64_decode(const char *in, size_t cap, uint8_t **out, size_t *len);

#endif

/* index.json of a CA directory: every certificate the CA issued.
 *
 *   {"version": 1, "consortium": "NAME", "crl_number": N,
 *    "certs": [{"serial": "0x<16 hex>", "name": "...", "role": "hospital",
 *               "not_before": "YYYY-MM-DDTHH:MM:SSZ", "not_after": "...",
 *               "revoked": false, "revoked_at": null}, ...]}
 *
 * Parsing is strict (file <= 16 MiB, every field type-checked, serials unique
 * and positive, at most one unrevoked certificate per name) and every error
 * is one line naming the file and the field. */
#ifndef GF_PKI_INDEX_H
#define GF_PKI_INDEX_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/identity.h"

#define GF_PKI_INDEX_MAX (16u * 1024 * 1024)
#define GF_PKI_INDEX_CERTS_MAX 100000

typedef struct {
    uint64_t serial;            /* positive, < 2^63 when we issue it */
    char name[GF_NAME_MAX + 1];
    gf_role role;
    int64_t not_before, not_after; /* seconds since the epoch, UTC */
    int revoked;
    int64_t revoked_at;         /* valid when revoked */
} gf_pki_entry;

typedef struct {
    char consortium[GF_NAME_MAX + 1];
    uint64_t crl_number;        /* of the CRL last written */
    gf_pki_entry *certs;        /* owned */
    size_t n, cap;
} gf_pki_index;

/* Parses buf; `what` (the file name) prefixes every message. On success *ix
 * is owned by the caller (gf_pki_index_free). */
gf_err gf_pki_index_parse(const char *what, const uint8_t *buf, size_t len, gf_pki_index *ix);
gf_err gf_pki_index_load(const char *path, gf_pki_index *ix);
/* Serializes to a malloc'd NUL-terminated JSON text (caller frees). */
gf_err gf_pki_index_dump(const gf_pki_index *ix, char **out, size_t *len);
gf_err gf_pki_index_save(const char *path, const gf_pki_index *ix);
gf_err gf_pki_index_add(gf_pki_index *ix, const gf_pki_entry *e);
void gf_pki_index_free(gf_pki_index *ix);

/* Index of the unrevoked certificate of name, or -1. */
long gf_pki_index_active(const gf_pki_index *ix, const char *name);
long gf_pki_index_find_serial(const gf_pki_index *ix, uint64_t serial);

/* "0x…" (hex) or decimal serial; 1 on success. */
int gf_pki_serial_parse(const char *s, uint64_t *out);

#endif

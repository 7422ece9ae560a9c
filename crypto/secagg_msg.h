/* Binary messages of secure aggregation. Every message:
 *   magic "GFSA" | version u8 = 1 | type u8 | reserved u16 = 0 | round id u64 | body length u32 | body
 * all integers little-endian; the body length must match exactly. Parsed
 * structures point into the caller's buffer (valid while it lives); parsers
 * check every length against its cap and return GF_EFORMAT with a one-line
 * message naming the field (GF_ESTATE for another round's message). */
#ifndef GF_SECAGG_MSG_H
#define GF_SECAGG_MSG_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"
#include "crypto/shamir.h"

#define GF_SA_MAGIC "GFSA"
#define GF_SA_VERSION 2   /* 2: share commitments in SHARES and ROUTED */
#define GF_SA_HDR 20
#define GF_SA_SIG 64
#define GF_SA_SHARE_PT (8 + 2 * GF_SHAMIR_SHARE_BYTES)   /* from, to, s share, b share */
#define GF_SA_SHARE_CT (12 + GF_SA_SHARE_PT + 16)         /* GCM nonce | ciphertext | tag */
#define GF_SA_COMMIT 32                                   /* SHA-256 commitment to a share or a secret */

typedef enum {
    GF_SA_ADVERT = 1,
    GF_SA_ADVERT_LIST,
    GF_SA_SHARES,
    GF_SA_ROUTED,
    GF_SA_MASKED,
    GF_SA_SURVIVORS,
    GF_SA_CONSIST,
    GF_SA_UNMASK_REQ,
    GF_SA_UNMASK,
    GF_SA_TYPE_COUNT_
} gf_sa_type;

typedef struct {
    uint32_t from;
    const uint8_t *c_pk, *s_pk; /* 32 bytes each */
    const uint8_t *cert;
    size_t cert_len;            /* 1..GF_CERT_DER_MAX */
    const uint8_t *sig;         /* 64 bytes */
    const uint8_t *raw;         /* the whole advert body */
    size_t raw_len;
} gf_sa_advert;

typedef struct {
    uint32_t count;             /* strictly ascending by party */
    gf_sa_advert *adv;          /* malloc'd: free with gf_sa_advert_list_free */
} gf_sa_advert_list;

/* SHARES (from -> server, entries addressed "to") and ROUTED (server -> to,
 * entries "from"): count fixed-size entries of
 *   (party u32 | ciphertext | commitment to the s share 32 | to the b share 32),
 * the commitments being the dealer's (docs/SECURE_AGGREGATION.md, "Verifiable
 * sharing"). SHARES carries after its count the dealer's commitment to b and
 * to its own two shares (self-holder): GF_SA_SHARES_HEAD bytes before the entries. */
typedef struct {
    uint32_t party;             /* SHARES: sender; ROUTED: recipient */
    uint32_t count;
    const uint8_t *commits;     /* SHARES: commit(b) | commit(own s share) | commit(own b share); ROUTED: NULL */
    const uint8_t *entries;     /* count × GF_SA_SHARE_ENTRY */
} gf_sa_shares;
#define GF_SA_SHARE_ENTRY (4 + GF_SA_SHARE_CT + 2 * GF_SA_COMMIT)
#define GF_SA_SHARES_HEAD (8 + 3 * GF_SA_COMMIT)
#define GF_SA_ROUTED_HEAD 8
static inline uint32_t gf_sa_shares_peer(const gf_sa_shares *s, uint32_t i);
static inline const uint8_t *gf_sa_shares_ct(const gf_sa_shares *s, uint32_t i)
{
    return s->entries + (size_t)i * GF_SA_SHARE_ENTRY + 4;
}
/* The dealer's commitments of entry i: s share, then b share (32 bytes each). */
static inline const uint8_t *gf_sa_shares_commit(const gf_sa_shares *s, uint32_t i)
{
    return s->entries + (size_t)i * GF_SA_SHARE_ENTRY + 4 + GF_SA_SHARE_CT;
}

typedef struct {
    uint32_t from, L;
    const uint8_t *data;        /* 4·L bytes, little-endian uint32 */
} gf_sa_masked;

typedef struct {
    uint32_t count;             /* strictly ascending */
    const uint8_t *ids;         /* count × u32 */
    uint32_t n_sig;
    const uint8_t *sigs;        /* n_sig × (from u32 | sig 64); UNMASK_REQ only */
} gf_sa_survivors;
#define GF_SA_SIG_ENTRY (4 + GF_SA_SIG)

typedef struct {
    uint32_t from;
    const uint8_t *sig;
} gf_sa_consist;

typedef struct {
    uint32_t from, count;
    const uint8_t *entries;     /* count × (about u32 | kind u8 | share 40) */
} gf_sa_unmask;
#define GF_SA_UNMASK_ENTRY (5 + GF_SHAMIR_SHARE_BYTES)
enum { GF_SA_KIND_B = 0, GF_SA_KIND_S = 1 };

static inline uint32_t gf_sa_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t gf_sa_shares_peer(const gf_sa_shares *s, uint32_t i)
{
    return gf_sa_u32(s->entries + (size_t)i * GF_SA_SHARE_ENTRY);
}

/* Header: type and round id of a message; checks magic, version, reserved and
 * the body length; *body and *body_len get the body. */
gf_err gf_sa_parse_header(const uint8_t *buf, size_t len, gf_sa_type *type, uint64_t *round_id,
                          const uint8_t **body, size_t *body_len);

/* Parsers: buf is a whole message of the given type for round round_id; n is
 * the number of parties (every index must be in 1..n), L the expected vector
 * length (MASKED). */
gf_err gf_sa_parse_advert(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_advert *out);
gf_err gf_sa_parse_advert_list(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_advert_list *out);
void gf_sa_advert_list_free(gf_sa_advert_list *l);
gf_err gf_sa_parse_shares(const uint8_t *buf, size_t len, gf_sa_type type, uint64_t round_id, uint32_t n,
                          gf_sa_shares *out);
gf_err gf_sa_parse_masked(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, uint32_t L, gf_sa_masked *out);
/* type: GF_SA_SURVIVORS or GF_SA_UNMASK_REQ. */
gf_err gf_sa_parse_survivors(const uint8_t *buf, size_t len, gf_sa_type type, uint64_t round_id, uint32_t n,
                             gf_sa_survivors *out);
gf_err gf_sa_parse_consist(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_consist *out);
gf_err gf_sa_parse_unmask(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_unmask *out);

/* Writer: a message of known body size. gf_sa_begin allocates header+body
 * (*msg, caller frees) and returns a pointer to the body. */
uint8_t *gf_sa_begin(gf_sa_type type, uint64_t round_id, size_t body_len, uint8_t **msg, size_t *len);
/* Advert body size for a certificate of cert_len bytes; writes one at p. */
size_t gf_sa_advert_size(size_t cert_len);
void gf_sa_advert_write(uint8_t *p, uint32_t from, const uint8_t c_pk[32], const uint8_t s_pk[32],
                        const uint8_t *cert, size_t cert_len, const uint8_t sig[64]);

#endif

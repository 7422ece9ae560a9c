/* Shared between the secagg client, server and simulator; not a public API. */
#ifndef GF_SECAGG_INTERNAL_H
#define GF_SECAGG_INTERNAL_H
#include <stdint.h>
#include "crypto/secagg.h"
#include "crypto/shamir.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "secagg reads masked vectors as native uint32: little-endian hosts only"
#endif

struct gf_secagg_graph {
    uint32_t n, k;
    uint32_t *ring; /* ring[i]: party at position i */
    uint32_t *pos;  /* pos[u]: position of party u (1..n) */
};

#define GF_SA_LABEL_ADVERT    "gaitfed secagg v1 advert"
#define GF_SA_LABEL_SURVIVORS "gaitfed secagg v1 survivors"
#define GF_SA_LABEL_GRAPH     "gaitfed secagg v1 graph"
#define GF_SA_LABEL_CTX       "gaitfed secagg v1 ctx"
#define GF_SA_LABEL_COMMIT    "gaitfed secagg v2 share commitment"
#define GF_SA_LABEL_SECRET    "gaitfed secagg v2 self-mask seed commitment"

/* label ‖ ctx ‖ u ‖ c_pk ‖ s_pk: what an advert signature covers. */
#define GF_SA_ADVERT_TBS (sizeof GF_SA_LABEL_ADVERT - 1 + 32 + 4 + 64)
void gf_sa_advert_tbs(const uint8_t ctx[32], uint32_t u, const uint8_t c_pk[32], const uint8_t s_pk[32], uint8_t *out);
/* label ‖ ctx ‖ count ‖ ids (count × u32): what a consistency signature covers
 * (malloc'd into *out). */
gf_err gf_sa_survivors_tbs(const uint8_t ctx[32], uint32_t count, const uint8_t *ids, uint8_t **out, size_t *len);
/* AAD of a share ciphertext: ctx ‖ from ‖ to. */
void gf_sa_share_aad(const uint8_t ctx[32], uint32_t from, uint32_t to, uint8_t aad[40]);

/* The dealer's commitment to one share (docs/SECURE_AGGREGATION.md,
 * "Verifiable sharing"): SHA-256(label ‖ ctx ‖ dealer ‖ holder ‖ kind ‖ share),
 * kind GF_SA_KIND_S or GF_SA_KIND_B, share as packed (40 bytes). */
gf_err gf_sa_share_commit(const uint8_t ctx[32], uint32_t dealer, uint32_t holder, uint8_t kind,
                          const gf_shamir_share *share, uint8_t out[32]);
/* The dealer's commitment to its self-mask seed b: SHA-256(label ‖ ctx ‖ u ‖ b). */
gf_err gf_sa_secret_commit(const uint8_t ctx[32], uint32_t u, const uint8_t b[32], uint8_t out[32]);

/* Holders of party u's secrets: u and its neighbours. */
static inline int gf_sa_holder(const gf_secagg_graph *g, uint32_t holder, uint32_t u)
{
    return holder == u || gf_secagg_graph_adjacent(g, holder, u);
}

#endif

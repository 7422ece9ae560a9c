/* Secure aggregation (Bonawitz et al. 2017, CCS) with SecAgg+'s sparse
 * neighbour graph (Bell et al. 2020). Library only: the caller moves the
 * opaque binary messages (crypto/secagg_msg.h) between clients and the server.
 *
 * Round: parties 1..n (a roster fixed by the server), each with a vector of L
 * uint32 (fixed-point encoded, crypto/fixpoint.h). Phases, client side:
 *   advertise  -> ADVERT          (fresh X25519 keys c, s, signed with the certificate key)
 *   share      <- ADVERT_LIST     -> SHARES    (Shamir shares of s_sk and b, AES-256-GCM to each neighbour,
 *                                               a hash commitment to b and to every share dealt)
 *   mask       <- ROUTED          -> MASKED    (y = x + PRG(b) ± PRG(s_uv), 4·L bytes)
 *   consistency<- SURVIVORS       -> CONSIST   (signature over the survivor set U3)
 *   unmask     <- UNMASK_REQ      -> UNMASK    (b shares of survivors, s shares of dropped parties; never both)
 * and the server collects, routes and finally reconstructs the sum of the
 * survivors' inputs mod 2^32, using only revealed shares that match their
 * dealer's commitment and secrets that match theirs; a party caught otherwise
 * is reported (gf_secagg_server_cheaters). See docs/SECURE_AGGREGATION.md. */
#ifndef GF_SECAGG_H
#define GF_SECAGG_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"

#define GF_SECAGG_MAX_PARTIES 4096
#define GF_SECAGG_MAX_LEN     (UINT32_C(1) << 26) /* 64 Mi parameters: a 256 MiB masked vector */

typedef struct {
    uint64_t round_id;
    uint8_t nonce[32];  /* server's fresh nonce: the round context and the neighbour graph */
    uint32_t n;         /* parties 1..n, 2 <= n <= GF_SECAGG_MAX_PARTIES */
    uint32_t k;         /* neighbours per party: n-1 (full Bonawitz graph) or even, 2 <= k < n-1 */
    uint32_t t;         /* Shamir threshold among a party's k+1 holders: (k+1)/2 < t <= k+1 */
    uint32_t L;         /* vector length (uint32 words), 1..GF_SECAGG_MAX_LEN */
    double clip, scale; /* fixed-point plan; n·round(clip·scale) < 2^31 is checked */
} gf_secagg_params;

/* Validates p (GF_EINVAL / GF_ERANGE naming the field). */
gf_err gf_secagg_params_check(const gf_secagg_params *p);
/* Defaults for n parties (docs/SECURE_AGGREGATION.md, "Parameters"): k = n-1 for
 * n <= GF_SECAGG_FULL_MAX, else the smallest even k >= 6·log2(n) (capped by n-1);
 * t = floor(2(k+1)/3) + 1 for the sparse graph, floor((k+1)/2) + 1 for the full one;
 * a fresh nonce from RAND_bytes; the largest power-of-two scale for clip. */
#define GF_SECAGG_FULL_MAX 32
gf_err gf_secagg_params_default(uint64_t round_id, uint32_t n, uint32_t L, double clip, gf_secagg_params *out);
/* SHA-256 of the round context: every signature and HKDF salt binds it. */
gf_err gf_secagg_ctx_hash(const gf_secagg_params *p, uint8_t out[32]);

/* The neighbour graph of a round (a ring over a nonce-derived permutation). */
typedef struct gf_secagg_graph gf_secagg_graph;
gf_err gf_secagg_graph_new(const gf_secagg_params *p, gf_secagg_graph **out);
void gf_secagg_graph_free(gf_secagg_graph *g);
int gf_secagg_graph_adjacent(const gf_secagg_graph *g, uint32_t u, uint32_t v); /* u != v, both in 1..n */
/* Writes the k neighbours of u (ascending) into out (room for k). */
void gf_secagg_graph_neighbours(const gf_secagg_graph *g, uint32_t u, uint32_t *out);

/* ---- client (one party, one round; never reused) ---- */
typedef struct gf_secagg_client gf_secagg_client;

/* id and trust are borrowed and must outlive the client. */
gf_err gf_secagg_client_new(const gf_secagg_params *p, uint32_t index, const gf_identity *id, const gf_trust *trust,
                            gf_secagg_client **out);
/* Wipes every secret and frees. NULL is fine. */
void gf_secagg_client_free(gf_secagg_client *c);
/* Every phase returns a newly allocated message in *msg (caller frees with
 * free()); any error is final: the client wipes its secrets and refuses every
 * later call with GF_ESTATE. */
gf_err gf_secagg_client_advertise(gf_secagg_client *c, uint8_t **msg, size_t *len);
gf_err gf_secagg_client_share(gf_secagg_client *c, const uint8_t *advert_list, size_t in_len, uint8_t **msg,
                              size_t *len);
/* x: the party's L encoded words. */
gf_err gf_secagg_client_mask(gf_secagg_client *c, const uint8_t *routed, size_t in_len, const uint32_t *x,
                             uint8_t **msg, size_t *len);
gf_err gf_secagg_client_consistency(gf_secagg_client *c, const uint8_t *survivors, size_t in_len, uint8_t **msg,
                                    size_t *len);
gf_err gf_secagg_client_unmask(gf_secagg_client *c, const uint8_t *request, size_t in_len, uint8_t **msg,
                               size_t *len);

/* ---- server (coordinator side of one round) ---- */
typedef struct gf_secagg_server gf_secagg_server;

/* trust may be NULL (then adverts and consistency signatures are checked by
 * the clients only). n_threads (>= 1) splits the final mask removal. */
gf_err gf_secagg_server_new(const gf_secagg_params *p, const gf_trust *trust, int n_threads, gf_secagg_server **out);
void gf_secagg_server_free(gf_secagg_server *s);
/* Phase 0: collect adverts (U1), then one list for every party. */
gf_err gf_secagg_server_add_advert(gf_secagg_server *s, const uint8_t *msg, size_t len);
gf_err gf_secagg_server_close_adverts(gf_secagg_server *s, uint8_t **list, size_t *len);
/* Phase 1: collect encrypted shares (U2), then route them: one message per party in U2. */
gf_err gf_secagg_server_add_shares(gf_secagg_server *s, const uint8_t *msg, size_t len);
gf_err gf_secagg_server_close_shares(gf_secagg_server *s);
/* 1 if party u is in U2 (must receive its routed shares). */
int gf_secagg_server_in_u2(const gf_secagg_server *s, uint32_t u);
gf_err gf_secagg_server_routed(gf_secagg_server *s, uint32_t to, uint8_t **msg, size_t *len);
/* Phase 2: masked inputs (U3) are summed as they arrive; closing fixes U3 and
 * returns the SURVIVORS message for every party in U3. */
gf_err gf_secagg_server_add_masked(gf_secagg_server *s, const uint8_t *msg, size_t len);
gf_err gf_secagg_server_close_masked(gf_secagg_server *s, uint8_t **survivors, size_t *len);
/* Phase 3: consistency signatures; closing returns the UNMASK_REQ. */
gf_err gf_secagg_server_add_consistency(gf_secagg_server *s, const uint8_t *msg, size_t len);
gf_err gf_secagg_server_close_consistency(gf_secagg_server *s, uint8_t **request, size_t *len);
/* Phase 4: shares for unmasking, then the sum of U3's inputs into sum (L words).
 * add_unmask checks every revealed share against its dealer's commitment: a
 * party that reveals one that does not match is recorded as a cheater and
 * none of its shares are used (the message is still accepted: GF_OK).
 * finish rebuilds every needed secret from verified shares and checks it
 * against the dealer's commitment (b) or advertised key (s_sk):
 *   GF_OK      sum is the exact sum of U3's inputs. Cheating holders may have
 *              been caught (their shares ignored): the caller must still ask
 *              gf_secagg_server_cheaters, since their own inputs are in the sum;
 *   GF_ECRYPTO a dealer's verified shares rebuild another secret than the one
 *              it committed to (named, with every other cheater, in the message);
 *   GF_ESTATE  some needed secret has fewer than t verified shares. */
gf_err gf_secagg_server_add_unmask(gf_secagg_server *s, const uint8_t *msg, size_t len);
gf_err gf_secagg_server_finish(gf_secagg_server *s, uint32_t *sum);

typedef enum {
    GF_SA_CHEAT_NONE = 0,
    GF_SA_CHEAT_SHARE,  /* revealed a share that does not match its dealer's commitment (a forging holder) */
    GF_SA_CHEAT_DEALER, /* its committed shares rebuild another secret than its commitment / advertised key */
} gf_secagg_check;
typedef struct {
    uint32_t party;         /* the cheater's index */
    gf_secagg_check check;
    uint32_t about;         /* SHARE: the dealer of the first forged share; DEALER: party itself */
    char secret;            /* 'b' (self-mask seed) or 's' (mask key) */
    uint32_t count;         /* SHARE: how many of its revealed shares failed */
} gf_secagg_cheat;
/* The parties caught so far (ascending); writes at most cap into out (NULL with cap 0:
 * just the count) and returns how many. */
uint32_t gf_secagg_server_cheaters(const gf_secagg_server *s, gf_secagg_cheat *out, uint32_t cap);
/* The survivor set U3 (after close_masked): count, and membership. */
uint32_t gf_secagg_server_u3_count(const gf_secagg_server *s);
int gf_secagg_server_in_u3(const gf_secagg_server *s, uint32_t u);

/* ---- in-process simulator ---- */
typedef enum {
    GF_SA_DROP_NONE = 0,
    GF_SA_DROP_ADVERT,   /* never advertises */
    GF_SA_DROP_SHARE,    /* advertises, never sends shares */
    GF_SA_DROP_MASK,     /* sends shares, never a masked input */
    GF_SA_DROP_CONSIST,  /* masked input, no consistency signature */
    GF_SA_DROP_UNMASK,   /* signs, never answers the unmask request */
} gf_secagg_drop;

/* Misbehaviour the simulator plays for a party (it edits the party's
 * messages as a modified client would). */
typedef enum {
    GF_SA_HONEST = 0,
    GF_SA_FORGE_B,       /* adds 2^16 to chunk 0 of every b share it reveals in UNMASK */
    GF_SA_FORGE_S,       /* adds 2^16 to chunk 0 of every s share it reveals in UNMASK */
    GF_SA_FORGE_COMMIT,  /* a dealer whose commitment to b is not the b it shared */
} gf_secagg_forge;

#define GF_SA_PHASES 5
typedef struct {
    double client_mean[GF_SA_PHASES], client_max[GF_SA_PHASES]; /* seconds per phase (advertise..unmask) */
    double client_total_mean, client_total_max;                 /* per party, phases it ran */
    double server_collect;   /* adverts, shares and routing, consistency (seconds) */
    double server_sum;       /* adding masked inputs as they arrive */
    double server_unmask;    /* unmask collection + reconstruction + mask removal */
    double up_bytes_mean[GF_SA_PHASES];  /* bytes uploaded per party per phase (parties that sent it) */
    double up_total_mean;                /* per party in U3 */
    uint32_t u1, u2, u3;
    uint32_t n_cheaters;                 /* parties the server caught (first GF_SA_SIM_CHEATS listed) */
#define GF_SA_SIM_CHEATS 16
    gf_secagg_cheat cheaters[GF_SA_SIM_CHEATS];
} gf_secagg_sim_stats;

/* One full round in process. ids[i] / inputs[i] / drops[i] belong to party
 * i+1; drops may be NULL (nobody drops). sum gets the server's result (L words).
 * Returns the first error of the server (e.g. GF_ESTATE for too few
 * survivors); a dropped party's client is simply abandoned. */
gf_err gf_secagg_sim_run(const gf_secagg_params *p, const gf_identity *const *ids, const gf_trust *trust,
                         const uint32_t *const *inputs, const gf_secagg_drop *drops, int n_threads, uint32_t *sum,
                         gf_secagg_sim_stats *st);
/* The same with forges[i] played by party i+1 (NULL: everyone honest). */
gf_err gf_secagg_sim_run_forged(const gf_secagg_params *p, const gf_identity *const *ids, const gf_trust *trust,
                                const uint32_t *const *inputs, const gf_secagg_drop *drops,
                                const gf_secagg_forge *forges, int n_threads, uint32_t *sum, gf_secagg_sim_stats *st);

#endif

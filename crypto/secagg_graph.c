/* Round parameters, the round context and the SecAgg+ neighbour graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/fixpoint.h"
#include "crypto/keyagree.h"
#include "crypto/maskgen.h"
#include "crypto/shamir.h"
#include "crypto/secagg_internal.h"
#include "crypto/secagg_msg.h"

gf_err gf_secagg_params_check(const gf_secagg_params *p)
{
    if (!p) return gf_fail(GF_EINVAL, "secagg: no parameters");
    if (p->n < 2 || p->n > GF_SECAGG_MAX_PARTIES)
        return gf_fail(GF_EINVAL, "secagg: n = %u parties outside 2..%d", p->n, GF_SECAGG_MAX_PARTIES);
    if (p->k != p->n - 1 && (p->k < 2 || p->k % 2 || p->k >= p->n - 1))
        return gf_fail(GF_EINVAL, "secagg: k = %u neighbours: n-1 (%u) or even in 2..n-2", p->k, p->n - 1);
    if (2 * p->t <= p->k + 1 || p->t > p->k + 1 || p->t > GF_SHAMIR_MAX_T)
        return gf_fail(GF_EINVAL, "secagg: threshold t = %u must be a majority of the %u holders and at most %u", p->t,
                       p->k + 1, p->k + 1);
    if (p->L < 1 || p->L > GF_SECAGG_MAX_LEN)
        return gf_fail(GF_ERANGE, "secagg: vector length %u outside 1..%u", p->L, GF_SECAGG_MAX_LEN);
    gf_fixpoint fp;
    return gf_fixpoint_plan(p->n, p->clip, p->scale, &fp);
}

gf_err gf_secagg_params_default(uint64_t round_id, uint32_t n, uint32_t L, double clip, gf_secagg_params *out)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || n > GF_SECAGG_MAX_PARTIES) return gf_fail(GF_EINVAL, "secagg: n = %u parties outside 2..%d", n, GF_SECAGG_MAX_PARTIES);
    out->round_id = round_id;
    out->n = n;
    out->L = L;
    if (n <= GF_SECAGG_FULL_MAX) {
        out->k = n - 1;
        out->t = (out->k + 1) / 2 + 1;
    } else {
        uint32_t k = (uint32_t)ceil(6.0 * log2((double)n));
        k += k % 2;
        if (k >= n - 1) k = n - 1;
        out->k = k;
        out->t = k == n - 1 ? (k + 1) / 2 + 1 : 2 * (k + 1) / 3 + 1;
    }
    if (RAND_bytes(out->nonce, sizeof out->nonce) != 1) return gf_fail(GF_ECRYPTO, "secagg: RAND_bytes failed");
    gf_fixpoint fp;
    GF_TRY(gf_fixpoint_plan_auto(n, clip, &fp));
    out->clip = fp.clip;
    out->scale = fp.scale;
    return gf_secagg_params_check(out);
}

gf_err gf_secagg_ctx_hash(const gf_secagg_params *p, uint8_t out[32])
{
    uint8_t buf[sizeof GF_SA_LABEL_CTX - 1 + 8 + 32 + 16 + 16], *q = buf;
    memcpy(q, GF_SA_LABEL_CTX, sizeof GF_SA_LABEL_CTX - 1), q += sizeof GF_SA_LABEL_CTX - 1;
    gf_put_u64le(q, p->round_id), q += 8;
    memcpy(q, p->nonce, 32), q += 32;
    gf_put_u32le(q, p->n), gf_put_u32le(q + 4, p->k), gf_put_u32le(q + 8, p->t), gf_put_u32le(q + 12, p->L), q += 16;
    uint64_t bits;
    memcpy(&bits, &p->clip, 8), gf_put_u64le(q, bits);
    memcpy(&bits, &p->scale, 8), gf_put_u64le(q + 8, bits), q += 16;
    return gf_sha256(buf, (size_t)(q - buf), out);
}

gf_err gf_secagg_graph_new(const gf_secagg_params *p, gf_secagg_graph **out)
{
    *out = NULL;
    GF_TRY(gf_secagg_params_check(p));
    uint8_t ctx[32], key[32], seed_in[sizeof GF_SA_LABEL_GRAPH - 1 + 32];
    GF_TRY(gf_secagg_ctx_hash(p, ctx));
    memcpy(seed_in, GF_SA_LABEL_GRAPH, sizeof GF_SA_LABEL_GRAPH - 1);
    memcpy(seed_in + sizeof GF_SA_LABEL_GRAPH - 1, ctx, 32);
    GF_TRY(gf_sha256(seed_in, sizeof seed_in, key));
    gf_secagg_graph *g = calloc(1, sizeof *g);
    uint32_t *rnd = calloc(2 * (size_t)p->n, sizeof *rnd);
    if (g) {
        g->ring = malloc(p->n * sizeof *g->ring);
        g->pos = malloc((p->n + 1) * sizeof *g->pos);
    }
    if (!g || !rnd || !g->ring || !g->pos) {
        free(rnd);
        gf_secagg_graph_free(g);
        return gf_fail(GF_ENOMEM, "secagg graph: out of memory");
    }
    g->n = p->n;
    g->k = p->k;
    gf_err e = gf_mask_apply(rnd, 2 * (size_t)p->n, key, +1);
    if (e != GF_OK) { free(rnd); gf_secagg_graph_free(g); return e; }
    /* Fisher–Yates over the nonce-derived stream; 64-bit draws mod i+1 (bias < n/2^64). */
    for (uint32_t i = 0; i < p->n; i++) g->ring[i] = i + 1;
    for (uint32_t i = p->n - 1; i > 0; i--) {
        uint64_t r = (uint64_t)rnd[2 * i] | (uint64_t)rnd[2 * i + 1] << 32;
        uint32_t j = (uint32_t)(r % ((uint64_t)i + 1)), t = g->ring[i];
        g->ring[i] = g->ring[j];
        g->ring[j] = t;
    }
    for (uint32_t i = 0; i < p->n; i++) g->pos[g->ring[i]] = i;
    free(rnd);
    *out = g;
    return GF_OK;
}

void gf_secagg_graph_free(gf_secagg_graph *g)
{
    if (!g) return;
    free(g->ring);
    free(g->pos);
    free(g);
}

int gf_secagg_graph_adjacent(const gf_secagg_graph *g, uint32_t u, uint32_t v)
{
    if (u == v || u < 1 || v < 1 || u > g->n || v > g->n) return 0;
    if (g->k == g->n - 1) return 1;
    uint32_t d = g->pos[u] > g->pos[v] ? g->pos[u] - g->pos[v] : g->pos[v] - g->pos[u];
    if (d > g->n - d) d = g->n - d;
    return d <= g->k / 2;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void gf_secagg_graph_neighbours(const gf_secagg_graph *g, uint32_t u, uint32_t *out)
{
    uint32_t m = 0;
    if (g->k == g->n - 1) {
        for (uint32_t v = 1; v <= g->n; v++)
            if (v != u) out[m++] = v;
        return;
    }
    uint32_t p = g->pos[u];
    for (uint32_t d = 1; d <= g->k / 2; d++) {
        out[m++] = g->ring[(p + d) % g->n];
        out[m++] = g->ring[(p + g->n - d) % g->n];
    }
    qsort(out, m, sizeof *out, cmp_u32);
}

void gf_sa_advert_tbs(const uint8_t ctx[32], uint32_t u, const uint8_t c_pk[32], const uint8_t s_pk[32], uint8_t *out)
{
    size_t l = sizeof GF_SA_LABEL_ADVERT - 1;
    memcpy(out, GF_SA_LABEL_ADVERT, l);
    memcpy(out + l, ctx, 32);
    gf_put_u32le(out + l + 32, u);
    memcpy(out + l + 36, c_pk, 32);
    memcpy(out + l + 68, s_pk, 32);
}

gf_err gf_sa_survivors_tbs(const uint8_t ctx[32], uint32_t count, const uint8_t *ids, uint8_t **out, size_t *len)
{
    size_t l = sizeof GF_SA_LABEL_SURVIVORS - 1, n = l + 32 + 4 + 4 * (size_t)count;
    uint8_t *m = malloc(n);
    if (!m) return gf_fail(GF_ENOMEM, "secagg: out of memory");
    memcpy(m, GF_SA_LABEL_SURVIVORS, l);
    memcpy(m + l, ctx, 32);
    gf_put_u32le(m + l + 32, count);
    memcpy(m + l + 36, ids, 4 * (size_t)count);
    *out = m;
    *len = n;
    return GF_OK;
}

void gf_sa_share_aad(const uint8_t ctx[32], uint32_t from, uint32_t to, uint8_t aad[40])
{
    memcpy(aad, ctx, 32);
    gf_put_u32le(aad + 32, from);
    gf_put_u32le(aad + 36, to);
}

gf_err gf_sa_share_commit(const uint8_t ctx[32], uint32_t dealer, uint32_t holder, uint8_t kind,
                          const gf_shamir_share *share, uint8_t out[32])
{
    uint8_t m[sizeof GF_SA_LABEL_COMMIT - 1 + 32 + 9 + GF_SHAMIR_SHARE_BYTES], *q = m;
    memcpy(q, GF_SA_LABEL_COMMIT, sizeof GF_SA_LABEL_COMMIT - 1), q += sizeof GF_SA_LABEL_COMMIT - 1;
    memcpy(q, ctx, 32), q += 32;
    gf_put_u32le(q, dealer), gf_put_u32le(q + 4, holder), q[8] = kind, q += 9;
    gf_shamir_share_pack(share, q);
    gf_err e = gf_sha256(m, sizeof m, out);
    OPENSSL_cleanse(m, sizeof m);
    return e;
}

gf_err gf_sa_secret_commit(const uint8_t ctx[32], uint32_t u, const uint8_t b[32], uint8_t out[32])
{
    uint8_t m[sizeof GF_SA_LABEL_SECRET - 1 + 32 + 4 + 32], *q = m;
    memcpy(q, GF_SA_LABEL_SECRET, sizeof GF_SA_LABEL_SECRET - 1), q += sizeof GF_SA_LABEL_SECRET - 1;
    memcpy(q, ctx, 32), q += 32;
    gf_put_u32le(q, u), q += 4;
    memcpy(q, b, 32);
    gf_err e = gf_sha256(m, sizeof m, out);
    OPENSSL_cleanse(m, sizeof m);
    return e;
}

/* Secure aggregation, server side: collects and routes messages, sums masked
 * inputs as they arrive, and finally removes the masks of the survivors. It
 * never sees a share in the clear before the unmask phase. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/keyagree.h"
#include "crypto/maskgen.h"
#include "crypto/secagg_internal.h"
#include "crypto/secagg_msg.h"
#include "crypto/shamir.h"

enum { S_ADVERTS, S_SHARES, S_ROUTE, S_MASKED, S_CONSIST, S_UNMASK, S_DONE, S_FAILED };

typedef struct {
    uint32_t count, cap;
    uint8_t *ent;               /* count × GF_SA_SHARE_ENTRY (from | ciphertext | commitments) */
} inbox;

/* A dealer's commitment to the two shares it dealt one holder. */
typedef struct {
    uint32_t holder;
    uint8_t s[GF_SA_COMMIT], b[GF_SA_COMMIT];
} commitment;

struct gf_secagg_server {
    gf_secagg_params p;
    uint8_t ctx[32];
    gf_secagg_graph *g;
    const gf_trust *trust;
    int n_threads, state;
    uint8_t **adv_raw;          /* advert bodies (index 1..n) */
    size_t *adv_len;
    char (*names)[GF_NAME_MAX + 1]; /* verified certificate names (trust != NULL) */
    uint8_t *u1, *u2, *u3, *signed_, *answered;
    uint32_t n1, n2, n3, n_signed;
    inbox *in;                  /* routed shares per recipient */
    uint32_t *sum;              /* running sum of masked inputs */
    uint8_t *u3_ids;            /* ascending u32 LE */
    uint8_t (*csig)[GF_SA_SIG];
    gf_shamir_share *shares;    /* shares[v * (k+1) + j]: j-th verified share revealed about v */
    uint32_t *n_shares;
    commitment *com;            /* com[u * (k+1) + j]: dealer u's commitments, j-th holder (u itself first) */
    uint32_t *n_com;
    uint8_t (*bcom)[GF_SA_COMMIT]; /* bcom[u]: dealer u's commitment to its self-mask seed */
    gf_secagg_cheat *cheat;     /* cheat[u].check != GF_SA_CHEAT_NONE: u was caught (index 1..n) */
};

gf_err gf_secagg_server_new(const gf_secagg_params *p, const gf_trust *trust, int n_threads, gf_secagg_server **out)
{
    *out = NULL;
    GF_TRY(gf_secagg_params_check(p));
    if (n_threads < 1 || n_threads > 64) return gf_fail(GF_EINVAL, "secagg server: %d threads outside 1..64", n_threads);
    gf_secagg_server *s = calloc(1, sizeof *s);
    if (!s) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    s->p = *p;
    s->trust = trust;
    s->n_threads = n_threads;
    size_t n1 = (size_t)p->n + 1;
    s->adv_raw = calloc(n1, sizeof *s->adv_raw);
    s->adv_len = calloc(n1, sizeof *s->adv_len);
    s->names = calloc(n1, sizeof *s->names);
    s->u1 = calloc(n1, 1), s->u2 = calloc(n1, 1), s->u3 = calloc(n1, 1);
    s->signed_ = calloc(n1, 1), s->answered = calloc(n1, 1);
    s->in = calloc(n1, sizeof *s->in);
    s->sum = calloc(p->L, sizeof *s->sum);
    s->csig = calloc(n1, sizeof *s->csig);
    s->n_shares = calloc(n1, sizeof *s->n_shares);
    s->com = calloc(n1 * (p->k + 1), sizeof *s->com);
    s->n_com = calloc(n1, sizeof *s->n_com);
    s->bcom = calloc(n1, sizeof *s->bcom);
    s->cheat = calloc(n1, sizeof *s->cheat);
    gf_err e = GF_OK;
    if (!s->adv_raw || !s->adv_len || !s->names || !s->u1 || !s->u2 || !s->u3 || !s->signed_ || !s->answered ||
        !s->in || !s->sum || !s->csig || !s->n_shares || !s->com || !s->n_com || !s->bcom || !s->cheat)
        e = gf_fail(GF_ENOMEM, "secagg server: out of memory");
    if (e == GF_OK) e = gf_secagg_ctx_hash(p, s->ctx);
    if (e == GF_OK) e = gf_secagg_graph_new(p, &s->g);
    if (e != GF_OK) {
        gf_secagg_server_free(s);
        return e;
    }
    *out = s;
    return GF_OK;
}

void gf_secagg_server_free(gf_secagg_server *s)
{
    if (!s) return;
    size_t n1 = (size_t)s->p.n + 1;
    if (s->adv_raw)
        for (size_t i = 0; i < n1; i++) free(s->adv_raw[i]);
    if (s->in)
        for (size_t i = 0; i < n1; i++) free(s->in[i].ent);
    if (s->shares) OPENSSL_cleanse(s->shares, n1 * (s->p.k + 1) * sizeof *s->shares);
    free(s->shares);
    free(s->adv_raw), free(s->adv_len), free(s->names);
    free(s->u1), free(s->u2), free(s->u3), free(s->signed_), free(s->answered);
    free(s->in), free(s->sum), free(s->u3_ids), free(s->csig), free(s->n_shares);
    free(s->com), free(s->n_com), free(s->bcom), free(s->cheat);
    gf_secagg_graph_free(s->g);
    free(s);
}

static gf_err want(gf_secagg_server *s, int st, const char *what)
{
    if (s->state == st) return GF_OK;
    return gf_fail(GF_ESTATE, "secagg server: %s in the wrong phase%s", what,
                   s->state == S_FAILED ? " (round abandoned)" : s->state > st ? " (phase closed)" : "");
}

static gf_err abandon(gf_secagg_server *s, gf_err e)
{
    s->state = S_FAILED;
    return e;
}

gf_err gf_secagg_server_add_advert(gf_secagg_server *s, const uint8_t *msg, size_t len)
{
    GF_TRY(want(s, S_ADVERTS, "advert"));
    gf_sa_advert a;
    GF_TRY(gf_sa_parse_advert(msg, len, s->p.round_id, s->p.n, &a));
    if (s->u1[a.from]) return gf_fail(GF_ESTATE, "secagg server: party %u advertised twice", a.from);
    if (s->trust) {
        uint8_t tbs[GF_SA_ADVERT_TBS];
        gf_peer peer;
        gf_sa_advert_tbs(s->ctx, a.from, a.c_pk, a.s_pk, tbs);
        if (gf_trust_verify(s->trust, a.cert, a.cert_len, tbs, sizeof tbs, a.sig, GF_SA_SIG, &peer) != GF_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", gf_errmsg());
            return gf_fail(GF_ECRYPTO, "secagg server: advert of party %u rejected: %s", a.from, why);
        }
        if (peer.role == GF_ROLE_COORDINATOR)
            return gf_fail(GF_ECRYPTO, "secagg server: party %u advertises with a coordinator certificate", a.from);
        for (uint32_t v = 1; v <= s->p.n; v++)
            if (s->u1[v] && !strcmp(s->names[v], peer.name))
                return gf_fail(GF_ECRYPTO, "secagg server: certificate '%s' already advertised as party %u", peer.name, v);
        snprintf(s->names[a.from], sizeof *s->names, "%s", peer.name);
    }
    s->adv_raw[a.from] = malloc(a.raw_len);
    if (!s->adv_raw[a.from]) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    memcpy(s->adv_raw[a.from], a.raw, a.raw_len);
    s->adv_len[a.from] = a.raw_len;
    s->u1[a.from] = 1;
    s->n1++;
    return GF_OK;
}

gf_err gf_secagg_server_close_adverts(gf_secagg_server *s, uint8_t **list, size_t *len)
{
    *list = NULL;
    GF_TRY(want(s, S_ADVERTS, "closing adverts"));
    if (s->n1 < s->p.t)
        return abandon(s, gf_fail(GF_ESTATE, "secagg server: %u parties advertised, threshold %u", s->n1, s->p.t));
    size_t bl = 4;
    for (uint32_t v = 1; v <= s->p.n; v++) bl += s->adv_len[v];
    uint8_t *b = gf_sa_begin(GF_SA_ADVERT_LIST, s->p.round_id, bl, list, len);
    if (!b) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    gf_put_u32le(b, s->n1);
    b += 4;
    for (uint32_t v = 1; v <= s->p.n; v++)
        if (s->u1[v]) memcpy(b, s->adv_raw[v], s->adv_len[v]), b += s->adv_len[v];
    s->state = S_SHARES;
    return GF_OK;
}

gf_err gf_secagg_server_add_shares(gf_secagg_server *s, const uint8_t *msg, size_t len)
{
    GF_TRY(want(s, S_SHARES, "shares"));
    gf_sa_shares m;
    GF_TRY(gf_sa_parse_shares(msg, len, GF_SA_SHARES, s->p.round_id, s->p.n, &m));
    uint32_t u = m.party;
    if (!s->u1[u]) return gf_fail(GF_ESTATE, "secagg server: shares from party %u, which did not advertise", u);
    if (s->u2[u]) return gf_fail(GF_ESTATE, "secagg server: party %u sent shares twice", u);
    /* Exactly one ciphertext for every advertised neighbour, so pairwise masks are symmetric. */
    uint32_t want_n = 0;
    for (uint32_t v = 1; v <= s->p.n; v++) want_n += s->u1[v] && gf_secagg_graph_adjacent(s->g, u, v);
    if (m.count != want_n)
        return gf_fail(GF_EFORMAT, "secagg server: party %u sent %u shares for %u advertised neighbours", u, m.count, want_n);
    for (uint32_t i = 0; i < m.count; i++) {
        uint32_t v = gf_sa_shares_peer(&m, i);
        if (!s->u1[v] || !gf_secagg_graph_adjacent(s->g, u, v))
            return gf_fail(GF_EFORMAT, "secagg server: party %u sent a share to %u, not an advertised neighbour", u, v);
    }
    /* The dealer's commitments: b, its own shares, then one pair per holder. */
    commitment *cm = &s->com[(size_t)u * (s->p.k + 1)];
    memcpy(s->bcom[u], m.commits, GF_SA_COMMIT);
    cm[0].holder = u;
    memcpy(cm[0].s, m.commits + GF_SA_COMMIT, GF_SA_COMMIT);
    memcpy(cm[0].b, m.commits + 2 * GF_SA_COMMIT, GF_SA_COMMIT);
    for (uint32_t i = 0; i < m.count; i++) {
        cm[i + 1].holder = gf_sa_shares_peer(&m, i);
        memcpy(cm[i + 1].s, gf_sa_shares_commit(&m, i), GF_SA_COMMIT);
        memcpy(cm[i + 1].b, gf_sa_shares_commit(&m, i) + GF_SA_COMMIT, GF_SA_COMMIT);
    }
    s->n_com[u] = m.count + 1;
    for (uint32_t i = 0; i < m.count; i++) {
        inbox *b = &s->in[gf_sa_shares_peer(&m, i)];
        if (b->count == b->cap) {
            uint32_t nc = b->cap ? 2 * b->cap : 8;
            uint8_t *ne = realloc(b->ent, (size_t)nc * GF_SA_SHARE_ENTRY);
            if (!ne) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
            b->ent = ne, b->cap = nc;
        }
        uint8_t *e = b->ent + (size_t)b->count++ * GF_SA_SHARE_ENTRY;
        gf_put_u32le(e, u);
        memcpy(e + 4, gf_sa_shares_ct(&m, i), GF_SA_SHARE_ENTRY - 4); /* ciphertext and commitments */
    }
    s->u2[u] = 1;
    s->n2++;
    return GF_OK;
}

gf_err gf_secagg_server_close_shares(gf_secagg_server *s)
{
    GF_TRY(want(s, S_SHARES, "closing shares"));
    if (s->n2 < s->p.t)
        return abandon(s, gf_fail(GF_ESTATE, "secagg server: %u parties sent shares, threshold %u", s->n2, s->p.t));
    s->state = S_ROUTE;
    return GF_OK;
}

int gf_secagg_server_in_u2(const gf_secagg_server *s, uint32_t u) { return u >= 1 && u <= s->p.n && s->u2[u]; }

static int cmp_sender(const void *a, const void *b)
{
    uint32_t x = gf_get_u32le(a), y = gf_get_u32le(b);
    return x < y ? -1 : x > y;
}

gf_err gf_secagg_server_routed(gf_secagg_server *s, uint32_t to, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    if (s->state != S_ROUTE && s->state != S_MASKED) GF_TRY(want(s, S_ROUTE, "routing"));
    if (!gf_secagg_server_in_u2(s, to)) return gf_fail(GF_ESTATE, "secagg server: party %u is not in U2", to);
    s->state = S_MASKED;
    inbox *b = &s->in[to];
    /* Only senders in U2 (all of them are): entries in ascending sender order. */
    uint8_t *body = gf_sa_begin(GF_SA_ROUTED, s->p.round_id, GF_SA_ROUTED_HEAD + (size_t)b->count * GF_SA_SHARE_ENTRY,
                                msg, len);
    if (!body) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    gf_put_u32le(body, to);
    gf_put_u32le(body + 4, b->count);
    /* Senders arrive in any order; the parser wants them ascending. */
    qsort(b->ent, b->count, GF_SA_SHARE_ENTRY, cmp_sender);
    memcpy(body + GF_SA_ROUTED_HEAD, b->ent, (size_t)b->count * GF_SA_SHARE_ENTRY);
    return GF_OK;
}

gf_err gf_secagg_server_add_masked(gf_secagg_server *s, const uint8_t *msg, size_t len)
{
    if (s->state == S_ROUTE) s->state = S_MASKED;
    if (s->state > S_MASKED && s->state != S_FAILED) {
        gf_sa_masked m;
        if (gf_sa_parse_masked(msg, len, s->p.round_id, s->p.n, s->p.L, &m) == GF_OK)
            return gf_fail(GF_ESTATE, "secagg server: masked input of party %u after the survivor set was fixed", m.from);
    }
    GF_TRY(want(s, S_MASKED, "masked input"));
    gf_sa_masked m;
    GF_TRY(gf_sa_parse_masked(msg, len, s->p.round_id, s->p.n, s->p.L, &m));
    if (!s->u2[m.from]) return gf_fail(GF_ESTATE, "secagg server: masked input of party %u, which did not share keys", m.from);
    if (s->u3[m.from]) return gf_fail(GF_ESTATE, "secagg server: party %u sent its masked input twice", m.from);
    const uint32_t *y = (const uint32_t *)(const void *)m.data;
    uint32_t *sum = s->sum;
    if (((uintptr_t)m.data & 3) == 0)
        for (uint32_t i = 0; i < s->p.L; i++) sum[i] += y[i];
    else
        for (uint32_t i = 0; i < s->p.L; i++) { uint32_t w; memcpy(&w, m.data + 4 * (size_t)i, 4); sum[i] += w; }
    s->u3[m.from] = 1;
    s->n3++;
    return GF_OK;
}

gf_err gf_secagg_server_close_masked(gf_secagg_server *s, uint8_t **survivors, size_t *len)
{
    *survivors = NULL;
    if (s->state == S_ROUTE) s->state = S_MASKED;
    GF_TRY(want(s, S_MASKED, "closing masked inputs"));
    if (s->n3 < s->p.t)
        return abandon(s, gf_fail(GF_ESTATE, "secagg server: %u masked inputs, threshold %u", s->n3, s->p.t));
    uint8_t *b = gf_sa_begin(GF_SA_SURVIVORS, s->p.round_id, 4 + 4 * (size_t)s->n3, survivors, len);
    s->u3_ids = malloc(4 * (size_t)s->n3);
    if (!b || !s->u3_ids) {
        free(*survivors);
        *survivors = NULL;
        return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    }
    gf_put_u32le(b, s->n3);
    uint32_t j = 0;
    for (uint32_t v = 1; v <= s->p.n; v++)
        if (s->u3[v]) gf_put_u32le(s->u3_ids + 4 * j++, v);
    memcpy(b + 4, s->u3_ids, 4 * (size_t)s->n3);
    s->state = S_CONSIST;
    return GF_OK;
}

uint32_t gf_secagg_server_u3_count(const gf_secagg_server *s) { return s->n3; }
int gf_secagg_server_in_u3(const gf_secagg_server *s, uint32_t u) { return u >= 1 && u <= s->p.n && s->u3[u]; }

gf_err gf_secagg_server_add_consistency(gf_secagg_server *s, const uint8_t *msg, size_t len)
{
    GF_TRY(want(s, S_CONSIST, "consistency signature"));
    gf_sa_consist m;
    GF_TRY(gf_sa_parse_consist(msg, len, s->p.round_id, s->p.n, &m));
    if (!s->u3[m.from]) return gf_fail(GF_ESTATE, "secagg server: consistency signature of %u, not a survivor", m.from);
    if (s->signed_[m.from]) return gf_fail(GF_ESTATE, "secagg server: party %u signed twice", m.from);
    if (s->trust) {
        gf_sa_advert a;
        gf_peer peer;
        uint8_t *hdr = NULL, *tbs = NULL;
        size_t hl = 0, tl = 0;
        /* Re-wrap the stored advert body to reuse the parser for its fields. */
        uint8_t *b = gf_sa_begin(GF_SA_ADVERT, s->p.round_id, s->adv_len[m.from], &hdr, &hl);
        if (!b) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
        memcpy(b, s->adv_raw[m.from], s->adv_len[m.from]);
        gf_err e = gf_sa_parse_advert(hdr, hl, s->p.round_id, s->p.n, &a);
        if (e == GF_OK) e = gf_sa_survivors_tbs(s->ctx, s->n3, s->u3_ids, &tbs, &tl);
        if (e == GF_OK && gf_trust_verify(s->trust, a.cert, a.cert_len, tbs, tl, m.sig, GF_SA_SIG, &peer) != GF_OK)
            e = gf_fail(GF_ECRYPTO, "secagg server: consistency signature of party %u rejected", m.from);
        free(tbs);
        free(hdr);
        GF_TRY(e);
    }
    memcpy(s->csig[m.from], m.sig, GF_SA_SIG);
    s->signed_[m.from] = 1;
    s->n_signed++;
    return GF_OK;
}

gf_err gf_secagg_server_close_consistency(gf_secagg_server *s, uint8_t **request, size_t *len)
{
    *request = NULL;
    GF_TRY(want(s, S_CONSIST, "closing consistency"));
    if (s->n_signed < s->p.t)
        return abandon(s, gf_fail(GF_ESTATE, "secagg server: %u consistency signatures, threshold %u", s->n_signed, s->p.t));
    size_t bl = 4 + 4 * (size_t)s->n3 + 4 + (size_t)s->n_signed * GF_SA_SIG_ENTRY;
    uint8_t *b = gf_sa_begin(GF_SA_UNMASK_REQ, s->p.round_id, bl, request, len);
    s->shares = calloc(((size_t)s->p.n + 1) * (s->p.k + 1), sizeof *s->shares);
    if (!b || !s->shares) {
        free(*request);
        *request = NULL;
        return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    }
    gf_put_u32le(b, s->n3);
    memcpy(b + 4, s->u3_ids, 4 * (size_t)s->n3);
    uint8_t *p = b + 4 + 4 * (size_t)s->n3;
    gf_put_u32le(p, s->n_signed);
    p += 4;
    for (uint32_t v = 1; v <= s->p.n; v++)
        if (s->signed_[v]) gf_put_u32le(p, v), memcpy(p + 4, s->csig[v], GF_SA_SIG), p += GF_SA_SIG_ENTRY;
    s->state = S_UNMASK;
    return GF_OK;
}

gf_err gf_secagg_server_add_unmask(gf_secagg_server *s, const uint8_t *msg, size_t len)
{
    GF_TRY(want(s, S_UNMASK, "unmask shares"));
    gf_sa_unmask m;
    GF_TRY(gf_sa_parse_unmask(msg, len, s->p.round_id, s->p.n, &m));
    uint32_t u = m.from;
    if (!s->u3[u]) return gf_fail(GF_ESTATE, "secagg server: unmask shares from %u, not a survivor", u);
    if (s->answered[u]) return gf_fail(GF_ESTATE, "secagg server: party %u answered the unmask request twice", u);
    gf_secagg_cheat caught = {0};
    for (uint32_t i = 0; i < m.count; i++) { /* validate everything before storing anything */
        const uint8_t *e = m.entries + (size_t)i * GF_SA_UNMASK_ENTRY;
        uint32_t v = gf_get_u32le(e);
        if (!s->u2[v] || !gf_sa_holder(s->g, u, v))
            return gf_fail(GF_EFORMAT, "secagg server: party %u revealed a share of %u, which it does not hold", u, v);
        if (e[4] != (s->u3[v] ? GF_SA_KIND_B : GF_SA_KIND_S))
            return gf_fail(GF_EFORMAT, "secagg server: party %u revealed the wrong kind of share of %u", u, v);
        gf_shamir_share sh;
        GF_TRY(gf_shamir_share_unpack(u, e + 5, &sh));
        /* The share must be the one its dealer v committed to for holder u. */
        const commitment *cm = &s->com[(size_t)v * (s->p.k + 1)];
        uint32_t j = 0;
        while (j < s->n_com[v] && cm[j].holder != u) j++;
        uint8_t h[32];
        GF_TRY(gf_sa_share_commit(s->ctx, v, u, e[4], &sh, h));
        OPENSSL_cleanse(&sh, sizeof sh);
        if (j == s->n_com[v] || CRYPTO_memcmp(h, e[4] == GF_SA_KIND_B ? cm[j].b : cm[j].s, 32)) {
            if (!caught.check)
                caught = (gf_secagg_cheat){.party = u, .check = GF_SA_CHEAT_SHARE, .about = v,
                                           .secret = e[4] == GF_SA_KIND_B ? 'b' : 's'};
            caught.count++;
        }
    }
    s->answered[u] = 1;
    if (caught.check) { /* a forger: none of its shares are used (the message is accepted, the party named) */
        s->cheat[u] = caught;
        return GF_OK;
    }
    for (uint32_t i = 0; i < m.count; i++) {
        const uint8_t *e = m.entries + (size_t)i * GF_SA_UNMASK_ENTRY;
        uint32_t v = gf_get_u32le(e);
        gf_shamir_share *dst = &s->shares[(size_t)v * (s->p.k + 1) + s->n_shares[v]++];
        (void)gf_shamir_share_unpack(u, e + 5, dst);
    }
    return GF_OK;
}

uint32_t gf_secagg_server_cheaters(const gf_secagg_server *s, gf_secagg_cheat *out, uint32_t cap)
{
    uint32_t m = 0;
    for (uint32_t u = 1; u <= s->p.n; u++)
        if (s->cheat[u].check != GF_SA_CHEAT_NONE) {
            if (m < cap) out[m] = s->cheat[u];
            m++;
        }
    return m;
}

/* Names the caught parties ("3 (forged b share of 2), 5 (...)") for a one-line message. */
static void cheaters_text(const gf_secagg_server *s, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t u = 1; u <= s->p.n && o + 1 < cap; u++) {
        const gf_secagg_cheat *c = &s->cheat[u];
        if (c->check == GF_SA_CHEAT_NONE) continue;
        int w = c->check == GF_SA_CHEAT_SHARE
                    ? snprintf(buf + o, cap - o, "%sparty %u revealed %u share(s) not matching their dealer's "
                                                 "commitment (first: its %c share of party %u)",
                               o ? "; " : "", u, c->count, c->secret, c->about)
                    : snprintf(buf + o, cap - o, "%sparty %u dealt %c shares that rebuild another secret than the "
                                                 "one it committed to", o ? "; " : "", u, c->secret);
        if (w < 0) break;
        o += (size_t)w < cap - o ? (size_t)w : cap - o - 1;
    }
}

/* Mask removal: every job is (key, sign) over the whole vector; threads split
 * the vector by word range and each runs every job over its range. */
typedef struct {
    uint8_t key[32];
    int sign;
} mask_job;
typedef struct {
    uint32_t *sum;
    size_t off, n;
    const mask_job *jobs;
    size_t n_jobs;
    gf_err e;
    char msg[256];
} range_work;

static void *run_range(void *arg)
{
    range_work *w = arg;
    w->e = GF_OK;
    for (size_t j = 0; j < w->n_jobs && w->e == GF_OK; j++) {
        w->e = gf_mask_apply_range(w->sum + w->off, w->off, w->n, w->jobs[j].key, w->jobs[j].sign);
        if (w->e != GF_OK) snprintf(w->msg, sizeof w->msg, "%s", gf_errmsg());
    }
    return NULL;
}

static gf_err apply_jobs(gf_secagg_server *s, const mask_job *jobs, size_t n_jobs)
{
    int T = s->n_threads;
    size_t L = s->p.L;
    if ((size_t)T * 4096 > L) T = 1;
    range_work w[64];
    pthread_t th[64];
    int started[64] = {0};
    size_t chunk = (L / (size_t)T + 3) / 4 * 4; /* word ranges aligned to AES blocks */
    for (int i = 0; i < T; i++) {
        size_t off = (size_t)i * chunk, end = i == T - 1 ? L : off + chunk;
        if (end > L) end = L;
        w[i] = (range_work){.sum = s->sum, .off = off, .n = end > off ? end - off : 0, .jobs = jobs, .n_jobs = n_jobs};
        if (i > 0 && pthread_create(&th[i], NULL, run_range, &w[i]) == 0) started[i] = 1;
        else if (i > 0) run_range(&w[i]);
    }
    run_range(&w[0]);
    gf_err e = GF_OK;
    for (int i = 0; i < T; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        if (w[i].e != GF_OK && e == GF_OK) e = gf_fail(w[i].e, "%s", w[i].msg);
    }
    return e;
}

/* Rebuilds dealer v's needed secret from its verified shares into out and checks
 * it against what v committed to: b against its commitment, s_sk against its
 * advertised s_pk. 0 when it matches; else v is recorded as a cheating dealer. */
static gf_err rebuild(gf_secagg_server *s, uint32_t v, uint8_t out[32], int *ok)
{
    const uint32_t K = s->p.k + 1;
    uint8_t h[32];
    *ok = 0;
    gf_err e = gf_shamir_combine(&s->shares[(size_t)v * K], (int)s->n_shares[v], (int)s->p.t, out);
    if (e == GF_ECRYPTO) e = GF_OK; /* a chunk out of range: inconsistent shares, the dealer's doing */
    else if (e == GF_OK && s->u3[v]) e = gf_sa_secret_commit(s->ctx, v, out, h), *ok = !CRYPTO_memcmp(h, s->bcom[v], 32);
    else if (e == GF_OK) e = gf_x25519_public(out, h), *ok = !CRYPTO_memcmp(h, s->adv_raw[v] + 36, 32);
    if (e == GF_OK && !*ok && s->cheat[v].check == GF_SA_CHEAT_NONE)
        s->cheat[v] = (gf_secagg_cheat){.party = v, .check = GF_SA_CHEAT_DEALER, .about = v,
                                        .secret = s->u3[v] ? 'b' : 's'};
    return e;
}

gf_err gf_secagg_server_finish(gf_secagg_server *s, uint32_t *sum)
{
    GF_TRY(want(s, S_UNMASK, "finish"));
    const uint32_t n = s->p.n, t = s->p.t, K = s->p.k + 1;
    /* Jobs: one self mask per survivor, one pairwise mask per (dropped v in U2, survivor neighbour u). */
    size_t n_jobs = s->n3;
    for (uint32_t v = 1; v <= n; v++)
        if (s->u2[v] && !s->u3[v])
            for (uint32_t u = 1; u <= n; u++) n_jobs += s->u3[u] && gf_secagg_graph_adjacent(s->g, u, v);
    mask_job *jobs = calloc(n_jobs ? n_jobs : 1, sizeof *jobs);
    if (!jobs) return gf_fail(GF_ENOMEM, "secagg server: out of memory");
    size_t j = 0;
    gf_err e = GF_OK;
    uint32_t short_of = 0, dealers = 0; /* the first secret short of verified shares; dealers caught */
    /* Every secret is checked (not only up to the first problem) so that every cheating dealer is named. */
    for (uint32_t v = 1; v <= n && e == GF_OK; v++) {
        if (!s->u2[v]) continue;
        if (s->n_shares[v] < t) {
            if (!short_of) short_of = v;
            continue;
        }
        uint8_t sk[32];
        int ok = 0;
        e = rebuild(s, v, sk, &ok);
        if (e == GF_OK && !ok) dealers++;
        if (e != GF_OK || !ok || short_of || dealers) {
            OPENSSL_cleanse(sk, sizeof sk);
            continue; /* no sum will come of it: only look for more cheaters */
        }
        if (s->u3[v]) { /* survivor: its self mask PRG(b_v) comes off */
            memcpy(jobs[j].key, sk, 32);
            jobs[j++].sign = -1;
        } else { /* dropped after sharing: its pairwise masks with survivor neighbours come off */
            for (uint32_t u = 1; u <= n && e == GF_OK; u++) {
                if (!s->u3[u] || !gf_secagg_graph_adjacent(s->g, u, v)) continue;
                e = gf_secagg_mask_seed(sk, s->adv_raw[u] + 36, s->ctx, v, u, jobs[j].key);
                jobs[j++].sign = u < v ? -1 : +1; /* u added +PRG when u < v */
            }
        }
        OPENSSL_cleanse(sk, sizeof sk);
    }
    char who[512];
    cheaters_text(s, who, sizeof who);
    if (e == GF_OK && dealers)
        e = gf_fail(GF_ECRYPTO, "secagg server: cheating detected, round abandoned: %s", who);
    else if (e == GF_OK && short_of)
        e = gf_fail(GF_ESTATE, "secagg server: %u of %u verified shares of party %u's %s, threshold %u: round abandoned%s%s",
                    s->n_shares[short_of], K, short_of, s->u3[short_of] ? "self-mask seed" : "mask key", t,
                    who[0] ? "; shares ignored: " : "", who);
    if (e == GF_OK) e = apply_jobs(s, jobs, j);
    OPENSSL_cleanse(jobs, (n_jobs ? n_jobs : 1) * sizeof *jobs);
    free(jobs);
    OPENSSL_cleanse(s->shares, ((size_t)n + 1) * K * sizeof *s->shares);
    if (e != GF_OK) return abandon(s, e);
    memcpy(sum, s->sum, (size_t)s->p.L * 4);
    s->state = S_DONE;
    return GF_OK;
}

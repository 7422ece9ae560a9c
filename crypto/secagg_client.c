/* Secure aggregation, client side: one party, one round, a strict phase order.
 * Every error is final (secrets wiped, later calls refused with GF_ESTATE). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/keyagree.h"
#include "crypto/maskgen.h"
#include "crypto/secagg_internal.h"
#include "crypto/secagg_msg.h"
#include "crypto/shamir.h"

enum { C_INIT, C_ADVERTISED, C_SHARED, C_MASKED, C_SIGNED, C_DONE, C_FAILED };

struct gf_secagg_client {
    gf_secagg_params p;
    uint8_t ctx[32];
    gf_secagg_graph *g;
    uint32_t me;
    const gf_identity *id;
    const gf_trust *trust;
    int state;
    uint8_t c_sk[32], c_pk[32], s_sk[32], s_pk[32], b[32]; /* b: self-mask seed */
    uint8_t *list_buf;          /* the advert list (owned): certificates of signers */
    size_t list_len;
    gf_sa_advert_list list;
    const gf_sa_advert **adv;   /* adv[v]: v's advert in list, or NULL (index 1..n) */
    uint8_t *in_u2;             /* in_u2[v]: v sent me shares (v in U2 ∩ N(me)), or v == me */
    uint8_t *unverified;        /* unverified[v]: v's shares to me do not match its commitments: never revealed */
    gf_shamir_share *held_s, *held_b; /* shares I hold of v's secrets (index 1..n) */
    uint8_t *u3_ids;            /* the survivor set I signed (count × u32 LE) */
    uint32_t u3_count;
};

static void wipe_secrets(gf_secagg_client *c)
{
    OPENSSL_cleanse(c->c_sk, 32);
    OPENSSL_cleanse(c->s_sk, 32);
    OPENSSL_cleanse(c->b, 32);
    if (c->held_s) OPENSSL_cleanse(c->held_s, (c->p.n + 1) * sizeof *c->held_s);
    if (c->held_b) OPENSSL_cleanse(c->held_b, (c->p.n + 1) * sizeof *c->held_b);
}

/* Marks the client failed (secrets wiped) and passes the error through. */
static gf_err fail(gf_secagg_client *c, gf_err e)
{
    if (e != GF_OK) {
        wipe_secrets(c);
        c->state = C_FAILED;
    }
    return e;
}

static gf_err want_state(gf_secagg_client *c, int s, const char *phase)
{
    if (c->state == s) return GF_OK;
    gf_err e = gf_fail(GF_ESTATE, "secagg client %u: %s called in the wrong state (%s)", c->me, phase,
                       c->state == C_FAILED ? "failed earlier" : c->state == C_DONE ? "round finished" : "out of order");
    return fail(c, e);
}

gf_err gf_secagg_client_new(const gf_secagg_params *p, uint32_t index, const gf_identity *id, const gf_trust *trust,
                            gf_secagg_client **out)
{
    *out = NULL;
    GF_TRY(gf_secagg_params_check(p));
    if (index < 1 || index > p->n) return gf_fail(GF_EINVAL, "secagg client: index %u outside 1..%u", index, p->n);
    if (!id || !trust) return gf_fail(GF_EINVAL, "secagg client: identity and trust anchor are required");
    gf_secagg_client *c = calloc(1, sizeof *c);
    if (!c) return gf_fail(GF_ENOMEM, "secagg client: out of memory");
    c->p = *p;
    c->me = index;
    c->id = id;
    c->trust = trust;
    size_t n1 = (size_t)p->n + 1;
    c->adv = calloc(n1, sizeof *c->adv);
    c->in_u2 = calloc(n1, 1);
    c->held_s = calloc(n1, sizeof *c->held_s);
    c->held_b = calloc(n1, sizeof *c->held_b);
    c->unverified = calloc(n1, 1);
    gf_err e = !c->adv || !c->in_u2 || !c->unverified || !c->held_s || !c->held_b
                   ? gf_fail(GF_ENOMEM, "secagg client: out of memory")
                   : GF_OK;
    if (e == GF_OK) e = gf_secagg_ctx_hash(p, c->ctx);
    if (e == GF_OK) e = gf_secagg_graph_new(p, &c->g);
    if (e != GF_OK) {
        gf_secagg_client_free(c);
        return e;
    }
    *out = c;
    return GF_OK;
}

void gf_secagg_client_free(gf_secagg_client *c)
{
    if (!c) return;
    wipe_secrets(c);
    gf_secagg_graph_free(c->g);
    gf_sa_advert_list_free(&c->list);
    free(c->list_buf);
    free(c->adv);
    free(c->in_u2);
    free(c->unverified);
    free(c->held_s);
    free(c->held_b);
    free(c->u3_ids);
    free(c);
}

gf_err gf_secagg_client_advertise(gf_secagg_client *c, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    GF_TRY(want_state(c, C_INIT, "advertise"));
    /* Fresh keys for this round only. */
    gf_err e = gf_x25519_keypair(c->c_sk, c->c_pk);
    if (e == GF_OK) e = gf_x25519_keypair(c->s_sk, c->s_pk);
    if (e != GF_OK) return fail(c, e);
    uint8_t tbs[GF_SA_ADVERT_TBS], sig[GF_SIG_MAX];
    size_t sig_len = 0, cert_len = 0;
    gf_sa_advert_tbs(c->ctx, c->me, c->c_pk, c->s_pk, tbs);
    e = gf_identity_sign(c->id, tbs, sizeof tbs, sig, &sig_len);
    if (e == GF_OK && sig_len != GF_SA_SIG) e = gf_fail(GF_ECRYPTO, "secagg client: signature of %zu bytes", sig_len);
    const uint8_t *cert = gf_identity_cert_der(c->id, &cert_len);
    if (e == GF_OK && (!cert || cert_len < 1 || cert_len > GF_CERT_DER_MAX))
        e = gf_fail(GF_ERANGE, "secagg client: certificate of %zu bytes", cert_len);
    if (e != GF_OK) return fail(c, e);
    uint8_t *body = gf_sa_begin(GF_SA_ADVERT, c->p.round_id, gf_sa_advert_size(cert_len), msg, len);
    if (!body) return fail(c, gf_fail(GF_ENOMEM, "secagg client: out of memory"));
    gf_sa_advert_write(body, c->me, c->c_pk, c->s_pk, cert, cert_len, sig);
    c->state = C_ADVERTISED;
    return GF_OK;
}

/* Checks the advert list: my own advert unchanged, every neighbour's advert
 * signed by a consortium certificate over this round's context, no name twice. */
static gf_err check_adverts(gf_secagg_client *c, uint32_t *n_live)
{
    const gf_peer *self = gf_identity_peer(c->id);
    char(*names)[GF_NAME_MAX + 1] = calloc(c->p.k + 1, sizeof *names);
    if (!names) return gf_fail(GF_ENOMEM, "secagg client: out of memory");
    uint32_t nn = 0;
    gf_err e = GF_OK;
    snprintf(names[nn++], sizeof *names, "%s", self->name);
    int saw_me = 0;
    for (uint32_t i = 0; i < c->list.count && e == GF_OK; i++) {
        const gf_sa_advert *a = &c->list.adv[i];
        c->adv[a->from] = a;
        if (a->from == c->me) {
            saw_me = 1;
            if (memcmp(a->c_pk, c->c_pk, 32) || memcmp(a->s_pk, c->s_pk, 32))
                e = gf_fail(GF_ECRYPTO, "secagg client %u: my advert was altered in the list", c->me);
            continue;
        }
        if (!gf_secagg_graph_adjacent(c->g, c->me, a->from)) continue; /* checked when its signature is needed */
        uint8_t tbs[GF_SA_ADVERT_TBS];
        gf_peer peer;
        gf_sa_advert_tbs(c->ctx, a->from, a->c_pk, a->s_pk, tbs);
        e = gf_trust_verify(c->trust, a->cert, a->cert_len, tbs, sizeof tbs, a->sig, GF_SA_SIG, &peer);
        if (e != GF_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", gf_errmsg());
            e = gf_fail(GF_ECRYPTO, "secagg client %u: advert of party %u rejected: %s", c->me, a->from, why);
            break;
        }
        if (peer.role == GF_ROLE_COORDINATOR)
            e = gf_fail(GF_ECRYPTO, "secagg client %u: party %u advertises with a coordinator certificate", c->me, a->from);
        for (uint32_t j = 0; j < nn && e == GF_OK; j++)
            if (!strcmp(names[j], peer.name))
                e = gf_fail(GF_ECRYPTO, "secagg client %u: certificate name '%s' appears at two indices", c->me, peer.name);
        if (e == GF_OK) snprintf(names[nn++], sizeof *names, "%s", peer.name);
    }
    free(names);
    if (e == GF_OK && !saw_me) e = gf_fail(GF_ESTATE, "secagg client %u: my advert is missing from the list", c->me);
    *n_live = nn; /* me + verified neighbours */
    return e;
}

gf_err gf_secagg_client_share(gf_secagg_client *c, const uint8_t *advert_list, size_t in_len, uint8_t **msg,
                              size_t *len)
{
    *msg = NULL;
    GF_TRY(want_state(c, C_ADVERTISED, "share"));
    c->list_buf = malloc(in_len ? in_len : 1);
    if (!c->list_buf) return fail(c, gf_fail(GF_ENOMEM, "secagg client: out of memory"));
    memcpy(c->list_buf, advert_list, in_len);
    c->list_len = in_len;
    gf_err e = gf_sa_parse_advert_list(c->list_buf, in_len, c->p.round_id, c->p.n, &c->list);
    uint32_t live = 0;
    if (e == GF_OK) e = check_adverts(c, &live);
    if (e == GF_OK && live < c->p.t)
        e = gf_fail(GF_ESTATE, "secagg client %u: only %u of my %u holders advertised (threshold %u)", c->me, live,
                    c->p.k + 1, c->p.t);
    if (e != GF_OK) return fail(c, e);

    /* Holders: me first, then live neighbours ascending. */
    uint32_t *xs = malloc(live * sizeof *xs);
    gf_shamir_share *ss = calloc(live, sizeof *ss), *bs = calloc(live, sizeof *bs);
    uint8_t *b = c->b;
    if (!xs || !ss || !bs) e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
    uint32_t m = 0;
    if (e == GF_OK) {
        xs[m++] = c->me;
        for (uint32_t i = 0; i < c->list.count; i++) {
            uint32_t v = c->list.adv[i].from;
            if (v != c->me && gf_secagg_graph_adjacent(c->g, c->me, v)) xs[m++] = v;
        }
        if (RAND_bytes(b, 32) != 1) e = gf_fail(GF_ECRYPTO, "secagg client: RAND_bytes failed");
    }
    if (e == GF_OK) e = gf_shamir_split(c->s_sk, (int)c->p.t, (int)m, xs, ss);
    if (e == GF_OK) e = gf_shamir_split(b, (int)c->p.t, (int)m, xs, bs);
    uint8_t *body = NULL;
    if (e == GF_OK) {
        body = gf_sa_begin(GF_SA_SHARES, c->p.round_id, GF_SA_SHARES_HEAD + (size_t)(m - 1) * GF_SA_SHARE_ENTRY, msg, len);
        if (!body) e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
    }
    if (e == GF_OK) {
        c->held_s[c->me] = ss[0];
        c->held_b[c->me] = bs[0];
        c->in_u2[c->me] = 1;
        gf_put_u32le(body, c->me);
        gf_put_u32le(body + 4, m - 1);
        /* Commitments (the server checks every revealed share against them): b, then my own two shares. */
        uint8_t *cm = body + 8;
        e = gf_sa_secret_commit(c->ctx, c->me, b, cm);
        if (e == GF_OK) e = gf_sa_share_commit(c->ctx, c->me, c->me, GF_SA_KIND_S, &ss[0], cm + GF_SA_COMMIT);
        if (e == GF_OK) e = gf_sa_share_commit(c->ctx, c->me, c->me, GF_SA_KIND_B, &bs[0], cm + 2 * GF_SA_COMMIT);
        EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
        if (!cx && e == GF_OK) e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
        for (uint32_t i = 1; i < m && e == GF_OK; i++) {
            uint32_t v = xs[i];
            uint8_t key[32], pt[GF_SA_SHARE_PT], aad[40];
            uint8_t *ent = body + GF_SA_SHARES_HEAD + (size_t)(i - 1) * GF_SA_SHARE_ENTRY;
            uint8_t *nonce = ent + 4, *ct = ent + 16, *tag = ent + 16 + GF_SA_SHARE_PT, *com = ent + 4 + GF_SA_SHARE_CT;
            int ol = 0, fl = 0;
            e = gf_sa_share_commit(c->ctx, c->me, v, GF_SA_KIND_S, &ss[i], com);
            if (e == GF_OK) e = gf_sa_share_commit(c->ctx, c->me, v, GF_SA_KIND_B, &bs[i], com + GF_SA_COMMIT);
            gf_put_u32le(ent, v);
            gf_put_u32le(pt, c->me);
            gf_put_u32le(pt + 4, v);
            gf_shamir_share_pack(&ss[i], pt + 8);
            gf_shamir_share_pack(&bs[i], pt + 8 + GF_SHAMIR_SHARE_BYTES);
            gf_sa_share_aad(c->ctx, c->me, v, aad);
            e = gf_secagg_share_key(c->c_sk, c->adv[v]->c_pk, c->ctx, c->me, v, key);
            if (e == GF_OK && RAND_bytes(nonce, 12) != 1) e = gf_fail(GF_ECRYPTO, "secagg client: RAND_bytes failed");
            if (e == GF_OK &&
                (EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
                 EVP_EncryptUpdate(cx, NULL, &ol, aad, sizeof aad) != 1 ||
                 EVP_EncryptUpdate(cx, ct, &ol, pt, sizeof pt) != 1 || EVP_EncryptFinal_ex(cx, ct + ol, &fl) != 1 ||
                 EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1))
                e = gf_fail(GF_ECRYPTO, "secagg client %u: share encryption to %u failed", c->me, v);
            OPENSSL_cleanse(key, sizeof key);
            OPENSSL_cleanse(pt, sizeof pt);
        }
        EVP_CIPHER_CTX_free(cx);
    }
    if (ss) OPENSSL_cleanse(ss, live * sizeof *ss);
    if (bs) OPENSSL_cleanse(bs, live * sizeof *bs);
    free(ss), free(bs), free(xs);
    /* b and s_sk stay until masking, c_sk until the routed shares are read. */
    if (e != GF_OK) {
        free(*msg);
        *msg = NULL;
        return fail(c, e);
    }
    c->state = C_SHARED;
    return GF_OK;
}

static gf_err read_routed(gf_secagg_client *c, const uint8_t *routed, size_t in_len, uint32_t *n_u2)
{
    gf_sa_shares r;
    GF_TRY(gf_sa_parse_shares(routed, in_len, GF_SA_ROUTED, c->p.round_id, c->p.n, &r));
    if (r.party != c->me) return gf_fail(GF_ESTATE, "secagg client %u: routed shares addressed to %u", c->me, r.party);
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    if (!cx) return gf_fail(GF_ENOMEM, "secagg client: out of memory");
    gf_err e = GF_OK;
    uint32_t cnt = 1;
    for (uint32_t i = 0; i < r.count && e == GF_OK; i++) {
        uint32_t v = gf_sa_shares_peer(&r, i);
        const uint8_t *ent = gf_sa_shares_ct(&r, i), *nonce = ent, *ct = ent + 12, *tag = ent + 12 + GF_SA_SHARE_PT;
        if (!gf_secagg_graph_adjacent(c->g, c->me, v) || !c->adv[v]) {
            e = gf_fail(GF_ESTATE, "secagg client %u: routed share from %u, not an advertised neighbour", c->me, v);
            break;
        }
        uint8_t key[32], pt[GF_SA_SHARE_PT], aad[40], tagc[16];
        int ol = 0, fl = 0;
        memcpy(tagc, tag, 16);
        gf_sa_share_aad(c->ctx, v, c->me, aad);
        e = gf_secagg_share_key(c->c_sk, c->adv[v]->c_pk, c->ctx, v, c->me, key);
        if (e == GF_OK &&
            (EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
             EVP_DecryptUpdate(cx, NULL, &ol, aad, sizeof aad) != 1 ||
             EVP_DecryptUpdate(cx, pt, &ol, ct, GF_SA_SHARE_PT) != 1 ||
             EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, tagc) != 1 || EVP_DecryptFinal_ex(cx, pt + ol, &fl) != 1))
            e = gf_fail(GF_ECRYPTO, "secagg client %u: share ciphertext from party %u failed authentication", c->me, v);
        if (e == GF_OK && (gf_get_u32le(pt) != v || gf_get_u32le(pt + 4) != c->me))
            e = gf_fail(GF_ECRYPTO, "secagg client %u: share from %u names the wrong parties", c->me, v);
        if (e == GF_OK) e = gf_shamir_share_unpack(c->me, pt + 8, &c->held_s[v]);
        if (e == GF_OK) e = gf_shamir_share_unpack(c->me, pt + 8 + GF_SHAMIR_SHARE_BYTES, &c->held_b[v]);
        /* A share that does not match the dealer's commitment would be rejected at unmask and
         * blamed on me: keep it out of my answer (v still shared, so its pairwise mask stays). */
        uint8_t hs[32], hb[32];
        if (e == GF_OK) e = gf_sa_share_commit(c->ctx, v, c->me, GF_SA_KIND_S, &c->held_s[v], hs);
        if (e == GF_OK) e = gf_sa_share_commit(c->ctx, v, c->me, GF_SA_KIND_B, &c->held_b[v], hb);
        if (e == GF_OK) {
            const uint8_t *com = gf_sa_shares_commit(&r, i);
            c->unverified[v] = CRYPTO_memcmp(hs, com, 32) != 0 || CRYPTO_memcmp(hb, com + 32, 32) != 0;
            c->in_u2[v] = 1, cnt++;
        }
        OPENSSL_cleanse(key, sizeof key);
        OPENSSL_cleanse(pt, sizeof pt);
    }
    EVP_CIPHER_CTX_free(cx);
    *n_u2 = cnt;
    return e;
}

gf_err gf_secagg_client_mask(gf_secagg_client *c, const uint8_t *routed, size_t in_len, const uint32_t *x,
                             uint8_t **msg, size_t *len)
{
    *msg = NULL;
    GF_TRY(want_state(c, C_SHARED, "mask"));
    uint32_t cnt = 0;
    gf_err e = read_routed(c, routed, in_len, &cnt);
    OPENSSL_cleanse(c->c_sk, 32); /* share transport is over */
    if (e == GF_OK && cnt < c->p.t)
        e = gf_fail(GF_ESTATE, "secagg client %u: only %u of my holders sent shares (threshold %u)", c->me, cnt, c->p.t);
    if (e != GF_OK) return fail(c, e);
    const uint32_t L = c->p.L;
    uint8_t *body = gf_sa_begin(GF_SA_MASKED, c->p.round_id, 8 + (size_t)L * 4, msg, len);
    if (!body) return fail(c, gf_fail(GF_ENOMEM, "secagg client: out of memory"));
    gf_put_u32le(body, c->me);
    gf_put_u32le(body + 4, L);
    uint32_t *y = (uint32_t *)(void *)(body + 8); /* 28 bytes into a malloc'd block: aligned */
    memcpy(y, x, (size_t)L * 4);
    e = gf_mask_apply(y, L, c->b, +1);
    uint32_t *nb = malloc(c->p.k * sizeof *nb);
    if (!nb && e == GF_OK) e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
    if (e == GF_OK) gf_secagg_graph_neighbours(c->g, c->me, nb);
    for (uint32_t i = 0; i < c->p.k && e == GF_OK; i++) {
        uint32_t v = nb[i];
        if (!c->in_u2[v]) continue; /* v dropped before sharing: no pairwise mask */
        uint8_t seed[32];
        e = gf_secagg_mask_seed(c->s_sk, c->adv[v]->s_pk, c->ctx, c->me, v, seed);
        if (e == GF_OK) e = gf_mask_apply(y, L, seed, c->me < v ? +1 : -1);
        OPENSSL_cleanse(seed, sizeof seed);
    }
    free(nb);
    OPENSSL_cleanse(c->b, 32);
    OPENSSL_cleanse(c->s_sk, 32);
    if (e != GF_OK) {
        free(*msg);
        *msg = NULL;
        return fail(c, e);
    }
    c->state = C_MASKED;
    return GF_OK;
}

gf_err gf_secagg_client_consistency(gf_secagg_client *c, const uint8_t *survivors, size_t in_len, uint8_t **msg,
                                    size_t *len)
{
    *msg = NULL;
    GF_TRY(want_state(c, C_MASKED, "consistency"));
    gf_sa_survivors s;
    gf_err e = gf_sa_parse_survivors(survivors, in_len, GF_SA_SURVIVORS, c->p.round_id, c->p.n, &s);
    int saw_me = 0;
    for (uint32_t i = 0; i < s.count && e == GF_OK; i++) {
        uint32_t v = gf_sa_u32(s.ids + 4 * i);
        saw_me |= v == c->me;
        /* U3 ⊆ U2: a neighbour that never sent me shares cannot have survived. */
        if (gf_secagg_graph_adjacent(c->g, c->me, v) && !c->in_u2[v])
            e = gf_fail(GF_ESTATE, "secagg client %u: survivor %u never shared its keys (U3 not within U2)", c->me, v);
    }
    if (e == GF_OK && !saw_me) e = gf_fail(GF_ESTATE, "secagg client %u: not in the survivor set", c->me);
    if (e == GF_OK && s.count < c->p.t)
        e = gf_fail(GF_ESTATE, "secagg client %u: %u survivors, fewer than the threshold %u", c->me, s.count, c->p.t);
    uint8_t *tbs = NULL, sig[GF_SIG_MAX];
    size_t tl = 0, sl = 0;
    if (e == GF_OK) e = gf_sa_survivors_tbs(c->ctx, s.count, s.ids, &tbs, &tl);
    if (e == GF_OK) e = gf_identity_sign(c->id, tbs, tl, sig, &sl);
    free(tbs);
    if (e == GF_OK && sl != GF_SA_SIG) e = gf_fail(GF_ECRYPTO, "secagg client: signature of %zu bytes", sl);
    if (e == GF_OK) {
        c->u3_ids = malloc(4 * (size_t)s.count);
        if (!c->u3_ids) e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
    }
    uint8_t *body = NULL;
    if (e == GF_OK && !(body = gf_sa_begin(GF_SA_CONSIST, c->p.round_id, 4 + GF_SA_SIG, msg, len)))
        e = gf_fail(GF_ENOMEM, "secagg client: out of memory");
    if (e != GF_OK) return fail(c, e);
    memcpy(c->u3_ids, s.ids, 4 * (size_t)s.count);
    c->u3_count = s.count;
    gf_put_u32le(body, c->me);
    memcpy(body + 4, sig, GF_SA_SIG);
    c->state = C_SIGNED;
    return GF_OK;
}

static int in_sorted(const uint8_t *ids, uint32_t count, uint32_t v)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2, x = gf_sa_u32(ids + 4 * mid);
        if (x == v) return 1;
        if (x < v) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* At least t valid signatures over the survivor set I signed, from distinct
 * survivors with distinct certificate names. */
static gf_err check_signatures(gf_secagg_client *c, const gf_sa_survivors *r)
{
    uint8_t *tbs = NULL;
    size_t tl = 0;
    GF_TRY(gf_sa_survivors_tbs(c->ctx, r->count, r->ids, &tbs, &tl));
    char(*names)[GF_NAME_MAX + 1] = calloc(c->p.t, sizeof *names);
    uint8_t *seen = calloc((size_t)c->p.n + 1, 1);
    gf_err e = !names || !seen ? gf_fail(GF_ENOMEM, "secagg client: out of memory") : GF_OK;
    uint32_t valid = 0;
    for (uint32_t i = 0; i < r->n_sig && valid < c->p.t && e == GF_OK; i++) {
        const uint8_t *ent = r->sigs + (size_t)i * GF_SA_SIG_ENTRY;
        uint32_t v = gf_sa_u32(ent);
        if (seen[v]) { e = gf_fail(GF_ECRYPTO, "secagg client %u: two consistency signatures of party %u", c->me, v); break; }
        seen[v] = 1;
        if (!in_sorted(r->ids, r->count, v) || !c->adv[v]) {
            e = gf_fail(GF_ECRYPTO, "secagg client %u: consistency signature of %u, not an advertised survivor", c->me, v);
            break;
        }
        gf_peer peer;
        e = gf_trust_verify(c->trust, c->adv[v]->cert, c->adv[v]->cert_len, tbs, tl, ent + 4, GF_SA_SIG, &peer);
        if (e != GF_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", gf_errmsg());
            e = gf_fail(GF_ECRYPTO, "secagg client %u: consistency signature of party %u rejected: %s", c->me, v, why);
            break;
        }
        for (uint32_t j = 0; j < valid && e == GF_OK; j++)
            if (!strcmp(names[j], peer.name))
                e = gf_fail(GF_ECRYPTO, "secagg client %u: certificate '%s' signed twice", c->me, peer.name);
        if (e == GF_OK) snprintf(names[valid++], sizeof *names, "%s", peer.name);
    }
    if (e == GF_OK && valid < c->p.t)
        e = gf_fail(GF_ESTATE, "secagg client %u: %u valid consistency signatures, threshold %u", c->me, valid, c->p.t);
    free(tbs);
    free(names);
    free(seen);
    return e;
}

gf_err gf_secagg_client_unmask(gf_secagg_client *c, const uint8_t *request, size_t in_len, uint8_t **msg,
                               size_t *len)
{
    *msg = NULL;
    GF_TRY(want_state(c, C_SIGNED, "unmask"));
    gf_sa_survivors r;
    gf_err e = gf_sa_parse_survivors(request, in_len, GF_SA_UNMASK_REQ, c->p.round_id, c->p.n, &r);
    if (e == GF_OK && (r.count != c->u3_count || memcmp(r.ids, c->u3_ids, 4 * (size_t)r.count)))
        e = gf_fail(GF_ESTATE, "secagg client %u: unmask request names another survivor set than the one signed", c->me);
    if (e == GF_OK) e = check_signatures(c, &r);
    if (e != GF_OK) return fail(c, e);
    /* One share per holder relation: b of survivors, s of parties that shared but dropped. */
    uint32_t cnt = 0;
    for (uint32_t v = 1; v <= c->p.n; v++) cnt += c->in_u2[v] && !c->unverified[v];
    uint8_t *body = gf_sa_begin(GF_SA_UNMASK, c->p.round_id, 8 + (size_t)cnt * GF_SA_UNMASK_ENTRY, msg, len);
    if (!body) return fail(c, gf_fail(GF_ENOMEM, "secagg client: out of memory"));
    gf_put_u32le(body, c->me);
    gf_put_u32le(body + 4, cnt);
    uint8_t *p = body + 8;
    for (uint32_t v = 1; v <= c->p.n; v++) {
        if (!c->in_u2[v] || c->unverified[v]) continue;
        int alive = in_sorted(c->u3_ids, c->u3_count, v);
        gf_put_u32le(p, v);
        p[4] = alive ? GF_SA_KIND_B : GF_SA_KIND_S;
        gf_shamir_share_pack(alive ? &c->held_b[v] : &c->held_s[v], p + 5);
        p += GF_SA_UNMASK_ENTRY;
    }
    wipe_secrets(c);
    c->state = C_DONE;
    return GF_OK;
}

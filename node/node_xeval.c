/* Cross-site evaluation at a hospital (docs/PROTOCOL.md "Cross-site
 * evaluation"): after the last round the coordinator asks every online
 * hospital for a fresh X25519 key signed with its certificate key
 * (xeval_key), asks those that share to upload their locally trained model
 * encrypted to the others (xeval_share, crypto/xeval.h), and then every
 * hospital evaluates the final global model, its own local model and the
 * others' on its validation subjects and posts the metrics (xeval_evaluate).
 * The coordinator relays ciphertext and keeps metrics only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/hash.h"
#include "crypto/keyagree.h"
#include "crypto/xeval.h"
#include "node/local_internal.h"
#include "node/node_internal.h"
#include "node/wire.h"

#define KEYS_CAP (2u << 20) /* the key list: ~1 KB per hospital */

struct nd_xeval {
    int64_t version;     /* the final global model */
    uint8_t sha[32];
    uint8_t sk[32], pk[32];
    int key_posted, shared;
    int key_accepted;    /* the coordinator took the key (202) */
    int sharing;         /* this site announced share: true */
};

void nd_xeval_free(node *n)
{
    if (!n->x) return;
    OPENSSL_cleanse(n->x, sizeof *n->x);
    free(n->x);
    n->x = NULL;
}

/* The session for the work item's final model (a new one, with a fresh key,
 * when the version changed). */
static gf_err session(node *n, const json_t *work)
{
    GF_TRY(nd_ensure_model(n, work));
    if (n->x && n->x->version == n->model_v) return GF_OK;
    nd_xeval_free(n);
    struct nd_xeval *x = calloc(1, sizeof *x);
    if (!x) return gf_fail(GF_ENOMEM, "out of memory");
    x->version = n->model_v;
    gf_err e = gf_unhex(n->model_sha, x->sha, 32);
    if (!e) e = gf_x25519_keypair(x->sk, x->pk);
    if (e) {
        OPENSSL_cleanse(x, sizeof *x);
        free(x);
        return e;
    }
    /* Only a model trained in the last round (on the version before the final one) is shared. */
    x->sharing = n->cfg->share_local && n->local_theta && n->up_version == n->model_v - 1;
    n->x = x;
    return GF_OK;
}

static gf_err post_json(node *n, const char *path, const char *what, json_t *j, answer *a)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) return gf_fail(GF_ENOMEM, "out of memory");
    gf_https_resp r;
    gf_err e = nd_post(n, path, "application/json", NULL, body, strlen(body), &r);
    free(body);
    if (e) return e;
    *a = nd_classify(n, what, &r, &e);
    gf_https_resp_free(&r);
    return e;
}

static gf_err post_key(node *n)
{
    struct nd_xeval *x = n->x;
    uint8_t msg[GF_XEVAL_KEYMSG_MAX], sig[GF_SIG_MAX];
    size_t ml = 0, sl = 0, cl = 0;
    const uint8_t *cert = gf_identity_cert_der(n->id, &cl);
    char pk[65], sg[2 * GF_SIG_MAX + 1], *cb = NULL;
    GF_TRY(gf_xeval_key_message(n->cfg->name, (uint64_t)x->version, x->sha, x->pk, msg, &ml));
    GF_TRY(gf_identity_sign(n->id, msg, ml, sig, &sl));
    GF_TRY(gf_b64_encode(cert, cl, &cb));
    gf_hex(x->pk, 32, pk);
    gf_hex(sig, sl, sg);
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:b}", "version", (json_int_t)x->version, "pk", pk, "cert", cb, "sig", sg,
                          "share", x->sharing);
    free(cb);
    answer a;
    gf_err e = post_json(n, "/v1/xeval/key", "cross-site key", j, &a);
    if (!e && (a == ANS_OK || a == ANS_REFUSED || a == ANS_STALE)) x->key_posted = 1;
    if (!e && a == ANS_OK) x->key_accepted = 1;
    if (!e && a == ANS_OK)
        nd_say(n, "cross-site evaluation of model version %" PRId64 ": key posted (%s its local model)", x->version,
               x->sharing ? "sharing" : "not sharing");
    return e;
}

/* The consortium's verified keys: names[i], pks[i] (32 bytes each), n of them. */
typedef struct {
    char (*names)[64];
    uint8_t (*pks)[32];
    size_t n;
} keyring;

static void keyring_free(keyring *k)
{
    free(k->names), free(k->pks);
    memset(k, 0, sizeof *k);
}

/* GET /v1/xeval/keys; every entry's certificate is checked against the CA and
 * CRL and its signature over (name, version, model SHA-256, key): the
 * coordinator cannot substitute a key. */
static gf_err fetch_keys(node *n, keyring *k)
{
    memset(k, 0, sizeof *k);
    gf_https_resp r;
    GF_TRY(nd_get(n, "/v1/xeval/keys", KEYS_CAP, &r));
    if (r.status != 200) {
        gf_err e = gf_fail(GF_ENET, "GET /v1/xeval/keys: HTTP %ld %s", r.status, r.error_msg);
        if (r.status >= 500) n->tx = 1;
        gf_https_resp_free(&r);
        return e;
    }
    gf_wire_keys wk;
    gf_err e = gf_wire_parse_keys(r.body, r.len, n->x->version, &wk);
    gf_https_resp_free(&r);
    size_t cnt = wk.n;
    k->names = calloc(cnt ? cnt : 1, sizeof *k->names);
    k->pks = calloc(cnt ? cnt : 1, sizeof *k->pks);
    if (!e && (!k->names || !k->pks)) e = gf_fail(GF_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt && !e; i++) {
        const gf_wire_key *it = &wk.keys[i];
        const char *nm = it->site;
        uint8_t msg[GF_XEVAL_KEYMSG_MAX];
        size_t ml = 0;
        gf_peer who;
        e = gf_xeval_key_message(nm, (uint64_t)n->x->version, n->x->sha, it->pk, msg, &ml);
        if (!e) e = gf_trust_verify(n->trust, it->cert, it->cert_len, msg, ml, it->sig, GF_SIG_MAX, &who);
        if (!e && (strcmp(who.name, nm) || who.role != GF_ROLE_HOSPITAL))
            e = gf_fail(GF_ECRYPTO, "cross-site key of '%s' comes with the certificate of %s (%s)", nm, who.name,
                        gf_role_name(who.role));
        if (e) break;
        snprintf(k->names[k->n], 64, "%s", nm);
        memcpy(k->pks[k->n++], it->pk, 32);
    }
    gf_wire_keys_free(&wk);
    if (e) keyring_free(k);
    return e;
}

static gf_err share(node *n)
{
    struct nd_xeval *x = n->x;
    if (!x->sharing || x->shared) return GF_OK;
    keyring k;
    GF_TRY(fetch_keys(n, &k));
    gf_xeval_recipient *rc = calloc(k.n ? k.n : 1, sizeof *rc);
    size_t m = 0;
    for (size_t i = 0; rc && i < k.n; i++)
        if (strcmp(k.names[i], n->cfg->name)) rc[m].name = k.names[i], rc[m++].pk = k.pks[i];
    uint8_t *body = NULL;
    size_t len = 0;
    gf_err e = rc ? gf_xeval_seal(n->cfg->name, x->sk, (uint64_t)x->version, x->sha, n->local_theta, n->L, rc, m, &body,
                                  &len)
                  : gf_fail(GF_ENOMEM, "out of memory");
    free(rc);
    keyring_free(&k);
    if (e) return e;
    gf_https_resp r;
    e = nd_post(n, "/v1/xeval/model", "application/octet-stream", NULL, body, len, &r);
    free(body);
    if (e) return e;
    answer a = nd_classify(n, "cross-site model", &r, &e);
    gf_https_resp_free(&r);
    if (!e && (a == ANS_OK || a == ANS_REFUSED || a == ANS_STALE)) x->shared = 1;
    if (a == ANS_OK) nd_say(n, "cross-site evaluation: local model sent, encrypted to %zu hospitals", m);
    return e;
}

/* Metrics of parameters theta (NULL: the global model itself) on this site's validation subjects. */
static gf_err eval_theta(node *n, const float *theta, const float *mean, const float *sd, json_t **out)
{
    if (!theta) return gf_local_evaluate_val(n->model, &n->data.ds, n->model_task, n->data.is_val, mean, sd, out);
    gf_model *m = NULL;
    GF_TRY(gf_local_copy_model(n->model, (int)n->cfg->threads, &m));
    gf_arena_unpack(&m->params, theta);
    gf_err e = gf_local_evaluate_val(m, &n->data.ds, n->model_task, n->data.is_val, mean, sd, out);
    gf_model_free(m);
    return e;
}

static gf_err add_result(json_t *res, const char *model, json_t *metrics)
{
    if (json_array_append_new(res, json_pack("{s:s,s:o}", "model", model, "metrics", metrics)))
        return gf_fail(GF_ENOMEM, "out of memory");
    return GF_OK;
}

static gf_err evaluate(node *n, const json_t *work)
{
    struct nd_xeval *x = n->x;
    if (n->xeval_done_v == x->version) return GF_OK;
    const json_t *senders;
    const char *norm;
    GF_TRY(gf_wire_work_xeval(work, &senders, &norm));
    GF_TRY(nd_hospital_data(n, n->model_task));
    int pooled = nd_norm_from_model(norm);
    if (pooled && !n->model->has_norm)
        return gf_fail(GF_EFORMAT, "cross-site evaluation: normalization %s, but the model carries no x_mean/x_std", norm);
    const float *mean = pooled ? n->model->x_mean : n->data.mom.mean, *sd = pooled ? n->model->x_std : n->data.mom.sd;
    keyring k = {0};
    json_t *res = json_array(), *m = NULL;
    float *theta = malloc(n->L * sizeof *theta);
    gf_err e = res && theta ? GF_OK : gf_fail(GF_ENOMEM, "out of memory");
    if (!e && json_array_size(senders)) e = fetch_keys(n, &k);
    if (!e && !(e = eval_theta(n, NULL, mean, sd, &m))) e = add_result(res, "global", m);
    int own = n->local_theta && n->up_version == n->model_v - 1;
    if (!e && own && !(e = eval_theta(n, n->local_theta, mean, sd, &m))) e = add_result(res, n->cfg->name, m);
    int received = 0;
    for (size_t i = 0; i < json_array_size(senders) && !e; i++) {
        const char *who = json_string_value(json_array_get(senders, i)); /* a valid name (gf_wire_work_xeval) */
        if (!strcmp(who, n->cfg->name)) continue;
        size_t ki = 0;
        while (ki < k.n && strcmp(k.names[ki], who)) ki++;
        if (ki == k.n) { nd_say(n, "cross-site evaluation: no verified key for %s; skipped", who); continue; }
        char path[128];
        snprintf(path, sizeof path, "/v1/xeval/models/%s", who);
        gf_https_resp r;
        if ((e = nd_get(n, path, n->L * 4 + 64 + (size_t)GF_XEVAL_MAX_PEERS * (64 + GF_XEVAL_WRAP) + 4096, &r))) break;
        gf_xeval_body b;
        gf_err oe = r.status == 200 ? gf_xeval_parse(r.body, r.len, &b) : gf_fail(GF_ENET, "GET %s: HTTP %ld", path, r.status);
        if (!oe && (strcmp(b.sender, who) || b.version != (uint64_t)x->version))
            oe = gf_fail(GF_ECRYPTO, "%s: a model from %s for version %" PRIu64, path, b.sender, b.version);
        if (!oe) oe = gf_xeval_open(&b, n->cfg->name, x->sk, k.pks[ki], x->sha, theta, n->L);
        gf_https_resp_free(&r);
        if (oe) { /* one bad or missing model does not spoil the others: said, and left out */
            nd_say(n, "cross-site evaluation: %s's model left out: %s", who, gf_errmsg());
            continue;
        }
        if (!(e = eval_theta(n, theta, mean, sd, &m))) e = add_result(res, who, m);
        received++;
    }
    OPENSSL_cleanse(theta, n->L * sizeof *theta);
    free(theta);
    keyring_free(&k);
    if (e) {
        json_decref(res);
        return e;
    }
    answer a;
    size_t nres = json_array_size(res);
    e = post_json(n, "/v1/xeval/results", "cross-site results",
                  json_pack("{s:I,s:o}", "version", (json_int_t)x->version, "results", res), &a);
    if (!e && (a == ANS_OK || a == ANS_REFUSED || a == ANS_STALE)) n->xeval_done_v = x->version;
    if (!e && a == ANS_OK)
        nd_say(n, "cross-site evaluation of model version %" PRId64 ": %zu models evaluated (%d from other hospitals)",
               x->version, nres, received);
    return e;
}

gf_err nd_xeval_step(node *n, const char *state, const json_t *work)
{
    GF_TRY(session(n, work));
    if (!strcmp(state, "xeval_key") && n->x->key_accepted) {
        /* Asked again for a key the coordinator had accepted: it restarted and
         * runs the stage anew. A fresh key, and everything again. */
        nd_say(n, "cross-site evaluation of model version %" PRId64 ": the coordinator asks for a key again "
                  "(restarted); starting over with a fresh one", n->x->version);
        nd_xeval_free(n);
        n->xeval_done_v = -1;
        GF_TRY(session(n, work));
    }
    if (!strcmp(state, "xeval_key")) return n->x->key_posted ? GF_OK : post_key(n);
    if (!strcmp(state, "xeval_share")) return share(n);
    if (!strcmp(state, "xeval_evaluate")) return evaluate(n, work);
    return GF_OK;
}

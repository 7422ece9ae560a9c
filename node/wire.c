#include "node/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/xeval.h"

gf_err gf_wire_parse_work(const uint8_t *b, size_t n, gf_wire_work *out)
{
    memset(out, 0, sizeof *out);
    json_t *w = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, NULL);
    const char *st = json_string_value(json_object_get(w, "state"));
    json_int_t round = json_integer_value(json_object_get(w, "round"));
    json_int_t attempt = json_integer_value(json_object_get(w, "attempt"));
    json_int_t retry = json_integer_value(json_object_get(w, "retry_after_ms"));
    if (!st || round < 0 || attempt < 0) {
        json_decref(w);
        return gf_fail(GF_EFORMAT, "GET /v1/work: not a work item");
    }
    *out = (gf_wire_work){.root = w, .state = st, .round = round, .attempt = attempt, .retry_after_ms = retry};
    return GF_OK;
}

gf_err gf_wire_work_model(const json_t *work, size_t cap, gf_wire_model *out)
{
    memset(out, 0, sizeof *out);
    const json_t *m = json_object_get(work, "model");
    json_int_t v = json_integer_value(json_object_get(m, "version"));
    json_int_t bytes = json_integer_value(json_object_get(m, "bytes"));
    const char *sha = json_string_value(json_object_get(m, "sha256"));
    if (!json_is_integer(json_object_get(m, "version")) || v < 0 || !sha || strlen(sha) != 64 || bytes < 1 ||
        (uint64_t)bytes > cap)
        return gf_fail(GF_EFORMAT, "work item: 'model' needs version >= 0, sha256 and bytes in 1..%zu", cap);
    *out = (gf_wire_model){.version = v, .sha256 = sha, .bytes = (size_t)bytes};
    return GF_OK;
}

gf_err gf_wire_work_train(const json_t *t, gf_local_config *lc, gf_task *task, const char **norm)
{
    const char *ts = json_string_value(json_object_get(t, "task"));
    json_int_t ep = json_integer_value(json_object_get(t, "epochs")), bs = json_integer_value(json_object_get(t, "batch"));
    json_int_t seed = json_integer_value(json_object_get(t, "seed"));
    double lr = json_number_value(json_object_get(t, "lr")), wd = json_number_value(json_object_get(t, "weight_decay"));
    double gc = json_number_value(json_object_get(t, "grad_clip")), mu = json_number_value(json_object_get(t, "mu"));
    *norm = json_string_value(json_object_get(t, "normalization"));
    if (!json_is_object(t) || !ts || gf_task_parse(ts, task) || ep < 1 || ep > 10000 || bs < 1 || bs > 65536 ||
        !(lr >= 1e-12 && lr <= 10) || !(wd >= 0 && wd <= 10) || !(gc >= 0 && gc <= 1e6) || !(mu >= 0 && mu <= 1e6))
        return gf_fail(GF_EFORMAT, "work item: 'train' needs task, epochs, batch, lr, weight_decay, grad_clip, mu, seed");
    *lc = (gf_local_config){.epochs = (int)ep, .batch = (int)bs, .lr = (float)lr, .weight_decay = (float)wd,
                            .grad_clip = (float)gc, .mu = (float)mu, .seed = (uint64_t)seed};
    return GF_OK;
}

/* An integer field in 0..max (json_integer_value's 0 when absent, as before). */
static int u_in(const json_t *o, const char *key, json_int_t max, json_int_t *v)
{
    const json_t *x = json_object_get(o, key);
    *v = json_integer_value(x);
    return (!x || json_is_integer(x)) && *v >= 0 && *v <= max;
}

gf_err gf_wire_work_secagg(const json_t *work, gf_secagg_params *p, uint32_t *index)
{
    const json_t *s = json_object_get(work, "secagg");
    const char *nonce = json_string_value(json_object_get(s, "nonce"));
    json_int_t idx = json_integer_value(json_object_get(work, "index")), rid = 0, n = 0, k = 0, t = 0, L = 0;
    /* Integers wider than their field used to wrap (n = 2^32 + 4 read as 4). */
    int ok = u_in(s, "round_id", INT64_MAX, &rid) && u_in(s, "n", UINT32_MAX, &n) && u_in(s, "k", UINT32_MAX, &k) &&
             u_in(s, "t", UINT32_MAX, &t) && u_in(s, "L", UINT32_MAX, &L);
    memset(p, 0, sizeof *p);
    *p = (gf_secagg_params){.round_id = (uint64_t)rid, .n = (uint32_t)n, .k = (uint32_t)k, .t = (uint32_t)t,
                            .L = (uint32_t)L, .clip = json_number_value(json_object_get(s, "clip")),
                            .scale = json_number_value(json_object_get(s, "scale"))};
    if (!json_is_object(s) || !ok || !nonce || gf_unhex(nonce, p->nonce, 32) || idx < 1 || (uint64_t)idx > p->n)
        return gf_fail(GF_EFORMAT, "work item: 'secagg' needs round_id, nonce (64 hex), n, k, t, L, clip, scale and "
                                   "'index' in 1..n");
    *index = (uint32_t)idx;
    return GF_OK;
}

gf_err gf_wire_work_xeval(const json_t *work, const json_t **senders, const char **norm)
{
    const json_t *xj = json_object_get(work, "xeval"), *s = json_object_get(xj, "senders");
    const char *nm = json_string_value(json_object_get(xj, "normalization"));
    *senders = NULL, *norm = NULL;
    if (!json_is_array(s) || json_array_size(s) > GF_XEVAL_MAX_PEERS || !nm)
        return gf_fail(GF_EFORMAT, "work item: 'xeval' needs senders[] and normalization");
    for (size_t i = 0; i < json_array_size(s); i++) {
        const char *who = json_string_value(json_array_get(s, i));
        if (!who || !gf_name_valid(who)) return gf_fail(GF_EFORMAT, "work item: xeval.senders[%zu] is not a name", i);
    }
    *senders = s, *norm = nm;
    return GF_OK;
}

void gf_wire_keys_free(gf_wire_keys *k)
{
    for (size_t i = 0; k->keys && i < k->n; i++) free(k->keys[i].cert);
    free(k->keys);
    memset(k, 0, sizeof *k);
}

gf_err gf_wire_parse_keys(const uint8_t *b, size_t n, int64_t version, gf_wire_keys *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *ks = json_object_get(j, "keys");
    size_t cnt = json_array_size(ks);
    gf_err e = json_is_array(ks) && cnt <= GF_XEVAL_MAX_PEERS
                   ? GF_OK
                   : gf_fail(GF_EFORMAT, "GET /v1/xeval/keys: expected {keys[<=%d]}", GF_XEVAL_MAX_PEERS);
    if (!e && json_integer_value(json_object_get(j, "version")) != version)
        e = gf_fail(GF_EFORMAT, "GET /v1/xeval/keys: keys for another model version");
    if (!e && !(out->keys = calloc(cnt ? cnt : 1, sizeof *out->keys))) e = gf_fail(GF_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt && !e; i++) {
        json_t *it = json_array_get(ks, i);
        const char *nm = json_string_value(json_object_get(it, "site")), *pk = json_string_value(json_object_get(it, "pk"));
        const char *cb = json_string_value(json_object_get(it, "cert")), *sg = json_string_value(json_object_get(it, "sig"));
        gf_wire_key *k = &out->keys[i];
        if (!nm || !gf_name_valid(nm) || !pk || strlen(pk) != 64 || gf_unhex(pk, k->pk, 32) || !sg ||
            strlen(sg) != 2 * GF_SIG_MAX || gf_unhex(sg, k->sig, GF_SIG_MAX) || !cb) {
            e = gf_fail(GF_EFORMAT, "GET /v1/xeval/keys: entry %zu needs site, pk (64 hex), cert and sig (128 hex)", i);
            break;
        }
        snprintf(k->site, sizeof k->site, "%s", nm);
        e = gf_b64_decode(cb, 2 * GF_CERT_DER_MAX, &k->cert, &k->cert_len);
        out->n = i + 1;
    }
    json_decref(j);
    if (e) gf_wire_keys_free(out);
    return e;
}

void gf_wire_parse_error(const uint8_t *b, size_t n, char *code, size_t code_cap, char *msg, size_t msg_cap)
{
    json_t *j = json_loadb((const char *)b, n, 0, NULL);
    json_t *e = j ? json_object_get(j, "error") : NULL;
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    snprintf(code, code_cap, "%s", c ? c : "");
    snprintf(msg, msg_cap, "%s", m ? m : "");
    json_decref(j);
}

/* Cross-site evaluation after the last round (docs/PROTOCOL.md "Cross-site
 * evaluation"; the node side is node/node_xeval.c). Three steps, one
 * deadline each (see start_step):
 *   keys      every hospital online at the end posts a fresh X25519 key
 *             signed with its certificate key (checked here and by peers)
 *   share     hospitals that opted in upload their local model encrypted to
 *             the others (crypto/xeval.h): ciphertext, kept in memory only
 *   evaluate  every keyed hospital evaluates the final global model, its own
 *             local model and the shared ones on its validation subjects
 * The coordinator stores metrics only: table cross_site, one row per (model,
 * evaluating site), each with an audit row. Nothing of it is persisted but
 * the results: a coordinator restarted before any result was stored runs the
 * stage again with fresh keys. */
#include "coordinator/coord_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/wire.h"
#include "crypto/hash.h"
#include "crypto/xeval.h"

#define KEY_CAP (16u << 10) /* a key message: a certificate and two hex strings */

static void x_reset(gf_coordinator *c)
{
    for (size_t i = 0; i < c->n_sites; i++) {
        gf_site *s = &c->sites[i];
        free(s->x_cert), free(s->x_body);
        s->x_cert = s->x_body = NULL;
        s->x_cert_len = s->x_body_len = 0;
        s->x_in = s->x_keyed = s->x_share = s->x_shared = s->x_done = 0;
    }
}

void gf_coord_xeval_free(gf_coordinator *c) { x_reset(c); }

static void audit(gf_coordinator *c, int64_t now, const char *event, json_t *j /* stolen */)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    gf_err e = s ? gf_coord_db_begin(&c->db) : GF_ENOMEM;
    if (!e) e = gf_coord_db_audit(&c->db, now, event, s);
    if (!e) e = gf_coord_db_commit(&c->db);
    else if (s) gf_coord_db_rollback(&c->db);
    if (e == GF_EDB) gf_coord_fatal(c, e);
    free(s);
}

static json_t *names(const gf_coordinator *c, int (*f)(const gf_site *))
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->n_sites && a; i++)
        if (f(&c->sites[i])) json_array_append_new(a, json_string(c->sites[i].name));
    return a;
}

static int is_in(const gf_site *s) { return s->x_in; }
static int is_keyed(const gf_site *s) { return s->x_keyed; }
static int is_shared(const gf_site *s) { return s->x_shared && s->x_body; }
static int is_done(const gf_site *s) { return s->x_done; }

/* Deadlines: a key is a message (the advert's), a model an upload (the masked
 * input's), the evaluation is the stage's own (timeouts_s.cross_eval). */
static void start_step(gf_coordinator *c, int step, int64_t now)
{
    static const gf_phase clock[3] = {GF_PH_ADVERT, GF_PH_MASKED, GF_PH_CROSS};
    c->xeval_step = step;
    c->deadline_ms = now + (int64_t)(c->cfg->timeout_s[clock[step]] * 1000);
    if (step) gf_coord_fault(c, step == 1 ? "xeval_share" : "xeval_evaluate", 0);
}

/* One count from the database (-1 on error). */
static int64_t count_of(gf_coordinator *c, const char *sql, int64_t round)
{
    sqlite3_stmt *q;
    int64_t n = -1;
    if (sqlite3_prepare_v2(c->db.db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(q, 1, round);
    if (sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

int gf_coord_xeval_begin(gf_coordinator *c, int64_t now)
{
    if (!c->cfg->cross_site_eval || c->version <= c->base_version) return 0;
    int64_t round = c->round - 1;
    /* Done before a restart only when the stage closed: a coordinator killed
     * after some hospitals' results were stored runs it again (fresh keys;
     * the stored rows are replaced by the same metrics). */
    if (count_of(c, "SELECT count(*) FROM audit WHERE event = 'cross_site_closed' AND json_extract(detail, '$.round') = ?",
                 round) != 0)
        return 0;
    /* A coordinator restarted at the end of the run first waits (at most the
     * key deadline) for the hospitals of the last round to poll again: the
     * stage asks those online when it opens. */
    if (now - c->started_ms < (int64_t)(c->cfg->timeout_s[GF_PH_ADVERT] * 1000)) {
        sqlite3_stmt *q;
        int missing = 0;
        if (sqlite3_prepare_v2(c->db.db, "SELECT site FROM round_sites WHERE round = ?", -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, round);
            while (!missing && sqlite3_step(q) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(q, 0);
                missing = 1;
                for (size_t i = 0; name && i < c->n_sites; i++)
                    if (!strcmp(c->sites[i].name, name) && now - c->sites[i].last_seen_ms <= GF_ONLINE_MS) missing = 0;
            }
            sqlite3_finalize(q);
        }
        if (missing) return -1;
    }
    x_reset(c);
    size_t n = 0;
    for (size_t i = 0; i < c->n_sites && n < GF_XEVAL_MAX_PEERS; i++) {
        gf_site *s = &c->sites[i];
        if (s->role == GF_ROLE_HOSPITAL && now - s->last_seen_ms <= GF_ONLINE_MS) s->x_in = 1, n++;
    }
    if (n < 1) return 0;
    c->xeval_round = round;
    c->phase_started_ms = now;
    c->phase = GF_PH_CROSS;
    start_step(c, 0, now);
    audit(c, now, "cross_site_opened",
          json_pack("{s:I,s:I,s:s,s:o}", "round", (json_int_t)round, "model_version", (json_int_t)c->version,
                    "model_sha256", c->sha, "sites", names(c, is_in)));
    if (c->fatal) return -1;
    gf_coord_fault(c, "xeval_keys", 0);
    fprintf(stderr, "coordinator: cross-site evaluation of model version %lld with %zu hospitals\n",
            (long long)c->version, n);
    return 1;
}

/* 1 when the stage is over (results stored, memory freed). */
int gf_coord_xeval_advance(gf_coordinator *c, int64_t now)
{
    int pending = 0;
    for (size_t i = 0; i < c->n_sites; i++) {
        const gf_site *s = &c->sites[i];
        if (c->xeval_step == 0) pending += s->x_in && !s->x_keyed;
        else if (c->xeval_step == 1) pending += s->x_keyed && s->x_share && !s->x_shared;
        else pending += s->x_keyed && !s->x_done;
    }
    if (pending && now < c->deadline_ms) return 0;
    if (c->xeval_step < 2) {
        start_step(c, c->xeval_step + 1, now);
        return 0;
    }
    gf_coord_phase_done(c, now);
    gf_coord_fault(c, "xeval_close", 1);
    audit(c, now, "cross_site_closed",
          json_pack("{s:I,s:I,s:o,s:o,s:o}", "round", (json_int_t)c->xeval_round, "model_version",
                    (json_int_t)c->version, "keyed", names(c, is_keyed), "shared", names(c, is_shared), "evaluated",
                    names(c, is_done)));
    x_reset(c);
    return 1;
}

const char *gf_coord_xeval_state(const gf_coordinator *c, const gf_site *s)
{
    if (s->role != GF_ROLE_HOSPITAL) return "wait";
    switch (c->xeval_step) {
    case 0: return s->x_in && !s->x_keyed ? "xeval_key" : "wait";
    case 1: return s->x_keyed && s->x_share && !s->x_shared ? "xeval_share" : "wait";
    default: return s->x_keyed && !s->x_done ? "xeval_evaluate" : "wait";
    }
}

json_t *gf_coord_xeval_work(const gf_coordinator *c)
{
    return json_pack("{s:I,s:s,s:o}", "version", (json_int_t)c->version, "normalization",
                     gf_norm_name(c->cfg->normalization), "senders", names(c, is_shared));
}

static json_t *load_json(gf_https_req *r, size_t cap)
{
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    if (n > cap) {
        gf_https_reply_error(r, 413, "too_large", "JSON body over %zu bytes", cap);
        return NULL;
    }
    json_t *j;
    if (gf_wire_parse_object(b, n, &j)) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        return NULL;
    }
    return j;
}

static int want(gf_https_req *r, const char *type)
{
    const char *ct = gf_https_header(r, "Content-Type");
    if (ct && !strncmp(ct, type, strlen(type))) return 1;
    gf_https_reply_error(r, 415, "unsupported_media_type", "expected Content-Type %s", type);
    return 0;
}

/* The version a message names must be the final model's. */
static int same_version(const gf_coordinator *c, gf_https_req *r, const json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) == c->version) return 1;
    gf_https_reply_error(r, 410, "stale_round", "cross-site evaluation is about model version %" PRId64, c->version);
    return 0;
}

static void post_key(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->xeval_step != 0 || !s->x_in || s->x_keyed) {
        gf_https_reply_error(r, 409, s->x_keyed ? "duplicate" : "wrong_phase", "cross-site key: not expected now");
        return;
    }
    if (!want(r, "application/json")) return;
    json_t *j = load_json(r, KEY_CAP);
    if (!j) return;
    uint8_t sha[32], msg[GF_XEVAL_KEYMSG_MAX];
    size_t ml = 0;
    if (!same_version(c, r, json_object_get(j, "version"))) {
        json_decref(j);
        return;
    }
    gf_wire_xeval_key k;
    if (gf_wire_xeval_key_fields(j, &k)) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        json_decref(j);
        return;
    }
    uint8_t *cert = k.cert;
    size_t cl = k.cert_len;
    gf_peer who;
    gf_err e = gf_unhex(c->sha, sha, 32);
    if (!e) e = gf_xeval_key_message(s->name, (uint64_t)c->version, sha, k.pk, msg, &ml);
    if (!e) e = gf_trust_verify(c->trust, cert, cl, msg, ml, k.sig, GF_SIG_MAX, &who);
    if (!e && strcmp(who.name, s->name)) e = gf_fail(GF_ECRYPTO, "cross-site key: certificate of %s, sent by %s", who.name, s->name);
    if (e) {
        free(cert);
        json_decref(j);
        gf_https_reply_error(r, 422, "invalid", "%s", gf_errmsg());
        return;
    }
    memcpy(s->x_pk, k.pk, 32);
    memcpy(s->x_sig, k.sig, GF_SIG_MAX);
    s->x_cert = cert;
    s->x_cert_len = cl;
    s->x_share = k.share;
    s->x_keyed = 1;
    json_decref(j);
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void get_keys(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->xeval_step < 1 || !s->x_keyed) {
        gf_https_reply_error(r, 409, "wrong_phase", "the cross-site key list is not available now");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < c->n_sites && a; i++) {
        const gf_site *t = &c->sites[i];
        if (!t->x_keyed) continue;
        char pk[65], sg[2 * GF_SIG_MAX + 1], *cb = NULL;
        gf_hex(t->x_pk, 32, pk);
        gf_hex(t->x_sig, GF_SIG_MAX, sg);
        if (gf_b64_encode(t->x_cert, t->x_cert_len, &cb)) break;
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:b}", "site", t->name, "pk", pk, "cert", cb, "sig", sg,
                                           "share", t->x_share));
        free(cb);
    }
    gf_https_reply_json(r, 200, json_pack("{s:I,s:o}", "version", (json_int_t)c->version, "keys", a ? a : json_array()));
}

static void post_model(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->xeval_step != 1 || !s->x_keyed || !s->x_share || s->x_shared) {
        gf_https_reply_error(r, 409, s->x_shared ? "duplicate" : "wrong_phase", "cross-site model: not expected now");
        return;
    }
    if (!want(r, "application/octet-stream")) return;
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    gf_xeval_body xb;
    gf_err e = gf_xeval_parse(b, n, &xb);
    if (e) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        return;
    }
    if (strcmp(xb.sender, s->name)) {
        gf_https_reply_error(r, 403, "forbidden", "a site may only send its own model (%s sent one of %s)", s->name, xb.sender);
        return;
    }
    if (xb.version != (uint64_t)c->version) {
        gf_https_reply_error(r, 410, "stale_round", "cross-site model for version %" PRIu64 ", this is %" PRId64,
                             xb.version, c->version);
        return;
    }
    if (xb.L != c->L) {
        gf_https_reply_error(r, 422, "invalid", "cross-site model of %zu parameters, expected %zu", xb.L, c->L);
        return;
    }
    uint8_t *copy = malloc(n);
    if (!copy) {
        gf_https_reply_error(r, 503, "unavailable", "out of memory");
        return;
    }
    memcpy(copy, b, n);
    s->x_body = copy;
    s->x_body_len = n;
    s->x_shared = 1;
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void get_model(gf_coordinator *c, gf_https_req *r, gf_site *s, const char *from)
{
    if (c->xeval_step != 2 || !s->x_keyed) {
        gf_https_reply_error(r, 409, "wrong_phase", "cross-site models are not available now");
        return;
    }
    for (size_t i = 0; i < c->n_sites; i++)
        if (!strcmp(c->sites[i].name, from) && c->sites[i].x_body) {
            gf_https_reply_bytes(r, 200, "application/octet-stream", c->sites[i].x_body, c->sites[i].x_body_len);
            return;
        }
    gf_https_reply_error(r, 404, "not_found", "no cross-site model from %s", from);
}

static void post_results(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->xeval_step != 2 || !s->x_keyed || s->x_done) {
        gf_https_reply_error(r, 409, s->x_done ? "duplicate" : "wrong_phase", "cross-site results: not expected now");
        return;
    }
    if (!want(r, "application/json")) return;
    json_t *j = load_json(r, GF_JSON_CAP);
    if (!j) return;
    const json_t *res;
    size_t nres;
    if (!same_version(c, r, json_object_get(j, "version"))) {
        json_decref(j);
        return;
    }
    if (gf_wire_xeval_results(j, &res, &nres)) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        json_decref(j);
        return;
    }
    int64_t now = gf_now_ms();
    gf_err e = gf_coord_db_begin(&c->db);
    int status = 400, refused = 0;
    for (size_t i = 0; i < nres && !e; i++) {
        const json_t *m;
        const char *model;
        e = gf_wire_xeval_result_item(res, i, &model, &m);
        int known = !e && (!strcmp(model, "global") || !strcmp(model, s->name));
        for (size_t k = 0; !e && !known && k < c->n_sites; k++)
            known = !strcmp(c->sites[k].name, model) && is_shared(&c->sites[k]);
        if (e || !known) {
            e = gf_wire_xeval_result_unknown(i);
            status = 422;
            break;
        }
        /* Aggregates only: what is stored is rebuilt from the known fields. */
        char what[64];
        json_t *clean = NULL;
        snprintf(what, sizeof what, "cross-site results[%zu].metrics", i);
        if ((e = gf_wire_xeval_aggregates(m, c->cfg->task_moments ? GF_TASK_MOMENTS : GF_TASK_FORCES, what, &clean))) {
            status = 422;
            refused = 1;
            break;
        }
        char *ms = json_dumps(clean, JSON_COMPACT);
        json_decref(clean);
        e = ms ? gf_coord_db_put_cross(&c->db, c->xeval_round, model, s->name, ms, now) : gf_fail(GF_ENOMEM, "out of memory");
        free(ms);
        if (e) status = 503;
    }
    if (!e) e = gf_coord_db_commit(&c->db);
    else gf_coord_db_rollback(&c->db);
    if (refused) { /* nothing of the message is stored; who sent it and why is */
        char why[512];
        snprintf(why, sizeof why, "%s", gf_errmsg());
        audit(c, now, "cross_site_refused",
              json_pack("{s:I,s:s,s:s}", "round", (json_int_t)c->xeval_round, "site", s->name, "reason", why));
        gf_fail(e, "%s", why);
    }
    if (!e) gf_coord_fault(c, "xeval_result", 0);
    json_decref(j);
    if (e) {
        gf_https_reply_error(r, status == 422 ? 422 : e == GF_EFORMAT ? 400 : 503,
                             status == 422 ? "invalid" : e == GF_EFORMAT ? "bad_request" : "unavailable", "%s", gf_errmsg());
        return;
    }
    s->x_done = 1;
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

void gf_coord_xeval_handle(gf_coordinator *c, gf_https_req *r, gf_site *s, const char *rest, int get, int post)
{
    if (s->role != GF_ROLE_HOSPITAL) {
        gf_https_reply_error(r, 403, "forbidden", "cross-site evaluation is for hospitals");
        return;
    }
    if (c->state != R_XEVAL && (post || get)) {
        gf_https_reply_error(r, 409, "wrong_phase", "no cross-site evaluation is running");
        return;
    }
    if (post && !strcmp(rest, "key")) post_key(c, r, s);
    else if (get && !strcmp(rest, "keys")) get_keys(c, r, s);
    else if (post && !strcmp(rest, "model")) post_model(c, r, s);
    else if (get && !strncmp(rest, "models/", 7) && gf_name_valid(rest + 7)) get_model(c, r, s, rest + 7);
    else if (post && !strcmp(rest, "results")) post_results(c, r, s);
    else gf_https_reply_error(r, 404, "not_found", "/v1/xeval/%s: no such endpoint", rest);
}

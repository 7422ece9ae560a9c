/* The HTTP endpoints of docs/PROTOCOL.md. Each handler checks, in order: the
 * caller's role, the round named in the path (410 for an earlier one), the
 * phase, that the caller is a participant that has not answered yet, the
 * body (caps, format, that a message's party index is the caller's own), and
 * only then hands it to the round machinery. */
#include "coordinator/coord_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/robust.h"
#include "coordinator/wire.h"
#include "crypto/hash.h"
#include "crypto/secagg_msg.h"

/* The error reply for a library failure. */
static void reply_err(gf_https_req *r, gf_err e)
{
    int st = 400;
    const char *code = "bad_request";
    switch (e) {
    case GF_ECRYPTO: case GF_ENUMERIC: st = 422, code = "invalid"; break;
    case GF_ESTATE: st = 409, code = "wrong_phase"; break;
    case GF_ERANGE: st = 413, code = "too_large"; break;
    case GF_EDB: case GF_ENOMEM: case GF_EIO: st = 503, code = "unavailable"; break;
    default: break;
    }
    gf_https_reply_error(r, st, code, "%s", gf_errmsg());
}

static json_t *model_json(const gf_coordinator *c)
{
    return json_pack("{s:I,s:s,s:I}", "version", (json_int_t)c->version, "sha256", c->sha, "bytes",
                     (json_int_t)c->blob_len);
}

static json_t *train_json(const gf_coordinator *c)
{
    const gf_coord_config *g = c->cfg;
    return json_pack("{s:I,s:f,s:I,s:f,s:f,s:f,s:I,s:s,s:s}", "epochs", (json_int_t)g->local_epochs, "lr", g->lr,
                     "batch", (json_int_t)g->batch, "weight_decay", g->weight_decay, "grad_clip", g->grad_clip, "mu",
                     g->mu, "seed", (json_int_t)(g->seed * 1000003 + c->round), "normalization",
                     gf_norm_name(g->normalization), "task",
                     g->task_moments ? "moments" : "forces");
}

static json_t *secagg_json(const gf_coordinator *c)
{
    char nonce[65];
    gf_hex(c->sp.nonce, 32, nonce);
    return json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:f,s:f}", "round_id", (json_int_t)c->sp.round_id, "nonce", nonce, "n",
                     (json_int_t)c->sp.n, "k", (json_int_t)c->sp.k, "t", (json_int_t)c->sp.t, "L", (json_int_t)c->sp.L,
                     "clip", c->sp.clip, "scale", c->sp.scale);
}

/* What site s should do now. */
static const char *state_for(const gf_coordinator *c, const gf_site *s)
{
    if (c->state == R_DONE) return "done";
    if (c->state == R_XEVAL) return gf_coord_xeval_state(c, s);
    if (s->role == GF_ROLE_EVALUATOR)
        return c->state == R_EVALUATE && !s->evaluated ? "evaluate" : "wait";
    if (c->state != R_OPEN || !s->idx) return "wait";
    switch (c->phase) {
    case GF_PH_TRAIN: return c->cfg->secure ? (s->advertised ? "wait" : "train") : (s->updated ? "wait" : "train");
    case GF_PH_SHARES: return s->advertised && !s->shared ? "shares" : "wait";
    case GF_PH_MASKED: return s->shared && !s->masked ? "masked" : "wait";
    case GF_PH_CONSISTENCY: return gf_secagg_server_in_u3(c->sa, s->idx) && !s->signed_ ? "consistency" : "wait";
    case GF_PH_UNMASK: return s->signed_ && !s->unmasked ? "unmask" : "wait";
    default: return "wait";
    }
}

static void get_work(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    const char *st = state_for(c, s);
    if (!strcmp(st, "done")) s->told_done = 1, c->last_done_ms = gf_now_ms();
    json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:b}", "state", st, "round", (json_int_t)c->round, "attempt",
                          (json_int_t)c->attempt, "retry_after_ms",
                          (json_int_t)(c->state == R_PAUSED ? GF_PAUSED_POLL_MS : GF_POLL_MS), "secure_aggregation",
                          c->cfg->secure);
    if (j && c->state == R_PAUSED) json_object_set_new(j, "paused", json_true()); /* until an operator resumes */
    if (j && strcmp(st, "wait") && strcmp(st, "done")) {
        json_object_set_new(j, "deadline_ms", json_integer(c->deadline_ms));
        json_object_set_new(j, "model", model_json(c));
        if (c->state == R_XEVAL) {
            json_object_set_new(j, "xeval", gf_coord_xeval_work(c));
        } else if (s->role == GF_ROLE_EVALUATOR) { /* which statistics the model carries: pooled or the initial model's */
            json_object_set_new(j, "normalization", json_string(gf_norm_name(c->cfg->normalization)));
        } else if (s->role == GF_ROLE_HOSPITAL) {
            if (c->statistics) json_object_set_new(j, "statistics", json_true());
            json_object_set_new(j, "index", json_integer(s->idx));
            json_object_set_new(j, "train", train_json(c));
            if (c->cfg->secure) json_object_set_new(j, "secagg", secagg_json(c));
        }
    }
    gf_https_reply_json(r, 200, j);
}

static void get_model(gf_coordinator *c, gf_https_req *r, int64_t v)
{
    if (v == c->version) {
        gf_https_reply_bytes(r, 200, "application/octet-stream", c->blob, c->blob_len);
        return;
    }
    uint8_t *blob = NULL;
    size_t len = 0;
    char sha[65];
    gf_err e = gf_coord_db_get_model(&c->db, v, &blob, &len, NULL, NULL, sha);
    if (e == GF_ENOTFOUND) gf_https_reply_error(r, 404, "not_found", "no model version %" PRId64, v);
    else if (e) reply_err(r, e);
    else gf_https_reply_bytes(r, 200, "application/octet-stream", blob, len);
    free(blob);
}

static int want_type(gf_https_req *r, const char *type)
{
    const char *ct = gf_https_header(r, "Content-Type");
    if (ct && !strncmp(ct, type, strlen(type))) return 1;
    gf_https_reply_error(r, 415, "unsupported_media_type", "expected Content-Type %s", type);
    return 0;
}

/* A secure-aggregation message of this round and attempt, sent by party idx. */
static int check_msg(gf_coordinator *c, gf_https_req *r, const uint8_t *b, size_t n, gf_sa_type type, uint32_t idx)
{
    gf_sa_type t;
    uint64_t rid;
    const uint8_t *body;
    size_t bl;
    gf_err e = gf_sa_parse_header(b, n, &t, &rid, &body, &bl);
    if (e && e != GF_ESTATE) {
        reply_err(r, GF_EFORMAT);
        return 0;
    }
    if (e || rid != c->sp.round_id) {
        gf_https_reply_error(r, 410, "stale_round", "message of round id %" PRIu64 ", this is %" PRIu64, rid,
                             c->sp.round_id);
        return 0;
    }
    if (t != type) {
        gf_https_reply_error(r, 400, "bad_request", "message type %d where %d belongs", (int)t, (int)type);
        return 0;
    }
    if (bl < 4 || gf_sa_u32(body) != idx) { /* every body starts with its sender */
        gf_https_reply_error(r, 403, "forbidden", "a site may only speak as its own party index %u", idx);
        return 0;
    }
    return 1;
}

static void post_advert(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->phase != GF_PH_TRAIN || s->advertised) {
        gf_https_reply_error(r, 409, s->advertised ? "duplicate" : "wrong_phase", "advert: %s",
                             s->advertised ? "already received" : "the advert phase is closed");
        return;
    }
    if (!want_type(r, "application/json")) return;
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    if (n > GF_JSON_CAP) {
        gf_https_reply_error(r, 413, "too_large", "JSON body over %u bytes", GF_JSON_CAP);
        return;
    }
    gf_wire_advert wa;
    if (gf_wire_parse_advert(b, n, c->cfg->secure, &wa)) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        return;
    }
    json_t *j = wa.root, *val = (json_t *)wa.val;
    const char *adv = wa.advert;
    if (wa.attempt != c->attempt) {
        gf_https_reply_error(r, 410, "stale_round", "advert of attempt %" PRId64 ", this is %" PRId64, wa.attempt,
                             c->attempt);
        json_decref(j);
        return;
    }
    if (wa.n_samples < 1 || wa.n_samples > 100000000) {
        gf_https_reply_error(r, 422, "invalid", "advert: n_samples must be in 1..1e8");
        json_decref(j);
        return;
    }
    json_t *clean = NULL; /* aggregates only: what is stored is rebuilt from the known fields */
    if (val && gf_wire_val_aggregates(val, &clean)) {
        gf_https_reply_error(r, 422, "invalid", "%s", gf_errmsg());
        json_decref(j);
        return;
    }
    if (adv) {
        uint8_t *msg = NULL;
        size_t ml = 0;
        gf_err e = gf_b64_decode(adv, 16384, &msg, &ml);
        if (e) {
            reply_err(r, GF_EFORMAT);
        } else if (check_msg(c, r, msg, ml, GF_SA_ADVERT, s->idx)) {
            gf_sa_advert a;
            gf_peer who;
            /* The advert must carry the caller's own certificate. */
            e = gf_sa_parse_advert(msg, ml, c->sp.round_id, c->sp.n, &a);
            if (!e) e = gf_trust_check_cert(c->trust, a.cert, a.cert_len, &who);
            if (!e && strcmp(who.name, s->name)) e = gf_fail(GF_ECRYPTO, "advert: certificate of %s, sent by %s", who.name, s->name);
            if (!e) e = gf_secagg_server_add_advert(c->sa, msg, ml);
            if (e) reply_err(r, e);
        }
        free(msg);
        if (e || gf_https_replied(r)) {
            json_decref(clean);
            json_decref(j);
            return;
        }
    }
    s->n_samples = wa.n_samples;
    json_t *tl = clean ? json_object_get(clean, "train_loss") : NULL;
    s->train_loss = json_is_number(tl) ? json_number_value(tl) : NAN;
    s->advertised = 1;
    char *vj = clean ? json_dumps(clean, JSON_COMPACT) : NULL;
    if (gf_coord_db_round_site(&c->db, c->round, s->name, (int)s->idx, s->n_samples, vj))
        fprintf(stderr, "coordinator: %s\n", gf_errmsg());
    free(vj);
    json_decref(clean);
    json_decref(j);
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void get_blob(gf_https_req *r, const uint8_t *b, size_t n, int ready, const char *what)
{
    if (!ready || !b) {
        gf_https_reply_error(r, 409, "wrong_phase", "%s is not available now", what);
        return;
    }
    gf_https_reply_bytes(r, 200, "application/octet-stream", b, n);
}

static void post_phase(gf_coordinator *c, gf_https_req *r, gf_site *s, gf_phase ph, gf_sa_type type, int *flag,
                       int allowed, gf_err (*add)(gf_secagg_server *, const uint8_t *, size_t))
{
    if (c->phase != ph || !allowed || *flag) {
        gf_https_reply_error(r, 409, *flag ? "duplicate" : "wrong_phase", "%s: %s", gf_phase_name(ph),
                             *flag ? "already received" : "not expected from this site now");
        return;
    }
    if (!want_type(r, "application/octet-stream")) return;
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    if (type == GF_SA_MASKED && n != GF_SA_HDR + 8 + (size_t)c->sp.L * 4) { /* its size is known: 20 + 8 + 4·L */
        int over = n > GF_SA_HDR + 8 + (size_t)c->sp.L * 4;
        gf_https_reply_error(r, over ? 413 : 422, over ? "too_large" : "invalid",
                             "masked input of %zu bytes, expected %zu (L = %u)", n, GF_SA_HDR + 8 + (size_t)c->sp.L * 4,
                             c->sp.L);
        return;
    }
    if (!check_msg(c, r, b, n, type, s->idx)) return;
    gf_err e = add(c->sa, b, n);
    if (e) {
        reply_err(r, e);
        return;
    }
    *flag = 1;
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void post_update(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->cfg->secure) {
        gf_https_reply_error(r, 409, "wrong_phase", "plaintext updates are refused: secure aggregation is on");
        return;
    }
    if (c->phase != GF_PH_TRAIN || !s->advertised || s->updated) {
        gf_https_reply_error(r, 409, s->updated ? "duplicate" : "wrong_phase", "update: %s",
                             s->updated ? "already received" : "post the advert (sample count) first");
        return;
    }
    if (!want_type(r, "application/octet-stream")) return;
    const char *att = gf_https_header(r, "X-Gaitfed-Attempt");
    if (!att || strtoll(att, NULL, 10) != c->attempt) {
        gf_https_reply_error(r, 410, "stale_round", "update of another attempt");
        return;
    }
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    if (n != c->L * 4) { /* over its phase's cap (4·L): 413; shorter or not whole floats: 422 */
        gf_https_reply_error(r, n > c->L * 4 ? 413 : 422, n > c->L * 4 ? "too_large" : "invalid",
                             "update of %zu bytes, expected %zu (L = %zu float32)", n, c->L * 4, c->L);
        return;
    }
    float *u = malloc(n);
    if (!u) {
        reply_err(r, gf_fail(GF_ENOMEM, "out of memory"));
        return;
    }
    memcpy(u, b, n);
    /* Bounded influence (robust.h): refused when not finite (the round goes on
     * without the site unless min_sites needs it), scaled to L2 <= update_clip
     * when over it. A refusal is audited once per site and attempt: resending
     * cannot grow the log. */
    gf_update_norms un;
    gf_update_norms_of(u, c->L, &un);
    double clip = c->cfg->update_clip, f = un.nonfinite ? 0 : gf_update_clip_l2(u, c->L, un.l2, clip);
    json_t *aj = json_pack("{s:I,s:I,s:s}", "round", (json_int_t)c->round, "attempt", (json_int_t)c->attempt, "site",
                           s->name);
    if (aj && un.nonfinite) {
        char why[64];
        snprintf(why, sizeof why, "update[%zu] is not finite", un.nonfinite - 1);
        json_object_set_new(aj, "reason", json_string(why));
    } else if (aj && f < 1) {
        json_object_set_new(aj, "l2", json_real(un.l2));
        json_object_set_new(aj, "linf", json_real(un.linf));
        json_object_set_new(aj, "update_clip", json_real(clip));
        json_object_set_new(aj, "scaled_by", json_real(f));
    }
    char *ad = aj && ((un.nonfinite && !s->refused) || f < 1) ? json_dumps(aj, JSON_COMPACT) : NULL;
    json_decref(aj);
    if (ad) {
        gf_err e = gf_coord_db_begin(&c->db);
        if (!e) e = gf_coord_db_audit(&c->db, gf_now_ms(), un.nonfinite ? "update_refused" : "update_clipped", ad);
        if (!e) e = gf_coord_db_commit(&c->db);
        else gf_coord_db_rollback(&c->db);
        free(ad);
        if (e) {
            free(u);
            reply_err(r, e);
            return;
        }
        if (un.nonfinite)
            fprintf(stderr, "coordinator: round %lld: update of %s REFUSED: update[%zu] is not finite\n",
                    (long long)c->round, s->name, un.nonfinite - 1);
        else
            fprintf(stderr, "coordinator: round %lld: update of %s clipped (L2 %.4g, L-inf %.4g, update_clip %g)\n",
                    (long long)c->round, s->name, un.l2, un.linf, clip);
    }
    if (un.nonfinite) {
        c->updates_refused++;
        s->refused = 1;
        gf_https_reply_error(r, 422, "invalid", "update[%zu] is not finite: refused (the round goes on without it)",
                             un.nonfinite - 1);
        free(u);
        return;
    }
    c->updates_clipped += f < 1;
    s->refused = 0; /* a valid update after a refused one counts */
    s->update = u;
    s->updated = 1;
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void post_evaluations(gf_coordinator *c, gf_https_req *r, gf_site *s)
{
    if (c->state != R_EVALUATE || s->evaluated) {
        gf_https_reply_error(r, 409, s->evaluated ? "duplicate" : "wrong_phase", "evaluations: not expected now");
        return;
    }
    if (!want_type(r, "application/json")) return;
    size_t n;
    const uint8_t *b = gf_https_body(r, &n);
    if (n > GF_EVAL_CAP) {
        gf_https_reply_error(r, 413, "too_large", "evaluations: JSON body over %u bytes", GF_EVAL_CAP);
        return;
    }
    gf_wire_evaluations ev;
    if (gf_wire_parse_evaluations(b, n, &ev)) {
        gf_https_reply_error(r, 400, "bad_request", "%s", gf_errmsg());
        return;
    }
    json_t *j = ev.root;
    if (ev.model_version != c->eval_version) {
        gf_https_reply_error(r, 410, "stale_round", "evaluations of version %" PRId64 ", expected %" PRId64,
                             ev.model_version, c->eval_version);
        json_decref(j);
        return;
    }
    int64_t now = gf_now_ms();
    gf_err e = gf_coord_db_begin(&c->db);
    for (size_t i = 0; i < ev.n && !e; i++) {
        gf_wire_evaluation it;
        if ((e = gf_wire_evaluation_item(&ev, i, &it))) break;
        char *ms = json_dumps(it.metrics, JSON_COMPACT);
        e = ms ? gf_coord_db_put_eval(&c->db, c->eval_version, s->name, it.cohort, it.norm, ms, now)
               : gf_fail(GF_ENOMEM, "out of memory");
        free(ms);
    }
    if (!e) e = gf_coord_db_commit(&c->db);
    else gf_coord_db_rollback(&c->db);
    json_decref(j);
    if (e) {
        reply_err(r, e);
        return;
    }
    s->evaluated = 1;
    gf_https_reply_json(r, 202, json_pack("{s:s}", "status", "accepted"));
}

static void get_status(gf_coordinator *c, gf_https_req *r)
{
    json_t *sites = json_array();
    for (size_t i = 0; i < c->n_sites && sites; i++)
        json_array_append_new(sites, json_pack("{s:s,s:s,s:I}", "name", c->sites[i].name, "role",
                                               gf_role_name(c->sites[i].role), "last_seen_ms",
                                               (json_int_t)c->sites[i].last_seen_ms));
    static const char *states[] = {"idle", "open", "aggregating", "evaluate", "cross_eval", "done", "paused"};
    json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:I,s:s,s:o,s:b}", "round", (json_int_t)c->round, "attempt",
                                          (json_int_t)c->attempt, "state", states[c->state], "phase",
                                          gf_phase_name(c->phase), "model_version", (json_int_t)c->version,
                                          "model_sha256", c->sha, "sites", sites, "secure_aggregation",
                                          c->cfg->secure);
    if (j && c->state == R_PAUSED)
        json_object_set_new(j, "paused", json_pack("{s:s,s:s,s:I,s:s}", "reason", c->paused_reason, "sites",
                                                   c->paused_site, "since_ms", (json_int_t)c->paused_ms, "resume",
                                                   "gaitfed coordinator resume --config <the coordinator's config>"));
    gf_https_reply_json(r, 200, j);
}


void gf_coord_handle(gf_https_req *r, void *ctx)
{
    gf_coordinator *c = ctx;
    int64_t now = gf_now_ms();
    const char *path = gf_https_path(r), *method = gf_https_method(r);
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    gf_site *s = gf_coord_site(c, gf_https_peer(r), now);
    const gf_peer *p = gf_https_peer(r);
    /* The federation's state and who takes part: for its sites (the `sites`
     * allow-list, or every consortium site without one) and operators
     * (coordinator kits); any other certificate falls through to 403 below. */
    if (!strcmp(path, "/v1/status") && get && (s || p->role == GF_ROLE_COORDINATOR)) {
        get_status(c, r);
        return;
    }
    if (!strcmp(path, "/metrics") && get) { /* for the consortium's operators: a coordinator-role kit */
        char *m = NULL;
        size_t ml = 0;
        gf_err e = p->role != GF_ROLE_COORDINATOR ? gf_fail(GF_EINVAL, "/metrics is for coordinator kits")
                                                   : gf_coord_metrics(c, now, &m, &ml);
        if (e == GF_EINVAL) gf_https_reply_error(r, 403, "forbidden", "%s", gf_errmsg());
        else if (e) reply_err(r, e);
        else gf_https_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", m, ml);
        free(m);
        return;
    }
    if (!s) {
        c->refused_sites++;
        snprintf(c->last_refused_site, sizeof c->last_refused_site, "%s", p->name);
        gf_https_reply_error(r, 403, "forbidden", "%s (%s) is not a registered site", p->name, gf_role_name(p->role));
        return;
    }
    /* One live node per hospital (admission.c). Model versions are read-only:
     * any instance may fetch them. Evaluators are not held to it: each model
     * version takes one evaluation per site (a second gets 409 duplicate). */
    if (s->role == GF_ROLE_HOSPITAL && !(get && !strncmp(path, "/v1/models/", 11)) &&
        !gf_coord_admit_instance(c, r, s, p, now))
        return;
    long long v = 0;
    char rest[64] = "";
    int consumed = 0;
    if (!strcmp(path, "/v1/work") && get) {
        get_work(c, r, s);
    } else if (sscanf(path, "/v1/models/%lld%n", &v, &consumed) == 1 && path[consumed] == 0 && get) {
        get_model(c, r, v);
    } else if (!strcmp(path, "/v1/evaluations") && post) {
        if (s->role != GF_ROLE_EVALUATOR) gf_https_reply_error(r, 403, "forbidden", "only evaluators post evaluations");
        else post_evaluations(c, r, s);
    } else if (!strncmp(path, "/v1/xeval/", 10) && strlen(path) < 10 + sizeof rest) {
        gf_coord_xeval_handle(c, r, s, path + 10, get, post);
    } else if (sscanf(path, "/v1/rounds/%lld/%63s", &v, rest) == 2) {
        if (s->role != GF_ROLE_HOSPITAL) {
            gf_https_reply_error(r, 403, "forbidden", "round endpoints are for hospitals");
        } else if (v < c->round) {
            gf_https_reply_error(r, 410, "stale_round", "round %lld is over; the current round is %lld", v,
                                 (long long)c->round);
        } else if (v > c->round || c->state != R_OPEN || !s->idx) {
            gf_https_reply_error(r, 409, "wrong_phase", "round %lld is not open for %s", v, s->name);
        } else if (post && !strcmp(rest, "advert")) {
            post_advert(c, r, s);
        } else if (post && !strcmp(rest, "update")) {
            post_update(c, r, s);
        } else if (!c->cfg->secure) {
            gf_https_reply_error(r, 404, "not_found", "%s: no secure aggregation in this federation", path);
        } else if (get && !strcmp(rest, "adverts")) {
            char tot[32]; /* S_i: this site's weight is n_i / S_i (gf_coord_weight_den) */
            snprintf(tot, sizeof tot, "%lld", (long long)s->weight_den);
            if (c->phase >= GF_PH_SHARES && s->advertised) gf_https_add_header(r, "X-Gaitfed-Total-Samples", tot);
            get_blob(r, c->adverts, c->adverts_len, c->phase >= GF_PH_SHARES && s->advertised, "the advert list");
        } else if (post && !strcmp(rest, "shares")) {
            post_phase(c, r, s, GF_PH_SHARES, GF_SA_SHARES, &s->shared, s->advertised, gf_secagg_server_add_shares);
        } else if (get && !strcmp(rest, "routed")) {
            uint8_t *m = NULL;
            size_t ml = 0;
            gf_err e = c->phase == GF_PH_MASKED && s->shared ? gf_secagg_server_routed(c->sa, s->idx, &m, &ml)
                                                             : gf_fail(GF_ESTATE, "routed shares are not available now");
            if (e) reply_err(r, e);
            else gf_https_reply_bytes(r, 200, "application/octet-stream", m, ml);
            free(m);
        } else if (post && !strcmp(rest, "masked")) {
            post_phase(c, r, s, GF_PH_MASKED, GF_SA_MASKED, &s->masked, s->shared, gf_secagg_server_add_masked);
        } else if (get && !strcmp(rest, "survivors")) {
            get_blob(r, c->survivors, c->survivors_len,
                     c->phase == GF_PH_CONSISTENCY && gf_secagg_server_in_u3(c->sa, s->idx), "the survivor set");
        } else if (post && !strcmp(rest, "consistency")) {
            post_phase(c, r, s, GF_PH_CONSISTENCY, GF_SA_CONSIST, &s->signed_, gf_secagg_server_in_u3(c->sa, s->idx),
                       gf_secagg_server_add_consistency);
        } else if (get && !strcmp(rest, "unmask-request")) {
            get_blob(r, c->unmask_req, c->unmask_req_len, c->phase == GF_PH_UNMASK && s->signed_, "the unmask request");
        } else if (post && !strcmp(rest, "unmask")) {
            post_phase(c, r, s, GF_PH_UNMASK, GF_SA_UNMASK, &s->unmasked, s->signed_, gf_secagg_server_add_unmask);
        } else {
            gf_https_reply_error(r, 404, "not_found", "%s %s: no such endpoint", method, path);
        }
    } else {
        gf_https_reply_error(r, 404, "not_found", "%s %s: no such endpoint", method, path);
    }
    gf_coord_advance(c);
}

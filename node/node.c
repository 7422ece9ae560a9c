/* The node daemon (node.h). One thread: poll GET /v1/work, do what it says,
 * poll again. Per attempt the node holds at most one secure-aggregation
 * client (fresh keys; dropped, and thereby wiped, when the round or attempt
 * changes) and the message it last produced, so a post lost to the network
 * is sent again without re-running a phase that cannot run twice. The
 * trained update is kept per (round, model version) in memory and in
 * state_dir, so a new attempt of the same round, or a restarted node, posts
 * it again without retraining. */
#include "node/node.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fileio.h"
#include "common/rng.h"
#include "crypto/fixpoint.h"
#include "crypto/hash.h"
#include "crypto/secagg.h"
#include "node/https_client.h"
#include "node/local.h"
#include "node/node_internal.h"
#include "node/wire.h"
#include "sites/store.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the wire carries little-endian float32; this node assumes a little-endian host"
#endif

static const char *const out_names[] = {"-", "advert", "shares", "masked", "consistency", "unmask"};
void nd_say(node *n, const char *fmt, ...)
{
    if (!n->o->log) return;
    char buf[768];
    int k = snprintf(buf, sizeof buf, "node %s: ", n->cfg->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, sizeof buf - (size_t)k, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' '; /* one line, always */
    n->o->log(n->o->log_ctx, buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int stopped(const node *n) { return n->o->stop && *n->o->stop; }

/* Sleeps ms in slices, returning early when asked to stop. */
static void nap(const node *n, long ms)
{
    while (ms > 0 && !stopped(n)) {
        long k = ms > 100 ? 100 : ms;
        struct timespec ts = {k / 1000, (k % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= k;
    }
}

/* ---- test hook ----
 * Like SQLite's test hooks: with GAITFED_FAULT="<kill|stop>[-before]:<msg>[@<round>]"
 * in the environment at start, the node sends itself SIGKILL (or SIGSTOP) the
 * first time it has posted <msg> (advert, shares, masked, consistency,
 * unmask) and the coordinator accepted it, or with "-before" right before it
 * posts it. Used by tests/unit/test_faults.c; unset, it does nothing. */
static struct {
    int armed, sig, before;
    long round;
    char what[32];
} fault;

static void fault_init(void)
{
    const char *f = getenv("GAITFED_FAULT");
    char act[16] = "", what[32] = "";
    long round = 0;
    if (!f || !*f || sscanf(f, "%15[a-z-]:%31[a-z_]@%ld", act, what, &round) < 2) return;
    int before = strlen(act) > 7 && !strcmp(act + strlen(act) - 7, "-before");
    if (before) act[strlen(act) - 7] = 0;
    if (strcmp(act, "kill") && strcmp(act, "stop")) return;
    fault.sig = strcmp(act, "kill") ? SIGSTOP : SIGKILL;
    fault.before = before;
    fault.round = round;
    snprintf(fault.what, sizeof fault.what, "%s", what);
    fault.armed = 1;
}

static void fault_point(node *n, const char *what, int before)
{
    if (!fault.armed || before != fault.before || strcmp(what, fault.what) || (fault.round && fault.round != n->round))
        return;
    fault.armed = 0;
    nd_say(n, "GAITFED_FAULT: %s %s %s (round %" PRId64 " attempt %" PRId64 ")", fault.sig == SIGKILL ? "SIGKILL" : "SIGSTOP",
           before ? "before posting" : "after posting", what, n->round, n->attempt);
    raise(fault.sig);
}

/* ---- transport ---- */

gf_err nd_get(node *n, const char *path, size_t cap, gf_https_resp *r)
{
    gf_err e = gf_https_get(n->http, path, cap, r);
    n->tx = e != GF_OK;
    return e;
}

gf_err nd_post(node *n, const char *path, const char *ct, const char *hdr, const void *b, size_t len,
                   gf_https_resp *r)
{
    const gf_node_tamper *t = n->o->tamper;
    if (t && t->post) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) return gf_fail(GF_ENOMEM, "out of memory");
        memcpy(copy, b, len);
        t->post(t->ctx, path, &copy, &len);
        gf_err e = gf_https_post_hdr(n->http, path, ct, hdr, copy, len, REPLY_CAP, r);
        free(copy);
        n->tx = e != GF_OK;
        return e;
    }
    gf_err e = gf_https_post_hdr(n->http, path, ct, hdr, b, len, REPLY_CAP, r);
    n->tx = e != GF_OK;
    return e;
}


/* What an HTTP answer means for the node. 5xx: the coordinator is busy or
 * stopping (retry with backoff, counted as a transport failure). */
answer nd_classify(node *n, const char *what, gf_https_resp *r, gf_err *e)
{
    *e = GF_OK;
    if (r->status >= 200 && r->status < 300) return ANS_OK;
    if (r->status == 403 && !strcmp(r->error_code, "certificate_revoked")) /* on any request: the loop stops */
        snprintf(n->revoked, sizeof n->revoked, "%s", r->error_msg);
    if (r->status == 409 && !strcmp(r->error_code, "duplicate")) return ANS_OK;
    if (r->status == 409) return ANS_RETRY;
    if (r->status == 410) {
        nd_say(n, "%s refused as late: HTTP 410 %s: %s", what, r->error_code, r->error_msg);
        return ANS_STALE;
    }
    if (r->status >= 500) {
        n->tx = 1;
        *e = gf_fail(GF_ENET, "%s: HTTP %ld %s: %s", what, r->status, r->error_code, r->error_msg);
        return ANS_RETRY;
    }
    nd_say(n, "%s refused: HTTP %ld %s: %s", what, r->status, r->error_code, r->error_msg);
    return ANS_REFUSED;
}

/* ---- attempt state ---- */

static void drop_out(node *n)
{
    free(n->out_msg);
    n->out_msg = NULL;
    n->out_len = 0;
    n->out = OUT_NONE;
}

static void round_line(node *n, const char *how);

/* A new round or attempt: the secure-aggregation client goes (its free wipes
 * the secrets); the trained update stays. */
static void new_attempt(node *n, int64_t round, int64_t attempt)
{
    if (n->round && n->reached != OUT_NONE && !n->complete) round_line(n, "attempt ended");
    gf_secagg_client_free(n->sa);
    n->sa = NULL;
    drop_out(n);
    n->round = round;
    n->attempt = attempt;
    n->reached = OUT_NONE;
    n->failed = n->complete = 0;
    n->total = 0;
    n->index = 0;
    n->statistics = 0;
}

static void attempt_failed(node *n, const char *what)
{
    nd_say(n, "round %" PRId64 " attempt %" PRId64 ": %s: %s (waiting for the next attempt)", n->round, n->attempt, what,
        gf_errmsg());
    gf_secagg_client_free(n->sa);
    n->sa = NULL;
    drop_out(n);
    n->failed = 1;
}

static const char *val_summary(const node *n, char *buf, size_t cap)
{
    json_t *v = n->val_json ? json_loads(n->val_json, 0, NULL) : NULL;
    double g = json_number_value(json_object_get(json_object_get(json_object_get(v, "global"), "subject_mean"), "rmse"));
    double l = json_number_value(json_object_get(json_object_get(json_object_get(v, "local"), "subject_mean"), "rmse"));
    if (v) snprintf(buf, cap, "val RMSE %.4g -> %.4g (global -> local)", g, l);
    else snprintf(buf, cap, "no validation subjects");
    json_decref(v);
    return buf;
}

/* The per-round progress line. */
static void round_line(node *n, const char *how)
{
    char v[128], t[64];
    if (n->up_from_file) snprintf(t, sizeof t, "update from state_dir");
    else snprintf(t, sizeof t, "%s %.1f s", n->up_reused ? "update reused, trained earlier in" : "trained in", n->train_s);
    nd_say(n, "round %" PRId64 " attempt %" PRId64 ": %s, reached %s; %" PRId64 " samples, %s; %s", n->round, n->attempt,
        how, n->plain && n->reached == OUT_UNMASK ? "update" : out_names[n->reached], n->n_samples,
        val_summary(n, v, sizeof v), t);
}

/* ---- local data ---- */

static gf_err load_store(const char *path, gf_task task, gf_dataset *ds)
{
    gf_store *st = NULL;
    GF_TRY(gf_store_open(path, 0, &st));
    gf_err e = gf_store_load(st, task == GF_TASK_FORCES ? GF_STORE_NEED_FORCES : GF_STORE_NEED_MOMENTS, ds);
    gf_store_close(st);
    if (!e && ds->n < 1) e = gf_fail(GF_ENOTFOUND, "%s: no cycles with %s targets", path, gf_task_name(task));
    return e;
}

static void site_data_free(site_data *d)
{
    gf_dataset_free(&d->ds);
    free(d->is_val);
    memset(d, 0, sizeof *d);
}

gf_err nd_hospital_data(node *n, gf_task task)
{
    site_data *d = &n->data;
    if (d->loaded && d->task == task) return GF_OK;
    site_data_free(d);
    GF_TRY(load_store(n->cfg->site_db, task, &d->ds));
    d->is_val = malloc((size_t)d->ds.n);
    gf_err e = d->is_val ? GF_OK : gf_fail(GF_ENOMEM, "out of memory");
    int nvs = 0;
    if (!e) e = gf_local_split(&d->ds, GF_LOCAL_VAL_FRAC, SPLIT_SEED, d->is_val, &nvs);
    if (!e) e = gf_local_stats(&d->ds, d->is_val, &d->mom);
    if (e) {
        site_data_free(d);
        return e;
    }
    d->loaded = 1;
    d->task = task;
    nd_say(n, "%s: %lld cycles (%d validation subjects), task %s", n->cfg->site_db, (long long)d->ds.n, nvs,
        gf_task_name(task));
    return GF_OK;
}

/* ---- model versions ---- */

gf_err nd_ensure_model(node *n, const json_t *work)
{
    gf_wire_model wm;
    GF_TRY(gf_wire_work_model(work, MODEL_CAP, &wm));
    int64_t v = wm.version;
    size_t bytes = wm.bytes;
    const char *sha = wm.sha256;
    if (n->model && n->model_v == v && !strcmp(n->model_sha, sha)) return GF_OK;
    char path[64];
    snprintf(path, sizeof path, "/v1/models/%lld", (long long)v);
    gf_https_resp r;
    GF_TRY(nd_get(n, path, bytes, &r));
    gf_err e = GF_OK;
    if (r.status != 200) {
        n->tx = 1; /* not there yet, or the coordinator is busy: retry */
        e = gf_fail(GF_ENET, "GET %s: HTTP %ld %s", path, r.status, r.error_msg);
    }
    gf_model *mod = NULL;
    gf_task task;
    if (!e && (e = gf_local_model_from_blob(r.body, r.len, sha, &mod, &task)) == GF_EFORMAT)
        n->tx = 1; /* a damaged or mismatching download: fetch it again */
    gf_https_resp_free(&r);
    if (e) return e;
    mod->threads = (int)n->cfg->threads;
    gf_model_free(n->model);
    n->model = mod;
    n->model_task = task;
    n->model_v = v;
    snprintf(n->model_sha, sizeof n->model_sha, "%s", sha);
    return GF_OK;
}

/* ---- the cached update: state_dir/update-r<round>-v<version>.bin ----
 * "GFUP" u32 version=1 | round i64 | model version i64 | n_samples i64 |
 * L u64 | val length u32 | val JSON | L float32 | SHA-256 of all before. */

static char *update_path(const node *n, int64_t round, int64_t version)
{
    char name[96];
    snprintf(name, sizeof name, "update-r%lld-v%lld.bin", (long long)round, (long long)version);
    return gf_path_join(n->cfg->state_dir, name);
}

static gf_err save_update(node *n)
{
    size_t vl = n->val_json ? strlen(n->val_json) : 0;
    size_t len = 4 + 4 + 8 * 4 + 4 + vl + n->L * 4 + 32;
    uint8_t *b = malloc(len), *p = b;
    if (!b) return gf_fail(GF_ENOMEM, "out of memory");
    uint32_t ver = 1, vl32 = (uint32_t)vl;
    uint64_t L = n->L;
    memcpy(p, "GFUP", 4), p += 4;
    memcpy(p, &ver, 4), p += 4;
    memcpy(p, &n->up_round, 8), p += 8;
    memcpy(p, &n->up_version, 8), p += 8;
    memcpy(p, &n->n_samples, 8), p += 8;
    memcpy(p, &L, 8), p += 8;
    memcpy(p, &vl32, 4), p += 4;
    if (vl) memcpy(p, n->val_json, vl), p += vl;
    memcpy(p, n->delta, n->L * 4), p += n->L * 4;
    gf_err e = gf_sha256(b, (size_t)(p - b), p);
    char *path = e ? NULL : update_path(n, n->up_round, n->up_version);
    if (!e && !path) e = gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_mkdirs(n->cfg->state_dir, 1);
    if (!e) e = gf_write_file_atomic(path, b, len);
    free(path);
    free(b);
    return e;
}

/* 1 when a valid cache file for (round, version) of length L was loaded. */
static int load_update(node *n, int64_t round, int64_t version, size_t L)
{
    char *path = update_path(n, round, version);
    uint8_t *b = NULL;
    size_t len = 0;
    size_t cap = 4 + 4 + 32 + 4 + (1u << 20) + L * 4 + 32;
    int ok = path && gf_read_file(path, cap, &b, &len) == GF_OK && len >= 4 + 4 + 32 + 4 + 32;
    uint8_t h[32];
    int64_t rr = 0, vv = 0, ns = 0;
    uint64_t LL = 0;
    uint32_t ver = 0, vl = 0;
    if (ok) {
        const uint8_t *p = b + 4;
        memcpy(&ver, p, 4), p += 4;
        memcpy(&rr, p, 8), p += 8;
        memcpy(&vv, p, 8), p += 8;
        memcpy(&ns, p, 8), p += 8;
        memcpy(&LL, p, 8), p += 8;
        memcpy(&vl, p, 4);
        ok = !memcmp(b, "GFUP", 4) && ver == 1 && rr == round && vv == version && LL == L && ns > 0 &&
             vl <= (1u << 20) && len == 4 + 4 + 32 + 4 + (size_t)vl + L * 4 + 32 &&
             gf_sha256(b, len - 32, h) == GF_OK && !memcmp(h, b + len - 32, 32);
    }
    float *d = ok ? malloc(L * sizeof *d) : NULL;
    char *vj = ok && vl ? malloc((size_t)vl + 1) : NULL;
    if (ok && (!d || (vl && !vj))) ok = 0;
    if (ok) {
        const uint8_t *p = b + 4 + 4 + 32 + 4;
        if (vl) memcpy(vj, p, vl), vj[vl] = 0;
        memcpy(d, p + vl, L * 4);
        for (size_t i = 0; i < L && ok; i++) ok = isfinite(d[i]);
    }
    if (ok) {
        free(n->delta), free(n->val_json);
        n->delta = d, n->val_json = vj, n->L = L, n->n_samples = ns;
        n->up_round = round, n->up_version = version;
        n->train_s = 0;
        d = NULL, vj = NULL;
    }
    free(d), free(vj), free(b), free(path);
    return ok;
}

static void remove_update(const node *n, int64_t round, int64_t version)
{
    char *p = update_path(n, round, version);
    if (p) unlink(p);
    free(p);
}

static gf_err parse_train(const node *n, const json_t *t, gf_local_config *lc, gf_task *task)
{
    const char *norm;
    GF_TRY(gf_wire_work_train(t, lc, task, &norm));
    /* Pooled statistics leave a site only masked, and only if its config
     * allows it; under "model" (the initial model's statistics) nothing about
     * the site's inputs leaves it, whatever its config says. */
    if (norm && strcmp(norm, "own") && strcmp(norm, "global") && strcmp(norm, "model"))
        return gf_fail(GF_EFORMAT, "work item: unknown normalization '%s'", norm);
    if (norm && !strcmp(norm, "global") && !n->cfg->norm_global)
        return gf_fail(GF_EINVAL, "the federation pools input statistics (\"normalization\": \"global\") but %s keeps "
                                  "its own at home (\"normalization\": \"own\" in its config)",
                       n->cfg->name);
    lc->threads = (int)n->cfg->threads;
    return GF_OK;
}

/* θ_local = θ_global + Δ, kept for cross-site evaluation (equal to the
 * trained parameters up to one float rounding per element). */
static void keep_local_theta(node *n)
{
    float *t = realloc(n->local_theta, n->L * sizeof *t);
    if (!t) return; /* only cross-site evaluation misses it */
    gf_arena_pack(&n->model->params, t);
    for (size_t i = 0; i < n->L; i++) t[i] += n->delta[i];
    n->local_theta = t;
}

static gf_err ensure_update_(node *n, const json_t *work);

/* The update of (round, model version): cached, from state_dir, or trained now. */
static gf_err ensure_update(node *n, const json_t *work)
{
    gf_err e = ensure_update_(n, work);
    if (!e && n->delta && n->up_version == n->model_v) keep_local_theta(n);
    return e;
}

static gf_err ensure_update_(node *n, const json_t *work)
{
    size_t L = gf_arena_numel(&n->model->params);
    if (n->delta && n->up_round == n->round && n->up_version == n->model_v && n->L == L) {
        if (!n->up_reused && n->o->verbose)
            nd_say(n, "round %" PRId64 " attempt %" PRId64 ": reusing the update trained earlier", n->round, n->attempt);
        n->up_reused = 1;
        return GF_OK;
    }
    if (load_update(n, n->round, n->model_v, L)) {
        n->up_reused = n->up_from_file = 1;
        nd_say(n, "round %" PRId64 ": reusing the cached update for model version %" PRId64, n->round, n->model_v);
        return GF_OK;
    }
    gf_local_config lc;
    gf_task task;
    GF_TRY(parse_train(n, json_object_get(work, "train"), &lc, &task));
    if (task != n->model_task)
        return gf_fail(GF_EFORMAT, "work item: task %s, but model version %" PRId64 " predicts %s", gf_task_name(task),
                       n->model_v, gf_task_name(n->model_task));
    GF_TRY(nd_hospital_data(n, task));
    const char *norm = json_string_value(json_object_get(json_object_get(work, "train"), "normalization"));
    int pooled = nd_norm_from_model(norm);
    if (pooled && !n->model->has_norm)
        return gf_fail(GF_EFORMAT, "work item: normalization %s, but model version %" PRId64 " carries no x_mean/x_std",
                       norm, n->model_v);
    const float *mean = pooled ? n->model->x_mean : n->data.mom.mean, *sd = pooled ? n->model->x_std : n->data.mom.sd;
    float *d = malloc(L * sizeof *d);
    if (!d) return gf_fail(GF_ENOMEM, "out of memory");
    int64_t ns = 0;
    json_t *val = NULL;
    double t0 = now_s();
    gf_err e = gf_local_train(n->model, &n->data.ds, task, n->data.is_val, mean, sd, &lc, d, &ns, &val);
    if (e) {
        free(d);
        return e;
    }
    if (n->o->tamper && n->o->tamper->update) n->o->tamper->update(n->o->tamper->ctx, d, L, &ns);
    char *vj = json_is_object(val) ? json_dumps(val, JSON_COMPACT) : NULL;
    json_decref(val);
    int64_t old_r = n->up_round, old_v = n->up_version;
    int had = n->delta != NULL;
    free(n->delta), free(n->val_json);
    n->delta = d, n->val_json = vj, n->L = L, n->n_samples = ns;
    n->up_round = n->round, n->up_version = n->model_v;
    n->train_s = now_s() - t0;
    n->up_reused = n->up_from_file = 0;
    if ((e = save_update(n))) nd_say(n, "cannot cache the update (%s); continuing", gf_errmsg());
    if (had && (old_r != n->up_round || old_v != n->up_version)) remove_update(n, old_r, old_v);
    if (n->o->verbose)
        nd_say(n, "round %" PRId64 ": trained on model version %" PRId64 " in %.1f s (%" PRId64 " samples)", n->round,
            n->model_v, n->train_s, ns);
    return GF_OK;
}

/* ---- secure aggregation ---- */

static gf_err parse_secagg(node *n, const json_t *work)
{
    gf_secagg_params p;
    uint32_t idx;
    GF_TRY(gf_wire_work_secagg(work, &p, &idx));
    if (p.round_id != (uint64_t)n->round * 65536 + (uint64_t)n->attempt)
        return gf_fail(GF_EFORMAT, "work item: secagg round_id %" PRIu64 " is not round %" PRId64 " attempt %" PRId64,
                       p.round_id, n->round, n->attempt);
    size_t want = n->statistics ? GF_LIMBS * (1 + 2 * GF_DIN) : n->L;
    if (p.L != want)
        return gf_fail(GF_EFORMAT, "work item: secagg L = %u but %s has %zu words", p.L,
                       n->statistics ? "the statistics vector" : "the update", want);
    GF_TRY(gf_secagg_params_check(&p));
    n->sp = p;
    n->index = idx;
    return GF_OK;
}

static gf_err post_advert(node *n, const char *b64)
{
    json_t *j = json_pack("{s:I,s:I}", "attempt", (json_int_t)n->attempt, "n_samples", (json_int_t)n->n_samples);
    if (j && n->val_json) json_object_set_new(j, "val", json_loads(n->val_json, 0, NULL));
    if (j && b64) json_object_set_new(j, "advert", json_string(b64));
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) return gf_fail(GF_ENOMEM, "out of memory");
    char path[64];
    snprintf(path, sizeof path, "/v1/rounds/%lld/advert", (long long)n->round);
    gf_https_resp r;
    fault_point(n, "advert", 1);
    gf_err e = nd_post(n, path, "application/json", NULL, body, strlen(body), &r);
    free(body);
    if (e) return e;
    answer a = nd_classify(n, "advert", &r, &e);
    gf_https_resp_free(&r);
    if (a == ANS_OK) {
        n->reached = OUT_ADVERT;
        if (n->o->verbose) nd_say(n, "round %" PRId64 " attempt %" PRId64 ": advert posted", n->round, n->attempt);
        fault_point(n, "advert", 0);
    } else if (a == ANS_REFUSED) {
        n->failed = 1;
    }
    return e;
}

/* The statistics session: this site's frame count, Σx and Σx² (fixed point,
 * training cycles only) as 16-bit limbs, to be secure-summed with the others'. */
static gf_err prepare_statistics(node *n, const json_t *work)
{
    gf_local_config lc;
    gf_task task;
    const char *norm = json_string_value(json_object_get(json_object_get(work, "train"), "normalization"));
    GF_TRY(parse_train(n, json_object_get(work, "train"), &lc, &task));
    /* Only a federation that pools statistics has a statistics session. */
    if (!norm || strcmp(norm, "global"))
        return gf_fail(GF_EFORMAT, "work item: a statistics session, but the federation's normalization is '%s', not "
                                   "\"global\": nothing sent", norm ? norm : "(absent)");
    GF_TRY(nd_hospital_data(n, task));
    /* Implausible data (a unit mix-up, a broken export) would spoil every site's
     * normalization: checked before anything is sent, naming the channel. */
    char who[96];
    snprintf(who, sizeof who, "%s's input statistics (not sent)", n->cfg->name);
    GF_TRY(gf_local_stats_plausible(who, n->data.mom.n_frames, n->data.mom.sum_x, n->data.mom.sum_x2, NULL, NULL));
    int64_t v[1 + 2 * GF_DIN];
    v[0] = n->data.mom.n_frames;
    for (int c = 0; c < GF_DIN; c++) v[1 + c] = n->data.mom.sum_x[c], v[1 + GF_DIN + c] = n->data.mom.sum_x2[c];
    if (n->o->tamper && n->o->tamper->statistics) n->o->tamper->statistics(n->o->tamper->ctx, v, 1 + 2 * GF_DIN);
    gf_limbs_encode(v, 1 + 2 * GF_DIN, n->stat_words);
    n->n_samples = n->data.mom.n_frames / GF_T;
    free(n->val_json);
    n->val_json = NULL;
    n->statistics = 1;
    return GF_OK;
}

static gf_err do_train(node *n, const json_t *work)
{
    if (n->failed) return GF_OK;
    n->plain = !json_is_true(json_object_get(work, "secure_aggregation"));
    if (json_is_true(json_object_get(work, "statistics"))) {
        /* Consent is the site's own config, whatever the work item claims:
         * refused before anything of the session is computed or posted. */
        if (!n->cfg->norm_global)
            return gf_fail(GF_EINVAL, "the coordinator asks for %s's input statistics (a \"statistics\" work item), but "
                                      "its config keeps them at home (\"normalization\": \"own\"): nothing sent; "
                                      "leaving the federation",
                           n->cfg->name);
        if (n->plain) return gf_fail(GF_EFORMAT, "work item: a statistics session needs secure aggregation");
        if (!n->statistics) GF_TRY(prepare_statistics(n, work));
    } else {
        GF_TRY(nd_ensure_model(n, work));
        GF_TRY(ensure_update(n, work));
    }
    if (n->plain) {
        if (n->reached < OUT_ADVERT) GF_TRY(post_advert(n, NULL));
        if (n->reached < OUT_ADVERT || n->failed) return GF_OK;
        char path[64], hdr[64];
        snprintf(path, sizeof path, "/v1/rounds/%lld/update", (long long)n->round);
        snprintf(hdr, sizeof hdr, "X-Gaitfed-Attempt: %lld", (long long)n->attempt);
        gf_https_resp r;
        gf_err e = nd_post(n, path, "application/octet-stream", hdr, n->delta, n->L * 4, &r);
        if (e) return e;
        answer a = nd_classify(n, "update", &r, &e);
        gf_https_resp_free(&r);
        if (a == ANS_OK) {
            n->reached = OUT_UNMASK; /* plain mode: the update is the last message */
            n->complete = 1;
            n->rounds_done++;
            round_line(n, "update posted (plain)");
        } else if (a == ANS_REFUSED) {
            n->failed = 1;
        }
        return e;
    }
    if (n->out != OUT_ADVERT) { /* fresh keys for this attempt */
        gf_err e = parse_secagg(n, work);
        if (!e) e = gf_secagg_client_new(&n->sp, n->index, n->id, n->trust, &n->sa);
        if (!e) e = gf_secagg_client_advertise(n->sa, &n->out_msg, &n->out_len);
        if (e) {
            attempt_failed(n, "advertise");
            return GF_OK;
        }
        n->out = OUT_ADVERT;
    }
    char *b64 = NULL;
    GF_TRY(gf_b64_encode(n->out_msg, n->out_len, &b64));
    gf_err e = post_advert(n, b64);
    free(b64);
    return e;
}

/* GET the phase's input, run the client, POST its answer. */
static gf_err secagg_phase(node *n, const json_t *work, out_kind kind)
{
    static const char *const in_ep[] = {"", "", "adverts", "routed", "survivors", "unmask-request"};
    static const char *const out_ep[] = {"", "", "shares", "masked", "consistency", "unmask"};
    if (!n->sa || n->failed || n->reached >= kind) return GF_OK; /* nothing to do here: the next poll says wait */
    (void)work;
    char path[96];
    gf_err e = GF_OK;
    if (n->out != kind) {
        snprintf(path, sizeof path, "/v1/rounds/%lld/%s", (long long)n->round, in_ep[kind]);
        size_t N = n->sp.n;
        size_t cap = kind == OUT_SHARES ? 64 + N * (256 + GF_CERT_DER_MAX) : 64 + N * 256 + (64u << 10);
        gf_https_resp r;
        GF_TRY(nd_get(n, path, cap, &r));
        answer a = nd_classify(n, in_ep[kind], &r, &e);
        if (a != ANS_OK) {
            gf_https_resp_free(&r);
            if (a == ANS_REFUSED) n->failed = 1;
            return e;
        }
        uint8_t *msg = NULL;
        size_t ml = 0;
        switch (kind) {
        case OUT_SHARES: {
            char *end = NULL;
            long long S = strtoll(r.total_samples, &end, 10);
            if (!r.total_samples[0] || *end || S < n->n_samples || S > (1LL << 50))
                e = gf_fail(GF_EFORMAT, "advert list: X-Gaitfed-Total-Samples '%s' is not a total >= %" PRId64,
                            r.total_samples, n->n_samples);
            else n->total = S;
            if (!e) e = gf_secagg_client_share(n->sa, r.body, r.len, &msg, &ml);
            break;
        }
        case OUT_MASKED: {
            if (n->statistics) { /* limbs are summed as they are: no weight, no clipping */
                e = n->sp.L == GF_LIMBS * (1 + 2 * GF_DIN)
                        ? gf_secagg_client_mask(n->sa, r.body, r.len, n->stat_words, &msg, &ml)
                        : gf_fail(GF_EFORMAT, "statistics session: vector of %u words", n->sp.L);
                break;
            }
            gf_fixpoint fp;
            uint32_t *x = malloc(n->L * sizeof *x);
            e = x ? gf_fixpoint_plan(n->sp.n, n->sp.clip, n->sp.scale, &fp) : gf_fail(GF_ENOMEM, "out of memory");
            /* The weight the coordinator fixed (n_i / S, S from the advert list) applied inside the masked
             * sum, to Δ scaled to L2 <= clip: the coordinator refuses an aggregate outside that bound. */
            double l2 = 0;
            for (size_t j = 0; j < n->L; j++) l2 += (double)n->delta[j] * n->delta[j];
            l2 = sqrt(l2);
            double w = (double)n->n_samples / (double)n->total * (l2 > n->sp.clip ? n->sp.clip / l2 * (1 - 1e-6) : 1);
            if (!e) e = gf_fixpoint_encode(&fp, n->delta, n->L, w, x);
            if (!e && n->o->tamper && n->o->tamper->words) n->o->tamper->words(n->o->tamper->ctx, x, n->L, fp.scale);
            if (!e) e = gf_secagg_client_mask(n->sa, r.body, r.len, x, &msg, &ml);
            free(x);
            break;
        }
        case OUT_CONSIST: e = gf_secagg_client_consistency(n->sa, r.body, r.len, &msg, &ml); break;
        case OUT_UNMASK: e = gf_secagg_client_unmask(n->sa, r.body, r.len, &msg, &ml); break;
        default: break;
        }
        gf_https_resp_free(&r);
        if (e) {
            attempt_failed(n, out_names[kind]);
            return GF_OK;
        }
        drop_out(n);
        n->out = kind;
        n->out_msg = msg;
        n->out_len = ml;
    }
    snprintf(path, sizeof path, "/v1/rounds/%lld/%s", (long long)n->round, out_ep[kind]);
    gf_https_resp r;
    fault_point(n, out_ep[kind], 1);
    GF_TRY(nd_post(n, path, "application/octet-stream", NULL, n->out_msg, n->out_len, &r));
    answer a = nd_classify(n, out_ep[kind], &r, &e);
    gf_https_resp_free(&r);
    if (a == ANS_REFUSED) n->failed = 1;
    if (a != ANS_OK) return e;
    n->reached = kind;
    if (kind == OUT_UNMASK) { /* done: the client's secrets go now */
        gf_secagg_client_free(n->sa);
        n->sa = NULL;
        drop_out(n);
        n->complete = 1;
        n->rounds_done++;
        char how[64];
        snprintf(how, sizeof how, "unmask posted (secure, weight %.4f)", (double)n->n_samples / (double)n->total);
        round_line(n, how);
    } else if (n->o->verbose) {
        nd_say(n, "round %" PRId64 " attempt %" PRId64 ": %s posted", n->round, n->attempt, out_ep[kind]);
    }
    fault_point(n, out_ep[kind], 0);
    return GF_OK;
}

/* ---- evaluator ---- */

static gf_err cohort_data(node *n, size_t i, gf_task task)
{
    site_data *d = &n->cohort[i];
    if (d->loaded && d->task == task) return GF_OK;
    site_data_free(d);
    GF_TRY(load_store(n->cfg->cohorts[i].db, task, &d->ds));
    d->loaded = 1;
    d->task = task;
    return GF_OK;
}

static gf_err do_evaluate(node *n, const json_t *work)
{
    GF_TRY(nd_ensure_model(n, work));
    if (n->evaluated_v == n->model_v) return GF_OK;
    json_t *res = json_array();
    gf_err e = res ? GF_OK : gf_fail(GF_ENOMEM, "out of memory");
    char line[512] = "";
    size_t ll = 0;
    /* The statistics a model carries are pooled ones, or under "normalization":
     * "model" the initial model's: labelled so. */
    const char *fed_norm = json_string_value(json_object_get(work, "normalization"));
    const char *carried = fed_norm && !strcmp(fed_norm, "model") ? "model" : "pooled";
    for (size_t i = 0; i < n->cfg->n_cohorts && !e; i++) {
        e = cohort_data(n, i, n->model_task);
        for (int k = 0; k < 2 && !e; k++) {
            gf_local_norm nm = {.own = k == 0, .label = k == 0 ? "own" : carried};
            if (k == 1) {
                if (!n->model->has_norm) break; /* no statistics in this model */
                memcpy(nm.mean, n->model->x_mean, sizeof nm.mean);
                memcpy(nm.sd, n->model->x_std, sizeof nm.sd);
            }
            json_t *m = NULL;
            e = gf_local_evaluate_full(n->model, &n->cohort[i].ds, n->model_task, &nm, NULL, NULL, 1, &m);
            if (e) break;
            const json_t *sm = json_object_get(m, "subject_mean");
            if (k == 0 && ll < sizeof line)
                ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%s RMSE %.4g R2 %.3g", i ? "; " : "",
                                       n->cfg->cohorts[i].name, json_number_value(json_object_get(sm, "rmse")),
                                       json_number_value(json_object_get(sm, "r2")));
            json_array_append_new(res, json_pack("{s:s,s:s,s:o}", "cohort", n->cfg->cohorts[i].name, "norm",
                                                 nm.label, "metrics", m));
        }
    }
    if (e) {
        json_decref(res);
        return e;
    }
    json_t *j = json_pack("{s:I,s:o}", "model_version", (json_int_t)n->model_v, "results", res);
    /* 10 significant digits: metrics far beyond their meaning, curves (mean ± SD over the gait
     * cycle, 4 × 180 numbers per channel) at about 2/3 of the size of the default 17. */
    char *body = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!body) return gf_fail(GF_ENOMEM, "out of memory");
    gf_https_resp r;
    e = nd_post(n, "/v1/evaluations", "application/json", NULL, body, strlen(body), &r);
    free(body);
    if (e) return e;
    answer a = nd_classify(n, "evaluations", &r, &e);
    gf_https_resp_free(&r);
    if (a == ANS_OK || a == ANS_REFUSED || a == ANS_STALE) n->evaluated_v = n->model_v;
    if (a == ANS_OK) {
        n->rounds_done++;
        nd_say(n, "model version %" PRId64 " evaluated: %s", n->model_v, line);
    }
    return e;
}

/* ---- the loop ---- */

static gf_err step(node *n, long *wait_ms)
{
    gf_https_resp r;
    GF_TRY(nd_get(n, "/v1/work", WORK_CAP, &r));
    n->ever_connected = 1;
    n->tls_failures = 0;
    if (r.status == 409 && !strcmp(r.error_code, "duplicate_instance")) { /* docs/PROTOCOL.md: exit, do not compete */
        gf_err e = gf_fail(GF_ESTATE, "%s; this one exits", r.error_msg);
        gf_https_resp_free(&r);
        return e;
    }
    if (r.status == 403) {
        gf_err e = gf_fail(GF_EINVAL, "the coordinator refuses %s: %s", n->cfg->name, r.error_msg);
        gf_https_resp_free(&r);
        return e;
    }
    if (r.status != 200) {
        n->tx = 1;
        gf_err e = gf_fail(GF_ENET, "GET /v1/work: HTTP %ld %s: %s", r.status, r.error_code, r.error_msg);
        gf_https_resp_free(&r);
        return e;
    }
    gf_wire_work wk;
    gf_err pe = gf_wire_parse_work(r.body, r.len, &wk);
    gf_https_resp_free(&r);
    if (pe) {
        n->tx = 1;
        return pe;
    }
    json_t *w = wk.root;
    const char *st = wk.state;
    int64_t round = wk.round, attempt = wk.attempt, retry = wk.retry_after_ms;
    *wait_ms = retry > 0 && retry < n->cfg->poll_ms ? (long)retry : n->cfg->poll_ms;
    if (round != n->round || attempt != n->attempt) new_attempt(n, round, attempt);
    gf_err e = GF_OK;
    /* Unknown states and "wait": nothing to do. After an answer the next
     * phase opens only when the others have answered: poll at the usual pace. */
    if (!strcmp(st, "done")) {
        json_decref(w);
        n->done = 1;
        return GF_OK;
    } else if (n->cfg->role == GF_ROLE_EVALUATOR) {
        if (!strcmp(st, "evaluate")) e = do_evaluate(n, w);
    } else if (!strncmp(st, "xeval_", 6)) {
        e = nd_xeval_step(n, st, w);
    } else if (!strcmp(st, "train")) {
        e = do_train(n, w);
    } else if (!strcmp(st, "shares")) {
        e = secagg_phase(n, w, OUT_SHARES);
    } else if (!strcmp(st, "masked")) {
        e = secagg_phase(n, w, OUT_MASKED);
    } else if (!strcmp(st, "consistency")) {
        e = secagg_phase(n, w, OUT_CONSIST);
    } else if (!strcmp(st, "unmask")) {
        e = secagg_phase(n, w, OUT_UNMASK);
    }
    json_decref(w);
    return e;
}

static gf_err setup(node *n)
{
    const gf_node_config *c = n->cfg;
    GF_TRY(gf_identity_load(c->key, c->cert, &n->id));
    const gf_peer *me = gf_identity_peer(n->id);
    if (me->role != c->role || strcmp(me->name, c->name))
        return gf_fail(GF_EINVAL, "%s: the certificate is %s (%s), the config says %s (%s)", c->src.path, me->name,
                       gf_role_name(me->role), c->name, gf_role_name(c->role));
    GF_TRY(gf_trust_load(c->ca, c->crl, &n->trust));
    if (c->role == GF_ROLE_HOSPITAL) GF_TRY(gf_mkdirs(c->state_dir, 1));
    GF_TRY(nd_instance_open(c, n->instance, &n->lock_fd));
    gf_https_client_opts ho = {.base_url = c->coordinator_url, .key_path = c->key, .cert_path = c->cert,
                               .ca_path = c->ca, .timeout_ms = (long)(c->http_timeout_s * 1000),
                               .instance = n->instance};
    GF_TRY(gf_https_client_new(&ho, &n->http));
    if (c->role == GF_ROLE_HOSPITAL) {
        /* Fail early on unusable data rather than in the first round. */
        gf_store *s = NULL;
        GF_TRY(gf_store_open(c->site_db, 0, &s));
        gf_store_close(s);
    } else {
        for (size_t i = 0; i < c->n_cohorts; i++) {
            gf_store *s = NULL;
            GF_TRY(gf_store_open(c->cohorts[i].db, 0, &s));
            gf_store_close(s);
        }
    }
    return GF_OK;
}

gf_err gf_node_run(const gf_node_config *cfg, const gf_node_opts *opts)
{
    gf_node_opts none = {0};
    node *n = calloc(1, sizeof *n);
    if (!n) return gf_fail(GF_ENOMEM, "out of memory");
    n->cfg = cfg;
    n->o = opts ? opts : &none;
    n->model_v = n->evaluated_v = -1;
    n->up_round = n->up_version = -1;
    n->xeval_done_v = -1;
    n->lock_fd = -1;
    fault_init();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    gf_rng_derive(&n->rng, (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec, (uint64_t)getpid());
    gf_err e = setup(n);
    while (!e && !stopped(n)) {
        long wait_ms = cfg->poll_ms;
        e = step(n, &wait_ms);
        if (n->revoked[0]) { /* its next connections fail in the handshake, which looks like the network */
            e = gf_fail(GF_EINVAL, "the coordinator refuses %s: %s", cfg->name, n->revoked);
            break;
        }
        if (!e && n->done) {
            if (n->reached != OUT_NONE && !n->complete) round_line(n, "federation finished");
            nd_say(n, "the federation is done (rounds taken part in: %ld)", n->rounds_done);
            break;
        }
        if (e && n->tx) {
            /* Transport: TLS refusals are configuration problems (fatal at first
             * contact, or when they persist); the rest is retried. */
            if (e == GF_ECRYPTO && (!n->ever_connected || ++n->tls_failures >= TLS_FATAL_AFTER)) break;
            if (strstr(gf_errmsg(), "alert certificate revoked")) { /* the coordinator's handshake said so */
                e = gf_fail(GF_ECRYPTO, "the coordinator refuses %s: its certificate is revoked (%s)", cfg->name, gf_errmsg());
                break;
            }
            if (e != GF_ECRYPTO) n->tls_failures = 0;
            if (!n->ever_connected && gf_https_closed_after_handshake(n->http) && ++n->refused >= REFUSED_FATAL_AFTER) {
                char last[256];
                snprintf(last, sizeof last, "%s", gf_errmsg());
                e = gf_fail(GF_ECRYPTO, "the coordinator closes every connection right after the TLS handshake: it "
                                        "refuses this certificate (revoked, not registered, or of another "
                                        "consortium); last error: %s", last);
                break;
            }
            n->net_failures++;
            long base = 250L << (n->net_failures < 8 ? n->net_failures - 1 : 7);
            long cap = base < cfg->backoff_max_ms ? base : cfg->backoff_max_ms;
            long d = cap / 2 + (long)gf_rng_below(&n->rng, (uint64_t)(cap / 2 + 1)); /* jitter: [cap/2, cap] */
            nd_say(n, "%s; retry %d in %ld ms", gf_errmsg(), n->net_failures, d);
            e = GF_OK;
            nap(n, d);
            continue;
        }
        if (e) break;
        n->net_failures = 0;
        if (opts && opts->max_rounds > 0 && n->rounds_done >= opts->max_rounds) {
            nd_say(n, "stopping after %ld rounds (--max-rounds)", n->rounds_done);
            break;
        }
        nap(n, wait_ms);
    }
    if (!e && stopped(n)) nd_say(n, "stopping on request (rounds taken part in: %ld)", n->rounds_done);
    for (size_t i = 0; i < GF_NODE_MAX_COHORTS; i++) site_data_free(&n->cohort[i]);
    site_data_free(&n->data);
    gf_secagg_client_free(n->sa);
    drop_out(n);
    free(n->delta), free(n->val_json), free(n->local_theta);
    nd_xeval_free(n);
    gf_model_free(n->model);
    gf_https_client_free(n->http);
    gf_trust_free(n->trust);
    gf_identity_free(n->id);
    if (n->lock_fd >= 0) close(n->lock_fd);
    free(n);
    return e;
}

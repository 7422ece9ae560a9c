/* Coordinator lifecycle and the round state machine. Everything here runs on
 * the event-loop thread; aggregation runs on a worker (aggregate.c). */
#include "coordinator/coord_internal.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/rng.h"
#include "crypto/hash.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

int64_t gf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note(const gf_coordinator *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* One line per event on stderr (the operator's log; the audit table is the record). */
#include <stdarg.h>
static void note(const gf_coordinator *c, const char *fmt, ...)
{
    (void)c;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "coordinator: %s\n", buf);
}

/* ---- test hook and fatal errors (coord_internal.h) ---- */

static struct {
    int armed, sig, before;
    long round;
    char point[32];
} fault;

static void fault_init(void)
{
    const char *f = getenv("GAITFED_FAULT");
    if (!f || !*f) return;
    char act[16] = "", pt[32] = "";
    long round = 0;
    if (sscanf(f, "%15[a-z-]:%31[a-z_]@%ld", act, pt, &round) < 2) {
        fprintf(stderr, "coordinator: GAITFED_FAULT '%s' ignored (expected <kill|stop>[-before]:<point>[@<round>])\n", f);
        return;
    }
    int before = strlen(act) > 7 && !strcmp(act + strlen(act) - 7, "-before");
    if (before) act[strlen(act) - 7] = 0;
    if (strcmp(act, "kill") && strcmp(act, "stop")) {
        fprintf(stderr, "coordinator: GAITFED_FAULT '%s' ignored (action kill or stop)\n", f);
        return;
    }
    fault.sig = strcmp(act, "kill") ? SIGSTOP : SIGKILL;
    fault.before = before;
    fault.round = round;
    snprintf(fault.point, sizeof fault.point, "%s", pt);
    fault.armed = 1;
}

void gf_coord_fault(const gf_coordinator *c, const char *point, int before)
{
    if (!fault.armed || before != fault.before || strcmp(point, fault.point) || (fault.round && fault.round != c->round))
        return;
    fault.armed = 0;
    fprintf(stderr, "coordinator: GAITFED_FAULT: %s %s %s (round %lld)\n", fault.sig == SIGKILL ? "SIGKILL" : "SIGSTOP",
            before ? "before" : "after", point, (long long)c->round);
    fflush(stderr);
    raise(fault.sig);
}

gf_err gf_coord_fatal(gf_coordinator *c, gf_err e)
{
    if (c->fatal) return e;
    c->fatal = e;
    snprintf(c->fatal_msg, sizeof c->fatal_msg, "%s; stopping (the database keeps the last committed state: restart to resume)",
             gf_errmsg());
    if (c->base) event_base_loopbreak(c->base);
    return e;
}

gf_err gf_coordinator_failed(const gf_coordinator *c, const char **msg)
{
    if (msg) *msg = c->fatal ? c->fatal_msg : "";
    return c->fatal;
}

/* ---- sites ---- */

gf_site *gf_coord_site(gf_coordinator *c, const gf_peer *p, int64_t now)
{
    for (size_t i = 0; i < c->n_sites; i++)
        if (!strcmp(c->sites[i].name, p->name)) {
            c->sites[i].last_seen_ms = now;
            c->sites[i].role = p->role;
            return &c->sites[i];
        }
    if (p->role != GF_ROLE_HOSPITAL && p->role != GF_ROLE_EVALUATOR) return NULL;
    if (c->cfg->sites) {
        size_t k = 0;
        while (k < c->cfg->n_sites && strcmp(c->cfg->sites[k], p->name)) k++;
        if (k == c->cfg->n_sites) return NULL;
    }
    /* Fixed capacity: sel[] points into sites, which therefore never moves. */
    if (c->n_sites == GF_SECAGG_MAX_PARTIES) return NULL;
    gf_site *s = &c->sites[c->n_sites++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", p->name);
    for (size_t k = 0; k < c->cfg->n_sites; k++)
        if (!strcmp(c->cfg->sites[k], p->name)) s->max_samples = c->cfg->max_samples[k];
    s->role = p->role;
    s->last_seen_ms = now;
    s->train_loss = NAN;
    char fp[65];
    gf_hex(p->fingerprint, 32, fp);
    int is_new = 0;
    if (gf_coord_db_begin(&c->db) == GF_OK) {
        if (gf_coord_db_site_seen(&c->db, p->name, gf_role_name(p->role), fp, now, &is_new) == GF_OK)
            gf_coord_db_commit(&c->db);
        else
            gf_coord_db_rollback(&c->db);
    }
    if (is_new) note(c, "site %s (%s) joined", p->name, gf_role_name(p->role));
    return s;
}

static void reset_participation(gf_coordinator *c)
{
    for (size_t i = 0; i < c->n_sites; i++) {
        gf_site *s = &c->sites[i];
        s->idx = 0;
        s->advertised = s->shared = s->masked = s->signed_ = s->unmasked = s->updated = s->refused = 0;
        s->n_samples = s->weight_den = 0;
        s->train_loss = NAN;
        free(s->update);
        s->update = NULL;
    }
    free(c->sel);
    c->sel = NULL;
    c->n_sel = 0;
    gf_secagg_server_free(c->sa);
    c->sa = NULL;
    free(c->adverts), free(c->survivors), free(c->unmask_req);
    c->adverts = c->survivors = c->unmask_req = NULL;
    c->adverts_len = c->survivors_len = c->unmask_req_len = 0;
    c->total_samples = 0;
}

int64_t gf_coord_counted(const gf_coordinator *c, const gf_site *s)
{
    if (c->cfg->weighting == GF_WEIGHT_EQUAL) return 1;
    return s->max_samples && s->n_samples > s->max_samples ? s->max_samples : s->n_samples;
}

int64_t gf_coord_weight_den(const gf_coordinator *c, const gf_site *s)
{
    int64_t ci = gf_coord_counted(c, s);
    double si = ci > 0 ? nearbyint((double)s->n_samples * (double)c->total_samples / (double)ci) : 0;
    return si < 0x1p62 ? (int64_t)si : INT64_C(1) << 62;
}

/* ---- model versions ---- */

static gf_err encode_model(gf_coordinator *c)
{
    json_t *meta = gf_checkpoint_meta(&c->model->cfg, c->cfg->task_moments ? GF_TASK_MOMENTS : GF_TASK_FORCES);
    gf_err e = meta ? GF_OK : gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_meta_set(meta, "federated_version", "%lld", (long long)c->version);
    if (!e) e = gf_meta_set(meta, "strategy", "%s", gf_fed_strategy_name(c->cfg->strategy));
    if (!e) e = gf_meta_set(meta, "normalization", "%s", gf_norm_name(c->cfg->normalization));
    if (!e) e = gf_meta_set(meta, "seed", "%ld", c->cfg->seed);
    /* Where the federation started, in every version (the audit row has the details). */
    if (!e && c->cfg->initial) e = gf_meta_set(meta, "initial_model_sha256", "%s", c->cfg->initial_sha256);
    uint8_t *blob = NULL;
    size_t len = 0;
    char what[64];
    snprintf(what, sizeof what, "model version %lld", (long long)c->version);
    gf_st_tensor ex[2];
    int n_ex = 0;
    if (c->model->has_norm) { /* pooled or the initial model's statistics travel with the model */
        const char *nm[2] = {"x_mean", "x_std"};
        for (int k = 0; k < 2; k++) {
            memset(&ex[k], 0, sizeof ex[k]);
            snprintf(ex[k].name, sizeof ex[k].name, "%s", nm[k]);
            ex[k].ndim = 1;
            ex[k].shape[0] = c->model->cfg.d_in;
            ex[k].numel = (size_t)c->model->cfg.d_in;
            ex[k].data = k ? c->model->x_std : c->model->x_mean;
        }
        n_ex = 2;
    }
    if (!e) e = gf_safetensors_encode(what, &c->model->params, ex, n_ex, meta, &blob, &len);
    json_decref(meta);
    uint8_t h[32];
    if (!e) e = gf_sha256(blob, len, h);
    if (e) {
        free(blob);
        return e;
    }
    free(c->blob);
    c->blob = blob;
    c->blob_len = len;
    gf_hex(h, 32, c->sha);
    return GF_OK;
}

/* Stores the current θ as c->version (+ strategy state) in the caller's transaction. */
static gf_err store_model(gf_coordinator *c, int64_t round, int64_t now)
{
    GF_TRY(encode_model(c));
    size_t sl = gf_strategy_state_size(&c->strat);
    uint8_t *st = malloc(sl);
    if (!st) return gf_fail(GF_ENOMEM, "out of memory");
    gf_strategy_state_write(&c->strat, st);
    gf_err e = gf_coord_db_put_model(&c->db, c->version, round, c->blob, c->blob_len, st, sl, now);
    free(st);
    return e;
}

/* θ of version 0: the initial model's parameters as they are, or PyTorch's
 * initialization seeded by the config. The initial model's x_mean/x_std
 * travel only under "normalization": "model"; under "global" the first round
 * pools the sites' statistics, under "own" each site uses its own. */
static gf_err initial_theta(gf_coordinator *c)
{
    const gf_model *im = c->cfg->initial;
    if (!im) return gf_model_init(c->model, (uint64_t)c->cfg->seed);
    if (im->params.size != c->model->params.size) return gf_fail(GF_ESTATE, "initial model: parameter layout differs");
    memcpy(c->model->params.data, im->params.data, im->params.size * sizeof(float)); /* same config, same layout */
    if (c->cfg->normalization == GF_NORM_MODEL) {
        memcpy(c->model->x_mean, im->x_mean, sizeof c->model->x_mean);
        memcpy(c->model->x_std, im->x_std, sizeof c->model->x_std);
        c->model->has_norm = im->has_norm;
    }
    return GF_OK;
}

/* Metadata keys every gaitfed checkpoint has; the others of an initial model
 * (training details, provenance of a converted model) go to the audit row. */
static int standard_key(const char *k)
{
    static const char *const std[] = {"format", "model", "d_in", "d_out", "d_model", "n_layers", "n_heads", "d_ff",
                                      "max_len", "prenorm", "gelu", "dropout", "kernel", "task", "units", "in_units",
                                      "in_cols", "out_cols", "frames", NULL};
    for (int i = 0; std[i]; i++)
        if (!strcmp(k, std[i])) return 1;
    return 0;
}

/* The federation_created audit detail: {} for a seeded start; with an initial
 * model its file, SHA-256, size, whether its statistics are used, and its
 * non-standard metadata (an auditor sees where the federation started). */
static char *created_detail(const gf_coordinator *c)
{
    const gf_coord_config *g = c->cfg;
    json_t *j = json_object();
    if (j && g->initial) {
        const char *base = strrchr(g->initial_model, '/');
        json_t *prov = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(g->initial_meta, k, v)
            if (!standard_key(k) && prov) json_object_set(prov, k, v);
        json_object_set_new(j, "initial_model", json_pack("{s:s,s:s,s:I,s:b,s:o*}", "file", base ? base + 1 : g->initial_model,
                                                           "sha256", g->initial_sha256, "bytes", (json_int_t)g->initial_bytes,
                                                           "statistics_used", g->normalization == GF_NORM_MODEL,
                                                           "metadata", prov));
    }
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return s;
}

/* A database continues the federation it was created for: the same initial
 * model (by SHA-256, recorded in every version), or none. */
static gf_err same_start(const gf_coordinator *c, const gf_safetensors *sf, int64_t v)
{
    const char *had = gf_safetensors_meta(sf, "initial_model_sha256");
    const char *want = c->cfg->initial ? c->cfg->initial_sha256 : NULL;
    if (!had && !want) return GF_OK;
    if (had && want && !strcmp(had, want)) return GF_OK;
    return gf_fail(GF_EINVAL, "%s: the federation in it started from %s%s (model version %lld), but the config's "
                              "initial_model is %s%s",
                   c->cfg->db, had ? "the initial model with SHA-256 " : "a seeded initialization", had ? had : "",
                   (long long)v, want ? "the file with SHA-256 " : "absent", want ? want : "");
}

static gf_err load_or_create_model(gf_coordinator *c)
{
    GF_TRY(gf_model_create(&c->cfg->model, &c->model));
    c->L = gf_arena_numel(&c->model->params);
    GF_TRY(gf_strategy_init(&c->strat, c->cfg->strategy, c->cfg->server_lr, c->cfg->beta1, c->cfg->beta2, c->cfg->tau,
                            c->L));
    int64_t v;
    GF_TRY(gf_coord_db_latest_model(&c->db, &v));
    if (v < 0) { /* a new federation: version 0 is the initial model or the seeded initialization */
        GF_TRY(initial_theta(c));
        c->version = 0;
        char *created = created_detail(c);
        if (!created) return gf_fail(GF_ENOMEM, "out of memory");
        gf_err e = gf_coord_db_begin(&c->db);
        if (!e) e = store_model(c, 0, gf_now_ms());
        if (!e) e = gf_coord_db_audit(&c->db, gf_now_ms(), "federation_created", created);
        if (!e) e = gf_coord_db_commit(&c->db);
        else gf_coord_db_rollback(&c->db);
        free(created);
        return e;
    }
    uint8_t *blob = NULL, *st = NULL;
    size_t len = 0, sl = 0;
    char sha[65];
    GF_TRY(gf_coord_db_get_model(&c->db, v, &blob, &len, &st, &sl, sha));
    gf_safetensors sf;
    char what[64];
    snprintf(what, sizeof what, "model version %lld", (long long)v);
    gf_err e = gf_safetensors_parse(what, blob, len, &sf);
    if (!e) {
        e = same_start(c, &sf, v);
        if (!e) e = gf_safetensors_load_into(&c->model->params, &sf, what);
        const gf_st_tensor *mu = gf_safetensors_get(&sf, "x_mean"), *sd = gf_safetensors_get(&sf, "x_std");
        int d = c->model->cfg.d_in;
        if (!e && mu && sd && (int)mu->numel == d && (int)sd->numel == d) {
            memcpy(c->model->x_mean, mu->data, (size_t)d * sizeof(float));
            memcpy(c->model->x_std, sd->data, (size_t)d * sizeof(float));
            c->model->has_norm = 1;
        }
        gf_safetensors_free(&sf);
    }
    if (!e && st) e = gf_strategy_state_read(&c->strat, st, sl);
    free(st);
    if (e) {
        free(blob);
        return e;
    }
    c->version = v;
    c->blob = blob;
    c->blob_len = len;
    snprintf(c->sha, sizeof c->sha, "%s", sha);
    return GF_OK;
}

/* ---- rounds ---- */

static uint32_t online_hospitals(gf_coordinator *c, int64_t now, gf_site **out)
{
    uint32_t n = 0;
    for (size_t i = 0; i < c->n_sites; i++)
        if (c->sites[i].role == GF_ROLE_HOSPITAL && now - c->sites[i].last_seen_ms <= GF_ONLINE_MS &&
            !c->sites[i].cheated)
            out[n++] = &c->sites[i];
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(gf_site *const *)a)->name, (*(gf_site *const *)b)->name);
}

void gf_coord_phase_done(gf_coordinator *c, int64_t now)
{
    if (!c->phase_started_ms) return;
    c->phase_sum_s[c->phase] += (double)(now - c->phase_started_ms) / 1000.0;
    c->phase_count[c->phase]++;
    c->phase_started_ms = 0;
}

static void set_phase(gf_coordinator *c, gf_phase p, int64_t now)
{
    gf_coord_phase_done(c, now);
    c->phase_started_ms = now;
    c->phase = p;
    c->deadline_ms = now + (int64_t)(c->cfg->timeout_s[p] * 1000);
    gf_coord_fault(c, gf_phase_name(p), 1);
    gf_err e = gf_coord_db_set_phase(&c->db, c->round, gf_phase_name(p), c->deadline_ms);
    if (e == GF_EDB) gf_coord_fatal(c, e);
    else if (e) note(c, "round %lld: %s", (long long)c->round, gf_errmsg());
    else gf_coord_fault(c, gf_phase_name(p), 0);
}

/* Opens (or re-opens, as a new attempt) round c->round when enough hospitals are online. */
static void try_open(gf_coordinator *c, int64_t now)
{
    gf_site **on = malloc((c->n_sites ? c->n_sites : 1) * sizeof *on);
    if (!on) return;
    uint32_t n_on = online_hospitals(c, now, on);
    uint32_t need = (uint32_t)c->cfg->min_sites < 2 && c->cfg->secure ? 2 : (uint32_t)c->cfg->min_sites;
    if (n_on < need) {
        gf_coord_note_excluded_wait(c, n_on, need, now);
        free(on);
        return;
    }
    /* Sample ceil(fraction · online) sites (at least min_sites), seeded by round and attempt. */
    qsort(on, n_on, sizeof *on, by_name);
    gf_rng rng;
    gf_rng_derive(&rng, (uint64_t)c->cfg->seed, (uint64_t)(c->round * 1000 + c->attempt));
    for (uint32_t i = n_on; i > 1; i--) {
        uint32_t j = (uint32_t)gf_rng_below(&rng, i);
        gf_site *t = on[i - 1];
        on[i - 1] = on[j];
        on[j] = t;
    }
    uint32_t k = (uint32_t)ceil(c->cfg->sample_fraction * n_on);
    if (k < need) k = need;
    if (k > n_on) k = n_on;
    qsort(on, k, sizeof *on, by_name);
    reset_participation(c);
    c->sel = on;
    c->n_sel = k;
    for (uint32_t i = 0; i < k; i++) on[i]->idx = i + 1;

    gf_err e = GF_OK;
    /* With pooled normalization the first round only secure-sums the sites'
     * input statistics (16-bit limbs: summed as they are, n·65535 < 2^31). */
    c->statistics = c->cfg->normalization == GF_NORM_GLOBAL && !c->model->has_norm;
    if (c->cfg->secure) {
        uint64_t rid = (uint64_t)c->round * 65536 + (uint64_t)c->attempt;
        e = gf_secagg_params_default(rid, k, c->statistics ? GF_STATS_WORDS : (uint32_t)c->L,
                                     c->statistics ? 65535.0 : c->cfg->update_clip, &c->sp);
        if (!e && c->statistics) c->sp.clip = 65535.0, c->sp.scale = 1.0;
        if (!e && c->cfg->neighbours) c->sp.k = (uint32_t)c->cfg->neighbours < k - 1 ? (uint32_t)c->cfg->neighbours : k - 1;
        if (!e && c->cfg->threshold) c->sp.t = (uint32_t)c->cfg->threshold;
        if (!e) e = gf_secagg_params_check(&c->sp);
        if (!e) e = gf_secagg_server_new(&c->sp, c->trust, 2, &c->sa);
    }
    json_t *params = json_pack("{s:I,s:I,s:b,s:b}", "sites", (json_int_t)k, "attempt", (json_int_t)c->attempt, "secure",
                               c->cfg->secure, "statistics", c->statistics);
    if (params && c->cfg->secure && !e) {
        json_object_set_new(params, "k", json_integer(c->sp.k));
        json_object_set_new(params, "t", json_integer(c->sp.t));
        json_object_set_new(params, "scale", json_real(c->sp.scale));
    }
    if (params) { /* what the sites are told, kept with the round for the report */
        json_object_set_new(params, "local_epochs", json_integer(c->cfg->local_epochs));
        json_object_set_new(params, "batch", json_integer(c->cfg->batch));
        json_object_set_new(params, "lr", json_real(c->cfg->lr));
        json_object_set_new(params, "server_lr", json_real(c->cfg->server_lr));
        json_object_set_new(params, "cross_site_eval", json_boolean(c->cfg->cross_site_eval));
    }
    json_t *names = json_array();
    for (uint32_t i = 0; i < k && names; i++) json_array_append_new(names, json_string(on[i]->name));
    if (params && names) json_object_set_new(params, "selected", names);
    char *pj = params ? json_dumps(params, JSON_COMPACT) : NULL;
    json_decref(params);
    if (!e && !pj) e = gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_coord_db_begin(&c->db);
    if (!e) {
        e = c->attempt == 1 ? gf_coord_db_open_round(&c->db, c->round, c->version, pj, now)
                            : gf_coord_db_audit(&c->db, now, "round_reopened", pj);
        if (!e) e = gf_coord_db_commit(&c->db);
        else gf_coord_db_rollback(&c->db);
    }
    free(pj);
    if (e) {
        reset_participation(c);
        if (e == GF_EDB) gf_coord_fatal(c, e);
        else note(c, "round %lld: cannot open: %s", (long long)c->round, gf_errmsg());
        return;
    }
    c->state = R_OPEN;
    set_phase(c, GF_PH_TRAIN, now);
    note(c, "round %lld attempt %lld opened with %u sites (model version %lld)", (long long)c->round,
         (long long)c->attempt, k, (long long)c->version);
}

/* Reads the pause the database records (an operator's resume clears it). */
static void load_pause(gf_coordinator *c)
{
    char detail[1024] = "";
    int64_t seq = 0;
    gf_err e = gf_coord_db_paused(&c->db, &seq, detail, sizeof detail);
    if (e) {
        if (e == GF_EDB) gf_coord_fatal(c, e);
        return;
    }
    if (!seq) {
        if (c->state == R_PAUSED) {
            note(c, "federation resumed by the operator (round %lld continues as attempt %lld)", (long long)c->round,
                 (long long)c->attempt);
            c->state = R_IDLE;
            c->rejections = 0;
            c->paused_seq = 0;
        }
        return;
    }
    json_t *j = json_loads(detail, 0, NULL);
    snprintf(c->paused_reason, sizeof c->paused_reason, "%s", j && json_string_value(json_object_get(j, "reason"))
                                                                ? json_string_value(json_object_get(j, "reason")) : "?");
    const char *site = json_string_value(json_object_get(j, "sites"));
    snprintf(c->paused_site, sizeof c->paused_site, "%s", site ? site : "");
    json_t *t = json_object_get(j, "time_ms");
    c->paused_ms = json_is_integer(t) ? json_integer_value(t) : gf_now_ms();
    json_decref(j);
    c->paused_seq = seq;
    c->state = R_PAUSED;
}

static void end_attempt(gf_coordinator *c, const char *why, int rejected, const char *sites)
{
    int64_t now = gf_now_ms();
    int pause = rejected && c->rejections + 1 >= c->cfg->max_attempt_failures;
    json_t *j = json_pack("{s:I,s:I,s:s,s:s}", "round", (json_int_t)c->round, "attempt", (json_int_t)c->attempt,
                          "phase", gf_phase_name(c->phase), "reason", why);
    if (j && rejected) /* secure aggregation hides whose update it was */
        json_object_set_new(j, sites ? "sites" : "culprit",
                            json_string(sites ? sites : c->cfg->secure ? "unknown: secure aggregation reveals only the sum"
                                                                       : "unknown"));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL, *ps = NULL;
    if (j && pause) {
        json_object_set_new(j, "rejected_attempts", json_integer(c->rejections + 1));
        json_object_set_new(j, "time_ms", json_integer(now));
        json_object_set_new(j, "resume", json_string("gaitfed coordinator resume --config <the coordinator's config>"));
        ps = json_dumps(j, JSON_COMPACT);
    }
    json_decref(j);
    /* The attempt number lives in the database: one that could not record
     * the restart stops here rather than diverge from it. */
    gf_err e = s && (!pause || ps) ? gf_coord_db_begin(&c->db) : gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_coord_db_audit(&c->db, now, rejected ? "attempt_rejected" : "attempt_abandoned", s);
    if (!e) e = gf_coord_db_restart_round(&c->db, c->round, why, now);
    if (!e && pause) e = gf_coord_db_audit(&c->db, now, "federation_paused", ps);
    if (!e) e = gf_coord_db_commit(&c->db);
    else gf_coord_db_rollback(&c->db);
    free(s), free(ps);
    if (e) {
        reset_participation(c);
        gf_coord_fatal(c, e);
        return;
    }
    note(c, "round %lld attempt %lld %s in %s: %s%s%s", (long long)c->round, (long long)c->attempt,
         rejected ? "rejected" : "abandoned", gf_phase_name(c->phase), why, sites ? "; sites: " : "", sites ? sites : "");
    reset_participation(c);
    c->phase_started_ms = 0; /* an abandoned phase is not a duration */
    c->attempts_abandoned++;
    c->attempt++;
    c->state = R_IDLE;
    if (rejected) c->rejections++;
    if (pause) {
        load_pause(c);
        note(c, "federation PAUSED after %lld rejected attempts of round %lld: %s (resume: gaitfed coordinator resume "
                "--config F)", (long long)c->rejections, (long long)c->round, why);
    }
}

void gf_coord_abandon(gf_coordinator *c, const char *why) { end_attempt(c, why, 0, NULL); }

void gf_coord_reject(gf_coordinator *c, const char *why, const char *sites) { end_attempt(c, why, 1, sites); }

/* Records the sites that answered the previous phase but not this one (one
 * audit row per closing phase that lost someone; a site is listed once, in
 * the phase where it dropped). */
static void audit_dropouts(gf_coordinator *c, const char *phase, int64_t now, int (*answered)(const gf_site *),
                           int (*was_in)(const gf_site *))
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < c->n_sel && a; i++)
        if ((!was_in || was_in(c->sel[i])) && !answered(c->sel[i]))
            json_array_append_new(a, json_string(c->sel[i]->name));
    if (a && json_array_size(a)) {
        json_t *j = json_pack("{s:I,s:I,s:s,s:o}", "round", (json_int_t)c->round, "attempt", (json_int_t)c->attempt,
                              "phase", phase, "sites", a);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        gf_err e = s ? gf_coord_db_begin(&c->db) : GF_ENOMEM;
        if (!e) e = gf_coord_db_audit(&c->db, now, "dropouts", s);
        if (!e) e = gf_coord_db_commit(&c->db);
        else if (s) gf_coord_db_rollback(&c->db);
        if (e == GF_EDB) gf_coord_fatal(c, e);
        free(s);
        json_decref(j);
    } else {
        json_decref(a);
    }
}

/* A phase closed by its deadline, with who answered out of whom. */
static void audit_deadline(gf_coordinator *c, int64_t now)
{
    uint32_t ans = 0, exp = 0;
    for (uint32_t i = 0; i < c->n_sel; i++) {
        const gf_site *s = c->sel[i];
        switch (c->phase) {
        case GF_PH_TRAIN: exp++, ans += c->cfg->secure ? s->advertised : s->updated; break;
        case GF_PH_SHARES: exp += s->advertised, ans += s->shared; break;
        case GF_PH_MASKED: exp += s->shared, ans += s->masked; break;
        case GF_PH_CONSISTENCY: exp += s->masked && gf_secagg_server_in_u3(c->sa, s->idx), ans += s->signed_; break;
        case GF_PH_UNMASK: exp += s->signed_, ans += s->unmasked; break;
        default: break;
        }
    }
    json_t *j = json_pack("{s:I,s:I,s:s,s:i,s:i}", "round", (json_int_t)c->round, "attempt", (json_int_t)c->attempt,
                          "phase", gf_phase_name(c->phase), "answered", (int)ans, "expected", (int)exp);
    char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (d && gf_coord_db_begin(&c->db) == GF_OK) {
        if (gf_coord_db_audit(&c->db, now, "phase_deadline", d) == GF_OK) gf_coord_db_commit(&c->db);
        else gf_coord_db_rollback(&c->db);
    }
    free(d);
}

static int did_advert(const gf_site *s) { return s->advertised; }
static int did_share(const gf_site *s) { return s->shared; }
static int did_mask(const gf_site *s) { return s->masked; }
static int did_sign(const gf_site *s) { return s->signed_; }
static int did_update(const gf_site *s) { return s->updated; }
static int did_update_or_refused(const gf_site *s) { return s->updated || s->refused; } /* refusals are audited apart */
static int did_unmask(const gf_site *s) { return s->unmasked; }
static int was_refused(const gf_site *s) { return s->refused; }

static uint32_t count(const gf_coordinator *c, int (*f)(const gf_site *))
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_sel; i++) n += f(c->sel[i]) != 0;
    return n;
}

/* Whether every site expected in the current phase has answered. */
static int phase_complete(const gf_coordinator *c)
{
    uint32_t adv = count(c, did_advert), sh = count(c, did_share), ma = count(c, did_mask), si = count(c, did_sign);
    switch (c->phase) {
    case GF_PH_TRAIN: { /* plain: a site whose update was refused is not waited for unless min_sites needs it */
        if (c->cfg->secure) return adv == c->n_sel;
        uint32_t up = count(c, did_update);
        return up == c->n_sel || (up + count(c, was_refused) == c->n_sel && up >= (uint32_t)c->cfg->min_sites);
    }
    case GF_PH_SHARES: return sh == adv;
    case GF_PH_MASKED: return ma == sh;
    case GF_PH_CONSISTENCY: return si == ma;
    case GF_PH_UNMASK: {
        uint32_t un = 0;
        for (uint32_t i = 0; i < c->n_sel; i++) un += c->sel[i]->unmasked;
        return un == si;
    }
    default: return 0;
    }
}

static void close_phase(gf_coordinator *c, int64_t now)
{
    gf_err e = GF_OK;
    switch (c->phase) {
    case GF_PH_TRAIN:
        audit_dropouts(c, "train", now, c->cfg->secure ? did_advert : did_update_or_refused, NULL);
        if (c->fatal) return;
        if (!c->cfg->secure) {
            gf_coord_phase_done(c, now);
            if (count(c, did_update) < (uint32_t)c->cfg->min_sites) {
                char refused[256] = "";
                for (uint32_t i = 0; i < c->n_sel; i++)
                    if (c->sel[i]->refused)
                        snprintf(refused + strlen(refused), sizeof refused - strlen(refused), "%s%s",
                                 refused[0] ? "," : "", c->sel[i]->name);
                if (refused[0]) gf_coord_reject(c, "fewer accepted updates than min_sites (updates refused)", refused);
                else gf_coord_abandon(c, "fewer updates than min_sites");
                return;
            }
            if ((e = gf_coord_start_aggregate(c))) break;
            return;
        }
        c->total_samples = 0;
        for (uint32_t i = 0; i < c->n_sel; i++)
            if (c->sel[i]->advertised) c->total_samples += gf_coord_counted(c, c->sel[i]);
        for (uint32_t i = 0; i < c->n_sel; i++)
            if (c->sel[i]->advertised) c->sel[i]->weight_den = gf_coord_weight_den(c, c->sel[i]);
        e = gf_secagg_server_close_adverts(c->sa, &c->adverts, &c->adverts_len);
        if (!e) set_phase(c, GF_PH_SHARES, now);
        break;
    case GF_PH_SHARES:
        audit_dropouts(c, "shares", now, did_share, did_advert);
        if (c->fatal) return;
        e = gf_secagg_server_close_shares(c->sa);
        if (!e) set_phase(c, GF_PH_MASKED, now);
        break;
    case GF_PH_MASKED:
        audit_dropouts(c, "masked", now, did_mask, did_share);
        if (c->fatal) return;
        e = gf_secagg_server_close_masked(c->sa, &c->survivors, &c->survivors_len);
        if (!e) set_phase(c, GF_PH_CONSISTENCY, now);
        break;
    case GF_PH_CONSISTENCY:
        audit_dropouts(c, "consistency", now, did_sign, did_mask);
        if (c->fatal) return;
        e = gf_secagg_server_close_consistency(c->sa, &c->unmask_req, &c->unmask_req_len);
        if (!e) set_phase(c, GF_PH_UNMASK, now);
        break;
    case GF_PH_UNMASK:
        audit_dropouts(c, "unmask", now, did_unmask, did_sign);
        if (c->fatal) return;
        gf_coord_phase_done(c, now);
        e = gf_coord_start_aggregate(c);
        if (!e) return;
        break;
    default: return;
    }
    if (e) gf_coord_abandon(c, gf_errmsg());
}

void gf_coord_advance(gf_coordinator *c)
{
    if (c->fatal) return;
    int64_t now = gf_now_ms();
    for (int guard = 0; guard < 8 && !c->fatal; guard++) {
        switch (c->state) {
        case R_IDLE:
            c->base_version = c->cfg->normalization == GF_NORM_GLOBAL ? 1 : 0;
            if (c->version - c->base_version >= c->cfg->rounds && (c->cfg->normalization != GF_NORM_GLOBAL || c->model->has_norm)) {
                int x = gf_coord_xeval_begin(c, now);
                if (x < 0) return; /* waiting for the last round's hospitals to come back */
                if (x) {
                    c->state = R_XEVAL;
                    continue;
                }
                c->state = R_DONE;
                c->finished = 1;
                c->finished_ms = now;
                note(c, "federation finished: %lld rounds", (long long)(c->version - c->base_version));
                return;
            }
            try_open(c, now);
            if (c->state == R_IDLE) return;
            continue;
        case R_OPEN:
            if (!phase_complete(c) && now < c->deadline_ms) return;
            if (!phase_complete(c)) audit_deadline(c, now);
            close_phase(c, now);
            if (c->state != R_OPEN) continue;
            if (!phase_complete(c)) return; /* the next phase waits for answers */
            continue;
        case R_EVALUATE: {
            /* Waits for every evaluator that is online or has been handed
             * this version (seen since the phase opened: it is evaluating,
             * and polls no more until it posts, however long that takes),
             * until they posted or the deadline. */
            int pending = 0;
            for (size_t i = 0; i < c->n_sites; i++) {
                gf_site *s = &c->sites[i];
                if (s->role == GF_ROLE_EVALUATOR && !s->evaluated &&
                    (now - s->last_seen_ms <= GF_ONLINE_MS || s->last_seen_ms >= c->phase_started_ms))
                    pending++;
            }
            if (pending && now < c->deadline_ms) return;
            gf_coord_fault(c, "evaluate", 0);
            gf_coord_phase_done(c, now);
            c->state = R_IDLE;
            c->round++;
            c->attempt = 1;
            continue;
        }
        case R_XEVAL:
            if (!gf_coord_xeval_advance(c, now)) return;
            c->state = R_DONE;
            c->finished = 1;
            c->finished_ms = now;
            note(c, "federation finished: %lld rounds and the cross-site evaluation",
                 (long long)(c->version - c->base_version));
            return;
        case R_PAUSED:
            if (now - c->resume_checked_ms < GF_RESUME_CHECK_MS) return;
            c->resume_checked_ms = now;
            load_pause(c);
            if (c->state == R_PAUSED) return;
            continue;
        default: return; /* R_AGGREGATING, R_DONE */
        }
    }
}

/* Refused connections, audited in batches (at most one row per
 * GF_REFUSAL_AUDIT_MS, so a flood of bad handshakes cannot flood the log). */
static void audit_refusals(gf_coordinator *c, int64_t now)
{
    gf_https_stats hs = gf_https_server_stats(c->http);
    uint64_t tls = hs.refused_tls - c->audited_tls, peer = hs.refused_peer - c->audited_peer,
             site = c->refused_sites - c->audited_sites;
    if ((!tls && !peer && !site) || now - c->refusals_audited_ms < GF_REFUSAL_AUDIT_MS) return;
    json_t *j = json_pack("{s:I,s:I,s:I,s:s}", "tls_alerts", (json_int_t)tls, "certificates", (json_int_t)peer,
                          "unregistered_sites", (json_int_t)site, "last_unregistered", c->last_refused_site);
    char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (d && gf_coord_db_begin(&c->db) == GF_OK) {
        if (gf_coord_db_audit(&c->db, now, "connections_refused", d) == GF_OK && gf_coord_db_commit(&c->db) == GF_OK) {
            c->audited_tls = hs.refused_tls, c->audited_peer = hs.refused_peer, c->audited_sites = c->refused_sites;
            c->refusals_audited_ms = now;
        } else {
            gf_coord_db_rollback(&c->db);
        }
    }
    free(d);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    audit_refusals(arg, gf_now_ms());
    gf_coord_advance(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char b[16];
    while (read(fd, b, sizeof b) > 0) {}
    gf_coordinator *c = arg;
    gf_coord_finish_aggregate(c);
    gf_coord_advance(c);
}

gf_err gf_coord_commit_version(gf_coordinator *c, double loss)
{
    int64_t now = gf_now_ms();
    /* Keep θ_v and its bytes until the transaction commits: a failed commit
     * must leave the served model exactly as it was. */
    float *old = malloc(c->L * sizeof *old);
    uint8_t *old_blob = c->blob;
    size_t old_len = c->blob_len;
    char old_sha[65];
    if (!old) return gf_fail(GF_ENOMEM, "out of memory");
    memcpy(old_sha, c->sha, sizeof old_sha);
    gf_arena_pack(&c->model->params, old);
    gf_arena_unpack(&c->model->params, c->next_theta);
    c->blob = NULL;
    c->version++;
    gf_err e = gf_coord_db_begin(&c->db);
    if (!e) {
        e = store_model(c, c->round, now);
        if (!e)
            e = gf_coord_db_close_round(&c->db, c->round, c->statistics ? "statistics" : "aggregated", (int)c->n_survivors,
                                        loss, now);
        if (!e && c->statistics) {
            json_t *mu = json_array(), *sd = json_array();
            for (int k = 0; k < c->model->cfg.d_in && mu && sd; k++) {
                json_array_append_new(mu, json_real(c->model->x_mean[k]));
                json_array_append_new(sd, json_real(c->model->x_std[k]));
            }
            json_t *j = json_pack("{s:I,s:I,s:o,s:o}", "round", (json_int_t)c->round, "frames",
                                  (json_int_t)c->pooled_frames, "x_mean", mu, "x_std", sd);
            char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            e = js ? gf_coord_db_audit(&c->db, now, "pooled_statistics", js) : gf_fail(GF_ENOMEM, "out of memory");
            free(js);
        }
        for (uint32_t i = 0; i < c->n_sel && !e; i++)
            if (c->sel[i]->advertised || c->sel[i]->updated)
                e = gf_coord_db_round_site(&c->db, c->round, c->sel[i]->name, (int)c->sel[i]->idx, c->sel[i]->n_samples,
                                           NULL);
        if (!e) gf_coord_fault(c, "aggregate", 1);
        if (!e) e = gf_coord_db_commit(&c->db);
        else gf_coord_db_rollback(&c->db);
        if (!e) gf_coord_fault(c, "aggregate", 0);
    }
    if (e) {
        c->version--;
        gf_arena_unpack(&c->model->params, old);
        free(c->blob);
        c->blob = old_blob;
        c->blob_len = old_len;
        memcpy(c->sha, old_sha, sizeof old_sha);
    } else {
        free(old_blob);
    }
    free(old);
    return e;
}

gf_err gf_coordinator_new(const gf_coord_config *cfg, struct event_base *base, gf_coordinator **out)
{
    *out = NULL;
    gf_coordinator *c = calloc(1, sizeof *c);
    if (!c) return gf_fail(GF_ENOMEM, "out of memory");
    c->cfg = cfg;
    c->base = base;
    c->wake_fd[0] = c->wake_fd[1] = -1;
    c->round = 1;
    c->attempt = 1;
    c->started_ms = gf_now_ms();
    fault_init();
    c->sites = calloc(GF_SECAGG_MAX_PARTIES, sizeof *c->sites);
    if (!c->sites) {
        free(c);
        return gf_fail(GF_ENOMEM, "out of memory");
    }
    gf_err e = gf_trust_load(cfg->ca, cfg->crl, &c->trust);
    if (!e) e = gf_coord_db_open(cfg->db, &c->db);
    if (!e) e = load_or_create_model(c);
    if (!e) { /* resume: the open round continues as its next attempt */
        int64_t r = 0, mv = 0, att = 0, last = 0;
        char phase[32];
        e = gf_coord_db_open_round_get(&c->db, &r, &mv, &att, phase);
        if (!e) e = gf_coord_db_last_round(&c->db, &last);
        if (!e && r) {
            e = gf_coord_db_begin(&c->db);
            if (!e) e = gf_coord_db_restart_round(&c->db, r, "coordinator restarted", gf_now_ms());
            if (!e) e = gf_coord_db_commit(&c->db);
            else gf_coord_db_rollback(&c->db);
            c->round = r;
            c->attempt = att + 1;
            if (!e) note(c, "resuming round %lld as attempt %lld (was in %s)", (long long)r, (long long)c->attempt, phase);
        } else if (!e) {
            c->round = last + 1;
        }
    }
    if (!e) { /* paused before a restart: still paused */
        load_pause(c);
        if (c->fatal) e = c->fatal;
        else if (c->state == R_PAUSED) note(c, "the federation is PAUSED (%s): resume with gaitfed coordinator resume", c->paused_reason);
    }
    if (!e && pipe(c->wake_fd)) e = gf_fail(GF_EIO, "coordinator: pipe failed");
    if (!e) {
        gf_https_opts o = {.key_path = cfg->key, .cert_path = cfg->cert, .ca_path = cfg->ca, .crl_path = cfg->crl,
                           .host = cfg->host, .port = cfg->port, .on_refused = gf_coord_cert_refused, .refused_ctx = c,
                           .max_body = (size_t)c->L * 4 + (64u << 10) > GF_EVAL_CAP ? (size_t)c->L * 4 + (64u << 10) : GF_EVAL_CAP};
        e = gf_https_server_new(base, &o, gf_coord_handle, c, &c->http);
    }
    if (!e) {
        evutil_make_socket_nonblocking(c->wake_fd[0]);
        c->wake = event_new(base, c->wake_fd[0], EV_READ | EV_PERSIST, on_wake, c);
        c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
        struct timeval tv = {0, 100000};
        if (!c->wake || !c->tick || event_add(c->wake, NULL) || event_add(c->tick, &tv))
            e = gf_fail(GF_ENOMEM, "coordinator: cannot schedule events");
    }
    if (e) {
        gf_coordinator_free(c);
        return e;
    }
    *out = c;
    return GF_OK;
}

void gf_coordinator_free(gf_coordinator *c)
{
    if (!c) return;
    if (c->worker_running) pthread_join(c->worker, NULL);
    if (c->tick) event_free(c->tick);
    if (c->wake) event_free(c->wake);
    gf_https_server_free(c->http);
    reset_participation(c);
    gf_coord_xeval_free(c);
    free(c->sites);
    if (c->wake_fd[0] >= 0) close(c->wake_fd[0]);
    if (c->wake_fd[1] >= 0) close(c->wake_fd[1]);
    free(c->blob);
    free(c->next_theta);
    gf_strategy_free(&c->strat);
    gf_strategy_free(&c->next_strat);
    gf_model_free(c->model);
    gf_coord_db_close(&c->db);
    gf_trust_free(c->trust);
    free(c);
}

int gf_coordinator_port(const gf_coordinator *c) { return gf_https_server_port(c->http); }
/* Finished, and every site still polling has been told so (nodes exit on
 * "done"; without it they would retry a vanished coordinator forever), or
 * the linger has passed. */
int gf_coordinator_finished(const gf_coordinator *c)
{
    if (!c->finished) return 0;
    int64_t now = gf_now_ms();
    if (now - c->finished_ms >= GF_DONE_LINGER_MS) return 1;
    for (size_t i = 0; i < c->n_sites; i++)
        if (!c->sites[i].told_done && now - c->sites[i].last_seen_ms <= GF_ONLINE_MS) return 0;
    /* The last "done" is queued, not yet written: give the connection time to flush. */
    return now - c->last_done_ms >= GF_DONE_FLUSH_MS;
}

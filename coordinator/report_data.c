/* The report's data model (report_internal.h): reads a coordinator database
 * read-only and builds the object summary.json holds. Worst site = highest
 * subject-mean RMSE; spread = max - min RMSE; weighted means use n_samples
 * (round validation) or the at-site n_subjects (cross-site matrix). */
#include "coordinator/report_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "coordinator/audit.h"
#include "coordinator/db.h"
#include "coordinator/report.h"

#define META_CAP (1u << 20) /* safetensors header bytes read for the settings */

typedef struct {
    sqlite3 *db;
    const char *path;
    int oom;
} ctx;

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Sets o[k] = v (stolen); remembers a failure. */
static void set(ctx *c, json_t *o, const char *k, json_t *v)
{
    if (!v || !o || json_object_set_new(o, k, v)) c->oom = 1;
}
static void add(ctx *c, json_t *a, json_t *v)
{
    if (!v || !a || json_array_append_new(a, v)) c->oom = 1;
}

static gf_err db_fail(ctx *c, const char *what)
{
    int rc = sqlite3_errcode(c->db) & 0xff;
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return gf_fail(GF_EFORMAT, "%s: damaged or not a gaitfed coordinator database", c->path);
    return gf_fail(GF_EDB, "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static gf_err prep(ctx *c, const char *sql, sqlite3_stmt **q)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, q, NULL) == SQLITE_OK) return GF_OK;
    *q = NULL;
    return db_fail(c, "reading");
}

static gf_err finish(ctx *c, sqlite3_stmt *q, int rc)
{
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? GF_OK : db_fail(c, "reading");
}

static json_t *col_json(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s ? json_loads(s, 0, NULL) : NULL;
}

static const char *col_str(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s ? s : "";
}

static gf_err table_exists(ctx *c, const char *name, int *yes)
{
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", &q));
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    *yes = rc == SQLITE_ROW;
    return finish(c, q, rc == SQLITE_ROW ? SQLITE_DONE : rc);
}

static gf_err pragma_int(ctx *c, const char *sql, long long *v)
{
    sqlite3_stmt *q;
    GF_TRY(prep(c, sql, &q));
    int rc = sqlite3_step(q);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    return finish(c, q, rc == SQLITE_ROW ? SQLITE_DONE : rc);
}

/* {"rmse","r2","mae"} of metrics.subject_mean (or of any {rmse,r2,mae} object). */
static json_t *stats(const json_t *m)
{
    return json_pack("{s:o,s:o,s:o}", "rmse", num(gf_rj_num(m, "rmse")), "r2", num(gf_rj_num(m, "r2")), "mae",
                     num(gf_rj_num(m, "mae")));
}

/* Federation settings: the latest round's params merged with the latest
 * model's safetensors metadata (architecture, strategy, normalization). */
static gf_err settings(ctx *c, json_t *fed)
{
    sqlite3_stmt *q;
    json_t *params = NULL, *meta = NULL;
    GF_TRY(prep(c, "SELECT params FROM rounds ORDER BY round DESC LIMIT 1", &q));
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) params = col_json(q, 0);
    GF_TRY(finish(c, q, rc == SQLITE_ROW ? SQLITE_DONE : rc));
    GF_TRY(prep(c, "SELECT substr(weights, 1, 8), length(weights) FROM models ORDER BY version DESC LIMIT 1", &q));
    rc = sqlite3_step(q);
    uint64_t hlen = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 8) {
        const unsigned char *p = sqlite3_column_blob(q, 0);
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
        if (hlen > META_CAP || hlen + 8 > (uint64_t)sqlite3_column_int64(q, 1)) hlen = 0;
    }
    gf_err e = finish(c, q, rc == SQLITE_ROW ? SQLITE_DONE : rc);
    if (!e && hlen) {
        e = prep(c, "SELECT substr(weights, 9, ?) FROM models ORDER BY version DESC LIMIT 1", &q);
        if (!e) {
            sqlite3_bind_int64(q, 1, (sqlite3_int64)hlen);
            rc = sqlite3_step(q);
            if (rc == SQLITE_ROW) {
                json_t *h = json_loadb(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), 0, NULL);
                meta = json_incref(json_object_get(h, "__metadata__"));
                json_decref(h);
            }
            e = finish(c, q, rc == SQLITE_ROW ? SQLITE_DONE : rc);
        }
    }
    if (e) { json_decref(params); json_decref(meta); return e; }
    json_t *s = json_object();
    const json_t *sec = json_object_get(params, "secure");
    set(c, s, "secure_aggregation", json_is_boolean(sec) ? json_boolean(json_is_true(sec)) : json_null());
    static const char *const META_KEYS[][2] = {{"normalization", "normalization"}, {"strategy", "strategy"},
                                               {"model", "model"}, {"task", "task"}, {"units", "units"},
                                               {"local_epochs", "local_epochs"}, {"batch", "batch"},
                                               {"lr", "lr"}, {"server_lr", "server_lr"},
                                               {"cross_site_eval", "cross_site_eval"}, {"seed", "seed"},
                                               {"initial_model_sha256", "initial_model_sha256"}};
    for (size_t i = 0; i < sizeof META_KEYS / sizeof *META_KEYS; i++) {
        const json_t *v = json_object_get(params, META_KEYS[i][1]);
        if (!v) v = json_object_get(meta, META_KEYS[i][1]);
        set(c, s, META_KEYS[i][0], v ? json_deep_copy(v) : json_null());
    }
    set(c, s, "sites_per_round", json_deep_copy(json_object_get(params, "sites") ? json_object_get(params, "sites")
                                                                                : json_null()));
    set(c, s, "secagg_threshold", json_deep_copy(json_object_get(params, "t") ? json_object_get(params, "t") : json_null()));
    set(c, s, "round_params", params ? params : json_null());
    set(c, s, "model_metadata", meta ? meta : json_null());
    set(c, fed, "settings", s);
    return GF_OK;
}

static gf_err federation(ctx *c, json_t *m)
{
    json_t *fed = json_object();
    set(c, m, "federation", fed);
    long long n = 0, agg = 0, last = 0, ver = -1;
    GF_TRY(pragma_int(c, "SELECT count(*) FROM rounds", &n));
    GF_TRY(pragma_int(c, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated'", &agg));
    GF_TRY(pragma_int(c, "SELECT coalesce(max(round), 0) FROM rounds", &last));
    GF_TRY(pragma_int(c, "SELECT coalesce(max(version), -1) FROM models", &ver));
    set(c, fed, "rounds", json_integer(n));
    set(c, fed, "rounds_aggregated", json_integer(agg));
    set(c, fed, "latest_round", last ? json_integer(last) : json_null());
    set(c, fed, "model_version", ver >= 0 ? json_integer(ver) : json_null());
    json_t *sites = json_array();
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT name, role FROM sites ORDER BY role, name", &q));
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        add(c, sites, json_pack("{s:s,s:s}", "name", col_str(q, 0), "role", col_str(q, 1)));
    set(c, fed, "sites", sites);
    GF_TRY(finish(c, q, rc));
    return settings(c, fed);
}

static void audit(ctx *c, json_t *m)
{
    gf_audit_report r;
    memset(&r, 0, sizeof r);
    gf_err e = gf_audit_verify(c->db, &r);
    json_t *a = json_object();
    set(c, a, "intact", json_boolean(e == GF_OK && r.first_bad == 0));
    set(c, a, "rows", json_integer(r.rows));
    set(c, a, "head", json_string(r.head_hex));
    set(c, a, "first_bad", r.first_bad ? json_integer(r.first_bad) : json_null());
    set(c, a, "problem", e == GF_OK ? json_null() : json_string(r.why[0] ? r.why : gf_errmsg()));
    set(c, m, "audit", a);
    gf_errclear();
}

/* Mean +- SD curves of the key channels (sites/dataset.h gf_force_cols and
 * gf_moment_cols): gluteus medius/minimus/maximus, iliopsoas, rectus femoris,
 * adductor longus; the three hip moments. */
static const char *const KEY_CHANNELS[] = {"glmed_r", "iliopsoas_r", "recfem_r", "glmax_r", "addlong_r", "glmin_r",
                                           "hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment"};

static int curve_ok(const json_t *ch, json_int_t T)
{
    static const char *const K[] = {"ref_mean", "ref_sd", "pred_mean", "pred_sd"};
    for (int k = 0; k < 4; k++) {
        const json_t *a = json_object_get(ch, K[k]);
        if (!json_is_array(a) || (json_int_t)json_array_size(a) != T) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_is_number(json_array_get(a, i))) return 0;
    }
    return 1;
}

static json_t *curves(ctx *c, const json_t *metrics)
{
    const json_t *cv = json_object_get(metrics, "curves"), *chs = json_object_get(cv, "channels");
    json_int_t T = json_integer_value(json_object_get(cv, "frames"));
    if (!json_is_object(chs) || T < 2 || T > 100000) return json_null();
    json_t *out = json_object();
    for (size_t i = 0; i < sizeof KEY_CHANNELS / sizeof *KEY_CHANNELS; i++) {
        const json_t *ch = json_object_get(chs, KEY_CHANNELS[i]);
        if (curve_ok(ch, T)) set(c, out, KEY_CHANNELS[i], json_deep_copy(ch));
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)chs, k, v) {
        if (json_object_size(out) >= 6 || (json_object_size(out) >= 3 && json_object_get(out, "hip_flexion_r_moment")))
            break;
        if (!json_object_get(out, k) && curve_ok(v, T)) set(c, out, k, json_deep_copy(v));
    }
    if (!json_object_size(out)) { json_decref(out); return json_null(); }
    return json_pack("{s:I,s:o}", "frames", T, "channels", out);
}

static json_t *final_of(ctx *c, json_int_t version, const json_t *mt)
{
    json_t *f = json_pack("{s:I}", "version", version);
    set(c, f, "subject_mean", stats(json_object_get(mt, "subject_mean")));
    json_t *cad = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(mt, "per_cadence"), k, v) {
        json_t *s = stats(json_object_get(v, "subject_mean"));
        set(c, s, "n_subjects", json_integer(json_integer_value(json_object_get(v, "n_subjects"))));
        set(c, cad, k, s);
    }
    set(c, f, "per_cadence", cad);
    json_t *subj = json_array();
    json_object_foreach((json_t *)json_object_get(mt, "per_subject"), k, v) {
        json_t *s = stats(v);
        set(c, s, "id", json_string(k));
        set(c, s, "n_cycles", json_integer(json_integer_value(json_object_get(v, "n_cycles"))));
        add(c, subj, s);
    }
    set(c, f, "per_subject", subj);
    set(c, f, "curves", curves(c, mt));
    return f;
}

/* Evaluator results: one series per (evaluator site, cohort, norm). */
static gf_err cohorts(ctx *c, json_t *m)
{
    json_t *arr = json_array();
    set(c, m, "cohorts", arr);
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT model_version, site, cohort, norm, metrics FROM evaluations"
                   " ORDER BY cohort, norm, site, model_version", &q));
    int rc;
    json_t *cur = NULL, *last_metrics = NULL;
    json_int_t last_v = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        json_int_t v = sqlite3_column_int64(q, 0);
        const char *site = col_str(q, 1), *cohort = col_str(q, 2), *norm = col_str(q, 3);
        json_t *mt = col_json(q, 4);
        if (!cur || strcmp(gf_rj_str(cur, "site"), site) || strcmp(gf_rj_str(cur, "cohort"), cohort) ||
            strcmp(gf_rj_str(cur, "norm"), norm)) {
            if (cur) set(c, cur, "final", final_of(c, last_v, last_metrics));
            json_decref(last_metrics), last_metrics = NULL;
            cur = json_pack("{s:s,s:s,s:s,s:[]}", "site", site, "cohort", cohort, "norm", norm, "versions");
            add(c, arr, cur);
        }
        set(c, cur, "task", json_string(gf_rj_str(mt, "task")));
        set(c, cur, "units", json_string(gf_rj_str(mt, "units")));
        json_t *p = stats(json_object_get(mt, "subject_mean"));
        set(c, p, "version", json_integer(v));
        add(c, json_object_get(cur, "versions"), p);
        json_decref(last_metrics);
        last_metrics = mt, last_v = v;
    }
    if (cur) set(c, cur, "final", final_of(c, last_v, last_metrics));
    json_decref(last_metrics);
    return finish(c, q, rc);
}

/* Worst (highest RMSE), spread and weighted mean over rows[] of {key, rmse, w}. */
static void spread_stats(ctx *c, json_t *into, const json_t *items, const char *name_key, const char *weight_key)
{
    double worst = -INFINITY, best = INFINITY, sw = 0, swx = 0;
    const char *worst_name = NULL;
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) {
        double r = gf_rj_num(it, "rmse"), w = gf_rj_num(it, weight_key);
        if (!isfinite(r)) continue;
        if (r > worst) worst = r, worst_name = gf_rj_str(it, name_key);
        if (r < best) best = r;
        if (isfinite(w) && w > 0) sw += w, swx += w * r;
    }
    set(c, into, "worst_site", worst_name ? json_string(worst_name) : json_null());
    set(c, into, "worst_rmse", num(worst_name ? worst : NAN));
    set(c, into, "spread_rmse", num(worst_name ? worst - best : NAN));
    set(c, into, "weighted_mean_rmse", num(sw > 0 ? swx / sw : NAN));
}

static gf_err rounds(ctx *c, json_t *m)
{
    json_t *arr = json_array();
    set(c, m, "rounds", arr);
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT round, site, n_samples, val FROM round_sites ORDER BY round, site", &q));
    int rc;
    json_t *cur = NULL;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        json_int_t r = sqlite3_column_int64(q, 0);
        if (!cur || json_integer_value(json_object_get(cur, "round")) != r) {
            cur = json_pack("{s:I,s:[]}", "round", r, "sites");
            add(c, arr, cur);
        }
        json_t *val = col_json(q, 3);
        json_t *s = json_pack("{s:s}", "site", col_str(q, 1));
        set(c, s, "n_samples", sqlite3_column_type(q, 2) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(q, 2)));
        set(c, s, "train_loss", num(gf_rj_num(val, "train_loss")));
        set(c, s, "n_subjects", num(gf_rj_num(val, "n_subjects")));
        set(c, s, "rmse", num(gf_rj_num(val, "global.subject_mean.rmse")));
        set(c, s, "r2", num(gf_rj_num(val, "global.subject_mean.r2")));
        set(c, s, "local_rmse", num(gf_rj_num(val, "local.subject_mean.rmse")));
        set(c, s, "local_r2", num(gf_rj_num(val, "local.subject_mean.r2")));
        json_decref(val);
        add(c, json_object_get(cur, "sites"), s);
    }
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) spread_stats(c, it, json_object_get(it, "sites"), "site", "n_samples");
    return finish(c, q, rc);
}

static gf_err cross_site(ctx *c, json_t *m)
{
    int yes = 0;
    long long r = 0;
    GF_TRY(table_exists(c, "cross_site", &yes));
    if (yes) GF_TRY(pragma_int(c, "SELECT coalesce(max(round), 0) FROM cross_site", &r));
    if (!r) { set(c, m, "cross_site", json_null()); return GF_OK; }
    json_t *x = json_pack("{s:I,s:[],s:[]}", "round", (json_int_t)r, "sites", "rows");
    set(c, m, "cross_site", x);
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT DISTINCT at_site FROM cross_site WHERE round = ? ORDER BY at_site", &q));
    sqlite3_bind_int64(q, 1, r);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) add(c, json_object_get(x, "sites"), json_string(col_str(q, 0)));
    GF_TRY(finish(c, q, rc));
    GF_TRY(prep(c, "SELECT model, at_site, metrics FROM cross_site WHERE round = ?"
                   " ORDER BY model <> 'global', model, at_site", &q));
    sqlite3_bind_int64(q, 1, r);
    json_t *cur = NULL;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *model = col_str(q, 0);
        if (!cur || strcmp(gf_rj_str(cur, "model"), model)) {
            cur = json_pack("{s:s,s:[]}", "model", model, "cells");
            add(c, json_object_get(x, "rows"), cur);
        }
        json_t *mt = col_json(q, 2);
        json_t *cell = stats(json_object_get(mt, "subject_mean"));
        set(c, cell, "at_site", json_string(col_str(q, 1)));
        set(c, cell, "n_subjects", num(gf_rj_num(mt, "n_subjects")));
        json_decref(mt);
        add(c, json_object_get(cur, "cells"), cell);
    }
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(x, "rows"), i, it) spread_stats(c, it, json_object_get(it, "cells"), "at_site", "n_subjects");
    return finish(c, q, rc);
}

static json_t *pair(const json_t *res, const char *a)
{
    const json_t *o = json_object_get(res, a);
    return json_pack("{s:o,s:o}", "rmse", num(gf_rj_num(o, "subject_mean.rmse")), "r2",
                     num(gf_rj_num(o, "subject_mean.r2")));
}

static gf_err loso(ctx *c, json_t *m)
{
    json_t *arr = json_array();
    set(c, m, "loso", arr);
    int yes = 0;
    GF_TRY(table_exists(c, "loso", &yes));
    if (!yes) return GF_OK;
    sqlite3_stmt *q;
    GF_TRY(prep(c, "SELECT site, result FROM loso ORDER BY site", &q));
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        json_t *res = col_json(q, 1);
        json_t *o = json_pack("{s:s}", "site", col_str(q, 0));
        set(c, o, "normalization", json_string(gf_rj_str(res, "normalization")));
        set(c, o, "n_val_subjects", num(gf_rj_num(res, "n_val_subjects")));
        set(c, o, "in_federation", pair(res, "in_federation"));
        set(c, o, "zero_shot", pair(res, "zero_shot"));
        set(c, o, "gap", json_pack("{s:o,s:o}", "rmse", num(gf_rj_num(res, "gap.rmse")), "r2", num(gf_rj_num(res, "gap.r2"))));
        const json_t *on = json_object_get(res, "onfh");
        set(c, o, "onfh", json_is_object(on) ? json_pack("{s:o,s:o}", "in_federation", pair(on, "in_federation"),
                                                         "zero_shot", pair(on, "zero_shot"))
                                             : json_null());
        json_decref(res);
        add(c, arr, o);
    }
    return finish(c, q, rc);
}

static const char *level(double r2)
{
    if (!isfinite(r2)) return "none";
    return r2 >= GF_REPORT_GREEN_R2 ? "green" : r2 >= GF_REPORT_AMBER_R2 ? "amber" : "red";
}

static void verdict_row(ctx *c, json_t *arr, const char *kind, const char *name, double r2, double rmse,
                        const char *source)
{
    add(c, arr, json_pack("{s:s,s:s,s:o,s:o,s:s,s:s}", "kind", kind, "name", name, "r2", num(r2), "rmse", num(rmse),
                          "level", level(r2), "source", source));
}

/* Per hospital: the global model's row of the cross-site matrix when run,
 * else the site's validation of the newest global model it saw. Per cohort:
 * the final version's subject-mean R^2. */
static void verdict(ctx *c, json_t *m)
{
    json_t *arr = json_array();
    set(c, m, "verdict", arr);
    set(c, m, "thresholds", json_pack("{s:f,s:f,s:s}", "green_r2", GF_REPORT_GREEN_R2, "amber_r2", GF_REPORT_AMBER_R2,
                                      "metric", "subject-mean R2 of the global model"));
    const json_t *x = json_object_get(m, "cross_site"), *grow = NULL;
    size_t i, j;
    const json_t *it, *s;
    json_array_foreach(json_object_get(x, "rows"), i, it) if (!strcmp(gf_rj_str(it, "model"), "global")) grow = it;
    char src[96];
    json_array_foreach(json_object_get(json_object_get(m, "federation"), "sites"), i, s) {
        const char *name = gf_rj_str(s, "name");
        if (strcmp(gf_rj_str(s, "role"), "hospital")) continue;
        double r2 = NAN, rmse = NAN;
        snprintf(src, sizeof src, "no results yet");
        json_array_foreach(json_object_get(grow, "cells"), j, it) if (!strcmp(gf_rj_str(it, "at_site"), name)) {
            r2 = gf_rj_num(it, "r2"), rmse = gf_rj_num(it, "rmse");
            snprintf(src, sizeof src, "cross-site matrix, round %lld", (long long)gf_rj_num(x, "round"));
        }
        if (!isfinite(r2)) {
            const json_t *rd;
            json_array_foreach(json_object_get(m, "rounds"), j, rd) {
                size_t k;
                const json_t *st;
                json_array_foreach(json_object_get(rd, "sites"), k, st) {
                    if (strcmp(gf_rj_str(st, "site"), name) || !isfinite(gf_rj_num(st, "r2"))) continue;
                    r2 = gf_rj_num(st, "r2"), rmse = gf_rj_num(st, "rmse");
                    snprintf(src, sizeof src, "site validation, round %lld", (long long)gf_rj_num(rd, "round"));
                }
            }
        }
        verdict_row(c, arr, "site", name, r2, rmse, src);
    }
    json_array_foreach(json_object_get(m, "cohorts"), i, it) {
        const json_t *f = json_object_get(it, "final");
        char name[200];
        snprintf(name, sizeof name, "%s (%s)", gf_rj_str(it, "cohort"), gf_rj_str(it, "norm"));
        snprintf(src, sizeof src, "evaluator, model version %lld", (long long)gf_rj_num(f, "version"));
        verdict_row(c, arr, "cohort", name, gf_rj_num(f, "subject_mean.r2"), gf_rj_num(f, "subject_mean.rmse"), src);
    }
}

gf_err gf_report_collect(const char *db_path, json_t **model)
{
    *model = NULL;
    if (access(db_path, F_OK)) return gf_fail(GF_ENOTFOUND, "%s: no such database", db_path);
    ctx c = {.path = db_path};
    if (sqlite3_open_v2(db_path, &c.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        gf_err e = gf_fail(GF_EIO, "%s: cannot open: %s", db_path, c.db ? sqlite3_errmsg(c.db) : "out of memory");
        sqlite3_close(c.db);
        return e;
    }
    sqlite3_busy_timeout(c.db, 5000);
    long long app = 0, ver = 0;
    gf_err e = pragma_int(&c, "PRAGMA application_id", &app);
    if (!e) e = pragma_int(&c, "PRAGMA user_version", &ver);
    if (!e && (app != GF_COORD_APP_ID || ver < 1 || ver > 3))
        e = gf_fail(GF_EFORMAT, "%s: not a gaitfed coordinator database (application_id %lld, version %lld)", db_path,
                    app, ver);
    json_t *m = json_pack("{s:s,s:s,s:I}", "report", "gaitfed federation report", "database", db_path,
                          "schema_version", (json_int_t)ver);
    if (!m) e = e ? e : gf_fail(GF_ENOMEM, "report: out of memory");
    /* One read transaction: every table from the same snapshot. */
    if (!e && sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) e = db_fail(&c, "starting a read");
    if (!e) e = federation(&c, m);
    if (!e) audit(&c, m);
    if (!e) e = cohorts(&c, m);
    if (!e) e = rounds(&c, m);
    if (!e) e = cross_site(&c, m);
    if (!e) e = loso(&c, m);
    if (!e) verdict(&c, m);
    sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(c.db);
    if (!e && c.oom) e = gf_fail(GF_ENOMEM, "report: out of memory");
    if (e) { json_decref(m); return e; }
    *model = m;
    return GF_OK;
}

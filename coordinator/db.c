#include "coordinator/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fileio.h"
#include "coordinator/audit.h"
#include "crypto/hash.h"

/* Schema v1. CHECKs repeat the C-side rules so a database edited by another
 * tool cannot hold values this code would misread. */
static const char SCHEMA_V1[] =
    "CREATE TABLE sites("
    " name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),"
    " role TEXT NOT NULL CHECK (role IN ('hospital', 'evaluator')),"
    " cert_sha256 TEXT NOT NULL CHECK (length(cert_sha256) = 64),"
    " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);"
    "CREATE TABLE models("
    " version INTEGER PRIMARY KEY CHECK (version >= 0),"
    " round INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
    " weights BLOB NOT NULL,"
    " server_state BLOB,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE rounds("
    " round INTEGER PRIMARY KEY CHECK (round >= 1),"
    " model_version INTEGER NOT NULL REFERENCES models(version),"
    " attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),"
    " phase TEXT NOT NULL,"
    " deadline_ms INTEGER,"
    " params TEXT NOT NULL CHECK (json_valid(params)),"
    " opened_ms INTEGER NOT NULL, closed_ms INTEGER,"
    " outcome TEXT CHECK (outcome IS NULL OR outcome IN ('aggregated', 'statistics', 'abandoned')),"
    " n_survivors INTEGER, loss REAL);"
    "CREATE TABLE round_sites("
    " round INTEGER NOT NULL REFERENCES rounds(round),"
    " site TEXT NOT NULL REFERENCES sites(name),"
    " idx INTEGER NOT NULL CHECK (idx >= 1),"
    " n_samples INTEGER CHECK (n_samples IS NULL OR n_samples >= 0),"
    " val TEXT CHECK (val IS NULL OR json_valid(val)),"
    " PRIMARY KEY (round, site));" /* idx is per attempt: the last attempt's is kept */
    "CREATE TABLE evaluations("
    " model_version INTEGER NOT NULL REFERENCES models(version),"
    " site TEXT NOT NULL REFERENCES sites(name),"
    " cohort TEXT NOT NULL, norm TEXT NOT NULL CHECK (norm IN ('own', 'pooled')),"
    " metrics TEXT NOT NULL CHECK (json_valid(metrics)),"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY (model_version, site, cohort, norm));";

/* Schema v2 adds the cross-site matrix (which model, evaluated on which
 * hospital's validation subjects, metrics only) and the leave-one-site-out
 * table `gaitfed audit loso` stores. A v1 database is upgraded in place. */
static const char SCHEMA_V2[] =
    "CREATE TABLE cross_site("
    " round INTEGER NOT NULL CHECK (round >= 1),"
    " model TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 63)," /* 'global' or the site whose local model */
    " at_site TEXT NOT NULL REFERENCES sites(name),"
    " metrics TEXT NOT NULL CHECK (json_valid(metrics)),"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY (round, model, at_site));"
    "CREATE TABLE loso("
    " site TEXT PRIMARY KEY CHECK (length(site) BETWEEN 1 AND 63),"
    " result TEXT NOT NULL CHECK (json_valid(result)),"
    " created_ms INTEGER NOT NULL);";

/* Schema v3: an evaluation may also be labelled 'model' (inputs z-scored with
 * the initial model's statistics, "normalization": "model"). SQLite cannot
 * change a CHECK in place: the table is rebuilt, its rows kept. */
static const char SCHEMA_V3[] =
    "CREATE TABLE evaluations_v3("
    " model_version INTEGER NOT NULL REFERENCES models(version),"
    " site TEXT NOT NULL REFERENCES sites(name),"
    " cohort TEXT NOT NULL, norm TEXT NOT NULL CHECK (norm IN ('own', 'pooled', 'model')),"
    " metrics TEXT NOT NULL CHECK (json_valid(metrics)),"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY (model_version, site, cohort, norm));"
    "INSERT INTO evaluations_v3 SELECT model_version, site, cohort, norm, metrics, created_ms FROM evaluations;"
    "DROP TABLE evaluations;"
    "ALTER TABLE evaluations_v3 RENAME TO evaluations;";

static gf_err fail(gf_coord_db *d, const char *what)
{
    int rc = sqlite3_errcode(d->db) & 0xff;
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return gf_fail(GF_EFORMAT, "%s: damaged or not a coordinator database (%s)", d->path, what);
    return gf_fail(GF_EDB, "%s: %s: %s", d->path, what, sqlite3_errmsg(d->db));
}

static gf_err exec(gf_coord_db *d, const char *sql, const char *what)
{
    return sqlite3_exec(d->db, sql, NULL, NULL, NULL) == SQLITE_OK ? GF_OK : fail(d, what);
}

static gf_err prep(gf_coord_db *d, const char *sql, sqlite3_stmt **q)
{
    if (sqlite3_prepare_v2(d->db, sql, -1, q, NULL) == SQLITE_OK) return GF_OK;
    *q = NULL;
    return fail(d, "preparing a statement");
}

/* Steps a write statement to completion and finalizes it. */
static gf_err done(gf_coord_db *d, sqlite3_stmt *q, const char *what)
{
    gf_err e = sqlite3_step(q) == SQLITE_DONE ? GF_OK : fail(d, what);
    sqlite3_finalize(q);
    return e;
}

static gf_err pragma_i64(gf_coord_db *d, const char *sql, long long *v)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, sql, &q));
    gf_err e = sqlite3_step(q) == SQLITE_ROW ? GF_OK : fail(d, sql);
    if (!e) *v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return e;
}

gf_err gf_coord_db_open(const char *path, gf_coord_db *out)
{
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return gf_fail(GF_ENOMEM, "out of memory");
    /* Created 0600 before SQLite sees it: SQLite would make it 0644 and gives
     * -wal/-shm/-journal the database's mode. */
    int created;
    gf_err ce = gf_create_private(path, &created);
    if (ce) {
        gf_coord_db_close(out);
        return ce;
    }
    if (sqlite3_open_v2(path, &out->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        gf_err e = gf_fail(GF_EDB, "%s: cannot open: %s", path, out->db ? sqlite3_errmsg(out->db) : "out of memory");
        gf_coord_db_close(out);
        return e;
    }
    sqlite3_busy_timeout(out->db, 5000);
    long long app = 0, ver = 0, tables = 0;
    gf_err e = pragma_i64(out, "PRAGMA application_id", &app);
    if (!e) e = pragma_i64(out, "PRAGMA user_version", &ver);
    if (!e) e = pragma_i64(out, "SELECT count(*) FROM sqlite_master", &tables);
    if (!e && tables == 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 3;", GF_COORD_APP_ID);
        e = exec(out, "BEGIN IMMEDIATE", "creating the schema");
        if (!e) e = exec(out, SCHEMA_V1, "creating the schema");
        if (!e) e = exec(out, SCHEMA_V2, "creating the schema");
        if (!e) e = exec(out, SCHEMA_V3, "creating the schema");
        if (!e) e = gf_audit_init(out->db);
        if (!e) e = exec(out, sql, "creating the schema");
        if (!e) e = exec(out, "COMMIT", "creating the schema");
        if (e) sqlite3_exec(out->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (!e && app == GF_COORD_APP_ID && (ver == 1 || ver == 2)) {
        e = exec(out, "BEGIN IMMEDIATE", "upgrading the schema to version 3");
        if (!e && ver == 1) e = exec(out, SCHEMA_V2, "upgrading the schema to version 3");
        if (!e) e = exec(out, SCHEMA_V3, "upgrading the schema to version 3");
        if (!e) e = exec(out, "PRAGMA user_version = 3", "upgrading the schema to version 3");
        if (!e) e = exec(out, "COMMIT", "upgrading the schema to version 3");
        if (e) sqlite3_exec(out->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (!e && (app != GF_COORD_APP_ID || ver != 3)) {
        e = gf_fail(GF_EFORMAT, "%s: not a gaitfed coordinator database (application_id %lld, version %lld)", path,
                    app, ver);
    }
    /* WAL: readers (report, audit verify) never block the coordinator;
     * synchronous=FULL: a committed transition survives power loss. */
    if (!e) e = exec(out, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                     "setting WAL mode");
    if (e) gf_coord_db_close(out);
    return e;
}

void gf_coord_db_close(gf_coord_db *d)
{
    if (!d) return;
    sqlite3_close(d->db);
    free(d->path);
    memset(d, 0, sizeof *d);
}

gf_err gf_coord_db_begin(gf_coord_db *d) { return exec(d, "BEGIN IMMEDIATE", "starting a transaction"); }

gf_err gf_coord_db_commit(gf_coord_db *d)
{
    gf_err e = exec(d, "COMMIT", "committing");
    if (e) gf_coord_db_rollback(d);
    return e;
}

void gf_coord_db_rollback(gf_coord_db *d)
{
    if (!sqlite3_get_autocommit(d->db)) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

gf_err gf_coord_db_audit(gf_coord_db *d, int64_t now_ms, const char *event, const char *detail)
{
    gf_err e = gf_audit_append(d->db, now_ms, event, detail);
    if (e == GF_EDB) return gf_fail(GF_EDB, "%s: %s", d->path, gf_errmsg());
    return e;
}

gf_err gf_coord_db_put_model(gf_coord_db *d, int64_t version, int64_t round, const uint8_t *blob, size_t len,
                             const uint8_t *state, size_t state_len, int64_t now_ms)
{
    uint8_t h[32];
    char hex[65];
    GF_TRY(gf_sha256(blob, len, h));
    gf_hex(h, 32, hex);
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT INTO models(version, round, sha256, weights, server_state, created_ms) VALUES (?,?,?,?,?,?)",
                &q));
    sqlite3_bind_int64(q, 1, version);
    sqlite3_bind_int64(q, 2, round);
    sqlite3_bind_text(q, 3, hex, 64, SQLITE_STATIC);
    sqlite3_bind_blob64(q, 4, blob, len, SQLITE_STATIC);
    if (state) sqlite3_bind_blob64(q, 5, state, state_len, SQLITE_STATIC);
    else sqlite3_bind_null(q, 5);
    sqlite3_bind_int64(q, 6, now_ms);
    GF_TRY(done(d, q, "storing a model version"));
    char detail[160];
    snprintf(detail, sizeof detail, "{\"version\":%lld,\"round\":%lld,\"sha256\":\"%s\",\"bytes\":%zu}",
             (long long)version, (long long)round, hex, len);
    return gf_coord_db_audit(d, now_ms, "model_stored", detail);
}

gf_err gf_coord_db_latest_model(gf_coord_db *d, int64_t *version)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "SELECT coalesce(max(version), -1) FROM models", &q));
    gf_err e = sqlite3_step(q) == SQLITE_ROW ? GF_OK : fail(d, "reading model versions");
    if (!e) *version = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return e;
}

static uint8_t *dup_blob(sqlite3_stmt *q, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(q, col);
    *len = (size_t)sqlite3_column_bytes(q, col);
    if (!p) return NULL;
    uint8_t *b = malloc(*len ? *len : 1);
    if (b) memcpy(b, p, *len);
    return b;
}

gf_err gf_coord_db_get_model(gf_coord_db *d, int64_t version, uint8_t **blob, size_t *len, uint8_t **state,
                             size_t *state_len, char sha_hex[65])
{
    *blob = NULL;
    if (state) *state = NULL;
    sqlite3_stmt *q;
    GF_TRY(prep(d, "SELECT weights, server_state, sha256 FROM models WHERE version = ?", &q));
    sqlite3_bind_int64(q, 1, version);
    int rc = sqlite3_step(q);
    gf_err e = GF_OK;
    if (rc == SQLITE_DONE) e = gf_fail(GF_ENOTFOUND, "%s: no model version %lld", d->path, (long long)version);
    else if (rc != SQLITE_ROW) e = fail(d, "reading a model version");
    if (!e) {
        *blob = dup_blob(q, 0, len);
        size_t sl = 0;
        uint8_t *st = dup_blob(q, 1, &sl);
        const char *h = (const char *)sqlite3_column_text(q, 2);
        snprintf(sha_hex, 65, "%s", h ? h : "");
        uint8_t want[32], got[32];
        if (!*blob) e = gf_fail(GF_ENOMEM, "out of memory");
        else if (gf_unhex(sha_hex, want, 32) || gf_sha256(*blob, *len, got) || memcmp(want, got, 32))
            e = gf_fail(GF_EFORMAT, "%s: model version %lld does not match its SHA-256", d->path, (long long)version);
        if (!e && state) *state = st, *state_len = sl;
        else free(st);
        if (e) free(*blob), *blob = NULL;
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_coord_db_open_round(gf_coord_db *d, int64_t round, int64_t model_version, const char *params_json,
                              int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT INTO rounds(round, model_version, phase, params, opened_ms) VALUES (?,?,'train',?,?)", &q));
    sqlite3_bind_int64(q, 1, round);
    sqlite3_bind_int64(q, 2, model_version);
    sqlite3_bind_text(q, 3, params_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, now_ms);
    GF_TRY(done(d, q, "opening a round"));
    size_t n = strlen(params_json) + 96;
    char *detail = malloc(n);
    if (!detail) return gf_fail(GF_ENOMEM, "out of memory");
    snprintf(detail, n, "{\"round\":%lld,\"model_version\":%lld,\"params\":%s}", (long long)round,
             (long long)model_version, params_json);
    gf_err e = gf_coord_db_audit(d, now_ms, "round_opened", detail);
    free(detail);
    return e;
}

gf_err gf_coord_db_set_phase(gf_coord_db *d, int64_t round, const char *phase, int64_t deadline_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "UPDATE rounds SET phase = ?, deadline_ms = ? WHERE round = ? AND closed_ms IS NULL", &q));
    sqlite3_bind_text(q, 1, phase, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, deadline_ms);
    sqlite3_bind_int64(q, 3, round);
    GF_TRY(done(d, q, "moving a round to its next phase"));
    if (sqlite3_changes(d->db) != 1) return gf_fail(GF_ESTATE, "%s: round %lld is not open", d->path, (long long)round);
    return GF_OK;
}

/* How the round's incoming global model did at each site, from the sites'
 * validation reports: not only the mean but the worst site, the spread
 * (worst − best) and the mean weighted by the sites' training samples (the
 * FedAvg weights). NULL when no
 * site reported. */
static json_t *generalization(gf_coord_db *d, int64_t round)
{
    sqlite3_stmt *q;
    if (prep(d, "SELECT site, json_extract(val, '$.global.subject_mean.rmse'), n_samples"
                " FROM round_sites WHERE round = ? AND json_type(val, '$.global.subject_mean.rmse') IN ('real', 'integer')"
                " ORDER BY site", &q))
        return NULL;
    sqlite3_bind_int64(q, 1, round);
    char worst[64] = "";
    double hi = -1, lo = 0, sw = 0, swx = 0;
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        double x = sqlite3_column_double(q, 1), w = sqlite3_column_double(q, 2);
        if (w <= 0) w = 1;
        if (!n || x > hi) hi = x, snprintf(worst, sizeof worst, "%s", (const char *)sqlite3_column_text(q, 0));
        if (!n || x < lo) lo = x;
        sw += w, swx += w * x, n++;
    }
    sqlite3_finalize(q);
    if (!n) return NULL;
    return json_pack("{s:s,s:i,s:s,s:f,s:f,s:f,s:f,s:s}", "metric",
                     "incoming global model, subject-level RMSE on each site's validation subjects", "sites", n,
                     "worst_site", worst, "worst", hi, "best", lo, "spread", hi - lo, "weighted_mean", swx / sw, "weights",
                     "training samples");
}

gf_err gf_coord_db_close_round(gf_coord_db *d, int64_t round, const char *outcome, int n_survivors, double loss,
                               int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "UPDATE rounds SET phase = 'closed', closed_ms = ?, outcome = ?, n_survivors = ?, loss = ?"
                   " WHERE round = ? AND closed_ms IS NULL", &q));
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_text(q, 2, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, n_survivors);
    sqlite3_bind_double(q, 4, loss);
    sqlite3_bind_int64(q, 5, round);
    GF_TRY(done(d, q, "closing a round"));
    if (sqlite3_changes(d->db) != 1) return gf_fail(GF_ESTATE, "%s: round %lld is not open", d->path, (long long)round);
    json_t *o = json_pack("{s:I,s:s,s:i}", "round", (json_int_t)round, "outcome", outcome, "survivors", n_survivors);
    json_t *g = o ? generalization(d, round) : NULL;
    if (g) json_object_set_new(o, "generalization", g);
    char *detail = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!detail) return gf_fail(GF_ENOMEM, "out of memory");
    gf_err e = gf_coord_db_audit(d, now_ms, "round_closed", detail);
    free(detail);
    return e;
}

gf_err gf_coord_db_open_round_get(gf_coord_db *d, int64_t *round, int64_t *model_version, int64_t *attempt,
                                  char phase[32])
{
    sqlite3_stmt *q;
    *round = 0;
    GF_TRY(prep(d, "SELECT round, model_version, attempt, phase FROM rounds WHERE closed_ms IS NULL"
                   " ORDER BY round DESC LIMIT 1", &q));
    int rc = sqlite3_step(q);
    gf_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? GF_OK : fail(d, "reading the open round");
    if (!e && rc == SQLITE_ROW) {
        *round = sqlite3_column_int64(q, 0);
        *model_version = sqlite3_column_int64(q, 1);
        *attempt = sqlite3_column_int64(q, 2);
        snprintf(phase, 32, "%s", (const char *)sqlite3_column_text(q, 3));
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_coord_db_last_round(gf_coord_db *d, int64_t *round)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "SELECT coalesce(max(round), 0) FROM rounds", &q));
    gf_err e = sqlite3_step(q) == SQLITE_ROW ? GF_OK : fail(d, "reading rounds");
    if (!e) *round = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return e;
}

gf_err gf_coord_db_restart_round(gf_coord_db *d, int64_t round, const char *reason, int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "UPDATE rounds SET attempt = attempt + 1, phase = 'train', deadline_ms = NULL"
                   " WHERE round = ? AND closed_ms IS NULL", &q));
    sqlite3_bind_int64(q, 1, round);
    GF_TRY(done(d, q, "restarting a round"));
    if (sqlite3_changes(d->db) != 1) return gf_fail(GF_ESTATE, "%s: round %lld is not open", d->path, (long long)round);
    json_t *j = json_pack("{s:I,s:s}", "round", (json_int_t)round, "reason", reason);
    char *detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!detail) return gf_fail(GF_ENOMEM, "out of memory");
    gf_err e = gf_coord_db_audit(d, now_ms, "round_restarted", detail);
    free(detail);
    return e;
}

gf_err gf_coord_db_site_seen(gf_coord_db *d, const char *name, const char *role, const char *cert_sha_hex,
                             int64_t now_ms, int *is_new)
{
    sqlite3_stmt *q;
    *is_new = 0;
    GF_TRY(prep(d, "SELECT cert_sha256 FROM sites WHERE name = ?", &q));
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    char old[65] = "";
    if (rc == SQLITE_ROW) snprintf(old, sizeof old, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(d, "reading a site");
    if (rc == SQLITE_DONE) {
        GF_TRY(prep(d, "INSERT INTO sites(name, role, cert_sha256, first_seen_ms, last_seen_ms) VALUES (?,?,?,?,?)", &q));
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, cert_sha_hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, now_ms);
        sqlite3_bind_int64(q, 5, now_ms);
        GF_TRY(done(d, q, "registering a site"));
        *is_new = 1;
        char detail[256];
        snprintf(detail, sizeof detail, "{\"site\":\"%s\",\"role\":\"%s\",\"cert_sha256\":\"%s\"}", name, role,
                 cert_sha_hex);
        return gf_coord_db_audit(d, now_ms, "site_joined", detail);
    }
    GF_TRY(prep(d, "UPDATE sites SET last_seen_ms = ?, cert_sha256 = ?, role = ? WHERE name = ?", &q));
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_text(q, 2, cert_sha_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
    GF_TRY(done(d, q, "updating a site"));
    if (strcmp(old, cert_sha_hex)) { /* a reissued certificate is worth a row */
        char detail[256];
        snprintf(detail, sizeof detail, "{\"site\":\"%s\",\"cert_sha256\":\"%s\"}", name, cert_sha_hex);
        return gf_coord_db_audit(d, now_ms, "site_certificate_changed", detail);
    }
    return GF_OK;
}

gf_err gf_coord_db_round_site(gf_coord_db *d, int64_t round, const char *site, int idx, int64_t n_samples,
                              const char *val_json)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT INTO round_sites(round, site, idx, n_samples, val) VALUES (?,?,?,?,?)"
                   " ON CONFLICT(round, site) DO UPDATE SET idx = excluded.idx, n_samples = excluded.n_samples,"
                   " val = coalesce(excluded.val, val)", &q));
    sqlite3_bind_int64(q, 1, round);
    sqlite3_bind_text(q, 2, site, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, idx);
    if (n_samples >= 0) sqlite3_bind_int64(q, 4, n_samples);
    else sqlite3_bind_null(q, 4);
    if (val_json) sqlite3_bind_text(q, 5, val_json, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 5);
    return done(d, q, "recording a round participant");
}

static gf_err sha_hex(const char *text, char hex[65])
{
    uint8_t h[32];
    GF_TRY(gf_sha256(text, strlen(text), h));
    gf_hex(h, 32, hex);
    return GF_OK;
}

/* Appends an audit row whose detail is o (stolen; NULL: it could not be
 * built, reported as "<what>: metrics are not JSON"). */
static gf_err audit_obj(gf_coord_db *d, int64_t now_ms, const char *event, json_t *o, const char *what)
{
    char *detail = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!detail) return gf_fail(GF_EINVAL, "%s: %s: metrics are not JSON", d->path, what);
    gf_err e = gf_coord_db_audit(d, now_ms, event, detail);
    free(detail);
    return e;
}

gf_err gf_coord_db_put_eval(gf_coord_db *d, int64_t model_version, const char *site, const char *cohort,
                            const char *norm, const char *metrics_json, int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT OR REPLACE INTO evaluations(model_version, site, cohort, norm, metrics, created_ms)"
                   " VALUES (?,?,?,?,?,?)", &q));
    sqlite3_bind_int64(q, 1, model_version);
    sqlite3_bind_text(q, 2, site, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, cohort, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, norm, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, metrics_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now_ms);
    GF_TRY(done(d, q, "storing an evaluation"));
    /* Built with Jansson: cohort names come from evaluator sites. The row
     * carries the headline numbers and the SHA-256 of the stored metrics
     * text (curves make it large), so the chain covers all of it. */
    json_t *m = json_loads(metrics_json, 0, NULL);
    char hex[65];
    GF_TRY(sha_hex(metrics_json, hex));
    json_t *o = m ? json_pack("{s:I,s:s,s:s,s:s,s:O?,s:O?,s:s}", "model_version", (json_int_t)model_version, "site", site,
                              "cohort", cohort, "norm", norm, "subject_mean", json_object_get(m, "subject_mean"),
                              "pooled", json_object_get(m, "pooled"), "metrics_sha256", hex)
                  : NULL;
    json_decref(m);
    char what[160];
    snprintf(what, sizeof what, "evaluation of %s/%s", site, cohort);
    return audit_obj(d, now_ms, "evaluation", o, what);
}

gf_err gf_coord_db_put_cross(gf_coord_db *d, int64_t round, const char *model, const char *at_site,
                             const char *metrics_json, int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT OR REPLACE INTO cross_site(round, model, at_site, metrics, created_ms) VALUES (?,?,?,?,?)", &q));
    sqlite3_bind_int64(q, 1, round);
    sqlite3_bind_text(q, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, at_site, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, metrics_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, now_ms);
    GF_TRY(done(d, q, "storing a cross-site evaluation"));
    json_t *m = json_loads(metrics_json, 0, NULL);
    char hex[65];
    GF_TRY(sha_hex(metrics_json, hex));
    json_t *o = m ? json_pack("{s:I,s:s,s:s,s:O?,s:s}", "round", (json_int_t)round, "model", model, "at_site", at_site,
                              "subject_mean", json_object_get(m, "subject_mean"), "metrics_sha256", hex)
                  : NULL;
    json_decref(m);
    char what[160];
    snprintf(what, sizeof what, "cross-site evaluation of %s at %s", model, at_site);
    return audit_obj(d, now_ms, "cross_site_evaluation", o, what);
}

gf_err gf_coord_db_put_loso(gf_coord_db *d, const char *site, const char *result_json, int64_t now_ms)
{
    sqlite3_stmt *q;
    GF_TRY(prep(d, "INSERT OR REPLACE INTO loso(site, result, created_ms) VALUES (?,?,?)", &q));
    sqlite3_bind_text(q, 1, site, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, result_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now_ms);
    GF_TRY(done(d, q, "storing a leave-one-site-out result"));
    json_t *m = json_loads(result_json, 0, NULL);
    json_t *o = m ? json_pack("{s:s,s:o}", "site", site, "result", m) : NULL;
    char what[128];
    snprintf(what, sizeof what, "leave-one-site-out result for %s", site);
    return audit_obj(d, now_ms, "loso_result", o, what);
}

gf_err gf_coord_db_paused(gf_coord_db *d, int64_t *seq, char *detail, size_t cap)
{
    *seq = 0;
    if (cap) detail[0] = 0;
    sqlite3_stmt *q;
    GF_TRY(prep(d, "SELECT seq, detail FROM audit WHERE event = 'federation_paused' AND seq > coalesce("
                   "(SELECT max(seq) FROM audit WHERE event = 'federation_resumed'), 0) ORDER BY seq DESC LIMIT 1", &q));
    int rc = sqlite3_step(q);
    gf_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? GF_OK : fail(d, "reading the pause");
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        const char *t = (const char *)sqlite3_column_text(q, 1);
        if (cap) snprintf(detail, cap, "%s", t ? t : "");
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_coord_db_resume(gf_coord_db *d, int64_t now_ms, const char *by)
{
    GF_TRY(gf_coord_db_begin(d));
    int64_t seq = 0;
    gf_err e = gf_coord_db_paused(d, &seq, NULL, 0);
    if (!e && !seq) e = gf_fail(GF_ESTATE, "%s: the federation is not paused", d->path);
    json_t *j = e ? NULL : json_pack("{s:I,s:s}", "paused_seq", (json_int_t)seq, "by", by);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!e && !s) e = gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_coord_db_audit(d, now_ms, "federation_resumed", s);
    free(s);
    if (!e) e = gf_coord_db_commit(d);
    else gf_coord_db_rollback(d);
    return e;
}

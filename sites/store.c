#include "sites/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct gf_store {
    sqlite3 *db;
    char *path;
    char import_time[24]; /* fixed imported_at for reproducible stores; "" = now */
};

/* Schema version 1. The CHECKs repeat the C-side validation so that a store
 * written by another tool cannot hold values this code would misread. */
static const char SCHEMA_V1[] =
    "CREATE TABLE site("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " name TEXT NOT NULL CHECK (length(name) > 0),"
    " capture_json TEXT NOT NULL CHECK (json_valid(capture_json)));"
    "CREATE TABLE channels("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('input', 'force', 'moment')),"
    " position INTEGER NOT NULL CHECK (position >= 0),"
    " name TEXT NOT NULL,"
    " unit TEXT NOT NULL,"
    " UNIQUE (kind, position), UNIQUE (kind, name));"
    "CREATE TABLE subjects("
    " id INTEGER PRIMARY KEY,"
    " subject_id TEXT NOT NULL UNIQUE CHECK (length(subject_id) BETWEEN 1 AND 31),"
    " height_m REAL NOT NULL CHECK (height_m >= 0),"
    " weight_kg REAL NOT NULL CHECK (weight_kg > 0));"
    "CREATE TABLE trials("
    " id INTEGER PRIMARY KEY,"
    " subject INTEGER NOT NULL REFERENCES subjects(id),"
    " speed TEXT NOT NULL CHECK (speed IN ('slow', 'med', 'fast', 'self')),"
    " trial INTEGER NOT NULL CHECK (trial >= 1),"
    " cadence_spm REAL NOT NULL CHECK (cadence_spm >= 0),"
    " provenance TEXT NOT NULL DEFAULT '',"
    " imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
    " UNIQUE (subject, speed, trial));"
    "CREATE TABLE cycles("
    " id INTEGER PRIMARY KEY,"
    " trial INTEGER NOT NULL REFERENCES trials(id),"
    " idx INTEGER NOT NULL CHECK (idx >= 0),"
    " cadence_spm REAL NOT NULL CHECK (cadence_spm >= 0),"
    " x BLOB NOT NULL CHECK (length(x) = 7200),"
    " yf BLOB CHECK (yf IS NULL OR length(yf) = 10080),"
    " ym BLOB CHECK (ym IS NULL OR length(ym) = 2160),"
    " UNIQUE (trial, idx));"
    "CREATE TABLE xstats("
    " position INTEGER PRIMARY KEY CHECK (position BETWEEN 0 AND 9),"
    " channel TEXT NOT NULL,"
    " frames REAL NOT NULL CHECK (frames > 0),"
    " mean REAL NOT NULL,"
    " sd REAL NOT NULL CHECK (sd >= 0));";

static const char *const TABLES[] = {"site", "channels", "subjects", "trials", "cycles", "xstats"};
#define N_TABLES ((int)(sizeof TABLES / sizeof *TABLES))

_Static_assert(GF_T * GF_DIN * 4 == 7200 && GF_T * GF_NF * 4 == 10080 && GF_T * GF_NM * 4 == 2160,
               "blob sizes in SCHEMA_V1 follow the dataset layout");

/* ---------- small helpers ---------- */

/* A foreign or damaged file is malformed input, not a database failure. */
static gf_err db_fail(const gf_store *s, const char *what)
{
    int rc = sqlite3_errcode(s->db) & 0xff;
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return gf_fail(GF_EFORMAT, "%s: damaged or not a site store: %s (%s)", s->path, sqlite3_errmsg(s->db), what);
    return gf_fail(GF_EDB, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static gf_err prep(const gf_store *s, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return db_fail(s, "preparing a statement");
    }
    return GF_OK;
}

static gf_err exec(const gf_store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(s, what);
    return GF_OK;
}

/* Rolls back an open transaction; keeps the message of the failure that caused it. */
static void rollback(const gf_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One integer from a query without parameters. */
static gf_err query_i64(const gf_store *s, const char *sql, const char *what, long long *v)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, sql, &q));
    gf_err e = GF_OK;
    if (sqlite3_step(q) == SQLITE_ROW) *v = sqlite3_column_int64(q, 0);
    else e = db_fail(s, what);
    sqlite3_finalize(q);
    return e;
}

static void put_le32(const float *src, size_t n, unsigned char *dst)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        dst[4 * i] = (unsigned char)u;
        dst[4 * i + 1] = (unsigned char)(u >> 8);
        dst[4 * i + 2] = (unsigned char)(u >> 16);
        dst[4 * i + 3] = (unsigned char)(u >> 24);
    }
}

static void get_le32(const unsigned char *src, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                     (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

static int speed_ok(const char *sp)
{
    return !strcmp(sp, "slow") || !strcmp(sp, "med") || !strcmp(sp, "fast") || !strcmp(sp, "self");
}

/* ---------- channels: the layout the blobs are written in ---------- */

typedef struct {
    const char *kind, *unit;
    const char *const *names;
    int n;
} channel_group;

static const channel_group CHANNELS[] = {
    {"input", "deg", gf_in_cols, GF_DIN},
    {"force", "N", gf_force_cols, GF_NF},
    {"moment", "N\xc2\xb7m", gf_moment_cols, GF_NM}, /* N·m in UTF-8 */
};
#define N_GROUPS ((int)(sizeof CHANNELS / sizeof *CHANNELS))

static gf_err channels_insert(const gf_store *s)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, "INSERT INTO channels(kind, position, name, unit) VALUES (?1, ?2, ?3, ?4)", &q));
    gf_err e = GF_OK;
    for (int g = 0; g < N_GROUPS && !e; g++)
        for (int i = 0; i < CHANNELS[g].n && !e; i++) {
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, CHANNELS[g].kind, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, i);
            sqlite3_bind_text(q, 3, CHANNELS[g].names[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, CHANNELS[g].unit, -1, SQLITE_STATIC);
            if (sqlite3_step(q) != SQLITE_DONE) e = db_fail(s, "writing channels");
        }
    sqlite3_finalize(q);
    return e;
}

/* Blobs are only meaningful in the channel order they were written in. */
static gf_err channels_check(const gf_store *s)
{
    long long n = 0;
    GF_TRY(query_i64(s, "SELECT COUNT(*) FROM channels", "reading channels", &n));
    if (n != GF_DIN + GF_NF + GF_NM)
        return gf_fail(GF_EFORMAT, "%s: channels table has %lld rows, expected %d", s->path, n, GF_DIN + GF_NF + GF_NM);
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT name, unit FROM channels WHERE kind = ?1 AND position = ?2", &q));
    gf_err e = GF_OK;
    for (int g = 0; g < N_GROUPS && !e; g++)
        for (int i = 0; i < CHANNELS[g].n && !e; i++) {
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, CHANNELS[g].kind, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, i);
            int rc = sqlite3_step(q);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) { e = db_fail(s, "reading channels"); break; }
            const char *name = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
            const char *unit = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 1) : NULL;
            if (!name || !unit || strcmp(name, CHANNELS[g].names[i]) || strcmp(unit, CHANNELS[g].unit))
                e = gf_fail(GF_EFORMAT, "%s: %s channel %d is '%s' (%s), this build expects '%s' (%s)", s->path,
                            CHANNELS[g].kind, i, name ? name : "missing", unit ? unit : "-", CHANNELS[g].names[i],
                            CHANNELS[g].unit);
        }
    sqlite3_finalize(q);
    return e;
}

/* ---------- open / close ---------- */

static gf_err tables_check(const gf_store *s)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &q));
    gf_err e = GF_OK;
    for (int i = 0; i < N_TABLES && !e; i++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, TABLES[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) e = gf_fail(GF_EFORMAT, "%s: site store lacks table '%s'", s->path, TABLES[i]);
        else if (rc != SQLITE_ROW) e = db_fail(s, "reading the schema");
    }
    sqlite3_finalize(q);
    return e;
}

/* Creates schema v1 in an empty database; rechecks emptiness under the write
 * lock so that two processes creating the same file cannot both initialize it. */
static gf_err schema_init(const gf_store *s)
{
    GF_TRY(exec(s, "BEGIN IMMEDIATE", "starting schema creation"));
    long long nobj = 0;
    gf_err e = query_i64(s, "SELECT COUNT(*) FROM sqlite_master", "reading the schema", &nobj);
    if (!e && nobj != 0) e = gf_fail(GF_ESTATE, "%s: another process initialized the file concurrently", s->path);
    if (!e) e = exec(s, SCHEMA_V1, "creating the schema");
    if (!e) e = channels_insert(s);
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;", GF_STORE_APP_ID,
             GF_STORE_SCHEMA);
    if (!e) e = exec(s, pragmas, "writing the schema version");
    if (!e) e = exec(s, "COMMIT", "committing the schema");
    if (e) rollback(s);
    return e;
}

/* Decides whether the file is ours (and readable by this build), empty, or foreign. */
static gf_err identity_check(const gf_store *s, int create)
{
    long long app = 0, ver = 0, nobj = 0;
    GF_TRY(query_i64(s, "PRAGMA application_id", "reading the header", &app));
    GF_TRY(query_i64(s, "PRAGMA user_version", "reading the header", &ver));
    GF_TRY(query_i64(s, "SELECT COUNT(*) FROM sqlite_master", "reading the schema", &nobj));
    if (app == GF_STORE_APP_ID) {
        if (ver > GF_STORE_SCHEMA)
            return gf_fail(GF_EUNSUPPORTED, "%s: site store schema %lld is newer than this gaitfed reads (%d); upgrade gaitfed",
                           s->path, ver, GF_STORE_SCHEMA);
        if (ver != GF_STORE_SCHEMA)
            return gf_fail(GF_EFORMAT, "%s: unknown site store schema version %lld", s->path, ver);
        GF_TRY(tables_check(s));
        return channels_check(s);
    }
    if (app == 0 && ver == 0 && nobj == 0) {
        if (create) return schema_init(s);
        return gf_fail(GF_EFORMAT, "%s: not a gaitfed site store (empty database)", s->path);
    }
    return gf_fail(GF_EFORMAT, "%s: not a gaitfed site store (SQLite application_id 0x%08llx, %lld schema objects)",
                   s->path, (unsigned long long)app & 0xffffffffu, nobj);
}

static gf_err journal_wal(const gf_store *s)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, "PRAGMA journal_mode = WAL", &q));
    gf_err e = GF_OK;
    if (sqlite3_step(q) != SQLITE_ROW) e = db_fail(s, "setting WAL journal mode");
    else {
        const char *mode = (const char *)sqlite3_column_text(q, 0);
        if (!mode || sqlite3_stricmp(mode, "wal"))
            e = gf_fail(GF_EDB, "%s: WAL journal mode unavailable (got '%s')", s->path, mode ? mode : "nothing");
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_store_open(const char *path, int create, gf_store **out)
{
    *out = NULL;
    if (!path || !*path) return gf_fail(GF_EINVAL, "site store: empty path");
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) return gf_fail(GF_EINVAL, "%s: not a regular file", path);
    } else if (!create) {
        return gf_fail(GF_ENOTFOUND, "%s: no such site store", path);
    }
    gf_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return gf_fail(GF_ENOMEM, "%s: out of memory opening the site store", path);
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    gf_err e = GF_OK;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK)
        e = s->db ? db_fail(s, "opening") : gf_fail(GF_ENOMEM, "%s: out of memory opening", path);
    if (!e) sqlite3_busy_timeout(s->db, 5000);
    if (!e) e = exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    if (!e) e = identity_check(s, create);
    /* Only a file known to be ours gets its journal mode changed. */
    if (!e) e = journal_wal(s);
    if (e) {
        gf_store_close(s);
        return e;
    }
    *out = s;
    return GF_OK;
}

void gf_store_close(gf_store *s)
{
    if (!s) return;
    sqlite3_close(s->db); /* every statement is finalized by its user */
    free(s->path);
    free(s);
}

const char *gf_store_path(const gf_store *s) { return s->path; }

gf_err gf_store_set_import_time(gf_store *s, const char *iso8601)
{
    int Y, M, D, h, m, sec, n = 0;
    if (!iso8601) { s->import_time[0] = 0; return GF_OK; }
    if (strlen(iso8601) != 20 || sscanf(iso8601, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 20)
        return gf_fail(GF_EINVAL, "%s: import time '%s' is not YYYY-MM-DDTHH:MM:SSZ", s->path, iso8601);
    memcpy(s->import_time, iso8601, 21);
    return GF_OK;
}

/* ---------- site identity ---------- */

static gf_err json_object_check(const gf_store *s, const char *json)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END", &q));
    sqlite3_bind_text(q, 1, json, -1, SQLITE_STATIC);
    gf_err e = GF_OK;
    if (sqlite3_step(q) != SQLITE_ROW) e = db_fail(s, "checking the capture profile");
    else if (!sqlite3_column_int(q, 0))
        e = gf_fail(GF_EINVAL, "%s: capture profile is not a JSON object: %.60s", s->path, json);
    sqlite3_finalize(q);
    return e;
}

gf_err gf_store_set_site(gf_store *s, const char *name, const char *capture_json)
{
    if (!name || !*name) return gf_fail(GF_EINVAL, "%s: site name is empty", s->path);
    if (!capture_json) return gf_fail(GF_EINVAL, "%s: site capture profile is missing", s->path);
    GF_TRY(json_object_check(s, capture_json));
    sqlite3_stmt *q;
    GF_TRY(prep(s,
                "INSERT INTO site(id, name, capture_json) VALUES (1, ?1, ?2) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, capture_json = excluded.capture_json",
                &q));
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, capture_json, -1, SQLITE_STATIC);
    gf_err e = sqlite3_step(q) == SQLITE_DONE ? GF_OK : db_fail(s, "writing the site identity");
    sqlite3_finalize(q);
    return e;
}

static char *dup_col(sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    return t ? strdup((const char *)t) : NULL;
}

gf_err gf_store_get_site(gf_store *s, char **name, char **capture_json)
{
    *name = *capture_json = NULL;
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT name, capture_json FROM site WHERE id = 1", &q));
    gf_err e = GF_OK;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *name = dup_col(q, 0);
        *capture_json = dup_col(q, 1);
        if (!*name || !*capture_json) {
            free(*name); free(*capture_json);
            *name = *capture_json = NULL;
            e = gf_fail(GF_ENOMEM, "%s: out of memory reading the site identity", s->path);
        }
    } else if (rc != SQLITE_DONE) {
        e = db_fail(s, "reading the site identity");
    }
    sqlite3_finalize(q);
    return e;
}

/* ---------- import ---------- */

static gf_err check_meta(const gf_store *s, const gf_cycle_meta *m, int64_t i)
{
    if (!memchr(m->subject_id, 0, sizeof m->subject_id) || !m->subject_id[0])
        return gf_fail(GF_EINVAL, "%s: import: cycle %lld: subject_id is empty or longer than %d bytes", s->path,
                       (long long)i, GF_ID_MAX - 1);
    const char *sid = m->subject_id;
    if (!memchr(m->speed, 0, sizeof m->speed) || !speed_ok(m->speed))
        return gf_fail(GF_EINVAL, "%s: import: cycle %lld (subject %s): speed '%.*s' is not slow|med|fast|self",
                       s->path, (long long)i, sid, (int)sizeof m->speed, m->speed);
    if (!isfinite(m->height_m) || m->height_m < 0 || m->height_m > 3)
        return gf_fail(GF_ERANGE, "%s: import: subject %s: height_m %g outside [0, 3]", s->path, sid, m->height_m);
    if (!isfinite(m->weight_kg) || !(m->weight_kg > 0) || m->weight_kg > 500)
        return gf_fail(GF_ERANGE, "%s: import: subject %s: weight_kg %g outside (0, 500]", s->path, sid, m->weight_kg);
    if (!isfinite(m->cadence_spm) || m->cadence_spm < 0 || m->cadence_spm > 400)
        return gf_fail(GF_ERANGE, "%s: import: cycle %lld (subject %s): cadence_spm %g outside [0, 400]", s->path,
                       (long long)i, sid, m->cadence_spm);
    if (m->trial < 1)
        return gf_fail(GF_ERANGE, "%s: import: cycle %lld (subject %s): trial %d is not >= 1", s->path, (long long)i,
                       sid, (int)m->trial);
    return GF_OK;
}

static gf_err check_finite(const gf_store *s, const float *v, int dim, const char *const *cols, const char *what,
                           int64_t i, const char *sid)
{
    for (int k = 0; k < GF_T * dim; k++)
        if (!isfinite(v[k]))
            return gf_fail(GF_ENUMERIC, "%s: import: cycle %lld (subject %s): %s channel %s frame %d is not finite",
                           s->path, (long long)i, sid, what, cols[k % dim], k / dim);
    return GF_OK;
}

/* Everything is checked before the first write. */
static gf_err validate(const gf_store *s, const gf_dataset *ds)
{
    if (!ds || ds->n <= 0) return gf_fail(GF_EINVAL, "%s: import: no cycles to import", s->path);
    if (ds->n > GF_MAX_CYCLES) return gf_fail(GF_ERANGE, "%s: import: %lld cycles, cap %d", s->path, (long long)ds->n, GF_MAX_CYCLES);
    if (!ds->x || !ds->meta) return gf_fail(GF_EINVAL, "%s: import: data set without inputs or metadata", s->path);
    for (int64_t i = 0; i < ds->n; i++) {
        const gf_cycle_meta *m = &ds->meta[i];
        size_t c = (size_t)i;
        GF_TRY(check_meta(s, m, i));
        GF_TRY(check_finite(s, ds->x + c * GF_T * GF_DIN, GF_DIN, gf_in_cols, "x", i, m->subject_id));
        if (ds->yf) GF_TRY(check_finite(s, ds->yf + c * GF_T * GF_NF, GF_NF, gf_force_cols, "yf", i, m->subject_id));
        if (ds->ym) GF_TRY(check_finite(s, ds->ym + c * GF_T * GF_NM, GF_NM, gf_moment_cols, "ym", i, m->subject_id));
    }
    return GF_OK;
}

typedef struct {
    const gf_store *s;
    const char *provenance;
    long long trials_before; /* trials with a larger id were created by this import */
    sqlite3_stmt *sel_subj, *ins_subj, *sel_trial, *ins_trial, *next_idx, *ins_cycle;
} importer;

static gf_err importer_prepare(importer *im)
{
    const gf_store *s = im->s;
    GF_TRY(prep(s, "SELECT id, height_m, weight_kg FROM subjects WHERE subject_id = ?1", &im->sel_subj));
    GF_TRY(prep(s, "INSERT INTO subjects(subject_id, height_m, weight_kg) VALUES (?1, ?2, ?3)", &im->ins_subj));
    GF_TRY(prep(s, "SELECT id FROM trials WHERE subject = ?1 AND speed = ?2 AND trial = ?3", &im->sel_trial));
    GF_TRY(prep(s,
                "INSERT INTO trials(subject, speed, trial, cadence_spm, provenance, imported_at) VALUES (?1, ?2, ?3, ?4, ?5,"
                " COALESCE(?6, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))",
                &im->ins_trial));
    GF_TRY(prep(s, "SELECT COALESCE(MAX(idx) + 1, 0) FROM cycles WHERE trial = ?1", &im->next_idx));
    GF_TRY(prep(s,
                "INSERT INTO cycles(trial, idx, cadence_spm, x, yf, ym) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &im->ins_cycle));
    return GF_OK;
}

static void importer_finalize(importer *im)
{
    sqlite3_finalize(im->sel_subj);
    sqlite3_finalize(im->ins_subj);
    sqlite3_finalize(im->sel_trial);
    sqlite3_finalize(im->ins_trial);
    sqlite3_finalize(im->next_idx);
    sqlite3_finalize(im->ins_cycle);
}

static gf_err subject_row(importer *im, const gf_cycle_meta *m, sqlite3_int64 *id)
{
    sqlite3_stmt *q = im->sel_subj;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, m->subject_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        double h = sqlite3_column_double(q, 1), w = sqlite3_column_double(q, 2);
        if ((float)h != m->height_m || (float)w != m->weight_kg)
            return gf_fail(GF_EINVAL, "%s: import: subject %s: height_m %g / weight_kg %g disagree with the stored %g / %g",
                           im->s->path, m->subject_id, m->height_m, m->weight_kg, h, w);
        return GF_OK;
    }
    if (rc != SQLITE_DONE) return db_fail(im->s, "looking up a subject");
    q = im->ins_subj;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, m->subject_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, m->height_m);
    sqlite3_bind_double(q, 3, m->weight_kg);
    if (sqlite3_step(q) != SQLITE_DONE) return db_fail(im->s, "writing a subject");
    *id = sqlite3_last_insert_rowid(im->s->db);
    return GF_OK;
}

/* The trial row for m: created by this import, or an error if it existed before. */
static gf_err trial_row(importer *im, sqlite3_int64 subj, const gf_cycle_meta *m, sqlite3_int64 *id)
{
    sqlite3_stmt *q = im->sel_trial;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, subj);
    sqlite3_bind_text(q, 2, m->speed, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, m->trial);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        if (*id <= im->trials_before)
            return gf_fail(GF_EINVAL, "%s: import: trial (subject %s, speed %s, trial %d) is already in the store",
                           im->s->path, m->subject_id, m->speed, (int)m->trial);
        return GF_OK;
    }
    if (rc != SQLITE_DONE) return db_fail(im->s, "looking up a trial");
    q = im->ins_trial;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, subj);
    sqlite3_bind_text(q, 2, m->speed, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, m->trial);
    sqlite3_bind_double(q, 4, m->cadence_spm); /* the trial's first cycle */
    sqlite3_bind_text(q, 5, im->provenance, -1, SQLITE_STATIC);
    if (im->s->import_time[0]) sqlite3_bind_text(q, 6, im->s->import_time, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 6);
    if (sqlite3_step(q) != SQLITE_DONE) return db_fail(im->s, "writing a trial");
    *id = sqlite3_last_insert_rowid(im->s->db);
    return GF_OK;
}

static gf_err cycle_insert(importer *im, const gf_dataset *ds, int64_t i, sqlite3_int64 trial)
{
    unsigned char bx[GF_T * GF_DIN * 4], bf[GF_T * GF_NF * 4], bm[GF_T * GF_NM * 4];
    size_t c = (size_t)i;
    sqlite3_stmt *q = im->next_idx;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, trial);
    if (sqlite3_step(q) != SQLITE_ROW) return db_fail(im->s, "numbering a cycle");
    sqlite3_int64 idx = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);

    q = im->ins_cycle;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, trial);
    sqlite3_bind_int64(q, 2, idx);
    sqlite3_bind_double(q, 3, ds->meta[i].cadence_spm);
    put_le32(ds->x + c * GF_T * GF_DIN, GF_T * GF_DIN, bx);
    sqlite3_bind_blob(q, 4, bx, sizeof bx, SQLITE_STATIC);
    if (ds->yf) {
        put_le32(ds->yf + c * GF_T * GF_NF, GF_T * GF_NF, bf);
        sqlite3_bind_blob(q, 5, bf, sizeof bf, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, 5);
    }
    if (ds->ym) {
        put_le32(ds->ym + c * GF_T * GF_NM, GF_T * GF_NM, bm);
        sqlite3_bind_blob(q, 6, bm, sizeof bm, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, 6);
    }
    int rc = sqlite3_step(q);
    sqlite3_reset(q); /* the blobs are stack buffers bound SQLITE_STATIC */
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) return db_fail(im->s, "writing a cycle");
    return GF_OK;
}

gf_err gf_store_add(gf_store *s, const gf_dataset *ds, const char *provenance)
{
    GF_TRY(validate(s, ds));
    GF_TRY(exec(s, "BEGIN IMMEDIATE", "starting the import"));
    importer im = {.s = s, .provenance = provenance ? provenance : ""};
    gf_err e = query_i64(s, "SELECT COALESCE(MAX(id), 0) FROM trials", "reading trials", &im.trials_before);
    if (!e) e = importer_prepare(&im);
    for (int64_t i = 0; i < ds->n && !e; i++) {
        sqlite3_int64 subj = 0, trial = 0;
        e = subject_row(&im, &ds->meta[i], &subj);
        if (!e) e = trial_row(&im, subj, &ds->meta[i], &trial);
        if (!e) e = cycle_insert(&im, ds, i, trial);
    }
    importer_finalize(&im);
    if (!e) e = exec(s, "COMMIT", "committing the import");
    if (e) rollback(s);
    return e;
}

/* ---------- load ---------- */

#define LOAD_FILTER " WHERE (?1 = 0 OR c.yf IS NOT NULL) AND (?2 = 0 OR c.ym IS NOT NULL)"

static gf_err read_blob(const gf_store *s, sqlite3_stmt *q, int col, float *dst, int dim, const char *what,
                        const char *const *cols, sqlite3_int64 cid)
{
    size_t want = (size_t)GF_T * dim * 4;
    int type = sqlite3_column_type(q, col); /* before any conversion */
    const void *b = sqlite3_column_blob(q, col);
    int len = sqlite3_column_bytes(q, col);
    if (type != SQLITE_BLOB)
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: %s is not a blob (SQLite type %d)", s->path, (long long)cid, what,
                       type);
    if (len < 0 || (size_t)len != want || !b)
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: %s holds %d bytes, expected %zu", s->path, (long long)cid, what,
                       len, want);
    get_le32(b, (size_t)GF_T * dim, dst);
    for (int k = 0; k < GF_T * dim; k++)
        if (!isfinite(dst[k]))
            return gf_fail(GF_EFORMAT, "%s: cycle %lld: %s channel %s frame %d is not finite", s->path,
                           (long long)cid, what, cols[k % dim], k / dim);
    return GF_OK;
}

static gf_err copy_text(const gf_store *s, sqlite3_stmt *q, int col, char *dst, size_t cap, const char *what,
                        sqlite3_int64 cid)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    if (!t || strlen((const char *)t) >= cap)
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: %s is missing or longer than %zu bytes", s->path, (long long)cid,
                       what, cap - 1);
    memcpy(dst, t, strlen((const char *)t) + 1);
    return GF_OK;
}

static gf_err read_meta(const gf_store *s, sqlite3_stmt *q, sqlite3_int64 cid, gf_cycle_meta *m)
{
    GF_TRY(copy_text(s, q, 4, m->subject_id, sizeof m->subject_id, "subject_id", cid));
    GF_TRY(copy_text(s, q, 5, m->speed, sizeof m->speed, "speed", cid));
    m->height_m = (float)sqlite3_column_double(q, 6);
    m->weight_kg = (float)sqlite3_column_double(q, 7);
    m->cadence_spm = (float)sqlite3_column_double(q, 8);
    sqlite3_int64 trial = sqlite3_column_int64(q, 9);
    if (trial < 1 || trial > INT32_MAX || !(m->weight_kg > 0) || !isfinite(m->weight_kg) || !isfinite(m->height_m) ||
        !isfinite(m->cadence_spm))
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: trial number, weight, height or cadence out of range", s->path,
                       (long long)cid);
    m->trial = (int32_t)trial;
    return GF_OK;
}

static gf_err load_rows(const gf_store *s, unsigned need, gf_dataset *out)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s,
                "SELECT c.id, c.x, c.yf, c.ym, sj.subject_id, t.speed, sj.height_m, sj.weight_kg, c.cadence_spm, t.trial"
                " FROM cycles c JOIN trials t ON c.trial = t.id JOIN subjects sj ON t.subject = sj.id" LOAD_FILTER
                " ORDER BY c.id",
                &q));
    sqlite3_bind_int(q, 1, (need & GF_STORE_NEED_FORCES) != 0);
    sqlite3_bind_int(q, 2, (need & GF_STORE_NEED_MOMENTS) != 0);
    gf_err e = GF_OK;
    int64_t i = 0;
    int rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        sqlite3_int64 cid = sqlite3_column_int64(q, 0);
        if (i >= out->n) { e = gf_fail(GF_ESTATE, "%s: cycles changed while loading", s->path); break; }
        size_t c = (size_t)i;
        e = read_blob(s, q, 1, out->x + c * GF_T * GF_DIN, GF_DIN, "x", gf_in_cols, cid);
        if (!e && out->yf) e = read_blob(s, q, 2, out->yf + c * GF_T * GF_NF, GF_NF, "yf", gf_force_cols, cid);
        if (!e && out->ym) e = read_blob(s, q, 3, out->ym + c * GF_T * GF_NM, GF_NM, "ym", gf_moment_cols, cid);
        if (!e) e = read_meta(s, q, cid, &out->meta[c]);
        i++;
    }
    if (!e && rc != SQLITE_DONE) e = db_fail(s, "reading cycles");
    if (!e && i != out->n) e = gf_fail(GF_ESTATE, "%s: cycles changed while loading", s->path);
    sqlite3_finalize(q);
    return e;
}

static gf_err load_count(const gf_store *s, unsigned need, long long *n, long long *nf, long long *nm)
{
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT COUNT(*), COUNT(c.yf), COUNT(c.ym) FROM cycles c" LOAD_FILTER, &q));
    sqlite3_bind_int(q, 1, (need & GF_STORE_NEED_FORCES) != 0);
    sqlite3_bind_int(q, 2, (need & GF_STORE_NEED_MOMENTS) != 0);
    gf_err e = GF_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        *n = sqlite3_column_int64(q, 0);
        *nf = sqlite3_column_int64(q, 1);
        *nm = sqlite3_column_int64(q, 2);
    } else {
        e = db_fail(s, "counting cycles");
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_store_load(gf_store *s, unsigned need, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (need & ~(GF_STORE_NEED_FORCES | GF_STORE_NEED_MOMENTS))
        return gf_fail(GF_EINVAL, "%s: load: unknown target flags 0x%x", s->path, need);
    /* One read transaction: the count and the rows see the same snapshot. */
    GF_TRY(exec(s, "BEGIN", "starting a read"));
    long long n = 0, nf = 0, nm = 0;
    gf_err e = load_count(s, need, &n, &nf, &nm);
    if (!e && n > GF_MAX_CYCLES) e = gf_fail(GF_ERANGE, "%s: %lld cycles, cap %d", s->path, n, GF_MAX_CYCLES);
    int with_f = (need & GF_STORE_NEED_FORCES) || (n > 0 && nf == n);
    int with_m = (need & GF_STORE_NEED_MOMENTS) || (n > 0 && nm == n);
    if (!e) e = gf_dataset_alloc(out, n, with_f, with_m);
    if (!e) e = load_rows(s, need, out);
    rollback(s); /* ends the read transaction; nothing was written */
    if (e) gf_dataset_free(out);
    return e;
}

/* ---------- summaries ---------- */

gf_err gf_store_counts_get(gf_store *s, gf_store_counts *c)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *q;
    GF_TRY(prep(s,
                "SELECT (SELECT COUNT(*) FROM subjects), (SELECT COUNT(*) FROM trials), COUNT(*), COUNT(yf), COUNT(ym)"
                " FROM cycles",
                &q));
    gf_err e = GF_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        c->subjects = sqlite3_column_int64(q, 0);
        c->trials = sqlite3_column_int64(q, 1);
        c->cycles = sqlite3_column_int64(q, 2);
        c->with_forces = sqlite3_column_int64(q, 3);
        c->with_moments = sqlite3_column_int64(q, 4);
    } else {
        e = db_fail(s, "counting");
    }
    sqlite3_finalize(q);
    return e;
}

/* Room for one more element: returns arr (possibly moved) or NULL, arr intact. */
static void *grow_array(void *arr, int n, int *cap, size_t sz)
{
    if (n < *cap) return arr;
    int nc = *cap ? 2 * *cap : 16;
    void *p = realloc(arr, (size_t)nc * sz);
    if (p) *cap = nc;
    return p;
}

gf_err gf_store_speed_counts(gf_store *s, gf_store_speed_count **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    GF_TRY(prep(s,
                "SELECT t.speed, COUNT(DISTINCT t.subject), COUNT(DISTINCT t.id), COUNT(*), COUNT(c.yf), COUNT(c.ym)"
                " FROM cycles c JOIN trials t ON c.trial = t.id GROUP BY t.speed"
                " ORDER BY CASE t.speed WHEN 'slow' THEN 0 WHEN 'med' THEN 1 WHEN 'fast' THEN 2 ELSE 3 END",
                &q));
    gf_err e = GF_OK;
    int cap = 0, rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        gf_store_speed_count *arr = grow_array(*out, *n, &cap, sizeof *arr);
        if (!arr) { e = gf_fail(GF_ENOMEM, "%s: out of memory", s->path); break; }
        *out = arr;
        gf_store_speed_count *r = &arr[(*n)++];
        memset(r, 0, sizeof *r);
        const unsigned char *sp = sqlite3_column_text(q, 0);
        snprintf(r->speed, sizeof r->speed, "%s", sp ? (const char *)sp : "");
        r->subjects = sqlite3_column_int64(q, 1);
        r->trials = sqlite3_column_int64(q, 2);
        r->cycles = sqlite3_column_int64(q, 3);
        r->with_forces = sqlite3_column_int64(q, 4);
        r->with_moments = sqlite3_column_int64(q, 5);
    }
    if (!e && rc != SQLITE_DONE) e = db_fail(s, "counting cycles per speed");
    sqlite3_finalize(q);
    if (e) { free(*out); *out = NULL; *n = 0; }
    return e;
}

gf_err gf_store_subjects(gf_store *s, gf_store_subject **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    GF_TRY(prep(s,
                "SELECT sj.subject_id, sj.height_m, sj.weight_kg, COUNT(DISTINCT t.id), COUNT(c.id)"
                " FROM subjects sj LEFT JOIN trials t ON t.subject = sj.id LEFT JOIN cycles c ON c.trial = t.id"
                " GROUP BY sj.id ORDER BY sj.subject_id",
                &q));
    gf_err e = GF_OK;
    int cap = 0, rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        gf_store_subject *arr = grow_array(*out, *n, &cap, sizeof *arr);
        if (!arr) { e = gf_fail(GF_ENOMEM, "%s: out of memory", s->path); break; }
        *out = arr;
        gf_store_subject *r = &arr[(*n)++];
        memset(r, 0, sizeof *r);
        const unsigned char *id = sqlite3_column_text(q, 0);
        snprintf(r->subject_id, sizeof r->subject_id, "%s", id ? (const char *)id : "");
        r->height_m = (float)sqlite3_column_double(q, 1);
        r->weight_kg = (float)sqlite3_column_double(q, 2);
        r->trials = sqlite3_column_int64(q, 3);
        r->cycles = sqlite3_column_int64(q, 4);
    }
    if (!e && rc != SQLITE_DONE) e = db_fail(s, "listing subjects");
    sqlite3_finalize(q);
    if (e) { free(*out); *out = NULL; *n = 0; }
    return e;
}

/* ---------- normalization statistics ---------- */

gf_err gf_store_set_xstats(gf_store *s, const gf_xstats *st)
{
    if (!isfinite(st->count) || !(st->count > 0))
        return gf_fail(GF_EINVAL, "%s: statistics: frame count %g is not positive", s->path, st->count);
    for (int c = 0; c < GF_DIN; c++)
        if (!isfinite(st->mean[c]) || !isfinite(st->sd[c]) || st->sd[c] < 0)
            return gf_fail(GF_ENUMERIC, "%s: statistics: channel %s: mean %g / sd %g invalid", s->path, gf_in_cols[c],
                           st->mean[c], st->sd[c]);
    GF_TRY(exec(s, "BEGIN IMMEDIATE", "starting to write statistics"));
    gf_err e = exec(s, "DELETE FROM xstats", "replacing statistics");
    sqlite3_stmt *q = NULL;
    if (!e) e = prep(s, "INSERT INTO xstats(position, channel, frames, mean, sd) VALUES (?1, ?2, ?3, ?4, ?5)", &q);
    for (int c = 0; c < GF_DIN && !e; c++) {
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, c);
        sqlite3_bind_text(q, 2, gf_in_cols[c], -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 3, st->count);
        sqlite3_bind_double(q, 4, st->mean[c]);
        sqlite3_bind_double(q, 5, st->sd[c]);
        if (sqlite3_step(q) != SQLITE_DONE) e = db_fail(s, "writing statistics");
    }
    sqlite3_finalize(q);
    if (!e) e = exec(s, "COMMIT", "committing statistics");
    if (e) rollback(s);
    return e;
}

gf_err gf_store_get_xstats(gf_store *s, gf_xstats *st)
{
    memset(st, 0, sizeof *st);
    sqlite3_stmt *q;
    GF_TRY(prep(s, "SELECT position, channel, frames, mean, sd FROM xstats ORDER BY position", &q));
    gf_err e = GF_OK;
    int rows = 0, rc = SQLITE_DONE;
    while (!e && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int pos = sqlite3_column_int(q, 0);
        const unsigned char *name = sqlite3_column_text(q, 1);
        double frames = sqlite3_column_double(q, 2);
        if (pos != rows || rows >= GF_DIN || !name || strcmp((const char *)name, gf_in_cols[pos]) ||
            (rows > 0 && frames != st->count)) {
            e = gf_fail(GF_EFORMAT, "%s: statistics row %d does not match channel layout", s->path, rows);
            break;
        }
        st->count = frames;
        st->mean[pos] = sqlite3_column_double(q, 3);
        st->sd[pos] = sqlite3_column_double(q, 4);
        rows++;
    }
    if (!e && rc != SQLITE_DONE) e = db_fail(s, "reading statistics");
    sqlite3_finalize(q);
    if (!e && rows == 0) e = gf_fail(GF_ENOTFOUND, "%s: no normalization statistics stored", s->path);
    else if (!e && rows != GF_DIN)
        e = gf_fail(GF_EFORMAT, "%s: statistics for %d of %d channels", s->path, rows, GF_DIN);
    if (e) memset(st, 0, sizeof *st);
    return e;
}

/* Site store: schema, open/close, identity, and the helpers the other store files share. */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "common/fileio.h"
#include "sites/store_internal.h"

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

/* s with control bytes as '?', cut to cap - 1 bytes, into buf. */
static const char *printable(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = 0;
    return buf;
}

/* A foreign or damaged file is malformed input, not a database failure. */
gf_err st_db_fail(const gf_store *s, const char *what)
{
    int rc = sqlite3_errcode(s->db) & 0xff;
    char m[256]; /* SQLite quotes a damaged schema's text: keep the error one line */
    printable(sqlite3_errmsg(s->db), m, sizeof m);
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return gf_fail(GF_EFORMAT, "%s: damaged or not a site store: %s (%s)", s->path, m, what);
    return gf_fail(GF_EDB, "%s: %s: %s", s->path, what, m);
}

gf_err st_prep(const gf_store *s, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return st_db_fail(s, "preparing a statement");
    }
    return GF_OK;
}

gf_err st_exec(const gf_store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return st_db_fail(s, what);
    return GF_OK;
}

/* Rolls back an open transaction; keeps the message of the failure that caused it. */
void st_rollback(const gf_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One integer from a query without parameters. */
gf_err st_query_i64(const gf_store *s, const char *sql, const char *what, long long *v)
{
    sqlite3_stmt *q;
    GF_TRY(st_prep(s, sql, &q));
    gf_err e = GF_OK;
    if (sqlite3_step(q) == SQLITE_ROW) *v = sqlite3_column_int64(q, 0);
    else e = st_db_fail(s, what);
    sqlite3_finalize(q);
    return e;
}

void st_put_le32(const float *src, size_t n, unsigned char *dst)
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

void st_get_le32(const unsigned char *src, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                     (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

int st_speed_ok(const char *sp)
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
    GF_TRY(st_prep(s, "INSERT INTO channels(kind, position, name, unit) VALUES (?1, ?2, ?3, ?4)", &q));
    gf_err e = GF_OK;
    for (int g = 0; g < N_GROUPS && !e; g++)
        for (int i = 0; i < CHANNELS[g].n && !e; i++) {
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, CHANNELS[g].kind, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, i);
            sqlite3_bind_text(q, 3, CHANNELS[g].names[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, CHANNELS[g].unit, -1, SQLITE_STATIC);
            if (sqlite3_step(q) != SQLITE_DONE) e = st_db_fail(s, "writing channels");
        }
    sqlite3_finalize(q);
    return e;
}

/* Blobs are only meaningful in the channel order they were written in. */
static gf_err channels_check(const gf_store *s)
{
    long long n = 0;
    GF_TRY(st_query_i64(s, "SELECT COUNT(*) FROM channels", "reading channels", &n));
    if (n != GF_DIN + GF_NF + GF_NM)
        return gf_fail(GF_EFORMAT, "%s: channels table has %lld rows, expected %d", s->path, n, GF_DIN + GF_NF + GF_NM);
    sqlite3_stmt *q;
    GF_TRY(st_prep(s, "SELECT name, unit FROM channels WHERE kind = ?1 AND position = ?2", &q));
    gf_err e = GF_OK;
    for (int g = 0; g < N_GROUPS && !e; g++)
        for (int i = 0; i < CHANNELS[g].n && !e; i++) {
            sqlite3_reset(q);
            sqlite3_bind_text(q, 1, CHANNELS[g].kind, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, i);
            int rc = sqlite3_step(q);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) { e = st_db_fail(s, "reading channels"); break; }
            const char *name = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
            const char *unit = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 1) : NULL;
            if (!name || !unit || strcmp(name, CHANNELS[g].names[i]) || strcmp(unit, CHANNELS[g].unit)) {
                char nb[48], ub[48]; /* the file's text, printable and short: errors are one line */
                e = gf_fail(GF_EFORMAT, "%s: %s channel %d is '%s' (%s), this build expects '%s' (%s)", s->path,
                            CHANNELS[g].kind, i, name ? printable(name, nb, sizeof nb) : "missing",
                            unit ? printable(unit, ub, sizeof ub) : "-", CHANNELS[g].names[i], CHANNELS[g].unit);
            }
        }
    sqlite3_finalize(q);
    return e;
}

/* ---------- open / close ---------- */

static gf_err tables_check(const gf_store *s)
{
    sqlite3_stmt *q;
    GF_TRY(st_prep(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &q));
    gf_err e = GF_OK;
    for (int i = 0; i < N_TABLES && !e; i++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, TABLES[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) e = gf_fail(GF_EFORMAT, "%s: site store lacks table '%s'", s->path, TABLES[i]);
        else if (rc != SQLITE_ROW) e = st_db_fail(s, "reading the schema");
    }
    sqlite3_finalize(q);
    return e;
}

/* Creates schema v1 in an empty database; rechecks emptiness under the write
 * lock so that two processes creating the same file cannot both initialize it. */
static gf_err schema_init(const gf_store *s)
{
    GF_TRY(st_exec(s, "BEGIN IMMEDIATE", "starting schema creation"));
    long long nobj = 0;
    gf_err e = st_query_i64(s, "SELECT COUNT(*) FROM sqlite_master", "reading the schema", &nobj);
    if (!e && nobj != 0) e = gf_fail(GF_ESTATE, "%s: another process initialized the file concurrently", s->path);
    if (!e) e = st_exec(s, SCHEMA_V1, "creating the schema");
    if (!e) e = channels_insert(s);
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %d;", GF_STORE_APP_ID,
             GF_STORE_SCHEMA);
    if (!e) e = st_exec(s, pragmas, "writing the schema version");
    if (!e) e = st_exec(s, "COMMIT", "committing the schema");
    if (e) st_rollback(s);
    return e;
}

/* Decides whether the file is ours (and readable by this build), empty, or foreign. */
static gf_err identity_check(const gf_store *s, int create)
{
    long long app = 0, ver = 0, nobj = 0;
    GF_TRY(st_query_i64(s, "PRAGMA application_id", "reading the header", &app));
    GF_TRY(st_query_i64(s, "PRAGMA user_version", "reading the header", &ver));
    GF_TRY(st_query_i64(s, "SELECT COUNT(*) FROM sqlite_master", "reading the schema", &nobj));
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
    GF_TRY(st_prep(s, "PRAGMA journal_mode = WAL", &q));
    gf_err e = GF_OK;
    if (sqlite3_step(q) != SQLITE_ROW) e = st_db_fail(s, "setting WAL journal mode");
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
    } else { /* made 0600 here: SQLite would make it 0644, and its -wal/-shm copy that mode */
        int created;
        GF_TRY(gf_create_private(path, &created));
    }
    gf_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return gf_fail(GF_ENOMEM, "%s: out of memory opening the site store", path);
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    gf_err e = GF_OK;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK)
        e = s->db ? st_db_fail(s, "opening") : gf_fail(GF_ENOMEM, "%s: out of memory opening", path);
    if (!e) sqlite3_busy_timeout(s->db, 5000);
    if (!e) e = st_exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys");
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
    GF_TRY(st_prep(s, "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END", &q));
    sqlite3_bind_text(q, 1, json, -1, SQLITE_STATIC);
    gf_err e = GF_OK;
    if (sqlite3_step(q) != SQLITE_ROW) e = st_db_fail(s, "checking the capture profile");
    else if (!sqlite3_column_int(q, 0))
        e = gf_fail(GF_EINVAL, "%s: capture profile is not a JSON object: %.60s", s->path, json);
    sqlite3_finalize(q);
    return e;
}

gf_err st_site_check(const gf_store *s, const char *name, const char *capture_json)
{
    if (!name || !*name) return gf_fail(GF_EINVAL, "%s: site name is empty", s->path);
    return capture_json ? json_object_check(s, capture_json) : GF_OK;
}

gf_err st_site_write(const gf_store *s, const char *name, const char *capture_json)
{
    sqlite3_stmt *q;
    GF_TRY(st_prep(s,
                "INSERT INTO site(id, name, capture_json) VALUES (1, ?1, COALESCE(?2, '{\"system\":\"unknown\"}')) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, capture_json = COALESCE(?2, site.capture_json)",
                &q));
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (capture_json) sqlite3_bind_text(q, 2, capture_json, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 2);
    gf_err e = sqlite3_step(q) == SQLITE_DONE ? GF_OK : st_db_fail(s, "writing the site identity");
    sqlite3_finalize(q);
    return e;
}

gf_err gf_store_set_site(gf_store *s, const char *name, const char *capture_json)
{
    GF_TRY(st_site_check(s, name, capture_json));
    return st_site_write(s, name, capture_json);
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
    GF_TRY(st_prep(s, "SELECT name, capture_json FROM site WHERE id = 1", &q));
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
        e = st_db_fail(s, "reading the site identity");
    }
    sqlite3_finalize(q);
    return e;
}


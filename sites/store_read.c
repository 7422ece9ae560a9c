/* Site store: loading cycles, summaries and normalization statistics. */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sites/store_internal.h"

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
    st_get_le32(b, (size_t)GF_T * dim, dst);
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
    /* What gf_store_add and the schema allow; a damaged or hand-edited file may hold anything. */
    if (!m->subject_id[0] || !st_speed_ok(m->speed))
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: empty subject_id or speed not slow|med|fast|self", s->path,
                       (long long)cid);
    m->height_m = sqlite3_column_double(q, 6);
    m->weight_kg = sqlite3_column_double(q, 7);
    m->cadence_spm = (float)sqlite3_column_double(q, 8);
    sqlite3_int64 trial = sqlite3_column_int64(q, 9);
    if (trial < 1 || trial > INT32_MAX || !(m->weight_kg > 0) || !isfinite(m->weight_kg) || !(m->height_m >= 0) ||
        !isfinite(m->height_m) || !(m->cadence_spm >= 0) || !isfinite(m->cadence_spm))
        return gf_fail(GF_EFORMAT, "%s: cycle %lld: trial number, weight, height or cadence out of range", s->path,
                       (long long)cid);
    m->trial = (int32_t)trial;
    return GF_OK;
}

static gf_err load_rows(const gf_store *s, unsigned need, gf_dataset *out)
{
    sqlite3_stmt *q;
    GF_TRY(st_prep(s,
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
    if (!e && rc != SQLITE_DONE) e = st_db_fail(s, "reading cycles");
    if (!e && i != out->n) e = gf_fail(GF_ESTATE, "%s: cycles changed while loading", s->path);
    sqlite3_finalize(q);
    return e;
}

static gf_err load_count(const gf_store *s, unsigned need, long long *n, long long *nf, long long *nm)
{
    sqlite3_stmt *q;
    GF_TRY(st_prep(s, "SELECT COUNT(*), COUNT(c.yf), COUNT(c.ym) FROM cycles c" LOAD_FILTER, &q));
    sqlite3_bind_int(q, 1, (need & GF_STORE_NEED_FORCES) != 0);
    sqlite3_bind_int(q, 2, (need & GF_STORE_NEED_MOMENTS) != 0);
    gf_err e = GF_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        *n = sqlite3_column_int64(q, 0);
        *nf = sqlite3_column_int64(q, 1);
        *nm = sqlite3_column_int64(q, 2);
    } else {
        e = st_db_fail(s, "counting cycles");
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
    GF_TRY(st_exec(s, "BEGIN", "starting a read"));
    long long n = 0, nf = 0, nm = 0;
    gf_err e = load_count(s, need, &n, &nf, &nm);
    if (!e && n > GF_MAX_CYCLES) e = gf_fail(GF_ERANGE, "%s: %lld cycles, cap %d", s->path, n, GF_MAX_CYCLES);
    int with_f = (need & GF_STORE_NEED_FORCES) || (n > 0 && nf == n);
    int with_m = (need & GF_STORE_NEED_MOMENTS) || (n > 0 && nm == n);
    if (!e) e = gf_dataset_alloc(out, n, with_f, with_m);
    if (!e) e = load_rows(s, need, out);
    st_rollback(s); /* ends the read transaction; nothing was written */
    if (e) gf_dataset_free(out);
    return e;
}

/* ---------- summaries ---------- */

gf_err gf_store_counts_get(gf_store *s, gf_store_counts *c)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *q;
    GF_TRY(st_prep(s,
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
        e = st_db_fail(s, "counting");
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
    GF_TRY(st_prep(s,
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
    if (!e && rc != SQLITE_DONE) e = st_db_fail(s, "counting cycles per speed");
    sqlite3_finalize(q);
    if (e) { free(*out); *out = NULL; *n = 0; }
    return e;
}

gf_err gf_store_subjects(gf_store *s, gf_store_subject **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    GF_TRY(st_prep(s,
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
        r->height_m = sqlite3_column_double(q, 1);
        r->weight_kg = sqlite3_column_double(q, 2);
        r->trials = sqlite3_column_int64(q, 3);
        r->cycles = sqlite3_column_int64(q, 4);
    }
    if (!e && rc != SQLITE_DONE) e = st_db_fail(s, "listing subjects");
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
    GF_TRY(st_exec(s, "BEGIN IMMEDIATE", "starting to write statistics"));
    gf_err e = st_exec(s, "DELETE FROM xstats", "replacing statistics");
    sqlite3_stmt *q = NULL;
    if (!e) e = st_prep(s, "INSERT INTO xstats(position, channel, frames, mean, sd) VALUES (?1, ?2, ?3, ?4, ?5)", &q);
    for (int c = 0; c < GF_DIN && !e; c++) {
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, c);
        sqlite3_bind_text(q, 2, gf_in_cols[c], -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 3, st->count);
        sqlite3_bind_double(q, 4, st->mean[c]);
        sqlite3_bind_double(q, 5, st->sd[c]);
        if (sqlite3_step(q) != SQLITE_DONE) e = st_db_fail(s, "writing statistics");
    }
    sqlite3_finalize(q);
    if (!e) e = st_exec(s, "COMMIT", "committing statistics");
    if (e) st_rollback(s);
    return e;
}

gf_err gf_store_get_xstats(gf_store *s, gf_xstats *st)
{
    memset(st, 0, sizeof *st);
    sqlite3_stmt *q;
    GF_TRY(st_prep(s, "SELECT position, channel, frames, mean, sd FROM xstats ORDER BY position", &q));
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
    if (!e && rc != SQLITE_DONE) e = st_db_fail(s, "reading statistics");
    sqlite3_finalize(q);
    if (!e && rows == 0) e = gf_fail(GF_ENOTFOUND, "%s: no normalization statistics stored", s->path);
    else if (!e && rows != GF_DIN)
        e = gf_fail(GF_EFORMAT, "%s: statistics for %d of %d channels", s->path, rows, GF_DIN);
    if (e) memset(st, 0, sizeof *st);
    return e;
}


/* Site store: importing a data set in one validated transaction. */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sites/store_internal.h"

/* ---------- import ---------- */

static gf_err check_meta(const gf_store *s, const gf_cycle_meta *m, int64_t i)
{
    if (!memchr(m->subject_id, 0, sizeof m->subject_id) || !m->subject_id[0])
        return gf_fail(GF_EINVAL, "%s: import: cycle %lld: subject_id is empty or longer than %d bytes", s->path,
                       (long long)i, GF_ID_MAX - 1);
    const char *sid = m->subject_id;
    if (!memchr(m->speed, 0, sizeof m->speed) || !st_speed_ok(m->speed))
        return gf_fail(GF_EINVAL, "%s: import: cycle %lld (subject %s): speed '%.*s' is not slow|med|fast|self",
                       s->path, (long long)i, sid, (int)sizeof m->speed, m->speed);
    if (!isfinite(m->height_m) || m->height_m < 0 || m->height_m > 3)
        return gf_fail(GF_ERANGE, "%s: import: cycle %lld (subject %s): height_m %g outside [0, 3]", s->path,
                       (long long)i, sid, m->height_m);
    if (!isfinite(m->weight_kg) || !(m->weight_kg > 0) || m->weight_kg > 500)
        return gf_fail(GF_ERANGE, "%s: import: cycle %lld (subject %s): weight_kg %g outside (0, 500]", s->path,
                       (long long)i, sid, m->weight_kg);
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
    GF_TRY(st_prep(s, "SELECT id, height_m, weight_kg FROM subjects WHERE subject_id = ?1", &im->sel_subj));
    GF_TRY(st_prep(s, "INSERT INTO subjects(subject_id, height_m, weight_kg) VALUES (?1, ?2, ?3)", &im->ins_subj));
    GF_TRY(st_prep(s, "SELECT id FROM trials WHERE subject = ?1 AND speed = ?2 AND trial = ?3", &im->sel_trial));
    GF_TRY(st_prep(s,
                "INSERT INTO trials(subject, speed, trial, cadence_spm, provenance, imported_at) VALUES (?1, ?2, ?3, ?4, ?5,"
                " COALESCE(?6, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))",
                &im->ins_trial));
    GF_TRY(st_prep(s, "SELECT COALESCE(MAX(idx) + 1, 0) FROM cycles WHERE trial = ?1", &im->next_idx));
    GF_TRY(st_prep(s,
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
        if (h != m->height_m || w != m->weight_kg)
            return gf_fail(GF_EINVAL, "%s: import: subject %s: height_m %g / weight_kg %g disagree with the stored %g / %g",
                           im->s->path, m->subject_id, m->height_m, m->weight_kg, h, w);
        return GF_OK;
    }
    if (rc != SQLITE_DONE) return st_db_fail(im->s, "looking up a subject");
    q = im->ins_subj;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, m->subject_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, m->height_m);
    sqlite3_bind_double(q, 3, m->weight_kg);
    if (sqlite3_step(q) != SQLITE_DONE) return st_db_fail(im->s, "writing a subject");
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
    if (rc != SQLITE_DONE) return st_db_fail(im->s, "looking up a trial");
    q = im->ins_trial;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, subj);
    sqlite3_bind_text(q, 2, m->speed, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, m->trial);
    sqlite3_bind_double(q, 4, m->cadence_spm); /* the trial's first cycle */
    sqlite3_bind_text(q, 5, im->provenance, -1, SQLITE_STATIC);
    if (im->s->import_time[0]) sqlite3_bind_text(q, 6, im->s->import_time, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, 6);
    if (sqlite3_step(q) != SQLITE_DONE) return st_db_fail(im->s, "writing a trial");
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
    if (sqlite3_step(q) != SQLITE_ROW) return st_db_fail(im->s, "numbering a cycle");
    sqlite3_int64 idx = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);

    q = im->ins_cycle;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, trial);
    sqlite3_bind_int64(q, 2, idx);
    sqlite3_bind_double(q, 3, ds->meta[i].cadence_spm);
    st_put_le32(ds->x + c * GF_T * GF_DIN, GF_T * GF_DIN, bx);
    sqlite3_bind_blob(q, 4, bx, sizeof bx, SQLITE_STATIC);
    if (ds->yf) {
        st_put_le32(ds->yf + c * GF_T * GF_NF, GF_T * GF_NF, bf);
        sqlite3_bind_blob(q, 5, bf, sizeof bf, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, 5);
    }
    if (ds->ym) {
        st_put_le32(ds->ym + c * GF_T * GF_NM, GF_T * GF_NM, bm);
        sqlite3_bind_blob(q, 6, bm, sizeof bm, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, 6);
    }
    int rc = sqlite3_step(q);
    sqlite3_reset(q); /* the blobs are stack buffers bound SQLITE_STATIC */
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) return st_db_fail(im->s, "writing a cycle");
    return GF_OK;
}

gf_err gf_store_add_site(gf_store *s, const gf_dataset *ds, const char *provenance, const char *site_name,
                         const char *capture_json)
{
    GF_TRY(validate(s, ds));
    if (site_name) GF_TRY(st_site_check(s, site_name, capture_json));
    GF_TRY(st_exec(s, "BEGIN IMMEDIATE", "starting the import"));
    importer im = {.s = s, .provenance = provenance ? provenance : ""};
    gf_err e = site_name ? st_site_write(s, site_name, capture_json) : GF_OK;
    if (!e) e = st_query_i64(s, "SELECT COALESCE(MAX(id), 0) FROM trials", "reading trials", &im.trials_before);
    if (!e) e = importer_prepare(&im);
    for (int64_t i = 0; i < ds->n && !e; i++) {
        sqlite3_int64 subj = 0, trial = 0;
        e = subject_row(&im, &ds->meta[i], &subj);
        if (!e) e = trial_row(&im, subj, &ds->meta[i], &trial);
        if (!e) e = cycle_insert(&im, ds, i, trial);
    }
    importer_finalize(&im);
    if (!e) e = st_exec(s, "COMMIT", "committing the import");
    if (e) st_rollback(s);
    return e;
}

gf_err gf_store_add(gf_store *s, const gf_dataset *ds, const char *provenance)
{
    return gf_store_add_site(s, ds, provenance, NULL, NULL);
}

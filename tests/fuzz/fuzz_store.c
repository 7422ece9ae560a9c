/* libFuzzer target for the site store reader (sites/store.h) on a hostile
 * database file. A valid store (site, 2 subjects, 3 cycles with forces and
 * moments, input statistics) is made once; each input then damages a copy:
 *   'F' then (u16 LE offset, byte) triples: bytes of the file overwritten
 *       (SQLite's own corruption checks);
 *   otherwise records (table, column, row, kind, len, payload): one UPDATE
 *       (kind 0 NULL, 1 int64, 2 real, 3 text, 4 blob) or DELETE (kind 5)
 *       with CHECK constraints off, so rows the schema forbids reach the
 *       reader (blobs of the wrong size, NaN, unknown speeds, ...).
 * Then the store is opened and read as a node and `gaitfed info` read it.
 * Whatever gf_store_load accepts must have the layout and values the
 * training code relies on (finite inputs and targets, valid speeds, trial
 * >= 1, mass > 0); refusals are one line; nothing crashes or leaks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/fileio.h"
#include "sites/stats.h"
#include "sites/store.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static char dir[64], work[96];
static uint8_t *tmpl;
static size_t tmpl_len;

static const char *const tables[] = {"site", "channels", "subjects", "trials", "cycles", "xstats"};
static const char *const cols[][8] = {
    {"id", "name", "capture_json"},
    {"id", "kind", "position", "name", "unit"},
    {"id", "subject_id", "height_m", "weight_kg"},
    {"id", "subject", "speed", "trial", "cadence_spm", "provenance", "imported_at"},
    {"id", "trial", "idx", "cadence_spm", "x", "yf", "ym"},
    {"position", "channel", "frames", "mean", "sd"},
};

static void cleanup(void)
{
    static const char *const files[] = {"tmpl.db", "work.db", "work.db-journal", "work.db-wal", "work.db-shm"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) snprintf(p, sizeof p, "%s/%s", dir, files[i]), unlink(p);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(dir, sizeof dir, "/tmp/fuzz-store-XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(cleanup);
    char path[96];
    snprintf(path, sizeof path, "%s/tmpl.db", dir);
    snprintf(work, sizeof work, "%s/work.db", dir);
    gf_store *s = NULL;
    gf_dataset ds;
    if (gf_store_open(path, 1, &s) || gf_store_set_site(s, "optical-lab", "{\"system\":\"optical\"}") ||
        gf_store_set_import_time(s, "2026-01-01T00:00:00Z") || gf_dataset_alloc(&ds, 3, 1, 1))
        abort();
    for (int64_t i = 0; i < ds.n; i++) {
        gf_cycle_meta *m = &ds.meta[i];
        snprintf(m->subject_id, sizeof m->subject_id, "H0%d", (int)(i / 2 + 1));
        snprintf(m->speed, sizeof m->speed, "%s", i == 1 ? "fast" : "med");
        m->height_m = 1.7f, m->weight_kg = 70, m->cadence_spm = 115, m->trial = 1;
    }
    for (int64_t i = 0; i < ds.n * GF_T * GF_DIN; i++) ds.x[i] = (float)(i % 97) * 0.5f;
    for (int64_t i = 0; i < ds.n * GF_T * GF_NF; i++) ds.yf[i] = (float)(i % 89);
    for (int64_t i = 0; i < ds.n * GF_T * GF_NM; i++) ds.ym[i] = (float)(i % 13) - 6;
    gf_xstats st = {.count = 540};
    for (int c = 0; c < GF_DIN; c++) st.mean[c] = c, st.sd[c] = 1 + c;
    if (gf_store_add(s, &ds, "fuzz") || gf_store_set_xstats(s, &st)) abort();
    gf_dataset_free(&ds);
    gf_store_close(s);
    if (gf_read_file(path, 1u << 24, &tmpl, &tmpl_len)) abort();
    return 0;
}

static void mutate_rows(const uint8_t *d, size_t n)
{
    sqlite3 *db;
    if (sqlite3_open(work, &db) != SQLITE_OK) abort();
    sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; BEGIN", NULL, NULL, NULL);
    while (n >= 5) {
        int t = d[0] % 6, ncol = 0;
        while (ncol < 8 && cols[t][ncol]) ncol++;
        const char *col = cols[t][d[1] % ncol];
        int row = d[2] % 12 + 1, kind = d[3] % 6;
        size_t len = d[4] < n - 5 ? d[4] : n - 5;
        const uint8_t *p = d + 5;
        /* lengths near the schema's: 0..255 bytes, or 7200/10080/2160 +- a few */
        size_t blen = d[4] >= 0xf0 ? (size_t[]){7200, 10080, 2160, 7199, 10081, 2159, 0, 4}[d[4] & 7] : len;
        char sql[128];
        if (kind == 5) snprintf(sql, sizeof sql, "DELETE FROM %s WHERE rowid = ?1", tables[t]);
        else snprintf(sql, sizeof sql, "UPDATE OR IGNORE %s SET %s = ?2 WHERE rowid = ?1", tables[t], col);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int(q, 1, row);
            int64_t iv = 0;
            double dv = 0;
            memcpy(&iv, p, len < 8 ? len : 8);
            memcpy(&dv, p, len < 8 ? len : 8);
            switch (kind) {
            case 1: sqlite3_bind_int64(q, 2, iv); break;
            case 2: sqlite3_bind_double(q, 2, dv); break;
            case 3: sqlite3_bind_text(q, 2, (const char *)p, (int)len, SQLITE_TRANSIENT); break;
            case 4: {
                uint8_t *b = calloc(1, blen + 1);
                if (b) memcpy(b, p, len < blen ? len : blen);
                if (b) sqlite3_bind_blob(q, 2, b, (int)blen, free);
                break;
            }
            default: break;
            }
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
        d += 5 + len, n -= 5 + len;
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void check_loaded(const gf_dataset *ds, unsigned need)
{
    CHECK(ds->n >= 0 && ds->x && ds->meta);
    if (need & GF_STORE_NEED_FORCES) CHECK(ds->yf);
    if (need & GF_STORE_NEED_MOMENTS) CHECK(ds->ym);
    for (int64_t i = 0; i < ds->n * GF_T * GF_DIN; i++) CHECK(isfinite(ds->x[i]));
    for (int64_t i = 0; ds->yf && i < ds->n * GF_T * GF_NF; i++) CHECK(isfinite(ds->yf[i]));
    for (int64_t i = 0; ds->ym && i < ds->n * GF_T * GF_NM; i++) CHECK(isfinite(ds->ym[i]));
    for (int64_t i = 0; i < ds->n; i++) {
        const gf_cycle_meta *m = &ds->meta[i];
        CHECK(memchr(m->subject_id, 0, sizeof m->subject_id) && m->subject_id[0]);
        CHECK(!strcmp(m->speed, "slow") || !strcmp(m->speed, "med") || !strcmp(m->speed, "fast") ||
              !strcmp(m->speed, "self"));
        CHECK(m->trial >= 1 && m->weight_kg > 0 && isfinite(m->weight_kg) && m->height_m >= 0 && isfinite(m->height_m));
        CHECK(m->cadence_spm >= 0 && isfinite(m->cadence_spm));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(tmpl_len);
    if (!b) return 0;
    memcpy(b, tmpl, tmpl_len);
    if (size && data[0] == 'F')
        for (size_t i = 1; i + 3 <= size; i += 3) b[(data[i] | (size_t)data[i + 1] << 8) % tmpl_len] = data[i + 2];
    FILE *f = fopen(work, "wb");
    if (!f || fwrite(b, 1, tmpl_len, f) != tmpl_len || fclose(f)) abort();
    free(b);
    if (!(size && data[0] == 'F')) mutate_rows(data, size);

    gf_store *s = NULL;
    if (gf_store_open(work, 0, &s) != GF_OK) {
        CHECK(!s && !strchr(gf_errmsg(), '\n'));
        return 0;
    }
    static const unsigned needs[] = {0, GF_STORE_NEED_FORCES, GF_STORE_NEED_MOMENTS};
    for (int k = 0; k < 3; k++) {
        gf_dataset ds;
        if (gf_store_load(s, needs[k], &ds) == GF_OK) check_loaded(&ds, needs[k]), gf_dataset_free(&ds);
        else CHECK(!strchr(gf_errmsg(), '\n'));
    }
    char *name = NULL, *cap = NULL;
    if (gf_store_get_site(s, &name, &cap) == GF_OK) free(name), free(cap);
    gf_store_counts c;
    if (gf_store_counts_get(s, &c) == GF_OK) CHECK(c.cycles >= 0 && c.with_forces <= c.cycles);
    gf_store_speed_count *sc = NULL;
    int n = 0;
    if (gf_store_speed_counts(s, &sc, &n) == GF_OK) free(sc);
    gf_store_subject *sj = NULL;
    if (gf_store_subjects(s, &sj, &n) == GF_OK) free(sj);
    gf_xstats st;
    gf_store_get_xstats(s, &st);
    gf_store_close(s);
    return 0;
}

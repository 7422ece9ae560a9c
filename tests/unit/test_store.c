#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rng.h"
#include "sites/dataset.h"
#include "sites/stats.h"
#include "sites/store.h"
#include "tests/unit/testutil.h"

/* ---------- fixtures ---------- */

static const char *const SPEEDS[] = {"slow", "med", "fast"};

/* n cycles of random-bit-rich floats; cycle i belongs to subject <prefix><i/3>
 * at speed SPEEDS[i%3], trial number `trial`. Mass and height depend only on
 * the subject so that subjects agree across imports. */
static void make_ds(gf_dataset *ds, int n, int forces, int moments, const char *prefix, int trial, uint64_t seed)
{
    cr_assert_eq(gf_dataset_alloc(ds, n, forces, moments), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (size_t k = 0; k < (size_t)n * GF_T * GF_DIN; k++) ds->x[k] = (float)(gf_rng_normal(&r) * 30);
    if (forces)
        for (size_t k = 0; k < (size_t)n * GF_T * GF_NF; k++) ds->yf[k] = (float)(gf_rng_uniform(&r) * 1500);
    if (moments)
        for (size_t k = 0; k < (size_t)n * GF_T * GF_NM; k++) ds->ym[k] = (float)(gf_rng_normal(&r) * 60);
    for (int i = 0; i < n; i++) {
        gf_cycle_meta *m = &ds->meta[i];
        snprintf(m->subject_id, sizeof m->subject_id, "%s%02d", prefix, i / 3);
        snprintf(m->speed, sizeof m->speed, "%s", SPEEDS[i % 3]);
        m->height_m = 1.6f + 0.0123f * (float)(i / 3);
        m->weight_kg = 61.37f + 1.7f * (float)(i / 3);
        m->cadence_spm = i % 3 == 0 ? 78.f : i % 3 == 1 ? 115.3f : 135.f;
        m->trial = trial;
    }
}

static char *tmp_path(const char *name)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    char *p = gf_path_join(d, name);
    cr_assert_not_null(p);
    return p;
}

static gf_store *open_new(const char *path)
{
    gf_store *s = NULL;
    gf_err e = gf_store_open(path, 1, &s);
    cr_assert_eq(e, GF_OK, "open %s: %s", path, gf_errmsg());
    return s;
}

static void add_ok(gf_store *s, const gf_dataset *ds)
{
    gf_err e = gf_store_add(s, ds, "unit test");
    cr_assert_eq(e, GF_OK, "add: %s", gf_errmsg());
}

static gf_store_counts counts(gf_store *s)
{
    gf_store_counts c;
    cr_assert_eq(gf_store_counts_get(s, &c), GF_OK, "%s", gf_errmsg());
    return c;
}

static void assert_counts_eq(gf_store_counts a, gf_store_counts b)
{
    cr_assert_eq(a.subjects, b.subjects);
    cr_assert_eq(a.trials, b.trials);
    cr_assert_eq(a.cycles, b.cycles);
    cr_assert_eq(a.with_forces, b.with_forces);
    cr_assert_eq(a.with_moments, b.with_moments);
}

static void assert_meta_eq(const gf_cycle_meta *a, const gf_cycle_meta *b)
{
    cr_assert_str_eq(a->subject_id, b->subject_id);
    cr_assert_str_eq(a->speed, b->speed);
    cr_assert_eq(a->height_m, b->height_m);
    cr_assert_eq(a->weight_kg, b->weight_kg);
    cr_assert_eq(a->cadence_spm, b->cadence_spm);
    cr_assert_eq(a->trial, b->trial);
}

/* Cycles [0, n) of got equal cycles [from, from + n) of want, bit for bit. */
static void assert_cycles_eq(const gf_dataset *got, const gf_dataset *want, int64_t from, int64_t n)
{
    size_t o = (size_t)from;
    cr_assert_eq(memcmp(got->x, want->x + o * GF_T * GF_DIN, (size_t)n * GF_T * GF_DIN * sizeof(float)), 0);
    if (got->yf && want->yf)
        cr_assert_eq(memcmp(got->yf, want->yf + o * GF_T * GF_NF, (size_t)n * GF_T * GF_NF * sizeof(float)), 0);
    if (got->ym && want->ym)
        cr_assert_eq(memcmp(got->ym, want->ym + o * GF_T * GF_NM, (size_t)n * GF_T * GF_NM * sizeof(float)), 0);
    for (int64_t i = 0; i < n; i++) assert_meta_eq(&got->meta[i], &want->meta[from + i]);
}

static void assert_msg_has(const char *needle)
{
    cr_assert(strstr(gf_errmsg(), needle) != NULL, "message '%s' should contain '%s'", gf_errmsg(), needle);
}

/* ---------- round trip ---------- */

Test(store, round_trip_bit_exact_after_reopen)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 9, 1, 1, "H", 1, 11);
    gf_store *s = open_new(path);
    cr_assert_eq(gf_store_set_site(s, "Site A", "{\"system\":\"optical\",\"noise_deg\":0.5}"), GF_OK, "%s",
                 gf_errmsg());
    add_ok(s, &ds);
    gf_store_close(s);

    cr_assert_eq(gf_store_open(path, 0, &s), GF_OK, "%s", gf_errmsg());
    gf_dataset got;
    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_FORCES | GF_STORE_NEED_MOMENTS, &got), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(got.n, 9);
    cr_assert_not_null(got.yf);
    cr_assert_not_null(got.ym);
    assert_cycles_eq(&got, &ds, 0, 9);
    gf_dataset_free(&got);

    char *name, *cap;
    cr_assert_eq(gf_store_get_site(s, &name, &cap), GF_OK);
    cr_assert_str_eq(name, "Site A");
    cr_assert_str_eq(cap, "{\"system\":\"optical\",\"noise_deg\":0.5}");
    free(name); free(cap);

    gf_store_counts c = counts(s);
    cr_assert_eq(c.subjects, 3);
    cr_assert_eq(c.trials, 9);
    cr_assert_eq(c.cycles, 9);
    cr_assert_eq(c.with_forces, 9);
    cr_assert_eq(c.with_moments, 9);

    gf_store_speed_count *sc;
    int nsc;
    cr_assert_eq(gf_store_speed_counts(s, &sc, &nsc), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(nsc, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(sc[i].speed, SPEEDS[i]); /* ordered slow, med, fast */
        cr_assert_eq(sc[i].subjects, 3);
        cr_assert_eq(sc[i].cycles, 3);
    }
    free(sc);
    gf_store_subject *sj;
    int nsj;
    cr_assert_eq(gf_store_subjects(s, &sj, &nsj), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(nsj, 3);
    cr_assert_str_eq(sj[2].subject_id, "H02");
    cr_assert_eq(sj[2].weight_kg, ds.meta[6].weight_kg);
    cr_assert_eq(sj[2].trials, 3);
    cr_assert_eq(sj[2].cycles, 3);
    free(sj);

    /* The store is in WAL mode with the schema version set. */
    gf_store_close(s);
    cr_assert_eq(tu_sh("test \"$(sqlite3 '%s' 'PRAGMA journal_mode; PRAGMA user_version;' | tr '\\n' ' ')\" = 'wal %d '",
                       path, GF_STORE_SCHEMA), 0);
    gf_dataset_free(&ds);
    free(path);
}

Test(store, cycles_of_one_trial_share_it)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 3, 1, 0, "H", 1, 5);
    for (int i = 0; i < 3; i++) snprintf(ds.meta[i].speed, sizeof ds.meta[i].speed, "self");
    ds.meta[1].cadence_spm = 101.5f; /* per-cycle cadence survives */
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_counts c = counts(s);
    cr_assert_eq(c.trials, 1);
    cr_assert_eq(c.cycles, 3);
    cr_assert_eq(tu_sh("test \"$(sqlite3 '%s' 'SELECT group_concat(idx) FROM cycles')\" = '0,1,2'", path), 0);
    gf_dataset got;
    cr_assert_eq(gf_store_load(s, 0, &got), GF_OK, "%s", gf_errmsg());
    cr_assert_not_null(got.yf); /* every cycle has forces */
    cr_assert_null(got.ym);
    assert_cycles_eq(&got, &ds, 0, 3);
    gf_dataset_free(&got);
    /* The same trial in a later import is a duplicate. */
    gf_dataset one;
    make_ds(&one, 1, 1, 0, "H", 1, 6);
    snprintf(one.meta[0].speed, sizeof one.meta[0].speed, "self");
    cr_assert_eq(gf_store_add(s, &one, NULL), GF_EINVAL);
    assert_counts_eq(counts(s), c);
    gf_store_close(s);
    gf_dataset_free(&ds); gf_dataset_free(&one);
    free(path);
}

/* A moments-only import next to a full one: need=FORCES returns only the first. */
Test(store, need_filters_by_targets)
{
    char *path = tmp_path("site.db");
    gf_dataset full, mom;
    make_ds(&full, 6, 1, 1, "H", 1, 21);
    make_ds(&mom, 3, 0, 1, "P", 1, 22);
    gf_store *s = open_new(path);
    add_ok(s, &full);
    add_ok(s, &mom);

    gf_dataset got;
    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_FORCES, &got), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(got.n, 6);
    cr_assert_not_null(got.yf);
    cr_assert_not_null(got.ym); /* all six also have moments */
    assert_cycles_eq(&got, &full, 0, 6);
    gf_dataset_free(&got);

    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_MOMENTS, &got), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(got.n, 9);
    cr_assert_null(got.yf); /* not every cycle has forces */
    cr_assert_not_null(got.ym);
    assert_cycles_eq(&got, &full, 0, 6); /* insertion order: full first */
    gf_dataset tail = {.n = 3, .x = got.x + 6 * GF_T * GF_DIN, .ym = got.ym + 6 * GF_T * GF_NM, .meta = got.meta + 6};
    assert_cycles_eq(&tail, &mom, 0, 3);
    gf_dataset_free(&got);

    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_FORCES | GF_STORE_NEED_MOMENTS, &got), GF_OK);
    cr_assert_eq(got.n, 6);
    gf_dataset_free(&got);
    cr_assert_eq(gf_store_load(s, 4u, &got), GF_EINVAL);

    gf_store_counts c = counts(s);
    cr_assert_eq(c.cycles, 9);
    cr_assert_eq(c.with_forces, 6);
    cr_assert_eq(c.with_moments, 9);
    cr_assert_eq(c.subjects, 3);
    gf_store_close(s);
    gf_dataset_free(&full); gf_dataset_free(&mom);
    free(path);
}

/* ---------- refused imports leave the store unchanged ---------- */

Test(store, duplicate_trial_refused_nothing_written)
{
    char *path = tmp_path("site.db");
    gf_dataset a, b;
    make_ds(&a, 3, 1, 1, "H", 1, 31);
    /* b: a new subject (cycles 0-2), a new trial of H00, then H00/fast/1 again. */
    make_ds(&b, 5, 1, 1, "N", 1, 32);
    b.meta[3] = a.meta[0];
    b.meta[3].trial = 2;
    b.meta[4] = a.meta[2];
    gf_store *s = open_new(path);
    add_ok(s, &a);
    gf_store_counts before = counts(s);
    cr_assert_eq(gf_store_add(s, &b, "again"), GF_EINVAL);
    assert_msg_has("subject H00, speed fast, trial 1");
    assert_msg_has(path);
    assert_counts_eq(counts(s), before);
    /* The failed import left no transaction open: another connection can write. */
    gf_store *other = NULL;
    cr_assert_eq(gf_store_open(path, 0, &other), GF_OK, "%s", gf_errmsg());
    b.meta[4].trial = 2;
    b.meta[3].trial = 3;
    cr_assert_eq(gf_store_add(other, &b, "fixed"), GF_OK, "%s", gf_errmsg());
    gf_store_close(other);
    cr_assert_eq(counts(s).cycles, before.cycles + 5);
    gf_store_close(s);
    gf_dataset_free(&a); gf_dataset_free(&b);
    free(path);
}

Test(store, conflicting_subject_mass_refused_nothing_written)
{
    char *path = tmp_path("site.db");
    gf_dataset a, b;
    make_ds(&a, 3, 1, 1, "H", 1, 41);
    make_ds(&b, 6, 1, 1, "H", 2, 42); /* H00 and H01, new trials */
    b.meta[4].weight_kg += 0.5f;      /* H01 is new here, but its cycles disagree */
    gf_store *s = open_new(path);
    add_ok(s, &a);
    gf_store_counts before = counts(s);
    cr_assert_eq(gf_store_add(s, &b, NULL), GF_EINVAL);
    assert_msg_has("subject H01");
    assert_counts_eq(counts(s), before);

    /* Disagreement with a subject stored by an earlier import. */
    b.meta[4].weight_kg = b.meta[3].weight_kg;
    for (int i = 0; i < 3; i++) b.meta[i].height_m = 1.99f;
    cr_assert_eq(gf_store_add(s, &b, NULL), GF_EINVAL);
    assert_msg_has("subject H00");
    assert_counts_eq(counts(s), before);
    gf_store_close(s);
    gf_dataset_free(&a); gf_dataset_free(&b);
    free(path);
}

Test(store, invalid_values_refused_nothing_written)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 6, 1, 1, "H", 1, 51);
    gf_store *s = open_new(path);
    gf_store_counts empty = counts(s);

    ds.x[4 * GF_T * GF_DIN + 7 * GF_DIN + 6] = NAN; /* cycle 4, frame 7, knee_angle_r */
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_ENUMERIC);
    assert_msg_has("cycle 4");
    assert_msg_has("knee_angle_r frame 7");
    assert_counts_eq(counts(s), empty);
    ds.x[4 * GF_T * GF_DIN + 7 * GF_DIN + 6] = 0;

    ds.ym[5 * GF_T * GF_NM + 2] = INFINITY;
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_ENUMERIC);
    assert_msg_has("hip_rotation_r_moment");
    ds.ym[5 * GF_T * GF_NM + 2] = 0;

    snprintf(ds.meta[2].speed, sizeof ds.meta[2].speed, "brisk");
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_EINVAL);
    assert_msg_has("brisk");
    snprintf(ds.meta[2].speed, sizeof ds.meta[2].speed, "fast");

    ds.meta[1].trial = 0;
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_ERANGE);
    ds.meta[1].trial = 1;
    ds.meta[3].weight_kg = 0;
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_ERANGE);
    assert_msg_has("weight_kg");
    ds.meta[3].weight_kg = ds.meta[4].weight_kg;
    memset(ds.meta[0].subject_id, 'A', sizeof ds.meta[0].subject_id); /* unterminated */
    cr_assert_eq(gf_store_add(s, &ds, NULL), GF_EINVAL);
    assert_counts_eq(counts(s), empty);
    snprintf(ds.meta[0].subject_id, sizeof ds.meta[0].subject_id, "H00");

    gf_dataset none = {0};
    cr_assert_eq(gf_store_add(s, &none, NULL), GF_EINVAL);
    add_ok(s, &ds); /* repaired, it goes in */
    cr_assert_eq(counts(s).cycles, 6);
    gf_store_close(s);
    gf_dataset_free(&ds);
    free(path);
}

/* ---------- files that are not (readable) stores ---------- */

static void assert_open_fails(const char *path, int create, gf_err want, const char *needle)
{
    gf_store *s = (gf_store *)1;
    gf_err e = gf_store_open(path, create, &s);
    cr_assert_eq(e, want, "open %s: got %d (%s), want %d", path, e, gf_errmsg(), want);
    cr_assert_null(s);
    assert_msg_has(path);
    if (needle) assert_msg_has(needle);
}

Test(store, refuses_foreign_and_missing_files)
{
    const char *d = tu_tmpdir();
    char *text = gf_path_join(d, "notes.db"), *foreign = gf_path_join(d, "other.db");
    char *empty = gf_path_join(d, "empty.db"), *missing = gf_path_join(d, "missing.db");
    cr_assert_eq(tu_sh("printf 'hello, this is not a database at all, just text\\n%%.0s' $(seq 200) > '%s'", text), 0);
    assert_open_fails(text, 0, GF_EFORMAT, "not a database");
    assert_open_fails(text, 1, GF_EFORMAT, "not a database");

    cr_assert_eq(tu_sh("sqlite3 '%s' 'CREATE TABLE patients(name TEXT); INSERT INTO patients VALUES (\"x\")'", foreign), 0);
    assert_open_fails(foreign, 0, GF_EFORMAT, "not a gaitfed site store");
    assert_open_fails(foreign, 1, GF_EFORMAT, "not a gaitfed site store");
    /* Refusing did not touch it: still rollback journal, no application id. */
    cr_assert_eq(tu_sh("test \"$(sqlite3 '%s' 'PRAGMA journal_mode; PRAGMA application_id; SELECT count(*) FROM sqlite_master' "
                       "| tr '\\n' ' ')\" = 'delete 0 1 '", foreign), 0);

    cr_assert_eq(tu_sh(": > '%s'", empty), 0);
    assert_open_fails(empty, 0, GF_EFORMAT, "empty database");
    assert_open_fails(missing, 0, GF_ENOTFOUND, NULL);
    assert_open_fails(d, 1, GF_EINVAL, "not a regular file");
    gf_store *s = open_new(empty); /* create=1 initializes an empty file */
    gf_store_close(s);
    free(text); free(foreign); free(empty); free(missing);
}

Test(store, refuses_newer_or_unknown_schema_and_changed_channels)
{
    char *path = tmp_path("site.db");
    gf_store_close(open_new(path));
    cr_assert_eq(tu_sh("sqlite3 '%s' 'PRAGMA user_version = %d'", path, GF_STORE_SCHEMA + 1), 0);
    assert_open_fails(path, 1, GF_EUNSUPPORTED, "newer");
    cr_assert_eq(tu_sh("sqlite3 '%s' 'PRAGMA user_version = 0'", path), 0);
    assert_open_fails(path, 0, GF_EFORMAT, "schema version 0");
    cr_assert_eq(tu_sh("sqlite3 '%s' 'PRAGMA user_version = %d; "
                       "UPDATE channels SET name = \"knee_flexion_r\" WHERE name = \"knee_angle_r\"'",
                       path, GF_STORE_SCHEMA), 0);
    assert_open_fails(path, 0, GF_EFORMAT, "knee_flexion_r");
    cr_assert_eq(tu_sh("sqlite3 '%s' 'DROP TABLE xstats'", path), 0);
    assert_open_fails(path, 0, GF_EFORMAT, "xstats");
    free(path);
}

/* A truncated or damaged store fails with a message naming it, at open or at load. */
Test(store, damaged_file_is_an_error_not_a_crash)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 30, 1, 1, "H", 1, 61);
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_close(s);
    /* Cut at various lengths, or pages in the cycle data zeroed (open succeeds, load fails). */
    const char *cuts[] = {"50", "100", "4096", "8192", "half", "zero-middle"};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        char *cut = tmp_path("cut.db");
        if (!strcmp(cuts[k], "zero-middle"))
            cr_assert_eq(tu_sh("cp '%s' '%s' && dd if=/dev/zero of='%s' bs=4096 seek=40 count=2 conv=notrunc 2>/dev/null",
                               path, cut, cut), 0);
        else if (!strcmp(cuts[k], "half"))
            cr_assert_eq(tu_sh("head -c $(( $(stat -c %%s '%s') / 2 )) '%s' > '%s'", path, path, cut), 0);
        else
            cr_assert_eq(tu_sh("head -c %s '%s' > '%s'", cuts[k], path, cut), 0);
        gf_err e = gf_store_open(cut, 0, &s);
        if (e == GF_OK) {
            gf_dataset got;
            e = gf_store_load(s, 0, &got);
            gf_store_close(s);
            if (e == GF_OK) gf_dataset_free(&got);
        }
        cr_assert_neq(e, GF_OK, "damaged store (%s) was accepted", cuts[k]);
        cr_log_info("%s: %s", cuts[k], gf_errmsg());
        assert_msg_has(cut);
        free(cut);
    }
    gf_dataset_free(&ds);
    free(path);
}

Test(store, corrupted_blob_names_the_cycle)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 4, 1, 1, "H", 1, 71);
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_close(s);
    /* An outside tool bypassing the schema's CHECKs writes a 3-byte x. */
    cr_assert_eq(tu_sh("sqlite3 '%s' 'PRAGMA ignore_check_constraints = 1; UPDATE cycles SET x = x'\\''010203'\\'' WHERE id = 3'",
                       path), 0);
    cr_assert_eq(gf_store_open(path, 0, &s), GF_OK, "%s", gf_errmsg());
    gf_dataset got;
    cr_assert_eq(gf_store_load(s, 0, &got), GF_EFORMAT);
    assert_msg_has("cycle 3: x holds 3 bytes");
    cr_assert_eq(got.n, 0);
    cr_assert_null(got.x);
    /* Moments of the right length but NaN, and an integer where a blob belongs. */
    char *nan = tmp_path("nan.bin");
    cr_assert_eq(tu_sh("printf '\\000\\000\\300\\177%%.0s' $(seq 540) > '%s' && test $(stat -c %%s '%s') -eq 2160", nan,
                       nan), 0);
    cr_assert_eq(tu_sh("sqlite3 '%s' 'PRAGMA ignore_check_constraints = 1; UPDATE cycles SET x = (SELECT x FROM cycles WHERE id = 1) WHERE id = 3; "
                       "UPDATE cycles SET ym = readfile('\\''%s'\\'') WHERE id = 2; "
                       "UPDATE cycles SET yf = 12345 WHERE id = 4'",
                       path, nan), 0);
    free(nan);
    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_MOMENTS, &got), GF_EFORMAT);
    assert_msg_has("cycle 2: ym channel hip_flexion_r_moment frame 0 is not finite");
    cr_assert_eq(tu_sh("sqlite3 '%s' 'UPDATE cycles SET ym = (SELECT ym FROM cycles WHERE id = 1) WHERE id = 2'", path), 0);
    cr_assert_eq(gf_store_load(s, GF_STORE_NEED_FORCES, &got), GF_EFORMAT);
    assert_msg_has("cycle 4: yf is not a blob");
    gf_store_close(s);
    gf_dataset_free(&ds);
    free(path);
}

/* ---------- an independent reader ---------- */

Test(store, python_reads_what_c_wrote)
{
    char *path = tmp_path("site.db");
    char *want = tmp_path("want.txt");
    char *py = tmp_path("check.py");
    gf_dataset ds;
    make_ds(&ds, 6, 1, 1, "H", 1, 81);
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_close(s);

    /* Cycle 4 (H01, med), written as exact hex floats. */
    FILE *f = fopen(want, "w");
    cr_assert_not_null(f);
    const gf_cycle_meta *m = &ds.meta[4];
    fprintf(f, "%s %s %d %a %a\n", m->subject_id, m->speed, m->trial, (double)m->weight_kg, (double)m->cadence_spm);
    for (int k = 0; k < GF_T * GF_DIN; k++) fprintf(f, "%a\n", (double)ds.x[4 * GF_T * GF_DIN + k]);
    for (int k = 0; k < GF_T * GF_NF; k++) fprintf(f, "%a\n", (double)ds.yf[4 * GF_T * GF_NF + k]);
    for (int k = 0; k < GF_T * GF_NM; k++) fprintf(f, "%a\n", (double)ds.ym[4 * GF_T * GF_NM + k]);
    fclose(f);

    f = fopen(py, "w");
    cr_assert_not_null(f);
    fputs("import sqlite3, sys\n"
          "import numpy as np\n"
          "db, want = sys.argv[1], sys.argv[2]\n"
          "lines = open(want).read().split('\\n')\n"
          "sid, speed, trial, w, cad = lines[0].split()\n"
          "vals = np.array([float.fromhex(v) for v in lines[1:] if v], dtype=np.float32)\n"
          "con = sqlite3.connect(db)\n"
          "assert con.execute('PRAGMA application_id').fetchone()[0] == 0x47616974\n"
          "cols = [r[0] for r in con.execute(\"SELECT name FROM channels WHERE kind='input' ORDER BY position\")]\n"
          "assert cols[6] == 'knee_angle_r' and len(cols) == 10, cols\n"
          "units = {r[0] for r in con.execute(\"SELECT unit FROM channels WHERE kind='moment'\")}\n"
          "assert units == {'N\\u00b7m'}, units\n"
          "row = con.execute('SELECT c.x, c.yf, c.ym, s.weight_kg, c.cadence_spm FROM cycles c '\n"
          "  'JOIN trials t ON c.trial = t.id JOIN subjects s ON t.subject = s.id '\n"
          "  'WHERE s.subject_id = ? AND t.speed = ? AND t.trial = ? AND c.idx = 0', (sid, speed, int(trial))).fetchone()\n"
          "x = np.frombuffer(row[0], '<f4').reshape(180, 10)\n"
          "yf = np.frombuffer(row[1], '<f4').reshape(180, 14)\n"
          "ym = np.frombuffer(row[2], '<f4').reshape(180, 3)\n"
          "got = np.concatenate([x.ravel(), yf.ravel(), ym.ravel()])\n"
          "if got.shape != vals.shape or not np.array_equal(got.view('<u4'), vals.astype('<f4').view('<u4')):\n"
          "    sys.exit('blob mismatch')\n"
          "if np.float32(row[3]) != np.float32(float.fromhex(w)) or np.float32(row[4]) != np.float32(float.fromhex(cad)):\n"
          "    sys.exit('metadata mismatch')\n",
          f);
    fclose(f);
    cr_assert_eq(tu_sh("'%s' '%s' '%s' '%s'", tu_python(), py, path, want), 0, "python reader disagrees");
    /* The checker can fail: a changed value makes it exit non-zero. */
    cr_assert_eq(tu_sh("sed -i '2s/.*/0x1p+0/' '%s'", want), 0);
    cr_assert_neq(tu_sh("'%s' '%s' '%s' '%s' 2>/dev/null", tu_python(), py, path, want), 0);
    gf_dataset_free(&ds);
    free(path); free(want); free(py);
}

/* ---------- site identity and statistics ---------- */

Test(store, site_identity_replaced_and_validated)
{
    char *path = tmp_path("site.db");
    gf_store *s = open_new(path);
    char *name, *cap;
    cr_assert_eq(gf_store_get_site(s, &name, &cap), GF_OK);
    cr_assert_null(name);
    cr_assert_null(cap);
    cr_assert_eq(gf_store_set_site(s, "A", "{\"system\":\"inertial\"}"), GF_OK);
    cr_assert_eq(gf_store_set_site(s, "B", "{\"system\":\"video\",\"noise_deg\":3}"), GF_OK);
    cr_assert_eq(gf_store_set_site(s, "C", "[1,2]"), GF_EINVAL);
    cr_assert_eq(gf_store_set_site(s, "C", "{broken"), GF_EINVAL);
    assert_msg_has("not a JSON object");
    cr_assert_eq(gf_store_set_site(s, "", "{}"), GF_EINVAL);
    cr_assert_eq(gf_store_get_site(s, &name, &cap), GF_OK);
    cr_assert_str_eq(name, "B");
    cr_assert_str_eq(cap, "{\"system\":\"video\",\"noise_deg\":3}");
    free(name); free(cap);
    gf_store_close(s);
    free(path);
}

static void assert_site(gf_store *s, const char *want_name, const char *want_cap)
{
    char *name, *cap;
    cr_assert_eq(gf_store_get_site(s, &name, &cap), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(name, want_name);
    cr_assert_str_eq(cap, want_cap);
    free(name);
    free(cap);
}

/* No capture profile: {"system":"unknown"} on a new site, the stored one kept
 * otherwise. gf_store_add_site writes the site in the import's transaction:
 * an import that fails (a trial already there) leaves the old identity. */
Test(store, site_without_profile_and_site_in_the_import_transaction)
{
    char *path = tmp_path("site.db");
    gf_store *s = open_new(path);
    cr_assert_eq(gf_store_set_site(s, "A", NULL), GF_OK, "%s", gf_errmsg());
    assert_site(s, "A", "{\"system\":\"unknown\"}");
    cr_assert_eq(gf_store_set_site(s, "A", "{\"system\":\"optical\"}"), GF_OK);
    cr_assert_eq(gf_store_set_site(s, "B", NULL), GF_OK);
    assert_site(s, "B", "{\"system\":\"optical\"}");

    gf_dataset a;
    make_ds(&a, 3, 1, 0, "H", 1, 41);
    cr_assert_eq(gf_store_add_site(s, &a, "first", "C", "{\"system\":\"inertial\"}"), GF_OK, "%s", gf_errmsg());
    assert_site(s, "C", "{\"system\":\"inertial\"}");
    gf_store_counts before = counts(s);
    cr_assert_eq(gf_store_add_site(s, &a, "again", "D", "{\"system\":\"markerless\"}"), GF_EINVAL);
    assert_msg_has("is already in the store");
    assert_site(s, "C", "{\"system\":\"inertial\"}");
    assert_counts_eq(counts(s), before);
    /* A bad profile or name is refused before anything is written. */
    a.meta[0].trial = a.meta[1].trial = a.meta[2].trial = 2;
    cr_assert_eq(gf_store_add_site(s, &a, "bad", "E", "[1]"), GF_EINVAL);
    cr_assert_eq(gf_store_add_site(s, &a, "bad", "", NULL), GF_EINVAL);
    assert_counts_eq(counts(s), before);
    /* NULL site: the identity is not touched. */
    cr_assert_eq(gf_store_add_site(s, &a, "plain", NULL, NULL), GF_OK, "%s", gf_errmsg());
    assert_site(s, "C", "{\"system\":\"inertial\"}");
    gf_store_close(s);
    gf_dataset_free(&a);
    free(path);
}

Test(store, xstats_round_trip_exact)
{
    char *path = tmp_path("site.db");
    gf_dataset ds;
    make_ds(&ds, 5, 0, 1, "H", 1, 91);
    gf_xstats st, got;
    cr_assert_eq(gf_xstats_compute(&ds, &st), GF_OK);
    gf_store *s = open_new(path);
    cr_assert_eq(gf_store_get_xstats(s, &got), GF_ENOTFOUND);
    cr_assert_eq(gf_store_set_xstats(s, &st), GF_OK, "%s", gf_errmsg());
    st.mean[0] += 1; /* replacing works */
    cr_assert_eq(gf_store_set_xstats(s, &st), GF_OK, "%s", gf_errmsg());
    gf_store_close(s);
    cr_assert_eq(gf_store_open(path, 0, &s), GF_OK);
    cr_assert_eq(gf_store_get_xstats(s, &got), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(got.count, st.count);
    for (int c = 0; c < GF_DIN; c++) {
        cr_assert_eq(got.mean[c], st.mean[c]);
        cr_assert_eq(got.sd[c], st.sd[c]);
    }
    gf_xstats bad = st;
    bad.sd[3] = NAN;
    cr_assert_eq(gf_store_set_xstats(s, &bad), GF_ENUMERIC);
    assert_msg_has("hip_flexion_l");
    cr_assert_eq(gf_store_get_xstats(s, &got), GF_OK); /* the earlier ones survive */
    cr_assert_eq(got.mean[0], st.mean[0]);
    gf_store_close(s);
    gf_dataset_free(&ds);
    free(path);
}

Test(store, fixed_import_time_is_stored_and_validated)
{
    char *path = tmp_path("time.db");
    gf_store *s = open_new(path);
    gf_dataset a, b;
    make_ds(&a, 3, 1, 1, "T", 1, 11);
    make_ds(&b, 3, 1, 1, "U", 1, 12);
    cr_assert_eq(gf_store_set_import_time(s, "2000-13-01"), GF_EINVAL);
    cr_assert_eq(gf_store_set_import_time(s, "2000-01-01T00:00:00Z"), GF_OK);
    add_ok(s, &a);
    cr_assert_eq(gf_store_set_import_time(s, NULL), GF_OK);
    add_ok(s, &b);
    gf_store_close(s);
    /* The fixed time on the first import's trials, the clock (this century) on the second's. */
    cr_assert_eq(tu_sh("test \"$(sqlite3 %s \"SELECT count(*) FROM trials WHERE imported_at = '2000-01-01T00:00:00Z'\")\" "
                       "= \"$(sqlite3 %s \"SELECT count(*) FROM trials t JOIN subjects s ON s.id = t.subject "
                       "WHERE s.subject_id LIKE 'T%%'\")\"", path, path), 0);
    cr_assert_eq(tu_sh("test \"$(sqlite3 %s \"SELECT count(*) FROM trials WHERE imported_at LIKE '20%%' AND "
                       "imported_at > '2020'\")\" -gt 0", path), 0);
    gf_dataset_free(&a);
    gf_dataset_free(&b);
    free(path);
}

/* Found by tests/fuzz/fuzz_store.c: rows the schema forbids (written with its
 * CHECKs off) loaded as if valid: an unknown speed, an empty subject id, a
 * negative height or cadence. */
static void corrupt(const char *path, const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

Test(store, forbidden_meta_refused_on_load_regression)
{
    static const char *const bad[][2] = {
        {"UPDATE trials SET speed = x'db' WHERE id = 1", "speed not slow|med|fast|self"},
        {"UPDATE subjects SET subject_id = '' WHERE id = 1", "empty subject_id"},
        {"UPDATE subjects SET height_m = -1 WHERE id = 1", "trial number, weight, height or cadence out of range"},
        {"UPDATE cycles SET cadence_spm = -5 WHERE id = 1", "trial number, weight, height or cadence out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "meta%zu.db", i);
        char *path = tmp_path(name);
        gf_dataset ds, got;
        make_ds(&ds, 2, 1, 1, "H", 1, 5);
        gf_store *s = open_new(path);
        add_ok(s, &ds);
        gf_store_close(s);
        corrupt(path, bad[i][0]);
        cr_assert_eq(gf_store_open(path, 0, &s), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_store_load(s, 0, &got), GF_EFORMAT, "%s", bad[i][0]);
        assert_msg_has(bad[i][1]);
        cr_assert_eq(got.n, 0);
        gf_store_close(s);
        gf_dataset_free(&ds);
        free(path);
    }
}

/* Found by tests/fuzz/fuzz_store.c: a channel's unit holding a newline went
 * verbatim into the open error, which must be one line. */
Test(store, changed_channel_error_is_one_line_regression)
{
    char *path = tmp_path("chan.db");
    gf_dataset ds;
    make_ds(&ds, 1, 1, 1, "H", 1, 9);
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_close(s);
    corrupt(path, "UPDATE channels SET unit = char(9, 10) || 'deg' WHERE kind = 'input' AND position = 2");
    cr_assert_eq(gf_store_open(path, 0, &s), GF_EFORMAT);
    cr_assert_null(s);
    assert_msg_has("input channel 2 is 'hip_rotation_r' (??deg)");
    cr_assert_null(strchr(gf_errmsg(), '\n'));
    gf_dataset_free(&ds);
    free(path);
}

/* Found by tests/fuzz/fuzz_store.c: SQLite's message for a damaged schema
 * quotes the file's text (here a table name with a newline) and went
 * verbatim into the error, which must be one line. */
Test(store, damaged_schema_error_is_one_line_regression)
{
    char *path = tmp_path("schema.db");
    gf_dataset ds;
    make_ds(&ds, 1, 1, 1, "H", 1, 11);
    gf_store *s = open_new(path);
    add_ok(s, &ds);
    gf_store_close(s);
    corrupt(path, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET name = 't' || char(10) || 'rials', "
                  "sql = 'CREATE TABLE' || char(10) || '(' WHERE name = 'trials'");
    gf_err e = gf_store_open(path, 0, &s);
    if (e == GF_OK) { /* SQLite may defer the schema check to the first statement */
        gf_dataset got;
        e = gf_store_load(s, 0, &got);
        gf_store_close(s);
    }
    cr_assert_neq(e, GF_OK);
    cr_assert(strstr(gf_errmsg(), "malformed database schema"), "%s", gf_errmsg());
    cr_assert_null(strchr(gf_errmsg(), '\n'), "%s", gf_errmsg());
    gf_dataset_free(&ds);
    free(path);
}

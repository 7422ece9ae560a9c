/* Ground-reaction-force labels of other labs (sites/grf_columns.h). Fixtures
 * are the repository's real GRF files with their force labels rewritten by
 * the oracle (tests/unit/osim_oracle.py relabel), the data untouched: each
 * must give the heel strikes and cycles of the original file. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "sites/gaitcycle.h"
#include "sites/grf_columns.h"
#include "sites/opensim.h"
#include "tests/unit/osim_testutil.h"

#define IK1 osim_path("subject01_walk1_ik.mot")
#define GRF1 osim_path("subject01_walk1_grf.mot")
#define IK2 osim_path("coordinates.sto")
#define GRF2 osim_path("grf_walk.mot")
#define ID2 osim_path("id_walk.sto")

/* Right / left label families ("{}": vx vy vz px py pz) as labs write them. */
static const struct {
    const char *right, *left;
} k_variants[] = {
    {"ground_force_{}", "1_ground_force_{}"},             /* Gait2354 / Hamner: unprefixed is right */
    {"r_ground_force_{}", "l_ground_force_{}"},
    {"R_ground_force_{}", "L_ground_force_{}"},           /* opensim-models Rajagopal grf_run.mot */
    {"ground_force_r_{}", "ground_force_l_{}"},           /* OpenSim 4 examples */
    {"right_ground_force_{}", "left_ground_force_{}"},
    {"right_foot_force_{}", "left_foot_force_{}"},        /* opensim-models joint-reaction tutorial */
    {"calcn_r_ground_force_{}", "calcn_l_ground_force_{}"},
    {"calcn_r_force_{}", "calcn_l_force_{}"},             /* AddBiomechanics */
    {"1_ground_force_{}", "2_ground_force_{}"},           /* plate-numbered, plate 1 = right */
    {"ground_force_1_{}", "ground_force_2_{}"},
};
#define N_VARIANTS (sizeof k_variants / sizeof *k_variants)

/* "ground_force_{}" -> "ground_force_vy" */
static void vy(const char *tmpl, char *out, size_t cap)
{
    const char *p = strstr(tmpl, "{}");
    cr_assert_not_null(p);
    snprintf(out, cap, "%.*svy%s", (int)(p - tmpl), tmpl, p + 2);
}

static void relabel(const char *src, const char *dst, const char *from_r, const char *to_r, const char *from_l,
                    const char *to_l)
{
    char *o = oracle("relabel '%s' '%s' '%s=%s' '%s=%s'", src, dst, from_r, to_r, from_l, to_l);
    cr_assert_not_null(o, "relabel of %s failed", src);
    free(o);
}

/* tr imports exactly the cycles of ref (same strikes, same inputs and moments). */
static void same_cycles(const gf_osim_trial *tr, const gf_dataset *ref, const gf_osim_report *rref,
                        const char *want_r, const char *want_l)
{
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(tr, &ds, &rep), GF_OK, "%s: %s", want_r, gf_errmsg());
    cr_assert_str_eq(rep.grf_col, want_r);
    cr_assert_str_eq(rep.grf_left_col, want_l);
    cr_assert_eq(rep.n_hs, rref->n_hs, "%s: %d strikes vs %d", want_r, rep.n_hs, rref->n_hs);
    for (int k = 0; k < rep.n_hs; k++) cr_assert_eq(rep.hs[k], rref->hs[k], "%s: strike %d", want_r, k);
    cr_assert_eq(ds.n, ref->n);
    for (int i = 0; i < ds.n; i++) cr_assert_eq(rep.cycle_start[i], rref->cycle_start[i]);
    cr_assert_eq(memcmp(ds.x, ref->x, (size_t)ds.n * GF_T * GF_DIN * sizeof(float)), 0, "%s: inputs differ", want_r);
    cr_assert_eq(!ds.ym, !ref->ym);
    if (ds.ym) cr_assert_eq(memcmp(ds.ym, ref->ym, (size_t)ds.n * GF_T * GF_NM * sizeof(float)), 0);
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);
}

/* Every variant of one real GRF file (orig_r / orig_l: its own label families). */
static void variants_of(const char *grf, const char *orig_r, const char *orig_l, gf_osim_trial tr)
{
    const char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    tr.grf = grf;
    gf_dataset ref;
    gf_osim_report rref;
    cr_assert_eq(gf_osim_import_ex(&tr, &ref, &rref), GF_OK, "%s", gf_errmsg());
    cr_assert_geq(ref.n, 1);
    for (size_t v = 0; v < N_VARIANTS; v++) {
        char path[1024], want_r[64], want_l[64];
        snprintf(path, sizeof path, "%s/variant%zu.mot", dir, v);
        relabel(grf, path, orig_r, k_variants[v].right, orig_l, k_variants[v].left);
        vy(k_variants[v].right, want_r, sizeof want_r);
        vy(k_variants[v].left, want_l, sizeof want_l);
        gf_osim_trial t = tr;
        t.grf = path;
        same_cycles(&t, &ref, &rref, want_r, want_l);
    }
    gf_dataset_free(&ref);
    gf_osim_report_free(&rref);
}

Test(grf_columns, subject01_label_variants_find_the_same_cycles)
{
    gf_osim_trial tr = {.ik = IK1, .mass_kg = 72.6, .subject_id = "S01"};
    variants_of(GRF1, "ground_force_{}", "l_ground_force_{}", tr);
}

/* The Rajagopal walk with its GRF shifted +0.3 s (see test_gaitcycle.c) so
 * that one right cycle lies inside its IK and ID. */
Test(grf_columns, rajagopal_walk_label_variants_find_the_same_cycles)
{
    const char *dir = tu_tmpdir();
    char grf[1024];
    snprintf(grf, sizeof grf, "%s/grf_shift.mot", dir);
    char *o = oracle("shift '%s' '%s' 0.3", GRF2, grf);
    cr_assert_not_null(o);
    free(o);
    gf_osim_trial tr = {.ik = IK2, .id = ID2, .mass_kg = 75, .subject_id = "W2"};
    variants_of(grf, "ground_force_r_{}", "ground_force_l_{}", tr);
}

/* Negative control: the names decide, not the column order. Right and left
 * families swapped by name: the strikes found are the left foot's (numpy on
 * the original l_ground_force_vy), not the right's. */
Test(grf_columns, swapped_names_follow_the_names)
{
    const char *dir = tu_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/swapped.mot", dir);
    relabel(GRF1, path, "ground_force_{}", "ground_force_l_{}", "l_ground_force_{}", "ground_force_r_{}");
    gf_osim_trial tr = {.ik = IK1, .grf = path, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(rep.grf_col, "ground_force_r_vy");
    char *o = oracle("hs '%s' l_ground_force_vy 20 0.4", GRF1);
    double left[64], right[64];
    int nl = oracle_doubles(o, left, 64);
    free(o);
    o = oracle("hs '%s' ground_force_vy 20 0.4", GRF1);
    int nr = oracle_doubles(o, right, 64);
    free(o);
    cr_assert_eq(rep.n_hs, nl);
    for (int k = 0; k < nl; k++) cr_assert(fabs(rep.hs[k] - left[k]) <= 1e-12 * (1 + fabs(left[k])));
    cr_assert(nr > 0 && fabs(right[0] - left[0]) > 0.1, "left and right strikes must differ for this control");
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);
}

/* Names no rule knows: detection fails listing the vertical-force-like
 * columns; naming them explicitly imports the original cycles; a wrong name
 * lists the columns too; every message is one line. */
Test(grf_columns, explicit_columns_and_errors_list_the_columns)
{
    const char *dir = tu_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/plates.mot", dir);
    relabel(GRF1, path, "ground_force_{}", "FP1_{}", "l_ground_force_{}", "FP2_{}");
    gf_osim_trial tr = {.ik = IK1, .grf = path, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ds;
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_ENOTFOUND);
    const char *m = gf_errmsg();
    cr_assert(strstr(m, "plates.mot: no right vertical force column") && strstr(m, "--grf-columns"), "%s", m);
    cr_assert(strstr(m, "vertical-force-like columns: FP1_vy, FP2_vy"), "%s", m);
    cr_assert_null(strchr(m, '\n'));

    gf_osim_trial orig = {.ik = IK1, .grf = GRF1, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ref;
    gf_osim_report rref;
    cr_assert_eq(gf_osim_import_ex(&orig, &ref, &rref), GF_OK, "%s", gf_errmsg());
    tr.grf_right = "FP1_vy";
    tr.grf_left = "FP2_vy";
    same_cycles(&tr, &ref, &rref, "FP1_vy", "FP2_vy");
    tr.grf_left = NULL; /* the left one is optional */
    same_cycles(&tr, &ref, &rref, "FP1_vy", "");

    tr.grf_right = "FP3_vy";
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_ENOTFOUND);
    m = gf_errmsg();
    cr_assert(strstr(m, "no column 'FP3_vy' (given as the right vertical force); vertical-force-like columns: "
                        "FP1_vy, FP2_vy"), "%s", m);
    tr.grf_right = "FP1_vy";
    tr.grf_left = "FP1_vy";
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_EINVAL);
    cr_assert(strstr(gf_errmsg(), "same column 'FP1_vy'"), "%s", gf_errmsg());
    tr.grf_right = NULL;
    tr.grf_left = "FP2_vy";
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_EINVAL);
    tr.grf_right = "time"; /* time is never a force */
    tr.grf_left = NULL;
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_ENOTFOUND);
    cr_assert_eq(ds.n, 0);
    gf_dataset_free(&ref);
    gf_osim_report_free(&rref);
}

/* A table with no force-like label at all (the IK file given as GRF): the
 * message lists its first columns and how many more, still one short line. */
Test(grf_columns, column_list_is_capped)
{
    gf_osim_table t;
    cr_assert_eq(gf_osim_read(IK1, &t), GF_OK, "%s", gf_errmsg());
    int r, l;
    cr_assert_eq(gf_grf_columns(&t, "ik.mot", NULL, NULL, &r, &l), GF_ENOTFOUND);
    const char *m = gf_errmsg();
    cr_assert(strstr(m, "; columns: pelvis_tilt, pelvis_list, ") && strstr(m, "... (15 more)"), "%s", m);
    cr_assert(strlen(m) < 400 && !strchr(m, '\n'), "%s", m);
    cr_assert_eq(r, -1);
    gf_osim_free(&t);
}

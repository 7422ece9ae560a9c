#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "sites/gaitcycle.h"
#include "sites/opensim.h"
#include "tests/unit/osim_testutil.h"

#define IK1 osim_path("subject01_walk1_ik.mot")
#define GRF1 osim_path("subject01_walk1_grf.mot")
#define ID1 osim_path("std_subject01_InverseDynamics.sto")
#define SO1 osim_path("std_walk_subject01_ankle_spring_StaticOptimization_force.sto")
#define IK2 osim_path("coordinates.sto")
#define GRF2 osim_path("grf_walk.mot")
#define ID2 osim_path("id_walk.sto")

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* Heel strikes on both real GRF files agree with a NumPy recomputation. */
Test(gaitcycle, heel_strikes_match_numpy)
{
    struct { const char *file, *col; int n_min; } cases[] = {
        {"subject01_walk1_grf.mot", "ground_force_vy", 10},
        {"subject01_walk1_grf.mot", "l_ground_force_vy", 10},
        {"grf_walk.mot", "ground_force_r_vy", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gf_osim_table g;
        cr_assert_eq(gf_osim_read(osim_path(cases[i].file), &g), GF_OK, "%s", gf_errmsg());
        int c = gf_osim_col(&g, cases[i].col);
        cr_assert_geq(c, 0);
        double *hs;
        int n;
        cr_assert_eq(gf_heel_strikes(g.data, g.data + c, g.n_rows, g.n_cols, 20, 0.4, &hs, &n), GF_OK);
        char *out = oracle("hs '%s' %s 20 0.4", osim_path(cases[i].file), cases[i].col);
        cr_assert_not_null(out);
        double want[64];
        int nw = oracle_doubles(out, want, 64);
        cr_assert_eq(n, nw, "%s %s: %d vs numpy %d", cases[i].file, cases[i].col, n, nw);
        cr_assert_geq(n, cases[i].n_min);
        for (int k = 0; k < n; k++) cr_assert(close_to(hs[k], want[k], 1e-12), "hs %d: %g vs %g", k, hs[k], want[k]);
        free(out);
        free(hs);
        gf_osim_free(&g);
    }
}

/* min gap: a chattering signal yields one strike; a signal starting in stance none. */
Test(gaitcycle, heel_strike_min_gap_and_edges)
{
    double t[8] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 1.1};
    double f[8] = {0, 40, 10, 50, 0, 0, 0, 100};
    double *hs;
    int n;
    cr_assert_eq(gf_heel_strikes(t, f, 8, 1, 20, 0.4, &hs, &n), GF_OK);
    cr_assert_eq(n, 2);
    cr_assert(close_to(hs[0], 0.05, 1e-12));
    cr_assert(close_to(hs[1], 1.02, 1e-12));
    free(hs);
    double g[3] = {100, 100, 100};
    cr_assert_eq(gf_heel_strikes(t, g, 3, 1, 20, 0.4, &hs, &n), GF_OK);
    cr_assert_eq(n, 0);
    free(hs);
}

/* Resampling of a real IK channel equals np.interp at the same 180 times. */
Test(gaitcycle, resample_matches_np_interp)
{
    gf_osim_table ik;
    cr_assert_eq(gf_osim_read(IK1, &ik), GF_OK);
    int c = gf_osim_col(&ik, "hip_flexion_r");
    double t0 = 0.6182, t1 = 1.8522;
    float out[GF_T * 2];
    cr_assert_eq(gf_resample(ik.data, ik.data + c, ik.n_rows, ik.n_cols, t0, t1, out, 2, GF_T), GF_OK);
    char args[8192];
    int n = snprintf(args, sizeof args, "interp '%s' hip_flexion_r", IK1);
    for (int k = 0; k < GF_T; k += 7) n += snprintf(args + n, sizeof args - n, " %.17g", t0 + k * (t1 - t0) / (GF_T - 1));
    n += snprintf(args + n, sizeof args - n, " %.17g", t1);
    char *o = oracle("%s", args);
    cr_assert_not_null(o);
    double want[40];
    int nw = oracle_doubles(o, want, 40);
    cr_assert_eq(nw, (GF_T + 6) / 7 + 1);
    for (int i = 0; i < nw - 1; i++)
        cr_assert(close_to(out[i * 7 * 2], want[i], 1e-6), "k=%d: %g vs %g", i * 7, out[i * 7 * 2], want[i]);
    cr_assert(close_to(out[(GF_T - 1) * 2], want[nw - 1], 1e-6));
    free(o);
    /* Not covered: before the first or after the last sample. */
    cr_assert_eq(gf_resample(ik.data, ik.data + c, ik.n_rows, ik.n_cols, 0.4, 1.0, out, 1, GF_T), GF_ERANGE);
    cr_assert_eq(gf_resample(ik.data, ik.data + c, ik.n_rows, ik.n_cols, 3.0, 4.01, out, 1, GF_T), GF_ERANGE);
    cr_assert_eq(gf_resample(ik.data, ik.data + c, ik.n_rows, ik.n_cols, 1.0, 1.0, out, 1, GF_T), GF_EINVAL);
    gf_osim_free(&ik);
}

/* x at sample 0 of every cycle equals the IK interpolated at its heel strike
 * (knee negated for Gait2392; left hip adduction and rotation negated into
 * the Gait2Hip convention), for all 10 channels. */
static void check_x0(const gf_dataset *ds, int i, const char *ik, double hs, double scale, int flip_knee)
{
    for (int c = 0; c < GF_DIN; c++) {
        char *o = oracle("interp '%s' %s %.17g", ik, gf_in_cols[c], hs);
        cr_assert_not_null(o);
        double v;
        cr_assert_eq(oracle_doubles(o, &v, 1), 1);
        free(o);
        v *= scale;
        if (flip_knee && (c == 6 || c == 8)) v = -v;
        if (c == 4 || c == 5) v = -v; /* left hip adduction, rotation: Gait2Hip's unmirrored convention */
        float got = ds->x[(size_t)i * GF_T * GF_DIN + c];
        cr_assert(close_to(got, v, 1e-5), "cycle %d %s: %g vs %g", i, gf_in_cols[c], got, v);
    }
}

static float knee_peak(const gf_dataset *ds, int i)
{
    float mx = -1e9f;
    for (int k = 0; k < GF_T; k++) mx = fmaxf(mx, ds->x[((size_t)i * GF_T + k) * GF_DIN + 6]);
    return mx;
}

Test(gaitcycle, import_subject01_two_right_cycles)
{
    gf_osim_trial tr = {.ik = IK1, .grf = GRF1, .mass_kg = 72.6, .height_m = 1.8, .subject_id = "S01"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_OK, "%s", gf_errmsg());
    /* IK covers 0.5-4.0 s; right heel strikes 0.618, 1.852, 3.077, 4.294: two cycles. */
    cr_assert_eq(ds.n, 2);
    cr_assert_eq(rep.n_cycles, 2);
    cr_assert_str_eq(rep.grf_col, "ground_force_vy");
    cr_assert_eq(rep.knee_flipped, 1);
    cr_assert_eq(rep.ik_radians, 0);
    cr_assert_null(ds.ym);
    cr_assert_null(ds.yf);
    char *o = oracle("hs '%s' ground_force_vy 20 0.4", GRF1);
    double hs[64];
    int nh = oracle_doubles(o, hs, 64);
    free(o);
    cr_assert_eq(rep.n_hs, nh);
    for (int i = 0; i < 2; i++) {
        int k = rep.cycle_start[i];
        cr_assert_eq(k, i);
        cr_assert(close_to(rep.hs[k], hs[k], 1e-12));
        check_x0(&ds, i, IK1, hs[k], 1.0, 1);
        cr_assert(close_to(ds.meta[i].cadence_spm, 120.0 / (hs[k + 1] - hs[k]), 1e-6));
        cr_assert_eq(ds.meta[i].trial, 1); /* both cycles belong to the one recording */
        cr_assert_str_eq(ds.meta[i].subject_id, "S01");
        cr_assert_str_eq(ds.meta[i].speed, "self");
        cr_assert_float_eq(ds.meta[i].weight_kg, 72.6f, 1e-5);
        float pk = knee_peak(&ds, i);
        cr_assert(pk > 55 && pk < 75, "knee flexion peak %g", pk);
    }
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);

    /* knee_sign=+1 declares the file flexion-positive: knees come out negated. */
    tr.knee_sign = 1;
    gf_dataset raw;
    cr_assert_eq(gf_osim_import(&tr, &raw), GF_OK);
    cr_assert(knee_peak(&raw, 0) < 10, "unflipped Gait2392 knee stays negative");
    gf_dataset_free(&raw);
}

/* The real SO file comes from the 18-muscle model: most of the 14 outputs do
 * not map, so forces are dropped with a warning and x is still imported. */
Test(gaitcycle, import_real_so_warns_and_drops_forces)
{
    gf_osim_trial tr = {.ik = IK1, .grf = GRF1, .so = SO1, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(ds.n, 2);
    cr_assert_null(ds.yf);
    cr_assert(strstr(rep.warning, "StaticOptimization_force.sto"), "%s", rep.warning);
    cr_assert(strstr(rep.warning, "10 of 14"), "%s", rep.warning);
    cr_assert(strstr(rep.warning, "glmed_r") && strstr(rep.warning, "piri_r"), "%s", rep.warning);
    cr_assert_null(strstr(rep.warning, "iliopsoas_r"), "iliopsoas_r maps to iliopsoas_r: %s", rep.warning);
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);
}

/* Neither real ID covers a whole right cycle (subject01 ID 0.4-1.6 s vs cycle
 * 0.618-1.852 s; the Rajagopal walk has strikes at 0.267 and 1.411 s but its
 * IK starts at 0.45 s): the import says so, listing the strikes. */
Test(gaitcycle, import_real_walks_with_id_report_no_cycle)
{
    gf_osim_trial tr = {.ik = IK1, .grf = GRF1, .id = ID1, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "subject01_walk1_grf.mot") && strstr(gf_errmsg(), "ID [0.399999, 1.6]"),
              "%s", gf_errmsg());
    cr_assert_eq(rep.n_hs, 12);
    cr_assert_eq(ds.n, 0);
    gf_osim_report_free(&rep);

    gf_osim_trial tr2 = {.ik = IK2, .grf = GRF2, .id = ID2, .mass_kg = 75, .subject_id = "W2"};
    cr_assert_eq(gf_osim_import_ex(&tr2, &ds, &rep), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "grf_walk.mot") && strstr(gf_errmsg(), "0.2668, 1.411"), "%s", gf_errmsg());
    cr_assert_eq(rep.n_hs, 2);
    cr_assert_str_eq(rep.grf_col, "ground_force_r_vy");
    gf_osim_report_free(&rep);
}

/* Rajagopal walk with its GRF time-shifted by +0.3 s (a test fixture made by
 * the oracle, so that one right cycle, 0.567-1.711 s, lies inside the IK):
 * radians -> degrees, no knee flip, hip moments from the real ID. */
Test(gaitcycle, import_rajagopal_walk_with_id)
{
    const char *dir = tu_tmpdir();
    char grf[512];
    snprintf(grf, sizeof grf, "%s/grf_shift.mot", dir);
    char *o = oracle("shift '%s' '%s' 0.3", GRF2, grf);
    cr_assert_not_null(o);
    free(o);
    gf_osim_trial tr = {.ik = IK2, .grf = grf, .id = ID2, .mass_kg = 75, .subject_id = "W2", .speed = "med"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(ds.n, 1);
    cr_assert_eq(rep.ik_radians, 1);
    cr_assert_eq(rep.knee_flipped, 0);
    cr_assert_not_null(ds.ym);
    double t0 = rep.hs[rep.cycle_start[0]], t1 = rep.hs[rep.cycle_start[0] + 1];
    cr_assert(close_to(t0, 0.2668 + 0.3, 1e-3) && close_to(t1, 1.4112 + 0.3, 1e-3), "%g %g", t0, t1);
    check_x0(&ds, 0, IK2, t0, 180 / M_PI, 0);
    float pk = knee_peak(&ds, 0);
    cr_assert(pk > 55 && pk < 75, "knee flexion peak %g", pk);
    cr_assert_str_eq(ds.meta[0].speed, "med");
    double tm = t0 + 90 * (t1 - t0) / (GF_T - 1);
    for (int c = 0; c < GF_NM; c++) {
        o = oracle("interp '%s' %s %.17g", ID2, gf_moment_cols[c], tm);
        double v;
        cr_assert_eq(oracle_doubles(o, &v, 1), 1);
        free(o);
        float got = ds.ym[90 * GF_NM + c];
        cr_assert(close_to(got, v, 1e-5), "%s: %g vs %g", gf_moment_cols[c], got, v);
    }
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);
}

/* A synthetic SO table over the IK's time range: muscle j carries j + 10 t, so
 * each output is (sum of its bundle's j) + 10 t (bundle size), exactly linear. */
static void write_so(const char *path, const char *const *names, int n, int paths)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "so\nversion=%d\nnRows=351\nnColumns=%d\ninDegrees=no\nendheader\ntime", paths ? 3 : 1, n + 1);
    for (int j = 0; j < n; j++) fprintf(f, "\t%s%s", paths ? "/forceset/" : "", names[j]);
    for (int r = 0; r <= 350; r++) {
        double t = 0.5 + r * 0.01;
        fprintf(f, "\n%.17g", t);
        for (int j = 0; j < n; j++) fprintf(f, "\t%.17g", (j + 1) + 10 * t);
    }
    fputc('\n', f);
    fclose(f);
}

static void check_forces(const char *const *names, int n, int paths, const char *const expect[GF_NF])
{
    char so[512];
    snprintf(so, sizeof so, "%s/so.sto", tu_tmpdir());
    write_so(so, names, n, paths);
    gf_osim_trial tr = {.ik = IK1, .grf = GRF1, .so = so, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ds;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import_ex(&tr, &ds, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_not_null(ds.yf, "%s", rep.warning);
    cr_assert_str_eq(rep.warning, "");
    double t0 = rep.hs[0], t1 = rep.hs[1];
    for (int o = 0; o < GF_NF; o++) {
        /* expect[o]: space-separated muscle names of the bundle. */
        double base = 0;
        int cnt = 0;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", expect[o]);
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
            int j = 0;
            while (j < n && strcmp(names[j], tok)) j++;
            cr_assert_lt(j, n, "%s not in the table", tok);
            base += j + 1;
            cnt++;
        }
        for (int k = 0; k < GF_T; k += 89) {
            double t = t0 + k * (t1 - t0) / (GF_T - 1);
            float got = ds.yf[(size_t)k * GF_NF + o];
            cr_assert(close_to(got, base + 10 * t * cnt, 1e-5), "%s k=%d: %g vs %g", gf_force_cols[o], k, got,
                      base + 10 * t * cnt);
        }
    }
    gf_dataset_free(&ds);
    gf_osim_report_free(&rep);
}

Test(gaitcycle, so_gait2392_bundles_summed)
{
    static const char *const names[] = {
        "vasti_r", "add_brev_r", "add_long_r", "add_mag1_r", "add_mag2_r", "add_mag3_r", "grac_r", "iliacus_r",
        "psoas_r", "rect_fem_r", "sar_r", "glut_max1_r", "glut_max2_r", "glut_max3_r", "bifemlh_r", "semimem_r",
        "semiten_r", "glut_med1_r", "glut_med2_r", "glut_med3_r", "glut_min1_r", "glut_min2_r", "glut_min3_r",
        "tfl_r", "peri_r", "glut_med1_l"};
    static const char *const expect[GF_NF] = {
        "add_brev_r", "add_long_r", "add_mag1_r add_mag2_r add_mag3_r", "grac_r", "iliacus_r psoas_r",
        "rect_fem_r", "sar_r", "glut_max1_r glut_max2_r glut_max3_r", "bifemlh_r", "semimem_r semiten_r",
        "glut_med1_r glut_med2_r glut_med3_r", "glut_min1_r glut_min2_r glut_min3_r", "tfl_r", "peri_r"};
    check_forces(names, (int)(sizeof names / sizeof *names), 0, expect);
}

Test(gaitcycle, so_rajagopal_path_labels_summed)
{
    static const char *const names[] = {
        "addbrev_r", "addlong_r", "addmagDist_r", "addmagIsch_r", "addmagMid_r", "addmagProx_r", "grac_r",
        "iliacus_r", "psoas_r", "recfem_r", "sart_r", "glmax1_r", "glmax2_r", "glmax3_r", "bflh_r", "bfsh_r",
        "semimem_r", "semiten_r", "glmed1_r", "glmed2_r", "glmed3_r", "glmin1_r", "glmin2_r", "glmin3_r", "tfl_r",
        "piri_r"};
    static const char *const expect[GF_NF] = {
        "addbrev_r", "addlong_r", "addmagDist_r addmagIsch_r addmagMid_r addmagProx_r", "grac_r",
        "iliacus_r psoas_r", "recfem_r", "sart_r", "glmax1_r glmax2_r glmax3_r", "bflh_r", "semimem_r semiten_r",
        "glmed1_r glmed2_r glmed3_r", "glmin1_r glmin2_r glmin3_r", "tfl_r", "piri_r"};
    check_forces(names, (int)(sizeof names / sizeof *names), 1, expect);
}

/* Units without a declaration: the IK minus its "Angles are in degrees" line
 * (magnitude says degrees) and a radian copy with no inDegrees (magnitude says
 * radians) both give the original degrees. */
Test(gaitcycle, units_heuristic_without_declaration)
{
    gf_osim_table ik;
    cr_assert_eq(gf_osim_read(IK1, &ik), GF_OK);
    const char *dir = tu_tmpdir();
    char deg[512], rad[512];
    snprintf(deg, sizeof deg, "%s/deg.mot", dir);
    snprintf(rad, sizeof rad, "%s/rad.mot", dir);
    FILE *fd = fopen(deg, "w"), *fr = fopen(rad, "w");
    cr_assert(fd && fr);
    fprintf(fd, "Coordinates\nnRows=%d\nnColumns=%d\nendheader\n", ik.n_rows, ik.n_cols);
    fprintf(fr, "Coordinates\nnRows=%d\nnColumns=%d\nendheader\n", ik.n_rows, ik.n_cols);
    for (int c = 0; c < ik.n_cols; c++) { fprintf(fd, "%s%s", c ? "\t" : "", ik.labels[c]); fprintf(fr, "%s%s", c ? "\t" : "", ik.labels[c]); }
    for (int r = 0; r < ik.n_rows; r++) {
        fputc('\n', fd);
        fputc('\n', fr);
        for (int c = 0; c < ik.n_cols; c++) {
            double v = ik.data[(size_t)r * ik.n_cols + c];
            const char *l = ik.labels[c]; /* pelvis_tx/ty/tz are metres */
            int is_angle = c > 0 && !(strlen(l) == 9 && !strncmp(l, "pelvis_t", 8) && l[8] != 'i');
            fprintf(fd, "%s%.17g", c ? "\t" : "", v);
            fprintf(fr, "%s%.17g", c ? "\t" : "", is_angle ? v * M_PI / 180 : v);
        }
    }
    fclose(fd);
    fclose(fr);
    gf_osim_free(&ik);
    gf_osim_trial tr = {.ik = IK1, .grf = GRF1, .mass_kg = 72.6, .subject_id = "S01"};
    gf_dataset ref, a, b;
    gf_osim_report rep;
    cr_assert_eq(gf_osim_import(&tr, &ref), GF_OK);
    tr.ik = deg;
    cr_assert_eq(gf_osim_import_ex(&tr, &a, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(rep.ik_radians, 0);
    gf_osim_report_free(&rep);
    tr.ik = rad;
    cr_assert_eq(gf_osim_import_ex(&tr, &b, &rep), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(rep.ik_radians, 1);
    cr_assert_eq(rep.knee_flipped, 1);
    gf_osim_report_free(&rep);
    cr_assert_eq(a.n, ref.n);
    cr_assert_eq(b.n, ref.n);
    for (size_t i = 0; i < (size_t)ref.n * GF_T * GF_DIN; i++) {
        cr_assert(close_to(a.x[i], ref.x[i], 1e-6));
        cr_assert(close_to(b.x[i], ref.x[i], 1e-5), "%zu: %g vs %g", i, b.x[i], ref.x[i]);
    }
    gf_dataset_free(&ref);
    gf_dataset_free(&a);
    gf_dataset_free(&b);
}

Test(gaitcycle, import_errors_name_file_and_column)
{
    gf_dataset ds;
    /* A GRF file given as IK has no joint angles. */
    gf_osim_trial tr = {.ik = GRF2, .grf = GRF2, .mass_kg = 70, .subject_id = "X"};
    cr_assert_eq(gf_osim_import(&tr, &ds), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "grf_walk.mot: no column 'hip_flexion_r'"), "%s", gf_errmsg());
    /* An IK file given as ID has no moments. */
    gf_osim_trial t2 = {.ik = IK1, .grf = GRF1, .id = IK1, .mass_kg = 70, .subject_id = "X"};
    cr_assert_eq(gf_osim_import(&t2, &ds), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "subject01_walk1_ik.mot: no column 'hip_flexion_r_moment'"), "%s", gf_errmsg());
    /* An IK file given as GRF has no vertical force. */
    gf_osim_trial t3 = {.ik = IK1, .grf = IK1, .mass_kg = 70, .subject_id = "X"};
    cr_assert_eq(gf_osim_import(&t3, &ds), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "subject01_walk1_ik.mot: no right vertical force"), "%s", gf_errmsg());
    gf_osim_trial t4 = {.ik = IK1, .grf = GRF1, .mass_kg = 0, .subject_id = "X"};
    cr_assert_eq(gf_osim_import(&t4, &ds), GF_EINVAL);
    gf_osim_trial t5 = {.ik = IK1, .grf = GRF1, .mass_kg = 70, .subject_id = "X", .speed = "veryfast"};
    cr_assert_eq(gf_osim_import(&t5, &ds), GF_EINVAL);
    gf_osim_trial t6 = {.ik = "/nonexistent.mot", .grf = GRF1, .mass_kg = 70, .subject_id = "X"};
    cr_assert_eq(gf_osim_import(&t6, &ds), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "/nonexistent.mot"));
    gf_osim_trial t7 = {.ik = IK1, .grf = GRF1, .mass_kg = 70, .subject_id = "X", .knee_sign = 2};
    cr_assert_eq(gf_osim_import(&t7, &ds), GF_EINVAL);
    cr_assert_eq(ds.n, 0);
    cr_assert_null(ds.x);
}

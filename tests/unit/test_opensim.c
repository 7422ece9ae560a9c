#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sites/opensim.h"
#include "tests/unit/osim_testutil.h"

static const char *const k_files[] = {
    "coordinates.sto", "id_walk.sto", "grf_walk.mot", "subject01_walk1_ik.mot", "subject01_walk1_grf.mot",
    "std_subject01_InverseDynamics.sto", "std_walk_subject01_ankle_spring_StaticOptimization_force.sto",
};

/* Every shared file: sizes, every label (raw and short) and spot values at the
 * first, second, middle and last rows agree with Python's own reading. */
Test(opensim, every_shared_file_matches_python)
{
    for (size_t f = 0; f < sizeof k_files / sizeof *k_files; f++) {
        const char *path = osim_path(k_files[f]);
        gf_osim_table t;
        cr_assert_eq(gf_osim_read(path, &t), GF_OK, "%s", gf_errmsg());
        char *out = oracle("table '%s'", path);
        cr_assert_not_null(out, "oracle failed on %s", path);
        int rows, cols, off;
        cr_assert_eq(sscanf(out, "%d %d%n", &rows, &cols, &off), 2);
        cr_assert_eq(t.n_rows, rows, "%s rows", k_files[f]);
        cr_assert_eq(t.n_cols, cols, "%s cols", k_files[f]);
        int n_labels = 0, n_values = 0;
        for (char *line = strtok(out + off, "\n"); line; line = strtok(NULL, "\n")) {
            char raw[256], sh[256];
            int r, c;
            double v;
            if (sscanf(line, "L %d %255s %255s", &c, raw, sh) == 3) {
                cr_assert_str_eq(t.raw_labels[c], raw);
                cr_assert_str_eq(t.labels[c], sh);
                n_labels++;
            } else if (sscanf(line, "V %d %d %lf", &r, &c, &v) == 3) {
                double got = t.data[(size_t)r * t.n_cols + c];
                cr_assert(got == v, "%s [%d][%d]: %.17g vs python %.17g", k_files[f], r, c, got, v);
                n_values++;
            }
        }
        cr_assert_eq(n_labels, cols);
        cr_assert_geq(n_values, 9);
        free(out);
        gf_osim_free(&t);
    }
}

/* Header variants, read off the files' first lines (head -8). */
Test(opensim, header_variants_of_shared_files)
{
    struct { const char *f; const char *name; int version, deg, text; } want[] = {
        {"coordinates.sto", "Coordinates", 3, 0, -1},
        {"id_walk.sto", "Inverse Dynamics Generalized Forces", 1, 0, -1},
        {"grf_walk.mot", "grf_walk", 1, 0, -1},
        {"subject01_walk1_ik.mot", "Coordinates", 0, -1, 1},          /* "Angles are in degrees." */
        {"subject01_walk1_grf.mot", "subject01_walk1_grf.mot", 0, -1, -1}, /* legacy "name ...\t\t\t" */
        {"std_subject01_InverseDynamics.sto", "Inverse Dynamics", 0, -1, -1},
        {"std_walk_subject01_ankle_spring_StaticOptimization_force.sto", "ModelForces", 1, 0, -1},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        gf_osim_table t;
        cr_assert_eq(gf_osim_read(osim_path(want[i].f), &t), GF_OK, "%s", gf_errmsg());
        cr_assert_str_eq(t.name, want[i].name);
        cr_assert_eq(t.version, want[i].version, "%s", want[i].f);
        cr_assert_eq(t.in_degrees, want[i].deg, "%s", want[i].f);
        cr_assert_eq(t.text_degrees, want[i].text, "%s", want[i].f);
        gf_osim_free(&t);
    }
}

/* Values checked by eye in the file text (sed -n 10p / 7p). */
Test(opensim, hard_coded_values_and_path_labels)
{
    gf_osim_table t;
    /* coordinates.sto line 10 (first data row): time 0.45, hip_flexion_r 0.3965801380677928 rad. */
    cr_assert_eq(gf_osim_read(osim_path("coordinates.sto"), &t), GF_OK, "%s", gf_errmsg());
    int c = gf_osim_col(&t, "hip_flexion_r");
    cr_assert_eq(c, 7);
    cr_assert_eq(gf_osim_col(&t, "/jointset/hip_r/hip_flexion_r/value"), 7);
    cr_assert_eq(gf_osim_col(&t, "knee_angle_r_beta"), 30);
    cr_assert_eq(gf_osim_col(&t, "nonexistent"), -1);
    cr_assert_eq(t.data[0], 0.45);
    cr_assert_eq(t.data[c], 0.3965801380677928);
    gf_osim_free(&t);
    /* subject01_walk1_ik.mot line 10: knee_angle_r -17.89026917 deg (Gait2392: flexion negative). */
    cr_assert_eq(gf_osim_read(osim_path("subject01_walk1_ik.mot"), &t), GF_OK);
    c = gf_osim_col(&t, "knee_angle_r");
    cr_assert_eq(c, 10);
    cr_assert_eq(t.data[c], -17.89026917);
    cr_assert_eq(t.data[(size_t)210 * t.n_cols], 4.0);
    gf_osim_free(&t);
    /* subject01_walk1_grf.mot line 7: time 0, ground_force_vy 745.4661142, leading-space labels. */
    cr_assert_eq(gf_osim_read(osim_path("subject01_walk1_grf.mot"), &t), GF_OK);
    cr_assert_eq(gf_osim_col(&t, "ground_force_vy"), 2);
    cr_assert_eq(gf_osim_col(&t, "l_ground_force_vy"), 8);
    cr_assert_eq(t.data[2], 745.4661142);
    gf_osim_free(&t);
}

static gf_err parse_str(const char *s, gf_osim_table *t) { return gf_osim_parse("mem.sto", (const unsigned char *)s, strlen(s), t); }

Test(opensim, variants_crlf_scientific_negative_time_trailing_tabs)
{
    const char *s = "name demo\t\t\r\n"
                    "datacolumns 3\t\r\n"
                    "datarows 3\t\t\r\n"
                    "range -0.5 0.5\r\n"
                    "endheader\t\t\r\n"
                    "  time\t/jointset/knee_r/knee_angle_r/value\t/jointset/knee_r/knee_angle_r/speed\t\r\n"
                    "-5.0e-1\t1.5E+01\t-2e-3\t\r\n"
                    "  0\t+1.25e1\t.5\r\n"
                    "5e-1\t-0.0\t1e-310\r\n"
                    "\r\n";
    gf_osim_table t;
    cr_assert_eq(parse_str(s, &t), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(t.name, "demo");
    cr_assert_eq(t.n_rows, 3);
    cr_assert_eq(t.n_cols, 3);
    cr_assert_str_eq(t.labels[1], "knee_angle_r");
    cr_assert_str_eq(t.labels[2], "knee_angle_r_speed"); /* a speed is not an angle */
    cr_assert_eq(t.data[0], -0.5);
    cr_assert_eq(t.data[1], 15.0);
    cr_assert_eq(t.data[2], -2e-3);
    cr_assert_eq(t.data[4], 12.5);
    cr_assert_eq(t.data[5], 0.5);
    cr_assert_eq(t.data[6], 0.5);
    cr_assert(t.data[8] > 0 && t.data[8] < 1e-300);
    gf_osim_free(&t);

    /* Moco-style muscle labels and a state with a known suffix. */
    const char *m = "t\nversion=3\nendheader\ntime\t/forceset/soleus_r\t/forceset/soleus_r/activation\n0\t1\t2\n";
    cr_assert_eq(parse_str(m, &t), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(t.labels[1], "soleus_r");
    cr_assert_str_eq(t.labels[2], "soleus_r_activation");
    gf_osim_free(&t);

    /* No name line: the name is "", never NULL. */
    cr_assert_eq(parse_str("nRows=1\nendheader\ntime\ta\n0\t1\n", &t), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(t.name, "");
    gf_osim_free(&t);
}

/* A line of several KB: 600 columns of 17-digit numbers (~12 KB per row). */
Test(opensim, very_long_lines)
{
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "wide\nversion=1\nnRows=2\nnColumns=600\nendheader\ntime");
    for (int c = 1; c < 600; c++) n += (size_t)snprintf(s + n, cap - n, "\tc%d", c);
    for (int r = 0; r < 2; r++) {
        n += (size_t)snprintf(s + n, cap - n, "\n%d", r);
        for (int c = 1; c < 600; c++) n += (size_t)snprintf(s + n, cap - n, "\t%.17g", c * 1.000000001 + r);
    }
    gf_osim_table t;
    cr_assert_eq(gf_osim_parse("wide.sto", (unsigned char *)s, n, &t), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(t.n_cols, 600);
    cr_assert_eq(t.data[600 + 599], 599 * 1.000000001 + 1);
    gf_osim_free(&t);
    free(s);
}

/* Each malformed input fails with a one-line message naming the file, the line
 * and the problem. */
static void expect_fail(const char *what, const char *s, size_t len, gf_err code, const char *needle)
{
    gf_osim_table t;
    gf_errclear();
    gf_err e = gf_osim_parse(what, (const unsigned char *)s, len, &t);
    cr_assert_eq(e, code, "%s: got %d (%s)", what, e, gf_errmsg());
    cr_assert(strstr(gf_errmsg(), what) != NULL, "message names the file: %s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), needle) != NULL, "%s: message '%s' lacks '%s'", what, gf_errmsg(), needle);
    cr_assert_null(strchr(gf_errmsg(), '\n'));
    cr_assert_null(t.data);
    cr_assert_null(t.labels);
}
#define FAIL(what, lit, code, needle) expect_fail(what, lit, sizeof(lit) - 1, code, needle)

Test(opensim, malformed_inputs_fail_cleanly)
{
    FAIL("empty.sto", "", GF_EFORMAT, "empty");
    FAIL("blank.sto", "\n\n", GF_EFORMAT, "endheader");
    FAIL("noend.sto", "x\nnRows=1\ntime\ta\n0\t1\n", GF_EFORMAT, "endheader");
    FAIL("nolabels.sto", "x\nendheader\n\n", GF_EFORMAT, "labels");
    FAIL("norows.sto", "x\nendheader\ntime\ta\n", GF_EFORMAT, "no data rows");
    FAIL("ragged.sto", "x\nendheader\ntime\ta\tb\n0\t1\t2\n1\t1\n", GF_EFORMAT, "line 5: 2 values, expected 3");
    FAIL("extra.sto", "x\nendheader\ntime\ta\n0\t1\t2\n", GF_EFORMAT, "line 4: more than");
    FAIL("text.sto", "x\nendheader\ntime\ta\n0\t1\n1\tabc\n", GF_EFORMAT, "column 'a': not a finite number: 'abc'");
    FAIL("partial.sto", "x\nendheader\ntime\ta\n0\t1.5x\n", GF_EFORMAT, "'1.5x'");
    FAIL("inf.sto", "x\nendheader\ntime\ta\n0\tinf\n", GF_EFORMAT, "'inf'");
    FAIL("overflow.sto", "x\nendheader\ntime\ta\n0\t1e999\n", GF_EFORMAT, "'1e999'");
    FAIL("hex.sto", "x\nendheader\ntime\ta\n0\t0x10\n", GF_EFORMAT, "'0x10'");
    FAIL("nrows.sto", "x\nnRows=3\nendheader\ntime\ta\n0\t1\n1\t2\n", GF_EFORMAT, "declares 3 rows, the file holds 2");
    FAIL("ncols.sto", "x\nversion=1\nnColumns=3\nendheader\ntime\ta\n0\t1\n", GF_EFORMAT, "declares 3 columns");
    FAIL("datacols.mot", "name x\ndatacolumns 4\nendheader\ntime\ta\n0\t1\n", GF_EFORMAT, "declares 4 columns");
    FAIL("hugerows.sto", "x\nnRows=99999999999\nendheader\ntime\ta\n0\t1\n", GF_ERANGE, "nRows");
    FAIL("hugecols.sto", "x\nnColumns=100000\nendheader\ntime\ta\n0\t1\n", GF_ERANGE, "cap");
    FAIL("negrows.sto", "x\nnRows=-1\nendheader\ntime\ta\n0\t1\n", GF_EFORMAT, "nRows");
    FAIL("badver.sto", "x\nversion=abc\nendheader\ntime\ta\n0\t1\n", GF_EFORMAT, "version");
    FAIL("baddeg.sto", "x\ninDegrees=maybe\nendheader\ntime\ta\n0\t1\n", GF_EFORMAT, "inDegrees");
    FAIL("dup.sto", "x\nendheader\ntime\ta\tb\ta\n0\t1\t2\t3\n", GF_EFORMAT, "duplicate column label 'a'");
    FAIL("dupshort.sto", "x\nendheader\ntime\t/j/a/value\ta\n0\t1\t2\n", GF_EFORMAT, "short label 'a'");
    FAIL("notime.sto", "x\nendheader\nframe\ta\n0\t1\n", GF_EFORMAT, "expected 'time'");
    FAIL("backwards.sto", "x\nendheader\ntime\ta\n0\t1\n0\t2\n", GF_EFORMAT, "line 5: time 0 does not increase");
    FAIL("nantime.sto", "x\nendheader\ntime\ta\nnan\t1\n", GF_EFORMAT, "time");
    FAIL("nul.sto", "x\nendheader\ntime\ta\n0\t1\0\n", GF_EFORMAT, "line 4: NUL byte");

    /* Too many columns: a label row past the cap. */
    size_t cap = (GF_OSIM_MAX_COLS + 2) * 8 + 64, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s, cap, "x\nendheader\ntime");
    for (int c = 1; c <= GF_OSIM_MAX_COLS; c++) n += (size_t)snprintf(s + n, cap - n, "\tc%d", c);
    expect_fail("wide.sto", s, n, GF_ERANGE, "more than 4096 columns");
    free(s);
}

/* A real file cut mid-row: the last row is ragged, or (cut at a line end) the
 * declared nRows no longer matches. */
Test(opensim, truncated_real_files_fail)
{
    unsigned char *buf;
    size_t len;
    cr_assert_eq(gf_read_file(osim_path("subject01_walk1_ik.mot"), 1 << 20, &buf, &len), GF_OK);
    expect_fail("ik_cut.mot", (const char *)buf, len / 2, GF_EFORMAT, "values, expected 24");
    size_t at = len / 2;
    while (buf[at - 1] != '\n') at--;
    expect_fail("ik_cut_at_line.mot", (const char *)buf, at, GF_EFORMAT, "header declares 211 rows");
    expect_fail("ik_header_only.mot", (const char *)buf, 60, GF_EFORMAT, "endheader");
    /* NaN is kept (a consumer rejects it where it matters), but not a stray word. */
    gf_osim_table t;
    const char *nan_cell = "x\nendheader\ntime\ta\n0\tNaN\n";
    cr_assert_eq(parse_str(nan_cell, &t), GF_OK, "%s", gf_errmsg());
    cr_assert(isnan(t.data[1]));
    gf_osim_free(&t);
    free(buf);
}

Test(opensim, missing_file_names_path)
{
    gf_osim_table t;
    cr_assert_eq(gf_osim_read("/nonexistent/dir/x.mot", &t), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), "/nonexistent/dir/x.mot"));
    gf_osim_free(&t); /* safe on a zeroed table */
}

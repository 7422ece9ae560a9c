#include "sites/gaitcycle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sites/grf_columns.h"
#include "sites/opensim.h"

/* ---- heel strikes and resampling ---- */

gf_err gf_heel_strikes(const double *t, const double *fy, int n, int stride, double thresh_n, double min_gap_s,
                       double **hs, int *n_hs)
{
    *hs = NULL;
    *n_hs = 0;
    if (n < 0 || stride < 1 || !isfinite(thresh_n) || !(min_gap_s >= 0))
        return gf_fail(GF_EINVAL, "heel strikes: bad arguments (n %d, stride %d)", n, stride);
    double *out = NULL;
    int cap = 0, m = 0;
    double last = -INFINITY;
    for (int i = 1; i < n; i++) {
        double a = fy[(size_t)(i - 1) * stride], b = fy[(size_t)i * stride];
        if (!(a < thresh_n && b >= thresh_n)) continue; /* NaN never crosses */
        double ta = t[(size_t)(i - 1) * stride], tb = t[(size_t)i * stride];
        double th = ta + (thresh_n - a) / (b - a) * (tb - ta);
        if (th - last < min_gap_s) continue;
        if (m == cap) {
            int nc = cap ? cap * 2 : 16;
            double *np = realloc(out, (size_t)nc * sizeof *np);
            if (!np) { free(out); return gf_fail(GF_ENOMEM, "heel strikes: out of memory"); }
            out = np;
            cap = nc;
        }
        out[m++] = th;
        last = th;
    }
    *hs = out;
    *n_hs = m;
    return GF_OK;
}

gf_err gf_resample(const double *t, const double *v, int n, int stride, double t0, double t1, float *out,
                   int out_stride, int T)
{
    if (n < 2 || stride < 1 || T < 2 || out_stride < 1 || !(t1 > t0))
        return gf_fail(GF_EINVAL, "resample: bad arguments (n %d, T %d, [%g, %g])", n, T, t0, t1);
    double first = t[0], lastt = t[(size_t)(n - 1) * stride];
    if (!(t0 >= first && t1 <= lastt))
        return gf_fail(GF_ERANGE, "resample: [%g, %g] s is not covered by the samples [%g, %g] s", t0, t1, first,
                       lastt);
    int j = 0;
    for (int k = 0; k < T; k++) {
        double tk = k == T - 1 ? t1 : t0 + k * (t1 - t0) / (T - 1);
        while (j < n - 2 && t[(size_t)(j + 1) * stride] < tk) j++;
        double ta = t[(size_t)j * stride], tb = t[(size_t)(j + 1) * stride];
        if (!(tb > ta)) return gf_fail(GF_EINVAL, "resample: time does not increase at sample %d", j + 1);
        double w = (tk - ta) / (tb - ta);
        if (w < 0) w = 0;
        if (w > 1) w = 1;
        double va = v[(size_t)j * stride], vb = v[(size_t)(j + 1) * stride];
        out[(size_t)k * out_stride] = (float)(va + w * (vb - va));
    }
    return GF_OK;
}

/* ---- column mapping ---- */

/* OpenSim muscle names summed into each of our 14 outputs: the first
 * alternative whose muscles are all present wins. Gait2392, Rajagopal 2016 and
 * the 18-muscle gait10dof18musc names. */
#define MAX_ALT 4
#define MAX_BUNDLE 5
typedef struct {
    const char *out;
    const char *alt[MAX_ALT][MAX_BUNDLE];
} muscle_map;

static const muscle_map k_muscles[GF_NF] = {
    {"addbrev_r", {{"add_brev_r"}, {"addbrev_r"}}},
    {"addlong_r", {{"add_long_r"}, {"addlong_r"}}},
    {"addmag_r",
     {{"add_mag1_r", "add_mag2_r", "add_mag3_r"},
      {"addmagDist_r", "addmagIsch_r", "addmagMid_r", "addmagProx_r"},
      {"addmag_r"}}},
    {"grac_r", {{"grac_r"}}},
    {"iliopsoas_r", {{"iliacus_r", "psoas_r"}, {"iliopsoas_r"}}},
    {"recfem_r", {{"rect_fem_r"}, {"recfem_r"}}},
    {"sart_r", {{"sar_r"}, {"sart_r"}}},
    {"glmax_r",
     {{"glut_max1_r", "glut_max2_r", "glut_max3_r"}, {"glmax1_r", "glmax2_r", "glmax3_r"}, {"glut_max_r"}, {"glmax_r"}}},
    {"bflh_r", {{"bifemlh_r"}, {"bflh_r"}}},
    {"hamstring_r", {{"semimem_r", "semiten_r"}, {"hamstrings_r"}, {"hamstring_r"}}},
    {"glmed_r",
     {{"glut_med1_r", "glut_med2_r", "glut_med3_r"}, {"glmed1_r", "glmed2_r", "glmed3_r"}, {"glut_med_r"}, {"glmed_r"}}},
    {"glmin_r", {{"glut_min1_r", "glut_min2_r", "glut_min3_r"}, {"glmin1_r", "glmin2_r", "glmin3_r"}, {"glmin_r"}}},
    {"tfl_r", {{"tfl_r"}}},
    {"piri_r", {{"peri_r"}, {"piri_r"}}},
};

/* Columns summed for output `out_name`: fills cols (-1 terminated); 0 if unmapped. */
static int map_muscle(const gf_osim_table *so, const char *out_name, int cols[MAX_BUNDLE + 1])
{
    for (int m = 0; m < GF_NF; m++) {
        if (strcmp(k_muscles[m].out, out_name)) continue;
        for (int a = 0; a < MAX_ALT && k_muscles[m].alt[a][0]; a++) {
            int k = 0, ok = 1;
            for (; k < MAX_BUNDLE && k_muscles[m].alt[a][k]; k++) {
                cols[k] = gf_osim_col(so, k_muscles[m].alt[a][k]);
                if (cols[k] < 0) { ok = 0; break; }
            }
            if (ok) { cols[k] = -1; return 1; }
        }
    }
    return 0;
}

/* ---- import ---- */

typedef struct {
    gf_osim_table ik, grf, id, so;
    int has_id, has_forces;
    int x_col[GF_DIN];
    double x_scale[GF_DIN];  /* rad->deg and knee sign */
    int m_col[GF_NM];
    int f_cols[GF_NF][MAX_BUNDLE + 1];
    int grf_col;
    double *hs;
    int n_hs;
    int *starts;
    int n_cycles;
} importer;

static void importer_free(importer *im)
{
    gf_osim_free(&im->ik);
    gf_osim_free(&im->grf);
    gf_osim_free(&im->id);
    gf_osim_free(&im->so);
    free(im->hs);
    free(im->starts);
}

static gf_err check_trial(const gf_osim_trial *tr)
{
    if (!tr || !tr->ik || !tr->grf) return gf_fail(GF_EINVAL, "opensim import: the IK and GRF files are required");
    if (!(tr->mass_kg > 0) || !isfinite(tr->mass_kg))
        return gf_fail(GF_EINVAL, "opensim import: body mass must be > 0 kg, got %g", tr->mass_kg);
    if (!(tr->height_m >= 0) || !isfinite(tr->height_m))
        return gf_fail(GF_EINVAL, "opensim import: height must be >= 0 m, got %g", tr->height_m);
    if (!tr->subject_id || !*tr->subject_id || strlen(tr->subject_id) >= GF_ID_MAX)
        return gf_fail(GF_EINVAL, "opensim import: subject id must have 1 to %d characters", GF_ID_MAX - 1);
    if (tr->speed && (!*tr->speed || strlen(tr->speed) >= sizeof(((gf_cycle_meta *)0)->speed)))
        return gf_fail(GF_EINVAL, "opensim import: speed label '%s' is empty or too long", tr->speed);
    if (tr->knee_sign < -1 || tr->knee_sign > 1)
        return gf_fail(GF_EINVAL, "opensim import: knee_sign must be -1, 0 or +1, got %d", tr->knee_sign);
    if (tr->grf_left && !tr->grf_right)
        return gf_fail(GF_EINVAL, "opensim import: a left GRF column was named without the right one");
    if (!(tr->grf_threshold_n >= 0) || !isfinite(tr->grf_threshold_n))
        return gf_fail(GF_EINVAL, "opensim import: GRF threshold must be >= 0 N, got %g", tr->grf_threshold_n);
    return GF_OK;
}

/* Whether IK angles are radians: declared inDegrees, else the free-text
 * "Angles are in degrees/radians", else magnitude: walking flexes the knee
 * 40-70 degrees, so angles all within 2*pi can only be radians. */
static int ik_is_radians(const gf_osim_table *ik, const int *cols)
{
    if (ik->in_degrees >= 0) return !ik->in_degrees;
    if (ik->text_degrees >= 0) return !ik->text_degrees;
    double mx = 0;
    for (int r = 0; r < ik->n_rows; r++)
        for (int c = 0; c < GF_DIN; c++) {
            double v = fabs(ik->data[(size_t)r * ik->n_cols + cols[c]]);
            if (v > mx) mx = v;
        }
    return mx <= 2 * M_PI;
}

/* Knee sign: the sample of largest magnitude over both knees is peak flexion
 * in any walk (extension is a few degrees at most), so its sign is the model's
 * flexion sign (Gait2392: negative, Rajagopal: positive). */
static int knee_is_negative(const gf_osim_table *ik, int kr, int kl)
{
    double best = 0;
    for (int r = 0; r < ik->n_rows; r++) {
        double a = ik->data[(size_t)r * ik->n_cols + kr], b = ik->data[(size_t)r * ik->n_cols + kl];
        if (fabs(a) > fabs(best)) best = a;
        if (fabs(b) > fabs(best)) best = b;
    }
    return best < 0;
}

static gf_err map_ik(importer *im, const gf_osim_trial *tr, gf_osim_report *rep)
{
    for (int c = 0; c < GF_DIN; c++) {
        im->x_col[c] = gf_osim_col(&im->ik, gf_in_cols[c]);
        if (im->x_col[c] < 0) return gf_fail(GF_ENOTFOUND, "%s: no column '%s'", tr->ik, gf_in_cols[c]);
    }
    int rad = ik_is_radians(&im->ik, im->x_col);
    int flip = tr->knee_sign ? tr->knee_sign < 0 : knee_is_negative(&im->ik, im->x_col[6], im->x_col[8]);
    for (int c = 0; c < GF_DIN; c++) {
        im->x_scale[c] = rad ? 180.0 / M_PI : 1.0;
        if (flip && (c == 6 || c == 8)) im->x_scale[c] = -im->x_scale[c];
        /* OpenSim mirrors the left hip's adduction and rotation axes
         * (positive = adduction / internal rotation on both sides); the
         * Gait2Hip files do not (their real pool means: left adduction
         * -6.3 deg against right +2.8, rotation +1.2 against -8.0), and the
         * published models expect theirs: negate both. docs/SYNTHETIC.md,
         * "Angle conventions". */
        if (c == 4 || c == 5) im->x_scale[c] = -im->x_scale[c];
    }
    if (rep) { rep->ik_radians = rad; rep->knee_flipped = flip; }
    return GF_OK;
}

static gf_err map_id(importer *im, const gf_osim_trial *tr)
{
    for (int c = 0; c < GF_NM; c++) {
        im->m_col[c] = gf_osim_col(&im->id, gf_moment_cols[c]);
        if (im->m_col[c] < 0) return gf_fail(GF_ENOTFOUND, "%s: no column '%s'", tr->id, gf_moment_cols[c]);
    }
    return GF_OK;
}

static void map_so(importer *im, const gf_osim_trial *tr, gf_osim_report *rep)
{
    char missing[400] = "";
    size_t used = 0;
    int n_missing = 0;
    for (int c = 0; c < GF_NF; c++) {
        if (map_muscle(&im->so, gf_force_cols[c], im->f_cols[c])) continue;
        n_missing++;
        int w = snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "", gf_force_cols[c]);
        if (w > 0 && (size_t)w < sizeof missing - used) used += (size_t)w;
    }
    im->has_forces = n_missing == 0;
    if (!im->has_forces && rep)
        snprintf(rep->warning, sizeof rep->warning, "%s: forces not imported: no muscles for %d of %d outputs (%s)",
                 tr->so, n_missing, GF_NF, missing);
}

static double last_time(const gf_osim_table *t) { return t->data[(size_t)(t->n_rows - 1) * t->n_cols]; }

static int covers(const gf_osim_table *t, double t0, double t1)
{
    return t->n_rows >= 2 && t0 >= t->data[0] && t1 <= last_time(t);
}

/* Stance share of [t0, t1]: time from t0 until fy first drops below thresh.
 * A stride containing a missed heel strike (foot off the force plate) shows a
 * stance far below the 55-70 % of walking. */
static double stance_fraction(const gf_osim_table *g, int col, double t0, double t1, double thresh)
{
    for (int r = 0; r < g->n_rows; r++) {
        double t = g->data[(size_t)r * g->n_cols];
        if (t <= t0) continue;
        if (t >= t1) break;
        if (!(g->data[(size_t)r * g->n_cols + col] >= thresh)) return (t - t0) / (t1 - t0);
    }
    return 1.0;
}

#define STANCE_MIN 0.40
#define STANCE_MAX 0.85

static gf_err find_cycles(importer *im, const gf_osim_trial *tr, double thresh, gf_osim_report *rep)
{
    const gf_osim_table *g = &im->grf;
    GF_TRY(gf_heel_strikes(g->data, g->data + im->grf_col, g->n_rows, g->n_cols, thresh, GF_HS_MIN_GAP_S, &im->hs,
                           &im->n_hs));
    im->starts = malloc((size_t)(im->n_hs ? im->n_hs : 1) * sizeof *im->starts);
    if (!im->starts) return gf_fail(GF_ENOMEM, "opensim import: out of memory");
    int skipped = 0;
    for (int k = 0; k + 1 < im->n_hs; k++) {
        double t0 = im->hs[k], t1 = im->hs[k + 1];
        double sf = stance_fraction(g, im->grf_col, t0, t1, thresh);
        int ok = covers(&im->ik, t0, t1) && (!im->has_id || covers(&im->id, t0, t1)) &&
                 (!im->has_forces || covers(&im->so, t0, t1)) && sf >= STANCE_MIN && sf <= STANCE_MAX;
        if (ok) im->starts[im->n_cycles++] = k;
        else skipped++;
    }
    if (rep) {
        rep->n_hs = im->n_hs;
        rep->hs = malloc((size_t)(im->n_hs ? im->n_hs : 1) * sizeof *rep->hs);
        rep->cycle_start = malloc((size_t)(im->n_cycles ? im->n_cycles : 1) * sizeof *rep->cycle_start);
        if (!rep->hs || !rep->cycle_start) return gf_fail(GF_ENOMEM, "opensim import: out of memory");
        if (im->n_hs) memcpy(rep->hs, im->hs, (size_t)im->n_hs * sizeof *rep->hs);
        if (im->n_cycles) memcpy(rep->cycle_start, im->starts, (size_t)im->n_cycles * sizeof *rep->cycle_start);
        rep->n_cycles = im->n_cycles;
        rep->n_skipped = skipped;
    }
    if (im->n_cycles == 0) {
        char hs[200] = "";
        size_t used = 0;
        for (int k = 0; k < im->n_hs; k++) {
            int w = snprintf(hs + used, sizeof hs - used, "%s%.4g", k ? ", " : "", im->hs[k]);
            if (w < 0 || (size_t)w >= sizeof hs - used) break;
            used += (size_t)w;
        }
        char cov[160];
        int w = snprintf(cov, sizeof cov, "the IK [%g, %g] s", im->ik.data[0], last_time(&im->ik));
        if (im->has_id && w > 0 && (size_t)w < sizeof cov)
            w += snprintf(cov + w, sizeof cov - (size_t)w, ", the ID [%g, %g] s", im->id.data[0], last_time(&im->id));
        if (im->has_forces && w > 0 && (size_t)w < sizeof cov)
            snprintf(cov + w, sizeof cov - (size_t)w, ", the SO [%g, %g] s", im->so.data[0], last_time(&im->so));
        return gf_fail(GF_ENOTFOUND, "%s: no complete right gait cycle inside %s; right heel strikes (s): %s", tr->grf,
                       cov,
                       im->n_hs ? hs : "none");
    }
    return GF_OK;
}

/* Resamples one channel of a table onto cycle c of a [n][GF_T][dim] array, scaled. */
static gf_err fill(const gf_osim_table *t, const char *file, int col, double t0, double t1, float *dst, int dim,
                   double scale)
{
    GF_TRY(gf_resample(t->data, t->data + col, t->n_rows, t->n_cols, t0, t1, dst, dim, GF_T));
    for (int k = 0; k < GF_T; k++) {
        float *v = dst + (size_t)k * dim;
        *v = (float)(*v * scale);
        if (!isfinite(*v))
            return gf_fail(GF_ENUMERIC, "%s: column '%s': not a finite value within [%g, %g] s", file,
                           t->raw_labels[col], t0, t1);
    }
    return GF_OK;
}

static gf_err fill_cycle(importer *im, const gf_osim_trial *tr, gf_dataset *ds, int i)
{
    double t0 = im->hs[im->starts[i]], t1 = im->hs[im->starts[i] + 1];
    for (int c = 0; c < GF_DIN; c++)
        GF_TRY(fill(&im->ik, tr->ik, im->x_col[c], t0, t1, ds->x + (size_t)i * GF_T * GF_DIN + c, GF_DIN,
                    im->x_scale[c]));
    for (int c = 0; im->has_id && c < GF_NM; c++)
        GF_TRY(fill(&im->id, tr->id, im->m_col[c], t0, t1, ds->ym + (size_t)i * GF_T * GF_NM + c, GF_NM, 1.0));
    for (int c = 0; im->has_forces && c < GF_NF; c++) {
        float *dst = ds->yf + (size_t)i * GF_T * GF_NF + c;
        float tmp[GF_T];
        for (int k = 0; k < GF_T; k++) dst[(size_t)k * GF_NF] = 0;
        for (int b = 0; im->f_cols[c][b] >= 0; b++) {
            GF_TRY(fill(&im->so, tr->so, im->f_cols[c][b], t0, t1, tmp, 1, 1.0));
            for (int k = 0; k < GF_T; k++) dst[(size_t)k * GF_NF] += tmp[k];
        }
    }
    gf_cycle_meta *m = &ds->meta[i];
    snprintf(m->subject_id, sizeof m->subject_id, "%s", tr->subject_id);
    snprintf(m->speed, sizeof m->speed, "%s", tr->speed ? tr->speed : "self");
    m->height_m = tr->height_m;
    m->weight_kg = tr->mass_kg;
    m->cadence_spm = (float)(120.0 / (t1 - t0)); /* two steps per stride */
    m->trial = tr->trial > 0 ? tr->trial : 1; /* one recording is one trial; the store numbers its cycles */
    return GF_OK;
}

static gf_err import_run(importer *im, const gf_osim_trial *tr, gf_dataset *out, gf_osim_report *rep)
{
    GF_TRY(gf_osim_read(tr->ik, &im->ik));
    GF_TRY(gf_osim_read(tr->grf, &im->grf));
    GF_TRY(map_ik(im, tr, rep));
    int left_col;
    GF_TRY(gf_grf_columns(&im->grf, tr->grf, tr->grf_right, tr->grf_left, &im->grf_col, &left_col));
    if (rep) {
        snprintf(rep->grf_col, sizeof rep->grf_col, "%s", im->grf.raw_labels[im->grf_col]);
        snprintf(rep->grf_left_col, sizeof rep->grf_left_col, "%s", left_col >= 0 ? im->grf.raw_labels[left_col] : "");
    }
    if (tr->id) {
        GF_TRY(gf_osim_read(tr->id, &im->id));
        GF_TRY(map_id(im, tr));
        im->has_id = 1;
    }
    if (tr->so) {
        GF_TRY(gf_osim_read(tr->so, &im->so));
        map_so(im, tr, rep);
    }
    double thresh = tr->grf_threshold_n > 0 ? tr->grf_threshold_n : GF_GRF_THRESHOLD_N;
    GF_TRY(find_cycles(im, tr, thresh, rep));
    GF_TRY(gf_dataset_alloc(out, im->n_cycles, im->has_forces, im->has_id));
    for (int i = 0; i < im->n_cycles; i++) {
        gf_err e = fill_cycle(im, tr, out, i);
        if (e != GF_OK) { gf_dataset_free(out); return e; }
    }
    return GF_OK;
}

gf_err gf_osim_import_ex(const gf_osim_trial *tr, gf_dataset *out, gf_osim_report *rep)
{
    memset(out, 0, sizeof *out);
    if (rep) memset(rep, 0, sizeof *rep);
    GF_TRY(check_trial(tr));
    importer im;
    memset(&im, 0, sizeof im);
    gf_err e = import_run(&im, tr, out, rep);
    importer_free(&im);
    return e;
}

gf_err gf_osim_import(const gf_osim_trial *tr, gf_dataset *out) { return gf_osim_import_ex(tr, out, NULL); }

void gf_osim_report_free(gf_osim_report *rep)
{
    if (!rep) return;
    free(rep->hs);
    free(rep->cycle_start);
    memset(rep, 0, sizeof *rep);
}

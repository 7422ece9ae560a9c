/* Gait-cycle segmentation from ground reaction forces and time normalization,
 * and the OpenSim import pipeline (IK + ID [+ SO] + GRF + body mass -> cycles). */
#ifndef GF_GAITCYCLE_H
#define GF_GAITCYCLE_H
#include "common/err.h"
#include "sites/dataset.h"

/* Times where fy rises through thresh_n (heel strikes), linear-interpolated
 * between samples, at least min_gap_s apart (a later crossing closer than that
 * to the last accepted one is force-plate chatter and is ignored). t and fy are
 * read with the same stride (both columns of one row-major table). *hs is
 * malloc'd (caller frees; NULL when none). */
gf_err gf_heel_strikes(const double *t, const double *fy, int n, int stride, double thresh_n, double min_gap_s,
                       double **hs, int *n_hs);

/* Resamples v(t) (n samples, stride between values, for t and v alike) on [t0, t1] to T points
 * (t0 + k (t1-t0)/(T-1)), linear interpolation; fails if [t0,t1] is not covered. */
gf_err gf_resample(const double *t, const double *v, int n, int stride, double t0, double t1, float *out,
                   int out_stride, int T);

typedef struct {
    const char *ik;         /* required: joint angles */
    const char *id;         /* optional: inverse-dynamics moments */
    const char *so;         /* optional: static-optimization forces */
    const char *grf;        /* required: ground reaction forces (heel strikes) */
    double mass_kg;         /* required, > 0 */
    double height_m;        /* 0 when unknown */
    const char *subject_id; /* required */
    const char *speed;      /* "slow"/"med"/"fast"/"self"; NULL -> "self" */
    int knee_sign;          /* 0 auto-detect, +1 file is flexion-positive, -1 flexion-negative */
    double grf_threshold_n; /* 0 -> default (20 N) */
    int trial;              /* trial number of this recording (0 -> 1); its cycles share it */
    const char *grf_right;  /* right vertical force column; NULL -> detected (sites/grf_columns.h) */
    const char *grf_left;   /* left one, checked and reported only; needs grf_right; may be NULL */
} gf_osim_trial;

/* Every complete right-foot cycle (heel strike to heel strike) covered by the
 * IK (and ID/SO when given) becomes one cycle of `out` (x in degrees, knee
 * flexion positive). Forces are kept only when all 14 muscles map. */
gf_err gf_osim_import(const gf_osim_trial *tr, gf_dataset *out);

#define GF_HS_MIN_GAP_S 0.4    /* no one strides faster than this (fast walking ~0.9 s) */
#define GF_GRF_THRESHOLD_N 20.0

/* What the import saw, for `gaitfed info` and import progress. */
typedef struct {
    double *hs;             /* [n_hs] right heel strikes, s (malloc'd, gf_osim_report_free) */
    int n_hs;
    int *cycle_start;       /* [n_cycles] index into hs of each imported cycle (malloc'd) */
    int n_cycles;           /* cycles imported (= out->n on success) */
    int n_skipped;          /* heel-strike pairs not imported (not covered, or implausible stance) */
    char grf_col[64];       /* right vertical GRF column used */
    char grf_left_col[64];  /* left vertical GRF column ("" when the file has none) */
    int ik_radians;         /* 1 when IK angles were converted from radians */
    int knee_flipped;       /* 1 when knee angles were negated to make flexion positive */
    char warning[512];      /* non-fatal notes, e.g. SO muscles that did not map ("" if none) */
} gf_osim_report;

/* As gf_osim_import; rep (may be NULL) is filled even when the import fails
 * after the heel strikes were found (e.g. no cycle covered). */
gf_err gf_osim_import_ex(const gf_osim_trial *tr, gf_dataset *out, gf_osim_report *rep);
void gf_osim_report_free(gf_osim_report *rep);

#endif

/* Gait-cycle segmentation from ground reaction forces and time normalization,
 * and the OpenSim import pipeline (IK + ID [+ SO] + GRF + body mass -> cycles). */
#ifndef GF_GAITCYCLE_H
#define GF_GAITCYCLE_H
#include "common/err.h"
#include "sites/dataset.h"

/* Times where fy rises through thresh_n (heel strikes), linear-interpolated
 * between samples, at least min_gap_s apart. *hs is malloc'd. */
gf_err gf_heel_strikes(const double *t, const double *fy, int n, int stride, double thresh_n, double min_gap_s,
                       double **hs, int *n_hs);

/* Resamples v(t) (n samples, stride between values) on [t0, t1] to T points
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
} gf_osim_trial;

/* Every complete right-foot cycle (heel strike to heel strike) covered by the
 * IK (and ID/SO when given) becomes one cycle of `out` (x in degrees, knee
 * flexion positive). Forces are kept only when all 14 muscles map. */
gf_err gf_osim_import(const gf_osim_trial *tr, gf_dataset *out);

#endif

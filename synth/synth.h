/* The synthetic Gait2Hip-60-like cohort: 60 healthy subjects (H01-H60) at
 * three cadences, 9 ONFH patients (P01-P09), and N hospital sites that share
 * the 48 training-pool subjects, each with its capture system's input errors.
 * Deterministic for a seed. */
#ifndef GF_SYNTH_H
#define GF_SYNTH_H
#include <stdint.h>
#include "common/err.h"
#include "common/rng.h"
#include "sites/dataset.h"

#define GF_SYNTH_HEALTHY 60
#define GF_SYNTH_TEST 12
#define GF_SYNTH_ONFH 9
#define GF_SYNTH_MAX_SITES 16

typedef enum { GF_CAPTURE_OPTICAL, GF_CAPTURE_INERTIAL, GF_CAPTURE_MARKERLESS } gf_capture_system;

/* Input error model of one capture system (degrees, seconds). */
typedef struct {
    gf_capture_system system;
    double noise_deg;        /* white noise SD per sample */
    double offset_sd_deg;    /* per-session, per-channel offset SD */
    double drift_deg;        /* SD of the linear drift over one cycle */
    double lag_s;            /* delay of the measured signal */
    double smooth_s;         /* smoothing window (markerless) */
    double knee_bias_deg;    /* added to knee flexion */
} gf_capture_profile;

const char *gf_capture_name(gf_capture_system s);
/* The error model a site with capture system s gets (docs/SYNTHETIC.md). */
gf_capture_profile gf_capture_default(gf_capture_system s);
/* Applies the capture error to one true cycle x_true -> x_meas ([GF_T][GF_DIN]).
 * session_rng draws offsets, noise_rng the per-sample noise. cycle_s is the
 * stride time (for lag and smoothing). */
void gf_capture_apply(const gf_capture_profile *p, double cycle_s, gf_rng *session_rng, gf_rng *noise_rng,
                      const float *x_true, float *x_meas);
/* The profile as a JSON object text (malloc'd), for the site store. */
char *gf_capture_json(const gf_capture_profile *p);

typedef struct {
    char name[48];               /* e.g. "optical-lab" */
    gf_capture_profile capture;
    gf_dataset data;             /* its cycles, inputs with capture error; yf and ym set */
} gf_synth_site;

typedef struct {
    gf_dataset healthy;          /* all 60 subjects, optical-quality inputs (benchmark files) */
    gf_dataset healthy_test;     /* the 12 held-out subjects (evaluator cohort) */
    gf_dataset onfh;             /* the 9 patients */
    int n_sites;
    gf_synth_site sites[GF_SYNTH_MAX_SITES];
} gf_synth_cohort;

/* Builds the whole cohort in memory. n_sites in [1, GF_SYNTH_MAX_SITES]. */
gf_err gf_synth_build(uint64_t seed, int n_sites, gf_synth_cohort *out);
void gf_synth_free(gf_synth_cohort *c);

/* Writes DIR/Gait2Hip_MF60.npz, DIR/Gait2Hip_JM60.npz, DIR/ONFH_MF9.npz,
 * DIR/ONFH_JM9.npz, DIR/sites/<name>.db, DIR/cohorts/healthy-test.db and
 * DIR/cohorts/onfh.db. Files are written to temporaries and renamed. */
gf_err gf_synth_write(const gf_synth_cohort *c, const char *dir);

#endif

/* Internals of the gait simulator (synth/gait.h): kinematic templates,
 * per-trial parameters, inverse dynamics with a GRF model, and static
 * optimization over the 14 right hip muscles. Not part of the public API. */
#ifndef GF_SYNTH_INTERNAL_H
#define GF_SYNTH_INTERNAL_H
#include "common/err.h"
#include "common/rng.h"
#include "sites/dataset.h"
#include "synth/gait.h"

/* ---- templates (generated: synth/templates.c) ---- */
#define GF_TMPL_NHARM 7
#define GF_TMPL_NCOEF (1 + 2 * GF_TMPL_NHARM)
/* Channel order of the template table: the 10 inputs (gf_in_cols) then pelvis. */
enum {
    GF_TC_HIPFLEX_R, GF_TC_HIPADD_R, GF_TC_HIPROT_R,
    GF_TC_HIPFLEX_L, GF_TC_HIPADD_L, GF_TC_HIPROT_L,
    GF_TC_KNEE_R, GF_TC_ANKLE_R, GF_TC_KNEE_L, GF_TC_ANKLE_L,
    GF_TC_PELVIS_TILT, GF_TC_PELVIS_LIST, GF_TC_PELVIS_ROT,
    GF_TMPL_NCH
};
extern const double gf_tmpl_coef[GF_TMPL_NCH][GF_TMPL_NCOEF];
extern const double gf_tmpl_stride_s;    /* mean stride of the fitted walks */
extern const double gf_tmpl_cadence_spm; /* their mean cadence */
extern const double gf_tmpl_stance;      /* their mean right stance fraction */

/* Fourier template value of channel ch at phase ph (any real; period 1). */
double gf_tmpl_eval(int ch, double ph);

/* Limb joints of the bilateral "limb template" (right and half-cycle-shifted
 * left channels averaged). */
enum { GF_J_HIPFLEX, GF_J_HIPADD, GF_J_HIPROT, GF_J_KNEE, GF_J_ANKLE, GF_NJ };

/* ---- the subject's muscles (synth/body.c) ---- */
/* Per-subject factors on the generic muscle model (synth/muscles.c): what
 * real people differ in and their joint angles do not show. */
typedef struct {
    double fmax_gain[GF_NF];   /* x the mass-scaled Fmax (relative strength of groups) */
    double arm_gain[3][GF_NF]; /* x the generic moment arms (body size, femoral offset) */
} gf_body;

/* The subject's body factors from height and style[12..14] (docs/SYNTHETIC.md
 * "Muscles"). Height 1.75 m with those deviates at 0 gives the generic model
 * (every gain exactly 1). */
void gf_synth_body(const gf_gait_subject *s, gf_body *b);

/* ---- per-trial parameters ---- */
typedef struct {
    double gain[GF_NJ];   /* range-of-motion scale about the template mean */
    double offset[GF_NJ]; /* degrees added */
    double stance;        /* stance fraction of this side */
    double phase;         /* phase shift (cycle fraction) */
} gf_side_params;

typedef struct {
    double cadence_spm, stride_s;
    double mass_kg, height_m;
    gf_side_params right, left;
    double pelvis_gain;
    double pelvis_tilt_off; /* degrees added to pelvis tilt (style) */
    /* ground reaction force model over right stance: vertical force in body
     * weights, horizontal components from the line of action through a
     * virtual pivot point (VPP) above the hip */
    double fy1, fy2, fyv;       /* vertical first peak, second peak, valley */
    double vpp[3];              /* VPP relative to the right hip, ground axes (m) */
    double cop_lat_heel_m;      /* COP lateral of the foot axis at heel strike (m) */
    double cop_med_m;           /* COP medial of the foot axis at toe-off (m) */
    double cop_start, cop_end;  /* COP along the foot (fraction of foot length from heel) */
    /* body (outputs, issue 14): the muscles beyond height and mass, hidden
     * from the joint angles; set by gf_synth_body (synth/body.c) */
    gf_body body;
} gf_trial_params;

/* Draws the trial parameters (subject, cadence, trial_rng). */
gf_err gf_synth_trial_params(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng,
                             gf_trial_params *p);

/* Stance fraction of healthy gait at a cadence (literature interpolation). */
double gf_synth_stance_fraction(double cadence_spm);

/* True kinematics: ang[GF_T][GF_TMPL_NCH] degrees (inputs in gf_in_cols order
 * for the first 10 columns, then pelvis tilt/list/rotation). */
void gf_synth_kinematics(const gf_trial_params *p, double *ang);

/* Right hip moments (N·m, OpenSim generalized-force signs) from the
 * kinematics, the anthropometric segment model and the GRF model. */
void gf_synth_hip_moments(const gf_trial_params *p, const double *ang, double *m /* [GF_T][3] */);

/* ---- muscles ---- */
/* Maximum isometric forces (N) for body mass and the subject's body factors
 * (b NULL: the generic body), gf_force_cols order. */
void gf_synth_fmax(double mass_kg, const gf_body *b, double *fmax);
/* Moment arms (m) of the 14 muscles about flexion, adduction, rotation at
 * hip flexion/adduction angles (deg), times the subject's body factors (b
 * NULL: the generic body): r[3][GF_NF]. */
void gf_synth_moment_arms(double flex_deg, double add_deg, const gf_body *b, double r[3][GF_NF]);
/* Static optimization: min sum (F/Fmax)^2 s.t. R F + reserve = M, 0<=F<=Fmax,
 * with three expensive reserve actuators (reported) so that it is always
 * solvable; the reserves take the exact remainder M - R F, so that the
 * moment balance always holds. GF_ENUMERIC only for non-finite input. */
gf_err gf_synth_static_opt(const double r[3][GF_NF], const double *fmax, const double m[3], double *f,
                           double reserve[3]);


/* gf_gait_simulate with diagnostics: the largest reserve moment (N·m) the
 * static optimization needed over the cycle (0 when the muscles balance the
 * moments everywhere), may be NULL. Any of x, ym, yf may be NULL. */
gf_err gf_synth_cycle(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng, float *x, float *ym,
                      float *yf, double *max_reserve);
#endif

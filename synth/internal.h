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
    /* ONFH (synth/onfh.c; all zero for a healthy subject) */
    int onfh_side;           /* 0 healthy, 1 right hip affected, 2 left */
    double onfh_lean_deg;    /* ipsilateral trunk lean over the affected hip in its stance (Duchenne) */
    double onfh_drop_deg;    /* contralateral pelvic drop in the affected side's stance (Trendelenburg) */
    double onfh_hike_deg;    /* swing-side pelvis hike accompanying the lean (hip adduction reduced) */
    double onfh_cocon;       /* activation floor (fraction of Fmax) of the right hip muscles in right stance */
    double onfh_abd_weak;    /* fraction of the right gluteus medius / minimus Fmax lost (atrophy) */
    /* inputs: the recording lab's angle conventions (synth/lab_frame.c), applied
     * to the true anatomical angles only where they are written out */
    double lab_tilt;    /* pelvis frame tilted anteriorly: + recorded hip flexion, both sides (deg) */
    double lab_list;    /* pelvis frame obliquity: + right hip adduction, - left (anatomical) */
    double lab_rot;     /* pelvis frame rotation: + right hip rotation, - left (anatomical) */
    double lab_add;     /* thigh frames (hip joint centre, knee axis): + adduction, both sides */
    double lab_knee, lab_ankle; /* knee flexion and ankle dorsiflexion reference offsets */
    /* GRF (outputs): the pivot point's height falls from vpp[1] in early
     * stance to vpp_y_late, blended over stance fractions vpp_s0..vpp_s1
     * (sagittal line, fitted to subject01); the frontal line of action runs
     * through the medial offset vpp[2] at the constant height vpp_y_front */
    double vpp_y_late, vpp_s0, vpp_s1, vpp_y_front;
    /* body (outputs, issue 14): the muscles beyond height and mass, hidden
     * from the joint angles; set by gf_synth_body (synth/body.c) */
    gf_body body;
} gf_trial_params;

/* Draws the trial parameters (subject, cadence, trial_rng). */
gf_err gf_synth_trial_params(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng,
                             gf_trial_params *p);

/* ONFH (synth/onfh.c). Validates onfh and onfh_style and sets the
 * patient's changes of p (range of motion, stance, GRF, trunk lean, pelvic
 * drop, co-contraction, abductor atrophy); healthy subjects: ONFH fields 0. */
gf_err gf_synth_onfh_apply(const gf_gait_subject *s, gf_trial_params *p);
/* Stance-phase frontal changes (pelvic drop or hike, affected hip
 * adduction) added to the true kinematics ang[GF_T][GF_TMPL_NCH]. */
void gf_synth_onfh_kinematics(const gf_trial_params *p, double *ang);
/* Abductor atrophy of an affected right hip: scales fmax[GF_NF]. */
void gf_synth_onfh_fmax(const gf_trial_params *p, double *fmax);
/* Co-contraction: activation floor (fraction of Fmax) of the right hip
 * muscles at sample k of the cycle (0 outside right stance and if healthy). */
double gf_synth_onfh_floor(const gf_trial_params *p, int k);

/* Stance fraction of healthy gait at a cadence (literature interpolation). */
double gf_synth_stance_fraction(double cadence_spm);

/* ---- GRF model (synth/grf.c) ---- */
/* GRF parameters of a trial (vertical peaks, pivot point, COP path) from the
 * subject and cadence, before ONFH and trial variation. */
void gf_synth_grf_params(const gf_gait_subject *s, double cadence_spm, gf_trial_params *p);
/* Vertical GRF (body weights) at stance fraction s. */
double gf_synth_grf_vertical(const gf_trial_params *p, double s);
/* Pivot point relative to the right hip (ground axes, m) at stance fraction s. */
void gf_synth_grf_vpp(const gf_trial_params *p, double s, double vpp[3]);
/* Right COP and GRF (N) at stance fraction s from the heel and toe positions
 * relative to the right hip (ground axes, m). */
void gf_synth_grf_at(const gf_trial_params *p, double s, const double heel[3], const double toe[3], double cop[3],
                     double f[3]);

/* True kinematics: ang[GF_T][GF_TMPL_NCH] degrees (inputs in gf_in_cols order
 * for the first 10 columns, then pelvis tilt/list/rotation). */
void gf_synth_kinematics(const gf_trial_params *p, double *ang);

/* The lab's convention offsets of one subject (style[8..11]). */
void gf_synth_lab_params(const gf_gait_subject *s, gf_trial_params *p);
/* The recorded input angles x[GF_DIN] (gf_in_cols order, the real Gait2Hip
 * files' conventions) of one sample of true anatomical angles ang[GF_TMPL_NCH]:
 * the lab's frame offsets, then the left hip's adduction and rotation in the
 * non-mirrored convention (negated). */
void gf_synth_lab_angles(const gf_trial_params *p, const double *ang, float *x);
/* The inverse for the right hip, which the muscles need: its anatomical
 * flexion and adduction (deg) from one recorded sample x[GF_DIN]. */
void gf_synth_lab_hip(const gf_trial_params *p, const float *x, double *flex, double *add);

/* Right hip moments (N·m, OpenSim generalized-force signs) from the
 * kinematics, the anthropometric segment model and the GRF model. */
void gf_synth_hip_moments(const gf_trial_params *p, const double *ang, double *m /* [GF_T][3] */);
/* The same, also returning the right GRF (N) and COP relative to the right
 * hip (m, ground axes), [GF_T][3] each (zero in swing); either may be NULL. */
void gf_synth_hip_dynamics(const gf_trial_params *p, const double *ang, double *m, double *grf, double *cop);

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
/* The same with lower bounds fmin[i] in [0, fmax[i]] (co-contraction: a
 * minimum activation of every muscle, agonists and antagonists); fmin NULL
 * is gf_synth_static_opt. */
gf_err gf_synth_static_opt_floor(const double r[3][GF_NF], const double *fmax, const double *fmin, const double m[3],
                                 double *f, double reserve[3]);


/* gf_gait_simulate with diagnostics: the largest reserve moment (N·m) the
 * static optimization needed over the cycle (0 when the muscles balance the
 * moments everywhere), may be NULL. Any of x, ym, yf may be NULL. */
gf_err gf_synth_cycle(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng, float *x, float *ym,
                      float *yf, double *max_reserve);
#endif

/* One simulated gait cycle of one subject at one cadence: true kinematics
 * from templates fitted to real OpenSim walks, right hip moments from a
 * simplified inverse-dynamics model with a ground-reaction-force model over
 * stance, and 14 right hip muscle forces from static optimization
 * (min sum (F_i/Fmax_i)^2, moment balance, 0 <= F_i <= Fmax_i, angle-dependent
 * moment arms). No measurement error here: sites add their own (synth_capture). */
#ifndef GF_SYNTH_GAIT_H
#define GF_SYNTH_GAIT_H
#include "common/err.h"
#include "common/rng.h"
#include "sites/dataset.h"

/* Per-subject deviates, each ~N(0,1). 0-7: gait style (docs/SYNTHETIC.md
 * "Style"); 8-11: posture and the lab's angle conventions (pelvic tilt ...);
 * 12-15: the body beyond height and mass (muscle strength, moment arms,
 * trunk and GRF line). Unused dimensions are drawn anyway, so adding a use
 * does not shift any other draw. */
#define GF_STYLE_DIMS 16
#define GF_ONFH_DIMS 4

typedef struct {
    double mass_kg;
    double height_m;
    double age_y;
    int female;
    double style[GF_STYLE_DIMS]; /* per-subject style deviates, each ~N(0,1) */
    int onfh;                    /* 0 healthy; 1 ONFH, right hip affected; 2 left hip affected */
    double onfh_severity;        /* 0..1 (end-stage ~1) */
    double onfh_style[GF_ONFH_DIMS]; /* how this patient's disease shows, each ~N(0,1); unused if healthy */
} gf_gait_subject;

/* Simulates one cycle at cadence_spm (steps/min). trial_rng supplies the
 * trial-to-trial variation. Outputs (row-major, GF_T rows):
 *   x  [GF_T][GF_DIN] true joint angles, degrees, gf_in_cols order, knee flexion +
 *   ym [GF_T][GF_NM]  right hip moments, N·m (gf_moment_cols order)
 *   yf [GF_T][GF_NF]  right hip muscle forces, N (gf_force_cols order)
 * The cycle starts at right heel strike. */
gf_err gf_gait_simulate(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng, float *x, float *ym,
                        float *yf);

#endif

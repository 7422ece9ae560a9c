/* The recording lab's angle conventions: what a marker-based lab's frames make
 * of the true anatomical joint angles the physics uses (docs/SYNTHETIC.md
 * "Kinematics: the lab's conventions"). Applied only where the angles are
 * written out (synth/gait.c), so moment arms, segment geometry and inverse
 * dynamics keep the anatomical angles: a frame offset moves the recorded hip
 * angle, never the thigh. Per-subject deviates style[8..11]. */
#include "synth/internal.h"

/* Pelvis frame tilt (ASIS-PSIS plane vs the OpenSim template pelvis): the
 * ASIS-PSIS line lies 13 +- 5 deg anterior of horizontal with the pelvis in
 * its anatomical position (Preece et al. 2008, 30 pelves; morphology alone).
 * The mean 11 deg puts the (symmetric) recorded hip flexion mean midway
 * between the real pool's right and left means (16.6 / 21.0). */
#define TILT_MEAN 11.0
#define TILT_SD 7.0
/* Pelvis frame obliquity and rotation: landmark asymmetry of the innominates
 * (side-to-side ASIS-PSIS differences up to 11 deg and innominate heights up
 * to 16 mm, Preece et al. 2008) tilts a landmark frame by a few degrees per
 * subject. The pool-wide means are the real pool's (right + left) / 2 in its
 * non-mirrored left convention, where a frame offset shifts both sides alike:
 * adduction (2.77 - 6.30) / 2, rotation (-8.01 + 1.16) / 2. No physiology
 * gives a pool-wide offset; it is the real lab's. */
#define LIST_MEAN (-1.77)
#define LIST_SD 2.0
#define ROT_MEAN (-3.42)
#define ROT_SD 1.5
/* Thigh frames: the real pool's anatomical adduction, (2.77 + 6.30) / 2 = 4.5
 * deg on both sides, is 5.3 deg more than the OpenSim walks' limb template
 * (-0.8 over the cohort). Hip joint centre regression errors of 1-3 cm
 * (Leardini et al. 1999) tilt the femoral axis by 1.5-4 deg per subject. */
#define ADD_MEAN 5.3
#define ADD_SD 3.0
/* Knee and ankle: same signs as the OpenSim files (knee flexion and ankle
 * dorsiflexion positive; tests/data/opensim, both walks). Reference offsets
 * put the symmetric means inside both sides' tolerances (knee 23.0 / 31.9,
 * ankle 5.6 / 8.9 in the real pool). */
#define KNEE_OFF 1.0
#define ANKLE_OFF 3.4

void gf_synth_lab_params(const gf_gait_subject *s, gf_trial_params *p)
{
    const double *st = s->style;
    p->lab_tilt = TILT_MEAN + TILT_SD * st[8];
    p->lab_list = LIST_MEAN + LIST_SD * st[9];
    p->lab_rot = ROT_MEAN + ROT_SD * st[10];
    p->lab_add = ADD_MEAN + ADD_SD * st[11];
    p->lab_knee = KNEE_OFF;
    p->lab_ankle = ANKLE_OFF;
}

void gf_synth_lab_angles(const gf_trial_params *p, const double *a, float *x)
{
    double r[GF_DIN];
    for (int c = 0; c < GF_DIN; c++) r[c] = a[c];
    r[GF_TC_HIPFLEX_R] += p->lab_tilt;
    r[GF_TC_HIPFLEX_L] += p->lab_tilt;
    r[GF_TC_HIPADD_R] += p->lab_add + p->lab_list;
    r[GF_TC_HIPADD_L] += p->lab_add - p->lab_list;
    r[GF_TC_HIPROT_R] += p->lab_rot;
    r[GF_TC_HIPROT_L] -= p->lab_rot;
    r[GF_TC_KNEE_R] += p->lab_knee;
    r[GF_TC_KNEE_L] += p->lab_knee;
    r[GF_TC_ANKLE_R] += p->lab_ankle;
    r[GF_TC_ANKLE_L] += p->lab_ankle;
    /* the real files give the left hip's adduction and rotation in the
     * right-hand (non-mirrored) convention: their left means have the
     * opposite sign to the right ones */
    r[GF_TC_HIPADD_L] = -r[GF_TC_HIPADD_L];
    r[GF_TC_HIPROT_L] = -r[GF_TC_HIPROT_L];
    for (int c = 0; c < GF_DIN; c++) x[c] = (float)r[c];
}

void gf_synth_lab_hip(const gf_trial_params *p, const float *x, double *flex, double *add)
{
    *flex = x[GF_TC_HIPFLEX_R] - p->lab_tilt;
    *add = x[GF_TC_HIPADD_R] - p->lab_add - p->lab_list;
}

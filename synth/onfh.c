/* ONFH patients: how end-stage osteonecrosis of the femoral head (and
 * end-stage hip osteoarthritis, the closest well-measured condition) changes
 * one gait cycle. Severity (onfh_severity) scales every change; the four
 * per-patient deviates onfh_style[0..3] decide which compensation a patient
 * uses and how strongly:
 *   0 frontal strategy: Duchenne trunk lean over the affected hip (with a
 *     level or hiked pelvis) vs Trendelenburg pelvic drop with weak abductors
 *   1 co-contraction of the hip muscles in the affected side's stance
 *   2 antalgic unloading: stance asymmetry and reduced push-off
 *   3 sagittal stiffness: loss of hip flexion range and extension
 * Magnitudes and sources: docs/SYNTHETIC.md "ONFH". */
#include <math.h>
#include <stddef.h>

#include "synth/internal.h"

#define PI 3.14159265358979323846

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Share of the lean (Duchenne) strategy in [0, 1]: about 70 % of patients
 * lean more than they drop (onfh_style[0] > -0.5). */
static double lean_share(double z) { return 1.0 / (1.0 + exp(-1.7 * (z + 0.5))); }

/* Per-patient strength of a compensation: 1 + 0.35 z, kept in [0.3, 1.7]. */
static double strength(double z) { return clampd(1.0 + 0.35 * z, 0.3, 1.7); }

gf_err gf_synth_onfh_apply(const gf_gait_subject *s, gf_trial_params *p)
{
    if (s->onfh < 0 || s->onfh > 2) return gf_fail(GF_EINVAL, "gait: onfh %d not 0, 1 or 2", s->onfh);
    for (int i = 0; i < GF_ONFH_DIMS; i++)
        if (!isfinite(s->onfh_style[i]) || fabs(s->onfh_style[i]) > 10.0)
            return gf_fail(GF_ERANGE, "gait: onfh_style[%d] = %g not a finite deviate", i, s->onfh_style[i]);
    p->onfh_side = 0;
    p->onfh_lean_deg = p->onfh_drop_deg = p->onfh_hike_deg = p->onfh_cocon = p->onfh_abd_weak = 0.0;
    double sev = s->onfh ? clampd(s->onfh_severity, 0.0, 1.0) : 0.0;
    if (!(sev > 0)) return GF_OK;
    const double *z = s->onfh_style, hs = s->height_m / 1.75;
    double w = lean_share(z[0]), k_ant = strength(z[2]), k_sag = strength(z[3]);
    p->onfh_side = s->onfh;
    gf_side_params *a = s->onfh == 1 ? &p->right : &p->left;
    gf_side_params *u = s->onfh == 1 ? &p->left : &p->right;

    /* Sagittal: range of motion lost steeply with the stage (cubic in
     * severity: sev 1 loses 18 % of the hip flexion range on average, sev
     * 0.7 about 6 %), a flexed hip (reduced peak extension, +2 deg at sev 1);
     * frontal and transverse range reduced too (Rutherford et al. 2015). */
    double sv3 = sev * sev * sev;
    a->gain[GF_J_HIPFLEX] *= 1.0 - clampd(0.18 * k_sag, 0.0, 0.30) * sv3;
    a->gain[GF_J_HIPADD] *= 1.0 - 0.20 * sv3;
    a->gain[GF_J_HIPROT] *= 1.0 - 0.25 * sev;
    a->offset[GF_J_HIPFLEX] += 2.0 * sev * k_sag;

    /* Antalgic: stance longer on both sides (+1 % of the cycle at sev 1),
     * shorter on the affected than on the unaffected side (3 % at sev 1 on
     * average, 1-5 % between patients). */
    double asym = 0.03 * sev * k_ant;
    a->stance += 0.01 * sev - 0.5 * asym;
    u->stance += 0.01 * sev + 0.5 * asym;

    if (s->onfh == 1) {
        /* Affected limb unloaded sooner: push-off (second) peak -18 % at sev 1
         * on average, first peak -3 %; the valley rises by impulse balance. */
        p->fy1 *= 1.0 - 0.03 * sev;
        p->fy2 *= 1.0 - clampd(0.18 * k_ant, 0.05, 0.30) * sev;
        p->cop_med_m *= 1.0 - 0.135 * sev;
        p->cop_lat_heel_m += 0.003 * sev;
    } else {
        p->fy1 *= 1.0 + 0.03 * sev;
        p->fy2 *= 1.0 + 0.03 * sev;
    }

    /* Frontal strategy. Duchenne: the trunk leans over the affected hip by
     * up to 5 deg; the head-arms-trunk mass (0.678 of body mass, COM 0.30 m
     * above the hips for 1.75 m; Winter 2009) moves the whole-body COM, and
     * with it the GRF's pivot point, towards the stance hip; the pelvis is
     * level or hiked on the swing side (stance hip adduction -2.5 deg).
     * Trendelenburg: the pelvis drops on the swing side by up to 4 deg
     * (stance hip adduction +4 deg), the abductors are weak (atrophy). */
    p->onfh_lean_deg = 5.0 * sev * w;
    p->onfh_hike_deg = 2.5 * sev * w;
    p->onfh_drop_deg = 4.0 * sev * (1.0 - w);
    if (s->onfh == 1) {
        p->vpp[2] += 0.678 * 0.30 * hs * sin(p->onfh_lean_deg * PI / 180.0);
        /* smaller gluteus medius / minimus: 5 % plus up to 15 % more in the
         * patients who cannot hold the pelvis level */
        p->onfh_abd_weak = sev * (0.05 + 0.15 * (1.0 - w));
    }

    /* Co-contraction of the hip muscles while the affected hip is loaded:
     * a minimum activation of 6 % (0-12 % between patients) at sev 1; the
     * contralateral (right, when the left is affected) hip half as much. */
    double cc = clampd(0.06 + 0.03 * z[1], 0.0, 0.12) * sev;
    p->onfh_cocon = s->onfh == 1 ? cc : 0.5 * cc;
    return GF_OK;
}

/* Fraction of a side's stance at sample k, or -1 in its swing. */
static double stance_frac(int k, double start, const gf_side_params *sp)
{
    double ph = (double)k / (GF_T - 1) - start - sp->phase;
    ph -= floor(ph);
    return ph < sp->stance ? ph / sp->stance : -1.0;
}

void gf_synth_onfh_kinematics(const gf_trial_params *p, double *ang)
{
    if (!p->onfh_side) return;
    /* positive: hip more adducted and the swing side of the pelvis lower;
     * the thigh's frontal orientation in space is unchanged (the foot stays
     * under the body) */
    double d = p->onfh_drop_deg - p->onfh_hike_deg;
    int right = p->onfh_side == 1;
    for (int k = 0; k < GF_T; k++) {
        double s = stance_frac(k, right ? 0.0 : 0.5, right ? &p->right : &p->left);
        if (s < 0) continue;
        double b = d * sin(PI * s);
        double *a = ang + (size_t)k * GF_TMPL_NCH;
        a[right ? GF_TC_HIPADD_R : GF_TC_HIPADD_L] += b;
        /* pelvis list positive lowers the right side */
        a[GF_TC_PELVIS_LIST] += right ? -b : b;
    }
}

void gf_synth_onfh_fmax(const gf_trial_params *p, double *fmax)
{
    if (p->onfh_side != 1) return;
    fmax[10] *= 1.0 - p->onfh_abd_weak; /* glmed */
    fmax[11] *= 1.0 - p->onfh_abd_weak; /* glmin */
}

double gf_synth_onfh_floor(const gf_trial_params *p, int k)
{
    if (!(p->onfh_cocon > 0)) return 0.0;
    double s = stance_frac(k, 0.0, &p->right);
    if (s < 0) return 0.0;
    /* raised-cosine onset and release over the first and last 10 % of stance */
    double e = fmin(1.0, fmin(s, 1.0 - s) / 0.10);
    return p->onfh_cocon * 0.5 * (1.0 - cos(PI * e));
}

/* Kinematics of one simulated cycle: the Fourier templates fitted to the real
 * OpenSim walks (synth/templates.c), a stance-phase time warp for the
 * cadence, range-of-motion gains and offsets for cadence, subject style,
 * trial-to-trial variation (ONFH: synth/onfh.c). Parameter sources: docs/SYNTHETIC.md. */
#include <math.h>
#include <stddef.h>

#include "synth/internal.h"

#define PI 3.14159265358979323846

double gf_tmpl_eval(int ch, double ph)
{
    const double *c = gf_tmpl_coef[ch];
    double w = 2.0 * PI * ph, c1 = cos(w), s1 = sin(w);
    double ck = c1, sk = s1, v = c[0];
    for (int k = 1; k <= GF_TMPL_NHARM; k++) {
        v += c[2 * k - 1] * ck + c[2 * k] * sk;
        double cn = ck * c1 - sk * s1;
        sk = sk * c1 + ck * s1;
        ck = cn;
    }
    return v;
}

/* Healthy stance fraction vs cadence: 0.64 at 78, 0.61 at 115, 0.59 at 135
 * steps/min (Perry & Burnfield 2010 ~62 % at free cadence; Hebenstreit et al.
 * 2015 and Kirtley et al. 1985 stance falls ~0.1 %/step/min), linear between,
 * extrapolated with the end slopes and kept in [0.55, 0.72]. */
double gf_synth_stance_fraction(double c)
{
    double s;
    if (c <= 115.0) s = 0.61 + (115.0 - c) * (0.64 - 0.61) / (115.0 - 78.0);
    else s = 0.61 - (c - 115.0) * (0.61 - 0.59) / (135.0 - 115.0);
    return s < 0.55 ? 0.55 : s > 0.72 ? 0.72 : s;
}

/* Cadence gains of range of motion relative to 115 steps/min, per joint:
 * g = 1 + k (c - 115)/115. Hip sagittal ROM ~ -15 % at 78 and +8 % at 135
 * (Lelas et al. 2003; Kirtley et al. 1985), knee and ankle less. */
static const double cad_k[GF_NJ] = {0.45, 0.35, 0.20, 0.25, 0.15};
static double cad_gain(int j, double c)
{
    double g = 1.0 + cad_k[j] * (c - 115.0) / 115.0;
    return g < 0.5 ? 0.5 : g;
}

#ifndef KNEE_ROM_NORM
#define KNEE_ROM_NORM 0.88
#endif
static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

gf_err gf_synth_trial_params(const gf_gait_subject *s, double c, gf_rng *r, gf_trial_params *p)
{
    if (!s || !p || !r) return gf_fail(GF_EINVAL, "gait: NULL argument");
    if (!(c >= 40.0 && c <= 200.0)) return gf_fail(GF_ERANGE, "gait: cadence %g steps/min outside [40, 200]", c);
    if (!(s->mass_kg >= 20.0 && s->mass_kg <= 250.0))
        return gf_fail(GF_ERANGE, "gait: body mass %g kg outside [20, 250]", s->mass_kg);
    if (!(s->height_m >= 1.0 && s->height_m <= 2.3))
        return gf_fail(GF_ERANGE, "gait: height %g m outside [1.0, 2.3]", s->height_m);
    for (int i = 0; i < GF_STYLE_DIMS; i++)
        if (!isfinite(s->style[i]) || fabs(s->style[i]) > 10.0)
            return gf_fail(GF_ERANGE, "gait: style[%d] = %g not a finite deviate", i, s->style[i]);
    const double *st = s->style;

    p->cadence_spm = c;
    p->stride_s = 120.0 / c;
    p->mass_kg = s->mass_kg;
    p->height_m = s->height_m;

    /* Subject style (each deviate N(0,1)), then side asymmetry (style[7]). */
    gf_side_params base;
    for (int j = 0; j < GF_NJ; j++) {
        base.gain[j] = cad_gain(j, c) / cad_gain(j, gf_tmpl_cadence_spm);
        base.offset[j] = 0.0;
    }
    base.gain[GF_J_HIPFLEX] *= clampd(1.0 + 0.08 * clampd(st[0], -3.0, 3.0), 0.75, 1.25);
    base.offset[GF_J_HIPFLEX] = 3.5 * st[1];
    /* Most of the between-subject spread of the hip flexion angle is pelvic
     * tilt (the thigh's orientation in space is constrained by foot
     * placement): 80 % of the offset is an opposite pelvis tilt, leaving the
     * leg geometry (and the GRF lever arms) nearly unchanged. */
    p->pelvis_tilt_off = -0.8 * base.offset[GF_J_HIPFLEX];
    base.gain[GF_J_HIPADD] *= clampd(1.0 + 0.15 * st[2], 0.5, 1.6);
    base.offset[GF_J_HIPADD] = 0.5 * st[2];
    base.gain[GF_J_HIPROT] *= clampd(1.0 + 0.10 * st[3], 0.5, 1.6);
    base.offset[GF_J_HIPROT] = 6.0 * st[3]; /* femoral anteversion and style */
    /* the OpenSim walks flex the knee to 69-72 deg in swing; normative adult
     * gait peaks near 60 (Perry & Burnfield 2010; Kadaba et al. 1990) */
    base.gain[GF_J_KNEE] *= KNEE_ROM_NORM * clampd(1.0 + 0.07 * st[4], 0.6, 1.4);
    base.offset[GF_J_KNEE] = 2.0 * st[4];
    base.gain[GF_J_ANKLE] *= clampd(1.0 + 0.08 * st[5], 0.6, 1.4);
    base.offset[GF_J_ANKLE] = 2.5 * st[5];
    base.stance = gf_synth_stance_fraction(c) + 0.01 * st[6];
    base.phase = 0.0;
    p->right = base;
    p->left = base;
    for (int j = 0; j < GF_NJ; j++) p->left.gain[j] *= 1.0 + 0.04 * st[7];
    p->left.offset[GF_J_HIPFLEX] += 1.0 * st[7];
    p->left.offset[GF_J_HIPADD] -= 0.7 * st[7];
    p->left.phase = 0.01 * st[7];
    p->pelvis_gain = cad_gain(GF_J_HIPFLEX, c) / cad_gain(GF_J_HIPFLEX, gf_tmpl_cadence_spm);
    gf_synth_lab_params(s, p);
    gf_synth_body(s, &p->body); /* muscles (synth/body.c) */

    /* GRF model (synth/grf.c) */
    gf_synth_grf_params(s, c, p);

    /* ONFH (synth/onfh.c): after the healthy parameters, before the
     * trial-to-trial variation (it draws nothing from the trial stream). */
    GF_TRY(gf_synth_onfh_apply(s, p));

    /* Trial-to-trial variation: always the same number of draws. */
    gf_side_params *sides[2] = {&p->right, &p->left};
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < GF_NJ; j++) {
            sides[k]->gain[j] *= 1.0 + 0.02 * gf_rng_normal(r);
            sides[k]->offset[j] += 0.6 * gf_rng_normal(r);
        }
        sides[k]->stance = clampd(sides[k]->stance + 0.004 * gf_rng_normal(r), 0.55, 0.72);
        sides[k]->phase += 0.004 * gf_rng_normal(r);
    }
    /* loading varies as a whole: AP scales with the vertical force so the
     * GRF direction (and the small net hip moment it leaves) stays stable */
    double load = 1.0 + 0.03 * gf_rng_normal(r);
    p->fy1 *= load;
    p->fy2 *= load * (1.0 + 0.01 * gf_rng_normal(r));
    /* vertical impulse over the stride = body weight x stride time: the
     * stance mean of the vertical curve is 0.28667 F1 + 0.25 F2 + 0.28 V */
    double sm = 0.5 * (p->right.stance + p->left.stance);
    p->fyv = clampd((0.5 / sm - 0.28667 * p->fy1 - 0.25 * p->fy2) / 0.28, 0.40, 1.0);
    return GF_OK;
}

/* Monotone C1 periodic warp of the cycle phase so that toe-off falls at the
 * template's stance fraction: psi(0)=0, psi(s)=s0, psi(1)=1, equal end
 * slopes (cubic Hermite pieces). */
static double warp(double ph, double s, double s0)
{
    ph -= floor(ph);
    double m0 = s0 / s, m1 = (1.0 - s0) / (1.0 - s), d = 0.5 * (m0 + m1);
    double x0, x1, y0, y1;
    if (ph < s) { x0 = 0; x1 = s; y0 = 0; y1 = s0; }
    else { x0 = s; x1 = 1; y0 = s0; y1 = 1; }
    double h = x1 - x0, t = (ph - x0) / h, t2 = t * t, t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * h * d + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * d;
}

/* Table channels of the right and left side of each limb joint. */
static const int ch_r[GF_NJ] = {GF_TC_HIPFLEX_R, GF_TC_HIPADD_R, GF_TC_HIPROT_R, GF_TC_KNEE_R, GF_TC_ANKLE_R};
static const int ch_l[GF_NJ] = {GF_TC_HIPFLEX_L, GF_TC_HIPADD_L, GF_TC_HIPROT_L, GF_TC_KNEE_L, GF_TC_ANKLE_L};

/* Limb template: right channel and left channel half a cycle later, averaged
 * (both limbs of both walks inform one pattern). */
static double limb(int j, double psi)
{
    return 0.5 * (gf_tmpl_eval(ch_r[j], psi) + gf_tmpl_eval(ch_l[j], psi + 0.5));
}
static double limb_mean(int j) { return 0.5 * (gf_tmpl_coef[ch_r[j]][0] + gf_tmpl_coef[ch_l[j]][0]); }

void gf_synth_kinematics(const gf_trial_params *p, double *ang)
{
    for (int k = 0; k < GF_T; k++) {
        double ph = (double)k / (GF_T - 1);
        double *a = ang + (size_t)k * GF_TMPL_NCH;
        double psi_r = warp(ph - p->right.phase, p->right.stance, gf_tmpl_stance);
        double psi_l = warp(ph - 0.5 - p->left.phase, p->left.stance, gf_tmpl_stance);
        for (int j = 0; j < GF_NJ; j++) {
            double mu = limb_mean(j);
            a[ch_r[j]] = mu + p->right.offset[j] + p->right.gain[j] * (limb(j, psi_r) - mu);
            a[ch_l[j]] = mu + p->left.offset[j] + p->left.gain[j] * (limb(j, psi_l) - mu);
        }
        for (int c = GF_TC_PELVIS_TILT; c <= GF_TC_PELVIS_ROT; c++) {
            double mu = gf_tmpl_coef[c][0];
            double v = gf_tmpl_eval(c, psi_r) - mu;
            a[c] = (c == GF_TC_PELVIS_TILT ? mu + p->pelvis_tilt_off : 0.0) + p->pelvis_gain * v;
        }
    }
}

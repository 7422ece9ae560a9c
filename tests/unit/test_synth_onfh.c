/* ONFH patients (synth/onfh.c): antalgic stance asymmetry, the Duchenne
 * trunk lean lowering the abductor moment at unchanged angles,
 * co-contraction raising antagonist forces with the moment balance kept,
 * heterogeneity of the compensations between patients, and validation of
 * onfh_style. Sources of the magnitudes: docs/SYNTHETIC.md "ONFH". */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "synth/gait.h"
#include "synth/internal.h"

static gf_gait_subject patient(int onfh, double sev)
{
    gf_gait_subject s = {.mass_kg = 75, .height_m = 1.75, .age_y = 50};
    s.onfh = onfh;
    s.onfh_severity = sev;
    return s;
}

static void params(const gf_gait_subject *s, uint64_t seed, gf_trial_params *p)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    cr_assert_eq(gf_synth_trial_params(s, 100.0, &r, p), GF_OK, "%s", gf_errmsg());
}

/* Constantinou et al. 2014: shorter stance on the affected than on the
 * contralateral limb. Healthy (same style, same trial stream): symmetric up to
 * the trial-to-trial noise (0.004 SD per side). */
Test(synth_onfh, affected_stance_shorter_than_unaffected)
{
    for (int side = 1; side <= 2; side++)
        for (uint64_t t = 0; t < 20; t++) {
            gf_gait_subject s = patient(side, 0.9), h = patient(0, 0);
            gf_trial_params p, q;
            params(&s, t, &p);
            params(&h, t, &q);
            double aff = side == 1 ? p.right.stance : p.left.stance, un = side == 1 ? p.left.stance : p.right.stance;
            cr_assert_gt(un - aff, 0.015, "side %d trial %llu: affected %.4f unaffected %.4f", side,
                         (unsigned long long)t, aff, un);
            cr_assert_lt(fabs(q.right.stance - q.left.stance), 0.015, "healthy asymmetry %.4f",
                         q.right.stance - q.left.stance);
        }
}

static double abductor_peak(const gf_trial_params *p)
{
    static double ang[GF_T * GF_TMPL_NCH], m[GF_T * GF_NM];
    gf_synth_kinematics(p, ang);
    gf_synth_onfh_kinematics(p, ang);
    gf_synth_hip_moments(p, ang, m);
    double peak = 0;
    for (int k = 0; k < GF_T; k++) peak = fmax(peak, -m[k * GF_NM + 1]);
    return peak / p->mass_kg;
}

/* A leaning patient (onfh_style[0] = +2) against the same trial with the
 * pivot point where a healthy subject has it: the angles are the same (the
 * trunk is not an input), the abductor moment is lower by at least 10 %. */
Test(synth_onfh, trunk_lean_lowers_abductor_moment_at_equal_angles)
{
    gf_gait_subject s = patient(1, 1.0), h = patient(0, 0);
    s.onfh_style[0] = 2.0;
    gf_trial_params p, q, ph;
    params(&s, 5, &p);
    params(&h, 5, &ph);
    cr_assert_gt(p.onfh_lean_deg, 4.0, "lean %.2f deg", p.onfh_lean_deg);
    q = p;
    q.vpp[2] = ph.vpp[2]; /* no lean, everything else (angles, GRF curve) equal */
    static double a1[GF_T * GF_TMPL_NCH], a2[GF_T * GF_TMPL_NCH];
    gf_synth_kinematics(&p, a1);
    gf_synth_kinematics(&q, a2);
    cr_assert_eq(memcmp(a1, a2, sizeof a1), 0);
    double lean = abductor_peak(&p), upright = abductor_peak(&q);
    cr_assert_lt(lean, 0.90 * upright, "abductor peak %.3f with lean vs %.3f upright (N·m/kg)", lean, upright);
}

/* Co-contraction (onfh_style[1] = +2: floor 12 % of Fmax) against none
 * (-2: floor 0), all else equal: the angles and moments are identical, in
 * right stance every muscle is at or above the floor, the antagonists of
 * the loading-response extensor moment (iliopsoas, rectus femoris) and of
 * the abductor moment (adductors) carry more force, and R F = M still holds. */
Test(synth_onfh, cocontraction_raises_antagonists_and_keeps_moment_balance)
{
    gf_gait_subject hi = patient(1, 1.0), lo = patient(1, 1.0);
    hi.onfh_style[1] = 2.0;
    lo.onfh_style[1] = -2.0;
    static float xh[GF_T * GF_DIN], xl[GF_T * GF_DIN], mh[GF_T * GF_NM], ml[GF_T * GF_NM];
    static float fh[GF_T * GF_NF], fl[GF_T * GF_NF];
    gf_rng r1, r2;
    gf_rng_seed(&r1, 3);
    gf_rng_seed(&r2, 3);
    cr_assert_eq(gf_gait_simulate(&hi, 100, &r1, xh, mh, fh), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_gait_simulate(&lo, 100, &r2, xl, ml, fl), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(memcmp(xh, xl, sizeof xh), 0);
    cr_assert_eq(memcmp(mh, ml, sizeof mh), 0);
    gf_trial_params p;
    params(&hi, 3, &p);
    cr_assert_float_eq(p.onfh_cocon, 0.12, 1e-12);
    double fmax[GF_NF];
    gf_synth_fmax(hi.mass_kg, &p.body, fmax);
    gf_synth_onfh_fmax(&p, fmax);
    static const int antag[] = {4, 5, 0, 1, 2}; /* iliopsoas, recfem, addbrev, addlong, addmag */
    double sum_h[5] = {0}, sum_l[5] = {0};
    int mid = 0;
    for (int k = 0; k < GF_T; k++) {
        double fl_k = gf_synth_onfh_floor(&p, k);
        if (fl_k < 0.12 - 1e-9) continue; /* mid-stance: the full floor */
        mid++;
        double r[3][GF_NF];
        /* x holds the lab's recorded angles; the muscles work at the anatomical ones */
        double hf, ad;
        gf_synth_lab_hip(&p, xh + k * GF_DIN, &hf, &ad);
        gf_synth_moment_arms(hf, ad, &p.body, r);
        for (int c = 0; c < GF_NF; c++)
            cr_assert_geq(fh[k * GF_NF + c], 0.12 * fmax[c] * (1 - 1e-5), "sample %d muscle %d below the floor", k, c);
        for (int d = 0; d < 3; d++) {
            double sum = 0;
            for (int c = 0; c < GF_NF; c++) sum += r[d][c] * fh[k * GF_NF + c];
            cr_assert(fabs(sum - mh[k * GF_NM + d]) < 1e-3 * hi.mass_kg, "sample %d dof %d: R F %.4f, M %.4f", k, d,
                      sum, mh[k * GF_NM + d]);
        }
        for (int j = 0; j < 5; j++) {
            sum_h[j] += fh[k * GF_NF + antag[j]];
            sum_l[j] += fl[k * GF_NF + antag[j]];
        }
    }
    cr_assert_gt(mid, 60, "only %d samples at the full floor", mid);
    for (int j = 0; j < 5; j++)
        cr_assert_gt(sum_h[j], 1.5 * sum_l[j], "muscle %d: %.0f with co-contraction vs %.0f without", antag[j],
                     sum_h[j], sum_l[j]);
}

/* Heterogeneity: 200 patients drawn like the cohort (severity 0.7-1,
 * onfh_style N(0,1)): some lean (Duchenne) more than they drop
 * (Trendelenburg), some the reverse, and the co-contraction floor and the
 * stance asymmetry spread between patients. */
Test(synth_onfh, patients_differ_in_dominant_compensation)
{
    gf_rng r;
    gf_rng_seed(&r, 41);
    int lean = 0, drop = 0, n = 200;
    double cc[2] = {0, 0}, as[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        gf_gait_subject s = patient(1, 0.7 + 0.3 * gf_rng_uniform(&r));
        for (int d = 0; d < GF_ONFH_DIMS; d++) s.onfh_style[d] = gf_rng_normal(&r);
        gf_trial_params p;
        params(&s, (uint64_t)i, &p);
        /* lean vs drop in degrees of their frontal effect on the body */
        if (p.onfh_lean_deg > 2.0 * p.onfh_drop_deg) lean++;
        if (p.onfh_drop_deg > 0.5 * p.onfh_lean_deg) drop++;
        cc[0] += p.onfh_cocon / n;
        cc[1] += p.onfh_cocon * p.onfh_cocon / n;
        double a = p.left.stance - p.right.stance;
        as[0] += a / n;
        as[1] += a * a / n;
    }
    double cc_sd = sqrt(cc[1] - cc[0] * cc[0]), as_sd = sqrt(as[1] - as[0] * as[0]);
    cr_log_info("lean-dominant %d, drop-dominant %d of %d; co-contraction %.3f (SD %.3f); asymmetry %.3f (SD %.3f)",
                lean, drop, n, cc[0], cc_sd, as[0], as_sd);
    cr_assert_geq(lean, n / 4, "%d lean-dominant patients", lean);
    cr_assert_geq(drop, n / 8, "%d drop-dominant patients", drop);
    cr_assert_gt(cc_sd, 0.015, "co-contraction floor SD %.4f", cc_sd);
    cr_assert_gt(as_sd, 0.006, "stance asymmetry SD %.4f", as_sd);
}

Test(synth_onfh, onfh_style_is_validated)
{
    gf_gait_subject s = patient(1, 0.8);
    gf_trial_params p;
    gf_rng r;
    gf_rng_seed(&r, 1);
    s.onfh_style[2] = NAN;
    cr_assert_eq(gf_synth_trial_params(&s, 100, &r, &p), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "onfh_style[2]"), "%s", gf_errmsg());
    s.onfh_style[2] = 11.0;
    cr_assert_eq(gf_synth_trial_params(&s, 100, &r, &p), GF_ERANGE);
    /* validated for healthy subjects too (the cohort draws it for everyone) */
    s = patient(0, 0);
    s.onfh_style[0] = INFINITY;
    cr_assert_eq(gf_synth_trial_params(&s, 100, &r, &p), GF_ERANGE);
}

/* gf_gait_simulate: trial parameters -> kinematics -> inverse dynamics ->
 * static optimization, one gait cycle of GF_T samples. */
#include <math.h>
#include <stddef.h>

#include "synth/internal.h"

gf_err gf_synth_cycle(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng, float *x, float *ym,
                      float *yf, double *max_reserve)
{
    gf_trial_params p;
    GF_TRY(gf_synth_trial_params(s, cadence_spm, trial_rng, &p));
    double ang[GF_T * GF_TMPL_NCH], mom[GF_T * GF_NM];
    gf_synth_kinematics(&p, ang);
    gf_synth_onfh_kinematics(&p, ang);
    gf_synth_hip_moments(&p, ang, mom);
    double fmax[GF_NF], worst = 0;
    gf_synth_fmax(s->mass_kg, &p.body, fmax);
    gf_synth_onfh_fmax(&p, fmax);
    for (int k = 0; k < GF_T; k++) {
        const double *a = ang + (size_t)k * GF_TMPL_NCH;
        const double *m = mom + (size_t)k * GF_NM;
        for (int c = 0; c < GF_DIN; c++)
            if (!isfinite(a[c])) return gf_fail(GF_ENUMERIC, "gait: angle %d at sample %d is not finite", c, k);
        if (x) gf_synth_lab_angles(&p, a, x + (size_t)k * GF_DIN);
        if (ym)
            for (int c = 0; c < GF_NM; c++) ym[(size_t)k * GF_NM + c] = (float)m[c];
        if (yf || max_reserve) {
            double r[3][GF_NF], f[GF_NF], res[3], fmin[GF_NF], fl = gf_synth_onfh_floor(&p, k);
            for (int c = 0; c < GF_NF; c++) fmin[c] = fl * fmax[c]; /* ONFH co-contraction */
            gf_synth_moment_arms(a[GF_TC_HIPFLEX_R], a[GF_TC_HIPADD_R], &p.body, r);
            GF_TRY(gf_synth_static_opt_floor(r, fmax, fmin, m, f, res));
            /* no spare capacity for co-contraction where the muscles cannot
             * balance the moment with it: solve without the floor */
            if (fl > 0 && fabs(res[0]) + fabs(res[1]) + fabs(res[2]) > 1e-6 * s->mass_kg)
                GF_TRY(gf_synth_static_opt(r, fmax, m, f, res));
            for (int d = 0; d < 3; d++)
                if (fabs(res[d]) > worst) worst = fabs(res[d]);
            if (yf)
                for (int c = 0; c < GF_NF; c++) yf[(size_t)k * GF_NF + c] = (float)f[c];
        }
    }
    if (max_reserve) *max_reserve = worst;
    return GF_OK;
}

gf_err gf_gait_simulate(const gf_gait_subject *s, double cadence_spm, gf_rng *trial_rng, float *x, float *ym,
                        float *yf)
{
    if (!x || !ym || !yf) return gf_fail(GF_EINVAL, "gait: NULL output buffer");
    return gf_synth_cycle(s, cadence_spm, trial_rng, x, ym, yf, NULL);
}

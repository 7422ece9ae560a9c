/* node/local: physical plausibility of input statistics (node/local.h
 * gf_local_stats_plausible). The bounds live here and nowhere else; the node
 * checks its own contribution before it sends it, the coordinator the pooled
 * sums before it accepts them (coordinator/aggregate.c). */
#include <math.h>

#include "node/local.h"

/* Joint ranges of motion in degrees, in the project's convention (sites/
 * dataset.h: OpenSim coordinate names, flexion, adduction and internal
 * rotation positive, knee flexion positive). The anatomical limits are the
 * normal passive ranges of motion of adults (AAOS; Norkin & White, "Measurement
 * of Joint Motion"): hip extension 30 / flexion 120, abduction 45 / adduction
 * 30, external / internal rotation 45; knee hyperextension 10 / flexion 140;
 * ankle plantarflexion 50 / dorsiflexion 20. Each is widened by 10 degrees
 * for what motion capture adds (per-session offsets of a few degrees,
 * docs/SYNTHETIC.md "Capture"; marker placement). Walking uses well inside
 * them: the synthetic cohort spans hip flexion -35..39, knee -6..96.
 * The left hip's adduction and rotation are in the real Gait2Hip files'
 * non-mirrored convention (negated relative to the anatomical left angles,
 * docs/SYNTHETIC.md "the lab's conventions"), so the left adduction range is
 * the right's mirrored: abduction (55) positive, adduction (40) negative.
 * Rotation is symmetric. */
const gf_angle_range gf_local_angle_range[GF_DIN] = {
    {-40, 130}, /* hip_flexion_r */
    {-55, 40},  /* hip_adduction_r */
    {-55, 55},  /* hip_rotation_r */
    {-40, 130}, /* hip_flexion_l */
    {-40, 55},  /* hip_adduction_l (non-mirrored: abduction positive) */
    {-55, 55},  /* hip_rotation_l */
    {-20, 150}, /* knee_angle_r */
    {-60, 30},  /* ankle_angle_r */
    {-20, 150}, /* knee_angle_l */
    {-60, 30},  /* ankle_angle_l */
};

gf_err gf_local_stats_plausible(const char *who, int64_t n_frames, const int64_t sum_x[GF_DIN],
                                const int64_t sum_x2[GF_DIN], double mean_out[GF_DIN], double sd_out[GF_DIN])
{
    if (n_frames < GF_T || n_frames % GF_T)
        return gf_fail(GF_ERANGE, "%s: %lld frames is not a positive number of %d-frame gait cycles", who,
                       (long long)n_frames, GF_T);
    double m[GF_DIN], var[GF_DIN], sd[GF_DIN];
    for (int c = 0; c < GF_DIN; c++) { /* every channel first: the caller may report them all */
        /* long double: the sums are exact integers up to 2^63 (as gf_local_pooled_norm) */
        long double nf = (long double)n_frames, mu = (long double)sum_x[c] / GF_LOCAL_FIX_SCALE / nf;
        var[c] = (double)((long double)sum_x2[c] / GF_LOCAL_FIX_SCALE / nf - mu * mu);
        m[c] = (double)mu;
        sd[c] = var[c] > 0 ? sqrt(var[c]) : 0;
        if (mean_out) mean_out[c] = m[c];
        if (sd_out) sd_out[c] = sd[c];
    }
    for (int c = 0; c < GF_DIN; c++) {
        const gf_angle_range *b = &gf_local_angle_range[c];
        double sd_max = (b->hi - b->lo) / 2; /* Popoviciu: values within [lo, hi] have SD <= (hi - lo) / 2 */
        if (!(m[c] >= b->lo && m[c] <= b->hi))
            return gf_fail(GF_ERANGE, "%s: channel %s: mean %.4g deg is outside the joint's range %g..%g deg", who,
                           gf_in_cols[c], m[c], b->lo, b->hi);
        if (var[c] < 0)
            return gf_fail(GF_ERANGE, "%s: channel %s: variance %.4g deg^2 < 0: sum x^2 below (sum x)^2 / frames", who,
                           gf_in_cols[c], var[c]);
        if (!(sd[c] >= GF_LOCAL_MIN_SD && sd[c] <= sd_max))
            return gf_fail(GF_ERANGE, "%s: channel %s: SD %.4g deg is outside %g..%g deg (%s)", who, gf_in_cols[c],
                           sd[c], GF_LOCAL_MIN_SD, sd_max,
                           sd[c] > sd_max ? "wider than angles within the joint's range can spread"
                                          : "a joint that barely moves while walking, or not degrees");
    }
    return GF_OK;
}

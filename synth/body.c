/* The subject's muscles beyond height and mass, from height and style[12..14]:
 * what real people differ in and their joint angles do not show. The factors
 * act through the physics (Fmax and moment arms in the static optimization),
 * never on the labels. Magnitudes and sources: docs/SYNTHETIC.md "Muscles". */
#include <math.h>

#include "synth/internal.h"

/* Height of the generic model the moment arms in muscles.c stand for (between
 * Gait2392's 1.80 m and Rajagopal's 1.70 m; the segment model's reference). */
#define BODY_H_REF 1.75
/* Log-SD of a muscle group's strength relative to its antagonists' group,
 * per SD of the deviate: each group's residual volume CV ~10 % (Handsfield
 * et al. 2014), the two groups move oppositely, so their ratio has CV ~14 %. */
#define GROUP_LOG_SD 0.07
/* Log-SD of the trochanteric abductors' frontal moment arm: femoral offset
 * SD ~5 mm (Han et al. 2014, Yin et al. 2010) at ~1.4 % of arm per mm. */
#define OFFSET_LOG_SD 0.07
/* Deviates beyond +-3 SD are clamped: no body outside the measured range. */
#define DEV_CLAMP 3.0

/* gf_force_cols order. Primary sagittal role (+1 flexor, -1 extensor) and
 * frontal role (+1 abductor, -1 adductor), 0 where the muscle's main action
 * is elsewhere (Delp et al. 1990; Neumann 2010). */
static const signed char flex_group[GF_NF] = {0, 0, -1, 0, 1, 1, 1, -1, -1, -1, 0, 0, 1, 0};
static const signed char abd_group[GF_NF] = {-1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
/* Inserting on the greater trochanter: their frontal lever arm grows with the
 * femoral offset (glmed, glmin, piriformis). */
static const unsigned char trochanteric[GF_NF] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1};

static double dev(double z) { return z < -DEV_CLAMP ? -DEV_CLAMP : z > DEV_CLAMP ? DEV_CLAMP : z; }

void gf_synth_body(const gf_gait_subject *s, gf_body *b)
{
    /* A uniform strength factor leaves static-optimization forces unchanged
     * (min sum (F/Fmax)^2 only sees relative strength), so the deviates set
     * the balance between antagonist groups. */
    double zf = dev(s->style[12]), za = dev(s->style[13]), zo = dev(s->style[14]);
    for (int i = 0; i < GF_NF; i++)
        b->fmax_gain[i] = exp(GROUP_LOG_SD * (flex_group[i] * zf + abd_group[i] * za));
    /* OpenSim's scaling scales attachment points, hence moment arms, with the
     * segment lengths (~ height); the femoral offset adds its residual. */
    double size = s->height_m / BODY_H_REF;
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < GF_NF; i++)
            b->arm_gain[d][i] = size * (d == 1 && trochanteric[i] ? exp(OFFSET_LOG_SD * zo) : 1.0);
}

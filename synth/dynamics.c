/* Simplified inverse dynamics of the right leg: anthropometric segment model
 * (Winter 2009 / de Leva 1996, scaled by height and mass), 3-D leg
 * kinematics from the true angles, a ground-reaction-force model over right
 * stance, and the hip moment
 *   M_hip = sum_i [ r_i x m_i a_i + I_i alpha_i ] - sum_i r_i x m_i g - r_cop x F - T_free
 * about the hip joint centre, a_i = segment acceleration relative to the
 * pelvis plus the pelvis acceleration (taken as the body centre-of-mass
 * acceleration, (F_right + F_left)/m + g in all three directions, the left
 * foot loaded by the same GRF model half a cycle later; in pre-swing the
 * right leg's forward and vertical accelerations are corrected so that the
 * loaded metatarsal heads stay still, in proportion to the right foot's
 * share of the vertical load), projected on the
 * ground axes x forward, y up, z right (pelvis frame ~ ground frame):
 * flexion = M_z, adduction = M_x, internal rotation = M_y (OpenSim
 * generalized-force signs: flexion negative = extensor, adduction negative =
 * abductor). Parameter sources: docs/SYNTHETIC.md. */
#include <math.h>
#include <string.h>

#include "synth/internal.h"

#define PI 3.14159265358979323846
#define GRAV 9.81
#define DEG (PI / 180.0)

/* Segment parameters: length / height, mass / body mass, COM from proximal
 * end / length, radius of gyration about COM / length (sagittal, long axis).
 * Winter 2009 Table 4.1 (lengths, masses, COM, sagittal radii); de Leva 1996
 * long-axis radii. Foot COM/radius relative to heel-toe length. */
#define THIGH_L 0.245
#define SHANK_L 0.246
#define FOOT_L 0.152
#define ANKLE_H 0.039
#define THIGH_M 0.100
#define SHANK_M 0.0465
#define FOOT_M 0.0145
#define THIGH_COM 0.433
#define SHANK_COM 0.433
#define FOOT_COM 0.50
#define THIGH_RG 0.323
#define SHANK_RG 0.302
#define FOOT_RG 0.475
#define THIGH_RGL 0.149
#define SHANK_RGL 0.103
#define FOOT_RGL 0.124
#define HEEL_BEHIND_ANKLE 0.23 /* fraction of foot length */
#define BALL_FROM_HEEL 0.72    /* metatarsal heads, fraction of foot length */
#define HIP_HALF_W 0.05        /* half the distance between the hip joint centres / height */

typedef struct { double m[3][3]; } mat3;

static mat3 mmul(mat3 a, mat3 b)
{
    mat3 c;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) c.m[i][j] = a.m[i][0] * b.m[0][j] + a.m[i][1] * b.m[1][j] + a.m[i][2] * b.m[2][j];
    return c;
}
static mat3 rot(int axis, double deg)
{
    double c = cos(deg * DEG), s = sin(deg * DEG);
    mat3 r = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    int i = (axis + 1) % 3, j = (axis + 2) % 3; /* x: (y,z), y: (z,x), z: (x,y) */
    r.m[i][i] = c; r.m[i][j] = -s; r.m[j][i] = s; r.m[j][j] = c;
    return r;
}
static void mvec(mat3 a, const double v[3], double out[3])
{
    for (int i = 0; i < 3; i++) out[i] = a.m[i][0] * v[0] + a.m[i][1] * v[1] + a.m[i][2] * v[2];
}
static void cross(const double a[3], const double b[3], double o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

#define NSEG 3
/* Pre-swing forefoot contact: over these fractions of right stance (heel
 * rise to toe-off; Perry & Burnfield 2010: heel rise at ~50 % of stance,
 * i.e. 31 % of the cycle) the loaded metatarsal heads are taken as still. */
#ifndef PIN_S0
#define PIN_S0 0.55
#endif
#ifndef PIN_S1
#define PIN_S1 0.75
#endif
#ifndef ACC_FC
#define ACC_FC 6.0 /* Hz, low-pass cutoff of the kinematics for accelerations */
#endif
#define ACC_NH 10  /* harmonics kept (stride >= 0.83 s: 10 harmonics >= 12 Hz) */

/* Second time derivative of a periodic signal of n samples over period T
 * (s), by spectral differentiation with a zero-phase low-pass weight
 * 1/(1 + (f/fc)^8) (the magnitude of a 4th-order Butterworth applied forward
 * and backward, Winter 2009 recommends ~6 Hz for gait kinematics).
 * cs/sn: cos/sin tables [ACC_NH][n]. */
static void lowpass_d2(const double *x, int stride, int n, double T, const double *cs, const double *sn, double *out)
{
    double a[ACC_NH], b[ACC_NH];
    for (int h = 0; h < ACC_NH; h++) {
        double sa = 0, sb = 0;
        for (int k = 0; k < n; k++) {
            sa += x[(size_t)k * stride] * cs[h * n + k];
            sb += x[(size_t)k * stride] * sn[h * n + k];
        }
        double f = (h + 1) / T, w = 2.0 * PI * f, r = f / ACC_FC, r2 = r * r, r4 = r2 * r2;
        double gain = -w * w / (1.0 + r4 * r4) * 2.0 / n;
        a[h] = sa * gain;
        b[h] = sb * gain;
    }
    for (int k = 0; k < n; k++) {
        double v = 0;
        for (int h = 0; h < ACC_NH; h++) v += a[h] * cs[h * n + k] + b[h] * sn[h * n + k];
        out[k] = v;
    }
}
/* Leg chain below a hip: knee, ankle, heel, ball (metatarsal heads) and toe
 * positions relative to the hip for thigh orientation rt (side = +1 right,
 * -1 left: adduction and rotation mirrored). */
typedef struct { double knee[3], ankle[3], heel[3], ball[3], toe[3]; mat3 rt, rs, rf; } leg_pose;
static void leg_chain(mat3 rp, double flex, double add, double rotn, double knee_deg, double ankle_deg, int side,
                      const double len[NSEG], double H, leg_pose *L)
{
    L->rt = mmul(mmul(mmul(rp, rot(2, flex)), rot(0, side * add)), rot(1, side * rotn));
    L->rs = mmul(L->rt, rot(2, -knee_deg));
    L->rf = mmul(L->rs, rot(2, ankle_deg));
    double v[3], vt[3] = {0, -len[0], 0}, vs[3] = {0, -len[1], 0};
    mvec(L->rt, vt, L->knee);
    mvec(L->rs, vs, v);
    for (int i = 0; i < 3; i++) L->ankle[i] = L->knee[i] + v[i];
    double vh[3] = {-HEEL_BEHIND_ANKLE * len[2], -ANKLE_H * H, 0};
    double vb[3] = {(BALL_FROM_HEEL - HEEL_BEHIND_ANKLE) * len[2], -ANKLE_H * H, 0};
    double vtoe[3] = {(1.0 - HEEL_BEHIND_ANKLE) * len[2], -ANKLE_H * H, 0};
    mvec(L->rf, vh, v);
    for (int i = 0; i < 3; i++) L->heel[i] = L->ankle[i] + v[i];
    mvec(L->rf, vb, v);
    for (int i = 0; i < 3; i++) L->ball[i] = L->ankle[i] + v[i];
    mvec(L->rf, vtoe, v);
    for (int i = 0; i < 3; i++) L->toe[i] = L->ankle[i] + v[i];
}

void gf_synth_hip_moments(const gf_trial_params *p, const double *ang, double *mout)
{
    gf_synth_hip_dynamics(p, ang, mout, NULL, NULL);
}

void gf_synth_hip_dynamics(const gf_trial_params *p, const double *ang, double *mout, double *grf_out, double *cop_out)
{
    const int N = GF_T - 1; /* unique samples of the periodic cycle */
    const double H = p->height_m, M = p->mass_kg, bw = M * GRAV;
    const double len[NSEG] = {THIGH_L * H, SHANK_L * H, FOOT_L * H};
    const double mass[NSEG] = {THIGH_M * M, SHANK_M * M, FOOT_M * M};
    const double rg[NSEG] = {THIGH_RG, SHANK_RG, FOOT_RG}, rgl[NSEG] = {THIGH_RGL, SHANK_RGL, FOOT_RGL};
    const double hw = HIP_HALF_W * H;
    double com[GF_T][NSEG][3];  /* right segment COMs relative to the right hip */
    double ang3[GF_T][NSEG][3]; /* segment angles about x, y, z (deg), for alpha */
    double cop[GF_T][3], grf[GF_T][3];
    /* right segment COMs relative to the pelvis centre, whose acceleration
     * is the body centre-of-mass acceleration from the GRFs (Newton) */
    double pc[GF_T][NSEG][3], ahip[GF_T][3], sfr[GF_T], sfl[GF_T];
    double pball[GF_T][3], wpin[GF_T]; /* right metatarsal heads rel. to the pelvis centre; pin weight */
    double axis[GF_T][3][3]; /* hip flexion, adduction, rotation axes in ground */

    for (int k = 0; k < N; k++) {
        const double *a = ang + (size_t)k * GF_TMPL_NCH;
        mat3 rp = mmul(mmul(rot(2, a[GF_TC_PELVIS_TILT]), rot(0, a[GF_TC_PELVIS_LIST])), rot(1, a[GF_TC_PELVIS_ROT]));
        double hr[3], hv[3] = {0, 0, hw};
        mvec(rp, hv, hr);
        leg_pose R;
        {
            /* OpenSim's generalized forces of the hip are the moment
             * projected on each coordinate's axis: flexion about the pelvis
             * z, adduction about x after flexion, rotation about the femur's
             * long axis after flexion and adduction */
            const double ex[3] = {1, 0, 0}, ey[3] = {0, 1, 0}, ez[3] = {0, 0, 1};
            mat3 rf = mmul(rp, rot(2, a[GF_TC_HIPFLEX_R]));
            mvec(rp, ez, axis[k][0]);
            mvec(rf, ex, axis[k][1]);
            mvec(mmul(rf, rot(0, a[GF_TC_HIPADD_R])), ey, axis[k][2]);
        }
        leg_chain(rp, a[GF_TC_HIPFLEX_R], a[GF_TC_HIPADD_R], a[GF_TC_HIPROT_R], a[GF_TC_KNEE_R], a[GF_TC_ANKLE_R], 1,
                  len, H, &R);
        for (int i = 0; i < 3; i++) {
            com[k][0][i] = THIGH_COM * R.knee[i];
            com[k][1][i] = R.knee[i] + SHANK_COM * (R.ankle[i] - R.knee[i]);
            com[k][2][i] = R.heel[i] + FOOT_COM * (R.toe[i] - R.heel[i]);
            for (int sg = 0; sg < NSEG; sg++) pc[k][sg][i] = hr[i] + com[k][sg][i];
            pball[k][i] = hr[i] + R.ball[i];
        }
        double sag = a[GF_TC_PELVIS_TILT] + a[GF_TC_HIPFLEX_R];
        double fro = a[GF_TC_PELVIS_LIST] + a[GF_TC_HIPADD_R];
        double tra = a[GF_TC_PELVIS_ROT] + a[GF_TC_HIPROT_R];
        ang3[k][0][0] = fro; ang3[k][0][1] = tra; ang3[k][0][2] = sag;
        ang3[k][1][0] = fro; ang3[k][1][1] = tra; ang3[k][1][2] = sag - a[GF_TC_KNEE_R];
        ang3[k][2][0] = fro; ang3[k][2][1] = tra; ang3[k][2][2] = sag - a[GF_TC_KNEE_R] + a[GF_TC_ANKLE_R];

        double ph = (double)k / N - p->right.phase;
        ph -= floor(ph);
        double sr = -1, sl = -1;
        memset(grf[k], 0, sizeof grf[k]);
        memset(cop[k], 0, sizeof cop[k]);
        if (ph < p->right.stance) {
            sr = ph / p->right.stance;
            gf_synth_grf_at(p, sr, R.heel, R.toe, cop[k], grf[k]);
        }
        double phl = (double)k / N - 0.5 - p->left.phase;
        phl -= floor(phl);
        if (phl < p->left.stance) {
            sl = phl / p->left.stance;
        }
        sfr[k] = sr;
        sfl[k] = sl;
    }

    /* Pelvis (hip) translation: by Newton the body centre-of-mass
     * acceleration, (F_right + F_left)/m + g, in all three directions (the
     * pelvis excursions implied by the averaged templates are not reliable,
     * and a kinematically pinned stance foot made the forward velocity jump
     * at the change of support); the left foot's force is the right's at
     * the same stance fraction, mirrored medio-laterally. Each segment's
     * acceleration is this plus its (low-passed) acceleration relative to
     * the pelvis from the template angles. */
    int rs0 = -1, nst = 0;
    for (int k = 0; k < N; k++)
        if (sfr[k] >= 0) {
            nst++;
            if (sfr[(k + N - 1) % N] < 0) rs0 = k;
        }
    if (rs0 < 0) rs0 = 0;
    for (int k = 0; k < N; k++) {
        double fl[3] = {0, 0, 0}, sl = sfl[k];
        if (sl >= 0) {
            int lo = -1, hi = -1;
            for (int j = 0; j < nst; j++) {
                int q = (rs0 + j) % N;
                if (sfr[q] <= sl) lo = q;
                else { hi = q; break; }
            }
            if (hi < 0) hi = lo;
            if (lo < 0) lo = hi;
            fl[1] = bw * gf_synth_grf_vertical(p, sl);
            if (lo >= 0 && hi >= 0 && grf[lo][1] > 0 && grf[hi][1] > 0) {
                double w = sfr[hi] > sfr[lo] ? (sl - sfr[lo]) / (sfr[hi] - sfr[lo]) : 0.0;
                double rx = (1 - w) * grf[lo][0] / grf[lo][1] + w * grf[hi][0] / grf[hi][1];
                double rz = (1 - w) * grf[lo][2] / grf[lo][1] + w * grf[hi][2] / grf[hi][1];
                fl[0] = fl[1] * rx;
                fl[2] = -fl[1] * rz;
            }
        }
        for (int i = 0; i < 3; i++) ahip[k][i] = (grf[k][i] + fl[i]) / M;
        ahip[k][1] -= GRAV;
        /* pre-swing forefoot contact: weight of the still metatarsal heads,
         * rising over PIN_S0..PIN_S1 of right stance, times the right foot's
         * share of the vertical load */
        wpin[k] = 0;
        if (sfr[k] >= 0 && grf[k][1] > 0) {
            double t = (sfr[k] - PIN_S0) / (PIN_S1 - PIN_S0);
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            wpin[k] = t * t * (3.0 - 2.0 * t) * grf[k][1] / (grf[k][1] + fl[1]);
        }
    }
    /* steady walking: no net horizontal impulse over the stride (the GRF
     * model's small residual braking/propulsion imbalance is removed) */
    for (int i = 0; i < 3; i += 2) {
        double mean = 0;
        for (int k = 0; k < N; k++) mean += ahip[k][i];
        mean /= N;
        for (int k = 0; k < N; k++) ahip[k][i] -= mean;
    }

    /* accelerations of the segment COMs and angles, low-passed */
    double cs[ACC_NH * GF_T], sn[ACC_NH * GF_T];
    for (int k = 0; k < N; k++) {
        double w = 2.0 * PI * k / N, c1 = cos(w), s1 = sin(w), ck = c1, sk = s1;
        for (int h = 0; h < ACC_NH; h++) {
            cs[h * N + k] = ck;
            sn[h * N + k] = sk;
            double cn = ck * c1 - sk * s1;
            sk = sk * c1 + ck * s1;
            ck = cn;
        }
    }
    double acc[GF_T][NSEG][3], alpha[GF_T][NSEG][3], tmp[GF_T], aball[GF_T][3];
    for (int i = 0; i < 3; i++) {
        lowpass_d2(&pball[0][i], 3, N, p->stride_s, cs, sn, tmp);
        for (int k = 0; k < N; k++) aball[k][i] = tmp[k] + ahip[k][i];
    }
    for (int sg = 0; sg < NSEG; sg++)
        for (int i = 0; i < 3; i++) {
            lowpass_d2(&pc[0][sg][i], NSEG * 3, N, p->stride_s, cs, sn, tmp);
            for (int k = 0; k < N; k++) {
                acc[k][sg][i] = tmp[k] + ahip[k][i];
                /* the loaded forefoot does not accelerate (forward, vertical):
                 * remove its spurious acceleration from the whole right leg in
                 * proportion to the right foot's share of the load */
                if (i < 2) acc[k][sg][i] -= wpin[k] * aball[k][i];
            }
            lowpass_d2(&ang3[0][sg][i], NSEG * 3, N, p->stride_s, cs, sn, tmp);
            for (int k = 0; k < N; k++) alpha[k][sg][i] = tmp[k] * DEG;
        }
    const double g[3] = {0, -GRAV, 0};
    for (int k = 0; k < N; k++) {
        double mh[3] = {0, 0, 0}, t[3];
        for (int sg = 0; sg < NSEG; sg++) {
            double ma[3];
            for (int i = 0; i < 3; i++) ma[i] = mass[sg] * (acc[k][sg][i] - g[i]);
            cross(com[k][sg], ma, t);
            double is = mass[sg] * (rg[sg] * len[sg]) * (rg[sg] * len[sg]);
            double il = mass[sg] * (rgl[sg] * len[sg]) * (rgl[sg] * len[sg]);
            /* long axis: y for thigh/shank, x for the foot */
            double I[3] = {sg == 2 ? il : is, sg == 2 ? is : il, is};
            for (int i = 0; i < 3; i++) mh[i] += t[i] + I[i] * alpha[k][sg][i];
        }
        cross(cop[k], grf[k], t);
        for (int i = 0; i < 3; i++) mh[i] -= t[i];
        double *o = mout + (size_t)k * GF_NM;
        for (int d = 0; d < 3; d++) o[d] = mh[0] * axis[k][d][0] + mh[1] * axis[k][d][1] + mh[2] * axis[k][d][2];
    }
    memcpy(mout + (size_t)N * GF_NM, mout, GF_NM * sizeof(double));
    for (int k = 0; k < GF_T; k++)
        for (int i = 0; i < 3; i++) {
            if (grf_out) grf_out[k * 3 + i] = grf[k % N][i];
            if (cop_out) cop_out[k * 3 + i] = cop[k % N][i];
        }
}

/* Simplified inverse dynamics of the right leg: anthropometric segment model
 * (Winter 2009 / de Leva 1996, scaled by height and mass), 3-D leg
 * kinematics from the true angles, a ground-reaction-force model over right
 * stance, and the hip moment
 *   M_hip = sum_i [ r_i x m_i a_i + I_i alpha_i ] - sum_i r_i x m_i g - r_cop x F - T_free
 * about the hip joint centre, a_i = segment acceleration relative to the hip
 * plus the hip acceleration (taken as the body centre-of-mass acceleration,
 * (F_right + F_left)/m + g, the left foot loaded by the same GRF model half a
 * cycle later), projected on the
 * ground axes x forward, y up, z right (pelvis frame ~ ground frame):
 * flexion = M_z, adduction = M_x, internal rotation = M_y (OpenSim
 * generalized-force signs: flexion negative = extensor, adduction negative =
 * abductor). Parameter sources: docs/SYNTHETIC.md. */
#include <math.h>
#include <string.h>

#include "sites/synth_internal.h"

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

/* Piecewise cubic through knots with zero slope at every knot (smooth
 * plateaus at peaks and valleys). */
static double knots(const double *x, const double *y, int n, double s)
{
    if (s <= x[0]) return y[0];
    for (int i = 1; i < n; i++)
        if (s <= x[i]) {
            double t = (s - x[i - 1]) / (x[i] - x[i - 1]);
            return y[i - 1] + (y[i] - y[i - 1]) * t * t * (3.0 - 2.0 * t);
        }
    return y[n - 1];
}

/* GRF (N, ground axes) and COP fraction along the foot at stance fraction s. */
static void grf_model(const gf_trial_params *p, double s, double bw, double f[3], double *cop)
{
    static const double vx[5] = {0.0, 0.25, 0.50, 0.75, 1.0};
    double vy[5] = {0.0, p->fy1, p->fyv, p->fy2, 0.0};
    /* AP: braking lobe then propulsion; propulsive peak set so that the
     * stance impulse is zero (steady walking). */
    static const double ax[5] = {0.0, 0.15, 0.47, 0.82, 1.0};
    double prop = p->fx_brake * (0.47 / 2.0) / ((1.0 - 0.47) / 2.0);
    double ay[5] = {0.0, -p->fx_brake, 0.0, prop, 0.0};
    static const double mx[5] = {0.0, 0.20, 0.50, 0.80, 1.0};
    double my[5] = {0.0, -p->fz_med, -0.6 * p->fz_med, -p->fz_med, 0.0};
    f[0] = bw * knots(ax, ay, 5, s);
    f[1] = bw * knots(vx, vy, 5, s);
    f[2] = bw * knots(mx, my, 5, s);
    *cop = p->cop_start + (p->cop_end - p->cop_start) * s;
}

#define NSEG 3
void gf_synth_hip_moments(const gf_trial_params *p, const double *ang, double *mout)
{
    const int N = GF_T - 1; /* unique samples of the periodic cycle */
    const double H = p->height_m, M = p->mass_kg, bw = M * GRAV;
    const double len[NSEG] = {THIGH_L * H, SHANK_L * H, FOOT_L * H};
    const double mass[NSEG] = {THIGH_M * M, SHANK_M * M, FOOT_M * M};
    const double rg[NSEG] = {THIGH_RG, SHANK_RG, FOOT_RG}, rgl[NSEG] = {THIGH_RGL, SHANK_RGL, FOOT_RGL};
    double com[GF_T][NSEG][3];
    double ang3[GF_T][NSEG][3]; /* segment angles about x, y, z (deg), for alpha */
    double cop[GF_T][3], grf[GF_T][3], ahip[GF_T][3];
    double dt = p->stride_s / N;

    for (int k = 0; k < N; k++) {
        const double *a = ang + (size_t)k * GF_TMPL_NCH;
        mat3 rp = mmul(mmul(rot(2, a[GF_TC_PELVIS_TILT]), rot(0, a[GF_TC_PELVIS_LIST])), rot(1, a[GF_TC_PELVIS_ROT]));
        mat3 rt = mmul(mmul(mmul(rp, rot(2, a[GF_TC_HIPFLEX_R])), rot(0, a[GF_TC_HIPADD_R])), rot(1, a[GF_TC_HIPROT_R]));
        mat3 rs = mmul(rt, rot(2, -a[GF_TC_KNEE_R]));
        mat3 rf = mmul(rs, rot(2, a[GF_TC_ANKLE_R]));
        double v[3], knee[3], ankle[3], heel[3], toe[3];
        double vt[3] = {0, -len[0], 0}, vs[3] = {0, -len[1], 0};
        mvec(rt, vt, knee);
        mvec(rs, vs, v);
        for (int i = 0; i < 3; i++) ankle[i] = knee[i] + v[i];
        double vh[3] = {-HEEL_BEHIND_ANKLE * len[2], -ANKLE_H * H, 0};
        double vtoe[3] = {(1.0 - HEEL_BEHIND_ANKLE) * len[2], -ANKLE_H * H, 0};
        mvec(rf, vh, v);
        for (int i = 0; i < 3; i++) heel[i] = ankle[i] + v[i];
        mvec(rf, vtoe, v);
        for (int i = 0; i < 3; i++) toe[i] = ankle[i] + v[i];
        for (int i = 0; i < 3; i++) {
            com[k][0][i] = THIGH_COM * knee[i];
            com[k][1][i] = knee[i] + SHANK_COM * (ankle[i] - knee[i]);
            com[k][2][i] = heel[i] + FOOT_COM * (toe[i] - heel[i]);
        }
        double sag = a[GF_TC_PELVIS_TILT] + a[GF_TC_HIPFLEX_R];
        double fro = a[GF_TC_PELVIS_LIST] + a[GF_TC_HIPADD_R];
        double tra = a[GF_TC_PELVIS_ROT] + a[GF_TC_HIPROT_R];
        ang3[k][0][0] = fro; ang3[k][0][1] = tra; ang3[k][0][2] = sag;
        ang3[k][1][0] = fro; ang3[k][1][1] = tra; ang3[k][1][2] = sag - a[GF_TC_KNEE_R];
        ang3[k][2][0] = fro; ang3[k][2][1] = tra; ang3[k][2][2] = sag - a[GF_TC_KNEE_R] + a[GF_TC_ANKLE_R];

        double ph = (double)k / N - p->right.phase;
        ph -= floor(ph);
        if (ph < p->right.stance) {
            double c;
            grf_model(p, ph / p->right.stance, bw, grf[k], &c);
            for (int i = 0; i < 3; i++) cop[k][i] = heel[i] + c * (toe[i] - heel[i]);
            /* the COP runs from the lateral heel to the medial forefoot */
            double sl = ph / p->right.stance;
            cop[k][2] += p->cop_lat_heel_m * (1.0 - sl) - p->cop_med_m * sl;
        } else {
            memset(grf[k], 0, sizeof grf[k]);
            memset(cop[k], 0, sizeof cop[k]);
        }
        /* Hip (~ body centre of mass) acceleration from both feet's GRF:
         * the left foot's force is the same model half a cycle later. */
        double fl[3] = {0, 0, 0}, cl;
        double phl = (double)k / N - 0.5 - p->left.phase;
        phl -= floor(phl);
        if (phl < p->left.stance) grf_model(p, phl / p->left.stance, bw, fl, &cl);
        fl[2] = -fl[2]; /* mirrored medial direction */
        for (int i = 0; i < 3; i++) ahip[k][i] = (grf[k][i] + fl[i]) / M;
        ahip[k][1] -= GRAV;
    }

    const double g[3] = {0, -GRAV, 0};
    for (int k = 0; k < N; k++) {
        int kp = (k + 1) % N, km = (k + N - 1) % N;
        double mh[3] = {0, 0, 0}, t[3];
        for (int sg = 0; sg < NSEG; sg++) {
            double acc[3], ma[3], alpha[3];
            for (int i = 0; i < 3; i++) {
                acc[i] = (com[kp][sg][i] - 2 * com[k][sg][i] + com[km][sg][i]) / (dt * dt);
                ma[i] = mass[sg] * (acc[i] + ahip[k][i] - g[i]);
                alpha[i] = (ang3[kp][sg][i] - 2 * ang3[k][sg][i] + ang3[km][sg][i]) * DEG / (dt * dt);
            }
            cross(com[k][sg], ma, t);
            double is = mass[sg] * (rg[sg] * len[sg]) * (rg[sg] * len[sg]);
            double il = mass[sg] * (rgl[sg] * len[sg]) * (rgl[sg] * len[sg]);
            /* long axis: y for thigh/shank, x for the foot */
            double I[3] = {sg == 2 ? il : is, sg == 2 ? is : il, is};
            for (int i = 0; i < 3; i++) mh[i] += t[i] + I[i] * alpha[i];
        }
        cross(cop[k], grf[k], t);
        for (int i = 0; i < 3; i++) mh[i] -= t[i];
        double *o = mout + (size_t)k * GF_NM;
        o[0] = mh[2];
        o[1] = mh[0];
        o[2] = mh[1];
    }
    memcpy(mout + (size_t)N * GF_NM, mout, GF_NM * sizeof(double));
}

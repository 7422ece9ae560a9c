/* Ground-reaction-force model of right stance: the vertical force curve and
 * the line of action from the centre of pressure (COP) through a virtual
 * pivot point (VPP) fixed relative to the hip. Its sagittal position is
 * fitted to the two real walks in tests/data/opensim (subject01 at 98 spm,
 * the Rajagopal walk at 105 spm; tools/real_hip_peaks.py); its height may
 * fall over stance (vpp_y_late; the defaults keep it constant). Parameters
 * and sources: docs/SYNTHETIC.md, "Inverse dynamics". */
#include <math.h>

#include "synth/internal.h"

#define GRAV 9.81

/* Pivot point (m for a 1.75 m subject, scaled by height): AP position
 * anterior of the hip, height above it in the first and second half of
 * stance (blended smoothly between the stance fractions VPP_S0 and VPP_S1),
 * medial offset, and the height at which the frontal line of action passes
 * the medial offset (the frontal plane keeps its earlier calibration: the
 * real walks were fitted in the sagittal plane only). */
#ifndef VPP_X
#define VPP_X 0.01
#endif
#ifndef VPP_H
#define VPP_H 0.30
#endif
#ifndef VPP_H_LATE
#define VPP_H_LATE 0.30
#endif
#ifndef VPP_S0
#define VPP_S0 0.35
#endif
#ifndef VPP_S1
#define VPP_S1 0.65
#endif
#ifndef VPP_Z
#define VPP_Z 0.055
#endif
#ifndef VPP_H_FRONT
#define VPP_H_FRONT 0.15
#endif
#ifndef COP_LAT
#define COP_LAT 0.075
#endif
#ifndef COP_MED
#define COP_MED (-0.02)
#endif
#ifndef COP_END
#define COP_END 0.95
#endif

void gf_synth_grf_params(const gf_gait_subject *s, double c, gf_trial_params *p)
{
    const double *st = s->style, hs = s->height_m / 1.75, dc = (c - 115.0) / 115.0;
    /* Vertical peaks (body weights) rise and the valley deepens with
     * cadence (Nilsson & Thorstensson 1989; Keller et al. 1996); the valley
     * is set for vertical impulse balance after the trial variation. */
    p->fy1 = (1.15 + 0.45 * dc) * (1.0 + 0.04 * st[6]);
    p->fy2 = 1.10 + 0.20 * dc;
    /* The horizontal components follow from the line of action through a
     * virtual pivot point above the hip (Maus et al. 2010; Gruben & Boehm
     * 2012), which ties the GRF direction to the leg geometry. */
    p->vpp[0] = VPP_X * hs;
    p->vpp[1] = VPP_H * hs;
    p->vpp[2] = -VPP_Z * hs;
    p->vpp_y_late = VPP_H_LATE * hs;
    p->vpp_s0 = VPP_S0;
    p->vpp_s1 = VPP_S1;
    p->vpp_y_front = VPP_H_FRONT * hs;
    p->cop_lat_heel_m = COP_LAT * hs;
    p->cop_med_m = COP_MED * hs * (1.0 + 0.12 * st[2]);
    p->cop_start = 0.10;
    p->cop_end = COP_END;
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

double gf_synth_grf_vertical(const gf_trial_params *p, double s)
{
    if (s <= 0.0 || s >= 1.0) return 0.0;
    if (s < 0.22) { double t = s / 0.22; return p->fy1 * t * (2.0 - t); }
    if (s > 0.78) { double t = (s - 0.78) / 0.22; return p->fy2 * (1.0 - t * t * (3.0 - 2.0 * t)); }
    static const double x[3] = {0.22, 0.50, 0.78};
    double y[3] = {p->fy1, p->fyv, p->fy2};
    return knots(x, y, 3, s);
}

void gf_synth_grf_vpp(const gf_trial_params *p, double s, double vpp[3])
{
    double t = (s - p->vpp_s0) / (p->vpp_s1 - p->vpp_s0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    vpp[0] = p->vpp[0];
    vpp[1] = p->vpp[1] + (p->vpp_y_late - p->vpp[1]) * t * t * (3.0 - 2.0 * t);
    vpp[2] = p->vpp[2];
}

void gf_synth_grf_at(const gf_trial_params *p, double s, const double heel[3], const double toe[3], double cop[3],
                     double f[3])
{
    double c = p->cop_start + (p->cop_end - p->cop_start) * s, vpp[3];
    for (int i = 0; i < 3; i++) cop[i] = heel[i] + c * (toe[i] - heel[i]);
    /* the COP runs from the lateral heel to the medial forefoot */
    cop[2] += p->cop_lat_heel_m * (1.0 - s) - p->cop_med_m * s;
    /* the line of action runs from the COP through the pivot point */
    gf_synth_grf_vpp(p, s, vpp);
    double fy = p->mass_kg * GRAV * gf_synth_grf_vertical(p, s), dy = vpp[1] - cop[1];
    f[1] = fy;
    f[0] = fy * (vpp[0] - cop[0]) / dy;
    f[2] = fy * (vpp[2] - cop[2]) / (p->vpp_y_front - cop[1]);
}

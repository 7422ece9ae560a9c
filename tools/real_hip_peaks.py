#!/usr/bin/python3
"""Right hip moment peaks (N·m/kg, % of the gait cycle) of the two real OpenSim walks in
tests/data/opensim, for docs/SYNTHETIC.md and the limits in tests/unit/test_synth_gait.c.

Right heel strike = right vertical GRF rising through 20 N (as tools/fit_templates.py).
Body mass: subject01 72.6 kg (tests/data/opensim/README.md); the Rajagopal walk's mass is
not in the files, so it is estimated from them: the stride mean of the total vertical GRF
over g (steady walking: the vertical impulse over a stride balances body weight).
Usage: tools/real_hip_peaks.py [DIR]   (default tests/data/opensim)
"""
import sys
import numpy as np

sys.path.insert(0, "tools")
from fit_templates import read_table, crossings, right_fy, walk_phase  # noqa: E402

G = 9.81


def peaks(t, m, hs, mass, name):
    """Phase the ID samples as tools/fit_templates.py phases the IK samples (complete strides,
    else every stride plus the last stride wrapped), pool into 1 % bins, report the bin-mean
    peaks: extensor 0-40 %, flexor 40-75 %, abductor 0-65 %."""
    ph, _, _ = walk_phase(t, np.asarray(hs))
    ok = (ph >= 0) & (ph < 1)
    b = np.floor(ph[ok] * 100).astype(int)
    out = {}
    for key, v in m.items():
        cur = np.array([v[ok][b == i].mean() if np.any(b == i) else np.nan for i in range(100)]) / mass
        out[key] = cur
    cover = np.sum([np.any(b == i) for i in range(100)])
    fl, ad = out["flex"], out["add"]
    def pk(c, sgn, lo, hi):
        w = np.full(100, np.nan); w[lo:hi] = c[lo:hi]
        i = np.nanargmax(sgn * w); return c[i], i + 0.5
    e = pk(fl, -1, 0, 40); f = pk(fl, +1, 40, 75); a = pk(ad, -1, 0, 65)
    strides = np.diff(hs)
    print(f"{name}: mass {mass:.1f} kg, strides {np.round(strides, 4).tolist()} s "
          f"(cadence {120 / strides.mean():.1f} spm), {cover} of 100 phase bins covered")
    print(f"  extensor {e[0]:+.3f} @ {e[1]:.1f} %, flexor {f[0]:+.3f} @ {f[1]:.1f} %, "
          f"abductor {a[0]:+.3f} @ {a[1]:.1f} %")
    return out


def rot(axis, a):
    c, s = np.cos(a), np.sin(a)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    r = np.eye(3); r[i, i] = c; r[i, j] = -s; r[j, i] = s; r[j, j] = c
    return r


def grf_line(ik, deg, grf, fx, fy, px, py, hs, offset, mass, name, phases=(12, 24, 36, 48, 52, 56)):
    """The right GRF's line of action against the right hip joint centre (pelvis
    translation + pelvis rotation (tilt z, list x, rotation y) x the model's hip offset):
    where the line crosses hip height, anterior (+) of the hip (m), Fx/Fy, and the GRF's
    sagittal moment about the hip, -(r x F)_z (N·m/kg, + flexor), at each phase (mean over
    the strides whose phase lies inside the IK range)."""
    k = np.pi / 180 if deg else 1.0
    rows = []
    for ph in phases:
        vals = []
        for a, b in zip(hs[:-1], hs[1:]):
            t = a + ph / 100 * (b - a)
            if not (ik["time"][0] <= t <= ik["time"][-1]):
                continue
            q = {c: np.interp(t, ik["time"], ik[c]) for c in
                 ("pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz")}
            R = rot(2, q["pelvis_tilt"] * k) @ rot(0, q["pelvis_list"] * k) @ rot(1, q["pelvis_rotation"] * k)
            hip = np.array([q["pelvis_tx"], q["pelvis_ty"], q["pelvis_tz"]]) + R @ np.asarray(offset)
            f = [np.interp(t, grf["time"], grf[c]) for c in (fx, fy)]
            c = [np.interp(t, grf["time"], grf[c]) for c in (px, py)]
            line = c[0] + (hip[1] - c[1]) * f[0] / f[1] - hip[0]
            rx, ry = c[0] - hip[0], c[1] - hip[1]
            # height above the hip where the line passes 0.01 m anterior of the hip (the
            # model's pivot AP position): COP + (0.01 - rx) / (Fx/Fy) up the line
            piv = ry + (0.01 - rx) * f[1] / f[0] if abs(f[0]) > 1e-9 else np.nan
            vals.append((line, f[0] / f[1], -(rx * f[1] - ry * f[0]) / mass, piv))
        if vals:
            v = np.array(vals)
            rows.append("%d %%: line %+.3f m, Fx/Fy %+.3f, GRF moment %+.2f, height at +0.01 m %+.2f (n=%d)" % (ph, *v.mean(0), len(v)))
    print("  %s GRF line vs hip: " % name + "; ".join(rows))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "tests/data/opensim"
    # subject01 (Gait2392, 72.6 kg)
    g, _ = read_table(d + "/subject01_walk1_grf.mot")
    i, _ = read_table(d + "/std_subject01_InverseDynamics.sto")
    hs = crossings(g["time"], right_fy(g), True)
    m = {"flex": i["hip_flexion_r_moment"], "add": i["hip_adduction_r_moment"]}
    peaks(i["time"], m, hs, 72.6, "subject01 (std_subject01_InverseDynamics.sto)")
    ik, deg = read_table(d + "/subject01_walk1_ik.mot")
    # Gait2392 hip_r joint location in the pelvis frame (m)
    grf_line(ik, deg, g, "ground_force_vx", "ground_force_vy", "ground_force_px", "ground_force_py", hs,
             (-0.0707, -0.0661, 0.0835), 72.6, "subject01")
    # Rajagopal walk
    g, _ = read_table(d + "/grf_walk.mot")
    i, _ = read_table(d + "/id_walk.sto")
    t = g["time"]
    hs = crossings(t, right_fy(g), True)
    s = (t >= hs[0]) & (t < hs[1])
    fy = g["ground_force_r_vy"][s] + g["ground_force_l_vy"][s]
    mass = np.sum(0.5 * (fy[1:] + fy[:-1]) * np.diff(t[s])) / (t[s][-1] - t[s][0]) / G
    m = {"flex": i["hip_flexion_r_moment"], "add": i["hip_adduction_r_moment"]}
    peaks(i["time"], m, hs, mass, "Rajagopal walk (id_walk.sto)")
    ik, deg = read_table(d + "/coordinates.sto")
    # Rajagopal et al. 2016 model hip_r joint location in the pelvis frame (m; the model
    # file is not in the repository: values of the published Rajagopal2015.osim)
    grf_line(ik, deg, g, "ground_force_r_vx", "ground_force_r_vy", "ground_force_r_px", "ground_force_r_py",
             np.append(hs, hs[-1] + (hs[-1] - hs[-2])), (-0.056276, -0.07849, 0.07726), mass, "Rajagopal walk")
    print(f"  per 75 kg: as above x {mass / 75:.3f}")


if __name__ == "__main__":
    main()

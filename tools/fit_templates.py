#!/usr/bin/python3
"""Fits the kinematic gait templates of the synthetic generator to the real
OpenSim walks in tests/data/opensim and writes synth/templates.c.

Run with Debian's python3 + numpy (not a pyenv interpreter):
    /usr/bin/python3 tools/fit_templates.py [--data DIR] [--out FILE]

For every walk: parse the IK table (header up to `endheader`, columns mapped by
name, path-style labels reduced to the coordinate name, radians converted to
degrees, knee flexion made positive), find right heel strikes in the right
vertical GRF (rising crossing of 20 N, linear interpolation) and toe-offs
(falling crossing), give every IK sample a phase in [0,1) of the right cycle,
and fit a Fourier series of NHARM harmonics per channel by least squares.
Complete heel-strike-to-heel-strike cycles are used when the IK covers any;
a walk whose IK holds no complete right cycle contributes the samples lying
between two strikes plus those after the last strike with the phase
extrapolated from the last stride (the fit sees every phase at least once).
The coefficients of the walks are averaged with equal weight per walk.
"""
import argparse
import os
import sys

import numpy as np

NHARM = 7
THRESH_N = 20.0
CHANNELS = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r",
            "hip_flexion_l", "hip_adduction_l", "hip_rotation_l",
            "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l",
            # auxiliary: pelvis orientation, used for segment geometry only
            "pelvis_tilt", "pelvis_list", "pelvis_rotation"]
# (IK file, GRF file, knee sign of the model: Gait2392 flexion negative,
#  Rajagopal flexion positive). The sign is also checked against the data.
WALKS = [("subject01_walk1_ik.mot", "subject01_walk1_grf.mot", -1),
         ("coordinates.sto", "grf_walk.mot", +1)]


def read_table(path):
    with open(path) as f:
        lines = f.read().splitlines()
    end = None
    header = []
    for i, line in enumerate(lines):
        if line.strip().lower() == "endheader":
            end = i
            break
        header.append(line.strip())
    if end is None:
        sys.exit("%s: no endheader" % path)
    names = lines[end + 1].split()
    rows = [list(map(float, l.split())) for l in lines[end + 2:] if l.strip()]
    data = np.array(rows)
    if data.ndim != 2 or data.shape[1] != len(names):
        sys.exit("%s: ragged table" % path)
    short = []
    for n in names:
        if n.startswith("/"):  # /jointset/hip_r/hip_flexion_r/value
            parts = n.strip("/").split("/")
            n = parts[-2] if parts[-1] == "value" else parts[-1]
        short.append(n)
    in_degrees = True
    for h in header:
        if h.replace(" ", "").lower() == "indegrees=no":
            in_degrees = False
    return {n: data[:, k] for k, n in enumerate(short)}, in_degrees


def crossings(t, f, rising):
    a, b = f[:-1], f[1:]
    idx = np.where((a < THRESH_N) & (b >= THRESH_N))[0] if rising else \
        np.where((a >= THRESH_N) & (b < THRESH_N))[0]
    return t[idx] + (THRESH_N - a[idx]) / (b[idx] - a[idx]) * (t[idx + 1] - t[idx])


def right_fy(grf):
    for n in ("ground_force_r_vy", "ground_force_vy"):
        if n in grf:
            return grf[n]
    sys.exit("no right vertical GRF column")


def walk_phase(t, hs):
    """Phase of each IK sample and a mask of the samples used."""
    complete = [(a, b) for a, b in zip(hs[:-1], hs[1:]) if a >= t[0] and b <= t[-1]]
    ph = np.full(t.shape, np.nan)
    if complete:
        for a, b in complete:
            m = (t >= a) & (t < b)
            ph[m] = (t[m] - a) / (b - a)
        return ph, len(complete), "complete"
    for a, b in zip(hs[:-1], hs[1:]):
        m = (t >= a) & (t < b)
        ph[m] = (t[m] - a) / (b - a)
    last = hs[-1]
    stride = hs[-1] - hs[-2]
    m = (t >= last) & (t < last + stride)
    ph[m] = (t[m] - last) / stride
    return ph, 0, "wrapped"


def design(ph):
    cols = [np.ones_like(ph)]
    for k in range(1, NHARM + 1):
        cols.append(np.cos(2 * np.pi * k * ph))
        cols.append(np.sin(2 * np.pi * k * ph))
    return np.stack(cols, axis=1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "opensim"))
    ap.add_argument("--out", default=os.path.join(here, "..", "synth", "templates.c"))
    args = ap.parse_args()

    coefs, infos, rms_all = [], [], []
    for ik_name, grf_name, knee_sign in WALKS:
        ik, deg = read_table(os.path.join(args.data, ik_name))
        grf, _ = read_table(os.path.join(args.data, grf_name))
        t = ik["time"]
        tg = grf["time"]
        fy = right_fy(grf)
        hs = crossings(tg, fy, True)
        to = crossings(tg, fy, False)
        ph, ncyc, mode = walk_phase(t, hs)
        use = ~np.isnan(ph)
        strides = np.diff(hs)
        # stance fraction of each stride that has a toe-off inside it
        st = []
        for a, b in zip(hs[:-1], hs[1:]):
            inside = to[(to > a) & (to < b)]
            if len(inside):
                st.append((inside[0] - a) / (b - a))
        X = design(ph[use])
        c_walk = []
        rms_walk = []
        for ch in CHANNELS:
            v = ik[ch].copy()
            if not deg:
                v = np.degrees(v)
            if ch.startswith("knee"):
                if np.sign(np.mean(v)) != knee_sign:
                    sys.exit("%s: knee sign %d does not match data" % (ik_name, knee_sign))
                v = v * knee_sign
            c, *_ = np.linalg.lstsq(X, v[use], rcond=None)
            c_walk.append(c)
            rms_walk.append(float(np.sqrt(np.mean((X @ c - v[use]) ** 2))))
        coefs.append(np.array(c_walk))
        rms_all.append(rms_walk)
        infos.append((ik_name, grf_name, mode, ncyc, int(use.sum()), float(np.mean(strides)),
                      float(np.mean(st))))
    C = np.mean(coefs, axis=0)
    stride = np.mean([i[5] for i in infos])
    stance = np.mean([i[6] for i in infos])
    cadence = np.mean([120.0 / i[5] for i in infos])

    out = []
    w = out.append
    w("/* GENERATED by tools/fit_templates.py -- do not edit.")
    w(" * Command: /usr/bin/python3 tools/fit_templates.py --data tests/data/opensim --out synth/templates.c")
    w(" * Sources (OpenSim project, Apache-2.0, tests/data/opensim/README.md):")
    for ik_name, grf_name, mode, ncyc, n, s, sf in infos:
        w(" *   %s + %s: %s, %d complete right cycles, %d samples," % (ik_name, grf_name, mode, ncyc, n))
        w(" *     mean stride %.4f s (cadence %.1f steps/min), stance fraction %.4f" % (s, 120.0 / s, sf))
    w(" * Right heel strikes: right vertical GRF rising through %.0f N. Knee flexion positive," % THRESH_N)
    w(" * degrees. Fourier series with %d harmonics per channel, least squares per walk," % NHARM)
    w(" * coefficients averaged over the walks (equal weight). Phase 0 = right heel strike.")
    w(" * value(phase) = a0 + sum_k a_k cos(2 pi k phase) + b_k sin(2 pi k phase);")
    w(" * row layout: a0, a1, b1, a2, b2, ...")
    w(" * Fit residual RMS per channel and walk (deg):")
    for ci, ch in enumerate(CHANNELS):
        w(" *   %-16s %s" % (ch, " ".join("%.3f" % r[ci] for r in rms_all)))
    w(" */")
    w('#include "synth/internal.h"')
    w("")
    w("const double gf_tmpl_stride_s = %.6f;" % stride)
    w("const double gf_tmpl_cadence_spm = %.6f;" % cadence)
    w("const double gf_tmpl_stance = %.6f;" % stance)
    w("")
    w("const double gf_tmpl_coef[GF_TMPL_NCH][GF_TMPL_NCOEF] = {")
    for ci, ch in enumerate(CHANNELS):
        w("    /* %s */" % ch)
        w("    {" + ", ".join("%.6f" % x for x in C[ci]) + "},")
    w("};")
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

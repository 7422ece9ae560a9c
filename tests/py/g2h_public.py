"""Fixtures in the public Gait2Hip-60 NPZ layout, and the numpy side of the
round-trip checks (tests/unit/test_import.c, test_npz.c). Run with Debian's
/usr/bin/python3.

The public files (Gait2Hip_MF60.npz, Gait2Hip_JM60.npz) hold exactly the keys
X, Y, subject_id, height_m, weight_kg, speed_label, in_cols, out_cols: no
trial, no cadence_spm; one cycle per trial.

  g2h_public.py write DIR [--f32-meta]
      DIR/mf.npz and DIR/jm.npz: the same 30 cycles (5 subjects, 3 cadences,
      up to 3 trials each) in a shuffled order, X/Y float32 (N in forces, N*m
      in moments), heights/weights float64 values float32 cannot hold
      (--f32-meta: float32), string arrays '<U'.
  g2h_public.py bad DIR KIND
      DIR/bad_KIND.npz, jm.npz with one defect: speed (a 'walk' label), trial0
      (an explicit trial key holding 0), nan (a NaN in Y).
  g2h_public.py trials FILE
      The trial numbers gaitfed gives a file without 'trial': 1, 2, ... per
      (subject, speed label) in file order, one per line.
  g2h_public.py compare ORIG EXPORTED
      Exit 0 when EXPORTED (gaitfed export) holds ORIG's eight public arrays
      with equal values (X and Y also float32), trial numbered as `trials`
      says and cadence_spm 0 (unknown); else the differences on stderr, exit 1.
"""
import os
import sys
from collections import Counter

import numpy as np

IN = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "hip_flexion_l", "hip_adduction_l",
      "hip_rotation_l", "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l"]
MF = ["addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r", "glmax_r",
      "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r"]
JM = ["hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment"]
PUBLIC = ["X", "Y", "subject_id", "height_m", "weight_kg", "speed_label", "in_cols", "out_cols"]


def cohort(f32_meta):
    rng = np.random.default_rng(60)
    body = {"H01": (1.72, 65.3), "H02": (1.65, 58.1), "H07": (1.81, 80.7), "H17": (1.58, 49.9), "H52": (1.93, 91.4)}
    rows = []
    for k, (sid, sp) in enumerate((s, c) for s in body for c in ("slow", "med", "fast")):
        rows += [(sid, sp)] * (1 + k % 3)  # 1-3 trials per cadence, uneven like the QC'd data
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    n = len(rows)
    fdt = np.float32 if f32_meta else np.float64
    meta = dict(subject_id=np.array([r[0] for r in rows]), height_m=np.array([body[r[0]][0] for r in rows], fdt),
                weight_kg=np.array([body[r[0]][1] for r in rows], fdt), speed_label=np.array([r[1] for r in rows]),
                in_cols=np.array(IN))
    X = (rng.normal(0, 20, (n, 180, 10))).astype(np.float32)
    mf = (rng.gamma(2.0, 150.0, (n, 180, 14))).astype(np.float32)
    jm = (rng.normal(0, 40, (n, 180, 3))).astype(np.float32)
    return dict(X=X, Y=mf, out_cols=np.array(MF), **meta), dict(X=X, Y=jm, out_cols=np.array(JM), **meta)


def trials(z):
    seen, out = Counter(), []
    for sid, sp in zip(z["subject_id"], z["speed_label"]):
        seen[(str(sid), str(sp))] += 1
        out.append(seen[(str(sid), str(sp))])
    return np.array(out)


def compare(orig, exported):
    a, b = np.load(orig, allow_pickle=False), np.load(exported, allow_pickle=False)
    bad = []
    for k in PUBLIC:
        if k not in b.files:
            bad.append(f"{k} missing")
        elif a[k].dtype.kind == "U":
            if b[k].dtype.kind != "U" or list(a[k]) != list(b[k]):
                bad.append(f"{k}: {list(a[k])[:4]} vs {list(b[k])[:4]} ({b[k].dtype})")
        elif a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]):
            d = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max() if a[k].shape == b[k].shape else None
            bad.append(f"{k}: values differ (shapes {a[k].shape} {b[k].shape}, max |diff| {d})")
        elif k in ("X", "Y") and b[k].dtype != np.float32:
            bad.append(f"{k}: dtype {b[k].dtype}")
    if not np.array_equal(b["trial"], trials(a)):
        bad.append(f"trial {list(b['trial'])} vs numbered {list(trials(a))}")
    if not np.array_equal(b["cadence_spm"], np.zeros(len(a["X"]))):
        bad.append(f"cadence_spm {b['cadence_spm'][:4]} is not 0 (unknown)")
    for m in bad:
        print(f"g2h_public: {exported}: {m}", file=sys.stderr)
    return 1 if bad else 0


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        mf, jm = cohort("--f32-meta" in argv)
        np.savez(os.path.join(argv[2], "mf.npz"), **mf)
        np.savez(os.path.join(argv[2], "jm.npz"), **jm)
    elif cmd == "bad":
        d, kind = argv[2], argv[3]
        z = dict(np.load(os.path.join(d, "jm.npz"), allow_pickle=False))
        if kind == "speed":
            z["speed_label"] = z["speed_label"].copy()
            z["speed_label"][-1] = "walk"
        elif kind == "trial0":
            z["trial"] = np.arange(len(z["X"]), dtype=np.int32)
        elif kind == "nan":
            z["Y"] = z["Y"].copy()
            z["Y"][3, 90, 1] = np.nan
        else:
            sys.exit("unknown defect " + kind)
        np.savez(os.path.join(d, f"bad_{kind}.npz"), **z)
    elif cmd == "trials":
        print("\n".join(str(t) for t in trials(np.load(argv[2], allow_pickle=False))))
    elif cmd == "compare":
        return compare(argv[2], argv[3])
    else:
        sys.exit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""How far the synthetic world is from the real Gait2Hip-60 one, for one
`gaitfed synth` directory (bench/synth_vs_real.sh runs it per seed):

  inputs   per channel, healthy cohort (all cadences and each cadence):
           (synthetic mean - real mean) / real SD and synthetic SD / real SD,
           the real pool's statistics from the published checkpoint
           (tools/safe_torch_load.py; a measured fact about the real data)
  slowflex subject-mean peak hip flexor moment at each cadence, N·m/kg
  eval     the JSON `gaitfed eval` printed for a model on a file, reduced to
           subject-level RMSE / R² overall and per cadence

The published models are a check only: this script reads their scores, it
never feeds them back into the data (docs/SYNTHETIC.md, "Calibration").

  synth_vs_real.py inputs DIR
  synth_vs_real.py slowflex DIR
  synth_vs_real.py eval NAME EVAL.json
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))


def real_stats():
    import safe_torch_load
    d = safe_torch_load.load(os.path.join(ROOT, "tests/data/gait2hip-published/Transformer_MF60.pt"))
    return list(d["in_cols"]), np.asarray(d["mu_x"], float), np.asarray(d["sd_x"], float)


def inputs(dirname):
    cols, mu, sd = real_stats()
    z = np.load(os.path.join(dirname, "Gait2Hip_MF60.npz"))
    if list(z["in_cols"]) != cols:
        sys.exit("synth_vs_real: channel order differs from the real files")
    X, sp = z["X"].astype(float), z["speed_label"]
    groups = [("all", np.ones(len(sp), bool))] + [(s, sp == s) for s in ("slow", "med", "fast")]
    print("inputs: (synthetic mean - real mean) / real SD, synthetic SD / real SD; pass: |dz| <= 0.3, ratio in [0.75, 1.25]")
    print("  %-16s %8s %7s" % ("channel", "real mu", "real sd") + "".join("  %-13s" % g for g, _ in groups))
    worst_z, worst_r, fails = 0.0, 1.0, 0
    for c, name in enumerate(cols):
        row = "  %-16s %8.2f %7.2f" % (name, mu[c], sd[c])
        for g, m in groups:
            v = X[m][:, :, c].ravel()
            dz, ratio = (v.mean() - mu[c]) / sd[c], v.std() / sd[c]
            ok = abs(dz) <= 0.3 and 0.75 <= ratio <= 1.25
            if g == "all":
                fails += not ok
                worst_z = max(worst_z, abs(dz))
                worst_r = ratio if abs(ratio - 1) > abs(worst_r - 1) else worst_r
            row += "  %+5.2f/%4.2f%s " % (dz, ratio, " " if ok else "!")
        print(row)
    print("inputs: all cadences: %d channel(s) outside; largest |dz| %.2f, SD ratio furthest from 1: %.2f" %
          (fails, worst_z, worst_r))


def slowflex(dirname):
    z = np.load(os.path.join(dirname, "Gait2Hip_JM60.npz"))
    Y = z["Y"][:, :, list(z["out_cols"]).index("hip_flexion_r_moment")] / z["weight_kg"][:, None]
    for s in ("slow", "med", "fast"):
        m = z["speed_label"] == s
        ids = z["subject_id"][m]
        peaks = [Y[m][ids == i].mean(0).max() for i in sorted(set(ids))]
        print("flexor peak %-4s  subject mean %.3f N·m/kg (SD %.3f, %d subjects)" % (s, np.mean(peaks), np.std(peaks), len(peaks)))


def evaluation(name, path):
    e = json.load(open(path))
    row = "%-34s R² %6.3f RMSE %6.3f" % (name, e["subject_mean"]["r2"], e["subject_mean"]["rmse"])
    for s in ("slow", "med", "fast"):
        if s in e.get("per_cadence", {}):
            m = e["per_cadence"][s]["subject_mean"]
            row += " | %s %6.3f / %5.3f" % (s, m["r2"], m["rmse"])
    print(row)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "inputs":
        inputs(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "slowflex":
        slowflex(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "eval":
        evaluation(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

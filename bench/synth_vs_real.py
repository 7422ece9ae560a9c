"""How far the synthetic world is from the real Gait2Hip-60 one, for one
`gaitfed synth` directory (bench/synth_vs_real.sh runs it per seed; the
input statistics are tests/py/check_input_stats.py's):

  slowflex subject-mean peak hip flexor moment at each cadence, N·m/kg
  eval     the JSON `gaitfed eval` printed for a model on a file, reduced to
           subject-level RMSE / R² overall and per cadence

The published models are a check only: this script reads their scores, it
never feeds them back into the data (docs/SYNTHETIC.md, "Calibration").

  synth_vs_real.py slowflex DIR
  synth_vs_real.py eval NAME EVAL.json
"""
import json
import os
import sys

import numpy as np


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
    if len(sys.argv) == 3 and sys.argv[1] == "slowflex":
        slowflex(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "eval":
        evaluation(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

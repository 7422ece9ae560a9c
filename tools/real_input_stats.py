#!/usr/bin/python3
"""Extracts the real Gait2Hip-60 training pool's input statistics (mu_x, sd_x:
per-channel mean and SD of the 10 input angles over the real pool, degrees)
from a published checkpoint and writes them as JSON. These two arrays are the
only thing gaitfed takes from the published models (docs/SYNTHETIC.md
"Kinematics"): the synthetic healthy cohort is calibrated to match them
(tests/py/check_input_stats.py). The weights are never read.

    /usr/bin/python3 tools/real_input_stats.py \
        [--pt tests/data/gait2hip-published/Transformer_MF60.pt] \
        [--out tests/data/gait2hip-published/real_input_stats.json]

Reads the checkpoint with tools/safe_torch_load.py (no code from the file
runs). The MF60 and JM60 checkpoints hold the same arrays (one pool).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safe_torch_load  # noqa: E402

PUB = os.path.join(HERE, "..", "tests", "data", "gait2hip-published")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pt", default=os.path.join(PUB, "Transformer_MF60.pt"))
    ap.add_argument("--out", default=os.path.join(PUB, "real_input_stats.json"))
    a = ap.parse_args()
    try:
        ck = safe_torch_load.load(a.pt)
    except (OSError, safe_torch_load.Refused) as e:
        sys.exit("real_input_stats: %s: %s" % (a.pt, e))
    cols = ck.get("in_cols") if isinstance(ck, dict) else None
    mu, sd = (np.asarray(ck.get(k), dtype=np.float64) if isinstance(ck, dict) else None for k in ("mu_x", "sd_x"))
    if not isinstance(cols, list) or mu is None or sd is None or mu.shape != (len(cols),) or sd.shape != mu.shape:
        sys.exit("real_input_stats: %s: no in_cols / mu_x / sd_x of matching length" % a.pt)
    rows = ['  {"name": %s, "mean": %.4f, "sd": %.4f}' % (json.dumps(c), m, s) for c, m, s in zip(cols, mu, sd)]
    text = ('{\n "source": %s,\n "tool": "tools/real_input_stats.py",\n "channels": [\n%s\n ]\n}\n'
            % (json.dumps(os.path.basename(a.pt) + " (mu_x, sd_x: real Gait2Hip-60 training pool, degrees)"),
               ",\n".join(rows)))
    json.loads(text)  # well-formed
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()

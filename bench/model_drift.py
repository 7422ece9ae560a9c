#!/usr/bin/env python3
"""Largest parameter change and L2 change of every stored global model version
against the one before it, read from a coordinator database (models.weights
are safetensors blobs). Used by bench/redteam.sh.

    model_drift.py coordinator.db  ->  one line per version:
    version=<v> round=<r> max_abs=<x> l2=<y> finite=<0|1> [x_std_max=<s>]

The normalization tensors (x_mean, x_std: fixed by the statistics session,
not trained) are left out of the change and reported as the largest x_std.
"""
import json
import sqlite3
import struct
import sys

import numpy as np


NORM = ("x_mean", "x_std")


def load(blob):
    """(trained parameters as one float64 vector, x_std or None)"""
    blob = bytes(blob)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out, x_std = [], None
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        if t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        v = np.frombuffer(data[a:b], dtype="<f4").astype(np.float64)
        if name == "x_std":
            x_std = v
        if name not in NORM:
            out.append(v)
    return np.concatenate(out), x_std


def main():
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    prev = None
    for v, r, w in db.execute("SELECT version, round, weights FROM models ORDER BY version"):
        theta, x_std = load(w)
        if prev is not None:
            d = theta - prev
            fin = int(bool(np.all(np.isfinite(theta))))
            line = f"version={v} round={r} max_abs={np.nanmax(np.abs(d)):.4g} l2={np.linalg.norm(d):.4g} finite={fin}"
            if x_std is not None:
                line += f" x_std_max={np.max(x_std):.4g}"
            print(line)
        prev = theta


if __name__ == "__main__":
    main()

"""numpy reference for coordinator/robust.c (the plain-mode update check and
aggregators).

usage: robust_ref.py N L TRIM IN OUT
IN: float32 u[N][L], then float64 w[N]. OUT (float64): per update its L2 and
L-inf norms ([N][2]), then the weighted mean [L], the trimmed mean [L] (cut
floor(TRIM*N) values at each end of each coordinate, as scipy.stats.trim_mean)
and the median [L] (numpy's: the mean of the two middle values for even N).
"""
import math
import sys

import numpy as np

n, L, trim = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
raw = open(sys.argv[4], "rb").read()
u = np.frombuffer(raw[: 4 * n * L], dtype="<f4").reshape(n, L).astype(np.float64)
w = np.frombuffer(raw[4 * n * L :], dtype="<f8")
norms = np.stack([np.linalg.norm(u, axis=1), np.max(np.abs(u), axis=1)], axis=1)
mean = np.average(u, axis=0, weights=w)
k = int(math.floor(trim * n + 1e-9))
s = np.sort(u, axis=0)
trimmed = s[k : n - k].mean(axis=0)
median = np.median(u, axis=0)
np.concatenate([norms.ravel(), mean, trimmed, median]).astype("<f8").tofile(sys.argv[5])

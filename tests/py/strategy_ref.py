"""numpy reference for coordinator/strategy.c (Reddi et al. 2021, Algorithm 2).

usage: strategy_ref.py KIND N STEPS LR B1 B2 TAU IN OUT
IN: float32 theta[N] then delta[STEPS][N]; OUT: float32 theta after STEPS steps.
Computed in float64 (the C side runs in float32; the test compares with a tolerance).
"""
import sys
import numpy as np

kind, n, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lr, b1, b2, tau = map(float, sys.argv[4:8])
buf = np.fromfile(sys.argv[8], dtype="<f4").astype(np.float64)
theta, deltas = buf[:n].copy(), buf[n:].reshape(steps, n)
m, v = np.zeros(n), np.full(n, tau * tau)
for d in deltas:
    if kind in ("fedavg", "fedprox"):
        theta += lr * d
        continue
    if kind == "fedadagrad":
        v = v + d * d
    elif kind == "fedadam":
        v = b2 * v + (1 - b2) * d * d
    elif kind == "fedyogi":
        v = v - (1 - b2) * d * d * np.sign(v - d * d)
    m = b1 * m + (1 - b1) * d
    theta += lr * m / (np.sqrt(v) + tau)
theta.astype("<f4").tofile(sys.argv[9])

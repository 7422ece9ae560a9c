"""Independent reading of OpenSim tables for the C tests (plain Python + numpy).

  table FILE                 -> "rows cols", then "L i raw short" per column,
                                then "V r c value" spot values
  hs FILE COL THRESH GAP     -> rising threshold crossings (interpolated), one per line
  interp FILE COL T...       -> np.interp of COL at each T
  shift FILE OUT DT          -> copy of FILE with DT added to the time column
  relabel FILE OUT OLD=NEW...-> copy of FILE with those column labels renamed, the
                                rest of the file byte for byte; "{}" in OLD and NEW
                                stands for each of vx vy vz px py pz
"""
import re
import sys
import numpy as np


def load(path):
    lines = open(path, newline="").read().replace("\r\n", "\n").split("\n")
    end = next(i for i, l in enumerate(lines) if l.strip() == "endheader")
    labels = lines[end + 1].split()
    rows = [[float(x) for x in l.split()] for l in lines[end + 2:] if l.strip()]
    return lines, end, labels, np.array(rows)


def short(raw):
    parts = [p for p in raw.split("/") if p]
    if "/" not in raw or not parts:
        return raw
    return parts[-2] if parts[-1] == "value" and len(parts) > 1 else parts[-1]


def col(labels, name):
    for i, l in enumerate(labels):
        if l == name or short(l) == name:
            return i
    raise SystemExit("no column " + name)


cmd = sys.argv[1]
if cmd == "table":
    _, _, labels, d = load(sys.argv[2])
    print(d.shape[0], d.shape[1])
    for i, l in enumerate(labels):
        print("L", i, l, short(l))
    n, m = d.shape
    for r in sorted({0, 1, n // 2, n - 1}):
        for c in sorted({0, 1, m // 2, m - 1}):
            print("V", r, c, repr(float(d[r, c])))
elif cmd == "hs":
    _, _, labels, d = load(sys.argv[2])
    thr, gap = float(sys.argv[4]), float(sys.argv[5])
    t, y = d[:, 0], d[:, col(labels, sys.argv[3])]
    last = -np.inf
    for i in range(1, len(t)):
        if y[i - 1] < thr <= y[i]:
            th = t[i - 1] + (thr - y[i - 1]) / (y[i] - y[i - 1]) * (t[i] - t[i - 1])
            if th - last >= gap:
                print(repr(float(th)))
                last = th
elif cmd == "interp":
    _, _, labels, d = load(sys.argv[2])
    c = col(labels, sys.argv[3])
    for tt in sys.argv[4:]:
        print(repr(float(np.interp(float(tt), d[:, 0], d[:, c]))))
elif cmd == "shift":
    lines, end, _, _ = load(sys.argv[2])
    dt = float(sys.argv[4])
    out = lines[: end + 2]
    for l in lines[end + 2:]:
        if l.strip():
            f = l.split("\t")
            f[0] = repr(float(f[0]) + dt)
            out.append("\t".join(f))
    open(sys.argv[3], "w").write("\n".join(out) + "\n")
elif cmd == "relabel":
    lines, end, labels, _ = load(sys.argv[2])
    names = {}
    for pair in sys.argv[4:]:
        old, new = pair.split("=")
        for comp in (["vx", "vy", "vz", "px", "py", "pz"] if "{}" in old else [None]):
            names[old.format(comp) if comp else old] = new.format(comp) if comp else new
    missing = set(names) - set(labels)
    if missing:
        raise SystemExit("relabel: no column " + ", ".join(sorted(missing)))
    parts = re.split(r"(\s+)", lines[end + 1])
    lines[end + 1] = "".join(names.get(p, p) for p in parts)
    open(sys.argv[3], "w", newline="").write("\n".join(lines))

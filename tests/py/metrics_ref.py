"""numpy recomputation of the Gait2Hip metrics and aggregate curves
(model/metrics.h) for tests/unit/test_metrics.c and test_benchmark.c, run
under Debian's /usr/bin/python3.

metrics_ref.py IN.npz OUT.json [--curves]
  IN: pred, ref float32 (N, T, D); subject_id, speed (strings, N); cols (D).
  OUT: the JSON object gf_metrics_to_json produces, without "definitions";
  with --curves also "curves" (gf_metrics_curves_json). Undefined values are
  null.

metrics_ref.py --benchmark EVAL.json COHORT.npz PRED.npz OUT.json
  The benchmark end to end: EVAL.json is `gaitfed eval --curves` on the
  cohort, PRED.npz `gaitfed predict` on COHORT.npz (a Gait2Hip NPZ: Y in N or
  N*m, out_cols, subject_id, speed_label, weight_kg). References are the
  cohort's targets divided by body mass as gf_dataset_targets does (float32
  Y / weight_kg as read, in double, rounded to float32), channels matched by
  name to PRED's out_cols. Every metric and curve is recomputed from PRED's
  predictions, written to OUT.json, and compared key for key with EVAL.json
  (both ways; numbers to 1e-6 relative, integers exactly, null only against
  null; EVAL's labels model, data, task, units, normalization, architecture
  and definitions are not recomputed). Exit 0 when they agree, 3 when they
  differ (every differing path on stderr), anything else on an error.
"""
import json
import sys

import numpy as np

LABEL_KEYS = ("model", "data", "task", "units", "normalization", "architecture", "definitions")
REL_TOL = 1e-6
MISMATCH = 3


def num(v):
    v = float(v)
    return v if np.isfinite(v) else None


def stats(p, r):
    """RMSE, MAE, R^2 with one mean over every channel and frame of the set."""
    p = p.astype(np.float64)
    r = r.astype(np.float64)
    e = p - r
    ss_res = np.sum(e * e)
    ss_tot = np.sum((r - r.mean()) ** 2)
    return {"rmse": num(np.sqrt(np.mean(e * e))), "mae": num(np.mean(np.abs(e))),
            "r2": num(1.0 - ss_res / ss_tot) if ss_tot > 0 else None}


def subject_mean(p, r, sids):
    per = {s: stats(p[sids == s], r[sids == s]) for s in sorted(set(sids.tolist()))}
    out = {}
    for k in ("rmse", "mae", "r2"):
        vals = [v[k] for v in per.values() if v[k] is not None]
        out[k] = num(np.mean(vals)) if vals else None
    return out, per


def curves(p, r, cols):
    """Per channel and frame: mean and population SD (ddof=0) over cycles."""
    p = p.astype(np.float64)
    r = r.astype(np.float64)
    ch = {}
    for j, name in enumerate(cols):
        rj, pj = r[:, :, j], p[:, :, j]
        ch[name] = {"ref_mean": [num(v) for v in rj.mean(axis=0)], "ref_sd": [num(v) for v in rj.std(axis=0, ddof=0)],
                    "pred_mean": [num(v) for v in pj.mean(axis=0)], "pred_sd": [num(v) for v in pj.std(axis=0, ddof=0)]}
    return {"frames": int(p.shape[1]), "channels": ch}


def metrics(p, r, sids, speeds, cols, with_curves):
    n, T, D = p.shape
    sm, per = subject_mean(p, r, sids)
    res = {"n_cycles": int(n), "n_subjects": len(per), "frames": int(T), "channels": int(D),
           "subject_mean": sm, "pooled": stats(p, r)}
    labels = [c for c in ("slow", "med", "fast") if c in speeds.tolist()]
    labels += [c for c in dict.fromkeys(speeds.tolist()) if c not in labels]
    cad = {}
    for lab in labels:
        m = speeds == lab
        csm, cper = subject_mean(p[m], r[m], sids[m])
        cad[lab] = {"n_cycles": int(m.sum()), "n_subjects": len(cper), "subject_mean": csm, "pooled": stats(p[m], r[m])}
    res["per_cadence"] = cad
    res["per_subject"] = {s: dict(n_cycles=int((sids == s).sum()), **v) for s, v in per.items()}
    ch = {}
    for j, name in enumerate(cols):
        pj = p[:, :, j].astype(np.float64).ravel()
        rj = r[:, :, j].astype(np.float64).ravel()
        e = pj - rj
        rmse = np.sqrt(np.mean(e * e))
        srr = np.sum((rj - rj.mean()) ** 2)
        rng = rj.max() - rj.min()
        pr = np.corrcoef(pj, rj)[0, 1] if pj.std() > 0 and rj.std() > 0 else np.nan
        ch[name] = {"r2": num(1 - np.sum(e * e) / srr) if srr > 0 else None, "pearson_r": num(pr),
                    "nrmse": num(rmse / rng) if rng > 0 else None, "rmse": num(rmse), "mae": num(np.mean(np.abs(e)))}
    res["per_channel"] = ch
    if with_curves:
        res["curves"] = curves(p, r, cols)
    return res


def compare(a, b, path, bad, stat):
    """a: gaitfed's value, b: numpy's. Appends differing paths to bad."""
    if a is None or b is None:
        if not (a is None and b is None):
            bad.append("%s: gaitfed %r vs numpy %r" % (path, a, b))
        return
    a_num = isinstance(a, (int, float)) and not isinstance(a, bool)
    b_num = isinstance(b, (int, float)) and not isinstance(b, bool)
    if a_num and b_num:
        stat["n"] += 1
        if isinstance(b, int) and not (isinstance(a, int) and a == b):
            bad.append("%s: gaitfed %r vs numpy integer %r" % (path, a, b))
            return
        d = abs(a - b)
        rel = 0.0 if d <= 1e-15 else d / max(abs(b), 1e-300)
        stat["max_rel"] = max(stat["max_rel"], rel)
        if rel > REL_TOL:
            bad.append("%s: gaitfed %.12g vs numpy %.12g (rel %.3g)" % (path, a, b, rel))
        return
    if type(a) is not type(b):
        bad.append("%s: gaitfed %s vs numpy %s" % (path, type(a).__name__, type(b).__name__))
    elif isinstance(a, dict):
        for k in sorted(a.keys() - b.keys()):
            bad.append("%s.%s: only in gaitfed's output" % (path, k))
        for k in sorted(b.keys() - a.keys()):
            bad.append("%s.%s: missing in gaitfed's output" % (path, k))
        for k in sorted(a.keys() & b.keys()):
            compare(a[k], b[k], "%s.%s" % (path, k), bad, stat)
    elif isinstance(a, list):
        if len(a) != len(b):
            bad.append("%s: %d vs %d entries" % (path, len(a), len(b)))
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                compare(x, y, "%s[%d]" % (path, i), bad, stat)
    elif a != b:
        bad.append("%s: gaitfed %r vs numpy %r" % (path, a, b))


def benchmark(eval_path, cohort_path, pred_path, dst):
    ev = json.load(open(eval_path))
    z = np.load(cohort_path)
    pz = np.load(pred_path)
    pcols = [str(c) for c in pz["out_cols"]]
    zcols = [str(c) for c in z["out_cols"]]
    idx = [zcols.index(c) for c in pcols]
    pred = pz["Y"].astype(np.float32)
    y = z["Y"].astype(np.float32)[:, :, idx]
    w = z["weight_kg"].astype(np.float64)
    ref = (y.astype(np.float64) / w[:, None, None]).astype(np.float32)
    if pred.shape != ref.shape:
        sys.exit("metrics_ref: predictions %s vs references %s" % (pred.shape, ref.shape))
    sids = np.array([str(s) for s in z["subject_id"]])
    speeds = np.array([str(s) for s in z["speed_label"]])
    res = metrics(pred, ref, sids, speeds, pcols, "curves" in ev)
    json.dump(res, open(dst, "w"), indent=1)
    mine = {k: v for k, v in ev.items() if k not in LABEL_KEYS}
    bad, stat = [], {"n": 0, "max_rel": 0.0}
    compare(mine, res, "metrics", bad, stat)
    for line in bad:
        print("metrics_ref: " + line, file=sys.stderr)
    print("metrics_ref: %d numbers compared, max rel error %.3g, %d differ" % (stat["n"], stat["max_rel"], len(bad)),
          file=sys.stderr)
    return MISMATCH if bad else 0


def main(argv):
    if len(argv) == 5 and argv[0] == "--benchmark":
        return benchmark(*argv[1:])
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--curves"):
        print(__doc__, file=sys.stderr)
        return 2
    z = np.load(argv[0])
    p, r = z["pred"], z["ref"]
    sids, speeds, cols = z["subject_id"], z["speed"], [str(c) for c in z["cols"]]
    res = metrics(p, r, sids, speeds, cols, len(argv) == 3)
    json.dump(res, open(argv[1], "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

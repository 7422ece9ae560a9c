"""numpy recomputation of the Gait2Hip metrics (model/metrics.h) for
tests/unit/test_metrics.c, run under Debian's /usr/bin/python3.

metrics_ref.py IN.npz OUT.json
IN: pred, ref float32 (N, T, D); subject_id, speed (strings, N); cols (D).
OUT: the JSON object gf_metrics_to_json produces, without "definitions";
undefined values are null.
"""
import json
import sys

import numpy as np


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


def main(src, dst):
    z = np.load(src)
    p, r = z["pred"], z["ref"]
    sids, speeds, cols = z["subject_id"], z["speed"], [str(c) for c in z["cols"]]
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
    json.dump(res, open(dst, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Independent checks of `gaitfed report` output (stdlib + numpy only).

  report_check.py numbers DB DIR   recomputes from the database, with its own
                                   SQL, what DIR/summary.json says (worst site,
                                   spread, weighted means, finals, LOSO gaps,
                                   verdict levels)
  report_check.py render DIR ID... renders DIR/index.html in headless Chromium:
                                   a non-blank screenshot, no console errors,
                                   every listed element id in the rendered DOM
  report_check.py selftest         the console-error and blank-page detectors
                                   fire on a page that should fail them
Exits non-zero with a message on the first failure. A missing chromium is a
failure, not a skip (`make deps` installs it)."""
import json
import math
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

GREEN, AMBER = 0.70, 0.50  # coordinator/report.h


def fail(msg):
    print("report_check: " + msg, file=sys.stderr)
    sys.exit(1)


def close(a, b, what):
    if a is None or b is None:
        if a is not b:
            fail(f"{what}: {a!r} != {b!r}")
        return
    if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        fail(f"{what}: report {a!r} != database {b!r}")


def spread(items):
    """items: (name, rmse, weight); worst = highest RMSE."""
    items = [(n, r, w) for n, r, w in items if r is not None]
    if not items:
        return None, None, None, None
    worst = max(items, key=lambda t: t[1])
    best = min(r for _, r, _ in items)
    ws = [(w, r) for _, r, w in items if w]
    wm = sum(w * r for w, r in ws) / sum(w for w, _ in ws) if ws else None
    return worst[0], worst[1], worst[1] - best, wm


def level(r2):
    if r2 is None:
        return "none"
    return "green" if r2 >= GREEN else "amber" if r2 >= AMBER else "red"


def numbers(db_path, out):
    s = json.load(open(os.path.join(out, "summary.json")))
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    # rounds: the incoming global model on each site's validation subjects
    rounds = {}
    for r, site, n, val in db.execute("select round, site, n_samples, val from round_sites"):
        v = json.loads(val) if val else {}
        rmse = v.get("global", {}).get("subject_mean", {}).get("rmse")
        rounds.setdefault(r, []).append((site, rmse, n))
    got = {r["round"]: r for r in s["rounds"]}
    if sorted(got) != sorted(rounds):
        fail(f"rounds {sorted(got)} != {sorted(rounds)}")
    for r, items in rounds.items():
        w, wr, sp, wm = spread(items)
        g = got[r]
        if g["worst_site"] != w:
            fail(f"round {r}: worst site {g['worst_site']!r} != {w!r}")
        close(g["worst_rmse"], wr, f"round {r} worst")
        close(g["spread_rmse"], sp, f"round {r} spread")
        close(g["weighted_mean_rmse"], wm, f"round {r} weighted mean")
    # cross-site matrix, latest round
    def has(table):
        return db.execute("select 1 from sqlite_master where type = 'table' and name = ?", (table,)).fetchone()
    last = db.execute("select max(round) from cross_site").fetchone()[0] if has("cross_site") else None
    if last is None:
        if s["cross_site"] is not None:
            fail("cross_site should be null")
    else:
        x = s["cross_site"]
        if x["round"] != last:
            fail(f"cross-site round {x['round']} != {last}")
        rows = {}
        for model, at, met in db.execute("select model, at_site, metrics from cross_site where round = ?", (last,)):
            m = json.loads(met)
            rows.setdefault(model, []).append((at, m["subject_mean"]["rmse"], m["n_subjects"]))
        got = {r["model"]: r for r in x["rows"]}
        if sorted(got) != sorted(rows):
            fail(f"cross-site rows {sorted(got)} != {sorted(rows)}")
        if x["rows"][0]["model"] != "global":
            fail("the global model is not the first row")
        for model, items in rows.items():
            w, wr, sp, wm = spread(items)
            g = got[model]
            if g["worst_site"] != w:
                fail(f"cross {model}: worst {g['worst_site']!r} != {w!r}")
            close(g["worst_rmse"], wr, f"cross {model} worst")
            close(g["spread_rmse"], sp, f"cross {model} spread")
            close(g["weighted_mean_rmse"], wm, f"cross {model} weighted mean")
            cells = {c["at_site"]: c["rmse"] for c in g["cells"]}
            for at, rmse, _ in items:
                close(cells[at], rmse, f"cross {model} at {at}")
        gl = {at: None for at, _, _ in rows.get("global", [])}
        for model, at, met in db.execute("select model, at_site, metrics from cross_site where round = ? and model = 'global'", (last,)):
            gl[at] = json.loads(met)["subject_mean"]["r2"]
        verdict = {v["name"]: v for v in s["verdict"] if v["kind"] == "site"}
        for at, r2 in gl.items():
            if verdict[at]["level"] != level(r2):
                fail(f"verdict for {at!r}: {verdict[at]['level']} but R2 {r2} means {level(r2)}")
            close(verdict[at]["r2"], r2, f"verdict R2 {at}")
    # evaluator cohorts: the final version of each series
    finals = {}
    for v, site, cohort, norm, met in db.execute("select model_version, site, cohort, norm, metrics from evaluations"):
        k = (site, cohort, norm)
        if k not in finals or finals[k][0] < v:
            finals[k] = (v, json.loads(met))
    got = {(c["site"], c["cohort"], c["norm"]): c for c in s["cohorts"]}
    if sorted(got) != sorted(finals):
        fail(f"cohorts {sorted(got)} != {sorted(finals)}")
    for k, (v, m) in finals.items():
        f = got[k]["final"]
        if f["version"] != v:
            fail(f"{k}: final version {f['version']} != {v}")
        close(f["subject_mean"]["rmse"], m["subject_mean"]["rmse"], f"{k} rmse")
        close(f["subject_mean"]["r2"], m["subject_mean"]["r2"], f"{k} r2")
        for lab, c in m["per_cadence"].items():
            close(f["per_cadence"][lab]["rmse"], c["subject_mean"]["rmse"], f"{k} cadence {lab}")
        ps = {p["id"]: p["rmse"] for p in f["per_subject"]}
        if sorted(ps) != sorted(m["per_subject"]):
            fail(f"{k}: subjects differ")
        for sid, p in m["per_subject"].items():
            close(ps[sid], p["rmse"], f"{k} subject {sid}")
        want = ("curves" in m)
        if want != (f["curves"] is not None):
            fail(f"{k}: curves present in db {want}, in report {f['curves'] is not None}")
        if want:
            for name, ch in f["curves"]["channels"].items():
                a = np.array(ch["pred_mean"])
                b = np.array(m["curves"]["channels"][name]["pred_mean"])
                if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=0):
                    fail(f"{k}: curve {name} differs")
    # leave one site out
    lo = {l["site"]: l for l in s["loso"]}
    for site, res in db.execute("select site, result from loso") if has("loso") else []:
        r = json.loads(res)
        close(lo[site]["gap"]["rmse"], r["gap"]["rmse"], f"loso {site} gap")
        close(lo[site]["zero_shot"]["rmse"], r["zero_shot"]["subject_mean"]["rmse"], f"loso {site} zero-shot")
        close(lo[site]["in_federation"]["r2"], r["in_federation"]["subject_mean"]["r2"], f"loso {site} in-federation R2")
    n = db.execute("select count(*) from loso").fetchone()[0] if has("loso") else 0
    if len(lo) != n:
        fail(f"loso rows {len(lo)} != {n}")
    nr = db.execute("select count(*) from rounds").fetchone()[0]
    if s["federation"]["rounds"] != nr:
        fail(f"rounds {s['federation']['rounds']} != {nr}")
    print("report_check: numbers OK")


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f"{path}: unexpected PNG format depth {depth} colour type {ctype} interlace {interlace}")
    bpp = 3 if ctype == 2 else 4
    stride = w * bpp
    raw = zlib.decompress(idat)
    if len(raw) != h * (stride + 1):
        fail(f"{path}: image data has {len(raw)} bytes, expected {h * (stride + 1)}")
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        if f == 0:
            cur = line.copy()
        elif f == 1:  # Sub: a running sum per channel
            cur = (np.cumsum(line.reshape(w, bpp).astype(np.int64), axis=0) & 255).astype(np.uint8).reshape(stride)
        elif f == 2:
            cur = line + prev
        elif f in (3, 4):  # Average, Paeth: sequential in x, plain Python on bytes
            ln, pv, cu = line.tobytes(), prev.tobytes(), bytearray(stride)
            for x in range(stride):
                a = cu[x - bpp] if x >= bpp else 0
                b = pv[x]
                if f == 3:
                    cu[x] = (ln[x] + ((a + b) >> 1)) & 255
                else:
                    c = pv[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    cu[x] = (ln[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.frombuffer(bytes(cu), dtype=np.uint8)
        else:
            fail(f"{path}: bad PNG filter {f} in row {y}")
        out[y] = cur
        prev = out[y]
    return out.reshape(h, w, bpp)[:, :, :3]


def chromium(args, home):
    exe = shutil.which("chromium")
    if not exe:
        fail("chromium is not installed (make deps installs it)")
    env = dict(os.environ, HOME=home)
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0"]
    p = subprocess.run(base + args, capture_output=True, text=True, env=env, timeout=120)
    return p


CONSOLE = re.compile(r"CONSOLE[:(]|Uncaught")


def render(out, ids, expect_fail=False):
    page = "file://" + os.path.abspath(os.path.join(out, "index.html"))
    with tempfile.TemporaryDirectory() as home:
        shot = os.path.join(home, "shot.png")
        p = chromium([f"--screenshot={shot}", "--window-size=1400,5000", page], home)
        problems = []
        if p.returncode != 0 or not os.path.exists(shot):
            fail(f"chromium screenshot failed ({p.returncode}): {p.stderr[-2000:]}")
        bad = [l for l in p.stderr.splitlines() if CONSOLE.search(l)]
        px = png_pixels(shot)
        nonwhite = float(np.mean(np.any(px < 245, axis=2)))
        colours = len(np.unique(px.reshape(-1, 3)[::7], axis=0))
        d = chromium(["--dump-dom", page], home)
        bad += [l for l in d.stderr.splitlines() if CONSOLE.search(l)]
    if bad:
        problems.append("console messages: " + " | ".join(bad[:5]))
    if nonwhite < 0.01 or colours < 16:
        problems.append(f"blank screenshot ({nonwhite:.4f} non-white, {colours} colours)")
    dom = d.stdout
    for i in ids:
        if not re.search(r'\bid="' + re.escape(i) + '"', dom):
            problems.append(f"element id {i!r} missing from the rendered DOM")
    if expect_fail:
        return problems
    if problems:
        fail("; ".join(problems))
    print(f"report_check: render OK ({nonwhite:.3f} non-white, {colours} colours, {len(ids)} ids)")


def selftest():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write('<html><body><p id="x">x</p><script>undefined_fn();</script></body></html>')
        probs = render(d, ["x", "absent"], expect_fail=True)
    want = ["console", "blank", "'absent'"]
    for w in want:
        if not any(w in p for p in probs):
            fail(f"selftest: the {w} detector did not fire: {probs}")
    print("report_check: selftest OK")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "numbers":
        numbers(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 2 and sys.argv[1] == "selftest":
        selftest()
    else:
        fail(__doc__)

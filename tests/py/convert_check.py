"""PyTorch side of tests/unit/test_convert.c (tools/convert_gait2hip.py).
Run with Debian's /usr/bin/python3 (python3-torch 1.13, numpy).

convert_check.py make KIND TASK OUT.pt [HPARAMS_JSON] [f64]
    A checkpoint in the Gait2Hip-60 published format, made as the authors
    make theirs: torch.save of the dict with every key, the state_dict of the
    reference module (random weights; LayerNorm and attention biases
    randomized too, so a swapped tensor shows), mu_x/sd_x numpy float32
    (float64 with f64). KIND transformer|lstm, TASK forces|moments.
convert_check.py inputs OUT.npz N SEED
    X (N,180,10) float32: gait-like joint angles in degrees (a smooth cycle per
    channel around the published training means, per-cycle offsets, noise).
convert_check.py compare ORIG.pt X.npz Y.npz
    Loads ORIG.pt with torch.load (independent of the converter's loader;
    numpy 2's module numpy._core aliased to numpy.core), builds the
    reference module from the published hparams, load_state_dict(strict=True),
    normalizes X with mu_x/sd_x cast to float32 (as the authors' predict.py),
    runs it in float64 and compares with Y (gaitfed predict): prints the
    maximum relative error max|Y - ref| / max|ref|, fails above 1e-5. Also
    checks Y's out_cols against ORIG's.
convert_check.py info ORIG.pt INFO.txt
    `gaitfed info` of the converted ORIG: kind, parameter count (PyTorch's),
    task, source_sha256 (hashlib), test_subjects, and x_mean/x_std per
    channel equal to mu_x/sd_x as float32.
convert_check.py hostile DIR
    Writes the files the converter must refuse into DIR (see HOSTILE).
convert_check.py mutants SRC.pt N SEED
    N mutants of SRC.pt's pickle through the converter (in this process): each
    converts or is refused with the converter's one-line error, nothing else,
    and the process never grows past 1 GiB.
convert_check.py unpickle-control FILE.pt
    Unpickles FILE.pt's data.pkl with the standard pickle module: the
    negative control showing that evil.pt's payload is live.
Exit status 0 when the check holds, 1 otherwise (reason on stderr).
"""
import collections
import hashlib
import io
import json
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_checkpoint import FORCES, IN_COLS, MOMENTS  # noqa: E402
from reference_rnn import RNNRegressor  # noqa: E402
from reference_transformer import ReferenceTransformer  # noqa: E402

TASK = {"forces": (FORCES, "N/kg", "N"), "moments": (MOMENTS, "Nm/kg", "Nm")}
DEFAULT_HP = {"transformer": {"d_model": 128, "nhead": 4, "num_layers": 2, "dim_feedforward": 256, "dropout": 0.1,
                              "max_len": 500},
              "lstm": {"hidden": 128, "layers": 2, "dropout": 0.1}}
# The published training means (degrees), used to make plausible inputs.
MEANS = [16.6, 2.8, -8.0, 21.0, -6.3, 1.2, 23.0, 5.6, 31.9, 8.9]
AMPL = [22, 6, 7, 22, 6, 6, 28, 11, 28, 11]


def fail(msg):
    print("convert_check: " + msg, file=sys.stderr)
    sys.exit(1)


def build(kind, hp):
    """The reference module from the published hparams (not from the converter's metadata)."""
    if kind == "transformer":
        return ReferenceTransformer(d_in=hp["d_in"], d_out=hp["d_out"], d_model=hp["d_model"], n_heads=hp["nhead"],
                                    n_layers=hp["num_layers"], d_ff=hp["dim_feedforward"], dropout=hp["dropout"],
                                    max_len=hp["max_len"])
    if kind == "lstm":
        return RNNRegressor("lstm", hp["d_in"], hp["d_out"], hidden=hp["hidden"], num_layers=hp["layers"],
                            dropout=hp["dropout"])
    fail("no reference module for %r" % kind)


def published_dict(kind, task, hp, state_dict, mu, sd):
    cols, unit, raw = TASK[task]
    return {"model_type": kind, "target_unit": unit, "raw_target_unit": raw, "alpha": 0.0, "r": 0,
            "synergy_loss_mode": None, "state_dict": state_dict, "mu_x": mu, "sd_x": sd, "in_cols": list(IN_COLS),
            "out_cols": list(cols), "hparams": hp,
            "protocol": "Subject-holdout TEST + 5-fold GroupKFold benchmark on POOL; test file made by convert_check.py",
            "global_seed": 7, "test_subjects": ["H%02d" % i for i in (3, 14, 15, 92, 65)],
            "cv_metrics_csv": "/nowhere/cv.csv", "test_metrics_overall": {"RMSE": 1.5, "MAE": 0.75, "R2": 0.5},
            "test_metrics_subject_mean": {"RMSE": 1.25, "MAE": 0.625, "R2": 0.875},
            "test_metrics_by_speed_subject_mean_csv": "/nowhere/speed.csv"}


def random_model(kind, task, hp_over, seed):
    hp = dict(DEFAULT_HP[kind], **hp_over)
    hp.update(d_in=10, d_out=len(TASK[task][0]), T=180)
    if kind == "transformer":  # the published key order
        hp = {k: hp[k] for k in ("d_model", "nhead", "num_layers", "dim_feedforward", "dropout", "d_in", "d_out", "T",
                                 "max_len")}
    torch.manual_seed(seed)
    m = build(kind, hp)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return hp, m


def cmd_make(kind, task, out, hp_json="{}", f64=None):
    hp, m = random_model(kind, task, json.loads(hp_json), seed=11)
    rng = np.random.default_rng(3)
    mu = (np.array(MEANS) + rng.normal(0, 2, 10)).astype(np.float64 if f64 else np.float32)
    sd = (np.array(AMPL) * 0.7 + rng.uniform(0, 2, 10)).astype(np.float64 if f64 else np.float32)
    torch.save(published_dict(kind, task, hp, m.state_dict(), mu, sd), out)


def cmd_inputs(out, n, seed):
    rng = np.random.default_rng(int(seed))
    n = int(n)
    ph = 2 * np.pi * np.arange(180) / 180
    X = np.empty((n, 180, 10), np.float32)
    for i in range(n):
        for c in range(10):
            shift = np.pi if c in (3, 4, 5, 8, 9) else 0.0  # left side half a cycle later
            a = AMPL[c] * rng.uniform(0.8, 1.2)
            X[i, :, c] = (MEANS[c] + rng.normal(0, 4) + a * np.sin(ph + shift + rng.normal(0, 0.2))
                          + 0.3 * a * np.sin(2 * ph + rng.uniform(0, 6)) + rng.normal(0, 0.5, 180))
    np.savez(out, X=X)


def torch_load(path):
    """torch.load (unrestricted: test files only). numpy 2 pickles name numpy._core,
    numpy 1.24's numpy.core: alias the modules. (torch 1.13's torch.load ignores its
    pickle_module argument, so a custom find_class cannot do this.)"""
    import numpy.core.multiarray
    sys.modules.setdefault("numpy._core", np.core)
    sys.modules.setdefault("numpy._core.multiarray", np.core.multiarray)
    return torch.load(path, map_location="cpu")


def cmd_compare(orig, xpath, ypath):
    ck = torch_load(orig)
    m = build(ck["model_type"], ck["hparams"]).double()
    m.load_state_dict(ck["state_dict"], strict=True)
    m.eval()
    mu = np.asarray(ck["mu_x"], dtype=np.float32).astype(np.float64)
    sd = np.asarray(ck["sd_x"], dtype=np.float32).astype(np.float64)
    X = np.load(xpath)["X"].astype(np.float64)
    with torch.no_grad():
        ref = m(torch.from_numpy((X - mu) / sd)).numpy()
    yz = np.load(ypath)
    if [str(c) for c in yz["out_cols"]] != list(ck["out_cols"]):
        fail("out_cols of Y %s differ from the checkpoint's" % list(yz["out_cols"]))
    Y = yz["Y"]
    if Y.shape != ref.shape:
        fail("Y has shape %s, PyTorch %s" % (Y.shape, ref.shape))
    scale = float(np.abs(ref).max())
    rel = float(np.abs(Y.astype(np.float64) - ref).max()) / scale
    print("convert_check: %s %s, %d cycles, max |ref| %.4g, max relative error %.3g"
          % (os.path.basename(orig), ck["model_type"], Y.shape[0], scale, rel))
    if not rel <= 1e-5:
        fail("gaitfed predict and PyTorch on %s differ: relative error %.3g > 1e-5" % (orig, rel))


def cmd_info(orig, info_path):
    ck = torch_load(orig)
    text = open(info_path, encoding="utf-8").read()
    lines = text.splitlines()
    n = sum(t.numel() for t in ck["state_dict"].values())
    cols = ck["out_cols"]
    task = "forces" if cols == FORCES else "moments"
    want = ["model: %s," % ck["model_type"], "parameters: %d in %d tensors" % (n, len(ck["state_dict"])),
            "task: %s, %d outputs" % (task, len(cols)), "outputs: " + " ".join(cols),
            "  source_sha256: " + hashlib.sha256(open(orig, "rb").read()).hexdigest(),
            "  source_file: " + os.path.basename(orig),
            "  test_subjects: " + json.dumps(ck["test_subjects"], separators=(",", ":"))]
    for w in want:
        if not any(line.startswith(w) for line in lines):
            fail("gaitfed info lacks a line starting %r" % w)
    stats = {}
    for line in lines:
        f = line.split()
        if len(f) == 3 and f[0] in IN_COLS:
            stats[f[0]] = (np.float32(f[1]), np.float32(f[2]))
    if list(stats) != IN_COLS:
        fail("gaitfed info shows statistics for %s" % list(stats))
    mu, sd = np.asarray(ck["mu_x"], np.float32), np.asarray(ck["sd_x"], np.float32)
    for i, c in enumerate(IN_COLS):
        if stats[c] != (mu[i], sd[i]):
            fail("%s: info shows %s, mu_x/sd_x are %r %r" % (c, stats[c], mu[i], sd[i]))
    print("convert_check: info of %s: %d parameters, statistics equal" % (os.path.basename(orig), n))


def _zip(path, records):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records.items():
            z.writestr(name, data)


def _records(pt):
    with zipfile.ZipFile(pt) as z:
        return {n: z.read(n) for n in z.namelist()}


def _save(obj, path):
    torch.save(obj, path)


def cmd_hostile(d):
    """Every file the converter must refuse (the C test names the expected message)."""
    hp, m = random_model("lstm", "moments", {"hidden": 8, "layers": 1}, seed=5)
    mu, sd = np.full(10, 1.0, np.float32), np.full(10, 2.0, np.float32)
    good = published_dict("lstm", "moments", hp, m.state_dict(), mu, sd)
    _save(good, os.path.join(d, "good.pt"))  # the control: converts
    raw = open(os.path.join(d, "good.pt"), "rb").read()
    open(os.path.join(d, "truncated.pt"), "wb").write(raw[:len(raw) // 2])
    open(os.path.join(d, "random.pt"), "wb").write(np.random.default_rng(1).bytes(4096))
    _zip(os.path.join(d, "nodata.pt"), {"archive/version": b"3\n", "archive/data/0": b"\0" * 16})
    _save(m.state_dict(), os.path.join(d, "bare_state_dict.pt"))
    _save({k: v for k, v in good.items() if k != "sd_x"}, os.path.join(d, "missing_key.pt"))
    sd64 = collections.OrderedDict((k, v.double()) for k, v in m.state_dict().items())
    _save(dict(good, state_dict=sd64), os.path.join(d, "float64.pt"))
    bad = collections.OrderedDict(m.state_dict())
    bad["fc.weight"] = torch.zeros(3, 9)
    _save(dict(good, state_dict=bad), os.path.join(d, "wrong_shape.pt"))
    _save(dict(good, hparams=dict(hp, hidden=16)), os.path.join(d, "wrong_hparams.pt"))
    _save(dict(good, in_cols=list(reversed(IN_COLS))), os.path.join(d, "permuted_in_cols.pt"))
    _save(dict(good, model_type="mamba"), os.path.join(d, "mamba.pt"))
    _save(dict(good, sd_x=np.zeros(10, np.float32)), os.path.join(d, "zero_sd.pt"))
    _save(dict(good, protocol="MSE\x1b[2J"), os.path.join(d, "control_chars.pt"))
    _save(dict(good, extra_key=1), os.path.join(d, "unknown_key.pt"))
    # data.pkl that calls os.system('touch DIR/pwned') when unpickled without restriction
    marker = os.path.join(os.path.abspath(d), "pwned")
    cmd = ("touch " + marker).encode()
    evil = b"\x80\x02cos\nsystem\nq\x00X" + len(cmd).to_bytes(4, "little") + cmd + b"\x85q\x01Rq\x02."
    rec = _records(os.path.join(d, "good.pt"))
    pk = next(n for n in rec if n.endswith("/data.pkl"))
    _zip(os.path.join(d, "evil.pt"), dict(rec, **{pk: evil}))
    # a storage record shorter than the pickle declares (torch.load would read past it)
    small = {"w": torch.arange(4, dtype=torch.float32)}
    torch.save(small, os.path.join(d, "small.pt"))
    rec = _records(os.path.join(d, "small.pt"))
    pk = next(n for n in rec if n.endswith("/data.pkl"))
    big = (1 << 20).to_bytes(4, "little")
    p = rec[pk].replace(b"cpuq\x06K\x04t", b"cpuq\x06J" + big + b"t")
    if p == rec[pk]:
        fail("could not patch the storage size of small.pt")
    _zip(os.path.join(d, "overread.pt"), dict(rec, **{pk: p}))
    # a tensor of 8 elements over that storage of 4 (size patched, not the storage)
    p = rec[pk].replace(b"QK\x00K\x04\x85", b"QK\x00K\x08\x85")
    if p == rec[pk]:
        fail("could not patch the tensor size of small.pt")
    _zip(os.path.join(d, "outside.pt"), dict(rec, **{pk: p}))
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), os.path.join(d, "torchscript.pt"))


def cmd_mutants(src, n, seed):
    """Converts n mutants of src's data.pkl (bytes flipped, inserted, deleted, a slice
    repeated; the zip rebuilt so its CRCs hold) in this process: each must convert or
    raise the converter's one-line Fail, never anything else."""
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("convert_gait2hip", os.path.join(root, "tools", "convert_gait2hip.py"))
    cg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cg)
    rec = _records(src)
    pk = next(k for k in rec if k.endswith("/data.pkl"))
    rng = np.random.default_rng(int(seed))
    d = os.path.dirname(os.path.abspath(src))
    mut, out = os.path.join(d, "mutant.pt"), os.path.join(d, "mutant.safetensors")
    counts = collections.Counter()
    for i in range(int(n)):
        b = bytearray(rec[pk])
        for _ in range(int(rng.integers(1, 4))):
            at, op = int(rng.integers(0, len(b))), int(rng.integers(0, 4))
            if op == 0:
                b[at] = int(rng.integers(0, 256))
            elif op == 1:
                b[at:at] = rng.bytes(int(rng.integers(1, 9)))
            elif op == 2:
                del b[at:at + int(rng.integers(1, 9))]
            else:
                b[at:at] = b[at:at + int(rng.integers(1, 64))]
        _zip(mut, dict(rec, **{pk: bytes(b)}))
        try:
            cg.convert(mut, out)
            counts["converted"] += 1
        except cg.Fail as e:
            if "\n" in str(e):
                fail("mutant %d: a message of several lines: %r" % (i, str(e)))
            counts["refused"] += 1
        except BaseException as e:
            fail("mutant %d: %s: %s escaped the converter" % (i, type(e).__name__, e))
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10  # MiB
    print("convert_check: %d mutants of %s: %d refused, %d converted, peak RSS %d MiB"
          % (int(n), os.path.basename(src), counts["refused"], counts["converted"], peak))
    if peak > 1024:  # the file is small: no damage may make the reader allocate GiBs
        fail("peak RSS %d MiB converting mutants of %s" % (peak, src))


def cmd_unpickle_control(path):
    rec = _records(path)
    pickle.loads(rec[next(n for n in rec if n.endswith("/data.pkl"))])


def main():
    cmds = {"make": cmd_make, "inputs": cmd_inputs, "compare": cmd_compare, "info": cmd_info,
            "hostile": cmd_hostile, "mutants": cmd_mutants, "unpickle-control": cmd_unpickle_control}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        fail("usage: see the docstring")
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()

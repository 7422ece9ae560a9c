#!/usr/bin/python3
"""Converts a published Gait2Hip-60 checkpoint into a gaitfed checkpoint.

    /usr/bin/python3 tools/convert_gait2hip.py IN.pt OUT.safetensors

IN is a .pt as the Gait2Hip-60 authors publish them (torch.save of a dict:
model_type, target_unit, state_dict, mu_x, sd_x, in_cols, out_cols, hparams,
protocol, global_seed, test_subjects, test_metrics_overall,
test_metrics_subject_mean; optionally raw_target_unit, alpha, r,
synergy_loss_mode, cv_metrics_csv, test_metrics_by_speed_subject_mean_csv,
which are checked and not carried over). OUT is what `gaitfed train` writes:
safetensors, the state_dict under its own names (the published Transformer
and LSTM use gaitfed's names: no renaming), x_mean/x_std = mu_x/sd_x as
float32 (the authors' predict.py casts them to float32 too), and metadata:
model kind and hyper-parameters, task, units, channels, frames, normalization
"own", and provenance (source, source_file, source_sha256,
source_model_type, source_hparams, protocol, global_seed, test_subjects,
published_test_subject_mean, published_test_overall, license, converted_by).
The same IN gives the same bytes.

Supported: model_type 'transformer' (post-norm encoder, ReLU, learned
positions) and 'lstm'. 'mamba' is refused: gaitfed has no Mamba model yet;
adding one is a KINDS entry (hyper-parameter keys, gaitfed config, tensor
names and shapes). The checkpoint must match gaitfed exactly, otherwise it is
refused: in_cols gaitfed's 10 inputs in gaitfed's order (the Gait2Hip order;
a permuted order is refused rather than permuted), out_cols the 14 forces or
the 3 moments in order with target_unit N/kg or Nm/kg, T 180, every tensor
float32, finite, with exactly the names and shapes the hyper-parameters
imply, mu_x/sd_x 10 finite floats with sd_x > 0, no unknown keys.

Safety: the .pt is never given to pickle or torch.load unrestricted. It is
read by tools/safe_torch_load.py, whose unpickler constructs only plain
containers, OrderedDict, numpy float arrays and tensors copied out of the
zip's storage records with checked bounds; any other global (os.system, ...)
is refused before it is called. Its docstring lists the allow-list and why
torch.load(pickle_module=...) is not used. numpy and the standard library
only (Debian's python3; torch is not needed).

Errors: one line on stderr naming IN (or OUT) and the problem, exit 1, OUT
not created or changed (written to a temporary file beside it, renamed at
the end).
"""
import hashlib
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safe_torch_load  # noqa: E402

PROG = "convert_gait2hip"
T = 180
IN_COLS = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "hip_flexion_l", "hip_adduction_l",
           "hip_rotation_l", "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l"]
# task: (out_cols, published target_unit, published raw_target_unit, gaitfed units)
TASKS = {
    "forces": (["addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r", "glmax_r",
                "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r"], "N/kg", "N", "N/kg"),
    "moments": (["hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment"], "Nm/kg", "Nm",
                "N\u00b7m/kg"),
}
# gaitfed's defaults (model/model.c), written for fields a kind does not use, as `gaitfed train` does
GF_DEFAULTS = {"d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 256, "max_len": 500, "prenorm": 0, "gelu": 0,
               "kernel": 3}


class Fail(Exception):
    pass


# ---- model kinds: published hyper-parameters -> gaitfed config and tensors ----

def _int_in(hp, key, lo, hi):
    v = hp[key]
    if not lo <= v <= hi:
        raise Fail("hparams %s = %d is outside [%d, %d]" % (key, v, lo, hi))
    return v


def transformer_config(hp):
    d, h = _int_in(hp, "d_model", 1, 4096), _int_in(hp, "nhead", 1, 4096)
    if d % h:
        raise Fail("hparams d_model %d is not a multiple of nhead %d" % (d, h))
    return {"d_model": d, "n_layers": _int_in(hp, "num_layers", 1, 64), "n_heads": h,
            "d_ff": _int_in(hp, "dim_feedforward", 1, 65536), "max_len": _int_in(hp, "max_len", T, 100000)}


def transformer_tensors(c, d_in, d_out):
    D, F = c["d_model"], c["d_ff"]
    t = [("input_proj.weight", (D, d_in)), ("input_proj.bias", (D,)), ("pos_encoder.pos_embed.weight", (c["max_len"], D))]
    for i in range(c["n_layers"]):
        p = "encoder.layers.%d." % i
        t += [(p + "self_attn.in_proj_weight", (3 * D, D)), (p + "self_attn.in_proj_bias", (3 * D,)),
              (p + "self_attn.out_proj.weight", (D, D)), (p + "self_attn.out_proj.bias", (D,)),
              (p + "linear1.weight", (F, D)), (p + "linear1.bias", (F,)), (p + "linear2.weight", (D, F)),
              (p + "linear2.bias", (D,)), (p + "norm1.weight", (D,)), (p + "norm1.bias", (D,)),
              (p + "norm2.weight", (D,)), (p + "norm2.bias", (D,))]
    return t + [("output_proj.weight", (d_out, D)), ("output_proj.bias", (d_out,))]


def lstm_config(hp):
    return {"d_model": _int_in(hp, "hidden", 1, 4096), "n_layers": _int_in(hp, "layers", 1, 64)}


def lstm_tensors(c, d_in, d_out):
    H, t = c["d_model"], []
    for k in range(c["n_layers"]):
        t += [("lstm.weight_ih_l%d" % k, (4 * H, d_in if k == 0 else H)), ("lstm.weight_hh_l%d" % k, (4 * H, H)),
              ("lstm.bias_ih_l%d" % k, (4 * H,)), ("lstm.bias_hh_l%d" % k, (4 * H,))]
    return t + [("fc.weight", (d_out, H)), ("fc.bias", (d_out,))]


# model_type -> (gaitfed model name, hparams keys and types, config, tensors in gaitfed's order).
# Published and gaitfed tensor names are the same for both kinds (no renaming).
KINDS = {
    "transformer": ("transformer", {"d_model": int, "nhead": int, "num_layers": int, "dim_feedforward": int,
                                    "dropout": float, "d_in": int, "d_out": int, "T": int, "max_len": int},
                    transformer_config, transformer_tensors),
    "lstm": ("lstm", {"hidden": int, "layers": int, "dropout": float, "d_in": int, "d_out": int, "T": int},
             lstm_config, lstm_tensors),
}
UNSUPPORTED = {"mamba": "gaitfed has no Mamba model yet"}


# ---- checking the published dict ----

def _is(v, t):
    if t is float:
        return type(v) in (int, float) and math.isfinite(v)
    return type(v) is t


def _text(v):
    """Plain text gaitfed can carry in metadata: no control characters, valid UTF-8."""
    if type(v) is not str or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in v):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strs(v, what):
    if type(v) is not list or not all(_text(s) and 0 < len(s) <= 200 for s in v):
        raise Fail("%s is not a list of names" % what)
    return v


def _metrics(v, what):
    if type(v) is not dict or set(v) != {"RMSE", "MAE", "R2"} or not all(_is(x, float) for x in v.values()):
        raise Fail("%s is not {RMSE, MAE, R2} as finite numbers" % what)
    return {k: float(x) for k, x in v.items()}


def _stats(v, what):
    if type(v) is not np.ndarray or v.dtype.kind != "f" or v.dtype.fields is not None or v.shape != (len(IN_COLS),):
        raise Fail("%s is not a numpy float array of %d values" % (what, len(IN_COLS)))
    a = v.astype("<f4")
    if not np.all(np.isfinite(a)):
        raise Fail("%s has a non-finite value" % what)
    return a


REQUIRED = {"model_type": str, "target_unit": str, "state_dict": dict, "mu_x": np.ndarray, "sd_x": np.ndarray,
            "in_cols": list, "out_cols": list, "hparams": dict, "protocol": str, "global_seed": int,
            "test_subjects": list, "test_metrics_overall": dict, "test_metrics_subject_mean": dict}
OPTIONAL = {"raw_target_unit": str, "alpha": float, "r": int, "synergy_loss_mode": (str, type(None)),
            "cv_metrics_csv": str, "test_metrics_by_speed_subject_mean_csv": str}


def check_published(ck):
    if not isinstance(ck, dict):
        raise Fail("holds a %s, not the Gait2Hip-60 published dict" % type(ck).__name__)
    if ck and all(type(v) is safe_torch_load.Tensor for v in ck.values()):
        raise Fail("holds a bare state_dict, not the Gait2Hip-60 published dict (model_type, hparams, mu_x, ...)")
    for k in ck:
        if k not in REQUIRED and k not in OPTIONAL:
            raise Fail("unexpected key %.60r (not the Gait2Hip-60 published format)" % (k,))
    for k, t in REQUIRED.items():
        if k not in ck:
            raise Fail("key '%s' is missing (not the Gait2Hip-60 published format)" % k)
        if not (isinstance(ck[k], dict) if t is dict else _is(ck[k], t)):
            raise Fail("key '%s' is a %s, expected %s" % (k, type(ck[k]).__name__, t.__name__))
    for k, t in OPTIONAL.items():
        if k in ck and not (type(ck[k]) in t if type(t) is tuple else _is(ck[k], t)):
            raise Fail("key '%s' is a %s" % (k, type(ck[k]).__name__))
    mtype = ck["model_type"]
    if mtype in UNSUPPORTED:
        raise Fail("model_type '%s' is not supported by this version of gaitfed (%s)" % (mtype, UNSUPPORTED[mtype]))
    if mtype not in KINDS:
        raise Fail("unknown model_type %.40r (expected one of %s)" % (mtype, ", ".join(sorted(KINDS))))
    gf_kind, hp_types, config, tensors = KINDS[mtype]

    in_cols, out_cols = _strs(ck["in_cols"], "in_cols"), _strs(ck["out_cols"], "out_cols")
    if in_cols != IN_COLS:
        i = next((i for i, (a, b) in enumerate(zip(in_cols, IN_COLS)) if a != b), min(len(in_cols), len(IN_COLS)))
        raise Fail("in_cols are not gaitfed's %d inputs in gaitfed's order: in_cols[%d] is %.40r, expected %r"
                   % (len(IN_COLS), i, in_cols[i] if i < len(in_cols) else None, IN_COLS[i] if i < len(IN_COLS) else None))
    task = next((t for t, v in TASKS.items() if v[0] == out_cols), None)
    if task is None:
        raise Fail("out_cols %s are neither the 14 hip muscle forces nor the 3 hip moments, in gaitfed's order"
                   % json.dumps(out_cols)[:300])
    cols, unit, raw_unit, gf_units = TASKS[task]
    if ck["target_unit"] != unit:
        raise Fail("target_unit %.20r does not fit %s (expected %s)" % (ck["target_unit"], task, unit))
    if "raw_target_unit" in ck and ck["raw_target_unit"] != raw_unit:
        raise Fail("raw_target_unit %.20r does not fit %s (expected %s)" % (ck["raw_target_unit"], task, raw_unit))

    hp = ck["hparams"]
    if set(hp) != set(hp_types):
        raise Fail("hparams keys %s, expected %s for %s" % (sorted(map(str, hp)), sorted(hp_types), mtype))
    for k, t in hp_types.items():
        if not _is(hp[k], t):
            raise Fail("hparams %s = %.40r is not %s" % (k, hp[k], "a finite number" if t is float else "an integer"))
    if hp["d_in"] != len(IN_COLS) or hp["d_out"] != len(cols) or hp["T"] != T:
        raise Fail("hparams d_in %d, d_out %d, T %d, expected %d, %d, %d"
                   % (hp["d_in"], hp["d_out"], hp["T"], len(IN_COLS), len(cols), T))
    if not 0 <= hp["dropout"] < 1:
        raise Fail("hparams dropout %g is outside [0, 1)" % hp["dropout"])
    cfg = dict(GF_DEFAULTS, **config(hp))

    sd = ck["state_dict"]
    want = tensors(cfg, len(IN_COLS), len(cols))
    extra = [k for k in sd if k not in dict(want)]
    if extra:
        raise Fail("state_dict has %.80r, which a %s with these hparams does not" % (extra[0], mtype))
    params = []
    for name, shape in want:
        if name not in sd:
            raise Fail("state_dict lacks %s" % name)
        t = sd[name]
        if type(t) is not safe_torch_load.Tensor:
            raise Fail("state_dict %s is a %s, not a tensor" % (name, type(t).__name__))
        if t.dtype_name != "float32":
            raise Fail("state_dict %s is %s, expected float32" % (name, t.dtype_name))
        if t.array.shape != shape:
            raise Fail("state_dict %s has shape %s, expected %s from the hparams" % (name, list(t.array.shape), list(shape)))
        if not np.all(np.isfinite(t.array)):
            raise Fail("state_dict %s has a non-finite value" % name)
        params.append((name, t.array.astype("<f4")))

    mu, sd_x = _stats(ck["mu_x"], "mu_x"), _stats(ck["sd_x"], "sd_x")
    if not np.all(sd_x > 0):
        raise Fail("sd_x has a value <= 0")
    subjects = _strs(ck["test_subjects"], "test_subjects")
    if not _text(ck["protocol"]) or len(ck["protocol"]) > 4000:
        raise Fail("protocol is not one line of text (at most 4000 characters)")
    return {"kind": gf_kind, "mtype": mtype, "cfg": cfg, "dropout": float(np.float32(hp["dropout"])),
            "task": task, "units": gf_units, "cols": cols, "params": params, "mu": mu, "sd": sd_x, "hp": hp,
            "subjects": subjects, "overall": _metrics(ck["test_metrics_overall"], "test_metrics_overall"),
            "subject_mean": _metrics(ck["test_metrics_subject_mean"], "test_metrics_subject_mean"),
            "protocol": ck["protocol"], "seed": ck["global_seed"]}


# ---- writing ----

def _json(v):
    return json.dumps(v, separators=(",", ":"))


def metadata(p, src_name, src_sha):
    """gf_checkpoint_meta's keys and formats (model/checkpoint.c), then provenance. All strings."""
    c = p["cfg"]
    m = {"format": "gaitfed-model-1", "model": p["kind"], "d_in": len(IN_COLS), "d_out": len(p["cols"])}
    for k in ("d_model", "n_layers", "n_heads", "d_ff", "max_len", "prenorm", "gelu"):
        m[k] = c[k]
    m.update({"dropout": "%.9g" % p["dropout"], "kernel": c["kernel"], "task": p["task"], "units": p["units"],
              "in_units": "deg", "in_cols": _json(IN_COLS), "out_cols": _json(p["cols"]), "frames": T,
              "normalization": "own",
              "source": "Gait2Hip-60 published", "source_file": src_name, "source_sha256": src_sha,
              "source_model_type": p["mtype"], "source_hparams": _json(p["hp"]), "protocol": p["protocol"],
              "global_seed": p["seed"], "test_subjects": _json(p["subjects"]),
              "published_test_subject_mean": _json(p["subject_mean"]),
              "published_test_overall": _json(p["overall"]),
              "license": "MIT (Gait2Hip-60 authors)", "converted_by": "tools/convert_gait2hip.py"})
    return {k: str(v) for k, v in m.items()}


def safetensors_bytes(tensors, meta):
    """The layout of model/safetensors.c: header in tensor order then __metadata__, compact JSON,
    padded with spaces to a multiple of 8; F32 little-endian data in the same order."""
    hdr, off = {}, 0
    for name, a in tensors:
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hdr["__metadata__"] = meta
    h = json.dumps(hdr, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(a.tobytes() for _, a in tensors)


def write_atomic(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def convert(src, dst):
    try:
        raw = safe_torch_load.read_file(src)
        sha = hashlib.sha256(raw).hexdigest()
        ck = safe_torch_load.loads(raw)
    except safe_torch_load.Refused as e:
        raise Fail(str(e))
    p = check_published(ck)
    tensors = p["params"] + [("x_mean", p["mu"]), ("x_std", p["sd"])]
    data = safetensors_bytes(tensors, metadata(p, os.path.basename(src), sha))
    if os.path.exists(dst) and os.path.samefile(src, dst):
        raise Fail("OUT is the input file")
    try:
        write_atomic(dst, data)
    except OSError as e:
        raise Fail("%s: %s" % (dst, e.strerror or e))
    n = sum(a.size for _, a in p["params"])
    return "%s: %s %s, %d parameters, from %s (sha256 %s)" % (dst, p["kind"], p["task"], n, os.path.basename(src), sha)


def main(argv):
    if len(argv) != 3:
        print("%s: usage: tools/convert_gait2hip.py IN.pt OUT.safetensors (got %d arguments)" % (PROG, len(argv) - 1),
              file=sys.stderr)
        return 1
    try:
        print(convert(argv[1], argv[2]))
    except Fail as e:
        msg = "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(e).split()))
        print("%s: %s: %s" % (PROG, argv[1], msg), file=sys.stderr)
        return 1
    except MemoryError:
        print("%s: %s: out of memory" % (PROG, argv[1]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

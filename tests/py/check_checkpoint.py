"""Checks a checkpoint written by `gaitfed train` against PyTorch.

usage: check_checkpoint.py M.safetensors X.npz Y.npz [own|model]

Builds the reference module named by the checkpoint's metadata (model kind
and hyper-parameters), loads every tensor except x_mean/x_std with
load_state_dict(strict=True), normalizes X (key 'X', degrees, columns ordered
by in_cols when present) with the checkpoint's x_mean/x_std ('model') or
with X's own per-channel mean/SD over all frames ('own'), runs the module in
eval mode in float64 and compares with key 'Y' of Y.npz (gaitfed predict):
max |diff| <= 1e-4 * max |Y|. Also checks Y's out_cols and the metadata's
channel names and units. Exit status 0 on agreement, 1 otherwise.
Run with Debian's /usr/bin/python3 (python3-torch 1.13, numpy)."""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IN_COLS = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "hip_flexion_l", "hip_adduction_l",
           "hip_rotation_l", "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l"]
FORCES = ["addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r", "glmax_r",
          "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r"]
MOMENTS = ["hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment"]


def fail(msg):
    print("check_checkpoint: " + msg, file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    """Independent reader (struct + json + numpy), no safetensors package."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            fail("%s: dtype %s" % (name, e["dtype"]))
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
        tensors[name] = torch.from_numpy(a.astype(np.float64))
    return tensors, meta


def build(meta):
    kind = meta["model"]
    d_in, d_out = int(meta["d_in"]), int(meta["d_out"])
    if kind == "transformer":
        from reference_transformer import ReferenceTransformer
        return ReferenceTransformer(d_in=d_in, d_out=d_out, d_model=int(meta["d_model"]),
                                    n_heads=int(meta["n_heads"]), n_layers=int(meta["n_layers"]),
                                    d_ff=int(meta["d_ff"]), dropout=float(meta["dropout"]),
                                    max_len=int(meta["max_len"]), prenorm=meta["prenorm"] == "1",
                                    gelu=meta["gelu"] == "1")
    if kind in ("lstm", "gru"):
        from reference_rnn import RNNRegressor
        return RNNRegressor(kind, d_in, d_out, hidden=int(meta["d_model"]), num_layers=int(meta["n_layers"]),
                            dropout=float(meta["dropout"]))
    if kind == "tcn":
        from reference_tcn import TCNRegressor
        return TCNRegressor(d_in, d_out, channels=int(meta["d_model"]), n_blocks=int(meta["n_layers"]),
                            kernel=int(meta["kernel"]), dropout=float(meta["dropout"]))
    fail("no reference module for model kind %r" % kind)


def main():
    if len(sys.argv) not in (4, 5):
        fail(__doc__.splitlines()[2])
    ckpt, xpath, ypath = sys.argv[1:4]
    norm = sys.argv[4] if len(sys.argv) == 5 else "model"
    tensors, meta = read_safetensors(ckpt)
    task = meta.get("task")
    out_cols = FORCES if task == "forces" else MOMENTS if task == "moments" else fail("task %r" % task)
    if json.loads(meta["in_cols"]) != IN_COLS:
        fail("metadata in_cols %s" % meta["in_cols"])
    if json.loads(meta["out_cols"]) != out_cols:
        fail("metadata out_cols %s" % meta["out_cols"])
    if meta["units"] != ("N/kg" if task == "forces" else "N\u00b7m/kg"):
        fail("metadata units %r" % meta["units"])
    if meta.get("normalization") != "own":
        fail("metadata normalization %r" % meta.get("normalization"))
    mean, std = tensors.pop("x_mean"), tensors.pop("x_std")
    torch.manual_seed(0)
    model = build(meta).double()
    model.load_state_dict(tensors, strict=True)  # raises on any missing/unexpected/misshapen tensor
    model.eval()

    xz = np.load(xpath)
    X = xz["X"].astype(np.float64)
    if "in_cols" in xz.files:
        cols = [str(c) for c in xz["in_cols"]]
        X = X[:, :, [cols.index(c) for c in IN_COLS]]
    if norm == "own":
        flat = X.reshape(-1, X.shape[2])
        mu, sd = flat.mean(axis=0), flat.std(axis=0)
        sd[sd == 0] = 1.0
        mean, std = torch.from_numpy(mu), torch.from_numpy(sd)
    with torch.no_grad():
        ref = model((torch.from_numpy(X) - mean) / std).numpy()

    yz = np.load(ypath)
    if [str(c) for c in yz["out_cols"]] != out_cols:
        fail("Y.npz out_cols %s" % list(yz["out_cols"]))
    Y = yz["Y"]
    if Y.dtype != np.float32 or Y.shape != ref.shape:
        fail("Y is %s %s, expected float32 %s" % (Y.dtype, Y.shape, ref.shape))
    scale = float(np.abs(Y).max())
    diff = float(np.abs(Y.astype(np.float64) - ref).max())
    print("check_checkpoint: %s %s, %d cycles, max |Y| %.4g, max |diff| %.3g (relative %.3g)"
          % (meta["model"], task, Y.shape[0], scale, diff, diff / scale))
    if not np.isfinite(diff) or diff > 1e-4 * scale:
        fail("gaitfed predict and PyTorch differ: max |diff| %.3g > 1e-4 * %.4g" % (diff, scale))


if __name__ == "__main__":
    main()

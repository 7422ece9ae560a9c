"""Oracle for tests/unit/test_transformer.c (Debian /usr/bin/python3, torch 1.13).

usage: oracle_transformer.py IN.npz OUT.npz

IN  (written by the C test): every parameter under its state_dict name, x [B,T,d_in],
    t [B,T,d_out], cfg = int64 [d_in, d_out, d_model, n_heads, n_layers, d_ff,
    max_len, prenorm, gelu, steps], hyper = f64 [lr, beta1, beta2, eps, wd, clip].
OUT (float64 unless noted):
    y                 forward output, dropout 0, train mode (the normal, non-fast path)
    loss              MSE (mean over all elements)
    grad.<name>       d loss / d parameter, every parameter
    y_eval32          float32 eval-mode output of a dropout-0.1 module with the same
                      weights (PyTorch may take its fused "fast path" here)
    traj_loss [steps] loss before each of `steps` AdamW steps with clip_grad_norm_
    traj_gnorm[steps] total gradient norm before clipping at each step
    final.<name>      parameters after the last step
The reference runs in float64, so the C side's error is measured against (nearly)
exact values rather than against another float32 rounding.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_common import adamw_trajectory  # noqa: E402
from reference_transformer import ReferenceTransformer  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
src = np.load(sys.argv[1])
d_in, d_out, d_model, n_heads, n_layers, d_ff, max_len, prenorm, gelu, steps = (int(v) for v in src["cfg"])
lr, b1, b2, eps, wd, clip = (float(v) for v in src["hyper"])
x = torch.from_numpy(src["x"].astype(np.float64))
t = torch.from_numpy(src["t"].astype(np.float64))


def make(dropout, dtype):
    m = ReferenceTransformer(d_in, d_out, d_model, n_heads, n_layers, d_ff, dropout, max_len, prenorm, gelu)
    names = [k for k in m.state_dict().keys()]
    sd = {k: torch.from_numpy(src[k].astype(np.float64)) for k in names}
    m = m.to(dtype)
    m.load_state_dict(sd, strict=True)
    extra = set(src.files) - set(names) - {"cfg", "hyper", "x", "t"}
    if extra:
        raise SystemExit("parameters the module does not have: %s" % sorted(extra))
    return m


out = {}
m = make(0.0, torch.float64)
m.train()
y = m(x)
loss = torch.nn.functional.mse_loss(y, t)
loss.backward()
out["y"] = y.detach().numpy()
out["loss"] = np.array(loss.item())
for k, p in m.named_parameters():
    out["grad." + k] = p.grad.numpy()

m32 = make(0.1, torch.float32)
m32.eval()
with torch.no_grad():
    out["y_eval32"] = m32(x.float()).double().numpy()

m = make(0.0, torch.float64)
m.train()
losses, norms = adamw_trajectory(m, x, t, steps, lr, b1, b2, eps, wd, clip)
out["traj_loss"] = np.array(losses)
out["traj_gnorm"] = np.array(norms)
for k, p in m.named_parameters():
    out["final." + k] = p.detach().numpy()
np.savez(sys.argv[2], **out)

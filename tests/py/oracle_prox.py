"""FedProx oracle for tests/unit/test_prox.c (Debian /usr/bin/python3, torch).

usage: oracle_prox.py IN.npz OUT.npz

IN  (written by the C test): every parameter under its state_dict name, the
    proximal center under "center.<name>", x [B,T,d_in], t [B,T,d_out],
    cfg = int64 [d_in, d_out, d_model, n_heads, n_layers, d_ff, max_len, steps],
    hyper = f64 [lr, beta1, beta2, eps, wd, clip, mu].
OUT (float64): traj_loss [steps+1]  the MSE before each step and after the last,
               final.<name>          parameters after the last step.
Each step is FedProx as in the paper and in Flower's implementation: the
proximal term mu/2 * ||w - w_center||^2 is added to the loss before backward,
then clip_grad_norm_(clip) and AdamW; the recorded loss is the MSE alone.
Runs in float64, dropout 0 (post-norm ReLU reference Transformer).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_transformer import ReferenceTransformer  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
src = np.load(sys.argv[1])
d_in, d_out, d_model, n_heads, n_layers, d_ff, max_len, steps = (int(v) for v in src["cfg"])
lr, b1, b2, eps, wd, clip, mu = (float(v) for v in src["hyper"])
dt = torch.float64
x = torch.from_numpy(src["x"].astype(np.float64))
t = torch.from_numpy(src["t"].astype(np.float64))

m = ReferenceTransformer(d_in, d_out, d_model, n_heads, n_layers, d_ff, 0.0, max_len, False, False).to(dt)
names = list(m.state_dict().keys())
m.load_state_dict({k: torch.from_numpy(src[k].astype(np.float64)) for k in names}, strict=True)
center = {k: torch.from_numpy(src["center." + k].astype(np.float64)) for k in names}
m.train()
opt = torch.optim.AdamW(m.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
mse = torch.nn.MSELoss()
traj = []
for _ in range(steps):
    opt.zero_grad()
    loss = mse(m(x), t)
    traj.append(loss.item())
    prox = sum((p - center[n]).pow(2).sum() for n, p in m.named_parameters())
    (loss + 0.5 * mu * prox).backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), clip)
    opt.step()
with torch.no_grad():
    traj.append(mse(m(x), t).item())
out = {"traj_loss": np.array(traj)}
for k, p in m.named_parameters():
    out["final." + k] = p.detach().numpy()
np.savez(sys.argv[2], **out)

"""Shared by the model oracles (oracle_rnn.py, oracle_tcn.py,
oracle_transformer.py): the AdamW + clip_grad_norm_ training trajectory, and
for the oracles with the common IN/OUT layout (oracle_rnn.py, oracle_tcn.py)
the whole run.

Common layout, IN.npz: cfg int64 [... model-specific ..., steps],
opt float64 [lr, beta1, beta2, eps, weight_decay, clip], x [B,T,d_in],
t [B,T,d_out] and every parameter by state_dict name. OUT.npz, for each
precision P in (f64, f32): y_P, loss_P, g_P.<name>, traj_P [steps+1] (see
oracle_rnn.py).

The oracles are run as `/usr/bin/python3 tests/py/oracle_x.py ...` from any
directory; each puts its own directory on sys.path before importing this.
"""
import sys

import numpy as np
import torch


def adamw_trajectory(model, x, t, steps, lr, b1, b2, eps, wd, clip):
    """`steps` AdamW steps on one batch (zero_grad, forward, MSE, backward,
    clip_grad_norm_(clip), step). Returns the loss before each step and the
    total gradient norm before clipping at each step."""
    lossf = torch.nn.MSELoss()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    losses, norms = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = lossf(model(x), t)
        losses.append(loss.item())
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
        opt.step()
    return losses, norms


def run(z, dtype, build):
    """One precision of the common layout. build(cfg ints without steps)
    returns the module (dropout 0); it is built after torch.manual_seed(0)."""
    *cfg, steps = (int(v) for v in z["cfg"])
    lr, b1, b2, eps, wd, clip = (float(v) for v in z["opt"])
    torch.manual_seed(0)
    model = build(*cfg).to(dtype)
    names = [n for n, _ in model.named_parameters()]
    sd = {n: torch.from_numpy(np.asarray(z[n])).to(dtype) for n in names}
    model.load_state_dict(sd, strict=True)
    model.train()
    x = torch.from_numpy(np.asarray(z["x"])).to(dtype)
    t = torch.from_numpy(np.asarray(z["t"])).to(dtype)
    lossf = torch.nn.MSELoss()

    y = model(x)
    loss = lossf(y, t)
    loss.backward()
    out = {"y": y.detach().numpy().copy(), "loss": np.array(loss.item())}
    for n, p in model.named_parameters():
        out["g." + n] = p.grad.detach().numpy().copy()  # zero_grad() later zeroes in place

    model.load_state_dict(sd, strict=True)
    traj, _ = adamw_trajectory(model, x, t, steps, lr, b1, b2, eps, wd, clip)
    with torch.no_grad():
        traj.append(lossf(model(x), t).item())
    out["traj"] = np.array(traj)
    return out


def main(build, argv=None):
    """IN.npz OUT.npz of the common layout, both precisions."""
    src, dst = (argv or sys.argv)[1:3]
    z = dict(np.load(src))
    res = {}
    for tag, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        for k, v in run(z, dtype, build).items():
            head, _, rest = k.partition(".")
            key = f"{head}_{tag}" + (f".{rest}" if rest else "")
            res[key] = np.asarray(v, dtype=np.float64)
    np.savez(dst, **res)

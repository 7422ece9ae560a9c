"""Oracle for tests/unit/test_tcn.c: reads weights, inputs and targets the C
side wrote (IN.npz), writes PyTorch's results (OUT.npz).

IN.npz:  cfg int64 [d_in, d_out, channels, blocks, kernel, steps],
         opt float64 [lr, beta1, beta2, eps, weight_decay, clip],
         x [B,T,d_in], t [B,T,d_out], and every parameter by state_dict name.
OUT.npz, for each precision P in (f64, f32):
  y_P [B,T,d_out]   forward output (training mode, dropout 0)
  loss_P []         MSELoss(y, t), reduction mean
  g_P.<name>        dloss/d<name> for every parameter
  traj_P [steps+1]  loss before each of `steps` AdamW steps (zero_grad, forward,
                    MSE, backward, clip_grad_norm_(clip), step), then the loss
                    after the last step.
Usage: /usr/bin/python3 oracle_tcn.py IN.npz OUT.npz
"""
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_tcn import TCNRegressor  # noqa: E402

# even kernels: PyTorch warns that 'same' padding copies the input (harmless)
warnings.filterwarnings("ignore", message="Using padding='same'")


def run(z, dtype):
    d_in, d_out, channels, blocks, kernel, steps = (int(v) for v in z["cfg"])
    lr, b1, b2, eps, wd, clip = (float(v) for v in z["opt"])
    torch.manual_seed(0)
    model = TCNRegressor(d_in, d_out, channels, blocks, kernel, dropout=0.0).to(dtype)
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
        out["g." + n] = p.grad.detach().numpy().copy()

    model.load_state_dict(sd, strict=True)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss = lossf(model(x), t)
        traj.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    with torch.no_grad():
        traj.append(lossf(model(x), t).item())
    out["traj"] = np.array(traj)
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    z = dict(np.load(src))
    res = {}
    for tag, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        for k, v in run(z, dtype).items():
            head, _, rest = k.partition(".")
            key = f"{head}_{tag}" + (f".{rest}" if rest else "")
            res[key] = np.asarray(v, dtype=np.float64)
    np.savez(dst, **res)


if __name__ == "__main__":
    main()

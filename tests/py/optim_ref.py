"""Reference for tests/unit/test_optim.c, run under Debian's python3-torch.

optim_ref.py adamw IN.npz OUT.npz
  IN holds hyper-parameters (hp: lr, beta1, beta2, eps, wd, max_norm, steps),
  the initial parameters "p__<name>" and gradients "g<k>__<name>" for step k.
  For every step: grads <- g<k>, clip_grad_norm_(max_norm), AdamW.step().
  OUT gets the parameters after each step "s<k>__<name>" and the norms
  returned by clip_grad_norm_ ("norm").
optim_ref.py mse IN.npz OUT.npz
  IN: y, t (float32). OUT: loss (float64 of the float32 result), dy.
"""
import sys
import numpy as np
import torch


def adamw(src, dst):
    z = np.load(src)
    hp = z["hp"].astype(np.float64)
    lr, b1, b2, eps, wd, max_norm, steps = hp
    steps = int(steps)
    names = sorted(k[3:] for k in z.files if k.startswith("p__"))
    params = [torch.tensor(z["p__" + n], dtype=torch.float32, requires_grad=True) for n in names]
    opt = torch.optim.AdamW(params, lr=float(lr), betas=(float(b1), float(b2)), eps=float(eps),
                            weight_decay=float(wd))
    out = {}
    norms = []
    for k in range(steps):
        opt.zero_grad()
        for p, n in zip(params, names):
            p.grad = torch.tensor(z["g%d__%s" % (k, n)], dtype=torch.float32)
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, float(max_norm))))
        opt.step()
        for p, n in zip(params, names):
            out["s%d__%s" % (k, n)] = p.detach().numpy().copy()
    out["norm"] = np.array(norms, np.float32)
    np.savez(dst, **out)


def mse(src, dst):
    z = np.load(src)
    y = torch.tensor(z["y"], dtype=torch.float32, requires_grad=True)
    t = torch.tensor(z["t"], dtype=torch.float32)
    loss = torch.nn.functional.mse_loss(y, t)
    loss.backward()
    np.savez(dst, loss=np.array([float(loss)], np.float64), dy=y.grad.numpy())


if __name__ == "__main__":
    {"adamw": adamw, "mse": mse}[sys.argv[1]](sys.argv[2], sys.argv[3])

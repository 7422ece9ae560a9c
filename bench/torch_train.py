"""PyTorch baseline for `gaitfed bench train`: full training steps of the
reference modules (tests/py/reference_transformer.py, reference_rnn.py) on
random data (batch, T, 10) -> (batch, T, 14): forward in train mode (dropout
0.1), MSE, backward, clip_grad_norm_(0.5), AdamW(lr 1e-4, weight_decay 1e-5).
Warm-up steps are not timed. Prints `train_seq_per_s=<float>` last.

Run with Debian's /usr/bin/python3 (python3-torch 1.13), not a pyenv python:
  /usr/bin/python3 bench/torch_train.py --model transformer --threads 2 --steps 20
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))

import torch  # noqa: E402
from reference_rnn import RNNRegressor  # noqa: E402
from reference_transformer import ReferenceTransformer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=["transformer", "lstm", "gru"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--len", type=int, default=180)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "transformer":
        model = ReferenceTransformer(d_in=10, d_out=14)
    else:
        model = RNNRegressor(a.model, 10, 14)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-5)
    lossf = torch.nn.MSELoss()
    x = torch.randn(a.batch, a.len, 10)
    y = torch.randn(a.batch, a.len, 14)
    total, best = 0.0, float("inf")
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        dt = time.perf_counter() - t0
        if s >= a.warmup:
            total += dt
            best = min(best, dt)
    print(f"torch {torch.__version__} {a.model} batch {a.batch} length {a.len} threads {a.threads}: "
          f"{a.steps} steps in {total:.3f} s, {total / a.steps * 1e3:.1f} ms/step (best {best * 1e3:.1f})")
    print(f"train_seq_per_s={a.batch * a.steps / total:.2f}")


if __name__ == "__main__":
    main()

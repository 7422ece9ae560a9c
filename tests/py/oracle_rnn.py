"""Oracle for tests/unit/test_rnn.c: reads weights, inputs and targets the C
side wrote (IN.npz), writes PyTorch's results (OUT.npz).

IN.npz:  cfg int64 [kind (0 lstm, 1 gru), d_in, d_out, hidden, layers, steps],
         opt float64 [lr, beta1, beta2, eps, weight_decay, clip],
         x [B,T,d_in], t [B,T,d_out], and every parameter by state_dict name.
OUT.npz, for each precision P in (f64, f32):
  y_P [B,T,d_out]   forward output (dropout off: the model is built with dropout 0)
  loss_P []         MSELoss(y, t), reduction mean
  g_P.<name>        dloss/d<name> for every parameter
  traj_P [steps+1]  loss before each of `steps` AdamW steps (zero_grad, forward,
                    MSE, backward, clip_grad_norm_(clip), step), then the loss
                    after the last step.
Usage: /usr/bin/python3 oracle_rnn.py IN.npz OUT.npz
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common  # noqa: E402
from reference_rnn import RNNRegressor  # noqa: E402


def build(kind_i, d_in, d_out, hidden, layers):
    return RNNRegressor(("lstm", "gru")[kind_i], d_in, d_out, hidden, layers, dropout=0.0)


if __name__ == "__main__":
    oracle_common.main(build)

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common  # noqa: E402
from reference_tcn import TCNRegressor  # noqa: E402

# even kernels: PyTorch warns that 'same' padding copies the input (harmless)
warnings.filterwarnings("ignore", message="Using padding='same'")


def build(d_in, d_out, channels, blocks, kernel):
    return TCNRegressor(d_in, d_out, channels, blocks, kernel, dropout=0.0)


if __name__ == "__main__":
    oracle_common.main(build)

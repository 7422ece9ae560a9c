/* MSE (torch.nn.functional.mse_loss, reduction "mean"): the sum of squares is
 * accumulated in double; the gradient follows ATen's mse_loss_backward:
 * (y - t) in float times the float scalar 2/n. */
#include "model/loss.h"

#include <math.h>

gf_err gf_mse_forward(double *loss, const float *y, const float *t, size_t n)
{
    if (n == 0) return gf_fail(GF_EINVAL, "MSE loss over 0 elements");
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)y[i] - (double)t[i];
        s += d * d;
    }
    double l = s / (double)n;
    if (!isfinite(l)) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(y[i])) return gf_fail(GF_ENUMERIC, "MSE loss: prediction %zu is not finite (%g)", i, y[i]);
            if (!isfinite(t[i])) return gf_fail(GF_ENUMERIC, "MSE loss: target %zu is not finite (%g)", i, t[i]);
        }
        return gf_fail(GF_ENUMERIC, "MSE loss is not finite (%g)", l);
    }
    *loss = l;
    return GF_OK;
}

void gf_mse_backward(float *dy, const float *y, const float *t, size_t n)
{
    if (n == 0) return;
    const float norm = (float)(2.0 / (double)n);
    for (size_t i = 0; i < n; i++) dy[i] = (y[i] - t[i]) * norm;
}

/* Mean squared error over all elements (torch.nn.MSELoss, reduction mean). */
#ifndef GF_LOSS_H
#define GF_LOSS_H
#include <stddef.h>
#include "common/err.h"

/* loss = mean((y - t)^2) over n elements; GF_ENUMERIC if not finite. */
gf_err gf_mse_forward(double *loss, const float *y, const float *t, size_t n);
/* dy = 2 (y - t) / n */
void gf_mse_backward(float *dy, const float *y, const float *t, size_t n);

#endif

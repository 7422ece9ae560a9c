/* Dilated 1-D convolution with 'same' padding (PyTorch nn.Conv1d(C, OC, K,
 * dilation=dil, padding='same'), stride 1), on [B][T][C] row-major
 * activations (channels last), in the op style of model/ops.h: outputs
 * first, d-prefixed gradients, every backward ACCUMULATES (+=), nothing
 * allocates, pool may be NULL.
 *
 *   out[b, t, o] = bias[o] + sum_{j<K} sum_{c<C} w[o, c, j] * inp[b, t + j*dil - left, c]
 *
 * with left = dil*(K-1)/2 (integer division; PyTorch pads `left` zeros before
 * and dil*(K-1) - left after, so odd K is symmetric) and inp = 0 outside
 * [0, T). w has PyTorch's layout [OC][C][K].
 *
 * Computed as K shifted GEMMs: tap j is the matrix W_j = w[:, :, j] ([OC][C],
 * repacked into scratch), and for each batch b the rows t whose source row
 * t + o_j (o_j = j*dil - left) lies in [0, T) get
 *   out[b, t, :] += inp[b, t + o_j, :] W_j^T         (one single-threaded sgemm)
 * Backward:
 *   dinp[b, s, :] += dout[b, s - o_j, :] W_j          for s - o_j in [0, T)
 *   dW_j          += sum_b dout[b, t, :]^T inp[b, t + o_j, :]
 *   dbias         += column sums of dout.
 * The pool splits rows of out / dinp (any split; no two workers write the same
 * row) and output channels of dw / dbias. */
#ifndef GF_OPS_CONV_H
#define GF_OPS_CONV_H
#include <stddef.h>
#include "model/parallel.h"

/* The 'same' padding before the sequence: dil*(K-1)/2. */
static inline int op_conv1d_left(int K, int dil) { return dil * (K - 1) / 2; }

/* Scratch floats op_conv1d_forward / op_conv1d_backward need: 2*K*OC*C. */
size_t op_conv1d_scratch(int C, int OC, int K);

/* out [B,T,OC] (overwritten); inp [B,T,C]; w [OC,C,K]; b [OC] or NULL. */
void op_conv1d_forward(float *out, const float *inp, const float *w, const float *b, int B, int T, int C,
                       int OC, int K, int dil, float *scratch, gf_pool *pool);
/* dinp [B,T,C] += (may be NULL); dw [OC,C,K] +=; db [OC] += (may be NULL). */
void op_conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        int B, int T, int C, int OC, int K, int dil, float *scratch, gf_pool *pool);

#endif

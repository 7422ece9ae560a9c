/* Kernels of the recurrent models (model/lstm.c, model/gru.c): cell
 * nonlinearities, whole-layer forward/backward through time, the per-step
 * linear head and inter-layer dropout. PyTorch semantics (nn.LSTM gate order
 * i, f, g, o; nn.GRU gate order r, z, n with n = tanh(W_in x + b_in +
 * r * (W_hn h + b_hn))). Zero initial states.
 *
 * Layout: sequences inside a layer are TIME-MAJOR, row (t*B + b), so that the
 * input projection of all steps is one sgemm and step t is a contiguous
 * [B][.] block. Weights are row-major PyTorch [out][in]. Nothing here
 * allocates; every buffer is the caller's (an arena sized by prepare).
 * Backward functions ADD (+=) parameter gradients and SET input gradients. */
#ifndef GF_OPS_RNN_H
#define GF_OPS_RNN_H
#include <stddef.h>
#include "common/rng.h"
#include "model/parallel.h"

/* ---- cells (one step, B rows) ---- */

/* G [B][4H]: pre-activations on entry (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh),
 * activated gates i, f, g, o on return. c, tc, h [B][H] out: c_t, tanh(c_t),
 * h_t. c_prev NULL means zeros. */
void gf_lstm_cell_forward(float *G, float *c, float *tc, float *h, const float *c_prev, int B, int H);
/* dG [B][4H] out: gradient w.r.t. the pre-activations. dc [B][H]: on entry
 * dL/dc_t from step t+1 (ignored if dc_in_zero), on return dL/dc_{t-1}.
 * dh = dh_out + dh_rec (dh_rec NULL: zeros). G, tc: saved activations of step
 * t; c_prev NULL means zeros. */
void gf_lstm_cell_backward(float *dG, float *dc, const float *dh_out, const float *dh_rec, int dc_in_zero,
                           const float *G, const float *tc, const float *c_prev, int B, int H);

/* Gi [B][3H]: x W_ihᵀ + b_ih on entry, activated r, z, n on return.
 * Gh [B][3H]: h_prev W_hhᵀ + b_hh (read only). hn [B][H] out: W_hn h + b_hn
 * (saved for backward). h [B][H] out. h_prev NULL means zeros. */
void gf_gru_cell_forward(float *Gi, float *hn, float *h, const float *Gh, const float *h_prev, int B, int H);
/* dGi, dGh [B][3H] out: gradients w.r.t. the input-side and hidden-side
 * pre-activations. dh [B][H]: on entry dL/dh_t from step t+1 (the recurrent
 * part; ignored if dh_in_zero), on return the direct part of dL/dh_{t-1}
 * (dh * z); the caller adds dGh W_hh. dh_out: gradient from above. */
void gf_gru_cell_backward(float *dGi, float *dGh, float *dh, const float *dh_out, int dh_in_zero,
                          const float *Gi, const float *hn, const float *h_prev, int B, int H);

/* ---- whole layers, time-major ----
 * pool: the engine's worker pool (NULL: serial); OpenBLAS must be at one
 * thread (model/parallel.h). Workers take slices of the batch for the
 * recurrence and blocks of gate rows for the weight gradients. */

/* X [T*B][in] -> Hs [T*B][H]; saves G [T*B][4H] (activated gates), C and TC
 * [T*B][H] (c_t, tanh c_t). Wt: scratch [H][4H] for W_hhᵀ (the per-step
 * products then run as small unpacked NN products), or NULL. */
void gf_lstm_layer_forward(float *Hs, float *G, float *C, float *TC, const float *X, const float *W_ih,
                           const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H,
                           float *Wt, gf_pool *pool);
/* dHs [T*B][H]: gradient into the layer's outputs. Adds dW_ih [4H][in],
 * dW_hh [4H][H], db_ih, db_hh [4H]; sets dX [T*B][in] unless NULL.
 * Scratch: dG [T*B][4H], dh, dc [B][H]. */
void gf_lstm_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dG, float *dh,
                            float *dc, const float *dHs, const float *Hs, const float *G, const float *C,
                            const float *TC, const float *X, const float *W_ih, const float *W_hh, int T, int B,
                            int in, int H, gf_pool *pool);

/* X [T*B][in] -> Hs [T*B][H]; saves Gi [T*B][3H] (r, z, n), HN [T*B][H].
 * Scratch: Gh [B][3H]; Wt [H][3H] for W_hhᵀ or NULL (as for the LSTM). */
void gf_gru_layer_forward(float *Hs, float *Gi, float *HN, float *Gh, const float *X, const float *W_ih,
                          const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H,
                          float *Wt, gf_pool *pool);
/* Scratch: dGi, dGh [T*B][3H], dh [B][H]. */
void gf_gru_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dGi, float *dGh,
                           float *dh, const float *dHs, const float *Hs, const float *Gi, const float *HN,
                           const float *X, const float *W_ih, const float *W_hh, int T, int B, int in, int H,
                           gf_pool *pool);

/* ---- per-step head and dropout ---- */

/* Y [N][out] = X [N][in] Wᵀ + b (W [out][in]). */
void gf_rnn_linear_forward(float *Y, const float *X, const float *W, const float *b, int N, int in, int out);
/* dW += dYᵀ X, db += Σ_rows dY, dX = dY W (unless NULL). */
void gf_rnn_linear_backward(float *dX, float *dW, float *db, const float *dY, const float *X, const float *W, int N,
                            int in, int out);

/* mask [n]: 0 with probability p, else 1/(1-p) (inverted dropout); draws one
 * 64-bit seed from rng for a counter-based mask (op_dropout_mask). */
void gf_rnn_dropout_mask(float *mask, size_t n, float p, gf_rng *rng);
/* y = x * mask; dx = dy * mask. */
void gf_rnn_dropout_forward(float *y, const float *x, const float *mask, size_t n);
void gf_rnn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n);

/* ---- layout helpers ---- */

/* dst [T][B][C] from src [B][T][C] (to time-major), and back. */
void gf_rnn_to_time_major(float *dst, const float *src, int B, int T, int C);
void gf_rnn_to_batch_major(float *dst, const float *src, int B, int T, int C);

/* In place: a[i] = sigmoid(a[i]) / tanh(a[i]) with the vectorized kernels
 * the cells use (a few float32 ulps; tests compare them with libm). */
void gf_rnn_vsigmoid(float *a, int n);
void gf_rnn_vtanh(float *a, int n);

/* Index of the first non-finite value of a[n], or -1. */
long gf_rnn_first_nonfinite(const float *a, size_t n);

#endif

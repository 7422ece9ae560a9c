/* Layer ops with forward and backward, in the llm.c style:
 *   op_X_forward(out..., in..., dims..., pool)
 *   op_X_backward(dinp..., dparams..., dout, saved..., dims..., pool)
 * Outputs first, shapes in comments, d-prefixed gradients. Activations are
 * row-major [N, C] with N = B*T rows. EVERY backward ACCUMULATES (+=) into
 * every gradient it writes (inputs and parameters), so callers zero gradient
 * buffers once and residual branches just add up. pool may be NULL (serial).
 * Nothing here allocates. */
#ifndef GF_OPS_H
#define GF_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "model/parallel.h"

/* ---- ops_linear.c: y = x W^T + b (PyTorch nn.Linear, W [OC, C]) ---- */
/* out [N,OC]; inp [N,C]; w [OC,C]; b [OC] or NULL. Overwrites out. */
void op_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int C, int OC, gf_pool *pool);
/* dinp [N,C] += dout w (dinp may be NULL); dw [OC,C] += dout^T inp;
 * db [OC] += column sums of dout (db may be NULL). */
void op_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, gf_pool *pool);

/* ---- ops_norm.c: LayerNorm over the last dim, biased variance, eps 1e-5 ---- */
#define GF_LN_EPS 1e-5f
/* out [N,C]; mean, rstd [N] (saved); inp [N,C]; w, b [C]. */
void op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int N, int C, gf_pool *pool);
/* dinp [N,C] +=; dw, db [C] +=. */
void op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C,
                           gf_pool *pool);

/* ---- ops_act.c: elementwise, n elements ---- */
void op_relu_forward(float *out, const float *inp, size_t n, gf_pool *pool);
/* dinp += dout * (inp > 0) */
void op_relu_backward(float *dinp, const float *dout, const float *inp, size_t n, gf_pool *pool);
/* GELU, exact erf form (PyTorch approximate='none'): x/2 (1 + erf(x/sqrt 2)) */
void op_gelu_forward(float *out, const float *inp, size_t n, gf_pool *pool);
void op_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n, gf_pool *pool);
/* out = a + b */
void op_residual_forward(float *out, const float *a, const float *b, size_t n, gf_pool *pool);
/* da += dout; db += dout */
void op_residual_backward(float *da, float *db, const float *dout, size_t n, gf_pool *pool);
/* Inverted dropout mask: mask[i] = 0 with probability p, else 1/(1-p).
 * Deterministic for (seed, i), independent of n and of the thread count:
 * element i is dropped iff gf_drop_bits(gf_drop_key(seed), i) <
 * gf_drop_threshold(p) (model/vmath.h, counter-based). */
#define GF_DROP_BLOCK 4096
void op_dropout_mask(float *mask, size_t n, float p, uint64_t seed, gf_pool *pool);
/* out = inp * mask */
void op_dropout_forward(float *out, const float *inp, const float *mask, size_t n, gf_pool *pool);
/* dinp += dout * mask */
void op_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n, gf_pool *pool);
/* op_dropout_mask(mask, n, p, seed) and op_dropout_forward(out, inp, mask) in one pass */
void op_dropout_mask_forward(float *out, float *mask, const float *inp, size_t n, float p, uint64_t seed,
                             gf_pool *pool);
/* y = a + dropout(b): da += dout; db += dout * mask (the residual backward
 * and the dropout backward in one pass, no gradient buffer for dropout(b)) */
void op_residual_dropout_backward(float *da, float *db, const float *dout, const float *mask, size_t n,
                                  gf_pool *pool);
/* y = dropout(relu(x)): dinp += x > 0 ? dout * mask : 0 (one pass, no
 * gradient buffer for relu(x)) */
void op_relu_dropout_backward(float *dinp, const float *dout, const float *inp, const float *mask, size_t n,
                              gf_pool *pool);

/* ---- ops_embed.c: learned positions (nn.Embedding(max_len, C) at 0..T-1) ---- */
/* out [B,T,C] = inp [B,T,C] + pos [T,C] (pos: the first T rows of the table). */
void op_posembed_forward(float *out, const float *inp, const float *pos, int B, int T, int C,
                         gf_pool *pool);
/* dinp [B,T,C] += dout; dpos [T,C] += sum over b of dout (dinp may be NULL). */
void op_posembed_backward(float *dinp, float *dpos, const float *dout, int B, int T, int C,
                          gf_pool *pool);

/* ---- ops_attention.c: multi-head self-attention core (no projections) ----
 * qkv [B,T,3C] packed as PyTorch's in_proj output: q = [:, :, 0:C],
 * k = [:, :, C:2C], v = [:, :, 2C:3C]; head h uses columns h*hs..(h+1)*hs-1 of
 * each, hs = C/NH. Per (b, h):
 *   S = Q K^T / sqrt(hs), P = softmax(S) (rows), Pd = P * mask, O = Pd V
 * out [B,T,C] (heads concatenated); att [B,NH,T,T] = P (saved);
 * mask [B,NH,T,T] attention-dropout multipliers or NULL (no dropout);
 * scratch: gf_pool_threads(pool) * 2 * T * T floats (op_attention_scratch). */
size_t op_attention_scratch(int T, int threads);
void op_attention_forward(float *out, float *att, const float *qkv, const float *mask,
                          int B, int T, int C, int NH, float *scratch, gf_pool *pool);
/* dqkv [B,T,3C] +=. O(T^2) form: dPd = dO V^T, dP = dPd * mask,
 * dS = P o (dP - rowsum(dP o P)), dQ = dS K / sqrt(hs), dK = dS^T Q / sqrt(hs),
 * dV = Pd^T dO. */
void op_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const float *mask, int B, int T, int C, int NH, float *scratch,
                           gf_pool *pool);
/* The same with mask = op_dropout_mask(mask, B*NH*T*T, p, seed): the mask is
 * regenerated row by row (a pure function of seed and index), never stored. */
void op_attention_forward_seeded(float *out, float *att, const float *qkv, float p, uint64_t seed,
                                 int B, int T, int C, int NH, float *scratch, gf_pool *pool);
void op_attention_backward_seeded(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  float p, uint64_t seed, int B, int T, int C, int NH, float *scratch,
                                  gf_pool *pool);

/* 1 if all n values are finite. */
int op_all_finite(const float *x, size_t n);

#endif

/* Multi-head self-attention core, one (batch, head) pair per work item on the
 * pool; the small per-head matrix products are single-threaded sgemm calls
 * on strided views of the packed qkv [B,T,3C] activations. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/ops.h"
#include "model/vmath.h"

typedef struct {
    float *out, *att, *dqkv, *scratch;
    const float *qkv, *mask, *dout, *catt;
    int B, T, C, NH;
    /* seeded dropout (mask == NULL, seeded != 0): mask rows regenerated
     * from (key, index) exactly as op_dropout_mask would store them */
    int seeded;
    uint64_t key;
    uint32_t thr;
    float scale;
} at_ctx;

GF_VEC static void mask_row_fast(float *m, int n, uint32_t klo, uint32_t khi, uint32_t lo, uint32_t thr, float scale)
{
    for (int j = 0; j < n; j++) m[j] = gf_drop_bits2(klo, khi, lo + (uint32_t)j) < thr ? 0.0f : scale;
}

/* pd[j] = P[j] * mask[j], the mask generated inline (as mask_row_fast) */
GF_VEC static void mask_mul_row_fast(float *restrict pd, const float *restrict P, int n, uint32_t klo, uint32_t khi,
                                     uint32_t lo, uint32_t thr, float scale)
{
    for (int j = 0; j < n; j++) pd[j] = P[j] * (gf_drop_bits2(klo, khi, lo + (uint32_t)j) < thr ? 0.0f : scale);
}

/* m[j] = the op_dropout_mask value of element base + j */
static void mask_row(const at_ctx *c, float *m, int n, uint64_t base)
{
    if ((base >> 32) == ((base + (uint64_t)n - 1) >> 32)) {
        uint32_t khi = (uint32_t)(c->key >> 32) ^ ((uint32_t)(base >> 32) * 0x9e3779b9u);
        mask_row_fast(m, n, (uint32_t)c->key, khi, (uint32_t)base, c->thr, c->scale);
    } else {
        for (int j = 0; j < n; j++) m[j] = gf_drop_bits(c->key, base + (uint64_t)j) < c->thr ? 0.0f : c->scale;
    }
}

/* d <- P o (d - rowsum(d o P)); inlined into each vectorized clone below. */
static inline void softmax_bwd_core(float *d, const float *p, int n)
{
    float acc[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) acc[k] += d[j + k] * p[j + k];
    float s = 0;
    for (; j < n; j++) s += d[j] * p[j];
    for (int k = 0; k < 16; k++) s += acc[k];
    for (j = 0; j < n; j++) d[j] = p[j] * (d[j] - s);
}

/* Backward of one row when only Pd = P * mask is at hand: mask[j] is scale
 * where Pd[j] != 0 and, where Pd[j] == 0 with P[j] != 0, 0; where P[j] == 0
 * the mask value does not change dS (both terms carry a factor P[j]). */
GF_VEC static void softmax_bwd_row_pd(float *d, const float *p, const float *pd, float scale, int n)
{
    for (int j = 0; j < n; j++) d[j] *= pd[j] != 0.0f ? scale : 0.0f;
    softmax_bwd_core(d, p, n);
}

size_t op_attention_scratch(int T, int threads) { return (size_t)threads * 2 * (size_t)T * (size_t)T; }

/* Row kernels, vectorized (16 partial lanes for the reductions; fexp from
 * model/vmath.h instead of libm's scalar expf). */
GF_VEC static void softmax_row(float *row, float *pd, const float *m, int n)
{
    float acc[16];
    for (int k = 0; k < 16; k++) acc[k] = row[0];
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) acc[k] = row[j + k] > acc[k] ? row[j + k] : acc[k];
    float mx = row[0];
    for (; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    for (int k = 0; k < 16; k++) mx = acc[k] > mx ? acc[k] : mx;
    /* exp and sum in one pass, normalize and mask in one pass (same sums
     * and products as separate passes) */
    for (int k = 0; k < 16; k++) acc[k] = 0.0f;
    for (j = 0; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) {
            float e = fexp(row[j + k] - mx);
            row[j + k] = e;
            acc[k] += e;
        }
    float s = 0;
    for (; j < n; j++) {
        float e = fexp(row[j] - mx);
        row[j] = e;
        s += e;
    }
    for (int k = 0; k < 16; k++) s += acc[k];
    float inv = 1.0f / s;
    if (m)
        for (j = 0; j < n; j++) {
            float r = row[j] * inv;
            row[j] = r;
            pd[j] = r * m[j];
        }
    else
        for (j = 0; j < n; j++) row[j] *= inv;
}

/* d = dPd (in), m: mask or NULL; d <- P o (dP - rowsum(dP o P)), dP = d o m. */
GF_VEC static void softmax_bwd_row(float *d, const float *p, const float *m, int n)
{
    if (m)
        for (int j = 0; j < n; j++) d[j] *= m[j];
    softmax_bwd_core(d, p, n);
}

GF_VEC static void mul_rows(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

static void at_fwd(void *vc, int i0, int i1, int tid)
{
    at_ctx *c = vc;
    int T = c->T, C = c->C, C3 = 3 * C, NH = c->NH, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float *pd = c->scratch + (size_t)tid * 2 * T * T, *mrow = pd + (size_t)T * T;
    for (int bh = i0; bh < i1; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = c->qkv + (size_t)b * T * C3 + (size_t)h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *P = c->att + (size_t)bh * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f, P, T);
        const float *m = c->mask ? c->mask + (size_t)bh * T * T : NULL;
        if (c->seeded)
            for (int i = 0; i < T; i++) {
                mask_row(c, mrow, T, ((uint64_t)bh * T + (uint64_t)i) * (uint64_t)T);
                softmax_row(P + (size_t)i * T, pd + (size_t)i * T, mrow, T);
            }
        else
            for (int i = 0; i < T; i++)
                softmax_row(P + (size_t)i * T, pd + (size_t)i * T, m ? m + (size_t)i * T : NULL, T);
        const float *A = m || c->seeded ? pd : P;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, A, T, v, C3, 0.0f,
                    c->out + (size_t)b * T * C + (size_t)h * hs, C);
    }
}

void op_attention_forward(float *out, float *att, const float *qkv, const float *mask,
                          int B, int T, int C, int NH, float *scratch, gf_pool *pool)
{
    at_ctx c = {.out = out, .att = att, .qkv = qkv, .mask = mask, .scratch = scratch,
                .B = B, .T = T, .C = C, .NH = NH};
    gf_parallel_for(pool, B * NH, at_fwd, &c);
}

static void at_bwd(void *vc, int i0, int i1, int tid)
{
    at_ctx *c = vc;
    int T = c->T, C = c->C, C3 = 3 * C, NH = c->NH, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float *dp = c->scratch + (size_t)tid * 2 * T * T, *pd = dp + (size_t)T * T;
    for (int bh = i0; bh < i1; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qoff = (size_t)b * T * C3 + (size_t)h * hs;
        const float *q = c->qkv + qoff, *k = q + C, *v = q + 2 * C;
        float *dq = c->dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
        const float *dO = c->dout + (size_t)b * T * C + (size_t)h * hs;
        const float *P = c->catt + (size_t)bh * T * T;
        const float *m = c->mask ? c->mask + (size_t)bh * T * T : NULL;
        const float *A = P;
        if (m) {
            mul_rows(pd, P, m, (size_t)T * T);
            A = pd;
        } else if (c->seeded) {
            /* the mask row goes to dp (free until the dPd product below) */
            for (int i = 0; i < T; i++) {
                uint64_t base = ((uint64_t)bh * T + (uint64_t)i) * (uint64_t)T;
                if ((base >> 32) == ((base + (uint64_t)T - 1) >> 32)) {
                    uint32_t khi = (uint32_t)(c->key >> 32) ^ ((uint32_t)(base >> 32) * 0x9e3779b9u);
                    mask_mul_row_fast(pd + (size_t)i * T, P + (size_t)i * T, T, (uint32_t)c->key, khi,
                                      (uint32_t)base, c->thr, c->scale);
                } else {
                    mask_row(c, dp, T, base);
                    mul_rows(pd + (size_t)i * T, P + (size_t)i * T, dp, (size_t)T);
                }
            }
            A = pd;
        }
        /* dV += Pd^T dO;  dPd = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, A, T, dO, C, 1.0f, dv, C3);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dO, C, v, C3, 0.0f, dp, T);
        /* dS = P o (dP - rowsum(dP o P)), dP = dPd o mask; dS overwrites dp */
        if (c->seeded)
            for (int i = 0; i < T; i++)
                softmax_bwd_row_pd(dp + (size_t)i * T, P + (size_t)i * T, pd + (size_t)i * T, c->scale, T);
        else
            for (int i = 0; i < T; i++)
                softmax_bwd_row(dp + (size_t)i * T, P + (size_t)i * T, m ? m + (size_t)i * T : NULL, T);
        /* dQ += scale dS K;  dK += scale dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, dp, T, k, C3, 1.0f, dq, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, dp, T, q, C3, 1.0f, dk, C3);
    }
}

void op_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const float *mask, int B, int T, int C, int NH, float *scratch,
                           gf_pool *pool)
{
    at_ctx c = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .catt = att, .mask = mask,
                .scratch = scratch, .B = B, .T = T, .C = C, .NH = NH};
    gf_parallel_for(pool, B * NH, at_bwd, &c);
}

/* As op_attention_forward / _backward with mask = op_dropout_mask(p, seed)
 * of B*NH*T*T elements, regenerated per row instead of stored. */
void op_attention_forward_seeded(float *out, float *att, const float *qkv, float p, uint64_t seed,
                                 int B, int T, int C, int NH, float *scratch, gf_pool *pool)
{
    at_ctx c = {.out = out, .att = att, .qkv = qkv, .scratch = scratch, .B = B, .T = T, .C = C, .NH = NH,
                .seeded = 1, .key = gf_drop_key(seed), .thr = gf_drop_threshold(p), .scale = 1.0f / (1.0f - p)};
    gf_parallel_for(pool, B * NH, at_fwd, &c);
}

void op_attention_backward_seeded(float *dqkv, const float *dout, const float *qkv, const float *att,
                                  float p, uint64_t seed, int B, int T, int C, int NH, float *scratch,
                                  gf_pool *pool)
{
    at_ctx c = {.dqkv = dqkv, .dout = dout, .qkv = qkv, .catt = att, .scratch = scratch,
                .B = B, .T = T, .C = C, .NH = NH,
                .seeded = 1, .key = gf_drop_key(seed), .thr = gf_drop_threshold(p), .scale = 1.0f / (1.0f - p)};
    gf_parallel_for(pool, B * NH, at_bwd, &c);
}

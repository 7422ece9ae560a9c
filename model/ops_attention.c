/* Multi-head self-attention core, one (batch, head) pair per work item on the
 * pool; the small per-head matrix products are single-threaded sgemm calls
 * on strided views of the packed qkv [B,T,3C] activations. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/ops.h"

typedef struct {
    float *out, *att, *dqkv, *scratch;
    const float *qkv, *mask, *dout, *catt;
    int B, T, C, NH;
} at_ctx;

size_t op_attention_scratch(int T, int threads) { return (size_t)threads * 2 * (size_t)T * (size_t)T; }

static void at_fwd(void *vc, int i0, int i1, int tid)
{
    at_ctx *c = vc;
    int T = c->T, C = c->C, C3 = 3 * C, NH = c->NH, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float *pd = c->scratch + (size_t)tid * 2 * T * T;
    for (int bh = i0; bh < i1; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = c->qkv + (size_t)b * T * C3 + (size_t)h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *P = c->att + (size_t)bh * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f, P, T);
        for (int i = 0; i < T; i++) {
            float *row = P + (size_t)i * T;
            float mx = row[0];
            for (int j = 1; j < T; j++) mx = row[j] > mx ? row[j] : mx;
            float s = 0;
            for (int j = 0; j < T; j++) { row[j] = expf(row[j] - mx); s += row[j]; }
            float inv = 1.0f / s;
            for (int j = 0; j < T; j++) row[j] *= inv;
        }
        const float *A = P;
        if (c->mask) {
            const float *m = c->mask + (size_t)bh * T * T;
            for (size_t i = 0; i < (size_t)T * T; i++) pd[i] = P[i] * m[i];
            A = pd;
        }
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
            for (size_t i = 0; i < (size_t)T * T; i++) pd[i] = P[i] * m[i];
            A = pd;
        }
        /* dV += Pd^T dO;  dPd = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, A, T, dO, C, 1.0f, dv, C3);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dO, C, v, C3, 0.0f, dp, T);
        /* dS = P o (dP - rowsum(dP o P)), dP = dPd o mask; dS overwrites dp */
        for (int i = 0; i < T; i++) {
            float *d = dp + (size_t)i * T;
            const float *p = P + (size_t)i * T;
            if (m) {
                const float *mr = m + (size_t)i * T;
                for (int j = 0; j < T; j++) d[j] *= mr[j];
            }
            float s = 0;
            for (int j = 0; j < T; j++) s += d[j] * p[j];
            for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - s);
        }
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

/* LayerNorm over the last dimension (PyTorch nn.LayerNorm, eps 1e-5, biased
 * variance). Rows in parallel; dw/db reduce over rows with the columns split
 * between workers, so no per-thread partial buffers are needed. */
#include <math.h>

#include "model/ops.h"
#include "model/vmath.h"

/* dw[j] += sum_n dy[n][j] xhat[n][j], db[j] += sum_n dy[n][j] over columns
 * [0, nj) of a column block: same row order as a scalar loop (bit-identical),
 * restrict pointers so it vectorizes. */
GF_VEC static void ln_w_rows(float *restrict dw, float *restrict db, const float *restrict x,
                             const float *restrict dy, const float *restrict mean,
                             const float *restrict rstd, int N, int C, int nj)
{
    for (int n = 0; n < N; n++) {
        const float *restrict xr = x + (size_t)n * C, *restrict dr = dy + (size_t)n * C;
        float m = mean[n], rs = rstd[n];
        for (int j = 0; j < nj; j++) {
            dw[j] += dr[j] * (xr[j] - m) * rs;
            db[j] += dr[j];
        }
    }
}

typedef struct {
    float *out, *mean, *rstd, *dinp, *dw, *db;
    const float *inp, *w, *b, *dout, *cmean, *crstd;
    int N, C, P;
} ln_ctx;

/* One row: double sums in 8 partial lanes (vectorized), then the row. */
GF_VEC static void ln_row(float *restrict y, float *restrict mean, float *restrict rstd, const float *restrict x,
                          const float *restrict w, const float *restrict b, int C)
{
    double acc[8] = {0};
    int i = 0;
    for (; i + 8 <= C; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    double s = 0;
    for (; i < C; i++) s += x[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    float m = (float)(s / C);
    for (int k = 0; k < 8; k++) acc[k] = 0;
    for (i = 0; i + 8 <= C; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[i + k] - m;
            acc[k] += (double)d * d;
        }
    double v = 0;
    for (; i < C; i++) { float d = x[i] - m; v += (double)d * d; }
    for (int k = 0; k < 8; k++) v += acc[k];
    float rs = (float)(1.0 / sqrt(v / C + (double)GF_LN_EPS));
    for (i = 0; i < C; i++) y[i] = (x[i] - m) * rs * w[i] + b[i];
    *mean = m;
    *rstd = rs;
}

static void ln_fwd(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    ln_ctx *c = vc;
    int C = c->C;
    for (int n = i0; n < i1; n++)
        ln_row(c->out + (size_t)n * C, c->mean + n, c->rstd + n, c->inp + (size_t)n * C, c->w, c->b, C);
}

void op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int N, int C, gf_pool *pool)
{
    ln_ctx c = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .N = N, .C = C};
    gf_parallel_for(pool, N, ln_fwd, &c);
}

/* dx = rstd (dn - mean(dn) - xhat mean(dn xhat)), dn = dout w, xhat = (x - mean) rstd */
GF_VEC static void ln_bwd_row(float *restrict dx, const float *restrict x, const float *restrict dy,
                               const float *restrict w, float m, float rs, int C)
{
    float a1[16] = {0}, a2[16] = {0};
    int i = 0;
    for (; i + 16 <= C; i += 16)
        for (int k = 0; k < 16; k++) {
            float dn = dy[i + k] * w[i + k];
            a1[k] += dn;
            a2[k] += dn * (x[i + k] - m) * rs;
        }
    float s1 = 0, s2 = 0;
    for (; i < C; i++) {
        float dn = dy[i] * w[i];
        s1 += dn;
        s2 += dn * (x[i] - m) * rs;
    }
    for (int k = 0; k < 16; k++) { s1 += a1[k]; s2 += a2[k]; }
    s1 /= C;
    s2 /= C;
    for (i = 0; i < C; i++) {
        float xh = (x[i] - m) * rs;
        dx[i] += rs * (dy[i] * w[i] - s1 - xh * s2);
    }
}

static void ln_bwd_x(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    ln_ctx *c = vc;
    int C = c->C;
    for (int n = i0; n < i1; n++)
        ln_bwd_row(c->dinp + (size_t)n * C, c->inp + (size_t)n * C, c->dout + (size_t)n * C, c->w,
                   c->cmean[n], c->crstd[n], C);
}

static void ln_bwd_w(void *vc, int k0, int k1, int tid)
{
    (void)tid;
    ln_ctx *c = vc;
    for (int k = k0; k < k1; k++) {
        int j0 = (int)((long)c->C * k / c->P), j1 = (int)((long)c->C * (k + 1) / c->P);
        if (j1 > j0)
            ln_w_rows(c->dw + j0, c->db + j0, c->inp + j0, c->dout + j0, c->cmean, c->crstd, c->N, c->C, j1 - j0);
    }
}

void op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C,
                           gf_pool *pool)
{
    ln_ctx c = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w,
                .cmean = mean, .crstd = rstd, .N = N, .C = C, .P = gf_pool_threads(pool)};
    gf_parallel_for(pool, N, ln_bwd_x, &c);
    gf_parallel_for(pool, c.P, ln_bwd_w, &c);
}

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

static void ln_fwd(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    ln_ctx *c = vc;
    int C = c->C;
    for (int n = i0; n < i1; n++) {
        const float *x = c->inp + (size_t)n * C;
        float *y = c->out + (size_t)n * C;
        double s = 0;
        for (int i = 0; i < C; i++) s += x[i];
        float m = (float)(s / C);
        double v = 0;
        for (int i = 0; i < C; i++) { float d = x[i] - m; v += (double)d * d; }
        float rs = (float)(1.0 / sqrt(v / C + (double)GF_LN_EPS));
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rs * c->w[i] + c->b[i];
        c->mean[n] = m;
        c->rstd[n] = rs;
    }
}

void op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int N, int C, gf_pool *pool)
{
    ln_ctx c = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .N = N, .C = C};
    gf_parallel_for(pool, N, ln_fwd, &c);
}

/* dx = rstd (dn - mean(dn) - xhat mean(dn xhat)), dn = dout w, xhat = (x - mean) rstd */
static void ln_bwd_x(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    ln_ctx *c = vc;
    int C = c->C;
    for (int n = i0; n < i1; n++) {
        const float *x = c->inp + (size_t)n * C, *dy = c->dout + (size_t)n * C;
        float *dx = c->dinp + (size_t)n * C;
        float m = c->cmean[n], rs = c->crstd[n];
        float s1 = 0, s2 = 0;
        for (int i = 0; i < C; i++) {
            float dn = dy[i] * c->w[i];
            s1 += dn;
            s2 += dn * (x[i] - m) * rs;
        }
        s1 /= C;
        s2 /= C;
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - m) * rs;
            dx[i] += rs * (dy[i] * c->w[i] - s1 - xh * s2);
        }
    }
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

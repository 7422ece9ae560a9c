/* Dilated 'same' Conv1d as K shifted GEMMs on [B][T][C] activations
 * (model/ops_conv.h). Each pool worker runs single-threaded cblas_sgemm on
 * its own rows (forward, dinp) and its own output channels (dw, db). */
#include "model/ops_conv.h"

#include <cblas.h>
#include <string.h>

typedef struct {
    float *out, *dinp, *dw, *db, *dwp;
    const float *inp, *dout, *wp, *b;
    int B, T, C, OC, K, dil, left, P;
} conv_ctx;

size_t op_conv1d_scratch(int C, int OC, int K) { return 2 * (size_t)K * OC * C; }

/* wp[j][o][c] = w[o][c][j] */
static void pack(float *wp, const float *w, int C, int OC, int K)
{
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            const float *src = w + ((size_t)o * C + c) * K;
            for (int j = 0; j < K; j++) wp[((size_t)j * OC + o) * C + c] = src[j];
        }
}

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* Rows [n0, n1) of out, split at sequence boundaries. */
static void fwd_rows(void *vc, int n0, int n1, int tid)
{
    (void)tid;
    const conv_ctx *c = vc;
    const int T = c->T, C = c->C, OC = c->OC;
    for (int n = n0; n < n1;) {
        const int b = n / T, t0 = n % T, t1 = imin(T, t0 + (n1 - n));
        const size_t base = (size_t)b * T;
        for (int t = t0; t < t1; t++) {
            float *row = c->out + (base + t) * OC;
            if (c->b) memcpy(row, c->b, (size_t)OC * sizeof(float));
            else memset(row, 0, (size_t)OC * sizeof(float));
        }
        for (int j = 0; j < c->K; j++) {
            const int o = j * c->dil - c->left;
            const int ta = imax(t0, -o), tb = imin(t1, T - o);
            if (ta >= tb) continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tb - ta, OC, C, 1.0f,
                        c->inp + (base + ta + o) * C, C, c->wp + (size_t)j * OC * C, C, 1.0f,
                        c->out + (base + ta) * OC, OC);
        }
        n += t1 - t0;
    }
}

void op_conv1d_forward(float *out, const float *inp, const float *w, const float *b, int B, int T, int C,
                       int OC, int K, int dil, float *scratch, gf_pool *pool)
{
    pack(scratch, w, C, OC, K);
    conv_ctx c = {.out = out, .inp = inp, .wp = scratch, .b = b, .B = B, .T = T, .C = C, .OC = OC, .K = K,
                  .dil = dil, .left = op_conv1d_left(K, dil)};
    gf_parallel_for(pool, B * T, fwd_rows, &c);
}

/* Worker k of P: rows [N k/P, N (k+1)/P) of dinp, output channels
 * [OC k/P, OC (k+1)/P) of dw and db. */
static void bwd(void *vc, int k0, int k1, int tid)
{
    (void)tid;
    const conv_ctx *c = vc;
    const int T = c->T, C = c->C, OC = c->OC, K = c->K;
    const long P = c->P, N = (long)c->B * T;
    for (int k = k0; k < k1; k++) {
        const int n0 = (int)(N * k / P), n1 = (int)(N * (k + 1) / P);
        const int o0 = (int)((long)OC * k / P), o1 = (int)((long)OC * (k + 1) / P);
        if (c->dinp)
            for (int n = n0; n < n1;) {
                const int b = n / T, t0 = n % T, t1 = imin(T, t0 + (n1 - n));
                const size_t base = (size_t)b * T;
                for (int j = 0; j < K; j++) {
                    const int o = j * c->dil - c->left;
                    const int sa = imax(t0, o), sb = imin(t1, T + o);
                    if (sa >= sb) continue;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sb - sa, C, OC, 1.0f,
                                c->dout + (base + sa - o) * OC, OC, c->wp + (size_t)j * OC * C, C, 1.0f,
                                c->dinp + (base + sa) * C, C);
                }
                n += t1 - t0;
            }
        if (o1 <= o0) continue;
        for (int j = 0; j < K; j++) {
            float *dwj = c->dwp + ((size_t)j * OC + o0) * C;
            memset(dwj, 0, (size_t)(o1 - o0) * C * sizeof(float));
            const int o = j * c->dil - c->left;
            const int ta = imax(0, -o), tb = imin(T, T - o);
            if (ta >= tb) continue;
            for (int b = 0; b < c->B; b++) {
                const size_t base = (size_t)b * T;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, C, tb - ta, 1.0f,
                            c->dout + (base + ta) * OC + o0, OC, c->inp + (base + ta + o) * C, C, 1.0f, dwj, C);
            }
        }
        for (int oc = o0; oc < o1; oc++)
            for (int ci = 0; ci < C; ci++) {
                float *dst = c->dw + ((size_t)oc * C + ci) * K;
                for (int j = 0; j < K; j++) dst[j] += c->dwp[((size_t)j * OC + oc) * C + ci];
            }
        if (c->db)
            for (long n = 0; n < N; n++) {
                const float *d = c->dout + (size_t)n * OC;
                for (int oc = o0; oc < o1; oc++) c->db[oc] += d[oc];
            }
    }
}

void op_conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        int B, int T, int C, int OC, int K, int dil, float *scratch, gf_pool *pool)
{
    pack(scratch, w, C, OC, K);
    const int P = gf_pool_threads(pool);
    conv_ctx c = {.dinp = dinp, .dw = dw, .db = db, .dwp = scratch + (size_t)K * OC * C, .dout = dout,
                  .inp = inp, .wp = scratch, .B = B, .T = T, .C = C, .OC = OC, .K = K, .dil = dil,
                  .left = op_conv1d_left(K, dil), .P = P};
    gf_parallel_for(pool, P, bwd, &c);
}

/* Linear layer on OpenBLAS: out [N,OC] = inp [N,C] w^T + b, w [OC,C] as
 * PyTorch. Each pool worker runs single-threaded sgemm on its own block. */
#include <cblas.h>
#include <string.h>

#include "model/ops.h"
#include "model/vmath.h"

/* db[o0..o1) += sum over rows of dout[n][o]: row order as a scalar loop
 * (bit-identical), but on restrict pointers so it vectorizes. */
GF_VEC static void db_rows(float *restrict db, const float *restrict dout, int N, int OC, int n_o)
{
    for (int n = 0; n < N; n++) {
        const float *restrict d = dout + (size_t)n * OC;
        for (int o = 0; o < n_o; o++) db[o] += d[o];
    }
}

typedef struct {
    float *out, *dinp, *dw, *db;
    const float *inp, *w, *b, *dout;
    int N, C, OC, P;
} lin_ctx;

static void lin_fwd(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    lin_ctx *c = vc;
    int rows = i1 - i0;
    float *out = c->out + (size_t)i0 * c->OC;
    if (c->b)
        for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * c->OC, c->b, (size_t)c->OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c->OC, c->C, 1.0f,
                c->inp + (size_t)i0 * c->C, c->C, c->w, c->C, c->b ? 1.0f : 0.0f, out, c->OC);
}

void op_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int C, int OC, gf_pool *pool)
{
    lin_ctx c = {.out = out, .inp = inp, .w = w, .b = b, .N = N, .C = C, .OC = OC};
    gf_parallel_for(pool, N, lin_fwd, &c);
}

/* Worker k of P: rows [N k/P, N (k+1)/P) of dinp and rows [OC k/P, ...) of dw, db. */
static void lin_bwd(void *vc, int k0, int k1, int tid)
{
    (void)tid;
    lin_ctx *c = vc;
    for (int k = k0; k < k1; k++) {
        long P = c->P;
        int n0 = (int)((long)c->N * k / P), n1 = (int)((long)c->N * (k + 1) / P);
        int o0 = (int)((long)c->OC * k / P), o1 = (int)((long)c->OC * (k + 1) / P);
        if (c->dinp && n1 > n0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n1 - n0, c->C, c->OC, 1.0f,
                        c->dout + (size_t)n0 * c->OC, c->OC, c->w, c->C, 1.0f,
                        c->dinp + (size_t)n0 * c->C, c->C);
        if (o1 > o0) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, c->C, c->N, 1.0f,
                        c->dout + o0, c->OC, c->inp, c->C, 1.0f, c->dw + (size_t)o0 * c->C, c->C);
            if (c->db) db_rows(c->db + o0, c->dout + o0, c->N, c->OC, o1 - o0);
        }
    }
}

void op_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int C, int OC, gf_pool *pool)
{
    int P = gf_pool_threads(pool);
    lin_ctx c = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w,
                 .N = N, .C = C, .OC = OC, .P = P};
    gf_parallel_for(pool, P, lin_bwd, &c);
}

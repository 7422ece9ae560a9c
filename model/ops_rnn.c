#include "model/ops_rnn.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/ops.h"
#include "model/vmath.h"

/* ---- vectorizable sigmoid and tanh ----
 * libm's expf/tanhf are scalar calls and dominated the LSTM step. These are
 * branch-free (the compiler vectorizes them; the kernels are built for
 * AVX-512, AVX2 and baseline x86-64 and picked at load time, model/vmath.h)
 * and accurate to a few float32 ulps: fexp from model/vmath.h; tanh from
 * exp(-2|x|) above |x| = 0.25, a Taylor series of degree 11 below (no
 * cancellation near 0). The oracle tests compare them, through whole models,
 * with PyTorch. */
#define RNN_VEC GF_VEC

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }

static inline float ftanh(float x)
{
    float a = fabsf(x);
    float e = fexp(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = a * a;
    float s = -1382.0f / 155925.0f;
    s = s * x2 + 62.0f / 2835.0f;
    s = s * x2 + -17.0f / 315.0f;
    s = s * x2 + 2.0f / 15.0f;
    s = s * x2 + -1.0f / 3.0f;
    float small = a + a * x2 * s;
    float t = a < 0.25f ? small : big;
    return copysignf(t, x);
}

RNN_VEC static void vsigmoid(float *a, int n)
{
    for (int i = 0; i < n; i++) a[i] = fsigmoid(a[i]);
}

RNN_VEC static void vtanh(float *a, int n)
{
    for (int i = 0; i < n; i++) a[i] = ftanh(a[i]);
}

/* Exported for tests (max error against libm). */
void gf_rnn_vsigmoid(float *a, int n) { vsigmoid(a, n); }
void gf_rnn_vtanh(float *a, int n) { vtanh(a, n); }

/* C [M][N] (ldc) = alpha A·op(B) + beta C with row-major operands. */
static void gemm_nt(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, Bm, ldb, beta, C, ldc);
}
static void gemm_nn(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, Bm, ldb, beta, C, ldc);
}
/* gemm_nn for the small per-step products of the recurrence, cut into tiles
 * of at most 1e6 multiply-adds (M·N·K): OpenBLAS (0.3.17+, SkylakeX and
 * Cooperlake kernels) runs such NN products with its small-matrix kernel,
 * without packing the operands. Measured on the bench machine: a 32×512×128
 * step product 52 -> 37 µs, the 32×128×512 backward one 48 -> 36 µs. On
 * other builds the tiles are ordinary calls at a small overhead. */
static void gemm_nn_tiled(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float beta, float *C,
                          int ldc)
{
    if (M <= 0 || N <= 0) return;
    const double lim = 1e6;
    int mt = M, nt = N;
    while ((double)mt * nt * K > lim && nt > 128) nt = (nt + 1) / 2;
    while ((double)mt * nt * K > lim && mt > 8) mt = (mt + 1) / 2;
    while ((double)mt * nt * K > lim && nt > 16) nt = (nt + 1) / 2;
    for (int i = 0; i < M; i += mt)
        for (int j = 0; j < N; j += nt)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M - i < mt ? M - i : mt, N - j < nt ? N - j : nt, K,
                        1.0f, A + (size_t)i * lda, lda, Bm + j, ldb, beta, C + (size_t)i * ldc + j, ldc);
}

/* Wt [K][N] = W [N][K]ᵀ. */
static void transpose(float *Wt, const float *W, int N, int K)
{
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) Wt[(size_t)k * N + n] = W[(size_t)n * K + k];
}

/* C [M][N] += Aᵀ B with A [K][M], B [K][N]. */
static void gemm_tn_acc(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb, float *C, int ldc)
{
    if (M <= 0 || N <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, Bm, ldb, 1.0f, C, ldc);
}

/* Every row of Y [N][M] = b (+ b2 if not NULL). */
static void fill_rows(float *Y, const float *b, const float *b2, int N, int M)
{
    for (int j = 0; j < M; j++) Y[j] = b2 ? b[j] + b2[j] : b[j];
    for (int r = 1; r < N; r++) memcpy(Y + (size_t)r * M, Y, (size_t)M * sizeof *Y);
}

/* db [M] += Σ_r A[r][.] (and db2 too if not NULL). */
static void colsum_acc(float *db, float *db2, const float *A, int N, int M)
{
    /* Column sums in blocks of 64 columns accumulated in double. */
    for (int j0 = 0; j0 < M; j0 += 64) {
        int w = M - j0 < 64 ? M - j0 : 64;
        double s[64] = {0};
        for (int r = 0; r < N; r++) {
            const float *a = A + (size_t)r * M + j0;
            for (int j = 0; j < w; j++) s[j] += a[j];
        }
        for (int j = 0; j < w; j++) {
            db[j0 + j] += (float)s[j];
            if (db2) db2[j0 + j] += (float)s[j];
        }
    }
}

/* ---- LSTM ---- */

RNN_VEC static void lstm_combine(float *c, float *tc, float *h, const float *gi, const float *gf, const float *gg,
                                 const float *go, const float *cp, int H)
{
    for (int j = 0; j < H; j++) c[j] = gi[j] * gg[j] + (cp ? gf[j] * cp[j] : 0.0f);
    for (int j = 0; j < H; j++) tc[j] = ftanh(c[j]);
    for (int j = 0; j < H; j++) h[j] = go[j] * tc[j];
}

void gf_lstm_cell_forward(float *G, float *c, float *tc, float *h, const float *c_prev, int B, int H)
{
    for (int b = 0; b < B; b++) {
        float *gi = G + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        vsigmoid(gi, 2 * H); /* i, f */
        vtanh(gg, H);
        vsigmoid(go, H);
        lstm_combine(c + (size_t)b * H, tc + (size_t)b * H, h + (size_t)b * H, gi, gf, gg, go,
                     c_prev ? c_prev + (size_t)b * H : NULL, H);
    }
}

/* One row of the LSTM cell backward, the common case (dh_rec, dc and c_prev
 * present); vectorized. */
RNN_VEC static void lstm_bwd_row(float *restrict di, float *restrict df, float *restrict dg, float *restrict dO,
                                 float *restrict dcb, const float *restrict dho, const float *restrict dhr,
                                 const float *restrict gi, const float *restrict gf, const float *restrict gg,
                                 const float *restrict go, const float *restrict tcb, const float *restrict cp, int H)
{
    for (int j = 0; j < H; j++) {
        float dh = dho[j] + dhr[j];
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tcb[j];
        float dct = dh * o * (1.0f - t * t) + dcb[j];
        dO[j] = dh * t * o * (1.0f - o);
        di[j] = dct * g * i * (1.0f - i);
        dg[j] = dct * i * (1.0f - g * g);
        df[j] = dct * cp[j] * f * (1.0f - f);
        dcb[j] = dct * f;
    }
}

void gf_lstm_cell_backward(float *dG, float *dc, const float *dh_out, const float *dh_rec, int dc_in_zero,
                           const float *G, const float *tc, const float *c_prev, int B, int H)
{
    for (int b = 0; b < B; b++) {
        const float *gi = G + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        float *di = dG + (size_t)b * 4 * H, *df = di + H, *dg = df + H, *dO = dg + H;
        float *dcb = dc + (size_t)b * H;
        const float *tcb = tc + (size_t)b * H, *dho = dh_out + (size_t)b * H;
        const float *dhr = dh_rec ? dh_rec + (size_t)b * H : NULL;
        const float *cp = c_prev ? c_prev + (size_t)b * H : NULL;
        if (dhr && cp && !dc_in_zero) {
            lstm_bwd_row(di, df, dg, dO, dcb, dho, dhr, gi, gf, gg, go, tcb, cp, H);
            continue;
        }
        for (int j = 0; j < H; j++) {
            float dh = dho[j] + (dhr ? dhr[j] : 0.0f);
            float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tcb[j];
            float dct = dh * o * (1.0f - t * t) + (dc_in_zero ? 0.0f : dcb[j]);
            dO[j] = dh * t * o * (1.0f - o);
            di[j] = dct * g * i * (1.0f - i);
            dg[j] = dct * i * (1.0f - g * g);
            df[j] = cp ? dct * cp[j] * f * (1.0f - f) : 0.0f;
            dcb[j] = dct * f;
        }
    }
}

/* The layers run in phases, each one gf_parallel_for over the pool:
 *  - input projection: one sgemm per block of the T*B rows (all steps at once);
 *  - recurrence: sequences are independent, so each worker runs the whole
 *    time loop for its slice of the batch [b0, b1) (per step one small sgemm
 *    h W_hhᵀ on its rows, then the fused cell); no barrier per step;
 *  - weight gradients: each worker owns a block of gate rows of dW_ih, dW_hh,
 *    db (no reduction between workers), and a block of rows of dX. */
typedef struct {
    float *Hs, *G, *C, *TC, *HN, *Gh, *dX, *dW_ih, *dW_hh, *db_ih, *db_hh, *dG, *dGh, *dh, *dc;
    const float *dHs, *X, *W_ih, *W_hh, *b_ih, *b_hh;
    const float *Wt; /* W_hhᵀ [H][G*H] or NULL */
    int T, B, in, H, ng;
} layer_job;

static void proj_rows(void *vc, int r0, int r1, int tid)
{
    const layer_job *j = vc;
    (void)tid;
    const int GH = j->ng * j->H;
    float *G = j->G + (size_t)r0 * GH;
    fill_rows(G, j->b_ih, j->ng == 4 ? j->b_hh : NULL, r1 - r0, GH);
    gemm_nt(r1 - r0, GH, j->in, j->X + (size_t)r0 * j->in, j->in, j->W_ih, j->in, 1.0f, G, GH);
}

static void dx_rows(void *vc, int r0, int r1, int tid)
{
    const layer_job *j = vc;
    (void)tid;
    const int GH = j->ng * j->H;
    gemm_nn(r1 - r0, j->in, GH, j->dG + (size_t)r0 * GH, GH, j->W_ih, j->in, 0.0f,
            j->dX + (size_t)r0 * j->in, j->in);
}

/* s[0..w) += column sums of A [N][w] (row stride lda), in double. */
RNN_VEC static void colsum_block(double *restrict s, const float *restrict A, int lda, int N, int w)
{
    if (w == 64) {
        for (int r = 0; r < N; r++) {
            const float *a = A + (size_t)r * lda;
            for (int k = 0; k < 64; k++) s[k] += a[k];
        }
        return;
    }
    for (int r = 0; r < N; r++) {
        const float *a = A + (size_t)r * lda;
        for (int k = 0; k < w; k++) s[k] += a[k];
    }
}

/* Gate rows [g0, g1) of dW_ih, dW_hh, db_ih, db_hh. dGh NULL: LSTM (one dG). */
static void dw_rows(void *vc, int g0, int g1, int tid)
{
    const layer_job *j = vc;
    (void)tid;
    const int GH = j->ng * j->H, N = j->T * j->B, M = g1 - g0;
    const float *dGh = j->dGh ? j->dGh : j->dG;
    gemm_tn_acc(M, j->in, N, j->dG + g0, GH, j->X, j->in, j->dW_ih + (size_t)g0 * j->in, j->in);
    if (j->T > 1)
        gemm_tn_acc(M, j->H, (j->T - 1) * j->B, dGh + (size_t)j->B * GH + g0, GH, j->Hs, j->H,
                    j->dW_hh + (size_t)g0 * j->H, j->H);
    /* column sums of columns [g0, g1) (LSTM: dGh is dG, summed once) */
    for (int c0 = g0; c0 < g1; c0 += 64) {
        int w = g1 - c0 < 64 ? g1 - c0 : 64;
        double si[64] = {0}, sh[64] = {0};
        colsum_block(si, j->dG + c0, GH, N, w);
        if (dGh != j->dG) colsum_block(sh, dGh + c0, GH, N, w);
        else memcpy(sh, si, sizeof sh);
        for (int k = 0; k < w; k++) { j->db_ih[c0 + k] += (float)si[k]; j->db_hh[c0 + k] += (float)sh[k]; }
    }
}

/* Splits [0, n) in blocks that are multiples of 16 (64-byte rows of gates). */
static void par_blocks16(gf_pool *pool, int n, gf_par_fn fn, void *ctx);

typedef struct { gf_par_fn fn; void *ctx; int n; } blk16;
static void blk16_run(void *vc, int i0, int i1, int tid)
{
    const blk16 *b = vc;
    int a = i0 * 16, e = i1 * 16 < b->n ? i1 * 16 : b->n;
    if (a < e) b->fn(b->ctx, a, e, tid);
}
static void par_blocks16(gf_pool *pool, int n, gf_par_fn fn, void *ctx)
{
    blk16 b = {fn, ctx, n};
    gf_parallel_for(pool, (n + 15) / 16, blk16_run, &b);
}

static void lstm_fwd_slice(void *vc, int b0, int b1, int tid)
{
    const layer_job *j = vc;
    (void)tid;
    const int H = j->H, G4 = 4 * H, nb = b1 - b0;
    const size_t sg = (size_t)j->B * G4, sh = (size_t)j->B * H, og = (size_t)b0 * G4, oh = (size_t)b0 * H;
    for (int t = 0; t < j->T; t++) {
        float *Gt = j->G + t * sg + og;
        if (t > 0 && j->Wt) gemm_nn_tiled(nb, G4, H, j->Hs + (t - 1) * sh + oh, H, j->Wt, G4, 1.0f, Gt, G4);
        else if (t > 0) gemm_nt(nb, G4, H, j->Hs + (t - 1) * sh + oh, H, j->W_hh, H, 1.0f, Gt, G4);
        gf_lstm_cell_forward(Gt, j->C + t * sh + oh, j->TC + t * sh + oh, j->Hs + t * sh + oh,
                             t > 0 ? j->C + (t - 1) * sh + oh : NULL, nb, H);
    }
}

static void lstm_bwd_slice(void *vc, int b0, int b1, int tid)
{
    const layer_job *j = vc;
    (void)tid;
    const int H = j->H, G4 = 4 * H, nb = b1 - b0, T = j->T;
    const size_t sg = (size_t)j->B * G4, sh = (size_t)j->B * H, og = (size_t)b0 * G4, oh = (size_t)b0 * H;
    float *dh = j->dh + oh, *dc = j->dc + oh;
    for (int t = T - 1; t >= 0; t--) {
        float *dGt = j->dG + t * sg + og;
        gf_lstm_cell_backward(dGt, dc, j->dHs + t * sh + oh, t < T - 1 ? dh : NULL, t == T - 1, j->G + t * sg + og,
                              j->TC + t * sh + oh, t > 0 ? j->C + (t - 1) * sh + oh : NULL, nb, H);
        /* dh_{t-1} (recurrent part) = dG_t W_hh */
        if (t > 0) gemm_nn_tiled(nb, H, G4, dGt, G4, j->W_hh, H, 0.0f, dh, H);
    }
}

void gf_lstm_layer_forward(float *Hs, float *G, float *C, float *TC, const float *X, const float *W_ih,
                           const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H,
                           float *Wt, gf_pool *pool)
{
    if (Wt) transpose(Wt, W_hh, 4 * H, H);
    layer_job j = {.Hs = Hs, .G = G, .C = C, .TC = TC, .X = X, .W_ih = W_ih, .W_hh = W_hh, .b_ih = b_ih,
                   .b_hh = b_hh, .Wt = Wt, .T = T, .B = B, .in = in, .H = H, .ng = 4};
    /* Input projection of every step at once: G = X W_ihᵀ + b_ih + b_hh. */
    gf_parallel_for(pool, T * B, proj_rows, &j);
    gf_parallel_for(pool, B, lstm_fwd_slice, &j);
}

void gf_lstm_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dG, float *dh,
                            float *dc, const float *dHs, const float *Hs, const float *G, const float *C,
                            const float *TC, const float *X, const float *W_ih, const float *W_hh, int T, int B,
                            int in, int H, gf_pool *pool)
{
    layer_job j = {.Hs = (float *)Hs, .G = (float *)G, .C = (float *)C, .TC = (float *)TC, .dX = dX, .dW_ih = dW_ih,
                   .dW_hh = dW_hh, .db_ih = db_ih, .db_hh = db_hh, .dG = dG, .dh = dh, .dc = dc, .dHs = dHs, .X = X,
                   .W_ih = W_ih, .W_hh = W_hh, .T = T, .B = B, .in = in, .H = H, .ng = 4};
    gf_parallel_for(pool, B, lstm_bwd_slice, &j);
    par_blocks16(pool, 4 * H, dw_rows, &j);
    if (dX) gf_parallel_for(pool, T * B, dx_rows, &j);
}

/* ---- GRU ---- */

RNN_VEC static void gru_row(float *gr, float *gz, float *gn, float *hn, float *h, const float *hr, const float *hz,
                            const float *hh, const float *hp, int H)
{
    for (int j = 0; j < H; j++) {
        gr[j] = fsigmoid(gr[j] + hr[j]);
        gz[j] = fsigmoid(gz[j] + hz[j]);
        hn[j] = hh[j];
        gn[j] = ftanh(gn[j] + gr[j] * hh[j]);
    }
    if (hp)
        for (int j = 0; j < H; j++) h[j] = (1.0f - gz[j]) * gn[j] + gz[j] * hp[j];
    else
        for (int j = 0; j < H; j++) h[j] = (1.0f - gz[j]) * gn[j];
}

void gf_gru_cell_forward(float *Gi, float *hn, float *h, const float *Gh, const float *h_prev, int B, int H)
{
    for (int b = 0; b < B; b++) {
        float *gr = Gi + (size_t)b * 3 * H;
        const float *hr = Gh + (size_t)b * 3 * H;
        gru_row(gr, gr + H, gr + 2 * H, hn + (size_t)b * H, h + (size_t)b * H, hr, hr + H, hr + 2 * H,
                h_prev ? h_prev + (size_t)b * H : NULL, H);
    }
}

void gf_gru_cell_backward(float *dGi, float *dGh, float *dh, const float *dh_out, int dh_in_zero,
                          const float *Gi, const float *hn, const float *h_prev, int B, int H)
{
    for (int b = 0; b < B; b++) {
        const float *gr = Gi + (size_t)b * 3 * H, *gz = gr + H, *gn = gz + H;
        float *ir = dGi + (size_t)b * 3 * H, *iz = ir + H, *inn = iz + H;
        float *hr = dGh + (size_t)b * 3 * H, *hz = hr + H, *hh = hz + H;
        float *dhb = dh + (size_t)b * H;
        const float *dho = dh_out + (size_t)b * H, *hnb = hn + (size_t)b * H;
        const float *hp = h_prev ? h_prev + (size_t)b * H : NULL;
        for (int j = 0; j < H; j++) {
            float d = dho[j] + (dh_in_zero ? 0.0f : dhb[j]);
            float r = gr[j], z = gz[j], n = gn[j], p = hp ? hp[j] : 0.0f;
            float dnp = d * (1.0f - z) * (1.0f - n * n);
            float dzp = d * (p - n) * z * (1.0f - z);
            float drp = dnp * hnb[j] * r * (1.0f - r);
            ir[j] = drp; iz[j] = dzp; inn[j] = dnp;
            hr[j] = drp; hz[j] = dzp; hh[j] = dnp * r;
            dhb[j] = d * z;
        }
    }
}

static void gru_fwd_slice(void *vc, int b0, int b1, int tid)
{
    const layer_job *j = vc;
    const int H = j->H, G3 = 3 * H, nb = b1 - b0;
    const size_t sg = (size_t)j->B * G3, sh = (size_t)j->B * H, og = (size_t)b0 * G3, oh = (size_t)b0 * H;
    (void)tid;
    float *Gh = j->Gh + og; /* scratch [B][3H]: rows of this slice */
    for (int t = 0; t < j->T; t++) {
        fill_rows(Gh, j->b_hh, NULL, nb, G3);
        if (t > 0 && j->Wt) gemm_nn_tiled(nb, G3, H, j->Hs + (t - 1) * sh + oh, H, j->Wt, G3, 1.0f, Gh, G3);
        else if (t > 0) gemm_nt(nb, G3, H, j->Hs + (t - 1) * sh + oh, H, j->W_hh, H, 1.0f, Gh, G3);
        gf_gru_cell_forward(j->G + t * sg + og, j->HN + t * sh + oh, j->Hs + t * sh + oh, Gh,
                            t > 0 ? j->Hs + (t - 1) * sh + oh : NULL, nb, H);
    }
}

static void gru_bwd_slice(void *vc, int b0, int b1, int tid)
{
    const layer_job *j = vc;
    const int H = j->H, G3 = 3 * H, nb = b1 - b0, T = j->T;
    const size_t sg = (size_t)j->B * G3, sh = (size_t)j->B * H, og = (size_t)b0 * G3, oh = (size_t)b0 * H;
    (void)tid;
    float *dh = j->dh + oh;
    for (int t = T - 1; t >= 0; t--) {
        gf_gru_cell_backward(j->dG + t * sg + og, j->dGh + t * sg + og, dh, j->dHs + t * sh + oh, t == T - 1,
                             j->G + t * sg + og, j->HN + t * sh + oh, t > 0 ? j->Hs + (t - 1) * sh + oh : NULL, nb, H);
        if (t > 0) gemm_nn_tiled(nb, H, G3, j->dGh + t * sg + og, G3, j->W_hh, H, 1.0f, dh, H);
    }
}

void gf_gru_layer_forward(float *Hs, float *Gi, float *HN, float *Gh, const float *X, const float *W_ih,
                          const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H,
                          float *Wt, gf_pool *pool)
{
    if (Wt) transpose(Wt, W_hh, 3 * H, H);
    layer_job j = {.Hs = Hs, .G = Gi, .HN = HN, .Gh = Gh, .X = X, .W_ih = W_ih, .W_hh = W_hh, .b_ih = b_ih,
                   .b_hh = b_hh, .Wt = Wt, .T = T, .B = B, .in = in, .H = H, .ng = 3};
    gf_parallel_for(pool, T * B, proj_rows, &j); /* Gi = X W_ihᵀ + b_ih */
    gf_parallel_for(pool, B, gru_fwd_slice, &j);
}

void gf_gru_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dGi, float *dGh,
                           float *dh, const float *dHs, const float *Hs, const float *Gi, const float *HN,
                           const float *X, const float *W_ih, const float *W_hh, int T, int B, int in, int H,
                           gf_pool *pool)
{
    layer_job j = {.Hs = (float *)Hs, .G = (float *)Gi, .HN = (float *)HN, .dX = dX, .dW_ih = dW_ih, .dW_hh = dW_hh,
                   .db_ih = db_ih, .db_hh = db_hh, .dG = dGi, .dGh = dGh, .dh = dh, .dHs = dHs, .X = X,
                   .W_ih = W_ih, .W_hh = W_hh, .T = T, .B = B, .in = in, .H = H, .ng = 3};
    gf_parallel_for(pool, B, gru_bwd_slice, &j);
    par_blocks16(pool, 3 * H, dw_rows, &j);
    if (dX) gf_parallel_for(pool, T * B, dx_rows, &j);
}

/* ---- head, dropout, layout ---- */

void gf_rnn_linear_forward(float *Y, const float *X, const float *W, const float *b, int N, int in, int out)
{
    fill_rows(Y, b, NULL, N, out);
    gemm_nt(N, out, in, X, in, W, in, 1.0f, Y, out);
}

void gf_rnn_linear_backward(float *dX, float *dW, float *db, const float *dY, const float *X, const float *W, int N,
                            int in, int out)
{
    gemm_tn_acc(out, in, N, dY, out, X, in, dW, in);
    colsum_acc(db, NULL, dY, N, out);
    if (dX) gemm_nn(N, in, out, dY, out, W, in, 0.0f, dX, in);
}

void gf_rnn_dropout_mask(float *mask, size_t n, float p, gf_rng *rng)
{
    /* One 64-bit draw from rng keys a counter-based mask (model/vmath.h). */
    op_dropout_mask(mask, n, p, gf_rng_u64(rng), NULL);
}

void gf_rnn_dropout_forward(float *y, const float *x, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

void gf_rnn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}

void gf_rnn_to_time_major(float *dst, const float *src, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(dst + ((size_t)t * B + b) * C, src + ((size_t)b * T + t) * C, (size_t)C * sizeof *dst);
}

void gf_rnn_to_batch_major(float *dst, const float *src, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(dst + ((size_t)b * T + t) * C, src + ((size_t)t * B + b) * C, (size_t)C * sizeof *dst);
}

long gf_rnn_first_nonfinite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return (long)i;
    return -1;
}

#include "model/ops_rnn.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- vectorizable sigmoid and tanh ----
 * libm's expf/tanhf are scalar calls and dominated the LSTM step. These are
 * branch-free (the compiler vectorizes them; the kernels are built for
 * AVX-512, AVX2 and baseline x86-64 and picked at load time) and accurate to
 * a few float32 ulps: exp by Cody-Waite reduction and the Cephes degree-6
 * polynomial; tanh from exp(-2|x|) above |x| = 0.25, a Taylor series of
 * degree 11 below (no cancellation near 0). The oracle tests compare them,
 * through whole models, with PyTorch. No -ffast-math: the rounding trick in
 * fexp relies on strict IEEE evaluation. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define RNN_VEC __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#else
#define RNN_VEC
#endif

static inline float fexp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = ((int32_t)n + 127) << 23;
    return e * u.f;
}

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

void gf_lstm_layer_forward(float *Hs, float *G, float *C, float *TC, const float *X, const float *W_ih,
                           const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H)
{
    const int G4 = 4 * H;
    const size_t sg = (size_t)B * G4, sh = (size_t)B * H;
    /* Input projection of every step at once: G = X W_ihᵀ + b_ih + b_hh. */
    fill_rows(G, b_ih, b_hh, T * B, G4);
    gemm_nt(T * B, G4, in, X, in, W_ih, in, 1.0f, G, G4);
    for (int t = 0; t < T; t++) {
        float *Gt = G + t * sg;
        if (t > 0) gemm_nt(B, G4, H, Hs + (t - 1) * sh, H, W_hh, H, 1.0f, Gt, G4);
        gf_lstm_cell_forward(Gt, C + t * sh, TC + t * sh, Hs + t * sh, t > 0 ? C + (t - 1) * sh : NULL, B, H);
    }
}

void gf_lstm_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dG, float *dh,
                            float *dc, const float *dHs, const float *Hs, const float *G, const float *C,
                            const float *TC, const float *X, const float *W_ih, const float *W_hh, int T, int B,
                            int in, int H)
{
    const int G4 = 4 * H;
    const size_t sg = (size_t)B * G4, sh = (size_t)B * H;
    for (int t = T - 1; t >= 0; t--) {
        float *dGt = dG + t * sg;
        gf_lstm_cell_backward(dGt, dc, dHs + t * sh, t < T - 1 ? dh : NULL, t == T - 1, G + t * sg, TC + t * sh,
                              t > 0 ? C + (t - 1) * sh : NULL, B, H);
        /* dh_{t-1} (recurrent part) = dG_t W_hh */
        if (t > 0) gemm_nn(B, H, G4, dGt, G4, W_hh, H, 0.0f, dh, H);
    }
    gemm_tn_acc(G4, in, T * B, dG, G4, X, in, dW_ih, in);
    if (T > 1) gemm_tn_acc(G4, H, (T - 1) * B, dG + sg, G4, Hs, H, dW_hh, H);
    colsum_acc(db_ih, db_hh, dG, T * B, G4);
    if (dX) gemm_nn(T * B, in, G4, dG, G4, W_ih, in, 0.0f, dX, in);
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

void gf_gru_layer_forward(float *Hs, float *Gi, float *HN, float *Gh, const float *X, const float *W_ih,
                          const float *W_hh, const float *b_ih, const float *b_hh, int T, int B, int in, int H)
{
    const int G3 = 3 * H;
    const size_t sg = (size_t)B * G3, sh = (size_t)B * H;
    fill_rows(Gi, b_ih, NULL, T * B, G3);
    gemm_nt(T * B, G3, in, X, in, W_ih, in, 1.0f, Gi, G3);
    for (int t = 0; t < T; t++) {
        fill_rows(Gh, b_hh, NULL, B, G3);
        if (t > 0) gemm_nt(B, G3, H, Hs + (t - 1) * sh, H, W_hh, H, 1.0f, Gh, G3);
        gf_gru_cell_forward(Gi + t * sg, HN + t * sh, Hs + t * sh, Gh, t > 0 ? Hs + (t - 1) * sh : NULL, B, H);
    }
}

void gf_gru_layer_backward(float *dX, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh, float *dGi, float *dGh,
                           float *dh, const float *dHs, const float *Hs, const float *Gi, const float *HN,
                           const float *X, const float *W_ih, const float *W_hh, int T, int B, int in, int H)
{
    const int G3 = 3 * H;
    const size_t sg = (size_t)B * G3, sh = (size_t)B * H;
    for (int t = T - 1; t >= 0; t--) {
        gf_gru_cell_backward(dGi + t * sg, dGh + t * sg, dh, dHs + t * sh, t == T - 1, Gi + t * sg, HN + t * sh,
                             t > 0 ? Hs + (t - 1) * sh : NULL, B, H);
        if (t > 0) gemm_nn(B, H, G3, dGh + t * sg, G3, W_hh, H, 1.0f, dh, H);
    }
    gemm_tn_acc(G3, in, T * B, dGi, G3, X, in, dW_ih, in);
    if (T > 1) gemm_tn_acc(G3, H, (T - 1) * B, dGh + sg, G3, Hs, H, dW_hh, H);
    colsum_acc(db_ih, NULL, dGi, T * B, G3);
    colsum_acc(db_hh, NULL, dGh, T * B, G3);
    if (dX) gemm_nn(T * B, in, G3, dGi, G3, W_ih, in, 0.0f, dX, in);
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
    const float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) mask[i] = gf_rng_uniform(rng) < (double)p ? 0.0f : keep;
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

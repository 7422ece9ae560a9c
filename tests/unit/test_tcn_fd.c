/* Finite-difference checks of the TCN's convolution (model/ops_conv.c) and of
 * whole TCN models (model/tcn.c), with the method of tests/unit/test_rnn_fd.c:
 * for an op with inputs p_i and outputs o, f(p) = <w, o(p)> with w ~ N(0,1);
 * the op's backward with dL/do = w gives g_i; the analytic directional
 * derivative a = sum_i <g_i, v_i> along v ~ N(0,1) is compared with a
 * Richardson-extrapolated central difference of f (accumulated in double,
 * h = 1e-2 on O(1) inputs): fd = (4 D(h/2) - D(h)) / 3. All inputs at once,
 * then each input alone, 3 rounds. Error |fd - a| / max(|fd|, |a|, ||g||_2);
 * tolerance FD_TOL = 2e-3. The other ops of the TCN (linear, ReLU, dropout,
 * residual) have their checks in tests/unit/test_ops.c; here they are
 * covered again inside the whole-model checks.
 *
 * Whole models are piecewise smooth in their parameters: a ReLU input that
 * changes sign inside the step makes the difference quotient wrong by O(1)
 * (measured: at h = 1e-2, 20-30 of the ~650 ReLU inputs of the test model
 * cross zero, errors 1e-2..1e-1 although PyTorch's float64 autograd agrees
 * with the C gradients). The model checks therefore use h = 1e-3 and
 * discard every direction whose four evaluations do not all have the ReLU
 * activity pattern of the base point (gf_tcn_relu_signature, model/tcn.h);
 * a wrong gradient still fails, since it is wrong along kink-free directions
 * too. The seeds are such that no ReLU input lies within ~h of zero.
 *
 * Correct code measures <= 3e-5 for the conv op (which is also compared
 * with a direct double loop to 1e-6) and <= 6e-4 for whole 3-block models.
 * Validated by breaking one formula at a time in a scratch build (max error
 * conv op / whole models; every break fails):
 *   dinp with the taps flipped (W_{K-1-j} for W_j)              1.4 / 1.7
 *   dW_j pairing dout[t] with inp[t] instead of inp[t + o_j]    1.9 / 1.9
 *   dbias not accumulated                                       1.0 / 1.0
 *   TCN backward skipping the dropout mask of conv1's output      -  / 1.2
 *   TCN backward dropping the residual path (g zeroed)            -  / 1.8
 *   conv1's ReLU backward tested on conv2's output                -  / 1.7
 * Env GF_FD_EPS, GF_FD_RICHARDSON and GF_FD_VERBOSE are for such
 * experiments only. */
#include "model/model.h"
#include "model/ops_conv.h"
#include "model/tcn.h"

#define FD_TOL 2e-3
#define FD_LABEL "tcn"
#define FD_LABEL_WIDTH 30
#include "fd_testutil.h"

/* ---- the conv op against a direct double-precision loop ---- */

static void conv_naive(double *out, const float *inp, const float *w, const float *b, int B, int T, int C, int OC,
                       int K, int dil)
{
    const int left = dil * (K - 1) / 2;
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++)
            for (int o = 0; o < OC; o++) {
                double s = b ? b[o] : 0;
                for (int j = 0; j < K; j++) {
                    int src = t + j * dil - left;
                    if (src < 0 || src >= T) continue;
                    for (int c = 0; c < C; c++)
                        s += (double)w[((size_t)o * C + c) * K + j] * inp[((size_t)bb * T + src) * C + c];
                }
                out[((size_t)bb * T + t) * OC + o] = s;
            }
}

typedef struct {
    int B, T, C, OC, K, dil;
    float *X, *W, *b, *w, *Y, *scratch;
    gf_pool *pool;
} conv_ctx;

static double conv_obj(void *vc)
{
    conv_ctx *x = vc;
    op_conv1d_forward(x->Y, x->X, x->W, x->b, x->B, x->T, x->C, x->OC, x->K, x->dil, x->scratch, x->pool);
    return dot(x->w, x->Y, (size_t)x->B * x->T * x->OC);
}

static void conv_case(int B, int T, int C, int OC, int K, int dil, int bias, int threads, uint64_t seed)
{
    gf_rng_seed(&g_rng, seed);
    conv_ctx x = {.B = B, .T = T, .C = C, .OC = OC, .K = K, .dil = dil};
    if (threads > 1) cr_assert_eq(gf_pool_create(threads, &x.pool), GF_OK);
    const size_t nx = (size_t)B * T * C, ny = (size_t)B * T * OC, nw = (size_t)OC * C * K;
    x.X = alloc_randn(nx, 1.0); x.W = alloc_randn(nw, 0.5); x.b = bias ? alloc_randn(OC, 0.5) : NULL;
    x.w = alloc_randn(ny, 1.0); x.Y = malloc(ny * 4);
    x.scratch = malloc(op_conv1d_scratch(C, OC, K) * sizeof(float));
    /* forward against the direct loop */
    double *ref = malloc(ny * sizeof *ref), num = 0, den = 0;
    conv_naive(ref, x.X, x.W, x.b, B, T, C, OC, K, dil);
    conv_obj(&x);
    for (size_t i = 0; i < ny; i++) { num = fmax(num, fabs(x.Y[i] - ref[i])); den = fmax(den, fabs(ref[i])); }
    cr_expect(num <= 1e-6 * den, "conv forward vs direct loop: rel %.3g", num / den);
    /* backward accumulates: gradients start at 0.25 */
    float *dX = malloc(nx * 4), *dW = malloc(nw * 4), *db = malloc(OC * 4);
    for (size_t i = 0; i < nx; i++) dX[i] = 0.25f;
    for (size_t i = 0; i < nw; i++) dW[i] = 0.25f;
    for (int i = 0; i < OC; i++) db[i] = 0.25f;
    op_conv1d_backward(dX, dW, bias ? db : NULL, x.w, x.X, x.W, B, T, C, OC, K, dil, x.scratch, x.pool);
    for (size_t i = 0; i < nx; i++) dX[i] -= 0.25f;
    for (size_t i = 0; i < nw; i++) dW[i] -= 0.25f;
    for (int i = 0; i < OC; i++) db[i] -= 0.25f;
    if (!bias) for (int i = 0; i < OC; i++) cr_assert(db[i] == 0.0f, "db written although NULL");
    fd_input in[3] = {{"inp", x.X, dX, nx}, {"weight", x.W, dW, nw}, {"bias", x.b, db, (size_t)OC}};
    char name[96];
    snprintf(name, sizeof name, "conv1d K%d dil%d T%d%s%s", K, dil, T, bias ? "" : " nobias",
             threads > 1 ? " 2thr" : "");
    fd_check(name, conv_obj, &x, in, bias ? 3 : 2);
    free(ref); free(x.X); free(x.W); free(x.b); free(x.w); free(x.Y); free(x.scratch);
    free(dX); free(dW); free(db);
    gf_pool_free(x.pool);
}

Test(tcn_fd, conv_k3_dil1) { conv_case(2, 7, 4, 5, 3, 1, 1, 1, 201); }
Test(tcn_fd, conv_k3_dil2_two_threads) { conv_case(3, 5, 4, 4, 3, 2, 1, 2, 202); } /* rows split mid-sequence */
Test(tcn_fd, conv_k4_dil3_asymmetric) { conv_case(2, 6, 3, 5, 4, 3, 1, 1, 203); }
Test(tcn_fd, conv_k2_dil8_tap_outside) { conv_case(2, 5, 3, 3, 2, 8, 0, 2, 204); }
Test(tcn_fd, conv_k5_dil1_long_rows) { conv_case(2, 40, 6, 3, 5, 1, 1, 2, 205); }

/* ---- whole models in training mode (dropout on, same masks every call) ---- */

typedef struct {
    gf_model *m;
    float *x, *y, *w;
    size_t ny;
    uint64_t sig; /* ReLU pattern at the unperturbed point */
} model_ctx;

static double model_obj(void *vc)
{
    model_ctx *c = vc;
    gf_rng r;
    gf_rng_seed(&r, 2024); /* fixed dropout masks */
    cr_assert_eq(gf_model_forward(c->m, c->x, c->y, 1, &r), GF_OK, "%s", gf_errmsg());
    if (gf_tcn_relu_signature(c->m) != c->sig) g_crossed = 1;
    return dot(c->w, c->y, c->ny);
}

static void model_case(int K, float dropout, int threads, uint64_t seed)
{
    gf_rng_seed(&g_rng, seed);
    gf_model_config cfg = gf_model_config_default(GF_ARCH_TCN, 4, 3);
    cfg.d_model = 6;
    cfg.n_layers = 3;
    cfg.kernel = K;
    cfg.dropout = dropout;
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK);
    cr_assert_eq(gf_model_init(m, 9), GF_OK);
    m->threads = threads;
    const int B = 2, T = 9;
    cr_assert_eq(gf_model_prepare(m, B, T), GF_OK);
    model_ctx c = {.m = m, .ny = (size_t)B * T * 3};
    c.x = alloc_randn((size_t)B * T * 4, 1.0); c.w = alloc_randn(c.ny, 1.0); c.y = malloc(c.ny * 4);
    model_obj(&c);
    c.sig = gf_tcn_relu_signature(m);
    cr_assert_neq(c.sig, 0);
    gf_model_zero_grad(m);
    cr_assert_eq(gf_model_backward(m, c.w), GF_OK, "%s", gf_errmsg());
    g_eps_factor = 0.1;
    g_dirs = g_retries = 0;
    fd_input in[MAXIN];
    int nin = 0;
    char name[64];
    snprintf(name, sizeof name, "tcn model K%d dropout %.1f%s", K, dropout, threads > 1 ? " 2thr" : "");
    for (int i = 0; i < m->params.n; i++) {
        in[nin].name = m->params.t[i].name;
        in[nin].p = gf_arena_ptr(&m->params, i);
        in[nin].g = gf_arena_ptr(&m->grads, i);
        in[nin].n = m->params.t[i].numel;
        if (++nin == 4 || i == m->params.n - 1) {
            fd_check(name, model_obj, &c, in, nin);
            nin = 0;
        }
    }
    fprintf(stderr, "tcn fd %-30s %ld directions, %ld discarded (ReLU kink crossed)\n", name, g_dirs, g_retries);
    free(c.x); free(c.w); free(c.y);
    gf_model_free(m);
}

Test(tcn_fd, model_with_dropout) { model_case(3, 0.3f, 1, 301); }
Test(tcn_fd, model_k4_with_dropout_two_threads) { model_case(4, 0.3f, 2, 312); }
Test(tcn_fd, model_without_dropout) { model_case(3, 0.0f, 1, 303); }

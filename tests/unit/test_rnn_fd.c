/* Finite-difference checks of every recurrent op (model/ops_rnn.c) and of
 * whole LSTM/GRU models: for an op with inputs p_i and outputs o, take a
 * random projection f(p) = <w, o(p)> (w ~ N(0,1)), run the op's backward with
 * dL/do = w, and compare the analytic directional derivative a = Σ_i <g_i, v_i>
 * along a random direction v (v ~ N(0,1)) with a central difference, f
 * accumulated in double. The difference is Richardson-extrapolated,
 * fd = (4 D(h/2) - D(h)) / 3 with D(h) = (f(p + hv) - f(p - hv)) / 2h and
 * h = 1e-2 on O(1) inputs, so truncation stays below float32 rounding.
 * One direction perturbs every input at once, then one direction per input
 * so that a wrong gradient of any single input shows alone (3 rounds).
 * Error: |fd - a| / max(|fd|, |a|, ||g||_2), where ||g||_2 over the perturbed
 * inputs is the standard deviation of <g, v> (the typical size of a
 * directional derivative; it keeps an unlucky near-orthogonal v from turning
 * float32 noise into a large "relative" error). Tolerance FD_TOL = 2e-3.
 * Correct code measures <= 1e-4 per op and <= 7e-4 for whole 3-layer models
 * with doubled weights. Validated by breaking one formula at a time in a
 * scratch build: LSTM df without f(1-f) -> 0.67 (cell), 0.64 (layer), 1.2
 * (model); GRU dGh_n without the factor r -> 0.44 / 1.0 / 0.88; LSTM dW_hh
 * pairing dG_t with h_t instead of h_{t-1} -> 1.3 (layer) / 0.49 (model);
 * dropout mask skipped in backward -> 1.3 / 1.5 (models). Env GF_FD_EPS,
 * GF_FD_RICHARDSON and GF_FD_VERBOSE are for such experiments only. */
#include "model/model.h"
#include "model/ops_rnn.h"

#define FD_TOL 2e-3
#define FD_LABEL "rnn"
#define FD_LABEL_WIDTH 22
#include "fd_testutil.h"

/* ---- LSTM cell ---- */

typedef struct {
    int B, H;
    float *G0, *cp, *wh, *wc, *G, *c, *tc, *h;
} lstm_cell_ctx;

static double lstm_cell_obj(void *vc)
{
    lstm_cell_ctx *x = vc;
    size_t n4 = (size_t)x->B * 4 * x->H, n = (size_t)x->B * x->H;
    memcpy(x->G, x->G0, n4 * sizeof(float));
    gf_lstm_cell_forward(x->G, x->c, x->tc, x->h, x->cp, x->B, x->H);
    return dot(x->wh, x->h, n) + dot(x->wc, x->c, n);
}

Test(rnn_fd, lstm_cell)
{
    gf_rng_seed(&g_rng, 101);
    lstm_cell_ctx x = {.B = 3, .H = 5};
    size_t n = 15, n4 = 60;
    x.G0 = alloc_randn(n4, 1.0); x.cp = alloc_randn(n, 1.0);
    x.wh = alloc_randn(n, 1.0); x.wc = alloc_randn(n, 1.0);
    x.G = malloc(n4 * 4); x.c = malloc(n * 4); x.tc = malloc(n * 4); x.h = malloc(n * 4);
    lstm_cell_obj(&x); /* saves activations */
    float *dG = malloc(n4 * 4), *dc = malloc(n * 4), *a = alloc_randn(n, 1.0), *rest = malloc(n * 4);
    for (size_t i = 0; i < n; i++) rest[i] = x.wh[i] - a[i]; /* dh = dh_out + dh_rec */
    memcpy(dc, x.wc, n * 4);
    gf_lstm_cell_backward(dG, dc, a, rest, 0, x.G, x.tc, x.cp, x.B, x.H);
    fd_input in[2] = {{"G", x.G0, dG, n4}, {"c_prev", x.cp, dc, n}};
    fd_check("lstm cell", lstm_cell_obj, &x, in, 2);
    free(x.G0); free(x.cp); free(x.wh); free(x.wc); free(x.G); free(x.c); free(x.tc); free(x.h);
    free(dG); free(dc); free(a); free(rest);
}

/* ---- GRU cell ---- */

typedef struct {
    int B, H;
    float *Gi0, *Gh, *hp, *w, *Gi, *hn, *h;
} gru_cell_ctx;

static double gru_cell_obj(void *vc)
{
    gru_cell_ctx *x = vc;
    size_t n3 = (size_t)x->B * 3 * x->H, n = (size_t)x->B * x->H;
    memcpy(x->Gi, x->Gi0, n3 * sizeof(float));
    gf_gru_cell_forward(x->Gi, x->hn, x->h, x->Gh, x->hp, x->B, x->H);
    return dot(x->w, x->h, n);
}

Test(rnn_fd, gru_cell)
{
    gf_rng_seed(&g_rng, 102);
    gru_cell_ctx x = {.B = 3, .H = 5};
    size_t n = 15, n3 = 45;
    x.Gi0 = alloc_randn(n3, 1.0); x.Gh = alloc_randn(n3, 1.0); x.hp = alloc_randn(n, 1.0);
    x.w = alloc_randn(n, 1.0);
    x.Gi = malloc(n3 * 4); x.hn = malloc(n * 4); x.h = malloc(n * 4);
    gru_cell_obj(&x);
    float *dGi = malloc(n3 * 4), *dGh = malloc(n3 * 4), *dh = alloc_randn(n, 1.0), *out = malloc(n * 4);
    for (size_t i = 0; i < n; i++) out[i] = x.w[i] - dh[i]; /* dh = dh_out + recurrent part */
    gf_gru_cell_backward(dGi, dGh, dh, out, 0, x.Gi, x.hn, x.hp, x.B, x.H);
    /* dh now holds dL/dh_prev (the direct path: h_prev enters only through z * h_prev here). */
    fd_input in[3] = {{"Gi", x.Gi0, dGi, n3}, {"Gh", x.Gh, dGh, n3}, {"h_prev", x.hp, dh, n}};
    fd_check("gru cell", gru_cell_obj, &x, in, 3);
    free(x.Gi0); free(x.Gh); free(x.hp); free(x.w); free(x.Gi); free(x.hn); free(x.h);
    free(dGi); free(dGh); free(dh); free(out);
}

/* ---- whole layers (sequences) ---- */

typedef struct {
    int gru, T, B, in, H;
    float *X, *Wih, *Whh, *bih, *bhh, *w;
    float *Hs, *G, *C, *TC, *HN, *Gh;
    gf_pool *pool;
} layer_ctx;

static double layer_obj(void *vc)
{
    layer_ctx *x = vc;
    if (x->gru)
        gf_gru_layer_forward(x->Hs, x->G, x->HN, x->Gh, x->X, x->Wih, x->Whh, x->bih, x->bhh, x->T, x->B, x->in, x->H, NULL, x->pool);
    else
        gf_lstm_layer_forward(x->Hs, x->G, x->C, x->TC, x->X, x->Wih, x->Whh, x->bih, x->bhh, x->T, x->B, x->in,
                              x->H, NULL, x->pool);
    return dot(x->w, x->Hs, (size_t)x->T * x->B * x->H);
}

/* threads 2: the batch slices [0,1) and [1,3), gate-row blocks split too. */
static void layer_case(int gru, int threads)
{
    gf_rng_seed(&g_rng, 103 + gru);
    layer_ctx x = {.gru = gru, .T = 7, .B = 3, .in = 4, .H = 5};
    if (threads > 1) cr_assert_eq(gf_pool_create(threads, &x.pool), GF_OK);
    const int g = gru ? 3 : 4;
    const size_t N = (size_t)x.T * x.B, gh = (size_t)g * x.H, H = x.H;
    const double k = 0.7; /* weights large enough that gates leave the linear regime */
    x.X = alloc_randn(N * x.in, 1.0); x.Wih = alloc_randn(gh * x.in, k); x.Whh = alloc_randn(gh * H, k);
    x.bih = alloc_randn(gh, 0.5); x.bhh = alloc_randn(gh, 0.5); x.w = alloc_randn(N * H, 1.0);
    x.Hs = malloc(N * H * 4); x.G = malloc(N * gh * 4); x.C = malloc(N * H * 4); x.TC = malloc(N * H * 4);
    x.HN = malloc(N * H * 4); x.Gh = malloc(gh * x.B * 4);
    layer_obj(&x);
    float *dX = malloc(N * x.in * 4), *dWih = calloc(gh * x.in, 4), *dWhh = calloc(gh * H, 4);
    float *dbih = calloc(gh, 4), *dbhh = calloc(gh, 4), *dG = malloc(N * gh * 4), *dGh = malloc(N * gh * 4);
    float *dh = malloc(x.B * H * 4), *dc = malloc(x.B * H * 4);
    if (gru)
        gf_gru_layer_backward(dX, dWih, dWhh, dbih, dbhh, dG, dGh, dh, x.w, x.Hs, x.G, x.HN, x.X, x.Wih, x.Whh, x.T,
                              x.B, x.in, x.H, x.pool);
    else
        gf_lstm_layer_backward(dX, dWih, dWhh, dbih, dbhh, dG, dh, dc, x.w, x.Hs, x.G, x.C, x.TC, x.X, x.Wih, x.Whh,
                               x.T, x.B, x.in, x.H, x.pool);
    fd_input in[5] = {{"X", x.X, dX, N * x.in},
                      {"W_ih", x.Wih, dWih, gh * x.in},
                      {"W_hh", x.Whh, dWhh, gh * H},
                      {"b_ih", x.bih, dbih, gh},
                      {"b_hh", x.bhh, dbhh, gh}};
    fd_check(gru ? "gru layer (sequence)" : "lstm layer (sequence)", layer_obj, &x, in, 5);
    free(x.X); free(x.Wih); free(x.Whh); free(x.bih); free(x.bhh); free(x.w);
    free(x.Hs); free(x.G); free(x.C); free(x.TC); free(x.HN); free(x.Gh);
    free(dX); free(dWih); free(dWhh); free(dbih); free(dbhh); free(dG); free(dGh); free(dh); free(dc);
    gf_pool_free(x.pool);
}

Test(rnn_fd, lstm_layer) { layer_case(0, 1); }
Test(rnn_fd, gru_layer) { layer_case(1, 1); }
Test(rnn_fd, lstm_layer_2_threads) { layer_case(0, 2); }
Test(rnn_fd, gru_layer_2_threads) { layer_case(1, 2); }

/* ---- per-step linear head ---- */

typedef struct {
    int N, in, out;
    float *X, *W, *b, *w, *Y;
} lin_ctx;

static double lin_obj(void *vc)
{
    lin_ctx *x = vc;
    gf_rnn_linear_forward(x->Y, x->X, x->W, x->b, x->N, x->in, x->out);
    return dot(x->w, x->Y, (size_t)x->N * x->out);
}

Test(rnn_fd, linear_head)
{
    gf_rng_seed(&g_rng, 105);
    lin_ctx x = {.N = 11, .in = 6, .out = 4};
    x.X = alloc_randn(66, 1.0); x.W = alloc_randn(24, 1.0); x.b = alloc_randn(4, 1.0);
    x.w = alloc_randn(44, 1.0); x.Y = malloc(44 * 4);
    float *dX = malloc(66 * 4), *dW = calloc(24, 4), *db = calloc(4, 4);
    gf_rnn_linear_backward(dX, dW, db, x.w, x.X, x.W, x.N, x.in, x.out);
    fd_input in[3] = {{"X", x.X, dX, 66}, {"W", x.W, dW, 24}, {"b", x.b, db, 4}};
    fd_check("linear head", lin_obj, &x, in, 3);
    free(x.X); free(x.W); free(x.b); free(x.w); free(x.Y); free(dX); free(dW); free(db);
}

/* ---- dropout with a fixed mask ---- */

typedef struct {
    size_t n;
    float *x, *mask, *w, *y;
} drop_ctx;

static double drop_obj(void *vc)
{
    drop_ctx *c = vc;
    gf_rnn_dropout_forward(c->y, c->x, c->mask, c->n);
    return dot(c->w, c->y, c->n);
}

Test(rnn_fd, dropout_fixed_mask)
{
    gf_rng_seed(&g_rng, 106);
    drop_ctx c = {.n = 200};
    c.x = alloc_randn(c.n, 1.0); c.w = alloc_randn(c.n, 1.0); c.y = malloc(c.n * 4); c.mask = malloc(c.n * 4);
    gf_rng r;
    gf_rng_seed(&r, 7);
    gf_rnn_dropout_mask(c.mask, c.n, 0.3f, &r);
    int zeros = 0;
    for (size_t i = 0; i < c.n; i++) {
        cr_assert(c.mask[i] == 0.0f || c.mask[i] == 1.0f / 0.7f);
        zeros += c.mask[i] == 0.0f;
    }
    cr_assert(zeros > 30 && zeros < 90, "%d of 200 dropped at p = 0.3", zeros);
    float *dx = malloc(c.n * 4);
    gf_rnn_dropout_backward(dx, c.w, c.mask, c.n);
    fd_input in[1] = {{"x", c.x, dx, c.n}};
    fd_check("dropout (fixed mask)", drop_obj, &c, in, 1);
    free(c.x); free(c.w); free(c.y); free(c.mask); free(dx);
}

/* ---- whole models in training mode (dropout on, same mask every call) ---- */

typedef struct {
    gf_model *m;
    float *x, *y, *w;
    size_t ny;
} model_ctx;

static double model_obj(void *vc)
{
    model_ctx *c = vc;
    gf_rng r;
    gf_rng_seed(&r, 2024); /* fixed dropout masks */
    cr_assert_eq(gf_model_forward(c->m, c->x, c->y, 1, &r), GF_OK, "%s", gf_errmsg());
    return dot(c->w, c->y, c->ny);
}

static void model_case(gf_arch a)
{
    gf_rng_seed(&g_rng, 107 + a);
    gf_model_config cfg = gf_model_config_default(a, 4, 3);
    cfg.d_model = 6;
    cfg.n_layers = 3;
    cfg.dropout = 0.3f;
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK);
    cr_assert_eq(gf_model_init(m, 9), GF_OK);
    for (size_t i = 0; i < m->params.size; i++) m->params.data[i] *= 2.0f; /* beyond the linear regime */
    const int B = 2, T = 6;
    cr_assert_eq(gf_model_prepare(m, B, T), GF_OK);
    model_ctx c = {.m = m, .ny = (size_t)B * T * 3};
    c.x = alloc_randn((size_t)B * T * 4, 1.0); c.w = alloc_randn(c.ny, 1.0); c.y = malloc(c.ny * 4);
    model_obj(&c);
    gf_model_zero_grad(m);
    cr_assert_eq(gf_model_backward(m, c.w), GF_OK, "%s", gf_errmsg());
    fd_input in[MAXIN];
    int nin = 0;
    /* Per tensor, in groups so that each check stays within MAXIN inputs. */
    for (int i = 0; i < m->params.n; i++) {
        in[nin].name = m->params.t[i].name;
        in[nin].p = gf_arena_ptr(&m->params, i);
        in[nin].g = gf_arena_ptr(&m->grads, i);
        in[nin].n = m->params.t[i].numel;
        if (++nin == 4 || i == m->params.n - 1) {
            fd_check(a == GF_ARCH_LSTM ? "lstm model (dropout)" : "gru model (dropout)", model_obj, &c, in, nin);
            nin = 0;
        }
    }
    free(c.x); free(c.w); free(c.y);
    gf_model_free(m);
}

Test(rnn_fd, lstm_model_with_dropout) { model_case(GF_ARCH_LSTM); }
Test(rnn_fd, gru_model_with_dropout) { model_case(GF_ARCH_GRU); }

/* Temporal convolution network (`--model tcn`): dilated residual 1-D
 * convolutions over the whole gait cycle. Reference module:
 * tests/py/reference_tcn.py (TCNRegressor); state_dict names and shapes
 *   input_proj.{weight [C, d_in], bias [C]}                       nn.Linear
 *   blocks.{i}.conv1.{weight [C, C, K], bias [C]}                  nn.Conv1d
 *   blocks.{i}.conv2.{weight [C, C, K], bias [C]}                  nn.Conv1d
 *   output_proj.{weight [d_out, C], bias [d_out]}                  nn.Linear
 * with C = cfg.d_model, K = cfg.kernel, i < cfg.n_layers.
 *
 *   h_0     = input_proj(x)                           per step, no activation
 *   h_{i+1} = h_i + drop(relu(conv2_i(drop(relu(conv1_i(h_i))))))
 *   y       = output_proj(h_L)                        per step
 * conv{1,2}_i: Conv1d(C, C, K, dilation 2^i, padding='same') (model/ops_conv.h).
 * Dropout (cfg.dropout, training only) after each ReLU; no activation after
 * the residual sum, no normalization.
 *
 * Why non-causal: gaitfed predicts muscle forces offline from a whole,
 * time-normalized gait cycle (180 samples), as the Transformer does with
 * full self-attention; symmetric 'same' padding lets each step see the past
 * and the future of the cycle.
 *
 * Receptive field: each conv of dilation d widens it by d(K-1), so
 *   RF = 1 + 2 (K-1) (2^L - 1)  samples, i.e. +-(K-1)(2^L - 1) around a step.
 * Default K = 3 and L = 6 blocks (gf_model_config_default): RF = 253, +-126
 * samples: every output sees at least 127 of the 180 samples of its cycle
 * (70 %), and the outputs of mid-cycle steps (t in [54, 126]) see all of it.
 * (4 blocks would give +-30 samples = 1/3 of the cycle; 5 blocks +-62.) With
 * C = 128 that is 6 x 2 x 49 280 + 1 408 + 1 806 = 594 574 parameters
 * (14 outputs), about 0.21 GFLOP per cycle forward.
 *
 * Layout: activations [B*T][C] row-major in one arena, their gradients in a
 * second, both sized by prepare. Saved per block: the block output h_{i+1},
 * both ReLU outputs (the ReLU backward tests r > 0, which is a > 0) and,
 * with dropout, both masks; the dropped conv2 input is recomputed in
 * backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/ops.h"
#include "model/tcn.h"
#include "model/ops_conv.h"
#include "model/parallel.h"

#define TCN_MAX_BLOCKS 24 /* dilation 2^23: every tap of a longer one falls off any sequence */

typedef struct { int c1w, c1b, c2w, c2b; } tcn_bparams;
typedef struct { float *h, *r1, *m1, *r2, *m2; } tcn_bacts;

typedef struct {
    int L, C, K, din, dout;
    int in_w, in_b, out_w, out_b;
    tcn_bparams bp[TCN_MAX_BLOCKS];
    tcn_bacts ba[TCN_MAX_BLOCKS];
    gf_arena act, dact;
    float *xin, *h0, *tmp, *scratch;  /* tmp [N,C]: dropped conv2 input / dropped block output */
    float *g, *t1, *t2, *t3;          /* [N,C] gradients */
    gf_pool *pool;
    int fwd_train, drop;
} tcn_impl;

static gf_err add_param(gf_model *m, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int *id)
{
    int64_t shape[3] = {d0, d1, d2};
    return gf_arena_add(&m->params, name, ndim, shape, id);
}

static gf_err tcn_declare(gf_model *m)
{
    const gf_model_config *c = &m->cfg;
    if (c->arch != GF_ARCH_TCN) return gf_fail(GF_EINVAL, "tcn: architecture %s is not a TCN", gf_arch_name(c->arch));
    if (c->n_layers > TCN_MAX_BLOCKS)
        return gf_fail(GF_EINVAL, "tcn: %d residual blocks (at most %d; dilation doubles per block)", c->n_layers,
                       TCN_MAX_BLOCKS);
    tcn_impl *p = calloc(1, sizeof *p);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory creating a tcn");
    m->impl = p;
    p->L = c->n_layers;
    p->C = c->d_model;
    p->K = c->kernel;
    p->din = c->d_in;
    p->dout = c->d_out;
    const int C = p->C, K = p->K;
    GF_TRY(add_param(m, "input_proj.weight", 2, C, p->din, 0, &p->in_w));
    GF_TRY(add_param(m, "input_proj.bias", 1, C, 0, 0, &p->in_b));
    char n[GF_TNAME_MAX];
    for (int i = 0; i < p->L; i++) {
        snprintf(n, sizeof n, "blocks.%d.conv1.weight", i);
        GF_TRY(add_param(m, n, 3, C, C, K, &p->bp[i].c1w));
        snprintf(n, sizeof n, "blocks.%d.conv1.bias", i);
        GF_TRY(add_param(m, n, 1, C, 0, 0, &p->bp[i].c1b));
        snprintf(n, sizeof n, "blocks.%d.conv2.weight", i);
        GF_TRY(add_param(m, n, 3, C, C, K, &p->bp[i].c2w));
        snprintf(n, sizeof n, "blocks.%d.conv2.bias", i);
        GF_TRY(add_param(m, n, 1, C, 0, 0, &p->bp[i].c2b));
    }
    GF_TRY(add_param(m, "output_proj.weight", 2, p->dout, C, 0, &p->out_w));
    GF_TRY(add_param(m, "output_proj.bias", 1, p->dout, 0, 0, &p->out_b));
    return GF_OK;
}

/* PyTorch defaults: nn.Linear and nn.Conv1d weights kaiming_uniform_(a=sqrt 5)
 * = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases the same bound, with fan_in =
 * in_features (Linear) or C_in*K (Conv1d). Drawn in state_dict order. */
static gf_err tcn_init(gf_model *m, gf_rng *rng)
{
    const gf_arena *A = &m->params;
    for (int i = 0; i < A->n; i++) {
        const gf_tensor *t = &A->t[i];
        /* a bias takes the fan-in of the weight declared just before it */
        const gf_tensor *w = t->ndim == 1 ? &A->t[i - 1] : t;
        double fan_in = (double)w->shape[1] * (w->ndim == 3 ? (double)w->shape[2] : 1.0);
        double bound = 1.0 / sqrt(fan_in);
        float *x = gf_arena_ptr(A, i);
        for (size_t j = 0; j < t->numel; j++) x[j] = (float)gf_rng_range(rng, -bound, bound);
    }
    return GF_OK;
}

static gf_err tcn_prepare(gf_model *m, int B, int T)
{
    tcn_impl *p = m->impl;
    int threads = m->threads < 1 ? 1 : m->threads;
    if (p->pool && gf_pool_threads(p->pool) != threads) { gf_pool_free(p->pool); p->pool = NULL; }
    if (!p->pool) GF_TRY(gf_pool_create(threads, &p->pool));
    gf_blas_set_threads(1);
    gf_arena_free(&p->act);
    gf_arena_free(&p->dact);
    memset(p->ba, 0, sizeof p->ba);
    p->fwd_train = 0;
    const size_t N = (size_t)B * T, NC = N * (size_t)p->C;
    const int dr = m->cfg.dropout > 0;
    gf_arena_decl a = {&p->act, GF_OK}, g = {&p->dact, GF_OK};
    int xid = gf_arena_decl_add(&a, "x", N * (size_t)p->din), h0 = gf_arena_decl_add(&a, "h0", NC);
    int tmp = gf_arena_decl_add(&a, "tmp", NC);
    int scr = gf_arena_decl_add(&a, "scratch", op_conv1d_scratch(p->C, p->C, p->K));
    int ids[TCN_MAX_BLOCKS][5];
    char name[64];
    static const char *const nm[5] = {"h", "r1", "m1", "r2", "m2"};
    for (int i = 0; i < p->L; i++)
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "b%d.%s", i, nm[k]);
            ids[i][k] = (k == 2 || k == 4) && !dr ? -1 : gf_arena_decl_add(&a, name, NC);
        }
    int gid[4];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "g%d", k);
        gid[k] = gf_arena_decl_add(&g, name, NC);
    }
    gf_err e = a.e ? a.e : g.e;
    if (!e) e = gf_arena_commit(&p->act);
    if (!e) e = gf_arena_commit(&p->dact);
    if (e) { gf_arena_free(&p->act); gf_arena_free(&p->dact); return e; }
#define AP(id) ((id) < 0 ? NULL : gf_arena_ptr(&p->act, id))
    p->xin = AP(xid); p->h0 = AP(h0); p->tmp = AP(tmp); p->scratch = AP(scr);
    for (int i = 0; i < p->L; i++) {
        float **f = &p->ba[i].h;
        for (int k = 0; k < 5; k++) f[k] = AP(ids[i][k]);
    }
#undef AP
    p->g = gf_arena_ptr(&p->dact, gid[0]);
    p->t1 = gf_arena_ptr(&p->dact, gid[1]);
    p->t2 = gf_arena_ptr(&p->dact, gid[2]);
    p->t3 = gf_arena_ptr(&p->dact, gid[3]);
    return GF_OK;
}

#define PW(id) gf_arena_ptr(&m->params, (id))
#define PG(id) gf_arena_ptr(&m->grads, (id))

static gf_err tcn_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng)
{
    tcn_impl *p = m->impl;
    if (!p->act.data) return gf_fail(GF_ESTATE, "tcn: forward before prepare");
    const int B = m->B, T = m->T, N = B * T, C = p->C, K = p->K;
    const size_t NC = (size_t)N * C;
    const float pd = m->cfg.dropout;
    const int drop = train && pd > 0;
    if (drop && !rng) return gf_fail(GF_EINVAL, "tcn: training forward with dropout needs a random generator");
    gf_pool *pool = p->pool;
    p->fwd_train = 0;
    memcpy(p->xin, x, (size_t)N * p->din * sizeof(float));
    op_linear_forward(p->h0, x, PW(p->in_w), PW(p->in_b), N, p->din, C, pool);
    const float *hin = p->h0;
    for (int i = 0; i < p->L; i++) {
        const tcn_bparams *bp = &p->bp[i];
        tcn_bacts *ba = &p->ba[i];
        const int dil = 1 << i;
        op_conv1d_forward(ba->r1, hin, PW(bp->c1w), PW(bp->c1b), B, T, C, C, K, dil, p->scratch, pool);
        op_relu_forward(ba->r1, ba->r1, NC, pool);
        const float *in2 = ba->r1;
        if (drop) {
            op_dropout_mask_forward(p->tmp, ba->m1, ba->r1, NC, pd, gf_rng_u64(rng), pool);
            in2 = p->tmp;
        }
        op_conv1d_forward(ba->r2, in2, PW(bp->c2w), PW(bp->c2b), B, T, C, C, K, dil, p->scratch, pool);
        op_relu_forward(ba->r2, ba->r2, NC, pool);
        const float *out2 = ba->r2;
        if (drop) {
            op_dropout_mask_forward(p->tmp, ba->m2, ba->r2, NC, pd, gf_rng_u64(rng), pool);
            out2 = p->tmp;
        }
        op_residual_forward(ba->h, hin, out2, NC, pool);
        hin = ba->h;
    }
    op_linear_forward(y, hin, PW(p->out_w), PW(p->out_b), N, C, p->dout, pool);
    if (!op_all_finite(y, (size_t)N * p->dout))
        return gf_fail(GF_ENUMERIC, "tcn forward: the output has NaN or Inf values (non-finite inputs, or diverged weights)");
    p->fwd_train = train != 0;
    p->drop = drop;
    return GF_OK;
}

static gf_err tcn_backward(gf_model *m, const float *dy)
{
    tcn_impl *p = m->impl;
    if (!p->act.data) return gf_fail(GF_ESTATE, "tcn: backward before prepare");
    if (!p->fwd_train) return gf_fail(GF_ESTATE, "tcn: backward without a preceding training forward");
    const int B = m->B, T = m->T, N = B * T, C = p->C, K = p->K;
    const size_t NC = (size_t)N * C, bytes = NC * sizeof(float);
    if (!op_all_finite(dy, (size_t)N * p->dout))
        return gf_fail(GF_ENUMERIC, "tcn backward: the output gradient has NaN or Inf values (check the loss)");
    gf_pool *pool = p->pool;
    const int drop = p->drop;
    memset(p->g, 0, bytes);
    op_linear_backward(p->g, PG(p->out_w), PG(p->out_b), dy, p->L ? p->ba[p->L - 1].h : p->h0, PW(p->out_w), N, C,
                       p->dout, pool);
    for (int i = p->L - 1; i >= 0; i--) {
        const tcn_bparams *bp = &p->bp[i];
        const tcn_bacts *ba = &p->ba[i];
        const float *hin = i ? p->ba[i - 1].h : p->h0;
        const int dil = 1 << i;
        /* h_{i+1} = h_i + drop(r2): g (dL/dh_{i+1}) is also the residual part of dL/dh_i */
        const float *dr2 = p->g;
        if (drop) {
            memset(p->t1, 0, bytes);
            op_dropout_backward(p->t1, p->g, ba->m2, NC, pool);
            dr2 = p->t1;
        }
        memset(p->t2, 0, bytes);
        op_relu_backward(p->t2, dr2, ba->r2, NC, pool); /* r2 > 0 <=> pre-activation > 0 */
        const float *in2 = ba->r1;
        if (drop) {
            op_dropout_forward(p->tmp, ba->r1, ba->m1, NC, pool);
            in2 = p->tmp;
        }
        memset(p->t3, 0, bytes);
        op_conv1d_backward(p->t3, PG(bp->c2w), PG(bp->c2b), p->t2, in2, PW(bp->c2w), B, T, C, C, K, dil, p->scratch,
                           pool);
        const float *dr1 = p->t3;
        if (drop) {
            memset(p->t1, 0, bytes);
            op_dropout_backward(p->t1, p->t3, ba->m1, NC, pool);
            dr1 = p->t1;
        }
        memset(p->t2, 0, bytes);
        op_relu_backward(p->t2, dr1, ba->r1, NC, pool);
        op_conv1d_backward(p->g, PG(bp->c1w), PG(bp->c1b), p->t2, hin, PW(bp->c1w), B, T, C, C, K, dil, p->scratch,
                           pool);
    }
    op_linear_backward(NULL, PG(p->in_w), PG(p->in_b), p->g, p->xin, PW(p->in_w), N, p->din, C, pool);
    const gf_arena *G = &m->grads;
    for (int i = 0; i < G->n; i++)
        if (!op_all_finite(gf_arena_ptr(G, i), G->t[i].numel))
            return gf_fail(GF_ENUMERIC, "tcn backward: the gradient of %s has NaN or Inf values "
                                        "(diverged training: lower the learning rate)", G->t[i].name);
    return GF_OK;
}

#undef PW
#undef PG

uint64_t gf_tcn_relu_signature(const gf_model *m)
{
    if (!m || m->cfg.arch != GF_ARCH_TCN || !m->impl || !m->B) return 0;
    const tcn_impl *p = m->impl;
    if (!p->act.data) return 0;
    const size_t NC = (size_t)m->B * m->T * p->C;
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < p->L; i++)
        for (int k = 0; k < 2; k++) {
            const float *r = k ? p->ba[i].r2 : p->ba[i].r1;
            for (size_t j = 0; j < NC; j++) {
                h ^= (uint64_t)(r[j] > 0);
                h *= 1099511628211ULL;
            }
        }
    return h;
}

static void tcn_release(gf_model *m)
{
    tcn_impl *p = m->impl;
    if (!p) return;
    gf_arena_free(&p->act);
    gf_arena_free(&p->dact);
    gf_pool_free(p->pool);
    free(p);
    m->impl = NULL;
}

const gf_model_vt gf_tcn_vt = {
    .declare = tcn_declare, .init = tcn_init, .prepare = tcn_prepare,
    .forward = tcn_forward, .backward = tcn_backward, .release = tcn_release,
};

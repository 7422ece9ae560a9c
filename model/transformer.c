/* The Gait2Hip-60 reference Transformer and its variants.
 *
 *   e   = input_proj(x) + pos_embed[0..T-1]          then dropout (pos_encoder)
 *   per layer (PyTorch nn.TransformerEncoderLayer, batch_first):
 *     post-norm (default):  x = norm1(x + drop(SA(x)));  x = norm2(x + drop(FF(x)))
 *     pre-norm (norm_first): x = x + drop(SA(norm1(x))); x = x + drop(FF(norm2(x)))
 *     SA = out_proj(attention(in_proj(x))) with dropout on the attention weights,
 *     FF = linear2(drop(act(linear1(x)))), act ReLU or exact GELU
 *   y   = output_proj(x)                              per step
 * No final LayerNorm (nn.TransformerEncoder without norm). Dropout everywhere is
 * cfg.dropout. Activations are [B*T, C] row-major in one arena, their
 * gradients in a second; both sized by prepare, nothing allocated per step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/ops.h"
#include "model/parallel.h"

typedef struct {
    int in_w, in_b, out_w, out_b, l1_w, l1_b, l2_w, l2_b, n1_w, n1_b, n2_w, n2_b;
} layer_params;

/* Activation buffers of one layer; d* are gradients (NULL where none). The
 * *_d buffers (after dropout) and masks exist only when cfg.dropout > 0. */
typedef struct {
    float *qkv, *att, *amask, *ctx, *sa, *sa_mask, *sa_d, *r1, *n1, *m1, *s1;
    float *h, *a, *a_mask, *a_d, *f, *f_mask, *f_d, *r2, *n2, *m2, *s2;
    float *dqkv, *dctx, *dsa, *dsa_d, *dr1, *dn1, *dh, *da, *da_d, *df, *df_d, *dr2, *dn2;
    uint64_t aseed; /* attention-dropout seed (the mask is regenerated, amask unused) */
} layer_acts;

typedef struct {
    int in_w, in_b, pos, out_w, out_b;
    layer_params *lp;
    gf_arena act, dact;
    layer_acts *la;
    float *xin, *emb, *e, *e_mask, *e_d, *de, *de_d, *scratch;  /* xin: copy of x */
    gf_pool *pool;
    int drop;        /* dropout was applied in the last forward */
    int fwd_train;   /* last forward was a training forward */
} tr_impl;

static gf_err add_param(gf_model *m, const char *name, int ndim, int64_t d0, int64_t d1, int *id)
{
    int64_t shape[2] = {d0, d1};
    return gf_arena_add(&m->params, name, ndim, shape, id);
}

static gf_err tr_declare(gf_model *m)
{
    const gf_model_config *c = &m->cfg;
    tr_impl *p = calloc(1, sizeof *p);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory creating a transformer");
    m->impl = p;
    p->lp = calloc((size_t)c->n_layers, sizeof *p->lp);
    p->la = calloc((size_t)c->n_layers, sizeof *p->la);
    if (!p->lp || !p->la) return gf_fail(GF_ENOMEM, "out of memory creating a transformer");
    int D = c->d_model, F = c->d_ff;
    GF_TRY(add_param(m, "input_proj.weight", 2, D, c->d_in, &p->in_w));
    GF_TRY(add_param(m, "input_proj.bias", 1, D, 0, &p->in_b));
    GF_TRY(add_param(m, "pos_encoder.pos_embed.weight", 2, c->max_len, D, &p->pos));
    for (int l = 0; l < c->n_layers; l++) {
        layer_params *L = &p->lp[l];
        char n[GF_TNAME_MAX];
#define P(field, suffix, nd, a, b) \
    snprintf(n, sizeof n, "encoder.layers.%d.%s", l, suffix); \
    GF_TRY(add_param(m, n, nd, a, b, &L->field))
        P(in_w, "self_attn.in_proj_weight", 2, 3 * D, D);
        P(in_b, "self_attn.in_proj_bias", 1, 3 * D, 0);
        P(out_w, "self_attn.out_proj.weight", 2, D, D);
        P(out_b, "self_attn.out_proj.bias", 1, D, 0);
        P(l1_w, "linear1.weight", 2, F, D);
        P(l1_b, "linear1.bias", 1, F, 0);
        P(l2_w, "linear2.weight", 2, D, F);
        P(l2_b, "linear2.bias", 1, D, 0);
        P(n1_w, "norm1.weight", 1, D, 0);
        P(n1_b, "norm1.bias", 1, D, 0);
        P(n2_w, "norm2.weight", 1, D, 0);
        P(n2_b, "norm2.bias", 1, D, 0);
#undef P
    }
    GF_TRY(add_param(m, "output_proj.weight", 2, c->d_out, D, &p->out_w));
    GF_TRY(add_param(m, "output_proj.bias", 1, c->d_out, 0, &p->out_b));
    return GF_OK;
}

static void fill_uniform(float *x, size_t n, double bound, gf_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)gf_rng_range(r, -bound, bound);
}

static void fill_const(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* PyTorch defaults: nn.Linear weight kaiming_uniform(a=sqrt 5) and bias are
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); MultiheadAttention in_proj_weight
 * xavier_uniform U(-sqrt(6/(D+3D)), .), in_proj_bias and out_proj.bias 0,
 * out_proj.weight as nn.Linear; LayerNorm 1 and 0; nn.Embedding N(0, 1).
 * nn.TransformerEncoder deep-copies ONE initialized layer num_layers times,
 * so, as in PyTorch, every encoder layer starts from the same values. */
static gf_err tr_init(gf_model *m, gf_rng *r)
{
    tr_impl *p = m->impl;
    const gf_model_config *c = &m->cfg;
    gf_arena *A = &m->params;
#define T_(id) gf_arena_ptr(A, id), A->t[id].numel
    fill_uniform(T_(p->in_w), 1.0 / sqrt(c->d_in), r);
    fill_uniform(T_(p->in_b), 1.0 / sqrt(c->d_in), r);
    float *pe = gf_arena_ptr(A, p->pos);
    for (size_t i = 0; i < A->t[p->pos].numel; i++) pe[i] = (float)gf_rng_normal(r);
    layer_params *L = &p->lp[0];
    double D = c->d_model, F = c->d_ff;
    fill_uniform(T_(L->in_w), sqrt(6.0 / (D + 3 * D)), r);
    fill_const(T_(L->in_b), 0.0f);
    fill_uniform(T_(L->out_w), 1.0 / sqrt(D), r);
    fill_const(T_(L->out_b), 0.0f);
    fill_uniform(T_(L->l1_w), 1.0 / sqrt(D), r);
    fill_uniform(T_(L->l1_b), 1.0 / sqrt(D), r);
    fill_uniform(T_(L->l2_w), 1.0 / sqrt(F), r);
    fill_uniform(T_(L->l2_b), 1.0 / sqrt(F), r);
    fill_const(T_(L->n1_w), 1.0f);
    fill_const(T_(L->n1_b), 0.0f);
    fill_const(T_(L->n2_w), 1.0f);
    fill_const(T_(L->n2_b), 0.0f);
    for (int l = 1; l < c->n_layers; l++) {
        /* layer parameters are declared contiguously, in the same order */
        const int *src = &p->lp[0].in_w, *dst = &p->lp[l].in_w;
        for (int k = 0; k < (int)(sizeof(layer_params) / sizeof(int)); k++)
            memcpy(gf_arena_ptr(A, dst[k]), gf_arena_ptr(A, src[k]), A->t[src[k]].numel * sizeof(float));
    }
    fill_uniform(T_(p->out_w), 1.0 / sqrt(D), r);
    fill_uniform(T_(p->out_b), 1.0 / sqrt(D), r);
#undef T_
    return GF_OK;
}

/* ---- activation storage ---- */

typedef struct { int act[22]; int dact[13]; } layer_ids;

static gf_err tr_prepare(gf_model *m, int B, int T)
{
    tr_impl *p = m->impl;
    const gf_model_config *c = &m->cfg;
    int threads = m->threads < 1 ? 1 : m->threads;
    if (p->pool && gf_pool_threads(p->pool) != threads) { gf_pool_free(p->pool); p->pool = NULL; }
    if (!p->pool) GF_TRY(gf_pool_create(threads, &p->pool));
    gf_blas_set_threads(1);
    gf_arena_free(&p->act);
    gf_arena_free(&p->dact);
    p->fwd_train = 0;
    size_t N = (size_t)B * T, D = (size_t)c->d_model, F = (size_t)c->d_ff;
    size_t TT = (size_t)B * c->n_heads * T * T;
    int dr = c->dropout > 0;
    gf_arena_decl a = {&p->act, GF_OK}, g = {&p->dact, GF_OK};
    int xid = gf_arena_decl_add(&a, "x", N * (size_t)c->d_in);
    int emb = gf_arena_decl_add(&a, "emb", N * D), e = gf_arena_decl_add(&a, "e", N * D);
    int e_mask = dr ? gf_arena_decl_add(&a, "e_mask", N * D) : -1;
    int e_d = dr ? gf_arena_decl_add(&a, "e_d", N * D) : -1;
    int scr = gf_arena_decl_add(&a, "scratch", op_attention_scratch(T, threads));
    int de = gf_arena_decl_add(&g, "e", N * D), de_d = dr ? gf_arena_decl_add(&g, "e_d", N * D) : -1;
    layer_ids *ids = calloc((size_t)c->n_layers, sizeof *ids);
    if (!ids) return gf_fail(GF_ENOMEM, "out of memory preparing a transformer");
    static const char *const an[22] = {"qkv", "att", "amask", "ctx", "sa", "sa_mask", "sa_d", "r1", "n1", "m1", "s1",
                                       "h", "a", "a_mask", "a_d", "f", "f_mask", "f_d", "r2", "n2", "m2", "s2"};
    static const char *const gn[13] = {"qkv", "ctx", "sa", "sa_d", "r1", "n1", "h", "a", "a_d", "f", "f_d", "r2", "n2"};
    for (int l = 0; l < c->n_layers; l++) {
        size_t asz[22] = {N * 3 * D, TT, TT, N * D, N * D, N * D, N * D, N * D, N * D, N, N,
                          N * F, N * F, N * F, N * F, N * D, N * D, N * D, N * D, N * D, N, N};
        int adrop[22] = {[2] = 2, [5] = 1, [6] = 1, [13] = 1, [14] = 1, [16] = 1, [17] = 1};
        size_t gsz[13] = {N * 3 * D, N * D, N * D, N * D, N * D, N * D, N * F, N * F, N * F, N * D, N * D, N * D, N * D};
        int gdrop[13] = {[3] = 2, [8] = 1, [10] = 2}; /* 2: not needed (fused residual+dropout backward) */
        char name[64];
        for (int k = 0; k < 22; k++) {
            snprintf(name, sizeof name, "l%d.%s", l, an[k]);
            ids[l].act[k] = (adrop[k] && !dr) || adrop[k] == 2 ? -1 : gf_arena_decl_add(&a, name, asz[k]);
        }
        for (int k = 0; k < 13; k++) {
            snprintf(name, sizeof name, "l%d.d%s", l, gn[k]);
            ids[l].dact[k] = (gdrop[k] && !dr) || gdrop[k] == 2 ? -1 : gf_arena_decl_add(&g, name, gsz[k]);
        }
    }
    gf_err err = a.e ? a.e : g.e;
    if (!err) err = gf_arena_commit(&p->act);
    if (!err) err = gf_arena_commit(&p->dact);
    if (err) { free(ids); gf_arena_free(&p->act); gf_arena_free(&p->dact); return err; }
#define AP(id) ((id) < 0 ? NULL : gf_arena_ptr(&p->act, id))
#define GP(id) ((id) < 0 ? NULL : gf_arena_ptr(&p->dact, id))
    p->xin = AP(xid);
    p->emb = AP(emb); p->e = AP(e); p->e_mask = AP(e_mask); p->e_d = AP(e_d); p->scratch = AP(scr);
    p->de = GP(de); p->de_d = GP(de_d);
    for (int l = 0; l < c->n_layers; l++) {
        float **af = &p->la[l].qkv, **gf = &p->la[l].dqkv;
        for (int k = 0; k < 22; k++) af[k] = AP(ids[l].act[k]);
        for (int k = 0; k < 13; k++) gf[k] = GP(ids[l].dact[k]);
    }
#undef AP
#undef GP
    free(ids);
    return GF_OK;
}

static gf_err tr_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng)
{
    tr_impl *p = m->impl;
    const gf_model_config *c = &m->cfg;
    if (!p->act.data) return gf_fail(GF_ESTATE, "transformer: forward before prepare");
    int B = m->B, T = m->T, N = B * T, D = c->d_model, F = c->d_ff, NH = c->n_heads;
    float pdrop = c->dropout;
    p->drop = train && pdrop > 0;
    if (p->drop && !rng) return gf_fail(GF_EINVAL, "transformer: training forward with dropout needs an rng");
    gf_pool *pool = p->pool;
    /* OpenBLAS thread count: set once in prepare */
    const gf_arena *W = &m->params;
#define PW(id) gf_arena_ptr(W, id)
    size_t ND = (size_t)N * D, NF = (size_t)N * F;

    memcpy(p->xin, x, (size_t)N * c->d_in * sizeof(float));
    op_linear_forward(p->emb, x, PW(p->in_w), PW(p->in_b), N, c->d_in, D, pool);
    op_posembed_forward(p->e, p->emb, PW(p->pos), B, T, D, pool);
    if (p->drop) {
        op_dropout_mask_forward(p->e_d, p->e_mask, p->e, ND, pdrop, gf_rng_u64(rng), pool);
    }
    const float *xin = p->drop ? p->e_d : p->e;
    for (int l = 0; l < c->n_layers; l++) {
        layer_params *L = &p->lp[l];
        layer_acts *A = &p->la[l];
        float *sa_d = p->drop ? A->sa_d : A->sa, *a_d = p->drop ? A->a_d : A->a, *f_d = p->drop ? A->f_d : A->f;
        const float *sa_in = xin;
        if (c->prenorm) {
            op_layernorm_forward(A->n1, A->m1, A->s1, xin, PW(L->n1_w), PW(L->n1_b), N, D, pool);
            sa_in = A->n1;
        }
        op_linear_forward(A->qkv, sa_in, PW(L->in_w), PW(L->in_b), N, D, 3 * D, pool);
        if (p->drop) {
            A->aseed = gf_rng_u64(rng);
            op_attention_forward_seeded(A->ctx, A->att, A->qkv, pdrop, A->aseed, B, T, D, NH, p->scratch, pool);
        } else {
            op_attention_forward(A->ctx, A->att, A->qkv, NULL, B, T, D, NH, p->scratch, pool);
        }
        op_linear_forward(A->sa, A->ctx, PW(L->out_w), PW(L->out_b), N, D, D, pool);
        if (p->drop) {
            op_dropout_mask_forward(A->sa_d, A->sa_mask, A->sa, ND, pdrop, gf_rng_u64(rng), pool);
        }
        op_residual_forward(A->r1, xin, sa_d, ND, pool);
        const float *ff_in, *ff_res;
        if (c->prenorm) {
            op_layernorm_forward(A->n2, A->m2, A->s2, A->r1, PW(L->n2_w), PW(L->n2_b), N, D, pool);
            ff_in = A->n2;
            ff_res = A->r1;
        } else {
            op_layernorm_forward(A->n1, A->m1, A->s1, A->r1, PW(L->n1_w), PW(L->n1_b), N, D, pool);
            ff_in = ff_res = A->n1;
        }
        op_linear_forward(A->h, ff_in, PW(L->l1_w), PW(L->l1_b), N, D, F, pool);
        if (c->gelu) op_gelu_forward(A->a, A->h, NF, pool);
        else op_relu_forward(A->a, A->h, NF, pool);
        if (p->drop) {
            op_dropout_mask_forward(A->a_d, A->a_mask, A->a, NF, pdrop, gf_rng_u64(rng), pool);
        }
        op_linear_forward(A->f, a_d, PW(L->l2_w), PW(L->l2_b), N, F, D, pool);
        if (p->drop) {
            op_dropout_mask_forward(A->f_d, A->f_mask, A->f, ND, pdrop, gf_rng_u64(rng), pool);
        }
        op_residual_forward(A->r2, ff_res, f_d, ND, pool);
        if (c->prenorm) {
            xin = A->r2;
        } else {
            op_layernorm_forward(A->n2, A->m2, A->s2, A->r2, PW(L->n2_w), PW(L->n2_b), N, D, pool);
            xin = A->n2;
        }
    }
    op_linear_forward(y, xin, PW(p->out_w), PW(p->out_b), N, D, c->d_out, pool);
#undef PW
    p->fwd_train = train != 0;
    if (!op_all_finite(y, (size_t)N * c->d_out))
        return gf_fail(GF_ENUMERIC, "transformer forward: the output has NaN or Inf values "
                                    "(non-finite inputs, or diverged weights)");
    return GF_OK;
}

/* Zeroes the activation-gradient arena (every backward op accumulates)
 * with the pool: one memset per 64 KiB chunk. */
typedef struct { float *p; size_t n; } zero_job;
#define ZERO_CHUNK 16384
static void zero_chunks(void *vc, int k0, int k1, int tid)
{
    (void)tid;
    const zero_job *z = vc;
    size_t a = (size_t)k0 * ZERO_CHUNK, b = (size_t)k1 * ZERO_CHUNK;
    if (b > z->n) b = z->n;
    memset(z->p + a, 0, (b - a) * sizeof(float));
}

static void zero_arena(gf_arena *a, gf_pool *pool)
{
    zero_job z = {a->data, a->size};
    gf_parallel_for(pool, (int)((a->size + ZERO_CHUNK - 1) / ZERO_CHUNK), zero_chunks, &z);
}

static gf_err tr_backward(gf_model *m, const float *dy)
{
    tr_impl *p = m->impl;
    const gf_model_config *c = &m->cfg;
    if (!p->act.data) return gf_fail(GF_ESTATE, "transformer: backward before prepare");
    if (!p->fwd_train) return gf_fail(GF_ESTATE, "transformer: backward without a training forward");
    int B = m->B, T = m->T, N = B * T, D = c->d_model, F = c->d_ff, NH = c->n_heads;
    size_t ND = (size_t)N * D, NF = (size_t)N * F;
    gf_pool *pool = p->pool;
    /* OpenBLAS thread count: set once in prepare */
    zero_arena(&p->dact, pool);
    const gf_arena *W = &m->params;
    gf_arena *G = &m->grads;
#define PW(id) gf_arena_ptr(W, id)
#define PG(id) gf_arena_ptr(G, id)
    int nl = c->n_layers;
    /* input of layer l and its gradient */
#define LAYER_IN(l) ((l) == 0 ? (p->drop ? p->e_d : p->e) : (c->prenorm ? p->la[(l) - 1].r2 : p->la[(l) - 1].n2))
#define DLAYER_IN(l) ((l) == 0 ? (p->drop ? p->de_d : p->de) : (c->prenorm ? p->la[(l) - 1].dr2 : p->la[(l) - 1].dn2))
    const float *last = c->prenorm ? p->la[nl - 1].r2 : p->la[nl - 1].n2;
    float *dlast = c->prenorm ? p->la[nl - 1].dr2 : p->la[nl - 1].dn2;
    op_linear_backward(dlast, PG(p->out_w), PG(p->out_b), dy, last, PW(p->out_w), N, D, c->d_out, pool);
    for (int l = nl - 1; l >= 0; l--) {
        layer_params *L = &p->lp[l];
        layer_acts *A = &p->la[l];
        const float *xin = LAYER_IN(l);
        float *dxin = DLAYER_IN(l);
        const float *a_d = p->drop ? A->a_d : A->a;
        float *dsa_d = p->drop ? A->dsa_d : A->dsa, *da_d = p->drop ? A->da_d : A->da, *df_d = p->drop ? A->df_d : A->df;
        const float *ff_in, *sa_in;
        float *dff_in, *dff_res, *dsa_in;
        if (c->prenorm) {
            ff_in = A->n2; dff_in = A->dn2; dff_res = A->dr1;
            sa_in = A->n1; dsa_in = A->dn1;
        } else {
            /* r2 = n1 + f_d; n2 = LN2(r2) */
            op_layernorm_backward(A->dr2, PG(L->n2_w), PG(L->n2_b), A->dn2, A->r2, PW(L->n2_w), A->m2, A->s2, N, D, pool);
            ff_in = A->n1; dff_in = A->dn1; dff_res = A->dn1;
            sa_in = xin; dsa_in = dxin;
        }
        if (p->drop) op_residual_dropout_backward(dff_res, A->df, A->dr2, A->f_mask, ND, pool);
        else op_residual_backward(dff_res, df_d, A->dr2, ND, pool);
        op_linear_backward(da_d, PG(L->l2_w), PG(L->l2_b), A->df, a_d, PW(L->l2_w), N, F, D, pool);
        if (p->drop && !c->gelu) {
            op_relu_dropout_backward(A->dh, A->da_d, A->h, A->a_mask, NF, pool);
        } else {
            if (p->drop) op_dropout_backward(A->da, A->da_d, A->a_mask, NF, pool);
            if (c->gelu) op_gelu_backward(A->dh, A->da, A->h, NF, pool);
            else op_relu_backward(A->dh, A->da, A->h, NF, pool);
        }
        op_linear_backward(dff_in, PG(L->l1_w), PG(L->l1_b), A->dh, ff_in, PW(L->l1_w), N, D, F, pool);
        if (c->prenorm)
            op_layernorm_backward(A->dr1, PG(L->n2_w), PG(L->n2_b), A->dn2, A->r1, PW(L->n2_w), A->m2, A->s2, N, D, pool);
        else
            op_layernorm_backward(A->dr1, PG(L->n1_w), PG(L->n1_b), A->dn1, A->r1, PW(L->n1_w), A->m1, A->s1, N, D, pool);
        /* r1 = xin + sa_d */
        if (p->drop) op_residual_dropout_backward(dxin, A->dsa, A->dr1, A->sa_mask, ND, pool);
        else op_residual_backward(dxin, dsa_d, A->dr1, ND, pool);
        op_linear_backward(A->dctx, PG(L->out_w), PG(L->out_b), A->dsa, A->ctx, PW(L->out_w), N, D, D, pool);
        if (p->drop)
            op_attention_backward_seeded(A->dqkv, A->dctx, A->qkv, A->att, c->dropout, A->aseed, B, T, D, NH,
                                         p->scratch, pool);
        else
            op_attention_backward(A->dqkv, A->dctx, A->qkv, A->att, NULL, B, T, D, NH, p->scratch, pool);
        op_linear_backward(dsa_in, PG(L->in_w), PG(L->in_b), A->dqkv, sa_in, PW(L->in_w), N, D, 3 * D, pool);
        if (c->prenorm)
            op_layernorm_backward(dxin, PG(L->n1_w), PG(L->n1_b), A->dn1, xin, PW(L->n1_w), A->m1, A->s1, N, D, pool);
    }
    if (p->drop) op_dropout_backward(p->de, p->de_d, p->e_mask, ND, pool);
    op_posembed_backward(NULL, PG(p->pos), p->de, B, T, D, pool);
    op_linear_backward(NULL, PG(p->in_w), PG(p->in_b), p->de, p->xin, PW(p->in_w), N, c->d_in, D, pool);
#undef PW
#undef PG
#undef LAYER_IN
#undef DLAYER_IN
    if (!op_all_finite(G->data, G->size))
        return gf_fail(GF_ENUMERIC, "transformer backward: a parameter gradient has NaN or Inf values "
                                    "(diverged training: lower the learning rate)");
    return GF_OK;
}

static void tr_release(gf_model *m)
{
    tr_impl *p = m->impl;
    if (!p) return;
    gf_arena_free(&p->act);
    gf_arena_free(&p->dact);
    gf_pool_free(p->pool);
    free(p->lp);
    free(p->la);
    free(p);
    m->impl = NULL;
}

static size_t tr_act_bytes(const gf_model *m)
{
    const tr_impl *p = m->impl;
    return (p->act.size + p->dact.size) * sizeof(float);
}

const gf_model_vt gf_transformer_vt = {
    .declare = tr_declare, .init = tr_init, .prepare = tr_prepare,
    .forward = tr_forward, .backward = tr_backward, .release = tr_release,
    .act_bytes = tr_act_bytes,
};

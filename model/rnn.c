#include "model/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops_rnn.h"

#define RNN_MAX_LAYERS 64

typedef struct {
    const float *X; /* layer input [T*B][in] (layer 0: x time-major; else dropout output or Hs of l-1) */
    float *mask;  /* [T*B][H] dropout mask of the input (layers > 0, dropout > 0) or NULL */
    float *drop;  /* [T*B][H] dropout output buffer or NULL */
    float *G;     /* [T*B][gH] activated gates */
    float *C, *TC;/* LSTM: [T*B][H] c_t, tanh c_t */
    float *HN;    /* GRU: [T*B][H] W_hn h + b_hn */
    float *Hs;    /* [T*B][H] outputs */
} rnn_layer;

typedef struct {
    int gru, ng, L, H, din, dout;
    const char *prefix;
    int wih[RNN_MAX_LAYERS], whh[RNN_MAX_LAYERS], bih[RNN_MAX_LAYERS], bhh[RNN_MAX_LAYERS], fcw, fcb;
    gf_arena act;          /* activations and backward scratch, sized by prepare */
    gf_pool *pool;         /* m->threads workers (OpenBLAS at one thread) */
    int B, T;
    rnn_layer lay[RNN_MAX_LAYERS];
    float *xt, *yt, *dyt, *dG, *dGh, *dHa, *dHb, *dh, *dc, *Gh, *Wt;
    int train_valid;       /* last forward was a training forward */
    int dropped;           /* ... and applied dropout masks */
} rnn_impl;

static const char *arch_label(const rnn_impl *r) { return r->gru ? "gru" : "lstm"; }

gf_err gf_rnn_declare(gf_model *m)
{
    const gf_model_config *c = &m->cfg;
    if (c->arch != GF_ARCH_LSTM && c->arch != GF_ARCH_GRU)
        return gf_fail(GF_EINVAL, "rnn: architecture %s is not recurrent", gf_arch_name(c->arch));
    if (c->n_layers > RNN_MAX_LAYERS)
        return gf_fail(GF_EINVAL, "rnn: %d layers (at most %d)", c->n_layers, RNN_MAX_LAYERS);
    rnn_impl *r = calloc(1, sizeof *r);
    if (!r) return gf_fail(GF_ENOMEM, "out of memory creating an rnn");
    m->impl = r;
    r->gru = c->arch == GF_ARCH_GRU;
    r->ng = r->gru ? 3 : 4;
    r->prefix = r->gru ? "gru" : "lstm";
    r->L = c->n_layers;
    r->H = c->d_model;
    r->din = c->d_in;
    r->dout = c->d_out;
    char name[GF_TNAME_MAX];
    const int64_t gh = (int64_t)r->ng * r->H;
    for (int l = 0; l < r->L; l++) {
        int64_t wi[2] = {gh, l ? r->H : r->din}, wh[2] = {gh, r->H}, bs[1] = {gh};
        snprintf(name, sizeof name, "%s.weight_ih_l%d", r->prefix, l);
        GF_TRY(gf_arena_add(&m->params, name, 2, wi, &r->wih[l]));
        snprintf(name, sizeof name, "%s.weight_hh_l%d", r->prefix, l);
        GF_TRY(gf_arena_add(&m->params, name, 2, wh, &r->whh[l]));
        snprintf(name, sizeof name, "%s.bias_ih_l%d", r->prefix, l);
        GF_TRY(gf_arena_add(&m->params, name, 1, bs, &r->bih[l]));
        snprintf(name, sizeof name, "%s.bias_hh_l%d", r->prefix, l);
        GF_TRY(gf_arena_add(&m->params, name, 1, bs, &r->bhh[l]));
    }
    int64_t fw[2] = {r->dout, r->H}, fb[1] = {r->dout};
    GF_TRY(gf_arena_add(&m->params, "fc.weight", 2, fw, &r->fcw));
    GF_TRY(gf_arena_add(&m->params, "fc.bias", 1, fb, &r->fcb));
    return GF_OK;
}

static void fill_uniform(float *p, size_t n, double bound, gf_rng *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)gf_rng_range(rng, -bound, bound);
}

/* PyTorch defaults: nn.LSTM/nn.GRU reset_parameters draws every weight and
 * bias from U(-1/sqrt(H), 1/sqrt(H)); nn.Linear uses kaiming_uniform_(a=sqrt 5)
 * for the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound
 * for the bias. Drawn in state_dict order, element by element. */
gf_err gf_rnn_init(gf_model *m, gf_rng *rng)
{
    rnn_impl *r = m->impl;
    const double k = 1.0 / sqrt((double)r->H);
    for (int l = 0; l < r->L; l++) {
        const int ids[4] = {r->wih[l], r->whh[l], r->bih[l], r->bhh[l]};
        for (int i = 0; i < 4; i++) fill_uniform(gf_arena_ptr(&m->params, ids[i]), m->params.t[ids[i]].numel, k, rng);
    }
    fill_uniform(gf_arena_ptr(&m->params, r->fcw), m->params.t[r->fcw].numel, k, rng);
    fill_uniform(gf_arena_ptr(&m->params, r->fcb), m->params.t[r->fcb].numel, k, rng);
    return GF_OK;
}

typedef struct {
    int id;
    float **dst;
} slot;

gf_err gf_rnn_prepare(gf_model *m, int B, int T)
{
    rnn_impl *r = m->impl;
    gf_arena_free(&r->act);
    memset(r->lay, 0, sizeof r->lay);
    r->train_valid = r->dropped = 0;
    r->B = r->T = 0;
    int threads = m->threads < 1 ? 1 : m->threads;
    if (r->pool && gf_pool_threads(r->pool) != threads) { gf_pool_free(r->pool); r->pool = NULL; }
    if (!r->pool) GF_TRY(gf_pool_create(threads, &r->pool));
    gf_blas_set_threads(1);
    const int64_t N = (int64_t)T * B, H = r->H, gh = (int64_t)r->ng * H;
    const int drop = m->cfg.dropout > 0 && r->L > 1;
    slot slots[RNN_MAX_LAYERS * 8 + 16];
    int ns = 0;
    char name[GF_TNAME_MAX];
    gf_err e = GF_OK;
#define ADD(nm, d0, d1, ptr)                                                 \
    do {                                                                     \
        int64_t shp_[2] = {(d0), (d1)};                                      \
        if (!e) e = gf_arena_add(&r->act, (nm), 2, shp_, &slots[ns].id);     \
        slots[ns++].dst = (ptr);                                             \
    } while (0)
    ADD("x_tm", N, r->din, &r->xt);
    ADD("y_tm", N, r->dout, &r->yt);
    ADD("dy_tm", N, r->dout, &r->dyt);
    ADD("dG", N, gh, &r->dG);
    if (r->gru) ADD("dGh", N, gh, &r->dGh);
    ADD("dHa", N, H, &r->dHa);
    ADD("dHb", N, H, &r->dHb);
    ADD("dh", B, H, &r->dh);
    ADD("dc", B, H, &r->dc);
    ADD("Gh", B, gh, &r->Gh);
    ADD("Wt", H, gh, &r->Wt);
    for (int l = 0; l < r->L; l++) {
        rnn_layer *ly = &r->lay[l];
        if (l > 0 && drop) {
            snprintf(name, sizeof name, "l%d.mask", l);
            ADD(name, N, H, &ly->mask);
            snprintf(name, sizeof name, "l%d.drop", l);
            ADD(name, N, H, &ly->drop);
        }
        snprintf(name, sizeof name, "l%d.G", l);
        ADD(name, N, gh, &ly->G);
        snprintf(name, sizeof name, "l%d.H", l);
        ADD(name, N, H, &ly->Hs);
        if (r->gru) {
            snprintf(name, sizeof name, "l%d.HN", l);
            ADD(name, N, H, &ly->HN);
        } else {
            snprintf(name, sizeof name, "l%d.C", l);
            ADD(name, N, H, &ly->C);
            snprintf(name, sizeof name, "l%d.TC", l);
            ADD(name, N, H, &ly->TC);
        }
    }
#undef ADD
    if (!e) e = gf_arena_commit(&r->act);
    if (e) {
        gf_arena_free(&r->act);
        memset(r->lay, 0, sizeof r->lay);
        return e;
    }
    for (int i = 0; i < ns; i++) *slots[i].dst = gf_arena_ptr(&r->act, slots[i].id);
    r->B = B;
    r->T = T;
    return GF_OK;
}

#define P(id) gf_arena_ptr(&m->params, (id))
#define D(id) gf_arena_ptr(&m->grads, (id))

gf_err gf_rnn_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng)
{
    rnn_impl *r = m->impl;
    const int B = r->B, T = r->T, H = r->H;
    const size_t N = (size_t)B * T;
    const int drop = train && m->cfg.dropout > 0 && r->L > 1;
    if (!r->act.data) return gf_fail(GF_ESTATE, "%s: forward before prepare", arch_label(r));
    if (drop && !rng) return gf_fail(GF_EINVAL, "%s: training with dropout needs a random generator", arch_label(r));
    r->train_valid = 0;
    gf_rnn_to_time_major(r->xt, x, B, T, r->din);
    const float *in = r->xt;
    int din = r->din;
    for (int l = 0; l < r->L; l++) {
        rnn_layer *ly = &r->lay[l];
        if (l > 0) {
            if (drop) {
                gf_rnn_dropout_mask(ly->mask, N * H, m->cfg.dropout, rng);
                gf_rnn_dropout_forward(ly->drop, r->lay[l - 1].Hs, ly->mask, N * H);
                in = ly->drop;
            } else {
                in = r->lay[l - 1].Hs;
            }
        }
        ly->X = in;
        if (r->gru)
            gf_gru_layer_forward(ly->Hs, ly->G, ly->HN, r->Gh, in, P(r->wih[l]), P(r->whh[l]), P(r->bih[l]),
                                 P(r->bhh[l]), T, B, din, H, r->Wt, r->pool);
        else
            gf_lstm_layer_forward(ly->Hs, ly->G, ly->C, ly->TC, in, P(r->wih[l]), P(r->whh[l]), P(r->bih[l]),
                                  P(r->bhh[l]), T, B, din, H, r->Wt, r->pool);
        din = H;
    }
    gf_rnn_linear_forward(r->yt, r->lay[r->L - 1].Hs, P(r->fcw), P(r->fcb), (int)N, H, r->dout);
    gf_rnn_to_batch_major(y, r->yt, B, T, r->dout);
    long bad = gf_rnn_first_nonfinite(y, N * (size_t)r->dout);
    if (bad >= 0) {
        long k = bad % r->dout, t = bad / r->dout % T, b = bad / r->dout / T;
        return gf_fail(GF_ENUMERIC, "%s forward: non-finite output y[%ld][%ld][%ld] = %g (diverged weights or inputs)",
                       arch_label(r), b, t, k, (double)y[bad]);
    }
    r->train_valid = train != 0;
    r->dropped = drop;
    return GF_OK;
}

gf_err gf_rnn_backward(gf_model *m, const float *dy)
{
    rnn_impl *r = m->impl;
    const int B = r->B, T = r->T, H = r->H;
    const size_t N = (size_t)B * T;
    if (!r->train_valid) return gf_fail(GF_ESTATE, "%s: backward without a preceding training forward", arch_label(r));
    long bad = gf_rnn_first_nonfinite(dy, N * (size_t)r->dout);
    if (bad >= 0)
        return gf_fail(GF_ENUMERIC, "%s backward: non-finite output gradient at element %ld (%g); check the loss",
                       arch_label(r), bad, (double)dy[bad]);
    gf_rnn_to_time_major(r->dyt, dy, B, T, r->dout);
    float *dcur = r->dHa, *dnext = r->dHb;
    gf_rnn_linear_backward(dcur, D(r->fcw), D(r->fcb), r->dyt, r->lay[r->L - 1].Hs, P(r->fcw), (int)N, H, r->dout);
    for (int l = r->L - 1; l >= 0; l--) {
        rnn_layer *ly = &r->lay[l];
        int din = l ? H : r->din;
        float *dX = l > 0 ? dnext : NULL;
        if (r->gru)
            gf_gru_layer_backward(dX, D(r->wih[l]), D(r->whh[l]), D(r->bih[l]), D(r->bhh[l]), r->dG, r->dGh, r->dh,
                                  dcur, ly->Hs, ly->G, ly->HN, ly->X, P(r->wih[l]), P(r->whh[l]), T, B, din, H,
                                  r->pool);
        else
            gf_lstm_layer_backward(dX, D(r->wih[l]), D(r->whh[l]), D(r->bih[l]), D(r->bhh[l]), r->dG, r->dh, r->dc,
                                   dcur, ly->Hs, ly->G, ly->C, ly->TC, ly->X, P(r->wih[l]), P(r->whh[l]), T, B,
                                   din, H, r->pool);
        if (l > 0) {
            if (r->dropped) gf_rnn_dropout_backward(dnext, dnext, ly->mask, N * H);
            float *tmp = dcur;
            dcur = dnext;
            dnext = tmp;
        }
    }
    for (int i = 0; i < m->grads.n; i++) {
        const gf_tensor *t = &m->grads.t[i];
        long j = gf_rnn_first_nonfinite(D(i), t->numel);
        if (j >= 0)
            return gf_fail(GF_ENUMERIC, "%s backward: non-finite gradient %s[%ld] = %g (training diverged)",
                           arch_label(r), t->name, j, (double)D(i)[j]);
    }
    return GF_OK;
}

void gf_rnn_release(gf_model *m)
{
    rnn_impl *r = m->impl;
    if (!r) return;
    gf_arena_free(&r->act);
    gf_pool_free(r->pool);
    free(r);
    m->impl = NULL;
}

size_t gf_rnn_act_bytes(const gf_model *m)
{
    const rnn_impl *r = m->impl;
    return r->act.size * sizeof(float);
}

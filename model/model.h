/* Sequence models mapping joint angles [B][T][d_in] to per-step outputs
 * [B][T][d_out]: Transformer, LSTM, GRU, TCN. Parameters live in one arena
 * named with PyTorch state_dict names; gradients in a second arena of the same
 * layout. Each architecture implements gf_model_vt; the caller drives
 *   gf_model_prepare(B, T) -> forward(train) -> backward(dy) -> optimizer.
 * Activations kept for backward live in arch-owned arenas sized by prepare. */
#ifndef GF_MODEL_H
#define GF_MODEL_H
#include "common/err.h"
#include "common/rng.h"
#include "model/arena.h"

typedef enum { GF_ARCH_TRANSFORMER = 0, GF_ARCH_LSTM, GF_ARCH_GRU, GF_ARCH_TCN } gf_arch;

typedef struct {
    gf_arch arch;
    int d_in, d_out;   /* 10 and 14 (forces) or 3 (moments) */
    int d_model;       /* Transformer width; LSTM/GRU hidden size; TCN channels (128) */
    int n_layers;      /* encoder layers / stacked RNN layers (2) / TCN residual blocks (6) */
    int n_heads;       /* Transformer heads (4) */
    int d_ff;          /* Transformer feed-forward size (256) */
    int max_len;       /* learned position embeddings (500) */
    int prenorm;       /* 0: post-norm (PyTorch default, the reference) */
    int gelu;          /* 0: ReLU (reference) */
    float dropout;     /* 0.1 */
    int kernel;        /* TCN kernel size (3); dilation doubles per block */
} gf_model_config;

/* The Gait2Hip-60 reference configuration of an architecture. */
gf_model_config gf_model_config_default(gf_arch arch, int d_in, int d_out);
const char *gf_arch_name(gf_arch a);             /* "transformer", "lstm", "gru", "tcn" */
gf_err gf_arch_parse(const char *s, gf_arch *out);

typedef struct gf_model gf_model;

typedef struct {
    /* Declares parameters in m->params (PyTorch names and shapes). */
    gf_err (*declare)(gf_model *m);
    /* PyTorch's default initialization distributions for every parameter. */
    gf_err (*init)(gf_model *m, gf_rng *rng);
    /* (Re)sizes activation storage for batch B and length T. */
    gf_err (*prepare)(gf_model *m, int B, int T);
    /* x [B][T][d_in] -> y [B][T][d_out]; train != 0 enables dropout (rng) and
     * keeps what backward needs. */
    gf_err (*forward)(gf_model *m, const float *x, float *y, int train, gf_rng *rng);
    /* dy [B][T][d_out] -> grads += dL/dparams for the last training forward. */
    gf_err (*backward)(gf_model *m, const float *dy);
    void (*release)(gf_model *m); /* frees arch state (impl) */
    /* Optional: bytes of the arch-owned activation storage (activations,
     * their gradients and scratch) after prepare; NULL: not reported. */
    size_t (*act_bytes)(const gf_model *m);
} gf_model_vt;

struct gf_model {
    gf_model_config cfg;
    gf_arena params;     /* owned; PyTorch state_dict names */
    gf_arena grads;      /* owned; same layout as params */
    int B, T;            /* sizes of the last prepare */
    int has_norm;        /* x_mean/x_std valid (checkpoint tensors of those names) */
    float x_mean[16], x_std[16];
    const gf_model_vt *vt;
    void *impl;          /* arch-owned activations */
    int threads;         /* the engine's parallel loops (>= 1); OpenBLAS stays at one thread */
};

/* Creates a model: declares and allocates parameters and gradients (zero). */
gf_err gf_model_create(const gf_model_config *cfg, gf_model **out);
gf_err gf_model_init(gf_model *m, uint64_t seed);
gf_err gf_model_prepare(gf_model *m, int B, int T);
gf_err gf_model_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng);
gf_err gf_model_backward(gf_model *m, const float *dy);
void gf_model_zero_grad(gf_model *m);
void gf_model_free(gf_model *m);
/* Bytes of activation storage after prepare (0 if the arch does not say). */
size_t gf_model_act_bytes(const gf_model *m);

/* Internal: the implementation table of an architecture (model/registry.c),
 * or NULL when that architecture is not built in. */
const gf_model_vt *gf_model_vt_for(gf_arch a);

#endif

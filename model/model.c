#include "model/model.h"

#include <stdlib.h>
#include <string.h>

static const char *const ARCH_NAMES[] = {"transformer", "lstm", "gru", "tcn"};

const char *gf_arch_name(gf_arch a) { return (unsigned)a < 4 ? ARCH_NAMES[a] : "unknown"; }

gf_err gf_arch_parse(const char *s, gf_arch *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, ARCH_NAMES[i])) { *out = (gf_arch)i; return GF_OK; }
    return gf_fail(GF_EINVAL, "--model: expected transformer, lstm, gru or tcn, got '%s'", s);
}

gf_model_config gf_model_config_default(gf_arch arch, int d_in, int d_out)
{
    gf_model_config c = {
        .arch = arch, .d_in = d_in, .d_out = d_out, .d_model = 128, .n_layers = 2, .n_heads = 4,
        .d_ff = 256, .max_len = 500, .prenorm = 0, .gelu = 0, .dropout = 0.1f, .kernel = 3,
    };
    /* TCN: 6 residual blocks, dilations 1..32, receptive field 253 samples
     * (+-126 of a 180-sample cycle; see model/tcn.c). */
    if (arch == GF_ARCH_TCN) c.n_layers = 6;
    return c;
}

static gf_err check_config(const gf_model_config *c)
{
    if (c->d_in < 1 || c->d_in > 16) return gf_fail(GF_EINVAL, "model: d_in %d outside [1, 16]", c->d_in);
    if (c->d_out < 1 || c->d_out > 4096) return gf_fail(GF_EINVAL, "model: d_out %d outside [1, 4096]", c->d_out);
    if (c->d_model < 1 || c->d_model > 4096) return gf_fail(GF_EINVAL, "model: d_model %d outside [1, 4096]", c->d_model);
    if (c->n_layers < 1 || c->n_layers > 64) return gf_fail(GF_EINVAL, "model: n_layers %d outside [1, 64]", c->n_layers);
    if (!(c->dropout >= 0 && c->dropout < 1)) return gf_fail(GF_EINVAL, "model: dropout %g outside [0, 1)", c->dropout);
    if (c->arch == GF_ARCH_TRANSFORMER) {
        if (c->n_heads < 1 || c->d_model % c->n_heads)
            return gf_fail(GF_EINVAL, "model: d_model %d is not a multiple of n_heads %d", c->d_model, c->n_heads);
        if (c->d_ff < 1 || c->d_ff > 65536) return gf_fail(GF_EINVAL, "model: d_ff %d outside [1, 65536]", c->d_ff);
        if (c->max_len < 1 || c->max_len > 100000) return gf_fail(GF_EINVAL, "model: max_len %d outside [1, 100000]", c->max_len);
    }
    if (c->arch == GF_ARCH_TCN && (c->kernel < 2 || c->kernel > 16))
        return gf_fail(GF_EINVAL, "model: TCN kernel %d outside [2, 16]", c->kernel);
    return GF_OK;
}

gf_err gf_model_create(const gf_model_config *cfg, gf_model **out)
{
    *out = NULL;
    GF_TRY(check_config(cfg));
    const gf_model_vt *vt = gf_model_vt_for(cfg->arch);
    if (!vt) return gf_fail(GF_ENOTIMPL, "model: %s is not built in this version", gf_arch_name(cfg->arch));
    gf_model *m = calloc(1, sizeof *m);
    if (!m) return gf_fail(GF_ENOMEM, "out of memory creating a model");
    m->cfg = *cfg;
    m->vt = vt;
    m->threads = 1;
    gf_err e = vt->declare(m);
    if (!e) e = gf_arena_commit(&m->params);
    if (!e) e = gf_arena_clone_layout(&m->grads, &m->params);
    if (e) { gf_model_free(m); return e; }
    *out = m;
    return GF_OK;
}

gf_err gf_model_init(gf_model *m, uint64_t seed)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    return m->vt->init(m, &r);
}

gf_err gf_model_prepare(gf_model *m, int B, int T)
{
    if (B < 1 || T < 1) return gf_fail(GF_EINVAL, "model: batch %d, length %d", B, T);
    if (m->cfg.arch == GF_ARCH_TRANSFORMER && T > m->cfg.max_len)
        return gf_fail(GF_EINVAL, "model: sequence length %d exceeds the %d learned positions", T, m->cfg.max_len);
    if (m->B == B && m->T == T && m->impl) return GF_OK;
    GF_TRY(m->vt->prepare(m, B, T));
    m->B = B;
    m->T = T;
    return GF_OK;
}

gf_err gf_model_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng)
{
    if (!m->B) return gf_fail(GF_ESTATE, "model: forward before prepare");
    return m->vt->forward(m, x, y, train, rng);
}

gf_err gf_model_backward(gf_model *m, const float *dy)
{
    if (!m->B) return gf_fail(GF_ESTATE, "model: backward before prepare");
    return m->vt->backward(m, dy);
}

void gf_model_zero_grad(gf_model *m) { gf_arena_zero(&m->grads); }

void gf_model_free(gf_model *m)
{
    if (!m) return;
    if (m->vt && m->vt->release) m->vt->release(m);
    gf_arena_free(&m->params);
    gf_arena_free(&m->grads);
    free(m);
}

size_t gf_model_act_bytes(const gf_model *m)
{
    return m && m->vt && m->vt->act_bytes && m->impl ? m->vt->act_bytes(m) : 0;
}

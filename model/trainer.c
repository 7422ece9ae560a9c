#include "model/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/loss.h"

gf_train_config gf_train_defaults(void)
{
    gf_train_config c = {
        .max_epochs = 300, .patience = 30, .batch = 64, .clip = 0.5f, .opt = gf_adamw_defaults(), .seed = 0,
    };
    return c;
}

void gf_train_result_free(gf_train_result *res)
{
    if (!res) return;
    free(res->train_loss);
    free(res->val_loss);
    memset(res, 0, sizeof *res);
}

/* Gathers rows idx[0..nb) of src (row = `row` floats) into dst, zero-padding
 * to B rows. */
static void gather(float *dst, const float *src, const int *idx, int nb, int B, size_t row)
{
    for (int r = 0; r < nb; r++) memcpy(dst + (size_t)r * row, src + (size_t)(idx ? idx[r] : r) * row, row * sizeof(float));
    if (nb < B) memset(dst + (size_t)nb * row, 0, (size_t)(B - nb) * row * sizeof(float));
}

/* grads += mu·(params − center), center packed (arena order, no padding). */
static void add_prox(gf_arena *grads, const gf_arena *params, float mu, const float *center)
{
    size_t off = 0;
    for (int i = 0; i < params->n; i++) {
        const float *p = gf_arena_ptr(params, i);
        float *g = gf_arena_ptr(grads, i);
        for (size_t j = 0; j < params->t[i].numel; j++) g[j] += mu * (p[j] - center[off + j]);
        off += params->t[i].numel;
    }
}

typedef struct {
    float *xb, *yb, *pb, *dy;
    int B;
} bufs;

static void bufs_free(bufs *b)
{
    free(b->xb); free(b->yb); free(b->pb); free(b->dy);
    memset(b, 0, sizeof *b);
}

static gf_err bufs_alloc(bufs *b, const gf_model *m, int B, int T)
{
    memset(b, 0, sizeof *b);
    size_t rx = (size_t)T * m->cfg.d_in, ry = (size_t)T * m->cfg.d_out;
    b->xb = malloc((size_t)B * rx * sizeof(float));
    b->yb = malloc((size_t)B * ry * sizeof(float));
    b->pb = malloc((size_t)B * ry * sizeof(float));
    b->dy = malloc((size_t)B * ry * sizeof(float));
    b->B = B;
    if (!b->xb || !b->yb || !b->pb || !b->dy) { bufs_free(b); return gf_fail(GF_ENOMEM, "training: out of memory for batch buffers"); }
    return GF_OK;
}

static gf_err check_args(const gf_model *m, const float *x, int n, int T, int batch)
{
    if (!m || !x) return gf_fail(GF_EINVAL, "model: no model or no data");
    if (n < 1) return gf_fail(GF_EINVAL, "model: no cycles");
    if (T < 1) return gf_fail(GF_EINVAL, "model: sequence length %d", T);
    if (batch < 1) return gf_fail(GF_EINVAL, "model: batch size %d", batch);
    return GF_OK;
}

/* Eval-mode pass over n rows: predictions into y (may be NULL) and/or the
 * summed squared error against t (may be NULL) into *sse. */
static gf_err eval_pass(gf_model *m, bufs *b, const float *x, const float *t, int n, int T, float *y, double *sse)
{
    size_t rx = (size_t)T * m->cfg.d_in, ry = (size_t)T * m->cfg.d_out;
    GF_TRY(gf_model_prepare(m, b->B, T));
    double acc = 0;
    for (int s = 0; s < n; s += b->B) {
        int nb = n - s < b->B ? n - s : b->B;
        gather(b->xb, x + (size_t)s * rx, NULL, nb, b->B, rx);
        GF_TRY(gf_model_forward(m, b->xb, b->pb, 0, NULL));
        if (y) memcpy(y + (size_t)s * ry, b->pb, (size_t)nb * ry * sizeof(float));
        if (t) {
            const float *tt = t + (size_t)s * ry;
            for (size_t k = 0; k < (size_t)nb * ry; k++) {
                double e = (double)b->pb[k] - tt[k];
                acc += e * e;
            }
        }
    }
    if (sse) {
        if (!isfinite(acc)) return gf_fail(GF_ENUMERIC, "evaluation: the squared error is not finite");
        *sse = acc;
    }
    return GF_OK;
}

gf_err gf_predict(gf_model *m, const float *x, int n, int T, int batch, float *y)
{
    GF_TRY(check_args(m, x, n, T, batch));
    bufs b;
    GF_TRY(bufs_alloc(&b, m, batch < n ? batch : n, T));
    gf_err e = eval_pass(m, &b, x, NULL, n, T, y, NULL);
    bufs_free(&b);
    return e;
}

gf_err gf_eval_loss(gf_model *m, const float *x, const float *y, int n, int T, int batch, double *loss)
{
    GF_TRY(check_args(m, x, n, T, batch));
    if (!y) return gf_fail(GF_EINVAL, "evaluation: no targets");
    bufs b;
    GF_TRY(bufs_alloc(&b, m, batch < n ? batch : n, T));
    double sse = 0;
    gf_err e = eval_pass(m, &b, x, y, n, T, NULL, &sse);
    bufs_free(&b);
    if (!e) *loss = sse / ((double)n * T * m->cfg.d_out);
    return e;
}

gf_err gf_train(gf_model *m, const float *x, const float *y, int n, int T, const float *xv, const float *yv, int nv,
                const gf_train_config *cfg, gf_train_result *res)
{
    memset(res, 0, sizeof *res);
    res->best_val = NAN;
    GF_TRY(check_args(m, x, n, T, cfg->batch));
    if (!y) return gf_fail(GF_EINVAL, "training: no targets");
    if (cfg->max_epochs < 1) return gf_fail(GF_EINVAL, "training: %d epochs (at least 1)", cfg->max_epochs);
    if (cfg->patience < 0) return gf_fail(GF_EINVAL, "training: patience %d", cfg->patience);
    if (nv < 0 || (nv > 0 && (!xv || !yv))) return gf_fail(GF_EINVAL, "training: bad validation set");
    if (!(cfg->prox_mu >= 0) || !isfinite(cfg->prox_mu))
        return gf_fail(GF_EINVAL, "training: proximal mu %g must be finite and >= 0", (double)cfg->prox_mu);
    if (cfg->prox_mu > 0 && !cfg->prox_center) return gf_fail(GF_EINVAL, "training: proximal mu > 0 needs a center");
    const int E = cfg->max_epochs, B = cfg->batch < n ? cfg->batch : n;
    const size_t rx = (size_t)T * m->cfg.d_in, ry = (size_t)T * m->cfg.d_out;

    gf_err e = GF_OK;
    bufs b = {0}, bv = {0};
    gf_adamw opt;
    memset(&opt, 0, sizeof opt);
    int opt_ok = 0;
    float *best = NULL;
    int *perm = malloc((size_t)n * sizeof *perm);
    res->train_loss = calloc((size_t)E, sizeof *res->train_loss);
    if (nv) res->val_loss = calloc((size_t)E, sizeof *res->val_loss);
    if (nv) best = malloc(m->params.size * sizeof *best);
    if (!perm || !res->train_loss || (nv && (!res->val_loss || !best))) {
        e = gf_fail(GF_ENOMEM, "training: out of memory");
        goto done;
    }
    if ((e = bufs_alloc(&b, m, B, T))) goto done;
    if (nv && (e = bufs_alloc(&bv, m, B, T))) goto done; /* same B: one prepare for both */
    if ((e = gf_adamw_init(&opt, &m->params, &cfg->opt))) goto done;
    opt_ok = 1;

    gf_rng shuf, drop;
    gf_rng_derive(&shuf, cfg->seed, 0x73687566ull); /* "shuf" */
    gf_rng_derive(&drop, cfg->seed, 0x64726f70ull); /* "drop" */
    for (int i = 0; i < n; i++) perm[i] = i;
    int since_best = 0;

    for (int ep = 1; ep <= E; ep++) {
        for (int i = n - 1; i > 0; i--) {
            int j = (int)gf_rng_below(&shuf, (uint64_t)i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        if ((e = gf_model_prepare(m, B, T))) goto done;
        double sum = 0;
        int bi = 0;
        for (int s = 0; s < n; s += B, bi++) {
            int nb = n - s < B ? n - s : B;
            gather(b.xb, x, perm + s, nb, B, rx);
            gather(b.yb, y, perm + s, nb, B, ry);
            gf_model_zero_grad(m);
            double loss;
            float norm;
            size_t ne = (size_t)nb * ry;
            e = gf_model_forward(m, b.xb, b.pb, 1, &drop);
            if (!e) e = gf_mse_forward(&loss, b.pb, b.yb, ne);
            if (!e) {
                gf_mse_backward(b.dy, b.pb, b.yb, ne);
                if (nb < B) memset(b.dy + ne, 0, (size_t)(B - nb) * ry * sizeof(float));
                e = gf_model_backward(m, b.dy);
            }
            if (!e && cfg->prox_mu > 0) add_prox(&m->grads, &m->params, cfg->prox_mu, cfg->prox_center);
            if (!e && cfg->clip > 0) e = gf_clip_grad_norm(&m->grads, cfg->clip, &norm);
            if (!e) e = gf_adamw_step(&opt, &m->params, &m->grads);
            if (e) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", gf_errmsg());
                e = gf_fail(e, "training stopped at epoch %d, batch %d: %s", ep, bi + 1, msg);
                goto done;
            }
            sum += loss * nb;
        }
        res->train_loss[ep - 1] = sum / n;
        res->n_epochs = ep;
        gf_epoch_info info = {ep, E, sum / n, NAN, 0, NAN};
        if (nv) {
            double sse;
            if ((e = eval_pass(m, &bv, xv, yv, nv, T, NULL, &sse))) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", gf_errmsg());
                e = gf_fail(e, "training stopped at epoch %d (validation): %s", ep, msg);
                goto done;
            }
            double vl = sse / ((double)nv * ry);
            res->val_loss[ep - 1] = vl;
            if (!res->best_epoch || vl < res->best_val) {
                res->best_epoch = ep;
                res->best_val = vl;
                memcpy(best, m->params.data, m->params.size * sizeof *best);
                since_best = 0;
            } else {
                since_best++;
            }
            info.val_loss = vl;
            info.best_epoch = res->best_epoch;
            info.best_val = res->best_val;
        } else {
            res->best_epoch = ep;
        }
        if (cfg->on_epoch) cfg->on_epoch(cfg->ctx, &info);
        if (nv && cfg->patience > 0 && since_best >= cfg->patience && ep < E) {
            res->stopped_early = 1;
            break;
        }
    }
    if (nv) memcpy(m->params.data, best, m->params.size * sizeof *best);

done:
    if (opt_ok) gf_adamw_free(&opt);
    bufs_free(&b);
    bufs_free(&bv);
    free(perm);
    free(best);
    return e;
}

gf_err gf_zscore_stats(const float *x, int n, int T, int d, const unsigned char *use, float *mean, float *sd)
{
    if (d < 1 || d > 64 || T < 1 || n < 0) return gf_fail(GF_EINVAL, "normalization: %d cycles, %d frames, %d channels", n, T, d);
    double mu[64] = {0}, ss[64] = {0}, cnt = 0;
    for (int i = 0; i < n; i++) {
        if (use && !use[i]) continue;
        const float *r = x + (size_t)i * T * d;
        for (size_t k = 0; k < (size_t)T * d; k++) {
            if (!isfinite(r[k]))
                return gf_fail(GF_ENUMERIC, "normalization: cycle %d frame %d channel %d is not finite", i, (int)(k / d), (int)(k % d));
            mu[k % d] += r[k];
        }
        cnt += T;
    }
    if (cnt == 0) return gf_fail(GF_EINVAL, "normalization: no cycles to compute statistics from");
    for (int c = 0; c < d; c++) mu[c] /= cnt;
    for (int i = 0; i < n; i++) {
        if (use && !use[i]) continue;
        const float *r = x + (size_t)i * T * d;
        for (size_t k = 0; k < (size_t)T * d; k++) {
            double e = r[k] - mu[k % d];
            ss[k % d] += e * e;
        }
    }
    for (int c = 0; c < d; c++) {
        double s = sqrt(ss[c] / cnt);
        mean[c] = (float)mu[c];
        sd[c] = s > 0 ? (float)s : 1.0f;
        if (!(sd[c] > 0)) sd[c] = 1.0f; /* underflow to 0 in float */
    }
    return GF_OK;
}

void gf_zscore_apply(float *dst, const float *src, size_t n_frames, int d, const float *mean, const float *sd)
{
    for (size_t f = 0; f < n_frames; f++)
        for (int c = 0; c < d; c++) dst[f * d + c] = (src[f * d + c] - mean[c]) / sd[c];
}

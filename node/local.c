/* node/local: split, statistics and local training (evaluation and model
 * blobs in local_eval.c). */
#include "node/local.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/metrics.h"
#include "model/protocol.h"
#include "model/trainer.h"
#include "node/local_internal.h"

gf_err gf_local_check_ds(const gf_dataset *ds)
{
    if (!ds || !ds->x || !ds->meta) return gf_fail(GF_EINVAL, "local: no data");
    if (ds->n < 1) return gf_fail(GF_EINVAL, "local: no cycles");
    if (ds->n > INT_MAX / GF_T) return gf_fail(GF_ERANGE, "local: %lld cycles is too many", (long long)ds->n);
    return GF_OK;
}

gf_err gf_local_ids(const gf_dataset *ds, const char ***ids, const char ***speeds)
{
    *ids = malloc((size_t)ds->n * sizeof **ids);
    if (speeds) *speeds = malloc((size_t)ds->n * sizeof **speeds);
    if (!*ids || (speeds && !*speeds)) {
        free(*ids);
        if (speeds) free(*speeds);
        return gf_fail(GF_ENOMEM, "local: out of memory");
    }
    for (int64_t i = 0; i < ds->n; i++) {
        (*ids)[i] = ds->meta[i].subject_id;
        if (speeds) (*speeds)[i] = ds->meta[i].speed;
    }
    return GF_OK;
}

gf_err gf_local_split(const gf_dataset *ds, double frac, uint64_t seed, unsigned char *is_val, int *n_val_subjects)
{
    GF_TRY(gf_local_check_ds(ds));
    const char **ids;
    GF_TRY(gf_local_ids(ds, &ids, NULL));
    gf_err e = gf_split_holdout(ids, (int)ds->n, frac, seed, is_val, n_val_subjects);
    free(ids);
    return e;
}

gf_err gf_local_stats(const gf_dataset *ds, const unsigned char *is_val, gf_local_moments *out)
{
    GF_TRY(gf_local_check_ds(ds));
    memset(out, 0, sizeof *out);
    const int n = (int)ds->n;
    unsigned char *use = malloc((size_t)n);
    if (!use) return gf_fail(GF_ENOMEM, "local: out of memory");
    int64_t cycles = 0;
    for (int i = 0; i < n; i++) cycles += use[i] = !is_val || !is_val[i];
    gf_err e = GF_OK;
    if (cycles * GF_T > GF_LOCAL_MAX_FRAMES)
        e = gf_fail(GF_ERANGE, "local statistics: %lld frames exceed the cap %lld", (long long)(cycles * GF_T),
                    (long long)GF_LOCAL_MAX_FRAMES);
    if (!e) e = gf_zscore_stats(ds->x, n, GF_T, GF_DIN, use, out->mean, out->sd);
    for (int i = 0; i < n && !e; i++) {
        if (!use[i]) continue;
        const float *r = ds->x + (size_t)i * GF_T * GF_DIN;
        for (int k = 0; k < GF_T * GF_DIN; k++) {
            double x = r[k];
            if (!(fabs(x) <= GF_LOCAL_MAX_DEG)) { /* also NaN (gf_zscore_stats refused those already) */
                e = gf_fail(GF_ERANGE, "local statistics: cycle %d frame %d channel %s = %g deg is outside +-%g",
                            i, k / GF_DIN, gf_in_cols[k % GF_DIN], x, GF_LOCAL_MAX_DEG);
                break;
            }
            /* |x·1e4| <= 3.6e6 and x²·1e4 <= 1.296e9: exact conversions to int64 */
            out->sum_x[k % GF_DIN] += (int64_t)nearbyint(x * GF_LOCAL_FIX_SCALE);
            out->sum_x2[k % GF_DIN] += (int64_t)nearbyint(x * x * GF_LOCAL_FIX_SCALE);
        }
    }
    out->n_frames = cycles * GF_T;
    free(use);
    if (e) memset(out, 0, sizeof *out);
    return e;
}

gf_err gf_local_pooled_norm(int64_t n_frames, const int64_t sum_x[GF_DIN], const int64_t sum_x2[GF_DIN],
                            float mean[GF_DIN], float sd[GF_DIN])
{
    if (n_frames < 1) return gf_fail(GF_EINVAL, "pooled normalization: %lld frames", (long long)n_frames);
    for (int c = 0; c < GF_DIN; c++) {
        /* long double: the sums are exact integers up to 2^63 */
        long double nf = (long double)n_frames, mu = (long double)sum_x[c] / GF_LOCAL_FIX_SCALE / nf;
        long double var = (long double)sum_x2[c] / GF_LOCAL_FIX_SCALE / nf - mu * mu;
        double s = var > 0 ? sqrt((double)var) : 0;
        mean[c] = (float)mu;
        sd[c] = s > 0 ? (float)s : 1.0f;
        if (!(sd[c] > 0)) sd[c] = 1.0f;
    }
    return GF_OK;
}

gf_err gf_local_copy_model(const gf_model *src, int threads, gf_model **out)
{
    GF_TRY(gf_model_create(&src->cfg, out));
    gf_model *m = *out;
    if (m->params.size != src->params.size) { /* same config, same layout: cannot happen */
        gf_model_free(m);
        *out = NULL;
        return gf_fail(GF_ESTATE, "local: model copy has another layout");
    }
    memcpy(m->params.data, src->params.data, src->params.size * sizeof(float));
    m->has_norm = src->has_norm;
    memcpy(m->x_mean, src->x_mean, sizeof m->x_mean);
    memcpy(m->x_std, src->x_std, sizeof m->x_std);
    m->threads = threads > 0 ? threads : 1;
    return GF_OK;
}

/* {"rmse","mae","r2"} with null where undefined. */
json_t *gf_local_errstats_json(const gf_errstats *s)
{
    const double v[3] = {s->rmse, s->mae, s->r2};
    const char *k[3] = {"rmse", "mae", "r2"};
    json_t *o = json_object();
    for (int i = 0; o && i < 3; i++)
        if (json_object_set_new(o, k[i], isfinite(v[i]) ? json_real(v[i]) : json_null())) { json_decref(o); return NULL; }
    return o;
}

/* Subject-level mean and pooled metrics of m on the (normalized) rows. */
static gf_err val_summary(gf_model *m, const float *x, const float *y, int n, int D, const char *const *ids,
                          const char *const *speeds, int batch, json_t **out, int *n_subjects)
{
    float *pred = malloc((size_t)n * GF_T * D * sizeof *pred);
    if (!pred) return gf_fail(GF_ENOMEM, "local: out of memory");
    gf_metrics met;
    gf_err e = gf_predict(m, x, n, GF_T, batch, pred);
    if (!e) e = gf_metrics_compute(&met, pred, y, n, GF_T, D, ids, speeds);
    free(pred);
    if (e) return e;
    json_t *o = json_object(), *sm = gf_local_errstats_json(&met.subject_mean), *po = gf_local_errstats_json(&met.pooled);
    *n_subjects = met.n_subjects;
    gf_metrics_free(&met);
    if (!o || !sm || !po || json_object_set_new(o, "subject_mean", sm) || json_object_set_new(o, "pooled", po)) {
        json_decref(o);
        return gf_fail(GF_ENOMEM, "local: out of memory");
    }
    *out = o;
    return GF_OK;
}

/* Rows i with is_val[i] == want into new arrays (x normalized with mean/sd). */
static gf_err take_rows(const gf_dataset *ds, const float *y, int D, const unsigned char *is_val, int want,
                        const float *mean, const float *sd, float **xo, float **yo, const char ***ids,
                        const char ***speeds, int *n_out)
{
    const int n = (int)ds->n;
    const size_t rx = (size_t)GF_T * GF_DIN, ry = (size_t)GF_T * D;
    int k = 0;
    for (int i = 0; i < n; i++) k += (is_val ? !!is_val[i] : 0) == want;
    *n_out = k;
    *xo = malloc((size_t)(k ? k : 1) * rx * sizeof(float));
    *yo = malloc((size_t)(k ? k : 1) * ry * sizeof(float));
    *ids = malloc((size_t)(k ? k : 1) * sizeof **ids);
    *speeds = malloc((size_t)(k ? k : 1) * sizeof **speeds);
    if (!*xo || !*yo || !*ids || !*speeds) return gf_fail(GF_ENOMEM, "local: out of memory");
    k = 0;
    for (int i = 0; i < n; i++) {
        if ((is_val ? !!is_val[i] : 0) != want) continue;
        memcpy(*xo + (size_t)k * rx, ds->x + (size_t)i * rx, rx * sizeof(float));
        memcpy(*yo + (size_t)k * ry, y + (size_t)i * ry, ry * sizeof(float));
        (*ids)[k] = ds->meta[i].subject_id;
        (*speeds)[k++] = ds->meta[i].speed;
    }
    gf_zscore_apply(*xo, *xo, (size_t)k * GF_T, GF_DIN, mean, sd);
    return GF_OK;
}

gf_err gf_local_train(const gf_model *global, const gf_dataset *ds, gf_task task, const unsigned char *is_val,
                      const float mean[GF_DIN], const float sd[GF_DIN], const gf_local_config *cfg, float *delta,
                      int64_t *n_samples, json_t **val_metrics)
{
    if (val_metrics) *val_metrics = NULL;
    if (!global || !cfg || !delta || !n_samples || !mean || !sd) return gf_fail(GF_EINVAL, "local training: missing argument");
    GF_TRY(gf_local_check_ds(ds));
    const int D = gf_task_dim(task);
    if (global->cfg.d_in != GF_DIN || global->cfg.d_out != D)
        return gf_fail(GF_EINVAL, "local training: the model maps %d -> %d channels, task %s needs %d -> %d",
                       global->cfg.d_in, global->cfg.d_out, gf_task_name(task), GF_DIN, D);
    if (cfg->epochs < 1 || cfg->batch < 1) return gf_fail(GF_EINVAL, "local training: %d epochs, batch %d", cfg->epochs, cfg->batch);
    for (int c = 0; c < GF_DIN; c++)
        if (!isfinite(mean[c]) || !(sd[c] > 0) || !isfinite(sd[c]))
            return gf_fail(GF_EINVAL, "local training: normalization of channel %s (mean %g, SD %g)", gf_in_cols[c], mean[c], sd[c]);

    const size_t np = gf_arena_numel(&global->params);
    gf_err e = GF_OK;
    gf_model *loc = NULL;
    float *y = malloc((size_t)ds->n * GF_T * D * sizeof *y), *center = malloc(np * sizeof *center);
    float *xt = NULL, *yt = NULL, *xv = NULL, *yv = NULL;
    const char **it = NULL, **st = NULL, **iv = NULL, **sv = NULL;
    int nt = 0, nv = 0, nsub = 0;
    json_t *jg = NULL, *jl = NULL;
    gf_train_result tr = {0};
    if (!y || !center) { e = gf_fail(GF_ENOMEM, "local training: out of memory"); goto done; }
    if ((e = gf_dataset_targets(ds, task, y))) goto done;
    if ((e = take_rows(ds, y, D, is_val, 0, mean, sd, &xt, &yt, &it, &st, &nt))) goto done;
    if ((e = take_rows(ds, y, D, is_val, 1, mean, sd, &xv, &yv, &iv, &sv, &nv))) goto done;
    if (nt < 1) { e = gf_fail(GF_EINVAL, "local training: every cycle is a validation cycle"); goto done; }
    if ((e = gf_local_copy_model(global, cfg->threads, &loc))) goto done;
    gf_arena_pack(&global->params, center);
    /* the global model's validation metrics, on the copy before it trains */
    if (nv && val_metrics && (e = val_summary(loc, xv, yv, nv, D, iv, sv, cfg->batch, &jg, &nsub))) goto done;

    gf_train_config tc = gf_train_defaults();
    tc.max_epochs = cfg->epochs;
    tc.patience = 0;
    tc.batch = cfg->batch;
    tc.clip = cfg->grad_clip;
    tc.opt.lr = cfg->lr;
    tc.opt.weight_decay = cfg->weight_decay;
    tc.seed = cfg->seed;
    tc.prox_mu = cfg->mu;
    tc.prox_center = cfg->mu > 0 ? center : NULL;
    if ((e = gf_train(loc, xt, yt, nt, GF_T, NULL, NULL, 0, &tc, &tr))) goto done;
    gf_arena_pack(&loc->params, delta);
    for (size_t i = 0; i < np; i++) {
        delta[i] -= center[i];
        if (!isfinite(delta[i])) { e = gf_fail(GF_ENUMERIC, "local training: update element %zu is not finite", i); goto done; }
    }
    if (nv && val_metrics && (e = val_summary(loc, xv, yv, nv, D, iv, sv, cfg->batch, &jl, &nsub))) goto done;
    if (val_metrics) {
        /* The last local epoch's mean training MSE: the round's loss line. */
        double tl = tr.n_epochs ? tr.train_loss[tr.n_epochs - 1] : NAN;
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "train_loss", isfinite(tl) ? json_real(tl) : json_null()) ||
            (nv && (json_object_set_new(o, "n_cycles", json_integer(nv)) ||
                    json_object_set_new(o, "n_subjects", json_integer(nsub)) || json_object_set(o, "global", jg) ||
                    json_object_set(o, "local", jl)))) {
            json_decref(o);
            e = gf_fail(GF_ENOMEM, "local training: out of memory");
            goto done;
        }
        *val_metrics = o;
    }
    *n_samples = nt;

done:
    gf_train_result_free(&tr);
    json_decref(jg);
    json_decref(jl);
    gf_model_free(loc);
    free(y); free(center); free(xt); free(yt); free(xv); free(yv);
    free(it); free(st); free(iv); free(sv);
    return e;
}

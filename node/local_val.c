/* node/local: the full Gait2Hip metrics of a model on a site's validation
 * cycles (cross-site evaluation). */
#include <stdlib.h>
#include <string.h>

#include "model/metrics.h"
#include "model/trainer.h"
#include "node/local_internal.h"

gf_err gf_local_evaluate_val(gf_model *m, const gf_dataset *ds, gf_task task, const unsigned char *is_val,
                             const float mean[GF_DIN], const float sd[GF_DIN], json_t **metrics)
{
    *metrics = NULL;
    if (!m || !is_val || !mean || !sd) return gf_fail(GF_EINVAL, "validation metrics: missing argument");
    GF_TRY(gf_local_check_ds(ds));
    const int n = (int)ds->n, D = gf_task_dim(task);
    if (m->cfg.d_in != GF_DIN || m->cfg.d_out != D)
        return gf_fail(GF_EINVAL, "validation metrics: the model maps %d -> %d channels, task %s needs %d -> %d",
                       m->cfg.d_in, m->cfg.d_out, gf_task_name(task), GF_DIN, D);
    int k = 0;
    for (int i = 0; i < n; i++) k += is_val[i] != 0;
    if (!k) return gf_fail(GF_ENOTFOUND, "validation metrics: the site has no validation cycles");
    const size_t rx = (size_t)GF_T * GF_DIN, ry = (size_t)GF_T * D;
    float *x = malloc((size_t)k * rx * sizeof *x), *y = malloc((size_t)k * ry * sizeof *y);
    float *yall = malloc((size_t)n * ry * sizeof *yall), *pred = malloc((size_t)k * ry * sizeof *pred);
    const char **ids = malloc((size_t)k * sizeof *ids), **speeds = malloc((size_t)k * sizeof *speeds);
    gf_err e = x && y && yall && pred && ids && speeds ? GF_OK : gf_fail(GF_ENOMEM, "validation metrics: out of memory");
    if (!e) e = gf_dataset_targets(ds, task, yall);
    if (!e) {
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!is_val[i]) continue;
            memcpy(x + (size_t)j * rx, ds->x + (size_t)i * rx, rx * sizeof *x);
            memcpy(y + (size_t)j * ry, yall + (size_t)i * ry, ry * sizeof *y);
            ids[j] = ds->meta[i].subject_id;
            speeds[j++] = ds->meta[i].speed;
        }
        gf_zscore_apply(x, x, (size_t)k * GF_T, GF_DIN, mean, sd);
        e = gf_predict(m, x, k, GF_T, 64, pred);
    }
    gf_metrics met;
    if (!e) e = gf_metrics_compute(&met, pred, y, k, GF_T, D, ids, speeds);
    if (!e) {
        json_t *j = gf_metrics_to_json(&met, gf_task_cols(task));
        gf_metrics_free(&met);
        /* Aggregates only: the subject ids and per-subject rows stay here
         * (the coordinator refuses them too); the definitions are constants. */
        json_object_del(j, "per_subject");
        json_object_del(j, "definitions");
        if (!j || json_object_set_new(j, "task", json_string(gf_task_name(task))) ||
            json_object_set_new(j, "units", json_string(gf_task_units(task)))) {
            json_decref(j);
            e = gf_fail(GF_ENOMEM, "validation metrics: out of memory");
        } else {
            *metrics = j;
        }
    }
    free(x), free(y), free(yall), free(pred), free(ids), free(speeds);
    return e;
}

/* node/local: the evaluator's benchmark (one function for `gaitfed eval` and
 * the node) and downloaded model blobs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "model/metrics.h"
#include "model/safetensors.h"
#include "model/trainer.h"
#include "model/checkpoint.h"
#include "node/local_internal.h"

gf_err gf_local_evaluate_full(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm,
                              const char *model_label, const char *data_label, int with_curves, json_t **metrics)
{
    *metrics = NULL;
    if (!m || !norm) return gf_fail(GF_EINVAL, "evaluation: no model or normalization");
    GF_TRY(gf_local_check_ds(ds));
    const int n = (int)ds->n, D = gf_task_dim(task);
    if (m->cfg.d_in != GF_DIN || m->cfg.d_out != D)
        return gf_fail(GF_EINVAL, "evaluation: the model maps %d -> %d channels, task %s needs %d -> %d", m->cfg.d_in,
                       m->cfg.d_out, gf_task_name(task), GF_DIN, D);
    const size_t nx = (size_t)n * GF_T * GF_DIN, ny = (size_t)n * GF_T * D;
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *pred = malloc(ny * sizeof *pred);
    const char **ids = NULL, **speeds = NULL;
    gf_metrics met;
    int have = 0;
    json_t *j = NULL;
    gf_err e = GF_OK;
    if (!x || !y || !pred) e = gf_fail(GF_ENOMEM, "evaluation: out of memory");
    if (!e) e = gf_local_ids(ds, &ids, &speeds);
    if (!e) e = gf_dataset_targets(ds, task, y);
    if (!e) {
        float mean[GF_DIN], sd[GF_DIN];
        memcpy(x, ds->x, nx * sizeof *x);
        if (norm->own) e = gf_zscore_stats(x, n, GF_T, GF_DIN, NULL, mean, sd);
        else { memcpy(mean, norm->mean, sizeof mean); memcpy(sd, norm->sd, sizeof sd); }
        if (!e) gf_zscore_apply(x, x, (size_t)n * GF_T, GF_DIN, mean, sd);
    }
    if (!e) e = gf_predict(m, x, n, GF_T, 64, pred);
    if (!e) e = gf_metrics_compute(&met, pred, y, n, GF_T, D, ids, speeds);
    have = !e;
    if (!e) {
        j = gf_metrics_to_json(&met, gf_task_cols(task));
        const char *lab = norm->label ? norm->label : norm->own ? "own" : "given";
        int bad = !j;
        if (!bad && model_label) bad |= json_object_set_new(j, "model", json_string(model_label));
        if (!bad && data_label) bad |= json_object_set_new(j, "data", json_string(data_label));
        if (!bad) bad |= json_object_set_new(j, "task", json_string(gf_task_name(task)));
        if (!bad) bad |= json_object_set_new(j, "units", json_string(gf_task_units(task)));
        if (!bad) bad |= json_object_set_new(j, "normalization", json_string(lab));
        if (!bad) bad |= json_object_set_new(j, "architecture", json_string(gf_arch_name(m->cfg.arch)));
        if (!bad && with_curves)
            bad |= json_object_set_new(j, "curves", gf_metrics_curves_json(pred, y, n, GF_T, D, gf_task_cols(task)));
        if (bad) { json_decref(j); j = NULL; e = gf_fail(GF_ENOMEM, "evaluation: out of memory"); }
    }
    if (have) gf_metrics_free(&met);
    free(x); free(y); free(pred); free(ids); free(speeds);
    if (!e) *metrics = j;
    return e;
}

gf_err gf_local_evaluate_labeled(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm,
                                 const char *model_label, const char *data_label, json_t **metrics)
{
    return gf_local_evaluate_full(m, ds, task, norm, model_label, data_label, 0, metrics);
}

gf_err gf_local_evaluate(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm, json_t **metrics)
{
    return gf_local_evaluate_labeled(m, ds, task, norm, NULL, NULL, metrics);
}

gf_err gf_local_model_from_blob(const uint8_t *safetensors, size_t len, const char *sha256_hex, gf_model **out,
                                gf_task *task)
{
    *out = NULL;
    uint8_t want[GF_SHA256_LEN], got[GF_SHA256_LEN];
    if (!sha256_hex || strlen(sha256_hex) != 2 * GF_SHA256_LEN || gf_unhex(sha256_hex, want, GF_SHA256_LEN))
        return gf_fail(GF_EINVAL, "model blob: expected SHA-256 is not 64 hex digits");
    if (!safetensors && len) return gf_fail(GF_EINVAL, "model blob: no data");
    GF_TRY(gf_sha256(safetensors ? (const void *)safetensors : "", len, got));
    if (memcmp(want, got, sizeof want)) {
        char hex[GF_SHA256_HEX];
        gf_hex(got, GF_SHA256_LEN, hex);
        return gf_fail(GF_EFORMAT, "model blob: SHA-256 mismatch (%zu bytes hash to %s, expected %s)", len, hex, sha256_hex);
    }
    gf_safetensors st;
    GF_TRY(gf_safetensors_parse("model blob", safetensors, len, &st));
    gf_task t;
    gf_err e = gf_checkpoint_model(&st, "model blob", out, &t);
    gf_safetensors_free(&st);
    if (!e && task) *task = t;
    return e;
}

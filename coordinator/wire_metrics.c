/* Aggregates only: the metrics a hospital reports (advert "val", cross-site
 * results) checked against a fixed schema and rebuilt from its known fields
 * (coordinator/wire.h). Subject ids stay at the hospital (docs/THREAT_MODEL.md):
 * an honest node never sends them, and this is what keeps a modified node
 * from putting them into the coordinator's database — per-subject rows,
 * unknown fields and free strings are refused, and an unknown key is never
 * echoed (it could itself be a subject id). */
#include <stdio.h>
#include <string.h>

#include "coordinator/wire.h"

typedef enum { K_INT, K_NUM, K_STATS, K_SPLIT, K_CADENCES, K_CHANNELS, K_TASK, K_UNITS } kind;
typedef struct {
    const char *key;
    kind k;
} field;

#define END {NULL, K_INT}
static const field stats_f[] = {{"rmse", K_NUM}, {"mae", K_NUM}, {"r2", K_NUM}, END};
static const field split_f[] = {{"subject_mean", K_STATS}, {"pooled", K_STATS}, END};
static const field cadence_f[] = {{"n_cycles", K_INT}, {"n_subjects", K_INT}, {"subject_mean", K_STATS},
                                  {"pooled", K_STATS}, END};
static const field channel_f[] = {{"r2", K_NUM}, {"pearson_r", K_NUM}, {"nrmse", K_NUM}, {"rmse", K_NUM},
                                  {"mae", K_NUM}, END};
/* model/metrics.h gf_metrics_to_json without "per_subject" and "definitions", plus task and units */
static const field xeval_f[] = {{"n_cycles", K_INT},      {"n_subjects", K_INT},    {"frames", K_INT},
                                {"channels", K_INT},      {"subject_mean", K_STATS}, {"pooled", K_STATS},
                                {"per_cadence", K_CADENCES}, {"per_channel", K_CHANNELS}, {"task", K_TASK},
                                {"units", K_UNITS},       END};
/* node/local.h gf_local_train's val_metrics */
static const field val_f[] = {{"train_loss", K_NUM}, {"n_cycles", K_INT}, {"n_subjects", K_INT},
                              {"global", K_SPLIT},   {"local", K_SPLIT},  END};
static const char *const cadences[] = {"slow", "med", "fast", "self", NULL}; /* sites/dataset.h speed labels */

static int listed(const char *k, const char *const *names, int n)
{
    for (int i = 0; n < 0 ? names[i] != NULL : i < n; i++)
        if (!strcmp(k, names[i])) return 1;
    return 0;
}

static gf_err copy_object(const json_t *in, const field *f, gf_task task, const char *path, json_t *out);

/* One value of kind k at path into out[key]. */
static gf_err copy_value(const json_t *v, kind k, gf_task task, const char *path, const char *key, json_t *out)
{
    json_t *c = NULL;
    switch (k) {
    case K_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return gf_fail(GF_EFORMAT, "%s: '%s' must be an integer >= 0", path, key);
        c = json_integer(json_integer_value(v));
        break;
    case K_NUM:
        if (!json_is_number(v) && !json_is_null(v)) return gf_fail(GF_EFORMAT, "%s: '%s' must be a number or null", path, key);
        c = json_is_null(v) ? json_null() : json_real(json_number_value(v));
        break;
    case K_TASK:
    case K_UNITS: {
        const char *want = k == K_TASK ? gf_task_name(task) : gf_task_units(task);
        if (!json_is_string(v) || strcmp(json_string_value(v), want))
            return gf_fail(GF_EFORMAT, "%s: '%s' must be \"%s\"", path, key, want);
        c = json_string(want);
        break;
    }
    case K_CADENCES:
    case K_CHANNELS: {
        if (!json_is_object(v)) return gf_fail(GF_EFORMAT, "%s: '%s' must be an object", path, key);
        const int ch = k == K_CHANNELS;
        c = json_object();
        const char *name;
        const json_t *it;
        json_object_foreach((json_t *)v, name, it) {
            if (!(ch ? listed(name, gf_task_cols(task), gf_task_dim(task)) : listed(name, cadences, -1))) {
                json_decref(c);
                return gf_fail(GF_EFORMAT, "%s: '%s' has a key that is not %s (not echoed: only aggregates are "
                                           "accepted)", path, key, ch ? "an output channel of the task" : "a cadence label");
            }
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s.%s", path, key, name);
            json_t *o = json_object();
            gf_err e = json_is_object(it) ? copy_object(it, ch ? channel_f : cadence_f, task, sub, o)
                                          : gf_fail(GF_EFORMAT, "%s: must be an object", sub);
            if (e || json_object_set_new(c, name, o)) {
                if (e) json_decref(o);
                json_decref(c);
                return e ? e : gf_fail(GF_ENOMEM, "out of memory");
            }
        }
        break;
    }
    case K_STATS:
    case K_SPLIT: {
        if (!json_is_object(v)) return gf_fail(GF_EFORMAT, "%s: '%s' must be an object", path, key);
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        c = json_object();
        gf_err e = c ? copy_object(v, k == K_STATS ? stats_f : split_f, task, sub, c) : GF_OK;
        if (e) {
            json_decref(c);
            return e;
        }
        break;
    }
    }
    if (!c || json_object_set_new(out, key, c)) return gf_fail(GF_ENOMEM, "out of memory");
    return GF_OK;
}

static gf_err copy_object(const json_t *in, const field *f, gf_task task, const char *path, json_t *out)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        const field *x = f;
        while (x->key && strcmp(x->key, key)) x++;
        if (!x->key) {
            if (!strcmp(key, "per_subject"))
                return gf_fail(GF_EFORMAT, "%s: 'per_subject' refused: per-subject rows and subject ids stay at the "
                                           "hospital (aggregates only)", path);
            return gf_fail(GF_EFORMAT, "%s: a field that is not one of the aggregates (not echoed: it could be a "
                                       "subject id)", path);
        }
        GF_TRY(copy_value(v, x->k, task, path, key, out));
    }
    return GF_OK;
}

static gf_err rebuild(const json_t *m, const field *f, gf_task task, const char *what, json_t **out)
{
    *out = NULL;
    if (!json_is_object(m)) return gf_fail(GF_EFORMAT, "%s: must be an object", what);
    json_t *o = json_object();
    gf_err e = o ? copy_object(m, f, task, what, o) : gf_fail(GF_ENOMEM, "out of memory");
    if (e) json_decref(o);
    else *out = o;
    return e;
}

gf_err gf_wire_xeval_aggregates(const json_t *metrics, gf_task task, const char *what, json_t **out)
{
    GF_TRY(rebuild(metrics, xeval_f, task, what, out));
    if (json_is_object(json_object_get(*out, "subject_mean"))) return GF_OK;
    json_decref(*out);
    *out = NULL;
    return gf_fail(GF_EFORMAT, "%s: needs 'subject_mean'", what);
}

gf_err gf_wire_val_aggregates(const json_t *val, json_t **out)
{
    return rebuild(val, val_f, GF_TASK_FORCES /* no task field */, "advert: val", out);
}

/* Checkpoint metadata of gaitfed models (safetensors __metadata__): what
 * `gaitfed train` writes and the coordinator serves, so any checkpoint can be
 * rebuilt from its own header. */
#include "model/checkpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>


gf_err gf_meta_set(json_t *meta, const char *key, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (json_object_set_new(meta, key, json_string(buf))) return gf_fail(GF_ENOMEM, "out of memory building metadata");
    return GF_OK;
}

static char *cols_json(const char *const *cols, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(cols[i]));
    char *s = a ? json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(a);
    return s;
}

json_t *gf_checkpoint_meta(const gf_model_config *c, gf_task task)
{
    json_t *m = json_object();
    if (!m) return NULL;
    char *in = cols_json(gf_in_cols, GF_DIN), *out = cols_json(gf_task_cols(task), gf_task_dim(task));
    gf_err e = !in || !out ? GF_ENOMEM : GF_OK;
    if (!e) e = gf_meta_set(m, "format", "gaitfed-model-1");
    if (!e) e = gf_meta_set(m, "model", "%s", gf_arch_name(c->arch));
    if (!e) e = gf_meta_set(m, "d_in", "%d", c->d_in);
    if (!e) e = gf_meta_set(m, "d_out", "%d", c->d_out);
    if (!e) e = gf_meta_set(m, "d_model", "%d", c->d_model);
    if (!e) e = gf_meta_set(m, "n_layers", "%d", c->n_layers);
    if (!e) e = gf_meta_set(m, "n_heads", "%d", c->n_heads);
    if (!e) e = gf_meta_set(m, "d_ff", "%d", c->d_ff);
    if (!e) e = gf_meta_set(m, "max_len", "%d", c->max_len);
    if (!e) e = gf_meta_set(m, "prenorm", "%d", c->prenorm);
    if (!e) e = gf_meta_set(m, "gelu", "%d", c->gelu);
    if (!e) e = gf_meta_set(m, "dropout", "%.9g", c->dropout);
    if (!e) e = gf_meta_set(m, "kernel", "%d", c->kernel);
    if (!e) e = gf_meta_set(m, "task", "%s", gf_task_name(task));
    if (!e) e = gf_meta_set(m, "units", "%s", gf_task_units(task));
    if (!e) e = gf_meta_set(m, "in_units", "deg");
    if (!e) e = gf_meta_set(m, "in_cols", "%s", in);
    if (!e) e = gf_meta_set(m, "out_cols", "%s", out);
    if (!e) e = gf_meta_set(m, "frames", "%d", GF_T);
    free(in);
    free(out);
    if (e) { json_decref(m); return NULL; }
    return m;
}

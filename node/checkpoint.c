#include "node/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static gf_err meta_int(const gf_safetensors *st, const char *path, const char *key, long lo, long hi, int *out)
{
    const char *s = gf_safetensors_meta(st, key);
    if (!s) return gf_fail(GF_EFORMAT, "%s: metadata has no '%s' (not a checkpoint written by gaitfed train)", path, key);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return gf_fail(GF_EFORMAT, "%s: metadata '%s' = '%s' is not an integer in [%ld, %ld]", path, key, s, lo, hi);
    *out = (int)v;
    return GF_OK;
}

static gf_err check_cols(const gf_safetensors *st, const char *path, const char *key, const char *const *want, int n)
{
    const char *s = gf_safetensors_meta(st, key);
    if (!s) return gf_fail(GF_EFORMAT, "%s: metadata has no '%s'", path, key);
    json_t *a = json_loads(s, 0, NULL);
    gf_err e = GF_OK;
    if (!json_is_array(a)) {
        e = gf_fail(GF_EFORMAT, "%s: metadata '%s' is not a JSON array of names", path, key);
    } else if ((int)json_array_size(a) != n) {
        e = gf_fail(GF_EINVAL, "%s: channel mismatch: the model has %d %s, expected %d", path, (int)json_array_size(a), key, n);
    } else {
        for (int i = 0; i < n && !e; i++) {
            const char *c = json_string_value(json_array_get(a, (size_t)i));
            if (!c || strcmp(c, want[i]))
                e = gf_fail(GF_EINVAL, "%s: channel mismatch: %s[%d] is '%s', expected '%s'", path, key, i, c ? c : "?", want[i]);
        }
    }
    json_decref(a);
    return e;
}

gf_err gf_checkpoint_model(const gf_safetensors *st, const char *path, gf_model **m, gf_task *task)
{
    *m = NULL;
    gf_err e = GF_OK;
    gf_model_config c;
    const char *kind = gf_safetensors_meta(st, "model"), *task_s = gf_safetensors_meta(st, "task");
    if (!kind || !task_s) {
        e = gf_fail(GF_EFORMAT, "%s: metadata has no '%s' (not a checkpoint written by gaitfed train)", path,
                    kind ? "task" : "model");
    }
    gf_arch arch = GF_ARCH_TRANSFORMER;
    if (!e && gf_arch_parse(kind, &arch)) e = gf_fail(GF_EFORMAT, "%s: unknown model kind '%s'", path, kind);
    if (!e && gf_task_parse(task_s, task)) e = gf_fail(GF_EFORMAT, "%s: unknown task '%s'", path, task_s);
    if (!e) c = gf_model_config_default(arch, GF_DIN, gf_task_dim(*task));
    int d_in = 0, d_out = 0;
    if (!e) e = meta_int(st, path, "d_in", 1, 16, &d_in);
    if (!e) e = meta_int(st, path, "d_out", 1, 4096, &d_out);
    if (!e && d_in != GF_DIN)
        e = gf_fail(GF_EINVAL, "%s: channel mismatch: the model takes %d input channels, gaitfed data has %d", path, d_in, GF_DIN);
    if (!e && d_out != gf_task_dim(*task))
        e = gf_fail(GF_EFORMAT, "%s: %d outputs do not fit task %s", path, d_out, task_s);
    if (!e) e = check_cols(st, path, "in_cols", gf_in_cols, GF_DIN);
    if (!e) e = check_cols(st, path, "out_cols", gf_task_cols(*task), gf_task_dim(*task));
    if (!e) e = meta_int(st, path, "d_model", 1, 4096, &c.d_model);
    if (!e) e = meta_int(st, path, "n_layers", 1, 64, &c.n_layers);
    if (!e) e = meta_int(st, path, "n_heads", 1, 4096, &c.n_heads);
    if (!e) e = meta_int(st, path, "d_ff", 1, 65536, &c.d_ff);
    if (!e) e = meta_int(st, path, "max_len", 1, 100000, &c.max_len);
    if (!e) e = meta_int(st, path, "prenorm", 0, 1, &c.prenorm);
    if (!e) e = meta_int(st, path, "gelu", 0, 1, &c.gelu);
    if (!e) e = meta_int(st, path, "kernel", 1, 16, &c.kernel);
    if (!e) {
        const char *d = gf_safetensors_meta(st, "dropout");
        char *end = NULL;
        double v = d ? strtod(d, &end) : -1;
        if (!d || end == d || *end || !(v >= 0 && v < 1)) e = gf_fail(GF_EFORMAT, "%s: metadata 'dropout' missing or bad", path);
        c.dropout = (float)v;
    }
    gf_model *mm = NULL;
    if (!e) e = gf_model_create(&c, &mm);
    if (!e) {
        gf_err le = gf_safetensors_load_into(&mm->params, st, path);
        const gf_st_tensor *mu = gf_safetensors_get(st, "x_mean"), *sd = gf_safetensors_get(st, "x_std");
        e = le;
        if (!e && !mu != !sd) e = gf_fail(GF_EFORMAT, "%s: x_mean and x_std come together", path);
        if (!e && mu) {
            for (int k = 0; k < 2 && !e; k++) {
                const gf_st_tensor *t = k ? sd : mu;
                if (t->ndim != 1 || t->shape[0] != GF_DIN)
                    e = gf_fail(GF_EFORMAT, "%s: %s must have shape [%d]", path, t->name, GF_DIN);
                for (int j = 0; j < GF_DIN && !e; j++)
                    if (!isfinite(t->data[j]) || (k && !(t->data[j] > 0)))
                        e = gf_fail(GF_EFORMAT, "%s: %s[%d] = %g is not %s", path, t->name, j, t->data[j], k ? "finite and > 0" : "finite");
            }
            if (!e) {
                memcpy(mm->x_mean, mu->data, GF_DIN * sizeof(float));
                memcpy(mm->x_std, sd->data, GF_DIN * sizeof(float));
                mm->has_norm = 1;
            }
        }
    }
    if (e) { gf_model_free(mm); return e; }
    *m = mm;
    return GF_OK;
}


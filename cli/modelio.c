#include "cli/modelio.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "model/trainer.h"
#include "sites/npz.h"
#include "sites/store.h"


static int is_sqlite(const char *path)
{
    char magic[16] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    return got == 16 && !memcmp(magic, "SQLite format 3", 16);
}

void cli_data_free(cli_data *d)
{
    gf_dataset_free(&d->ds);
    free(d->y);
    free(d->ids);
    free(d->speeds);
    memset(d, 0, sizeof *d);
}

gf_err cli_data_load(const char *path, const gf_task *want, cli_data *out)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return gf_fail(errno == ENOENT ? GF_ENOTFOUND : GF_EIO, "%s: %s", path, strerror(errno));
    fclose(fp);
    gf_err e;
    if (is_sqlite(path)) {
        gf_task t = want ? *want : GF_TASK_FORCES;
        gf_store *st;
        GF_TRY(gf_store_open(path, 0, &st));
        e = gf_store_load(st, t == GF_TASK_FORCES ? GF_STORE_NEED_FORCES : GF_STORE_NEED_MOMENTS, &out->ds);
        gf_store_close(st);
        if (e) return e;
        if (out->ds.n == 0) {
            gf_dataset_free(&out->ds);
            return gf_fail(GF_ENOTFOUND, "%s: no cycles with %s targets", path, gf_task_name(t));
        }
        out->task = t;
    } else {
        int task;
        GF_TRY(gf_g2h_read(path, &out->ds, &task));
        if (task < 0) {
            gf_dataset_free(&out->ds);
            return gf_fail(GF_EINVAL, "%s: no targets (key 'Y'); training and evaluation need labelled cycles", path);
        }
        if (want && (int)*want != task) {
            gf_dataset_free(&out->ds);
            return gf_fail(GF_EINVAL, "%s holds %s, not %s (wrong task)", path, gf_task_name((gf_task)task),
                           gf_task_name(*want));
        }
        out->task = (gf_task)task;
    }
    if (out->ds.n > 0x7fffffff / GF_T) { cli_data_free(out); return gf_fail(GF_ERANGE, "%s: too many cycles", path); }
    out->n = (int)out->ds.n;
    out->D = gf_task_dim(out->task);
    const float *ya = out->task == GF_TASK_FORCES ? out->ds.yf : out->ds.ym;
    size_t row = (size_t)GF_T * out->D;
    out->y = malloc((size_t)out->n * row * sizeof(float));
    out->ids = malloc((size_t)out->n * sizeof *out->ids);
    out->speeds = malloc((size_t)out->n * sizeof *out->speeds);
    if (!out->y || !out->ids || !out->speeds) { cli_data_free(out); return gf_fail(GF_ENOMEM, "%s: out of memory", path); }
    for (int i = 0; i < out->n; i++) {
        double w = out->ds.meta[i].weight_kg;
        if (!(w > 0)) { cli_data_free(out); return gf_fail(GF_EINVAL, "%s: cycle %d has no body mass", path, i); }
        for (size_t k = 0; k < row; k++) out->y[(size_t)i * row + k] = (float)(ya[(size_t)i * row + k] / w);
        out->ids[i] = out->ds.meta[i].subject_id;
        out->speeds[i] = out->ds.meta[i].speed;
    }
    return GF_OK;
}


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

gf_err cli_model_load(const char *path, gf_model **m, gf_task *task, json_t **meta)
{
    *m = NULL;
    if (meta) *meta = NULL;
    gf_safetensors st;
    GF_TRY(gf_safetensors_read(path, &st));
    gf_err e = GF_OK;
    gf_model_config c;
    const char *kind = gf_safetensors_meta(&st, "model"), *task_s = gf_safetensors_meta(&st, "task");
    if (!kind || !task_s) {
        e = gf_fail(GF_EFORMAT, "%s: metadata has no '%s' (not a checkpoint written by gaitfed train)", path,
                    kind ? "task" : "model");
    }
    gf_arch arch = GF_ARCH_TRANSFORMER;
    if (!e && gf_arch_parse(kind, &arch)) e = gf_fail(GF_EFORMAT, "%s: unknown model kind '%s'", path, kind);
    if (!e && gf_task_parse(task_s, task)) e = gf_fail(GF_EFORMAT, "%s: unknown task '%s'", path, task_s);
    if (!e) c = gf_model_config_default(arch, GF_DIN, gf_task_dim(*task));
    int d_in = 0, d_out = 0;
    if (!e) e = meta_int(&st, path, "d_in", 1, 16, &d_in);
    if (!e) e = meta_int(&st, path, "d_out", 1, 4096, &d_out);
    if (!e && d_in != GF_DIN)
        e = gf_fail(GF_EINVAL, "%s: channel mismatch: the model takes %d input channels, gaitfed data has %d", path, d_in, GF_DIN);
    if (!e && d_out != gf_task_dim(*task))
        e = gf_fail(GF_EFORMAT, "%s: %d outputs do not fit task %s", path, d_out, task_s);
    if (!e) e = check_cols(&st, path, "in_cols", gf_in_cols, GF_DIN);
    if (!e) e = check_cols(&st, path, "out_cols", gf_task_cols(*task), gf_task_dim(*task));
    if (!e) e = meta_int(&st, path, "d_model", 1, 4096, &c.d_model);
    if (!e) e = meta_int(&st, path, "n_layers", 1, 64, &c.n_layers);
    if (!e) e = meta_int(&st, path, "n_heads", 1, 4096, &c.n_heads);
    if (!e) e = meta_int(&st, path, "d_ff", 1, 65536, &c.d_ff);
    if (!e) e = meta_int(&st, path, "max_len", 1, 100000, &c.max_len);
    if (!e) e = meta_int(&st, path, "prenorm", 0, 1, &c.prenorm);
    if (!e) e = meta_int(&st, path, "gelu", 0, 1, &c.gelu);
    if (!e) e = meta_int(&st, path, "kernel", 1, 16, &c.kernel);
    if (!e) {
        const char *d = gf_safetensors_meta(&st, "dropout");
        char *end = NULL;
        double v = d ? strtod(d, &end) : -1;
        if (!d || end == d || *end || !(v >= 0 && v < 1)) e = gf_fail(GF_EFORMAT, "%s: metadata 'dropout' missing or bad", path);
        c.dropout = (float)v;
    }
    gf_model *mm = NULL;
    if (!e) e = gf_model_create(&c, &mm);
    if (!e) {
        gf_err le = gf_safetensors_load_into(&mm->params, &st, path);
        const gf_st_tensor *mu = gf_safetensors_get(&st, "x_mean"), *sd = gf_safetensors_get(&st, "x_std");
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
    if (!e && meta) *meta = json_incref(st.meta);
    gf_safetensors_free(&st);
    if (e) { gf_model_free(mm); return e; }
    *m = mm;
    return GF_OK;
}

gf_err cli_gather(const float *src, size_t row, int n, const int *sel, int want, float **out, int *n_out)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += !sel || sel[i] == want;
    *out = malloc((size_t)(k ? k : 1) * row * sizeof(float));
    if (!*out) return gf_fail(GF_ENOMEM, "out of memory");
    k = 0;
    for (int i = 0; i < n; i++)
        if (!sel || sel[i] == want) memcpy(*out + (size_t)k++ * row, src + (size_t)i * row, row * sizeof(float));
    *n_out = k;
    return GF_OK;
}

int cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

gf_err cli_normalize(gf_model *m, const char *model_path, int own, float *x, int n)
{
    float mean[GF_DIN], sd[GF_DIN];
    if (own) {
        GF_TRY(gf_zscore_stats(x, n, GF_T, GF_DIN, NULL, mean, sd));
    } else {
        if (!m->has_norm)
            return gf_fail(GF_EINVAL, "%s has no normalization statistics (x_mean/x_std); use --norm own", model_path);
        memcpy(mean, m->x_mean, sizeof mean);
        memcpy(sd, m->x_std, sizeof sd);
    }
    gf_zscore_apply(x, x, (size_t)n * GF_T, GF_DIN, mean, sd);
    return GF_OK;
}

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
#include "node/checkpoint.h"
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
    size_t row = (size_t)GF_T * out->D;
    out->y = malloc((size_t)out->n * row * sizeof(float));
    out->ids = malloc((size_t)out->n * sizeof *out->ids);
    out->speeds = malloc((size_t)out->n * sizeof *out->speeds);
    if (!out->y || !out->ids || !out->speeds) { cli_data_free(out); return gf_fail(GF_ENOMEM, "%s: out of memory", path); }
    gf_err te = gf_dataset_targets(&out->ds, out->task, out->y);
    if (te) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gf_errmsg());
        cli_data_free(out);
        return gf_fail(te, "%s: %s", path, msg);
    }
    for (int i = 0; i < out->n; i++) {
        out->ids[i] = out->ds.meta[i].subject_id;
        out->speeds[i] = out->ds.meta[i].speed;
    }
    return GF_OK;
}


gf_err cli_model_load(const char *path, gf_model **m, gf_task *task, json_t **meta)
{
    *m = NULL;
    if (meta) *meta = NULL;
    gf_safetensors st;
    GF_TRY(gf_safetensors_read(path, &st));
    gf_err e = gf_checkpoint_model(&st, path, m, task);
    if (!e && meta) *meta = json_incref(st.meta);
    gf_safetensors_free(&st);
    return e;
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

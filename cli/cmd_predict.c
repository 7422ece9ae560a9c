/* gaitfed predict: model outputs for the cycles of an NPZ holding X
 * (N,180,10) in degrees (columns by in_cols when present). Writes Y
 * (float32, N x 180 x D, in N/kg or N·m/kg: the model's raw output) and
 * out_cols to an NPZ, atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/modelio.h"
#include "model/checkpoint.h"
#include "model/trainer.h"
#include "sites/npz.h"

static const char *USAGE = "gaitfed predict --model M.safetensors --in X.npz --out Y.npz [--norm own|model] [--threads N]";

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *in = NULL, *out = NULL, *norm = "model", *threads_s = NULL;
    cli_opt opts[] = {{"--model", 1, &model}, {"--in", 1, &in}, {"--out", 1, &out}, {"--norm", 1, &norm},
                      {"--threads", 1, &threads_s}};
    int rc = cli_parse("predict", USAGE, argc, argv, opts, 5, NULL, 0, NULL);
    if (rc) return rc;
    if (!model || !in || !out) return cli_usage("predict", USAGE, "--model, --in and --out are required");
    if (strcmp(norm, "own") && strcmp(norm, "model"))
        return cli_usage("predict", USAGE, "--norm: expected own or model, got '%s'", norm);
    long threads = cli_default_threads();
    if (threads_s && (rc = cli_long("predict", USAGE, "--threads", threads_s, 1, 256, &threads))) return rc;

    gf_model *m;
    gf_task task;
    gf_err e = cli_model_load(model, &m, &task, NULL);
    if (e) return cli_fail(e);
    m->threads = (int)threads;
    gf_dataset ds;
    int file_task;
    e = gf_g2h_read(in, &ds, &file_task);
    if (e) { gf_model_free(m); return cli_fail(e); }
    gf_array arr[2];
    memset(arr, 0, sizeof arr);
    const int D = gf_task_dim(task);
    if (ds.n < 1) e = gf_fail(GF_EINVAL, "%s: no cycles", in);
    else if (ds.n > 0x7fffffff / GF_T) e = gf_fail(GF_ERANGE, "%s: too many cycles", in);
    int n = (int)ds.n;
    if (!e) e = cli_normalize(m, model, !strcmp(norm, "own"), ds.x, n);
    int64_t shape[3] = {ds.n, GF_T, D};
    if (!e) e = gf_array_alloc(&arr[0], "Y", GF_DT_F32, 4, 3, shape);
    if (!e) e = gf_predict(m, ds.x, n, GF_T, 64, arr[0].data);
    if (!e) {
        size_t w = 0;
        for (int k = 0; k < D; k++) w = strlen(gf_task_cols(task)[k]) > w ? strlen(gf_task_cols(task)[k]) : w;
        int64_t cs[1] = {D};
        e = gf_array_alloc(&arr[1], "out_cols", GF_DT_STR, 4 * w, 1, cs);
        for (int k = 0; k < D && !e; k++) e = gf_array_set_str(&arr[1], k, gf_task_cols(task)[k]);
    }
    if (!e) e = gf_npz_write(out, arr, 2, 1);
    if (!e)
        fprintf(stderr, "predict: %d cycles -> %s (Y: %s in %s, normalization %s)\n", n, out, gf_task_name(task),
                gf_task_units(task), norm);
    gf_array_free(&arr[0]);
    gf_array_free(&arr[1]);
    gf_dataset_free(&ds);
    gf_model_free(m);
    return e ? cli_fail(e) : 0;
}

/* gaitfed eval: the Gait2Hip metrics of a checkpoint on labelled data (every
 * cycle of the file; subject-level means, per cadence, pooled, per channel)
 * as one JSON object on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/modelio.h"
#include "model/checkpoint.h"
#include "model/metrics.h"
#include "model/trainer.h"

static const char *USAGE = "gaitfed eval --model M.safetensors --data F.npz|SITE.db [--norm own|model] [--threads N]";

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *norm = "model", *threads_s = NULL;
    cli_opt opts[] = {{"--model", 1, &model}, {"--data", 1, &data}, {"--norm", 1, &norm}, {"--threads", 1, &threads_s}};
    int rc = cli_parse("eval", USAGE, argc, argv, opts, 4, NULL, 0, NULL);
    if (rc) return rc;
    if (!model || !data) return cli_usage("eval", USAGE, "--model and --data are required");
    if (strcmp(norm, "own") && strcmp(norm, "model")) return cli_usage("eval", USAGE, "--norm: expected own or model, got '%s'", norm);
    long threads = cli_default_threads();
    if (threads_s && (rc = cli_long("eval", USAGE, "--threads", threads_s, 1, 256, &threads))) return rc;

    gf_model *m;
    gf_task task;
    json_t *meta;
    gf_err e = cli_model_load(model, &m, &task, &meta);
    if (e) return cli_fail(e);
    m->threads = (int)threads;
    cli_data d;
    e = cli_data_load(data, &task, &d);
    if (e) { gf_model_free(m); json_decref(meta); return cli_fail(e); }
    float *pred = malloc((size_t)d.n * GF_T * d.D * sizeof *pred);
    gf_metrics met;
    int have = 0;
    if (!pred) e = gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = cli_normalize(m, model, !strcmp(norm, "own"), d.ds.x, d.n);
    if (!e) e = gf_predict(m, d.ds.x, d.n, GF_T, 64, pred);
    if (!e) e = gf_metrics_compute(&met, pred, d.y, d.n, GF_T, d.D, d.ids, d.speeds);
    have = !e;
    json_t *j = NULL;
    if (!e) {
        j = gf_metrics_to_json(&met, gf_task_cols(task));
        if (!j) e = gf_fail(GF_ENOMEM, "out of memory");
    }
    if (!e) {
        json_object_set_new(j, "model", json_string(model));
        json_object_set_new(j, "data", json_string(data));
        json_object_set_new(j, "task", json_string(gf_task_name(task)));
        json_object_set_new(j, "units", json_string(gf_task_units(task)));
        json_object_set_new(j, "normalization", json_string(norm));
        json_object_set_new(j, "architecture", json_string(gf_arch_name(m->cfg.arch)));
        if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII)) e = gf_fail(GF_EIO, "writing to stdout failed");
        else fputc('\n', stdout);
        if (fflush(stdout)) e = gf_fail(GF_EIO, "writing to stdout failed");
    }
    json_decref(j);
    if (have) gf_metrics_free(&met);
    free(pred);
    cli_data_free(&d);
    json_decref(meta);
    gf_model_free(m);
    return e ? cli_fail(e) : 0;
}

/* gaitfed eval: the Gait2Hip metrics of a checkpoint on labelled data (every
 * cycle of the file; subject-level means, per cadence, pooled, per channel)
 * as one JSON object on stdout. The metrics are node/local's evaluation, the
 * same an evaluator site reports for a cohort; --curves adds the aggregate
 * curves (per channel and frame, mean and SD over all cycles of the
 * prediction and of the reference: gf_local_evaluate_full). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/modelio.h"
#include "node/local.h"

static const char *USAGE = "gaitfed eval --model M.safetensors --data F.npz|SITE.db [--norm own|model] [--curves] [--threads N]";

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *norm = "model", *threads_s = NULL, *curves = NULL;
    cli_opt opts[] = {{"--model", 1, &model}, {"--data", 1, &data}, {"--norm", 1, &norm}, {"--threads", 1, &threads_s},
                      {"--curves", 0, &curves}};
    int rc = cli_parse("eval", USAGE, argc, argv, opts, 5, NULL, 0, NULL);
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
    gf_local_norm nm = {.own = !strcmp(norm, "own"), .label = norm};
    if (!nm.own && !m->has_norm)
        e = gf_fail(GF_EINVAL, "%s has no normalization statistics (x_mean/x_std); use --norm own", model);
    if (!e && !nm.own) {
        memcpy(nm.mean, m->x_mean, sizeof nm.mean);
        memcpy(nm.sd, m->x_std, sizeof nm.sd);
    }
    json_t *j = NULL;
    if (!e) e = gf_local_evaluate_full(m, &d.ds, task, &nm, model, data, curves != NULL, &j);
    if (!e) {
        if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII)) e = gf_fail(GF_EIO, "writing to stdout failed");
        else fputc('\n', stdout);
        if (fflush(stdout)) e = gf_fail(GF_EIO, "writing to stdout failed");
    }
    json_decref(j);
    cli_data_free(&d);
    json_decref(meta);
    gf_model_free(m);
    return e ? cli_fail(e) : 0;
}

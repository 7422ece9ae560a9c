/* gaitfed demo [--out DIR] [--rounds N] [--model transformer|lstm|gru|tcn]
 * [--initial-model M.safetensors]:
 * a whole federation on this machine, from nothing. It synthesizes the cohort,
 * creates a consortium PKI, starts the coordinator, one node per synthetic
 * hospital and one evaluator as separate processes on 127.0.0.1 (ephemeral
 * port), prints one line per round (sites, loss, healthy-test and ONFH
 * subject-level RMSE and R²), stops every process and writes DIR/summary.json
 * next to the coordinator database (DIR/coordinator.db). Logs: DIR/logs/.
 * With --initial-model the federation is warm-started from that checkpoint
 * (checked before anything starts; architecture and task are its). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/fedrun.h"
#include "cli/modelio.h"
#include "coordinator/report.h"
#include "common/fileio.h"

static const char *USAGE =
    "gaitfed demo [--out DIR (./demo-out)] [--rounds N (15)] [--model transformer|lstm|gru|tcn] [--plain]\n"
    "             [--local-epochs E (2)] [--batch B (16)] [--lr X (1e-3)]\n"
    "             [--strategy fedavg|fedprox|fedadam|fedyogi|fedadagrad] [--server-lr X (1.5)]\n"
    "             [--normalization own|global|model] [--initial-model M.safetensors]";

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "gaitfed demo: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int cmd_demo(int argc, char **argv)
{
    const char *out = "demo-out", *rounds_s = NULL, *model = NULL, *plain = NULL, *epochs_s = NULL,
               *batch_s = NULL, *lr_s = NULL, *strategy = "fedavg", *slr_s = NULL,
               *norm = "own", *initial = NULL;
    cli_opt opts[] = {{"--out", 1, &out},         {"--rounds", 1, &rounds_s},     {"--model", 1, &model},
                      {"--plain", 0, &plain},     {"--local-epochs", 1, &epochs_s}, {"--batch", 1, &batch_s},
                      {"--lr", 1, &lr_s},         {"--strategy", 1, &strategy}, {"--server-lr", 1, &slr_s},
                      {"--normalization", 1, &norm}, {"--initial-model", 1, &initial}};
    int rc = cli_parse("demo", USAGE, argc, argv, opts, 11, NULL, 0, NULL);
    if (rc) return rc;
    long rounds = 15, epochs = 2, batch = 16;
    double lr = 1e-3;
    if (rounds_s && (rc = cli_long("demo", USAGE, "--rounds", rounds_s, 1, 1000, &rounds))) return rc;
    if (epochs_s && (rc = cli_long("demo", USAGE, "--local-epochs", epochs_s, 1, 1000, &epochs))) return rc;
    if (batch_s && (rc = cli_long("demo", USAGE, "--batch", batch_s, 1, 4096, &batch))) return rc;
    if (lr_s && (rc = cli_double("demo", USAGE, "--lr", lr_s, 1e-9, 10, &lr))) return rc;
    /* FedAvg with a server step of 1.5 (θ += 1.5·Δ̄): chosen on the sites' own
     * validation subjects among 1.0, 1.5, 2.0 and FedAdam (README). */
    double server_lr = strcmp(strategy, "fedavg") && strcmp(strategy, "fedprox") ? 0 : 1.5; /* 0: the strategy's default */
    if (slr_s && (rc = cli_double("demo", USAGE, "--server-lr", slr_s, 1e-9, 100, &server_lr))) return rc;
    if (strcmp(norm, "own") && strcmp(norm, "global") && strcmp(norm, "model"))
        return cli_usage("demo", USAGE, "--normalization: expected own, global or model, got '%s'", norm);
    if (!strcmp(norm, "global") && plain)
        return cli_usage("demo", USAGE, "--normalization global pools statistics through secure aggregation: drop --plain");
    if (!strcmp(norm, "model") && !initial)
        return cli_usage("demo", USAGE, "--normalization model uses the initial model's statistics: add --initial-model");
    if (model && strcmp(model, "transformer") && strcmp(model, "lstm") && strcmp(model, "gru") && strcmp(model, "tcn"))
        return cli_usage("demo", USAGE, "--model: unknown model '%s'", model);
    char arch[16] = "transformer";
    if (model) snprintf(arch, sizeof arch, "%s", model);
    if (initial) { /* checked before anything starts, as the coordinator will check it */
        gf_model *m = NULL;
        gf_task task;
        if (cli_model_load(initial, &m, &task, NULL)) return fail("%s", gf_errmsg());
        const char *ka = gf_arch_name(m->cfg.arch);
        int no_stats = !m->has_norm;
        gf_model_free(m);
        if (model && strcmp(model, ka)) {
            char why[96];
            snprintf(why, sizeof why, "--model %s, but the initial model is a %s", model, ka);
            return fail("%s", why);
        }
        if (!strcmp(norm, "model") && no_stats)
            return fail("%s carries no x_mean/x_std: --normalization model needs them", initial);
        snprintf(arch, sizeof arch, "%s", ka);
    }
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/.gaitfed-demo", out);
    struct stat st;
    if (stat(out, &st) == 0) { /* re-running replaces an earlier demo, never anything else */
        if (stat(marker, &st) != 0) return fail("%s exists and is not a gaitfed demo directory; choose another --out", out);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", out);
        if (strchr(out, '\'') || system(cmd) != 0) return fail("cannot remove the earlier demo in %s", out);
    }
    if (gf_mkdirs(out, 0) || gf_write_file_atomic(marker, "gaitfed demo\n", 13)) return fail("cannot create %s", out);
    gf_fedrun_opts o = {.out = out,
                        .rounds = rounds,
                        .local_epochs = epochs,
                        .batch = batch,
                        .lr = lr,
                        .strategy = strategy,
                        .server_lr = server_lr,
                        .normalization = norm,
                        .initial_model = initial,
                        .secure = !plain,
                        .arch = arch,
                        .consortium = "gaitfed-demo",
                        .prefix = "gaitfed demo",
                        .progress = 1};
    gf_fedrun_result r;
    if (gf_fedrun(&o, &r)) return 1;
    char rep[4200];
    snprintf(rep, sizeof rep, "%s/report", out);
    if (gf_report_write(r.db, rep)) return fail("report: %s", gf_errmsg());
    printf("gaitfed demo: %lld rounds with %s aggregation in %.0f s; %s/summary.json, %s and the report %s/index.html\n",
           r.rounds_completed, plain ? "PLAIN" : "secure", r.seconds, out, r.db, rep);
    return 0;
}

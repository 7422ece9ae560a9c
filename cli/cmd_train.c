/* gaitfed train: the Gait2Hip-60 protocol (docs/ARCHITECTURE.md) on one data set.
 *   1. seeded subject-wise hold-out of 20 % of the subjects (test);
 *   2. k-fold group-by-subject cross-validation on the remaining pool, each
 *      fold trained with early stopping on its validation subjects (inputs
 *      z-scored with the fold's training frames);
 *   3. a final model trained on the whole pool (inputs z-scored with the
 *      pool's frames, stored as x_mean/x_std) for the median best epoch of
 *      the folds (--folds 0: for --epochs epochs);
 *   4. one evaluation on the test subjects: per-cadence table on stdout, the
 *      checkpoint at --out and a JSON report next to it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/modelio.h"
#include "model/checkpoint.h"
#include "common/fileio.h"
#include "common/idlist.h"
#include "common/log.h"
#include "common/rng.h"
#include "model/metrics.h"
#include "model/protocol.h"
#include "model/safetensors.h"
#include "model/trainer.h"

static const char *USAGE =
    "gaitfed train --data F.npz|SITE.db [--model transformer|lstm|gru|tcn] [--task forces|moments] [--epochs N]\n"
    "              [--folds K (0: no cross-validation)] [--patience N] [--batch N] [--lr X] [--seed N] [--threads N]\n"
    "              [--out M.safetensors] [--d-model N] [--layers N] [--heads N] [--ff N] [--dropout X]\n"
    "              [--kernel N (tcn)] [--test-subjects ID,ID,...|@FILE]";

static uint64_t sub_seed(uint64_t seed, uint64_t stream)
{
    gf_rng r;
    gf_rng_derive(&r, seed, stream);
    return gf_rng_u64(&r);
}

typedef struct {
    const char *stage;  /* "fold 2/5" or "final" */
} progress_ctx;

static void on_epoch(void *ctx, const gf_epoch_info *in)
{
    const progress_ctx *p = ctx;
    if (isnan(in->val_loss))
        gf_progress("train %s  epoch %d/%d  train MSE %.5g", p->stage, in->epoch, in->max_epochs, in->train_loss);
    else
        gf_progress("train %s  epoch %d/%d  train MSE %.5g  val MSE %.5g  best %.5g @ %d", p->stage, in->epoch,
                    in->max_epochs, in->train_loss, in->val_loss, in->best_val, in->best_epoch);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A float parameter as the short decimal it was given as (0.1, not 0.100000001). */
static double f2d(float f)
{
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)f);
    return strtod(b, NULL);
}

static json_t *loss_array(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

static void print_table(const gf_metrics *m, const char *const *names, const char *units)
{
    printf("\ntest metrics (%s; subject-level mean over %d subjects, %d cycles)\n", units, m->n_subjects, m->n_cycles);
    printf("  %-8s %6s %8s | %9s %9s %8s | %11s %10s %9s\n", "cadence", "cycles", "subjects", "RMSE", "MAE", "R2",
           "pooled RMSE", "pooled MAE", "pooled R2");
    for (int c = 0; c <= m->n_cadences; c++) {
        int all = c == m->n_cadences;
        const char *lab = all ? "all" : m->cadences[c].label;
        int nc = all ? m->n_cycles : m->cadences[c].n_cycles, ns = all ? m->n_subjects : m->cadences[c].n_subjects;
        const gf_errstats *s = all ? &m->subject_mean : &m->cadences[c].subject_mean;
        const gf_errstats *p = all ? &m->pooled : &m->cadences[c].pooled;
        printf("  %-8s %6d %8d | %9.4f %9.4f %8.4f | %11.4f %10.4f %9.4f\n", lab, nc, ns, s->rmse, s->mae, s->r2,
               p->rmse, p->mae, p->r2);
    }
    printf("\n  %-24s %8s %8s %8s %9s\n", "channel (pooled)", "R2", "r", "NRMSE", "RMSE");
    for (int d = 0; d < m->D; d++) {
        const gf_metrics_channel *ch = &m->channels[d];
        printf("  %-24s %8.4f %8.4f %8.4f %9.4f\n", names[d], ch->r2, ch->pearson_r, ch->nrmse, ch->rmse);
    }
}

/* Creates and initializes a model for one training run. */
static gf_err new_model(const gf_model_config *c, int threads, uint64_t seed, gf_model **m)
{
    GF_TRY(gf_model_create(c, m));
    (*m)->threads = threads;
    gf_err e = gf_model_init(*m, seed);
    if (e) { gf_model_free(*m); *m = NULL; }
    return e;
}

typedef struct {
    int best_epoch, epochs_run, stopped_early, n_train, n_val, val_subjects;
    double best_val;
} fold_result;

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Distinct ids among the rows with sel[i] == want (-1 when out of memory). */
static int count_subjects(const char *const *ids, const int *sel, int want, int n)
{
    const char **t = malloc((size_t)(n ? n : 1) * sizeof *t);
    if (!t) return -1;
    int k = 0, c = 0;
    for (int i = 0; i < n; i++)
        if (sel[i] == want) t[k++] = ids[i];
    qsort(t, (size_t)k, sizeof *t, cmp_str);
    for (int i = 0; i < k; i++) c += !i || strcmp(t[i - 1], t[i]);
    free(t);
    return c;
}

/* The distinct ids of n cycles, sorted, as a JSON array (NULL on ENOMEM). */
static json_t *distinct_ids(const char *const *ids, int n)
{
    const char **t = malloc((size_t)(n ? n : 1) * sizeof *t);
    json_t *a = json_array();
    if (!t || !a) { free(t); json_decref(a); return NULL; }
    memcpy(t, ids, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_str);
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (!i || strcmp(t[i - 1], t[i])) bad |= json_array_append_new(a, json_string(t[i]));
    free(t);
    if (bad) { json_decref(a); return NULL; }
    return a;
}

int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *model_s = "transformer", *task_s = NULL, *epochs_s = "300", *folds_s = "5",
               *patience_s = "30", *batch_s = "64", *lr_s = "1e-4", *seed_s = "0", *threads_s = NULL,
               *out = "model.safetensors", *dm_s = NULL, *layers_s = NULL, *heads_s = NULL, *ff_s = NULL,
               *dropout_s = NULL, *kernel_s = NULL, *test_s = NULL;
    cli_opt opts[] = {{"--data", 1, &data},       {"--model", 1, &model_s},   {"--task", 1, &task_s},
                      {"--epochs", 1, &epochs_s}, {"--folds", 1, &folds_s},   {"--patience", 1, &patience_s},
                      {"--batch", 1, &batch_s},   {"--lr", 1, &lr_s},         {"--seed", 1, &seed_s},
                      {"--threads", 1, &threads_s}, {"--out", 1, &out},       {"--d-model", 1, &dm_s},
                      {"--layers", 1, &layers_s}, {"--heads", 1, &heads_s},   {"--ff", 1, &ff_s},
                      {"--dropout", 1, &dropout_s}, {"--kernel", 1, &kernel_s}, {"--test-subjects", 1, &test_s}};
    int rc = cli_parse("train", USAGE, argc, argv, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    if (!data) return cli_usage("train", USAGE, "--data is required");
    gf_arch arch;
    if (gf_arch_parse(model_s, &arch)) return cli_usage("train", USAGE, "%s", gf_errmsg());
    gf_task task_opt;
    if (task_s && gf_task_parse(task_s, &task_opt)) return cli_usage("train", USAGE, "%s", gf_errmsg());
    long epochs, folds, patience, batch, seed, threads = cli_default_threads(), v;
    double lr, dv;
    if ((rc = cli_long("train", USAGE, "--epochs", epochs_s, 1, 100000, &epochs))) return rc;
    if ((rc = cli_long("train", USAGE, "--folds", folds_s, 0, 100, &folds))) return rc;
    if (folds == 1) return cli_usage("train", USAGE, "--folds: 0 (no cross-validation) or at least 2");
    if ((rc = cli_long("train", USAGE, "--patience", patience_s, 0, 100000, &patience))) return rc;
    if ((rc = cli_long("train", USAGE, "--batch", batch_s, 1, 4096, &batch))) return rc;
    if ((rc = cli_double("train", USAGE, "--lr", lr_s, 1e-12, 10, &lr))) return rc;
    if ((rc = cli_long("train", USAGE, "--seed", seed_s, 0, 0x7fffffffL, &seed))) return rc;
    if (threads_s && (rc = cli_long("train", USAGE, "--threads", threads_s, 1, 256, &threads))) return rc;

    const int D_probe = task_s ? gf_task_dim(task_opt) : GF_NF;
    gf_model_config cfg = gf_model_config_default(arch, GF_DIN, D_probe);
    if (dm_s) { if ((rc = cli_long("train", USAGE, "--d-model", dm_s, 1, 4096, &v))) return rc; cfg.d_model = (int)v; }
    if (layers_s) { if ((rc = cli_long("train", USAGE, "--layers", layers_s, 1, 64, &v))) return rc; cfg.n_layers = (int)v; }
    if (heads_s) { if ((rc = cli_long("train", USAGE, "--heads", heads_s, 1, 4096, &v))) return rc; cfg.n_heads = (int)v; }
    if (ff_s) { if ((rc = cli_long("train", USAGE, "--ff", ff_s, 1, 65536, &v))) return rc; cfg.d_ff = (int)v; }
    if (kernel_s) {
        if (arch != GF_ARCH_TCN) return cli_usage("train", USAGE, "--kernel applies to --model tcn only");
        if ((rc = cli_long("train", USAGE, "--kernel", kernel_s, 2, 16, &v))) return rc;
        cfg.kernel = (int)v;
    }
    if (dropout_s) { if ((rc = cli_double("train", USAGE, "--dropout", dropout_s, 0, 0.99, &dv))) return rc; cfg.dropout = (float)dv; }

    { /* an unwritable --out fails now, not after hours of training */
        const char *slash = strrchr(out, '/');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1, slash ? out : ".");
        if (!*out || (slash && !slash[1])) return cli_usage("train", USAGE, "--out: '%s' is not a file name", out);
        if (access(dir, W_OK)) {
            fprintf(stderr, "gaitfed train: --out %s: directory %s is missing or not writable\n", out, dir);
            return 1;
        }
    }
    char **named = NULL; /* --test-subjects */
    int n_named = 0;
    gf_err e = test_s ? cli_id_list("--test-subjects", test_s, &named, &n_named) : GF_OK;
    if (e) return cli_fail(e);
    cli_data d;
    e = cli_data_load(data, task_s ? &task_opt : NULL, &d);
    if (e) { gf_idlist_free(named, n_named); return cli_fail(e); }
    cfg.d_out = d.D;
    { /* configuration errors before any work */
        gf_model *probe;
        e = gf_model_create(&cfg, &probe);
        gf_model_free(probe);
        if (e) { cli_data_free(&d); return cli_fail(e); }
    }
    const double t0 = now_s();
    const int n = d.n, D = d.D;
    const size_t rx = (size_t)GF_T * GF_DIN, ry = (size_t)GF_T * D;

    /* 1. hold-out */
    unsigned char *is_test = malloc((size_t)n);
    int *sel = malloc((size_t)n * sizeof *sel);
    float *pool_x = NULL, *pool_y = NULL, *test_x = NULL, *test_y = NULL, *pred = NULL;
    const char **pool_ids = NULL, **test_ids = NULL, **test_speeds = NULL;
    int *fold = NULL, *best_epochs = NULL;
    fold_result *fr = NULL;
    gf_model *m = NULL;
    gf_train_result tr = {0};
    gf_metrics met;
    memset(&met, 0, sizeof met);
    int have_met = 0, n_pool_subj = 0, n_pool = 0, n_test = 0, n_test_subj = 0, chosen = (int)epochs;
    json_t *meta = NULL, *report = NULL, *test_list = NULL;
    if (!is_test || !sel) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    if (named && (e = gf_split_named(d.ids, n, (const char *const *)named, n_named, is_test, &n_test_subj))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gf_errmsg());
        e = gf_fail(e, "--test-subjects: %s (%s)", msg, data);
        goto done;
    }
    if (!named && (e = gf_split_holdout(d.ids, n, 0.2, (uint64_t)seed, is_test, &n_test_subj))) goto done;
    for (int i = 0; i < n; i++) sel[i] = is_test[i];
    if ((e = cli_gather(d.ds.x, rx, n, sel, 0, &pool_x, &n_pool))) goto done;
    if ((e = cli_gather(d.y, ry, n, sel, 0, &pool_y, &n_pool))) goto done;
    if ((e = cli_gather(d.ds.x, rx, n, sel, 1, &test_x, &n_test))) goto done;
    if ((e = cli_gather(d.y, ry, n, sel, 1, &test_y, &n_test))) goto done;
    pool_ids = malloc((size_t)n_pool * sizeof *pool_ids);
    test_ids = malloc((size_t)n_test * sizeof *test_ids);
    test_speeds = malloc((size_t)n_test * sizeof *test_speeds);
    if (!pool_ids || !test_ids || !test_speeds) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    for (int i = 0, a = 0, b = 0; i < n; i++) {
        if (is_test[i]) { test_ids[b] = d.ids[i]; test_speeds[b++] = d.speeds[i]; }
        else pool_ids[a++] = d.ids[i];
    }
    n_pool_subj = count_subjects(d.ids, sel, 0, n);
    printf("train: %s, %d cycles (%s, %s): pool %d subjects / %d cycles, test %d subjects / %d cycles (%s, seed %ld)\n",
           data, n, gf_task_name(d.task), gf_task_units(d.task), n_pool_subj, n_pool,
           n_test_subj, n_test, named ? "named test subjects" : "seeded 20 % hold-out", seed);
    if (!(test_list = distinct_ids(test_ids, n_test))) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    char extra[64] = "";
    if (arch == GF_ARCH_TRANSFORMER) snprintf(extra, sizeof extra, ", %d heads, FFN %d", cfg.n_heads, cfg.d_ff);
    if (arch == GF_ARCH_TCN) /* receptive field 1 + 2 (K-1) (2^L - 1) samples */
        snprintf(extra, sizeof extra, ", kernel %d, receptive field %.0f samples", cfg.kernel,
                 1 + 2.0 * (cfg.kernel - 1) * (ldexp(1.0, cfg.n_layers) - 1));
    printf("model: %s d_model %d, %d layers%s, dropout %g; AdamW lr %g, wd %g, batch %ld, clip 0.5; %ld threads\n",
           gf_arch_name(arch), cfg.d_model, cfg.n_layers, extra, cfg.dropout, lr,
           gf_adamw_defaults().weight_decay, batch, threads);
    fflush(stdout);

    gf_train_config tc = gf_train_defaults();
    tc.max_epochs = (int)epochs;
    tc.patience = (int)patience;
    tc.batch = (int)batch;
    tc.opt.lr = (float)lr;
    tc.on_epoch = on_epoch;
    char stage[64];
    progress_ctx pc = {stage};
    tc.ctx = &pc;

    /* 2. cross-validation on the pool */
    if (folds) {
        fold = malloc((size_t)n_pool * sizeof *fold);
        best_epochs = malloc((size_t)folds * sizeof *best_epochs);
        fr = calloc((size_t)folds, sizeof *fr);
        if (!fold || !best_epochs || !fr) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
        if ((e = gf_split_kfold(pool_ids, n_pool, NULL, (int)folds, (uint64_t)seed, fold))) goto done;
        unsigned char *use = malloc((size_t)n_pool);
        if (!use) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
        for (int f = 0; f < folds && !e; f++) {
            float *xt = NULL, *yt = NULL, *xv = NULL, *yv = NULL, mean[GF_DIN], sd[GF_DIN];
            int nt = 0, nv = 0;
            for (int i = 0; i < n_pool; i++) use[i] = fold[i] != f;
            e = gf_zscore_stats(pool_x, n_pool, GF_T, GF_DIN, use, mean, sd);
            for (int i = 0; i < n_pool; i++) sel[i] = fold[i] == f; /* 0 train, 1 validation */
            if (!e) e = cli_gather(pool_x, rx, n_pool, sel, 0, &xt, &nt);
            if (!e) e = cli_gather(pool_y, ry, n_pool, sel, 0, &yt, &nt);
            if (!e) e = cli_gather(pool_x, rx, n_pool, sel, 1, &xv, &nv);
            if (!e) e = cli_gather(pool_y, ry, n_pool, sel, 1, &yv, &nv);
            if (!e) {
                gf_zscore_apply(xt, xt, (size_t)nt * GF_T, GF_DIN, mean, sd);
                gf_zscore_apply(xv, xv, (size_t)nv * GF_T, GF_DIN, mean, sd);
                e = new_model(&cfg, (int)threads, sub_seed((uint64_t)seed, 100 + (uint64_t)f), &m);
            }
            if (!e) {
                snprintf(stage, sizeof stage, "fold %d/%ld", f + 1, folds);
                tc.seed = sub_seed((uint64_t)seed, 200 + (uint64_t)f);
                e = gf_train(m, xt, yt, nt, GF_T, xv, yv, nv, &tc, &tr);
                gf_progress_done();
            }
            if (!e) {
                fr[f] = (fold_result){tr.best_epoch, tr.n_epochs, tr.stopped_early, nt, nv,
                                      count_subjects(pool_ids, sel, 1, n_pool), tr.best_val};
                best_epochs[f] = tr.best_epoch;
                printf("fold %d/%ld: %d validation subjects (%d cycles), best epoch %d, val MSE %.6g%s after %d epochs\n",
                       f + 1, folds, fr[f].val_subjects, nv, tr.best_epoch, tr.best_val,
                       tr.stopped_early ? " (early stop)" : "", tr.n_epochs);
                fflush(stdout);
            }
            gf_train_result_free(&tr);
            gf_model_free(m);
            m = NULL;
            free(xt); free(yt); free(xv); free(yv);
        }
        free(use);
        if (e) goto done;
        int *tmp = malloc((size_t)folds * sizeof *tmp);
        if (!tmp) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
        memcpy(tmp, best_epochs, (size_t)folds * sizeof *tmp);
        chosen = gf_median_int(tmp, (int)folds);
        free(tmp);
        printf("cross-validation: median best epoch %d\n", chosen);
    }

    /* 3. final model on the whole pool */
    float mean[GF_DIN], sd[GF_DIN];
    if ((e = gf_zscore_stats(pool_x, n_pool, GF_T, GF_DIN, NULL, mean, sd))) goto done;
    gf_zscore_apply(pool_x, pool_x, (size_t)n_pool * GF_T, GF_DIN, mean, sd);
    if ((e = new_model(&cfg, (int)threads, sub_seed((uint64_t)seed, 1), &m))) goto done;
    snprintf(stage, sizeof stage, "final");
    tc.max_epochs = chosen;
    tc.seed = sub_seed((uint64_t)seed, 2);
    e = gf_train(m, pool_x, pool_y, n_pool, GF_T, NULL, NULL, 0, &tc, &tr);
    gf_progress_done();
    if (e) goto done;
    printf("final: %d epochs on %d pool cycles, last train MSE %.6g\n", tr.n_epochs, n_pool, tr.train_loss[tr.n_epochs - 1]);

    /* 4. test */
    gf_zscore_apply(test_x, test_x, (size_t)n_test * GF_T, GF_DIN, mean, sd);
    pred = malloc((size_t)n_test * ry * sizeof *pred);
    if (!pred) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    if ((e = gf_predict(m, test_x, n_test, GF_T, (int)batch, pred))) goto done;
    if ((e = gf_metrics_compute(&met, pred, test_y, n_test, GF_T, D, test_ids, test_speeds))) goto done;
    have_met = 1;

    memcpy(m->x_mean, mean, sizeof mean);
    memcpy(m->x_std, sd, sizeof sd);
    m->has_norm = 1;
    meta = gf_checkpoint_meta(&cfg, d.task);
    if (!meta) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    if (!e) e = gf_meta_set(meta, "seed", "%ld", seed);
    if (!e) e = gf_meta_set(meta, "epochs", "%d", tr.n_epochs);
    if (!e) e = gf_meta_set(meta, "folds", "%ld", folds);
    if (!e) e = gf_meta_set(meta, "patience", "%ld", patience);
    if (!e) e = gf_meta_set(meta, "batch", "%ld", batch);
    if (!e) e = gf_meta_set(meta, "lr", "%.9g", lr);
    if (!e) e = gf_meta_set(meta, "weight_decay", "%.9g", tc.opt.weight_decay);
    if (!e) e = gf_meta_set(meta, "clip", "%.9g", tc.clip);
    if (!e) e = gf_meta_set(meta, "loss", "mse");
    if (!e) e = gf_meta_set(meta, "normalization", "own");
    if (!e) e = gf_meta_set(meta, "protocol", "gait2hip-60: %s, %ld-fold group CV, median best epoch",
                            named ? "named test subjects" : "20% subject hold-out", folds);
    if (!e) {
        char *tl = json_dumps(test_list, JSON_COMPACT);
        e = tl ? gf_meta_set(meta, "test_subjects", "%s", tl) : gf_fail(GF_ENOMEM, "out of memory");
        free(tl);
    }
    if (e) goto done;
    if ((e = gf_safetensors_save_model(out, m, meta))) goto done;

    /* report */
    report = json_object();
    json_t *cv = json_object(), *pf = json_array();
    json_t *tm = gf_metrics_to_json(&met, gf_task_cols(d.task));
    if (!report || !cv || !pf || !tm) {
        json_decref(cv); json_decref(pf); json_decref(tm);
        e = gf_fail(GF_ENOMEM, "out of memory");
        goto done;
    }
    for (int f = 0; f < folds; f++) {
        json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:b}", "fold", f + 1, "train_cycles", fr[f].n_train,
                              "val_cycles", fr[f].n_val, "val_subjects", fr[f].val_subjects, "best_epoch",
                              fr[f].best_epoch, "best_val_loss", fr[f].best_val, "epochs_run", fr[f].epochs_run,
                              "stopped_early", fr[f].stopped_early);
        if (o) json_array_append_new(pf, o);
    }
    json_object_set_new(cv, "folds", json_integer(folds));
    json_object_set_new(cv, "per_fold", pf);
    json_object_set_new(cv, "median_best_epoch", folds ? json_integer(chosen) : json_null());
    json_object_set_new(report, "model", json_string(gf_arch_name(arch)));
    json_object_set_new(report, "checkpoint", json_string(out));
    json_object_set_new(report, "data", json_string(data));
    json_object_set_new(report, "task", json_string(gf_task_name(d.task)));
    json_object_set_new(report, "units", json_string(gf_task_units(d.task)));
    json_object_set_new(report, "seed", json_integer(seed));
    json_object_set_new(report, "hyperparameters",
                        json_pack("{s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:f, s:i, s:i}", "d_model", cfg.d_model,
                                  "n_layers", cfg.n_layers, "n_heads", cfg.n_heads, "d_ff", cfg.d_ff, "dropout",
                                  f2d(cfg.dropout), "lr", lr, "weight_decay", f2d(tc.opt.weight_decay), "batch",
                                  (int)batch, "clip", f2d(tc.clip), "max_epochs", (int)epochs, "patience",
                                  (int)patience));
    json_object_set_new(report, "split", json_pack("{s:o, s:s, s:i, s:i, s:i, s:i, s:O}", "test_fraction",
                                                   named ? json_null() : json_real(0.2), "test_selection",
                                                   named ? "named" : "seeded", "pool_cycles", n_pool, "test_cycles",
                                                   n_test, "test_subjects", n_test_subj, "pool_subjects", n_pool_subj,
                                                   "test_subject_ids", test_list));
    json_object_set_new(report, "cross_validation", cv);
    json_object_set_new(report, "chosen_epochs", json_integer(chosen));
    json_object_set_new(report, "final_train_loss", loss_array(tr.train_loss, tr.n_epochs));
    json_object_set_new(report, "test", tm);
    json_object_set_new(report, "seconds", json_real(now_s() - t0));

    size_t ol = strlen(out);
    const char *sfx = ".safetensors";
    size_t sl = strlen(sfx);
    size_t base = ol >= sl && !strcmp(out + ol - sl, sfx) ? ol - sl : ol;
    char *jpath = malloc(base + 32);
    if (!jpath) { e = gf_fail(GF_ENOMEM, "out of memory"); goto done; }
    snprintf(jpath, base + 32, "%.*s.metrics.json", (int)base, out);
    char *txt = json_dumps(report, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (!txt) e = gf_fail(GF_ENOMEM, "out of memory");
    else e = gf_write_file_atomic(jpath, txt, strlen(txt));
    free(txt);
    if (!e) {
        print_table(&met, gf_task_cols(d.task), gf_task_units(d.task));
        printf("\nmodel -> %s\nreport -> %s (%.1f s)\n", out, jpath, now_s() - t0);
    }
    free(jpath);

done:
    gf_progress_done();
    if (have_met) gf_metrics_free(&met);
    gf_train_result_free(&tr);
    gf_model_free(m);
    json_decref(meta);
    json_decref(report);
    json_decref(test_list);
    gf_idlist_free(named, n_named);
    free(is_test); free(sel); free(pool_x); free(pool_y); free(test_x); free(test_y); free(pred);
    free(pool_ids); free(test_ids); free(test_speeds); free(fold); free(best_epochs); free(fr);
    cli_data_free(&d);
    return e ? cli_fail(e) : 0;
}

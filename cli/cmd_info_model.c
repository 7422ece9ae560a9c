/* gaitfed info M.safetensors: what a checkpoint holds. It is read exactly as
 * `eval` and `predict` read it (cli_model_load: metadata checked, every
 * tensor loaded strictly), so a checkpoint info describes is one they run. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/modelio.h"
#include "model/checkpoint.h"

/* Metadata shown in the summary lines (gf_checkpoint_meta's keys). */
static const char *const CORE[] = {"format", "model", "d_in", "d_out", "d_model", "n_layers", "n_heads", "d_ff",
                                   "max_len", "prenorm", "gelu", "dropout", "kernel", "task", "units", "in_units",
                                   "in_cols", "out_cols", "frames", NULL};

static int in_list(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(k, *list)) return 1;
    return 0;
}

/* Where a model comes from (tools/convert_gait2hip.py writes these). */
static int is_provenance(const char *k)
{
    static const char *const KEYS[] = {"license", "converted_by", "test_subjects", NULL};
    return !strncmp(k, "source", 6) || !strncmp(k, "published_", 10) || in_list(k, KEYS);
}

static void print_cols(const char *label, const char *const *cols, int n)
{
    printf("%s", label);
    for (int i = 0; i < n; i++) printf(" %s", cols[i]);
    printf("\n");
}

/* s with control characters shown as '?' (metadata is text from a file). */
static void print_text(const char *s)
{
    for (; s && *s; s++) putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* The metadata outside the summary that is (provenance 1) or is not (0) provenance,
 * "  key: value" in file order under title. */
static void print_meta(const char *title, json_t *meta, int provenance)
{
    const char *k;
    json_t *v;
    int any = 0;
    json_object_foreach(meta, k, v) {
        if (in_list(k, CORE) || is_provenance(k) != provenance) continue;
        if (!any++) printf("%s:\n", title);
        printf("  ");
        print_text(k);
        printf(": ");
        print_text(json_string_value(v));
        printf("\n");
    }
}

int info_model(const char *path)
{
    gf_model *m;
    gf_task task;
    json_t *meta;
    gf_err e = cli_model_load(path, &m, &task, &meta);
    if (e) return cli_fail(e);
    const gf_model_config *c = &m->cfg;
    const char *fmt = json_string_value(json_object_get(meta, "format"));
    printf("%s: gaitfed checkpoint (", path);
    print_text(fmt ? fmt : "no format key");
    printf(")\n");
    printf("model: %s, ", gf_arch_name(c->arch));
    switch (c->arch) {
    case GF_ARCH_TRANSFORMER:
        printf("d_model %d, %d %s encoder layers, %d heads, d_ff %d, %s, %d learned positions", c->d_model,
               c->n_layers, c->prenorm ? "pre-norm" : "post-norm", c->n_heads, c->d_ff, c->gelu ? "GELU" : "ReLU",
               c->max_len);
        break;
    case GF_ARCH_TCN:
        printf("%d channels, %d residual blocks, kernel %d", c->d_model, c->n_layers, c->kernel);
        break;
    default:
        printf("hidden %d, %d layers", c->d_model, c->n_layers);
    }
    printf(", dropout %g (training only)\n", c->dropout);
    printf("parameters: %zu in %d tensors\n", gf_arena_numel(&m->params), m->params.n);
    const int D = gf_task_dim(task);
    printf("task: %s, %d outputs in %s; inputs %d channels in degrees, %d frames per cycle\n", gf_task_name(task), D,
           gf_task_units(task), GF_DIN, GF_T);
    print_cols("inputs:", gf_in_cols, GF_DIN);
    print_cols("outputs:", gf_task_cols(task), D);
    if (m->has_norm) {
        printf("normalization statistics (x_mean, x_std; --norm model):\n");
        for (int i = 0; i < GF_DIN; i++) printf("  %-16s %15.9g %15.9g\n", gf_in_cols[i], m->x_mean[i], m->x_std[i]);
    } else {
        printf("normalization statistics: none (use --norm own)\n");
    }
    print_meta("provenance", meta, 1);
    print_meta("training", meta, 0);
    json_decref(meta);
    gf_model_free(m);
    return 0;
}

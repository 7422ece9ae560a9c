/* libFuzzer target for config files: the strict JSON reader (common/config)
 * through the coordinator's config parser. Any input must give GF_OK or a
 * one-line error, never a crash or a leak. The config is parsed as if it
 * lived in a directory holding warm.safetensors (a small Transformer with
 * x_mean/x_std), so "initial_model": "warm.safetensors" reaches the checks
 * of a checkpoint against "model", "task" and "normalization". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/config.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

static char name[1100] = "fuzz.json";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gaitfed-fuzz-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return 0;
    gf_model_config mc = gf_model_config_default(GF_ARCH_TRANSFORMER, GF_DIN, gf_task_dim(GF_TASK_FORCES));
    mc.d_model = 16, mc.n_layers = 1, mc.n_heads = 2, mc.d_ff = 32;
    gf_model *m = NULL;
    json_t *meta = gf_checkpoint_meta(&mc, GF_TASK_FORCES);
    char path[1100];
    snprintf(path, sizeof path, "%s/warm.safetensors", dir);
    if (meta && !gf_model_create(&mc, &m) && !gf_model_init(m, 1)) {
        m->has_norm = 1;
        for (int k = 0; k < GF_DIN; k++) m->x_mean[k] = 0, m->x_std[k] = 1;
        if (!gf_safetensors_save_model(path, m, meta)) snprintf(name, sizeof name, "%s/fuzz.json", dir);
    }
    gf_model_free(m);
    json_decref(meta);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_coord_config c;
    if (gf_coord_config_parse(name, (const char *)data, size, &c) == GF_OK) {
        if (!c.name || !c.key || !c.cert || !c.ca || !c.db || c.port < 0 || c.port > 65535) __builtin_trap();
        if (c.initial_model && !c.initial) __builtin_trap(); /* a named initial model is loaded */
        if (c.normalization == GF_NORM_MODEL && !(c.initial && c.initial->has_norm)) __builtin_trap();
        gf_coord_config_free(&c);
    } else if (strchr(gf_errmsg(), '\n')) {
        __builtin_trap(); /* errors are one line */
    }
    return 0;
}

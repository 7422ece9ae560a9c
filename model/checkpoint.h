/* gaitfed checkpoints (safetensors written by `gaitfed train` or a
 * coordinator): the metadata that describes them, and the model built from
 * a parsed one — the architecture and task from its __metadata__, the
 * channels checked (inputs gf_in_cols, outputs the columns of the task),
 * every parameter loaded strictly, x_mean/x_std when present. */
#ifndef GF_CHECKPOINT_H
#define GF_CHECKPOINT_H
#include <jansson.h>

#include "common/err.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "sites/dataset.h"

/* Metadata (all values strings): format, model, the architecture's
 * hyper-parameters, task, units, in_cols/out_cols (JSON arrays as text),
 * frames. The caller adds training details. New reference; NULL on ENOMEM. */
json_t *gf_checkpoint_meta(const gf_model_config *c, gf_task task);
gf_err gf_meta_set(json_t *meta, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reading. */
/* *m new (caller frees with gf_model_free), *task the checkpoint's task;
 * what names the source in messages. On error *m is NULL. */
gf_err gf_checkpoint_model(const gf_safetensors *st, const char *what, gf_model **m, gf_task *task);

#endif

/* Checkpoint metadata of gaitfed models (safetensors __metadata__). */
#ifndef GF_CHECKPOINT_H
#define GF_CHECKPOINT_H
#include <jansson.h>

#include "common/err.h"
#include "model/model.h"
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

#endif

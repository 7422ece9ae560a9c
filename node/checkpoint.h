/* Building a model from a parsed gaitfed checkpoint (safetensors written by
 * `gaitfed train` or a coordinator): the architecture and task from its
 * __metadata__, the channels checked (inputs gf_in_cols, outputs the columns
 * of the task), every parameter loaded strictly, x_mean/x_std when present.
 * Shared by the CLI (cli_model_load) and the node (models downloaded as
 * blobs), so both accept exactly the same files. */
#ifndef GF_NODE_CHECKPOINT_H
#define GF_NODE_CHECKPOINT_H
#include "common/err.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "sites/dataset.h"

/* *m new (caller frees with gf_model_free), *task the checkpoint's task;
 * what names the source in messages. On error *m is NULL. */
gf_err gf_checkpoint_model(const gf_safetensors *st, const char *what, gf_model **m, gf_task *task);

#endif

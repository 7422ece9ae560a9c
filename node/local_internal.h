/* Shared between node/local.c and node/local_eval.c. */
#ifndef GF_NODE_LOCAL_INTERNAL_H
#define GF_NODE_LOCAL_INTERNAL_H
#include <jansson.h>
#include "model/metrics.h"
#include "node/local.h"

/* ds has cycles, inputs and metadata, and n·GF_T fits an int. */
gf_err gf_local_check_ds(const gf_dataset *ds);
/* Per-cycle subject ids (and cadence labels when speeds != NULL) borrowed
 * from ds->meta, in new arrays (caller frees the arrays). */
gf_err gf_local_ids(const gf_dataset *ds, const char ***ids, const char ***speeds);
/* A new model with src's configuration and parameters, on `threads` workers. */
gf_err gf_local_copy_model(const gf_model *src, int threads, gf_model **out);
/* {"rmse","mae","r2"}, null where undefined; NULL when out of memory. */
json_t *gf_local_errstats_json(const gf_errstats *s);

#endif

/* Shared pieces of `gaitfed train`, `eval` and `predict`: labelled data from
 * a Gait2Hip NPZ or a site store, checkpoint metadata written and checked. */
#ifndef GF_CLI_MODELIO_H
#define GF_CLI_MODELIO_H
#include <jansson.h>
#include "common/err.h"
#include "model/model.h"
#include "sites/dataset.h"

/* Labelled cycles for training or evaluation. */
typedef struct {
    gf_dataset ds;         /* owned; x in gf_in_cols order, degrees */
    gf_task task;
    int n, D;
    float *y;              /* [n][GF_T][D], targets / body mass (N/kg, N·m/kg); owned */
    const char **ids;      /* [n] subject ids (borrowed from ds.meta) */
    const char **speeds;   /* [n] cadence labels (borrowed from ds.meta) */
} cli_data;

/* Loads path: a site store (SQLite file; task = *want, or forces when want is
 * NULL) or a Gait2Hip NPZ (task from the file; a different *want is an
 * error). Returns GF_OK or an error with a one-line message. */
gf_err cli_data_load(const char *path, const gf_task *want, cli_data *out);
void cli_data_free(cli_data *d);


/* Reads a checkpoint written by `gaitfed train`: builds the model from its
 * metadata (checking channels: the inputs must be gf_in_cols, the outputs the
 * columns of a task), loads every tensor strictly (and x_mean/x_std when
 * present). *m owned by the caller (gf_model_free); *meta new reference
 * (may be NULL to skip). */
gf_err cli_model_load(const char *path, gf_model **m, gf_task *task, json_t **meta);

/* Rows i with sel[i] == want of src (rows of `row` floats) into a new array
 * (*out malloc'd, *n_out rows). sel NULL: all rows. */
gf_err cli_gather(const float *src, size_t row, int n, const int *sel, int want, float **out, int *n_out);

/* Normalizes x [n][GF_T][GF_DIN] in place: own != 0 with statistics of x
 * itself, else with the checkpoint's x_mean/x_std (an error when it has none). */
gf_err cli_normalize(gf_model *m, const char *model_path, int own, float *x, int n);

/* Default worker threads: online CPUs, at most 16. */
int cli_default_threads(void);

#endif

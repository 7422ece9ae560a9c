/* Gait2Hip-60 evaluation metrics (as the benchmark's own metric code computes them) on
 * predictions and references laid out [n_cycles][T][D] (float, the model's
 * units: N/kg or N·m/kg), with a subject id and a cadence label per cycle.
 *
 * For a set of cycles, with e = pred - ref over all n = cycles*T*D values:
 *   RMSE = sqrt(mean e^2), MAE = mean |e|,
 *   R^2  = 1 - SS_res/SS_tot, SS_res = sum e^2,
 *          SS_tot = sum (ref - mean(ref))^2 with ONE mean over all output
 *          channels and frames of the set.
 * subject_mean: the metrics of each subject over all of its cycles, averaged
 *   over subjects (the paper's "subject-level mean"). A subject whose R^2 is
 *   undefined (SS_tot = 0) is left out of the R^2 average only.
 * pooled: the same three numbers over all cycles at once.
 * per cadence: for each label present (slow, med, fast first, then any other
 *   label in order of first appearance), subject_mean and pooled restricted
 *   to the cycles of that cadence (subjects without such cycles excluded).
 * per channel, pooled over all cycles and frames:
 *   r2        = 1 - SS_res_c/SS_tot_c with the channel's own mean,
 *   pearson_r = Pearson correlation of prediction and reference,
 *   rmse, mae,
 *   nrmse     = rmse / (max - min) of the reference channel over all cycles
 *               and frames evaluated (range normalization).
 * Undefined values (zero variance or range) are NAN here and null in JSON.
 * Sums are accumulated in double; means are taken before deviations (two
 * passes). */
#ifndef GF_METRICS_H
#define GF_METRICS_H
#include <jansson.h>
#include "common/err.h"

#define GF_METRICS_ID_MAX 64     /* subject id bytes incl. NUL */
#define GF_METRICS_LABEL_MAX 16  /* cadence label bytes incl. NUL */

typedef struct { double rmse, mae, r2; } gf_errstats;

typedef struct {
    char id[GF_METRICS_ID_MAX];
    int n_cycles;
    gf_errstats m;
} gf_metrics_subject;

typedef struct {
    char label[GF_METRICS_LABEL_MAX];
    int n_cycles, n_subjects;
    gf_errstats subject_mean, pooled;
} gf_metrics_cadence;

typedef struct { double r2, pearson_r, nrmse, rmse, mae; } gf_metrics_channel;

typedef struct {
    int n_cycles, T, D;
    int n_subjects;
    gf_errstats subject_mean, pooled;
    gf_metrics_subject *subjects;   /* n_subjects, sorted by id; owned */
    int n_cadences;
    gf_metrics_cadence *cadences;   /* owned; none when speeds == NULL */
    gf_metrics_channel *channels;   /* D; owned */
} gf_metrics;

/* pred, ref: [n_cycles][T][D]; subject_ids[n_cycles] (non-empty, < 64
 * bytes); speeds[n_cycles] (non-empty, < 16 bytes) or NULL. Non-finite
 * values -> GF_ENUMERIC naming cycle, frame and channel. */
gf_err gf_metrics_compute(gf_metrics *out, const float *pred, const float *ref, int n_cycles, int T, int D,
                          const char *const *subject_ids, const char *const *speeds);
/* A new JSON object (caller owns the reference); channel_names[D] name the
 * per-channel entries (NULL: "ch0", "ch1", ...). NULL when out of memory.
 * {"n_cycles", "n_subjects", "frames", "channels",
 *  "subject_mean": {"rmse","mae","r2"}, "pooled": {...},
 *  "per_cadence": {label: {"n_cycles","n_subjects","subject_mean","pooled"}},
 *  "per_subject": {id: {"n_cycles","rmse","mae","r2"}},
 *  "per_channel": {name: {"r2","pearson_r","nrmse","rmse","mae"}},
 *  "definitions": {...}} */
json_t *gf_metrics_to_json(const gf_metrics *m, const char *const *channel_names);
void gf_metrics_free(gf_metrics *m);

/* Aggregate curves: for every output channel j and frame t, the mean and the
 * population SD (ddof = 0) over all n_cycles cycles of the reference and of
 * the prediction values at [cycle][t][j] (pred, ref: [n_cycles][T][D], the
 * model's units). Accumulated in double, two passes (mean first, then the
 * squared deviations from it). Nothing per cycle or per subject appears.
 * A new JSON object (caller owns the reference); channel_names[D] name the
 * channels (NULL: "ch0", "ch1", ...), in channel order:
 * {"frames": T,
 *  "channels": {name: {"ref_mean": [T], "ref_sd": [T],
 *                      "pred_mean": [T], "pred_sd": [T]}}}
 * Non-finite results are null (callers validate inputs first, e.g. with
 * gf_metrics_compute). NULL when out of memory, when pred or ref is NULL or
 * when n_cycles, T or D < 1. With few cycles the curves approach individual
 * recordings (one cycle: its own values, SD 0). */
json_t *gf_metrics_curves_json(const float *pred, const float *ref, int n_cycles, int T, int D,
                               const char *const *channel_names);

#endif

/* What a hospital node computes in one federated round, on data already in
 * memory (a gf_dataset loaded from the site store by the caller): no
 * networking, no SQL, nothing printed.
 *
 *   gf_local_split        the site's own validation subjects (never trained on)
 *   gf_local_stats        per-channel input statistics of the training cycles:
 *                         the site's own z-score (stays at the site) and exact
 *                         fixed-point sums for pooled ("global") normalization
 *   gf_local_train        E local epochs from the global model: the update
 *                         Δ = θ_local − θ_global, the sample count and the
 *                         validation metrics of the global and local models
 *   gf_local_evaluate     an evaluator's benchmark of a cohort (the JSON of
 *                         `gaitfed eval`); gf_local_evaluate_full adds the
 *                         aggregate curves (`gaitfed eval --curves`)
 *   gf_local_model_from_blob  a downloaded model version, SHA-256 checked first
 *
 * Targets are divided by body mass (gf_dataset_targets), inputs z-scored per
 * channel, exactly as `gaitfed train`/`eval` do. */
#ifndef GF_NODE_LOCAL_H
#define GF_NODE_LOCAL_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/err.h"
#include "model/model.h"
#include "sites/dataset.h"

/* Validation subjects: round(frac·S) of the S subjects (seeded, subject-wise:
 * gf_split_holdout over the cycles' subject ids, so the result depends on the
 * set of ids and the seed only). is_val[ds->n] gets 1 for their cycles;
 * *n_val_subjects (may be NULL) their count. Needs >= 2 subjects. */
#define GF_LOCAL_VAL_FRAC 0.2
/* The seed a hospital node splits with: fixed, so the validation subjects never
 * change between rounds (and `gaitfed audit loso` finds the same ones). */
#define GF_LOCAL_SPLIT_SEED 20170101u
gf_err gf_local_split(const gf_dataset *ds, double frac, uint64_t seed, unsigned char *is_val, int *n_val_subjects);

/* Input statistics of the training cycles (is_val[i] == 0; is_val NULL: all).
 *
 * mean/sd: as gf_zscore_stats (double accumulation, population SD, SD 0 -> 1).
 * Exact sums for pooled normalization, per channel c, over every training
 * frame f, in 64-bit fixed point with round-half-even (nearbyint):
 *   sum_x[c]  = Σ_f rint(x·10^4)        x in units of 1e-4 degree
 *   sum_x2[c] = Σ_f rint(x²·10^4)       x² in units of 1e-4 degree²
 * (x² formed exactly in double from the float angle, then scaled once).
 * Ranges: every angle must satisfy |x| <= GF_LOCAL_MAX_DEG = 360° (else
 * GF_ERANGE naming cycle, frame and channel), so per frame |rint(x·10^4)| <=
 * 3.6·10^6 and rint(x²·10^4) <= 1.296·10^9. With n_frames <= GF_LOCAL_MAX_FRAMES
 * = 10^9 (enforced), |sum_x| <= 3.6·10^15 and sum_x2 <= 1.296·10^18 < 2^63
 * ≈ 9.22·10^18: no overflow (10^7 frames leave a margin of 700×). The pooled
 * sums over sites (gf_limbs_* in crypto/fixpoint.h: exact mod 2^64) stay
 * exact while the federation's total frames are <= 7.1·10^9. */
#define GF_LOCAL_MAX_DEG 360.0
#define GF_LOCAL_MAX_FRAMES 1000000000LL
#define GF_LOCAL_FIX_SCALE 1e4
typedef struct {
    float mean[GF_DIN], sd[GF_DIN];   /* the site's own normalization */
    int64_t n_frames;                 /* training cycles × GF_T */
    int64_t sum_x[GF_DIN];
    int64_t sum_x2[GF_DIN];
} gf_local_moments;
gf_err gf_local_stats(const gf_dataset *ds, const unsigned char *is_val, gf_local_moments *out);
/* Pooled mean and SD from summed moments (population SD; SD 0 -> 1 as
 * gf_zscore_stats). GF_EINVAL when n_frames < 1. */
gf_err gf_local_pooled_norm(int64_t n_frames, const int64_t sum_x[GF_DIN], const int64_t sum_x2[GF_DIN],
                            float mean[GF_DIN], float sd[GF_DIN]);

/* Physical plausibility of input statistics, before a node sends its own and
 * before the coordinator accepts the pooled ones (issue 13: a site that
 * multiplied its sum x^2 by 10^6 moved the pooled SD from ~16 to ~10^4).
 * From exact sums as gf_local_stats makes them: n_frames a positive multiple
 * of GF_T, and per channel c, with [lo, hi] = gf_local_angle_range[c] (the
 * joint's range of motion in degrees; node/local_plausible.c says where the
 * numbers come from): lo <= mean <= hi, variance >= 0 and GF_LOCAL_MIN_SD <=
 * SD <= (hi - lo) / 2 (no values within [lo, hi] spread more). GF_ERANGE,
 * one line naming `who`, the first failing channel, the value and the bound.
 * mean_out / sd_out (may be NULL) get every channel's mean and SD (SD 0 for
 * a negative variance) unless the frame count fails. A bound on
 * plausibility, not on honesty: sums scaled by 2 pass. */
#define GF_LOCAL_MIN_SD 0.5 /* degrees: walking moves every channel by more; angles in radians by less */
typedef struct {
    double lo, hi;
} gf_angle_range;
extern const gf_angle_range gf_local_angle_range[GF_DIN];
gf_err gf_local_stats_plausible(const char *who, int64_t n_frames, const int64_t sum_x[GF_DIN],
                                const int64_t sum_x2[GF_DIN], double mean_out[GF_DIN], double sd_out[GF_DIN]);

/* A round's local training configuration (the work item's "train"). */
typedef struct {
    int epochs;          /* local epochs E >= 1 */
    int batch;           /* 64 */
    float lr;            /* AdamW; betas 0.9/0.999, eps 1e-8 */
    float weight_decay;
    float grad_clip;     /* global gradient-norm clip; <= 0: none */
    float mu;            /* FedProx proximal weight, 0: FedAvg */
    uint64_t seed;       /* shuffling and dropout */
    int threads;         /* >= 1 */
} gf_local_config;

/* Trains a copy of global (never modified; its θ is the round's global model)
 * for cfg->epochs epochs on the cycles with is_val[i] == 0, inputs z-scored
 * with mean/sd (the site's own or the pooled statistics), targets of task per
 * kg. Training is gf_train with patience 0 and no validation data (local
 * rounds run a fixed number of epochs), prox_center = θ_global.
 * Out:
 *   delta[gf_arena_numel(&global->params)] = pack(θ_local) − pack(θ_global)
 *   *n_samples = training cycles
 *   *val_metrics (may be NULL to skip; new reference) =
 *     {"train_loss": mean MSE of the last local epoch,
 *      "n_cycles", "n_subjects",
 *      "global": {"subject_mean": {"rmse","mae","r2"}, "pooled": {...}},
 *      "local":  {...}}     on the validation cycles (is_val[i] == 1), as
 *     model/metrics computes them (null values where undefined); only
 *     train_loss when the site has no validation cycles. Subject ids never
 *     appear. */
gf_err gf_local_train(const gf_model *global, const gf_dataset *ds, gf_task task, const unsigned char *is_val,
                      const float mean[GF_DIN], const float sd[GF_DIN], const gf_local_config *cfg, float *delta,
                      int64_t *n_samples, json_t **val_metrics);

/* Normalization for an evaluation. */
typedef struct {
    int own;                          /* 1: statistics of the evaluated data itself */
    float mean[GF_DIN], sd[GF_DIN];   /* when own == 0 */
    const char *label;                /* "normalization" in the JSON; NULL: "own" / "given" */
} gf_local_norm;

/* Metrics of m (predicting in batches of 64) on every cycle of ds for task:
 * the JSON of `gaitfed eval` (gf_metrics_to_json with the task's channel
 * names, then "model" and "data" when those labels are not NULL, then
 * "task", "units", "normalization", "architecture", then, only when
 * with_curves != 0, "curves": gf_metrics_curves_json of the same predictions
 * and references, per kg, with the task's channel names: per channel and
 * frame the mean and population SD over all cycles; about 10^4 numbers for
 * forces). *metrics new reference. m is used for inference only (its
 * activations are re-prepared). */
gf_err gf_local_evaluate_full(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm,
                              const char *model_label, const char *data_label, int with_curves, json_t **metrics);
/* gf_local_evaluate_full without curves (reports that must stay small, e.g.
 * a hospital's validation metrics). */
gf_err gf_local_evaluate_labeled(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm,
                                 const char *model_label, const char *data_label, json_t **metrics);
/* The same without "model" and "data". */
gf_err gf_local_evaluate(gf_model *m, const gf_dataset *ds, gf_task task, const gf_local_norm *norm, json_t **metrics);

/* A downloaded model version: the SHA-256 of the len bytes must equal
 * sha256_hex (64 hex digits, either case) before anything is parsed; then the
 * safetensors are parsed and the model built from its __metadata__ exactly as
 * `gaitfed eval` loads a checkpoint (model/checkpoint.h). *out new (caller
 * frees); *task (may be NULL) its task. Errors: GF_EINVAL for a malformed
 * digest, GF_EFORMAT (one line) for a mismatch or a malformed/truncated blob. */
gf_err gf_local_model_from_blob(const uint8_t *safetensors, size_t len, const char *sha256_hex, gf_model **out,
                                gf_task *task);

/* The aggregate metrics JSON (model/metrics.h gf_metrics_to_json without
 * "per_subject" and "definitions": no subject id leaves the hospital; plus
 * task and units) of m on the cycles with is_val[i] != 0, inputs z-scored
 * with mean/sd: cross-site evaluation at a hospital. GF_ENOTFOUND when there
 * are no such cycles. */
gf_err gf_local_evaluate_val(gf_model *m, const gf_dataset *ds, gf_task task, const unsigned char *is_val,
                             const float mean[GF_DIN], const float sd[GF_DIN], json_t **metrics);

#endif

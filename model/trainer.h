/* Training loop of the model engine over plain float arrays: seeded
 * shuffling, mini-batches, MSE, global gradient-norm clip, AdamW, a
 * validation loss per epoch, early stopping with patience and the
 * parameters of the best epoch. Inputs are already normalized:
 *   x [n][T][d_in] (z-scored), y [n][T][d_out] (N/kg or N·m/kg).
 *
 * Batches. Every epoch visits a fresh seeded permutation of the n cycles in
 * batches of cfg.batch; the last batch of an epoch holds the remaining
 * n % batch cycles (PyTorch DataLoader, shuffle=True, drop_last=False). The
 * model is prepared ONCE for min(batch, n) rows; a short batch is padded with
 * zero rows whose outputs are ignored: the loss is the mean over the real rows
 * only and their dL/dy is zero, so padded rows add nothing to any gradient
 * (every architecture here is per-sample: no op mixes rows of a batch). This
 * gives the same update as a batch of the real rows alone without
 * re-allocating activations twice per epoch.
 *
 * Numerics: a NaN/Inf in the output, the loss or the gradients stops training
 * with GF_ENUMERIC naming the epoch and batch. */
#ifndef GF_TRAINER_H
#define GF_TRAINER_H
#include <stdint.h>
#include "common/err.h"
#include "model/model.h"
#include "model/optim.h"

typedef struct {
    int epoch;             /* 1-based, just finished */
    int max_epochs;
    double train_loss;     /* mean MSE over the epoch's training elements */
    double val_loss;       /* NAN without validation data */
    int best_epoch;        /* epoch of the lowest val_loss so far (0: none) */
    double best_val;
} gf_epoch_info;

typedef void (*gf_epoch_fn)(void *ctx, const gf_epoch_info *info);

typedef struct {
    int max_epochs;        /* 300 */
    int patience;          /* 30; stop after this many epochs without a new best
                            * validation loss; 0 = never stop early */
    int batch;             /* 64 */
    float clip;            /* 0.5 (global L2 norm); <= 0 disables clipping */
    gf_adamw_config opt;   /* lr 1e-4, weight decay 1e-5 */
    uint64_t seed;         /* shuffling and dropout */
    /* FedProx (Li et al. 2020): with prox_mu > 0 every step adds
     * prox_mu·(θ − prox_center) to the gradient before clipping, the gradient
     * of prox_mu/2·‖θ − prox_center‖²; the reported losses stay the MSE.
     * prox_center: packed parameter vector (gf_arena_pack layout,
     * gf_arena_numel floats), borrowed for the call. prox_mu 0: off (the
     * center is not read; results are bit-identical to training without). */
    float prox_mu;
    const float *prox_center;
    gf_epoch_fn on_epoch;  /* may be NULL */
    void *ctx;
} gf_train_config;

/* The reference protocol: 300 epochs, patience 30, batch 64, clip 0.5, AdamW
 * lr 1e-4, weight decay 1e-5, seed 0. */
gf_train_config gf_train_defaults(void);

typedef struct {
    int n_epochs;          /* epochs run */
    double *train_loss;    /* [n_epochs], owned */
    double *val_loss;      /* [n_epochs] or NULL without validation; owned */
    int best_epoch;        /* 1-based; without validation: n_epochs */
    double best_val;       /* NAN without validation */
    int stopped_early;     /* patience ran out before max_epochs */
} gf_train_result;

/* Trains m (already initialized, m->threads set) on x/y (n cycles of length T).
 * With validation data (nv > 0) the parameters of the epoch with the lowest
 * validation loss are restored at the end; without (xv NULL, nv 0) training
 * runs max_epochs epochs and keeps the last parameters. res is overwritten
 * (free with gf_train_result_free, also after an error). */
gf_err gf_train(gf_model *m, const float *x, const float *y, int n, int T, const float *xv, const float *yv, int nv,
                const gf_train_config *cfg, gf_train_result *res);
void gf_train_result_free(gf_train_result *res);

/* Eval-mode predictions y [n][T][d_out] for x [n][T][d_in], in batches of
 * `batch` rows (padded like training). */
gf_err gf_predict(gf_model *m, const float *x, int n, int T, int batch, float *y);

/* Mean squared error of eval-mode predictions against y (double sums). */
gf_err gf_eval_loss(gf_model *m, const float *x, const float *y, int n, int T, int batch, double *loss);

/* Per-channel z-score statistics over all frames of the cycles with
 * use[i] != 0 (use NULL: all): mean and population SD (ddof 0), accumulated
 * in double, two passes. A channel with SD 0 gets SD 1 (it is then only
 * centred). No cycle selected or a non-finite value -> error. */
gf_err gf_zscore_stats(const float *x, int n, int T, int d, const unsigned char *use, float *mean, float *sd);
/* dst[i][t][c] = (src[i][t][c] - mean[c]) / sd[c] for n cycles (dst may be src). */
void gf_zscore_apply(float *dst, const float *src, size_t n_frames, int d, const float *mean, const float *sd);

#endif

/* Server-side aggregation strategies, applied to the weighted mean update
 * Δ = Σ w_i (θ_i − θ) that secure aggregation yields (w_i = n_i / Σ n over the
 * survivors). Reddi et al. 2021, "Adaptive Federated Optimization",
 * Algorithm 2 (no bias correction), with server learning rate η:
 *   FedAvg, FedProx:  θ ← θ + η Δ                     (η = 1: plain averaging;
 *                     FedProx differs in the nodes' local objective only)
 *   FedAdagrad:       v ← v + Δ²
 *   FedAdam:          v ← β2 v + (1−β2) Δ²
 *   FedYogi:          v ← v − (1−β2) Δ² sign(v − Δ²)
 *   adaptive:         m ← β1 m + (1−β1) Δ;  θ ← θ + η m / (√v + τ)
 * with m = 0 and v = τ² at the start (Reddi et al.'s v_{-1} ≥ τ²). The state
 * (m, v, step) is a flat blob the coordinator stores next to each model
 * version, so a restart continues the same optimizer. */
#ifndef GF_STRATEGY_H
#define GF_STRATEGY_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "coordinator/config.h"

typedef struct {
    gf_fed_strategy kind;
    double server_lr, beta1, beta2, tau;
    size_t n;          /* parameters */
    uint64_t step;     /* server steps taken */
    float *m, *v;      /* owned; NULL for FedAvg/FedProx */
} gf_strategy;

gf_err gf_strategy_init(gf_strategy *s, gf_fed_strategy kind, double server_lr, double beta1, double beta2,
                        double tau, size_t n);
void gf_strategy_free(gf_strategy *s);
/* theta[n] += the strategy's step for the mean update delta[n]; GF_ENUMERIC
 * (nothing changed) if delta holds NaN/Inf. */
gf_err gf_strategy_step(gf_strategy *s, float *theta, const float *delta);

/* State blob: "GFST" | version u32 | kind u32 | n u64 | step u64 | m[n] | v[n]
 * (float32 LE; m, v only for adaptive kinds). */
size_t gf_strategy_state_size(const gf_strategy *s);
void gf_strategy_state_write(const gf_strategy *s, uint8_t *out);
/* Restores a state written for the same kind and n. */
gf_err gf_strategy_state_read(gf_strategy *s, const uint8_t *buf, size_t len);

#endif

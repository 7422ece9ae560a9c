/* The coordinator's JSON config (the skeleton `gaitfed pki issue --role
 * coordinator` writes into its kit). Every field, its default and its range
 * are in README "`gaitfed coordinator`". Unknown fields are refused. */
#ifndef GF_COORD_CONFIG_H
#define GF_COORD_CONFIG_H
#include <stddef.h>

#include "common/config.h"
#include "crypto/identity.h"
#include "model/model.h"

typedef enum { GF_FED_FEDAVG, GF_FED_FEDPROX, GF_FED_FEDADAM, GF_FED_FEDYOGI, GF_FED_FEDADAGRAD } gf_fed_strategy;
/* own: each site its own statistics; global: pooled through secure
 * aggregation; model: the initial model's x_mean/x_std (nothing leaves a site). */
typedef enum { GF_NORM_OWN, GF_NORM_GLOBAL, GF_NORM_MODEL } gf_norm_policy;
/* How much each site's update counts (README "`gaitfed coordinator`"): equal,
 * or its claimed sample count capped by the config's per-site max_samples.
 * Never an unchecked claim. */
typedef enum { GF_WEIGHT_EQUAL, GF_WEIGHT_SAMPLES_CAPPED } gf_weighting;
/* Plain mode only: the coordinate-wise rule combining the accepted updates. */
typedef enum { GF_AGG_MEAN, GF_AGG_TRIMMED_MEAN, GF_AGG_MEDIAN } gf_aggregator;
/* Phases with deadlines, in round order. */
typedef enum { GF_PH_TRAIN, GF_PH_ADVERT, GF_PH_SHARES, GF_PH_MASKED, GF_PH_CONSISTENCY, GF_PH_UNMASK, GF_PH_EVALUATE,
               GF_PH_CROSS, GF_PH_COUNT } gf_phase; /* GF_PH_CROSS: cross-site evaluation after the last round */

const char *gf_fed_strategy_name(gf_fed_strategy s);
const char *gf_phase_name(gf_phase p);
const char *gf_norm_name(gf_norm_policy n); /* "own", "global", "model" */
const char *gf_weighting_name(gf_weighting w);
const char *gf_aggregator_name(gf_aggregator a);

typedef struct {
    gf_cfg src;                 /* owns the JSON the strings point into */
    const char *name;
    char host[256];
    int port;                   /* 0: ephemeral (tests, demo) */
    char *key, *cert, *ca, *crl, *db; /* resolved paths (owned); crl may be NULL */
    const char **sites;         /* registered site names (owned array); NULL: every consortium certificate */
    long *max_samples;          /* per site (owned, parallel to sites); 0: no cap given */
    size_t n_sites;
    gf_weighting weighting;
    gf_aggregator aggregator;
    double trim_fraction;       /* trimmed_mean: floor(trim_fraction·n) values cut at each end */
    long max_attempt_failures;  /* rejected attempts of a round in a row before the federation pauses */
    int secure;                 /* secure_aggregation */
    int cross_site_eval;        /* after the last round, hospitals evaluate each other's local models */
    gf_fed_strategy strategy;
    long rounds, min_sites, threshold, neighbours; /* threshold/neighbours 0: secagg defaults */
    double sample_fraction;
    long local_epochs, batch;
    double lr, weight_decay, grad_clip, update_clip;
    double mu, server_lr, beta1, beta2, tau;
    gf_norm_policy normalization;
    gf_model_config model;      /* with initial_model: the checkpoint's (dropout may be the config's) */
    int task_moments;           /* 0 forces, 1 moments */
    /* initial_model (warm start): the checkpoint version 0 starts from,
     * checked against "model" on load. NULL path: a seeded initialization. */
    char *initial_model;        /* resolved path (owned) */
    gf_model *initial;          /* its parameters and x_mean/x_std (owned) */
    json_t *initial_meta;       /* its __metadata__ (owned reference) */
    char initial_sha256[65];    /* SHA-256 of the file's bytes (hex) */
    size_t initial_bytes;
    long seed;
    double timeout_s[GF_PH_COUNT];
} gf_coord_config;

/* Loads and checks path (and the initial model it names). On failure *out is left empty (nothing to free). */
gf_err gf_coord_config_load(const char *path, gf_coord_config *out);
/* Same from memory (fuzzing, tests). */
gf_err gf_coord_config_parse(const char *name, const char *text, size_t len, gf_coord_config *out);
void gf_coord_config_free(gf_coord_config *c);

#endif

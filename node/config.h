/* The node's JSON config (the skeleton `gaitfed pki issue` writes as
 * node.json). Strict like the coordinator's: unknown fields are refused, each
 * error is one line naming the file and the field, relative paths are
 * resolved against the config's directory. Fields and defaults: README
 * "gaitfed node". */
#ifndef GF_NODE_CONFIG_H
#define GF_NODE_CONFIG_H
#include <stddef.h>

#include "common/config.h"
#include "crypto/identity.h"

#define GF_NODE_MAX_COHORTS 32

typedef struct {
    const char *name;   /* cohort name as reported to the coordinator */
    char *db;           /* its site store (owned, resolved) */
} gf_node_cohort;

typedef struct {
    gf_cfg src;                   /* owns the JSON the strings point into */
    const char *name;
    gf_role role;                 /* hospital or evaluator */
    const char *coordinator_url;  /* https://host:port */
    char *key, *cert, *ca, *crl;  /* resolved (owned); crl NULL: none */
    char *site_db;                /* hospital: its site store (owned) */
    char *state_dir;              /* cached updates (owned) */
    int norm_global;              /* "normalization": "own" (0) | "global" (1: consents to pooling); either
                                   * takes part in a "model" federation (nothing about its inputs leaves it) */
    long threads;                 /* local training / evaluation threads */
    long poll_ms;                 /* cap on the wait between polls */
    long backoff_max_ms;          /* cap on the backoff after network errors */
    double http_timeout_s;        /* whole request */
    int share_local;              /* share_local_model: hospitals may evaluate its locally trained
                                   * model in cross-site evaluation (encrypted to them, never the coordinator) */
    gf_node_cohort cohorts[GF_NODE_MAX_COHORTS]; /* evaluator */
    size_t n_cohorts;
} gf_node_config;

/* Loads and checks path. On failure *out is left empty (nothing to free). */
gf_err gf_node_config_load(const char *path, gf_node_config *out);
/* Same from memory (tests); name stands in for the path. */
gf_err gf_node_config_parse(const char *name, const char *text, size_t len, gf_node_config *out);
void gf_node_config_free(gf_node_config *c);

#endif

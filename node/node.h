/* The node daemon: one thread that polls the coordinator's work item
 * (docs/PROTOCOL.md) and answers it — local training and the secure-
 * aggregation phases for a hospital, cohort benchmarks for an evaluator —
 * until the federation is done. Nothing is printed here: every line for the
 * operator goes through the log callback (the CLI writes it to stderr). */
#ifndef GF_NODE_H
#define GF_NODE_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "node/config.h"

/* A modified node, for red-team tests (tests/evil/evil_node.c): callbacks that
 * change what this node sends, as a hospital running altered code would.
 * `gaitfed node` never sets them; each may be NULL. */
typedef struct {
    void *ctx;
    /* The trained update (L floats, before clipping and encoding) and the
     * sample count the node will claim; applied once, before caching. */
    void (*update)(void *ctx, float *delta, size_t L, int64_t *n_samples);
    /* Statistics session: frames, Σx[GF_DIN], Σx²[GF_DIN] before encoding. */
    void (*statistics)(void *ctx, int64_t *v, size_t n);
    /* Secure mode: the encoded words (scale: the fixed-point scale) before masking. */
    void (*words)(void *ctx, uint32_t *x, size_t L, double scale);
    /* Every POST body just before it is sent (a copy: the node keeps its
     * own for retries); may replace *body with another malloc'd buffer. */
    void (*post)(void *ctx, const char *path, uint8_t **body, size_t *len);
} gf_node_tamper;

typedef struct {
    long max_rounds;                  /* > 0: return GF_OK after taking part in this many rounds */
    int verbose;                      /* a line per phase, not only per round */
    volatile sig_atomic_t *stop;      /* non-NULL and set: return GF_OK at the next poll */
    void (*log)(void *ctx, const char *line); /* one line, no newline; NULL: silent */
    void *log_ctx;
    const gf_node_tamper *tamper;     /* NULL: an honest node */
} gf_node_opts;

/* Runs until the coordinator says "done" (GF_OK), max_rounds, *stop, or a
 * fatal error: a certificate or configuration problem (TLS refused, unknown
 * CA, not a registered site: GF_ECRYPTO / GF_EINVAL), unusable local data.
 * Network errors are retried with capped exponential backoff and jitter. */
gf_err gf_node_run(const gf_node_config *cfg, const gf_node_opts *opts);

#endif

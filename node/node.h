/* The node daemon: one thread that polls the coordinator's work item
 * (docs/PROTOCOL.md) and answers it — local training and the secure-
 * aggregation phases for a hospital, cohort benchmarks for an evaluator —
 * until the federation is done. Nothing is printed here: every line for the
 * operator goes through the log callback (the CLI writes it to stderr). */
#ifndef GF_NODE_H
#define GF_NODE_H
#include <signal.h>

#include "common/err.h"
#include "node/config.h"

typedef struct {
    long max_rounds;                  /* > 0: return GF_OK after taking part in this many rounds */
    int verbose;                      /* a line per phase, not only per round */
    volatile sig_atomic_t *stop;      /* non-NULL and set: return GF_OK at the next poll */
    void (*log)(void *ctx, const char *line); /* one line, no newline; NULL: silent */
    void *log_ctx;
} gf_node_opts;

/* Runs until the coordinator says "done" (GF_OK), max_rounds, *stop, or a
 * fatal error: a certificate or configuration problem (TLS refused, unknown
 * CA, not a registered site: GF_ECRYPTO / GF_EINVAL), unusable local data.
 * Network errors are retried with capped exponential backoff and jitter. */
gf_err gf_node_run(const gf_node_config *cfg, const gf_node_opts *opts);

#endif

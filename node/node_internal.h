/* State of the node daemon shared by node.c (the loop, training, secure
 * aggregation, evaluator) and node_xeval.c (cross-site evaluation). */
#ifndef GF_NODE_INTERNAL_H
#define GF_NODE_INTERNAL_H
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/rng.h"
#include "crypto/fixpoint.h"
#include "crypto/identity.h"
#include "crypto/secagg.h"
#include "node/config.h"
#include "node/https_client.h"
#include "node/local.h"
#include "node/node.h"

#define WORK_CAP (64u << 10)          /* a work item is a few hundred bytes */
#define REPLY_CAP (64u << 10)         /* 202/4xx JSON answers */
#define MODEL_CAP ((size_t)1 << 31)   /* model versions (the work item names the exact size) */
#define SPLIT_SEED GF_LOCAL_SPLIT_SEED /* fixed: the validation subjects never change between rounds */
#define TLS_FATAL_AFTER 5             /* consecutive TLS failures after a first success */
#define REFUSED_FATAL_AFTER 3         /* connections closed right after the handshake, before a first success */
#define INSTANCE_LEN 32               /* hex characters of the node instance id (X-Gaitfed-Instance) */

typedef enum { OUT_NONE, OUT_ADVERT, OUT_SHARES, OUT_MASKED, OUT_CONSIST, OUT_UNMASK } out_kind;

typedef struct {
    int loaded;
    gf_task task;
    gf_dataset ds;
    unsigned char *is_val;            /* hospital: validation cycles */
    gf_local_moments mom;             /* hospital: its own input statistics */
} site_data;

typedef struct {
    const gf_node_config *cfg;
    const gf_node_opts *o;
    gf_https_client *http;
    gf_identity *id;
    gf_trust *trust;
    gf_rng rng;
    int tx;                           /* the last error came from the transport */
    char instance[INSTANCE_LEN + 1];  /* this node's instance id (instance.c) */
    int lock_fd;                      /* hospital: the lock on state_dir/node.lock, or -1 */
    char revoked[320];                /* the coordinator said this certificate is revoked: the node stops */
    int ever_connected, tls_failures, net_failures, refused;

    site_data data;                   /* hospital */
    site_data cohort[GF_NODE_MAX_COHORTS]; /* evaluator */

    gf_model *model;                  /* the cached model version */
    gf_task model_task;
    int64_t model_v;
    char model_sha[GF_SHA256_HEX];

    int64_t up_round, up_version;     /* the cached update */
    float *delta;
    size_t L;
    int64_t n_samples;
    char *val_json;                   /* NULL when the site has no validation cycles */
    double train_s;
    int up_reused, up_from_file;

    int64_t round, attempt;           /* the current attempt */
    gf_secagg_client *sa;
    gf_secagg_params sp;
    uint32_t index;
    int64_t total;                    /* S = Σ n_i over the advertisers */
    out_kind out;                     /* last produced message, resent if its post was lost */
    uint8_t *out_msg;
    size_t out_len;
    out_kind reached;                 /* last phase answered in this attempt */
    int failed, complete;
    int64_t evaluated_v;
    long rounds_done;
    int done;                         /* the coordinator said "done" */
    int plain;                        /* this attempt runs without secure aggregation */
    int statistics;                   /* this attempt secure-sums input statistics, not an update */
    uint32_t stat_words[GF_LIMBS * (1 + 2 * GF_DIN)]; /* frame count, Σx, Σx² as limbs */

    float *local_theta;               /* θ_global + Δ of the cached update (cross-site evaluation) */
    int64_t xeval_done_v;             /* cross-site evaluation posted for this final version */
    struct nd_xeval *x;               /* cross-site evaluation in progress (node_xeval.c) */
} node;

typedef enum { ANS_OK, ANS_RETRY, ANS_STALE, ANS_REFUSED } answer;

/* node.c */
void nd_say(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
gf_err nd_get(node *n, const char *path, size_t cap, gf_https_resp *r);
gf_err nd_post(node *n, const char *path, const char *ct, const char *hdr, const void *b, size_t len, gf_https_resp *r);
/* What an HTTP answer means for the node (sets *e for 5xx). */
answer nd_classify(node *n, const char *what, gf_https_resp *r, gf_err *e);
/* The work item's model version, downloaded and checked once. */
gf_err nd_ensure_model(node *n, const json_t *work);
/* The site's store, validation split and own statistics for task. */
gf_err nd_hospital_data(node *n, gf_task task);

/* node_xeval.c: the "xeval_*" work states; frees its state. */
gf_err nd_xeval_step(node *n, const char *state, const json_t *work);
void nd_xeval_free(node *n);

/* instance.c: this node's instance id. A hospital locks state_dir/node.lock
 * (a second node on the same state folder is refused here) and keeps its id
 * in state_dir/instance, so a restarted node is the same instance to the
 * coordinator; an evaluator draws a fresh one. *lock_fd: -1 or the lock. */
gf_err nd_instance_open(const gf_node_config *c, char id[INSTANCE_LEN + 1], int *lock_fd);

/* Under the work item's normalization, whether inputs are z-scored with the
 * statistics the global model carries ("global": pooled, "model": the initial
 * model's) rather than the site's own. */
static inline int nd_norm_from_model(const char *norm)
{
    return norm && (!strcmp(norm, "global") || !strcmp(norm, "model"));
}

#endif

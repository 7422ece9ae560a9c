/* Coordinator state shared by coordinator.c (lifecycle, rounds), api.c
 * (HTTP handlers) and aggregate.c (the worker). Event-loop thread only,
 * except the fields marked "worker". */
#ifndef GF_COORD_INTERNAL_H
#define GF_COORD_INTERNAL_H
#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>

#include "coordinator/config.h"
#include "coordinator/coordinator.h"
#include "coordinator/db.h"
#include "coordinator/https_server.h"
#include "coordinator/strategy.h"
#include "crypto/fixpoint.h"
#include "crypto/identity.h"
#include "crypto/secagg.h"
#include "model/model.h"

#define GF_ONLINE_MS 15000     /* a site that polled within this window is online */
#define GF_POLL_MS 200         /* retry_after_ms we ask of nodes */
#define GF_JSON_CAP (1u << 20) /* JSON request bodies */
#define GF_EVAL_CAP (8u << 20) /* an evaluator's results with curves: ~120 KB per cohort and normalization */
#define GF_STATS_WORDS (4 * 21)  /* frame count, Σx[10], Σx²[10] as 16-bit limbs (crypto/fixpoint.h) */
#define GF_REFUSAL_AUDIT_MS 10000 /* at most one "connections_refused" audit row per 10 s */
#define GF_PAUSED_POLL_MS 5000 /* retry_after_ms while the federation is paused */
#define GF_DONE_FLUSH_MS 1000  /* after the last "done" answer, before exiting (the reply is written by the loop) */
#define GF_CERT_AUDIT_MS 60000 /* at most one row per refused certificate (and event) per minute */
#define GF_AUDIT_LIMIT_SLOTS 64
#define GF_CERT_AUDIT_PER_MIN 30 /* and at most this many such rows a minute in all (many certificates cycling) */
#define GF_INSTANCE_MAX 64     /* X-Gaitfed-Instance: [A-Za-z0-9-], 1..64 chars */
#define GF_DONE_LINGER_MS 60000 /* after the last round: keep answering "done" until online sites heard it
                                 * (a site slowed down by load can take well over 10 s to poll again) */

typedef struct {
    char name[GF_NAME_MAX + 1];
    gf_role role;
    int64_t last_seen_ms;
    uint64_t serial;           /* of the certificate it last presented */
    /* the node instance that holds the site's place (admission.c) */
    char instance[GF_INSTANCE_MAX + 1];
    int64_t instance_ms;       /* its last request; 0: none yet */
    /* this attempt */
    uint32_t idx;              /* 1..n when selected, else 0 */
    int advertised, shared, masked, signed_, unmasked, updated, evaluated;
    int told_done;             /* has been answered "done" (the federation is over) */
    int cheated;               /* caught cheating in secure aggregation: never sampled again by this process */
    int64_t n_samples;         /* claimed */
    int64_t max_samples;       /* the config's cap for this site; 0: none */
    int refused;               /* plain mode: its last update was refused on arrival (not finite): the
                                * attempt goes on without it, or waits for a valid one if min_sites needs it */
    int64_t weight_den;        /* secure: S_i announced to it, its weight n_samples / S_i (gf_coord_weight_den) */
    double train_loss;         /* from its validation report (NAN if absent) */
    float *update;             /* plain mode: Δ (owned) */
    /* cross-site evaluation (xeval.c) */
    int x_in, x_keyed, x_share, x_shared, x_done;
    uint8_t x_pk[32], x_sig[64];
    uint8_t *x_cert, *x_body;  /* owned */
    size_t x_cert_len, x_body_len;
} gf_site;

typedef enum { R_IDLE, R_OPEN, R_AGGREGATING, R_EVALUATE, R_XEVAL, R_DONE, R_PAUSED } gf_round_state;

struct gf_coordinator {
    const gf_coord_config *cfg;
    struct event_base *base;
    gf_https_server *http;
    gf_trust *trust;
    gf_coord_db db;
    struct event *tick, *wake;
    int wake_fd[2];

    gf_site *sites;            /* GF_SECAGG_MAX_PARTIES slots, never moved */
    size_t n_sites;

    /* the current global model */
    gf_model *model;           /* params = θ of `version` */
    size_t L;
    int64_t version;
    uint8_t *blob;             /* its safetensors bytes */
    size_t blob_len;
    char sha[65];
    gf_strategy strat;

    /* the current round */
    gf_round_state state;
    int64_t round, attempt;
    gf_phase phase;
    int64_t deadline_ms;
    uint32_t n_sel;
    gf_site **sel;             /* sel[idx-1] */
    gf_secagg_params sp;
    gf_secagg_server *sa;
    uint8_t *adverts, *survivors, *unmask_req;
    size_t adverts_len, survivors_len, unmask_req_len;
    int64_t total_samples;     /* S: the counted samples (gf_coord_counted) over U1 */

    /* worker (aggregation); fields below are the worker's until it signals */
    pthread_t worker;
    int worker_running;
    gf_err worker_err;
    int worker_rejected;       /* the aggregate failed an integrity check (bound, non-finite) */
    char worker_msg[256];
    float *next_theta;         /* worker output: θ_{v+1} packed */
    gf_strategy next_strat;    /* the strategy after this step (swapped in on commit) */
    uint32_t n_survivors;

    int64_t eval_version;      /* version the evaluators are benchmarking */

    /* for /metrics (since this process started) */
    int64_t phase_started_ms;
    double phase_sum_s[GF_PH_COUNT];
    uint64_t phase_count[GF_PH_COUNT];
    uint64_t rounds_aggregated, attempts_abandoned, refused_sites;
    uint64_t audited_tls, audited_peer, audited_sites; /* refusals already in the audit log */
    int64_t refusals_audited_ms;
    char last_refused_site[GF_NAME_MAX + 1];
    struct { uint64_t serial; char event[32]; int64_t ms; uint64_t suppressed; } audit_limit[GF_AUDIT_LIMIT_SLOTS];
    int64_t audit_minute_ms;   /* start of the current minute of rate-limited rows */
    int audit_minute_rows;
    uint64_t audit_dropped;    /* rows over the per-minute budget, reported in the next one */
    int statistics;            /* this attempt secure-sums the sites' input statistics */
    int64_t base_version;      /* first version training rounds start from (1 with pooled statistics) */
    float pooled_mean[16], pooled_sd[16];
    int64_t pooled_frames;
    int64_t excluded_wait_round; /* the round whose wait on excluded sites was reported */
    int finished;
    int64_t finished_ms;
    int64_t last_done_ms;      /* when a site was last answered "done" */
    int xeval_step;            /* cross-site evaluation: 0 keys, 1 share, 2 evaluate */
    int64_t xeval_round;       /* the last round, under which results are stored */
    int64_t started_ms;        /* when this process opened the database */
    /* bounded influence (robust.h) and the pause after repeated rejections */
    int64_t rejections;        /* rejected attempts of this round in a row */
    uint64_t updates_refused, updates_clipped, aggregates_rejected;
    int64_t paused_seq;        /* audit seq of the federation_paused row (R_PAUSED) */
    int64_t paused_ms, resume_checked_ms;
    char paused_reason[256], paused_site[256]; /* paused_site: the refused sites, comma-separated */
    gf_err fatal;              /* a state transition could not be committed: the loop stops */
    char fatal_msg[512];
};

int64_t gf_now_ms(void);
/* Site of a verified peer (registered on first contact); NULL if refused (the
 * config lists sites and this one is not among them). */
gf_site *gf_coord_site(gf_coordinator *c, const gf_peer *p, int64_t now);
/* Round machinery (coordinator.c). */
void gf_coord_advance(gf_coordinator *c);   /* closes phases whose members answered or whose deadline passed */
void gf_coord_abandon(gf_coordinator *c, const char *why);
/* An attempt whose result failed an integrity check (an aggregate over the
 * bound or not finite; in plain mode too few updates once the refused were
 * left out): abandoned as above, audited as "attempt_rejected" naming the
 * sites (NULL: unknown, secure aggregation), and after max_attempt_failures
 * in a row the federation pauses (R_PAUSED, "federation_paused") until an
 * operator runs `gaitfed coordinator resume`. */
void gf_coord_reject(gf_coordinator *c, const char *why, const char *sites);
/* The sample count a site's update is weighted by: 1 under "equal", its
 * claim capped by max_samples under "samples_capped". */
int64_t gf_coord_counted(const gf_coordinator *c, const gf_site *s);
/* Secure mode: the denominator S_i a node divides its own claim n_i by, so
 * that n_i / S_i is the weight the coordinator fixed, counted / S (S the
 * total counted over the advertisers): S itself for a claim counted in full,
 * n_i·k under equal weights; rounded when a claim is over its cap. */
int64_t gf_coord_weight_den(const gf_coordinator *c, const gf_site *s);
/* A transition the state machine relies on could not be committed (the
 * database reports an error, e.g. the disk is full): logs one line, stops the
 * event loop and leaves the database at its last committed state (restart
 * resumes from there). e is returned. */
gf_err gf_coord_fatal(gf_coordinator *c, gf_err e);

/* Test hook, like SQLite's test hooks: with GAITFED_FAULT set in the
 * environment at start, "<kill|stop>[-before]:<point>[@<round>]", the process
 * sends itself SIGKILL (or SIGSTOP) the first time it reaches <point> (in
 * round <round> when given): right after the transition's transaction
 * committed, or with "-before" right before it commits. Points: train,
 * shares, masked, consistency, unmask (the phase recorded), aggregate (model
 * version stored and the round closed), evaluate (the evaluate phase closes,
 * evaluations stored), xeval_keys (cross-site stage opened), xeval_share,
 * xeval_evaluate (its steps), xeval_result (a hospital's results stored),
 * xeval_close (before the stage's closing audit row).
 * Used by tests/unit/test_faults.c; unset, it costs one comparison. */
void gf_coord_fault(const gf_coordinator *c, const char *point, int before);

/* Admission (admission.c). A certificate of the CA refused by the HTTPS
 * server (gf_https_opts.on_refused): audited by name and serial, rate-limited. */
void gf_coord_cert_refused(void *ctx, const char *name, uint64_t serial, const char *why, int handshake);
/* An audit row `event` about certificate `serial`, unless one was written for
 * the same key (the event, or a finer kind of it) and serial within
 * GF_CERT_AUDIT_MS (then counted, and the count goes into the next row as
 * "suppressed"). detail: JSON object, stolen. */
void gf_coord_audit_limited(gf_coordinator *c, const char *event, const char *key, uint64_t serial, json_t *detail);
/* One live node per identity (hospitals): 1 when the request of site s may go on; else
 * it has been answered (409 duplicate_instance, or 400 for a malformed
 * X-Gaitfed-Instance). */
int gf_coord_admit_instance(gf_coordinator *c, gf_https_req *r, gf_site *s, const gf_peer *p, int64_t now);

/* Prometheus text exposition of the counters above (metrics.c); *out malloc'd. */
gf_err gf_coord_metrics(const gf_coordinator *c, int64_t now, char **out, size_t *len);
/* Closes the running phase's clock (duration into the /metrics summary). */
void gf_coord_phase_done(gf_coordinator *c, int64_t now);
/* The HTTP entry point (api.c). */
void gf_coord_handle(gf_https_req *r, void *ctx);
/* Fewer eligible hospitals online than a round needs while some online ones
 * are excluded for cheating (aggregate.c): one stderr line and one audit row
 * ("round_waiting") per round, so a federation held up by the exclusion says so. */
void gf_coord_note_excluded_wait(gf_coordinator *c, uint32_t eligible, uint32_t need, int64_t now);
/* Aggregation on the worker thread (aggregate.c). */
gf_err gf_coord_start_aggregate(gf_coordinator *c);
void gf_coord_finish_aggregate(gf_coordinator *c);
/* Stores θ_{v+1} (c->next_theta) as the next version and closes the round, in one transaction. */
gf_err gf_coord_commit_version(gf_coordinator *c, double loss);

/* Cross-site evaluation after the last round (xeval.c). begin: 1 when the
 * stage starts (config on, not closed before), 0 when there is none, -1 while
 * a restarted coordinator waits for the last round's hospitals; advance: 1
 * when it is over. */
int gf_coord_xeval_begin(gf_coordinator *c, int64_t now);
int gf_coord_xeval_advance(gf_coordinator *c, int64_t now);
const char *gf_coord_xeval_state(const gf_coordinator *c, const gf_site *s);
json_t *gf_coord_xeval_work(const gf_coordinator *c);
void gf_coord_xeval_handle(gf_coordinator *c, gf_https_req *r, gf_site *s, const char *rest, int get, int post);
void gf_coord_xeval_free(gf_coordinator *c);

#endif

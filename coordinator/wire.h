/* Pure parsers of the JSON request bodies the coordinator's handlers read
 * (coordinator/api.c, coordinator/xeval.c; docs/PROTOCOL.md): bytes in,
 * fields out, GF_EFORMAT with a one-line message on failure. They know no
 * round state: the handlers check the attempt, the model version and who
 * shared, in the order the protocol gives. Body caps (413) stay with the
 * handlers. libFuzzer target: tests/fuzz/fuzz_wire_coord.c. */
#ifndef GF_COORD_WIRE_H
#define GF_COORD_WIRE_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "crypto/identity.h"
#include "sites/dataset.h"

/* POST /v1/rounds/{r}/advert: {"attempt", "n_samples", "val"?, "advert"?}.
 * "advert" (base64) is required when secure != 0. The fields point into
 * root: json_decref(out->root) when done (NULL after a failure). */
typedef struct {
    json_t *root;
    int64_t attempt, n_samples; /* integers, unchecked ranges */
    const json_t *val;          /* an object, or NULL when absent */
    const char *advert;         /* NULL when absent (or not a string) */
} gf_wire_advert;
gf_err gf_wire_parse_advert(const uint8_t *b, size_t n, int secure, gf_wire_advert *out);

/* POST /v1/evaluations: {"model_version", "results": [<= 64 items]}. The
 * items are checked one by one by gf_wire_evaluation_item (so that a stale
 * version is answered before a malformed item). */
#define GF_WIRE_EVAL_MAX 64
typedef struct {
    json_t *root;
    int64_t model_version;
    const json_t *results;
    size_t n;
} gf_wire_evaluations;
gf_err gf_wire_parse_evaluations(const uint8_t *b, size_t n, gf_wire_evaluations *out);
typedef struct {
    const char *cohort;    /* gf_name_valid */
    const char *norm;      /* "own" | "pooled" */
    const json_t *metrics; /* an object */
} gf_wire_evaluation;
gf_err gf_wire_evaluation_item(const gf_wire_evaluations *ev, size_t i, gf_wire_evaluation *out);

/* The cross-site messages: any JSON object first (*out owned by the caller;
 * "expected a JSON object: <why>"), its version checked by the handler, then
 * the fields. */
gf_err gf_wire_parse_object(const uint8_t *b, size_t n, json_t **out);

/* POST /v1/xeval/key: {"version", "pk": 64 hex, "cert": base64 DER, "sig":
 * 128 hex, "share": bool}. out->cert is owned (free it). */
typedef struct {
    uint8_t pk[32];
    uint8_t sig[GF_SIG_MAX];
    uint8_t *cert;
    size_t cert_len;       /* <= 2 * GF_CERT_DER_MAX */
    int share;
} gf_wire_xeval_key;
gf_err gf_wire_xeval_key_fields(const json_t *j, gf_wire_xeval_key *out);

/* POST /v1/xeval/results: {"version", "results": [<= GF_XEVAL_MAX_PEERS + 1]}
 * (GF_EFORMAT: 400), then each item {"model": "global" | name, "metrics":
 * {"subject_mean": {...}, ...}} (GF_EFORMAT: 422, with the same message
 * gf_wire_xeval_result_unknown gives for a model the handler does not know). */
gf_err gf_wire_xeval_results(const json_t *j, const json_t **results, size_t *n);
gf_err gf_wire_xeval_result_item(const json_t *results, size_t i, const char **model, const json_t **metrics);
gf_err gf_wire_xeval_result_unknown(size_t i);

/* Aggregates only (coordinator/wire_metrics.c): what the coordinator keeps of
 * a hospital's metrics, rebuilt into *out (new) from a fixed schema of known
 * fields — integers >= 0, numbers or null, cadence labels and the task's
 * output channel names as keys, task and units equal to the federation's.
 * Anything else (per-subject rows, unknown fields, other strings) is
 * GF_EFORMAT naming `what` and the path; an unknown key is never echoed (it
 * could be a subject id). Cross-site metrics: gf_metrics_to_json's aggregates
 * (n_cycles, n_subjects, frames, channels, subject_mean (required), pooled,
 * per_cadence, per_channel) plus task and units. Advert val: gf_local_train's
 * {train_loss, n_cycles, n_subjects, global, local}. */
gf_err gf_wire_xeval_aggregates(const json_t *metrics, gf_task task, const char *what, json_t **out);
gf_err gf_wire_val_aggregates(const json_t *val, json_t **out);

#endif

/* Pure parsers of the coordinator's answers a node reads (node/node.c,
 * node/node_xeval.c, node/https_client.c; docs/PROTOCOL.md): the work item
 * and its objects, the cross-site key list, HTTP error bodies. Bytes or JSON
 * in, fields out, GF_EFORMAT with a one-line message on failure; checks that
 * need the node's own state (its round, its config, its model) stay with
 * the node. libFuzzer target: tests/fuzz/fuzz_wire_node.c. */
#ifndef GF_NODE_WIRE_H
#define GF_NODE_WIRE_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "crypto/identity.h"
#include "crypto/secagg.h"
#include "node/local.h"

/* GET /v1/work: {"state", "round" >= 0, "attempt" >= 0, "retry_after_ms", ...}.
 * The fields point into root: json_decref(out->root) when done. */
typedef struct {
    json_t *root;
    const char *state;
    int64_t round, attempt, retry_after_ms; /* 0 when absent */
} gf_wire_work;
gf_err gf_wire_parse_work(const uint8_t *b, size_t n, gf_wire_work *out);

/* The work item's "model": {"version" >= 0, "sha256" (64 chars), "bytes" in 1..cap}. */
typedef struct {
    int64_t version;
    const char *sha256;
    size_t bytes;
} gf_wire_model;
gf_err gf_wire_work_model(const json_t *work, size_t cap, gf_wire_model *out);

/* The work item's "train" object t: lc (threads 0: the node's own), the
 * task and "normalization" (NULL when absent). The ranges are the
 * coordinator config's: epochs 1..10000, batch 1..65536, lr 1e-12..10,
 * weight_decay 0..10, grad_clip 0..1e6, mu 0..1e6 (a larger double, say
 * grad_clip 1e300, became an infinite float; an lr of 1e-320 became 0). */
gf_err gf_wire_work_train(const json_t *t, gf_local_config *lc, gf_task *task, const char **norm);

/* The work item's "secagg" object and "index": p (unchecked beyond the
 * field types and ranges: gf_secagg_params_check) and index in 1..n. */
gf_err gf_wire_work_secagg(const json_t *work, gf_secagg_params *p, uint32_t *index);

/* The work item's "xeval": senders (an array of <= GF_XEVAL_MAX_PEERS valid
 * names) and normalization. */
gf_err gf_wire_work_xeval(const json_t *work, const json_t **senders, const char **norm);

/* GET /v1/xeval/keys for model version `version`: {"version", "keys": [{"site",
 * "pk", "cert", "sig", "share"?}, <= GF_XEVAL_MAX_PEERS]}. Structure only; the
 * caller verifies every certificate and signature. gf_wire_keys_free. */
typedef struct {
    char site[GF_NAME_MAX + 1];
    uint8_t pk[32];
    uint8_t sig[GF_SIG_MAX];
    uint8_t *cert;       /* DER, <= 2 * GF_CERT_DER_MAX bytes (owned) */
    size_t cert_len;
} gf_wire_key;
typedef struct {
    gf_wire_key *keys;
    size_t n;
} gf_wire_keys;
gf_err gf_wire_parse_keys(const uint8_t *b, size_t n, int64_t version, gf_wire_keys *out);
void gf_wire_keys_free(gf_wire_keys *k);

/* An error answer {"error": {"code", "message"}}: code and msg (NUL-terminated,
 * truncated to their buffers; "" when absent). Never fails. */
void gf_wire_parse_error(const uint8_t *b, size_t n, char *code, size_t code_cap, char *msg, size_t msg_cap);

#endif

/* The coordinator's SQLite database (WAL, synchronous=FULL): sites, model
 * versions (weights + SHA-256 + strategy state), rounds and their phase,
 * per-round participants, evaluation results, and the audit chain
 * (coordinator/audit.h). Every state change is one transaction that also
 * appends its audit row, so a crash leaves either both or neither.
 * Secure-aggregation secrets and masked inputs are never stored: a round
 * interrupted by a restart is re-run from its key phase with fresh keys. */
#ifndef GF_COORD_DB_H
#define GF_COORD_DB_H
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/err.h"

#define GF_COORD_APP_ID 0x47464344 /* "GFCD" */

typedef struct {
    sqlite3 *db;
    char *path;
} gf_coord_db;

/* Opens (creating when missing) and checks the schema. */
gf_err gf_coord_db_open(const char *path, gf_coord_db *out);
void gf_coord_db_close(gf_coord_db *d);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. A failed COMMIT rolls back. */
gf_err gf_coord_db_begin(gf_coord_db *d);
gf_err gf_coord_db_commit(gf_coord_db *d);
void gf_coord_db_rollback(gf_coord_db *d);

/* Appends an audit row (inside the current transaction). detail: compact JSON. */
gf_err gf_coord_db_audit(gf_coord_db *d, int64_t now_ms, const char *event, const char *detail);

/* Model versions. */
gf_err gf_coord_db_put_model(gf_coord_db *d, int64_t version, int64_t round, const uint8_t *blob, size_t len,
                             const uint8_t *state, size_t state_len, int64_t now_ms);
/* Latest version (-1 when none). */
gf_err gf_coord_db_latest_model(gf_coord_db *d, int64_t *version);
/* The blob, state and hex SHA-256 of a version (caller frees blob/state). */
gf_err gf_coord_db_get_model(gf_coord_db *d, int64_t version, uint8_t **blob, size_t *len, uint8_t **state,
                             size_t *state_len, char sha_hex[65]);

/* Rounds. phase is a gf_phase name or "closed". */
gf_err gf_coord_db_open_round(gf_coord_db *d, int64_t round, int64_t model_version, const char *params_json,
                              int64_t now_ms);
gf_err gf_coord_db_set_phase(gf_coord_db *d, int64_t round, const char *phase, int64_t deadline_ms);
gf_err gf_coord_db_close_round(gf_coord_db *d, int64_t round, const char *outcome, int n_survivors, double loss,
                               int64_t now_ms);
/* The open round (round = 0 when none) with its attempt counter. */
gf_err gf_coord_db_open_round_get(gf_coord_db *d, int64_t *round, int64_t *model_version, int64_t *attempt,
                                  char phase[32]);
/* Highest round number ever opened (0 when none). */
gf_err gf_coord_db_last_round(gf_coord_db *d, int64_t *round);
/* A restart: the open round starts over at its key phase (attempt + 1). */
gf_err gf_coord_db_restart_round(gf_coord_db *d, int64_t round, const char *reason, int64_t now_ms);

/* The pause (coordinator.c gf_coord_reject): *seq = the audit seq of the last
 * "federation_paused" row not followed by a "federation_resumed" one, with
 * its detail; 0 when the federation is not paused. */
gf_err gf_coord_db_paused(gf_coord_db *d, int64_t *seq, char *detail, size_t cap);
/* The operator's resume (`gaitfed coordinator resume`): appends
 * "federation_resumed" {paused_seq, by} in its own transaction; GF_ESTATE
 * when the federation is not paused. */
gf_err gf_coord_db_resume(gf_coord_db *d, int64_t now_ms, const char *by);

/* Sites and per-round participation. */
gf_err gf_coord_db_site_seen(gf_coord_db *d, const char *name, const char *role, const char *cert_sha_hex,
                             int64_t now_ms, int *is_new);
gf_err gf_coord_db_round_site(gf_coord_db *d, int64_t round, const char *site, int idx, int64_t n_samples,
                              const char *val_json);
gf_err gf_coord_db_put_eval(gf_coord_db *d, int64_t model_version, const char *site, const char *cohort,
                            const char *norm, const char *metrics_json, int64_t now_ms);
/* Cross-site matrix (schema v2): metrics of `model` ("global" or the name of
 * the hospital whose locally trained model) on at_site's validation subjects,
 * evaluated at the end of `round`. Appends a "cross_site_evaluation" audit row. */
gf_err gf_coord_db_put_cross(gf_coord_db *d, int64_t round, const char *model, const char *at_site,
                             const char *metrics_json, int64_t now_ms);
/* Leave-one-site-out (schema v2): one JSON result per held-out site, written
 * by `gaitfed audit loso`; appends a "loso_result" audit row. */
gf_err gf_coord_db_put_loso(gf_coord_db *d, const char *site, const char *result_json, int64_t now_ms);

#endif

/* The coordinator's append-only audit log: one row per security-relevant or
 * model-changing event (site joined, certificate refused, round opened, phase
 * deadline, dropout, model version stored, evaluation result). Each row
 * carries the SHA-256 of the previous row and its own:
 *   hash_k = SHA-256("gaitfed-audit-v1" 0x00 | seq u64le | time_ms i64le |
 *                    len u32le | event | len u32le | detail | hash_{k-1})
 * with hash_0 = 32 zero bytes, and the table audit_head keeps the last
 * (seq, hash), written in the same transaction as the row. Editing,
 * inserting or deleting any row breaks a hash, a link or the head, and
 * gf_audit_verify names the first row where the chain breaks.
 * What it does not stop: someone who rewrites every later row and the head
 * (the hash is unkeyed); anchor the head elsewhere (the report prints it). */
#ifndef GF_AUDIT_H
#define GF_AUDIT_H
#include <stdint.h>

#include <sqlite3.h>

#include "common/err.h"

#define GF_AUDIT_EVENT_MAX  64      /* event names: "round_opened", … */
#define GF_AUDIT_DETAIL_MAX 65536   /* detail: compact JSON */

/* Creates the tables if missing (inside the caller's transaction or not). */
gf_err gf_audit_init(sqlite3 *db);
/* Appends one row; call inside the transaction that makes the change it
 * records, so the row and the change commit or roll back together.
 * time_ms: Unix time in ms. */
gf_err gf_audit_append(sqlite3 *db, int64_t time_ms, const char *event, const char *detail_json);

typedef struct {
    int64_t rows;          /* rows checked */
    int64_t first_bad;     /* seq of the first broken row, or 0 */
    char head_hex[65];     /* hash of the last row ("" when empty) */
    char why[256];         /* what is wrong at first_bad */
} gf_audit_report;

/* Walks the chain. GF_OK with first_bad = 0 when intact; GF_EFORMAT with the
 * report filled (and gf_errmsg naming the row) when broken; GF_EDB when the
 * database cannot be read. */
gf_err gf_audit_verify(sqlite3 *db, gf_audit_report *rep);

#endif

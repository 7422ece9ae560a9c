/* libFuzzer target for the audit chain verifier (coordinator/audit.h). Each
 * input edits a fresh in-memory chain of 4 rows: records (table, column,
 * row, kind, len, payload) — kind 0 sets the column to a value of its own
 * type (integer, or text), kind 1 deletes the row, kind 2 inserts a copy of
 * it under a new seq — with CHECK constraints off. Beyond "no crash": the
 * verifier may say "intact" only when nothing it covers changed (hash text
 * compared case-insensitively, as it decodes hex) or when the whole log,
 * head included, is gone (an unkeyed chain cannot tell; see audit.h); a
 * broken chain names a row and a reason on one line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "coordinator/audit.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static const char *const cols[][7] = {
    {"seq", "time_ms", "event", "detail", "prev_sha256", "sha256", NULL},
    {"id", "seq", "sha256", NULL},
};
static const int is_text[][7] = {{0, 0, 1, 1, 1, 1}, {0, 0, 1}};

/* Everything the verifier reads, hashes in lower case; malloc'd. */
static char *snapshot(sqlite3 *db)
{
    sqlite3_stmt *q;
    char *out = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce((SELECT group_concat(r, ';') FROM (SELECT quote(seq) || '|' || quote(time_ms) "
                           "|| '|' || hex(event) || '|' || hex(detail) || '|' || lower(prev_sha256) || '|' || "
                           "lower(sha256) AS r FROM audit ORDER BY seq)), '') || '#' || coalesce((SELECT quote(seq) "
                           "|| '|' || lower(sha256) FROM audit_head WHERE id = 1), '-')",
                           -1, &q, NULL) != SQLITE_OK)
        abort();
    if (sqlite3_step(q) == SQLITE_ROW) out = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    CHECK(out);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || gf_audit_init(db) != GF_OK) abort();
    static const char *const ev[] = {"site_joined", "round_opened", "model_stored", "round_closed"};
    for (int i = 0; i < 4; i++)
        if (gf_audit_append(db, 1795000000000 + i, ev[i], i == 2 ? "{\"version\":1,\"sha256\":\"ab\"}" : "{}"))
            abort();
    char *before = snapshot(db);
    sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL);
    while (n >= 5) {
        int t = d[0] % 2, ncol = t ? 3 : 6, c = d[1] % ncol, row = d[2] % 6, kind = d[3] % 3;
        size_t len = d[4] < n - 5 ? d[4] : n - 5;
        const uint8_t *p = d + 5;
        char sql[160];
        if (kind == 1) snprintf(sql, sizeof sql, "DELETE FROM %s WHERE rowid = ?1", t ? "audit_head" : "audit");
        else if (kind == 2 && !t)
            snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO audit SELECT ?2, time_ms, event, detail, prev_sha256, "
                                      "sha256 FROM audit WHERE seq = ?1");
        else snprintf(sql, sizeof sql, "UPDATE OR IGNORE %s SET %s = ?2 WHERE rowid = ?1", t ? "audit_head" : "audit",
                      cols[t][c]);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            int64_t iv = 0;
            memcpy(&iv, p, len < 8 ? len : 8);
            if (len == 1) iv = (int8_t)p[0]; /* small numbers: neighbouring seqs */
            sqlite3_bind_int(q, 1, row);
            if (kind == 2 || !is_text[t][c]) sqlite3_bind_int64(q, 2, iv);
            else sqlite3_bind_text(q, 2, (const char *)p, (int)len, SQLITE_TRANSIENT);
            sqlite3_step(q);
            sqlite3_finalize(q);
        }
        d += 5 + len, n -= 5 + len;
    }
    char *after = snapshot(db);
    gf_audit_report r;
    gf_err e = gf_audit_verify(db, &r);
    if (e == GF_OK) {
        CHECK(r.first_bad == 0);
        CHECK(!strcmp(before, after) || !strcmp(after, "#-"));
    } else if (e == GF_EFORMAT) {
        CHECK(r.first_bad >= 1 && r.why[0] && memchr(r.why, 0, sizeof r.why) && !strchr(gf_errmsg(), '\n'));
    } else {
        CHECK(e == GF_EDB);
    }
    free(before), free(after);
    sqlite3_close(db);
    return 0;
}

#include "coordinator/audit.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/hash.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS audit("
    " seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    " time_ms INTEGER NOT NULL,"
    " event TEXT NOT NULL CHECK (length(event) BETWEEN 1 AND 64),"
    " detail TEXT NOT NULL,"
    " prev_sha256 TEXT NOT NULL,"
    " sha256 TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_head("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL);";

static gf_err db_fail(sqlite3 *db, const char *what)
{
    return gf_fail(GF_EDB, "audit log: %s: %s", what, sqlite3_errmsg(db));
}

gf_err gf_audit_init(sqlite3 *db)
{
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) return db_fail(db, "creating tables");
    return GF_OK;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static gf_err row_hash(int64_t seq, int64_t time_ms, const char *event, size_t el, const char *detail, size_t dl,
                       const uint8_t prev[32], uint8_t out[32])
{
    static const char tag[] = "gaitfed-audit-v1"; /* hashed with its NUL */
    uint8_t hdr[8 + 8 + 4], len[4];
    put64(hdr, (uint64_t)seq);
    put64(hdr + 8, (uint64_t)time_ms);
    put32(hdr + 16, (uint32_t)el);
    put32(len, (uint32_t)dl);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, tag, sizeof tag) &&
             EVP_DigestUpdate(c, hdr, sizeof hdr) && EVP_DigestUpdate(c, event, el) &&
             EVP_DigestUpdate(c, len, sizeof len) && EVP_DigestUpdate(c, detail, dl) &&
             EVP_DigestUpdate(c, prev, 32) && EVP_DigestFinal_ex(c, out, &n) && n == 32;
    EVP_MD_CTX_free(c);
    return ok ? GF_OK : gf_fail(GF_ECRYPTO, "audit log: SHA-256 failed");
}

/* The last row's (seq, hash) from audit_head; (0, zeros) when empty. */
static gf_err head(sqlite3 *db, int64_t *seq, uint8_t hash[32], int *present)
{
    sqlite3_stmt *q;
    *seq = 0;
    *present = 0;
    memset(hash, 0, 32);
    if (sqlite3_prepare_v2(db, "SELECT seq, sha256 FROM audit_head WHERE id = 1", -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, "reading the head");
    gf_err e = GF_OK;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *present = 1;
        *seq = sqlite3_column_int64(q, 0);
        const char *h = (const char *)sqlite3_column_text(q, 1);
        if (!h || gf_unhex(h, hash, 32) != GF_OK) e = gf_fail(GF_EFORMAT, "audit log: the head hash is malformed");
    } else if (rc != SQLITE_DONE) {
        e = db_fail(db, "reading the head");
    }
    sqlite3_finalize(q);
    return e;
}

gf_err gf_audit_append(sqlite3 *db, int64_t time_ms, const char *event, const char *detail)
{
    size_t el = event ? strlen(event) : 0, dl = detail ? strlen(detail) : 0;
    if (!el || el > GF_AUDIT_EVENT_MAX) return gf_fail(GF_EINVAL, "audit log: event name of %zu bytes", el);
    if (dl > GF_AUDIT_DETAIL_MAX) return gf_fail(GF_ERANGE, "audit log: detail of %zu bytes over the cap", dl);
    if (!detail) detail = "";
    int64_t seq;
    int present;
    uint8_t prev[32], h[32];
    GF_TRY(head(db, &seq, prev, &present));
    seq++;
    GF_TRY(row_hash(seq, time_ms, event, el, detail, dl, prev, h));
    char hx[65], px[65];
    gf_hex(h, 32, hx);
    gf_hex(prev, 32, px);
    sqlite3_stmt *q = NULL;
    gf_err e = GF_OK;
    if (sqlite3_prepare_v2(db, "INSERT INTO audit(seq, time_ms, event, detail, prev_sha256, sha256) VALUES (?,?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(db, "appending");
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_int64(q, 2, time_ms);
    sqlite3_bind_text(q, 3, event, (int)el, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, detail, (int)dl, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, px, 64, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, hx, 64, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) e = db_fail(db, "appending");
    sqlite3_finalize(q);
    if (e) return e;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit_head(id, seq, sha256) VALUES (1, ?, ?)", -1, &q, NULL) !=
        SQLITE_OK)
        return db_fail(db, "moving the head");
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_text(q, 2, hx, 64, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) e = db_fail(db, "moving the head");
    sqlite3_finalize(q);
    return e;
}

static gf_err broken(gf_audit_report *r, int64_t seq, const char *fmt, const char *arg)
{
    if (seq < 1) seq = 1; /* an edited head can name row 0 or below; 0 would read as "intact" */
    r->first_bad = seq;
    snprintf(r->why, sizeof r->why, fmt, arg);
    return gf_fail(GF_EFORMAT, "audit log: row %lld: %s", (long long)seq, r->why);
}

gf_err gf_audit_verify(sqlite3 *db, gf_audit_report *r)
{
    memset(r, 0, sizeof *r);
    int64_t head_seq;
    int present;
    uint8_t head_hash[32], prev[32] = {0};
    gf_err he = head(db, &head_seq, head_hash, &present);
    if (he == GF_EFORMAT) /* fill the report like any other break */
        return broken(r, head_seq, "%s", "the head record's hash is malformed");
    if (he) return he;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT seq, time_ms, event, detail, prev_sha256, sha256 FROM audit ORDER BY seq", -1,
                           &q, NULL) != SQLITE_OK)
        return db_fail(db, "reading");
    gf_err e = GF_OK;
    int64_t expect = 1;
    int rc;
    while (e == GF_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0), t = sqlite3_column_int64(q, 1);
        const char *ev = (const char *)sqlite3_column_text(q, 2);
        size_t el = (size_t)sqlite3_column_bytes(q, 2);
        const char *det = (const char *)sqlite3_column_text(q, 3);
        size_t dl = (size_t)sqlite3_column_bytes(q, 3);
        const char *ph = (const char *)sqlite3_column_text(q, 4), *hh = (const char *)sqlite3_column_text(q, 5);
        uint8_t stored_prev[32], stored[32], h[32];
        if (seq != expect) {
            e = broken(r, expect, "%s", seq > expect ? "missing (deleted)" : "out of sequence");
            break;
        }
        if (!ev || !det || !ph || !hh || gf_unhex(ph, stored_prev, 32) != GF_OK || gf_unhex(hh, stored, 32) != GF_OK) {
            e = broken(r, seq, "%s", "malformed hash or missing field");
            break;
        }
        if (memcmp(stored_prev, prev, 32)) {
            e = broken(r, seq, "%s",
                       seq == 1 ? "does not start the chain" : "its link to the previous row is broken (that row "
                                                                 "was changed, or this one inserted)");
            break;
        }
        if ((e = row_hash(seq, t, ev, el, det, dl, prev, h)) != GF_OK) break;
        if (memcmp(h, stored, 32)) {
            e = broken(r, seq, "%s", "its contents do not match its hash (edited)");
            break;
        }
        memcpy(prev, h, 32);
        r->rows++;
        expect++;
    }
    if (e == GF_OK && rc != SQLITE_DONE) e = db_fail(db, "reading");
    sqlite3_finalize(q);
    if (e != GF_OK) return e;
    if (r->rows) gf_hex(prev, 32, r->head_hex);
    /* The head catches changes at the end of the chain: a deleted last row,
     * an appended row. */
    if (!present && r->rows) return broken(r, 1, "%s", "rows exist but the head record is missing");
    if (present && head_seq < 0) /* else the report would name row 0 or below */
        return broken(r, 1, "%s", "the head record names a negative seq (edited)");
    if (present && head_seq != r->rows)
        return broken(r, head_seq > r->rows ? r->rows + 1 : head_seq + 1, "%s",
                      head_seq > r->rows ? "missing at the end of the chain (deleted)"
                                         : "after the recorded head (appended outside the coordinator)");
    if (present && memcmp(head_hash, prev, 32))
        return broken(r, head_seq, "%s", "does not match the recorded head (the last row was changed)");
    return GF_OK;
}

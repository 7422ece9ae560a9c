/* The audit chain: rows written by gf_audit_append hash exactly as an
 * independent Python recomputation says; editing, inserting or deleting any
 * row with the sqlite3 tool makes `gaitfed audit verify` fail and name it. */
#include <sqlite3.h>

#include "coordinator/audit.h"
#include "testutil.h"

/* A database with n audit rows (as the coordinator writes them). */
static char *make_db(int n)
{
    char *path = tu_path(tu_dir(), "coord.db");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(gf_audit_init(db), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 1; i <= n; i++) {
        char detail[128];
        snprintf(detail, sizeof detail, "{\"round\":%d,\"site\":\"h%d\",\"note\":\"caf\xc3\xa9\"}", i, i % 3);
        cr_assert_eq(gf_audit_append(db, 1795000000000LL + i, i % 2 ? "round_opened" : "site_joined", detail), GF_OK,
                     "%s", gf_errmsg());
    }
    cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    return path;
}

/* Runs `gaitfed audit verify --db path`; returns the exit status and the first line of its output. */
static int verify_cli(const char *path, char *line, size_t cap)
{
    char out[1200];
    snprintf(out, sizeof out, "%s.out", path);
    int rc = tu_sh("%s audit verify --db %s > %s 2>&1", tu_bin(), path, out);
    FILE *f = fopen(out, "r");
    line[0] = 0;
    if (f) {
        if (!fgets(line, (int)cap, f)) line[0] = 0;
        fclose(f);
    }
    return rc;
}

static int py(const char *args)
{
    return tu_sh("%s %s/tests/py/audit_chain.py %s", tu_python(), tu_root(), args);
}

Test(audit, chain_matches_independent_recomputation)
{
    char *path = make_db(7);
    char cmd[1200], line[512];
    snprintf(cmd, sizeof cmd, "%s check > %s.py", path, path);
    cr_assert_eq(py(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.py", path);
    FILE *f = fopen(cmd, "r");
    char pyline[256] = "";
    cr_assert(f && fgets(pyline, sizeof pyline, f));
    fclose(f);
    cr_assert(!strncmp(pyline, "ok 7 ", 5), "python: %s", pyline);
    cr_assert_eq(verify_cli(path, line, sizeof line), 0, "%s", line);
    char want[300];
    snprintf(want, sizeof want, "audit chain intact: 7 rows, head %s", pyline + 5);
    cr_assert_str_eq(line, want);
    free(path);
}

Test(audit, empty_log_is_intact)
{
    char *path = make_db(0);
    char line[512];
    cr_assert_eq(verify_cli(path, line, sizeof line), 0, "%s", line);
    cr_assert_str_eq(line, "audit chain intact: 0 rows, head (empty)\n");
    free(path);
}

Test(audit, every_tampering_is_named)
{
    static const struct {
        const char *sql;   /* run by the sqlite3 tool */
        int rehash;        /* then recompute this row's own hash (a careful attacker) */
        const char *needle;
    } cases[] = {
        {"UPDATE audit SET detail='{\"round\":3,\"site\":\"evil\"}' WHERE seq=3", 0, "row 3: its contents do not match"},
        {"UPDATE audit SET detail='{}' WHERE seq=3", 3, "row 4: its link to the previous row is broken"},
        {"UPDATE audit SET time_ms=time_ms+1 WHERE seq=2", 0, "row 2: its contents"},
        {"UPDATE audit SET event='model_stored' WHERE seq=1", 0, "row 1: its contents"},
        {"DELETE FROM audit WHERE seq=3", 0, "row 3: missing (deleted)"},
        {"DELETE FROM audit WHERE seq=1", 0, "row 1: missing (deleted)"},
        {"DELETE FROM audit WHERE seq=7", 0, "row 7: missing at the end of the chain"},
        {"INSERT INTO audit SELECT 8, time_ms+1, event, detail, sha256, sha256 FROM audit WHERE seq=7", 8,
         "row 8: after the recorded head"},
        {"UPDATE audit SET detail='{}' WHERE seq=7", 7, "row 7: does not match the recorded head"},
        {"UPDATE audit SET seq=9 WHERE seq=5", 0, "row 5: missing (deleted)"},
        {"UPDATE audit SET sha256='zz' WHERE seq=6", 0, "row 6: malformed hash"},
        {"DELETE FROM audit_head", 0, "row 1: rows exist but the head record is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = make_db(7);
        char line[512], cmd[1400];
        cr_assert_eq(tu_sh("sqlite3 %s \"%s\"", path, cases[i].sql), 0, "sqlite3: %s", cases[i].sql);
        if (cases[i].rehash) {
            snprintf(cmd, sizeof cmd, "%s rehash %d", path, cases[i].rehash);
            cr_assert_eq(py(cmd), 0);
        }
        cr_assert_eq(verify_cli(path, line, sizeof line), 1, "tampering not detected: %s", cases[i].sql);
        cr_assert(strstr(line, cases[i].needle), "%s -> %s", cases[i].sql, line);
        cr_assert(strstr(line, path), "file not named: %s", line);
        free(path);
    }
}

Test(audit, append_refuses_bad_rows)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    cr_assert_eq(gf_audit_init(db), GF_OK);
    cr_assert_eq(gf_audit_append(db, 1, "", "{}"), GF_EINVAL);
    char big[GF_AUDIT_EVENT_MAX + 2];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(gf_audit_append(db, 1, big, "{}"), GF_EINVAL);
    gf_audit_report r;
    cr_assert_eq(gf_audit_verify(db, &r), GF_OK);
    cr_assert_eq(r.rows, 0, "refused rows leave nothing behind");
    sqlite3_close(db);
}

/* Found by tests/fuzz/fuzz_audit.c: an edited head made the verifier report
 * a broken chain with first_bad 0 (which reads as "intact") — a head seq of
 * -1 or 0 — or with an empty report (a malformed head hash). */
Test(audit, edited_head_names_a_row_regression)
{
    static const char *const edits[][2] = {
        {"UPDATE audit_head SET seq = -1", "row 1: the head record names a negative seq"},
        {"DELETE FROM audit; UPDATE audit_head SET seq = 0", "row 1: does not match the recorded head"},
        {"UPDATE audit_head SET sha256 = ''", "row 4: the head record's hash is malformed"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
        cr_assert_eq(gf_audit_init(db), GF_OK);
        for (int k = 0; k < 4; k++) cr_assert_eq(gf_audit_append(db, 1000 + k, "round_opened", "{}"), GF_OK);
        cr_assert_eq(sqlite3_exec(db, edits[i][0], NULL, NULL, NULL), SQLITE_OK);
        gf_audit_report r;
        cr_assert_eq(gf_audit_verify(db, &r), GF_EFORMAT, "%s", edits[i][0]);
        cr_assert_geq(r.first_bad, 1, "%s", edits[i][0]);
        cr_assert_neq(r.why[0], 0);
        cr_assert(strstr(gf_errmsg(), edits[i][1]), "%s: '%s'", edits[i][0], gf_errmsg());
        sqlite3_close(db);
    }
}

/* The coordinator database: schema and identity, model versions checked by
 * SHA-256, round transitions, site registration, and that every change and
 * its audit row commit or vanish together (also across a killed process). */
#include <signal.h>
#include <sys/wait.h>

#include "coordinator/audit.h"
#include "coordinator/db.h"
#include "testutil.h"

static int64_t audit_rows(gf_coord_db *d)
{
    gf_audit_report r;
    cr_assert_eq(gf_audit_verify(d->db, &r), GF_OK, "%s", gf_errmsg());
    return r.rows;
}

Test(coord_db, models_rounds_sites)
{
    char *path = tu_path(tu_dir(), "coord.db");
    gf_coord_db d;
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    int64_t v;
    cr_assert_eq(gf_coord_db_latest_model(&d, &v), GF_OK);
    cr_assert_eq(v, -1);
    uint8_t w[1000];
    for (int i = 0; i < 1000; i++) w[i] = (uint8_t)(i * 31);
    cr_assert_eq(gf_coord_db_begin(&d), GF_OK);
    cr_assert_eq(gf_coord_db_put_model(&d, 0, 0, w, sizeof w, NULL, 0, 1000), GF_OK, "%s", gf_errmsg());
    int is_new;
    cr_assert_eq(gf_coord_db_site_seen(&d, "h1", "hospital", "aa00000000000000000000000000000000000000000000000000000000000000", 1001, &is_new), GF_OK, "%s", gf_errmsg());
    cr_assert(is_new);
    cr_assert_eq(gf_coord_db_open_round(&d, 1, 0, "{\"n\":3}", 1002), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_round_site(&d, 1, "h1", 1, 120, "{\"rmse\":1.5}"), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_commit(&d), GF_OK);
    cr_assert_eq(audit_rows(&d), 3);

    cr_assert_eq(gf_coord_db_site_seen(&d, "h1", "hospital", "aa00000000000000000000000000000000000000000000000000000000000000", 1003, &is_new), GF_OK);
    cr_assert(!is_new);
    cr_assert_eq(audit_rows(&d), 3, "seeing a known site again is not an event");
    cr_assert_eq(gf_coord_db_site_seen(&d, "h1", "hospital", "bb00000000000000000000000000000000000000000000000000000000000000", 1004, &is_new), GF_OK);
    cr_assert_eq(audit_rows(&d), 4, "a reissued certificate is");

    cr_assert_eq(gf_coord_db_set_phase(&d, 1, "advert", 5000), GF_OK, "%s", gf_errmsg());
    int64_t r, mv, att;
    char phase[32];
    cr_assert_eq(gf_coord_db_open_round_get(&d, &r, &mv, &att, phase), GF_OK);
    cr_assert_eq(r, 1);
    cr_assert_eq(att, 1);
    cr_assert_str_eq(phase, "advert");
    cr_assert_eq(gf_coord_db_restart_round(&d, 1, "test", 1005), GF_OK);
    cr_assert_eq(gf_coord_db_open_round_get(&d, &r, &mv, &att, phase), GF_OK);
    cr_assert_eq(att, 2);
    cr_assert_str_eq(phase, "train");
    cr_assert_eq(gf_coord_db_close_round(&d, 1, "aggregated", 3, 0.25, 1006), GF_OK);
    cr_assert_eq(gf_coord_db_open_round_get(&d, &r, &mv, &att, phase), GF_OK);
    cr_assert_eq(r, 0, "no open round after closing");
    cr_assert_eq(gf_coord_db_set_phase(&d, 1, "advert", 0), GF_ESTATE, "a closed round does not move");
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "h1", "onfh", "own", "{\"rmse\":1.2}", 1007), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "h1", "onfh", "median", "{}", 1007), GF_EDB, "norm is own|pooled");
    cr_assert_eq(audit_rows(&d), 7);

    uint8_t *blob, *st;
    size_t len, sl;
    char sha[65];
    cr_assert_eq(gf_coord_db_get_model(&d, 0, &blob, &len, &st, &sl, sha), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(len, sizeof w);
    cr_assert_arr_eq(blob, w, sizeof w);
    cr_assert_null(st);
    free(blob);
    cr_assert_eq(gf_coord_db_get_model(&d, 9, &blob, &len, &st, &sl, sha), GF_ENOTFOUND);
    gf_coord_db_close(&d);

    /* Weights changed behind the coordinator's back are refused on read. */
    cr_assert_eq(tu_sh("sqlite3 %s \"UPDATE models SET weights = zeroblob(1000) WHERE version = 0\"", path), 0);
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_get_model(&d, 0, &blob, &len, &st, &sl, sha), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "does not match its SHA-256"), "%s", gf_errmsg());
    gf_coord_db_close(&d);
    free(path);
}

Test(coord_db, foreign_files_refused)
{
    const char *dir = tu_dir();
    char *junk = tu_path(dir, "junk.db"), *other = tu_path(dir, "other.db");
    cr_assert_eq(gf_write_file_atomic(junk, "not a database at all, certainly not SQLite", 43), GF_OK);
    gf_coord_db d;
    cr_assert_neq(gf_coord_db_open(junk, &d), GF_OK);
    cr_assert(strstr(gf_errmsg(), junk), "%s", gf_errmsg());
    cr_assert_eq(tu_sh("sqlite3 %s 'CREATE TABLE t(x)'", other), 0);
    cr_assert_eq(gf_coord_db_open(other, &d), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "not a gaitfed coordinator database"), "%s", gf_errmsg());
    free(junk);
    free(other);
}

Test(coord_db, rollback_and_kill_lose_change_and_audit_together)
{
    char *path = tu_path(tu_dir(), "coord.db");
    gf_coord_db d;
    uint8_t w[16] = {1};
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK);
    cr_assert_eq(gf_coord_db_begin(&d), GF_OK);
    cr_assert_eq(gf_coord_db_put_model(&d, 0, 0, w, sizeof w, NULL, 0, 1), GF_OK);
    gf_coord_db_rollback(&d);
    int64_t v;
    cr_assert_eq(gf_coord_db_latest_model(&d, &v), GF_OK);
    cr_assert_eq(v, -1);
    cr_assert_eq(audit_rows(&d), 0);
    gf_coord_db_close(&d);

    /* A child commits version 0, then is killed inside the transaction of version 1. */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        gf_coord_db c;
        if (gf_coord_db_open(path, &c) || gf_coord_db_begin(&c) || gf_coord_db_put_model(&c, 0, 0, w, sizeof w, NULL, 0, 2) ||
            gf_coord_db_commit(&c) || gf_coord_db_begin(&c) || gf_coord_db_put_model(&c, 1, 1, w, sizeof w, NULL, 0, 3))
            _exit(3);
        if (write(fds[1], "x", 1) != 1) _exit(4);
        for (;;) pause();
    }
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1, "child failed before the kill point");
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_latest_model(&d, &v), GF_OK);
    cr_assert_eq(v, 0, "the committed version survives, the interrupted one is gone");
    cr_assert_eq(audit_rows(&d), 1);
    gf_coord_db_close(&d);
    close(fds[0]);
    close(fds[1]);
    free(path);
}

/* Schema v3 accepts evaluations labelled 'model' ("normalization": "model").
 * A v2 database (its evaluations table as v2 made it, which refuses
 * 'model') is upgraded in place on open, its rows and audit chain kept. */
Test(coord_db, schema_v2_upgraded_to_accept_model_evaluations)
{
    const char *dir = tu_dir();
    char *path = tu_path(dir, "coord.db");
    gf_coord_db d;
    uint8_t w[64] = {1};
    int is_new;
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_begin(&d), GF_OK);
    cr_assert_eq(gf_coord_db_put_model(&d, 0, 0, w, sizeof w, NULL, 0, 1000), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_site_seen(&d, "ev", "evaluator", "bb00000000000000000000000000000000000000000000000000000000000000", 1001, &is_new), GF_OK);
    cr_assert_eq(gf_coord_db_commit(&d), GF_OK);
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "ev", "onfh", "own", "{\"rmse\":1.2}", 1002), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "ev", "onfh", "model", "{\"rmse\":1.1}", 1003), GF_OK, "%s", gf_errmsg());
    int64_t rows = audit_rows(&d);
    gf_coord_db_close(&d);
    cr_assert_eq(tu_sh("sqlite3 %s \"PRAGMA user_version\" | grep -qx 3", path), 0);
    /* back to v2: the table as v2 created it, one row */
    cr_assert_eq(tu_sh("sqlite3 %s \"BEGIN; DELETE FROM evaluations WHERE norm = 'model';"
                       " CREATE TABLE e2(model_version INTEGER NOT NULL REFERENCES models(version),"
                       " site TEXT NOT NULL REFERENCES sites(name), cohort TEXT NOT NULL,"
                       " norm TEXT NOT NULL CHECK (norm IN ('own', 'pooled')), metrics TEXT NOT NULL CHECK (json_valid(metrics)),"
                       " created_ms INTEGER NOT NULL, PRIMARY KEY (model_version, site, cohort, norm));"
                       " INSERT INTO e2 SELECT * FROM evaluations; DROP TABLE evaluations;"
                       " ALTER TABLE e2 RENAME TO evaluations; PRAGMA user_version = 2; COMMIT;\"", path), 0);
    cr_assert_neq(tu_sh("sqlite3 %s \"INSERT INTO evaluations VALUES (0, 'ev', 'onfh', 'model', '{}', 1)\" 2> /dev/null",
                        path), 0, "the v2 table refuses 'model' (else this test shows nothing)");
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(tu_sh("sqlite3 %s \"PRAGMA user_version; SELECT count(*) FROM evaluations WHERE norm = 'own'\" | "
                       "tr '\\n' ' ' | grep -qx '3 1 '", path), 0, "upgraded to 3 with the row kept");
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "ev", "onfh", "model", "{\"rmse\":1.1}", 1004), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_put_eval(&d, 0, "ev", "onfh", "median", "{}", 1005), GF_EDB, "norm is own|pooled|model");
    cr_assert_eq(audit_rows(&d), rows + 1, "the chain goes on intact (the removed 'model' row was a table row, not audit)");
    gf_coord_db_close(&d);
    free(path);
}

/* Load: 50 hospital processes (one `gaitfed node` each), one coordinator,
 * secure aggregation (SecAgg+ defaults for n = 50), a tiny LSTM, on
 * 127.0.0.1, through `gaitfed bench federation`. Asserts completion and
 * correctness only (every round aggregated from all 50 masked updates in its
 * first attempt, every process exited 0, the audit chain verifies); the
 * figures (round and phase times, coordinator peak RSS) are printed, never
 * asserted. Checked again here with the sqlite3 tool as an independent reader.
 *
 * Rounds: 2, or GF_LOAD_ROUNDS (about 10 s natively, 40 s under ASan/UBSan).
 * GF_LOAD_NODES overrides the 50 (only
 * `make test-valgrind` does, where this is the small demo-like run with every
 * process under memcheck); GF_SLOW=F scales the bench's deadlines. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testutil.h"
#include "tests/unit/proc_testutil.h"

#define N_NODES_DEFAULT 50

#define DEFAULT_ROUNDS 2


static long query_long(const char *db, const char *sql)
{
    char cmd[4096], out[256] = "";
    snprintf(cmd, sizeof cmd, "sqlite3 %s \"%s\"", db, sql);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    cr_assert_eq(pclose(p), 0, "sqlite3 failed on: %s", sql);
    char *end;
    long v = strtol(out, &end, 10);
    cr_assert(end != out, "'%s' gave '%s', not a number", sql, out);
    return v;
}

Test(load, fifty_nodes_complete_secure_rounds)
{
    long N_NODES = N_NODES_DEFAULT;
    const char *nn = getenv("GF_LOAD_NODES");
    if (nn && *nn) N_NODES = strtol(nn, NULL, 10);
    cr_assert(N_NODES >= 2 && N_NODES <= 500, "GF_LOAD_NODES=%s", nn);
    long rounds = DEFAULT_ROUNDS;
    const char *r = getenv("GF_LOAD_ROUNDS");
    if (r && *r) rounds = strtol(r, NULL, 10);
    cr_assert(rounds >= 1 && rounds <= 100, "GF_LOAD_ROUNDS=%s", r);
    const char *root = tu_dir();
    char out[1200], txt[1300];
    snprintf(out, sizeof out, "%s/fed", root);
    snprintf(txt, sizeof txt, "%s/bench.txt", root);
    const char *data = fed_data();
    int rc = tu_sh("%s bench federation --nodes %ld --rounds %ld --out %s --data %s > %s 2>&1", tu_bin(), N_NODES, rounds,
                   out, data, txt);
    tu_sh("cat %s >&2", txt); /* the figures */
    if (rc) tu_sh("for l in %s/logs/coordinator.log %s/logs/hospital-001.log; do echo \"== $l\"; tail -n 30 $l; done >&2", out, out);
    cr_assert_eq(rc, 0, "gaitfed bench federation exited with %d (output above; run in %s)", rc, out);

    /* The JSON line the bench prints last. */
    FILE *f = fopen(txt, "r");
    cr_assert_not_null(f);
    char line[16384], last[16384] = "";
    while (fgets(line, sizeof line, f))
        if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
    fclose(f);
    json_error_t je;
    json_t *j = json_loads(last, 0, &je);
    cr_assert_not_null(j, "no JSON line in the bench output: %s", je.text);
    cr_assert(json_is_true(json_object_get(j, "ok")));
    cr_assert_eq(json_integer_value(json_object_get(j, "nodes")), N_NODES);
    cr_assert_eq(json_integer_value(json_object_get(j, "rounds_aggregated_all_survivors")), rounds);
    cr_assert(json_is_true(json_object_get(j, "audit_ok")));
    cr_assert_gt(json_real_value(json_object_get(j, "coordinator_peak_rss_mib")), 0);
    json_t *per = json_object_get(j, "per_round");
    cr_assert_eq(json_array_size(per), (size_t)rounds);
    for (size_t i = 0; i < json_array_size(per); i++)
        cr_assert_gt(json_real_value(json_object_get(json_array_get(per, i), "round_s")), 0);
    json_decref(j);

    char db[1300], sql[512];
    snprintf(db, sizeof db, "%s/coordinator.db", out);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = %ld AND attempt = 1",
             N_NODES);
    cr_assert_eq(query_long(db, sql), rounds);
    cr_assert_eq(query_long(db, "SELECT count(*) FROM rounds"), rounds);
    cr_assert_eq(query_long(db, "SELECT count(*) FROM models"), rounds + 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM round_sites");
    cr_assert_eq(query_long(db, sql), rounds * N_NODES);
    cr_assert_eq(query_long(db, "SELECT count(*) FROM sites WHERE role = 'hospital'"), N_NODES);
    cr_assert_eq(query_long(db, "SELECT count(*) FROM audit WHERE event IN ('dropouts', 'attempt_abandoned')"), 0);
    cr_assert_eq(tu_sh("%s audit verify --db %s > %s/verify.txt 2>&1", tu_bin(), db, root), 0, "gaitfed audit verify failed");
}

/* Issue 13, finding 1, with real processes: a registered hospital running
 * modified code (tests/evil/evil_node --attack forge_unmask:1) reveals
 * forged self-mask-seed shares in secure aggregation. Three honest hospitals,
 * the forger and an evaluator run a tiny LSTM for two rounds; the same
 * federation without the forger runs alongside on the same seeds. The forger
 * must be named in the audit log, the rounds must complete without it, and
 * the final model must equal the federation without it within the fixed-point
 * bound. The largest parameter change and the L2 change of the global model
 * per round are printed for both federations (the threat model quotes them). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "model/safetensors.h"
#include "tests/unit/proc_testutil.h"
#include "tests/unit/testutil.h"

#define N_HONEST 3
static const char *const honest[N_HONEST] = {"imu-clinic", "optical-lab", "video-clinic"};
#define ROGUE "rogue-clinic"
#define ROUNDS 2

typedef struct {
    char root[1024], dir[1100];
    int port;
    pid_t coord, node[N_HONEST], rogue, eval;
} fed;

static double slow(void)
{
    const char *s = getenv("GF_SLOW");
    double f = s && *s ? strtod(s, NULL) : 1;
    return f >= 1 ? f : 1;
}

static void node_config(const fed *f, const char *name, const char *site_db)
{
    char path[1300], text[4096];
    snprintf(path, sizeof path, "%s/%s.json", f->dir, name);
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"role\": \"hospital\", \"coordinator_url\": \"https://localhost:%d\",\n"
             " \"key\": \"%s/ca/kits/%s/key.pem\", \"cert\": \"%s/ca/kits/%s/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
             " \"site_db\": \"%s\", \"state_dir\": \"state-%s\", \"normalization\": \"own\",\n"
             " \"threads\": 1, \"poll_ms\": 100, \"backoff_max_ms\": 400}\n",
             name, f->port, f->root, name, f->root, name, f->root, site_db, name);
    write_text(path, text);
}

/* Coordinator (secure, 2 rounds, min_sites 3, seed 7), the honest nodes and
 * the evaluator; the rogue's config too (it trains on a copy of imu-clinic's data). */
static void fed_init(fed *f, const char *root, const char *name)
{
    memset(f, 0, sizeof *f);
    snprintf(f->root, sizeof f->root, "%s", root);
    snprintf(f->dir, sizeof f->dir, "%s/%s", root, name);
    cr_assert_eq(mkdir(f->dir, 0755), 0);
    f->port = free_port();
    const char *data = fed_data();
    char path[1300], text[4096], db[1400];
    double s = slow();
    snprintf(path, sizeof path, "%s/coordinator.json", f->dir);
    snprintf(text, sizeof text,
             "{\"name\": \"coord\", \"listen\": \"127.0.0.1:%d\", \"key\": \"%s/ca/kits/coord/key.pem\",\n"
             " \"cert\": \"%s/ca/kits/coord/cert.pem\", \"ca\": \"%s/ca/ca.pem\", \"crl\": \"%s/ca/crl.pem\",\n"
             " \"db\": \"coordinator.db\", \"secure_aggregation\": true, \"strategy\": \"fedavg\", \"rounds\": %d,\n"
             " \"min_sites\": 3, \"local_epochs\": 1, \"batch\": 32, \"lr\": 0.001, \"seed\": 7,\n"
             " \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
             " \"timeouts_s\": {\"train\": %g, \"advert\": %g, \"shares\": %g, \"masked\": %g, \"consistency\": %g,\n"
             "                \"unmask\": %g, \"evaluate\": %g}}\n",
             f->port, root, root, root, root, ROUNDS, 30 * s, 8 * s, 8 * s, 8 * s, 8 * s, 8 * s, 20 * s);
    write_text(path, text);
    for (int i = 0; i < N_HONEST; i++) {
        snprintf(db, sizeof db, "%s/sites/%s.db", data, honest[i]);
        node_config(f, honest[i], db);
    }
    snprintf(db, sizeof db, "%s/rogue.db", f->dir);
    cr_assert_eq(tu_sh("cp %s/sites/%s.db %s", data, honest[0], db), 0);
    node_config(f, ROGUE, db);
    snprintf(path, sizeof path, "%s/bench.json", f->dir);
    snprintf(text, sizeof text,
             "{\"name\": \"bench\", \"role\": \"evaluator\", \"coordinator_url\": \"https://localhost:%d\",\n"
             " \"key\": \"%s/ca/kits/bench/key.pem\", \"cert\": \"%s/ca/kits/bench/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
             " \"poll_ms\": 100, \"backoff_max_ms\": 400,\n"
             " \"cohorts\": [{\"name\": \"healthy-test\", \"db\": \"%s/cohorts/healthy-test.db\"}]}\n",
             f->port, root, root, root, data);
    write_text(path, text);
}

/* Runs prog args... with stdout+stderr appended to dir/name.log; killed with the test. */
static pid_t spawn(const fed *f, const char *name, const char *prog, const char *const *args)
{
    char log[1300];
    snprintf(log, sizeof log, "%s/%s.log", f->dir, name);
    return tu_spawn(log, prog, args);
}

static pid_t start_node(const fed *f, const char *name, const char *attack)
{
    char cfg[1300];
    snprintf(cfg, sizeof cfg, "%s/%s.json", f->dir, name);
    if (attack) {
        const char *a[] = {"--attack", attack, "--config", cfg, "--verbose", NULL};
        return spawn(f, name, tu_evil(), a);
    }
    const char *a[] = {"node", "--config", cfg, "--verbose", NULL};
    return spawn(f, name, tu_bin(), a);
}

/* 1 once dir/name.log holds needle, 0 after timeout_s. */
static int wait_log(const fed *f, const char *name, const char *needle, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (tu_sh("grep -qF '%s' %s/%s.log 2>/dev/null", needle, f->dir, name) == 0) return 1;
        sleep_ms(50);
    }
    return 0;
}

/* The coordinator first, then (with_rogue) the forger, which must be online
 * when the third honest hospital makes round 1 possible, then n_honest
 * honest hospitals and the evaluator. */
static void start_fed(fed *f, int with_rogue, int n_honest)
{
    char cfg[1300];
    snprintf(cfg, sizeof cfg, "%s/coordinator.json", f->dir);
    const char *a[] = {"coordinator", "--config", cfg, NULL};
    f->coord = spawn(f, "coordinator", tu_bin(), a);
    if (with_rogue) {
        f->rogue = start_node(f, ROGUE, "forge_unmask:1");
        cr_assert(wait_log(f, "coordinator", "site " ROGUE " (hospital) joined", 60 * slow()),
                  "the forging node never reached the coordinator");
    }
    for (int i = 0; i < n_honest; i++) f->node[i] = start_node(f, honest[i], NULL);
    f->eval = start_node(f, "bench", NULL);
}

static void wait_fed(fed *f, double timeout_s)
{
    pid_t pids[N_HONEST + 3];
    const char *who[N_HONEST + 3];
    int n = 0;
    for (int i = 0; i < N_HONEST; i++) who[n] = honest[i], pids[n++] = f->node[i];
    if (f->rogue) who[n] = ROGUE, pids[n++] = f->rogue;
    who[n] = "bench", pids[n++] = f->eval;
    who[n] = "coordinator", pids[n++] = f->coord;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        double left = timeout_s - (now_s() - t0);
        int rc = wait_exit(pids[i], left > 1 ? left : 1);
        if (rc != 0) tu_sh("for l in %s/*.log; do echo \"== $l\"; tail -n 25 $l; done >&2", f->dir);
        cr_assert_eq(rc, 0, "%s exited with %d (-1: still running after %.0f s)", who[i], rc, timeout_s);
    }
}

/* One value of a query on the federation's database (the sqlite3 tool: an independent reader). */
static void query(const fed *f, const char *sql, char *out, size_t cap)
{
    char db[1300];
    snprintf(db, sizeof db, "%s/coordinator.db", f->dir);
    proc_query(db, sql, out, cap);
}

static long query_long(const fed *f, const char *sql)
{
    char db[1300];
    snprintf(db, sizeof db, "%s/coordinator.db", f->dir);
    return proc_query_long(db, sql);
}

static void load_version(const fed *f, int v, gf_safetensors *st)
{
    char db[1300];
    snprintf(db, sizeof db, "%s/coordinator.db", f->dir);
    proc_model_version(db, v, st);
}

/* L2 norm of a − b over every parameter (max |a − b| is max_diff). */
static double l2_diff(const gf_safetensors *a, const gf_safetensors *b)
{
    double s = 0;
    for (int i = 0; i < a->n; i++) {
        const gf_st_tensor *t = &a->t[i], *u = gf_safetensors_get(b, t->name);
        cr_assert(u && u->numel == t->numel);
        for (size_t k = 0; k < t->numel; k++) s += ((double)t->data[k] - u->data[k]) * ((double)t->data[k] - u->data[k]);
    }
    return sqrt(s);
}

/* Prints the largest parameter change and the L2 change of the global model in each round. */
static void print_changes(const fed *f, const char *what)
{
    for (int v = 1; v <= ROUNDS; v++) {
        gf_safetensors a, b;
        load_version(f, v - 1, &a);
        load_version(f, v, &b);
        fprintf(stderr, "evil_vss: %s round %d: max |dparam| %.6g, L2 %.6g\n", what, v, max_diff(&b, &a, NULL),
                l2_diff(&b, &a));
        gf_safetensors_free(&a), gf_safetensors_free(&b);
    }
}

Test(evil_vss, forged_unmask_shares_forger_named_and_dropped_rounds_match_a_federation_without_it)
{
    const char *root = tu_dir();
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium redteam > /dev/null && "
                       "%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null && "
                       "%s pki issue --dir %s/ca --name bench --role evaluator > /dev/null",
                       tu_bin(), root, tu_bin(), root, tu_bin(), root), 0);
    const char *all[] = {honest[0], honest[1], honest[2], ROGUE};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name %s --role hospital > /dev/null", tu_bin(), root, all[i]), 0);
    fed atk, ref;
    fed_init(&atk, root, "attacked");
    fed_init(&ref, root, "without-rogue");
    start_fed(&atk, 1, N_HONEST);
    start_fed(&ref, 0, N_HONEST);
    wait_fed(&atk, 360 * slow());
    wait_fed(&ref, 360 * slow());

    /* Figures first: they matter most when the assertions below fail (today's main). */
    char versions[64];
    query(&atk, "SELECT count(*) FROM models", versions, sizeof versions);
    cr_assert_eq(strtol(versions, NULL, 10), ROUNDS + 1, "attacked federation: %s model versions", versions);
    print_changes(&atk, "with the forger");
    print_changes(&ref, "without it (honest)");
    gf_safetensors a, b;
    load_version(&atk, ROUNDS, &a);
    load_version(&ref, ROUNDS, &b);
    double max_theta, d = max_diff(&a, &b, &max_theta), l2 = l2_diff(&a, &b);
    char s[64];
    query(&ref, "SELECT json_extract(params, '$.scale') FROM rounds WHERE round = 1", s, sizeof s);
    double tol = fixpoint_tolerance(strtod(s, NULL), N_HONEST, ROUNDS, max_theta);
    fprintf(stderr, "evil_vss: final model, with the forger vs without it: max |d| %.6g (bound %.3g), L2 %.6g\n", d, tol, l2);

    /* The forger is named, with its site name and the check that failed, once. */
    cr_assert_eq(query_long(&atk, "SELECT count(*) FROM audit WHERE event = 'secagg_cheater'"), 1);
    char row[512];
    query(&atk, "SELECT json_extract(detail, '$.site') || '|' || json_extract(detail, '$.check') || '|' || "
                "json_extract(detail, '$.secret') || '|' || json_extract(detail, '$.round') FROM audit "
                "WHERE event = 'secagg_cheater'", row, sizeof row);
    cr_assert_str_eq(row, ROGUE "|forged_share|b|1", "audit row: %s", row);
    query(&atk, "SELECT json_extract(detail, '$.reason') FROM audit WHERE event = 'secagg_cheater'", row, sizeof row);
    cr_assert(strstr(row, "not matching their dealer's commitment") != NULL, "reason: %s", row);
    /* Its attempt was abandoned and redone without it; it was never sampled again (the redone attempt and
     * round 2 select the three honest sites), and both rounds aggregated three inputs. */
    cr_assert_eq(query_long(&atk, "SELECT count(*) FROM audit WHERE event = 'attempt_abandoned' AND "
                                  "json_extract(detail, '$.reason') LIKE '%forged shares%'"), 1);
    query(&atk, "SELECT group_concat(json_extract(detail, '$.selected'), ' ') FROM audit WHERE event = 'round_reopened'",
          row, sizeof row);
    cr_assert(*row && !strstr(row, ROGUE), "redone attempts selected: %s", row);
    query(&atk, "SELECT json_extract(params, '$.selected') FROM rounds WHERE round = 2", row, sizeof row);
    cr_assert(*row && !strstr(row, ROGUE), "round 2 selected: %s", row);
    cr_assert_eq(query_long(&atk, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND n_survivors = 3"), ROUNDS);
    cr_assert_eq(query_long(&atk, "SELECT count(*) FROM round_sites WHERE round = 2 AND site <> '" ROGUE "'"), N_HONEST);
    cr_assert_eq(query_long(&atk, "SELECT count(*) FROM round_sites WHERE round = 2 AND site = '" ROGUE "'"), 0);
    /* No honest site was blamed, and the honest nodes saw nothing wrong. */
    for (int i = 0; i < N_HONEST; i++)
        cr_assert_eq(tu_sh("grep -q 'caught cheating' %s/coordinator.log && ! grep -q 'site %s caught' %s/coordinator.log",
                           atk.dir, honest[i], atk.dir), 0, "%s blamed", honest[i]);
    /* The final model is the federation's without the forger (deterministic local training on the same seeds;
     * the honest sites reuse their trained update in the redone attempt). */
    cr_assert_leq(d, tol, "final model differs from the federation without the forger by %g (bound %g)", d, tol);
    gf_safetensors z;
    load_version(&ref, 0, &z);
    cr_assert_gt(max_diff(&b, &z, NULL), 1000 * tol, "training barely moved the model: the comparison proves nothing");
    gf_safetensors_free(&a), gf_safetensors_free(&b), gf_safetensors_free(&z);
}

/* Two honest hospitals and the forger with min_sites 3: once the forger is
 * excluded the round cannot reopen (two sites would learn each other's
 * update). The federation says so — one "round_waiting" audit row naming the
 * excluded site and one line in the log — and does not spin through attempts. */
Test(evil_vss, forger_excluded_below_min_sites_round_waits_and_says_so)
{
    const char *root = tu_dir();
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium redteam > /dev/null && "
                       "%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null && "
                       "%s pki issue --dir %s/ca --name bench --role evaluator > /dev/null",
                       tu_bin(), root, tu_bin(), root, tu_bin(), root), 0);
    const char *all[] = {honest[0], honest[1], ROGUE};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name %s --role hospital > /dev/null", tu_bin(), root, all[i]), 0);
    fed f;
    fed_init(&f, root, "short");
    start_fed(&f, 1, 2);
    int waited = wait_log(&f, "coordinator", "round 1 waits", 120 * slow());
    if (!waited) tu_sh("for l in %s/*.log; do echo \"== $l\"; tail -n 25 $l; done >&2", f.dir);
    cr_assert(waited, "the coordinator never reported waiting for eligible sites");
    sleep_ms(2000); /* it must stay put, not cycle through attempts */
    kill(f.coord, SIGTERM);
    cr_assert_eq(wait_exit(f.coord, 30), 0);
    char row[512];
    query(&f, "SELECT json_extract(detail, '$.site') FROM audit WHERE event = 'secagg_cheater'", row, sizeof row);
    cr_assert_str_eq(row, ROGUE);
    query(&f, "SELECT json_extract(detail, '$.eligible') || '/' || json_extract(detail, '$.needed') || ' ' || "
              "json_extract(detail, '$.excluded') FROM audit WHERE event = 'round_waiting'", row, sizeof row);
    cr_assert_str_eq(row, "2/3 [\"" ROGUE "\"]", "round_waiting: %s", row);
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM audit WHERE event IN ('attempt_abandoned', 'round_reopened')"), 1,
                 "attempts kept cycling");
    cr_assert_eq(query_long(&f, "SELECT count(*) FROM models"), 1, "a model was aggregated below min_sites");
}

/* gaitfed demo [--out DIR] [--rounds N] [--model transformer|lstm|gru|tcn]:
 * a whole federation on this machine, from nothing. It synthesizes the cohort,
 * creates a consortium PKI, starts the coordinator, one node per synthetic
 * hospital and one evaluator as separate processes on 127.0.0.1 (ephemeral
 * port), prints one line per round (sites, loss, healthy-test and ONFH
 * subject-level RMSE and R²), stops every process and writes DIR/summary.json
 * next to the coordinator database (DIR/coordinator.db). Logs: DIR/logs/. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "common/fileio.h"

static const char *USAGE =
    "gaitfed demo [--out DIR (./demo-out)] [--rounds N (15)] [--model transformer|lstm|gru|tcn] [--plain]\n"
    "             [--local-epochs E (2)] [--batch B (16)] [--lr X (1e-3)]\n"
    "             [--strategy fedavg|fedprox|fedadam|fedyogi|fedadagrad] [--server-lr X (1.5)]\n"
    "             [--normalization own|global]";

#define MAX_PROCS 16
#define DEMO_LIMIT_S 600 /* a demo that has not finished by then is stopped and reported */

typedef struct {
    pid_t pid[MAX_PROCS];
    char name[MAX_PROCS][64];
    int n;
} procs;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs `gaitfed <args…>` (this binary) with stdout+stderr to log; returns its pid. */
static pid_t spawn(const char *log, char *const *args)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv("/proc/self/exe", args);
    _exit(127);
}

/* Runs `gaitfed <args…>` to completion, quietly; 0 on success. */
static int run(const char *log, char *const *args)
{
    pid_t pid = spawn(log, args);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop_all(procs *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->pid[i] > 0) kill(p->pid[i], SIGTERM);
    double t0 = now_s();
    for (int i = 0; i < p->n; i++) {
        while (p->pid[i] > 0) {
            int st;
            pid_t r = waitpid(p->pid[i], &st, WNOHANG);
            if (r == p->pid[i] || r < 0) {
                p->pid[i] = 0;
                break;
            }
            if (now_s() - t0 > 5) kill(p->pid[i], SIGKILL);
            usleep(20000);
        }
    }
}

static int write_json(const char *path, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = s && gf_write_file_atomic(path, s, strlen(s)) == GF_OK ? 0 : -1;
    free(s);
    return rc;
}

static json_t *load_json(const char *path)
{
    return json_load_file(path, 0, NULL);
}

/* Subject-level mean of metric key in an evaluation's metrics JSON text. */
static double metric(const char *metrics_json, const char *key)
{
    json_t *m = json_loads(metrics_json, 0, NULL);
    double v = json_number_value(json_object_get(json_object_get(m, "subject_mean"), key));
    int ok = json_is_number(json_object_get(json_object_get(m, "subject_mean"), key));
    json_decref(m);
    return ok ? v : NAN;
}

/* The normalization the progress lines report: the cohort's own statistics
 * (per-site policy) or the pooled ones the model carries (global policy). */
static const char *eval_norm = "own";

/* Evaluation metrics of model version v on cohort, or NULL. */
static char *evaluation(sqlite3 *db, long long v, const char *cohort)
{
    sqlite3_stmt *q;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT metrics FROM evaluations WHERE model_version = ? AND cohort = ? AND norm = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(q, 1, v);
    sqlite3_bind_text(q, 2, cohort, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, eval_norm, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) out = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return out;
}

/* Prints the lines of rounds closed since *printed (waiting, per round, for both
 * cohorts' evaluations unless the next round has already closed). */
static void progress(sqlite3 *db, long long *printed, int final)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.round, m.version, r.n_survivors, r.loss FROM rounds r JOIN models m ON m.round = r.round"
                           " WHERE r.outcome = 'aggregated' AND r.round > ? ORDER BY r.round",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(q, 1, *printed);
    while (sqlite3_step(q) == SQLITE_ROW) {
        long long r = sqlite3_column_int64(q, 0), v = sqlite3_column_int64(q, 1);
        int n = sqlite3_column_int(q, 2);
        double loss = sqlite3_column_type(q, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 3);
        char *h = evaluation(db, v, "healthy-test"), *o = evaluation(db, v, "onfh");
        if ((!h || !o) && !final) { /* give the evaluator its time, unless a later round closed */
            sqlite3_stmt *nx;
            int later = 0;
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM rounds WHERE outcome = 'aggregated' AND round > ?", -1, &nx,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_int64(nx, 1, r);
                if (sqlite3_step(nx) == SQLITE_ROW) later = sqlite3_column_int(nx, 0) > 0;
                sqlite3_finalize(nx);
            }
            if (!later) {
                free(h), free(o);
                break;
            }
        }
        printf("round %2lld  sites %d  loss %.4f  healthy-test RMSE %.3f R2 %.3f  ONFH RMSE %.3f R2 %.3f\n", r, n, loss,
               h ? metric(h, "rmse") : NAN, h ? metric(h, "r2") : NAN, o ? metric(o, "rmse") : NAN,
               o ? metric(o, "r2") : NAN);
        fflush(stdout);
        free(h), free(o);
        *printed = r;
    }
    sqlite3_finalize(q);
}

/* summary.json from the coordinator database. */
static json_t *summary(sqlite3 *db, const char *norm, int secure, const char *model)
{
    json_t *rounds = json_array(), *out = json_object();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.round, m.version, m.sha256, r.n_survivors, r.loss, r.attempt FROM rounds r"
                           " JOIN models m ON m.round = r.round WHERE r.outcome = 'aggregated' ORDER BY r.round",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            long long r = sqlite3_column_int64(q, 0), v = sqlite3_column_int64(q, 1);
            json_t *sites = json_object(), *cohorts = json_object();
            sqlite3_stmt *s;
            if (sqlite3_prepare_v2(db, "SELECT site, n_samples, val FROM round_sites WHERE round = ? ORDER BY site", -1,
                                   &s, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(s, 1, r);
                while (sqlite3_step(s) == SQLITE_ROW) {
                    const char *val = (const char *)sqlite3_column_text(s, 2);
                    json_t *vj = val ? json_loads(val, 0, NULL) : NULL;
                    json_object_set_new(sites, (const char *)sqlite3_column_text(s, 0),
                                        json_pack("{s:I,s:o}", "n_samples", (json_int_t)sqlite3_column_int64(s, 1),
                                                  "validation", vj ? vj : json_null()));
                }
                sqlite3_finalize(s);
            }
            if (sqlite3_prepare_v2(db, "SELECT cohort, norm, metrics FROM evaluations WHERE model_version = ?", -1, &s,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_int64(s, 1, v);
                while (sqlite3_step(s) == SQLITE_ROW) {
                    const char *c = (const char *)sqlite3_column_text(s, 0), *n = (const char *)sqlite3_column_text(s, 1);
                    json_t *co = json_object_get(cohorts, c);
                    if (!co) json_object_set_new(cohorts, c, co = json_object());
                    json_t *m = json_loads((const char *)sqlite3_column_text(s, 2), 0, NULL);
                    json_object_set_new(co, n, m ? m : json_null());
                }
                sqlite3_finalize(s);
            }
            double loss = sqlite3_column_type(q, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 4);
            json_t *row = json_pack("{s:I,s:I,s:s,s:i,s:I,s:o,s:o}", "round", (json_int_t)r, "model_version",
                                    (json_int_t)v, "model_sha256", (const char *)sqlite3_column_text(q, 2), "survivors",
                                    sqlite3_column_int(q, 3), "attempts", (json_int_t)sqlite3_column_int64(q, 5),
                                    "sites", sites, "cohorts", cohorts);
            json_object_set_new(row, "loss", isfinite(loss) ? json_real(loss) : json_null());
            json_array_append_new(rounds, row);
        }
        sqlite3_finalize(q);
    }
    size_t n = json_array_size(rounds);
    json_object_set_new(out, "rounds_completed", json_integer((json_int_t)n));
    json_object_set_new(out, "secure_aggregation", json_boolean(secure));
    json_object_set_new(out, "normalization", json_string(norm));
    json_object_set_new(out, "model", json_string(model));
    json_object_set_new(out, "coordinator_db", json_string("coordinator.db"));
    json_object_set_new(out, "final", n ? json_deep_copy(json_object_get(json_array_get(rounds, n - 1), "cohorts"))
                                        : json_null());
    json_object_set_new(out, "rounds", rounds);
    return out;
}

/* The hospital names: the site stores `gaitfed synth` wrote (DIR/sites/<name>.db). */
static int hospitals(const char *sites_dir, char names[][64], int cap)
{
    DIR *d = opendir(sites_dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t l = strlen(e->d_name);
        if (l > 3 && l < 60 && !strcmp(e->d_name + l - 3, ".db")) {
            memcpy(names[n], e->d_name, l - 3);
            names[n++][l - 3] = 0;
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* sorted: stable output */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            memcpy(t, names[j], 64), memcpy(names[j], names[j - 1], 64), memcpy(names[j - 1], t, 64);
        }
    return n;
}

static int fail(procs *p, const char *fmt, const char *arg)
{
    stop_all(p);
    fprintf(stderr, "gaitfed demo: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int cmd_demo(int argc, char **argv)
{
    const char *out = "demo-out", *rounds_s = NULL, *model = "transformer", *plain = NULL, *epochs_s = NULL,
               *batch_s = NULL, *lr_s = NULL, *strategy = "fedavg", *slr_s = NULL,
               *norm = "own";
    cli_opt opts[] = {{"--out", 1, &out},         {"--rounds", 1, &rounds_s},     {"--model", 1, &model},
                      {"--plain", 0, &plain},     {"--local-epochs", 1, &epochs_s}, {"--batch", 1, &batch_s},
                      {"--lr", 1, &lr_s},         {"--strategy", 1, &strategy}, {"--server-lr", 1, &slr_s},
                      {"--normalization", 1, &norm}};
    int rc = cli_parse("demo", USAGE, argc, argv, opts, 10, NULL, 0, NULL);
    if (rc) return rc;
    long rounds = 15, epochs = 2, batch = 16;
    double lr = 1e-3;
    if (rounds_s && (rc = cli_long("demo", USAGE, "--rounds", rounds_s, 1, 1000, &rounds))) return rc;
    if (epochs_s && (rc = cli_long("demo", USAGE, "--local-epochs", epochs_s, 1, 1000, &epochs))) return rc;
    if (batch_s && (rc = cli_long("demo", USAGE, "--batch", batch_s, 1, 4096, &batch))) return rc;
    if (lr_s && (rc = cli_double("demo", USAGE, "--lr", lr_s, 1e-9, 10, &lr))) return rc;
    /* FedAvg with a server step of 1.5 (θ += 1.5·Δ̄): chosen on the sites' own
     * validation subjects among 1.0, 1.5, 2.0 and FedAdam (README). */
    double server_lr = strcmp(strategy, "fedavg") && strcmp(strategy, "fedprox") ? 0 : 1.5; /* 0: the strategy's default */
    if (slr_s && (rc = cli_double("demo", USAGE, "--server-lr", slr_s, 1e-9, 100, &server_lr))) return rc;
    if (strcmp(norm, "own") && strcmp(norm, "global"))
        return cli_usage("demo", USAGE, "--normalization: expected own or global, got '%s'", norm);
    eval_norm = strcmp(norm, "global") ? "own" : "pooled";
    if (!strcmp(norm, "global") && plain)
        return cli_usage("demo", USAGE, "--normalization global pools statistics through secure aggregation: drop --plain");
    if (strcmp(model, "transformer") && strcmp(model, "lstm") && strcmp(model, "gru") && strcmp(model, "tcn"))
        return cli_usage("demo", USAGE, "--model: unknown model '%s'", model);
    signal(SIGPIPE, SIG_IGN);
    procs p = {.n = 0};
    char path[8400], marker[4200];
    snprintf(marker, sizeof marker, "%s/.gaitfed-demo", out);
    struct stat st;
    if (stat(out, &st) == 0) { /* re-running replaces an earlier demo, never anything else */
        if (stat(marker, &st) != 0) return fail(&p, "%s exists and is not a gaitfed demo directory; choose another --out", out);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", out);
        if (strchr(out, '\'') || system(cmd) != 0) return fail(&p, "cannot remove the earlier demo in %s", out);
    }
    snprintf(path, sizeof path, "%s/logs", out);
    if (gf_mkdirs(path, 0) || gf_write_file_atomic(marker, "gaitfed demo\n", 13))
        return fail(&p, "cannot create %s", out);
    double t0 = now_s();
    char data[4096], pki[4096], log[4096];
    snprintf(data, sizeof data, "%s/data", out);
    snprintf(pki, sizeof pki, "%s/pki", out);
    printf("gaitfed demo: synthesizing the cohort, creating the consortium PKI ...\n");
    fflush(stdout);
    snprintf(log, sizeof log, "%s/logs/setup.log", out);
    char *synth[] = {"gaitfed", "synth", "--out", data, "--seed", "1", NULL};
    if (run(log, synth)) return fail(&p, "gaitfed synth failed (see %s)", log);
    char *init[] = {"gaitfed", "pki", "init", "--dir", pki, "--consortium", "gaitfed-demo", NULL};
    if (run(log, init)) return fail(&p, "gaitfed pki init failed (see %s)", log);
    char names[12][64], sites_dir[4200];
    snprintf(sites_dir, sizeof sites_dir, "%s/sites", data);
    int nh = hospitals(sites_dir, names, 11);
    if (nh < 2) return fail(&p, "%s: fewer than two site stores", sites_dir);
    snprintf(names[nh], sizeof names[nh], "evaluator");
    for (int i = 0; i <= nh + 1; i++) {
        const char *nm = i == nh + 1 ? "coordinator" : names[i];
        const char *role = i == nh + 1 ? "coordinator" : i == nh ? "evaluator" : "hospital";
        char kit[4096];
        snprintf(kit, sizeof kit, "%s/kits/%s", out, nm);
        char *issue[] = {"gaitfed", "pki", "issue", "--dir", pki, "--name", (char *)nm, "--role", (char *)role, "--out", kit, NULL};
        if (run(log, issue)) return fail(&p, "gaitfed pki issue failed (see %s)", log);
    }
    /* The coordinator: its kit's skeleton plus the demo's federation settings. */
    char cfg[4096], portf[4096], dbp[4096];
    snprintf(cfg, sizeof cfg, "%s/kits/coordinator/coordinator.json", out);
    snprintf(portf, sizeof portf, "%s/coordinator.port", out);
    snprintf(dbp, sizeof dbp, "%s/coordinator.db", out);
    json_t *c = load_json(cfg);
    if (!c) return fail(&p, "%s: cannot read the coordinator skeleton", cfg);
    char absdb[4096];
    if (!realpath(out, absdb)) return fail(&p, "%s: cannot resolve", out);
    strncat(absdb, "/coordinator.db", sizeof absdb - strlen(absdb) - 1);
    json_object_set_new(c, "listen", json_string("127.0.0.1:0"));
    json_object_set_new(c, "db", json_string(absdb));
    json_object_set_new(c, "rounds", json_integer(rounds));
    json_object_set_new(c, "min_sites", json_integer(nh));
    json_object_set_new(c, "secure_aggregation", json_boolean(!plain));
    json_object_set_new(c, "local_epochs", json_integer(epochs));
    json_object_set_new(c, "batch", json_integer(batch));
    json_object_set_new(c, "lr", json_real(lr));
    json_object_set_new(c, "normalization", json_string(norm));
    json_object_set_new(c, "strategy", json_string(strategy)); /* checked by the coordinator's config */
    if (server_lr > 0) json_object_set_new(c, "server_lr", json_real(server_lr));
    json_object_set_new(c, "update_clip", json_real(1.0));
    json_object_set_new(c, "model", json_pack("{s:s}", "arch", model));
    json_object_set_new(c, "timeouts_s", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "train", 120.0, "advert", 30.0,
                                                   "shares", 30.0, "masked", 60.0, "consistency", 30.0, "unmask", 30.0,
                                                   "evaluate", 60.0));
    if (write_json(cfg, c)) return fail(&p, "%s: cannot write", cfg);
    json_decref(c);
    snprintf(log, sizeof log, "%s/logs/coordinator.log", out);
    char *coord[] = {"gaitfed", "coordinator", "--config", cfg, "--port-file", portf, NULL};
    p.pid[p.n] = spawn(log, coord);
    snprintf(p.name[p.n++], 64, "coordinator");
    int port = 0;
    for (int i = 0; i < 200 && !port; i++) { /* up to 20 s for the coordinator to bind */
        FILE *f = fopen(portf, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        int stc;
        if (!port && waitpid(p.pid[0], &stc, WNOHANG) == p.pid[0]) {
            p.pid[0] = 0;
            return fail(&p, "the coordinator exited at start (see %s)", log);
        }
        if (!port) usleep(100000);
    }
    if (!port) return fail(&p, "the coordinator did not start listening (see %s)", log);
    printf("gaitfed demo: coordinator on https://localhost:%d; starting %d hospitals and 1 evaluator\n", port, nh);
    fflush(stdout);
    for (int i = 0; i <= nh; i++) {
        char ncfg[4096], url[64];
        snprintf(ncfg, sizeof ncfg, "%s/kits/%s/node.json", out, names[i]);
        json_t *n = load_json(ncfg);
        if (!n) return fail(&p, "%s: cannot read the node skeleton", ncfg);
        snprintf(url, sizeof url, "https://localhost:%d", port);
        json_object_set_new(n, "coordinator_url", json_string(url));
        json_object_set_new(n, "normalization", json_string(norm)); /* the sites agree to pool */
        char abs[4096];
        if (i < nh) {
            snprintf(path, sizeof path, "%s/%s.db", sites_dir, names[i]);
            if (!realpath(path, abs)) return fail(&p, "%s: missing", path);
            json_object_set_new(n, "site_db", json_string(abs));
            json_object_set_new(n, "share_local_model", json_true()); /* the demo's hospitals agree to cross-site evaluation */
        } else {
            json_object_del(n, "site_db");
            json_t *cohorts = json_array();
            const char *cn[] = {"healthy-test", "onfh"};
            for (int k = 0; k < 2; k++) {
                snprintf(path, sizeof path, "%s/cohorts/%s.db", data, cn[k]);
                if (!realpath(path, abs)) return fail(&p, "%s: missing", path);
                json_array_append_new(cohorts, json_pack("{s:s,s:s}", "name", cn[k], "db", abs));
            }
            json_object_set_new(n, "cohorts", cohorts);
        }
        if (write_json(ncfg, n)) return fail(&p, "%s: cannot write", ncfg);
        json_decref(n);
        snprintf(log, sizeof log, "%s/logs/%s.log", out, names[i]);
        char *node[] = {"gaitfed", "node", "--config", ncfg, NULL};
        p.pid[p.n] = spawn(log, node);
        snprintf(p.name[p.n++], 64, "%s", names[i]);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return fail(&p, "%s: cannot open", dbp);
    sqlite3_busy_timeout(db, 2000);
    long long printed = 0;
    int done = 0;
    while (!done) {
        usleep(250000);
        progress(db, &printed, 0);
        int stc;
        if (waitpid(p.pid[0], &stc, WNOHANG) == p.pid[0]) { /* the coordinator stops once every round is done */
            p.pid[0] = 0;
            done = WIFEXITED(stc) && WEXITSTATUS(stc) == 0 ? 1 : -1;
        }
        for (int i = 1; i < p.n && !done; i++)
            if (p.pid[i] > 0 && waitpid(p.pid[i], &stc, WNOHANG) == p.pid[i]) {
                p.pid[i] = 0;
                if (!WIFEXITED(stc) || WEXITSTATUS(stc)) {
                    fprintf(stderr, "gaitfed demo: node %s stopped with an error (see %s/logs/%s.log)\n", p.name[i], out,
                            p.name[i]);
                }
            }
        if (now_s() - t0 > DEMO_LIMIT_S) done = -2;
    }
    progress(db, &printed, 1);
    stop_all(&p);
    json_t *sum = summary(db, norm, !plain, model);
    sqlite3_close(db);
    /* The coordinator has exited: one read-write open and close folds the WAL
     * back into coordinator.db, so the file stands alone. */
    if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/summary.json", out);
    if (write_json(path, sum)) {
        json_decref(sum);
        return fail(&p, "%s: cannot write", path);
    }
    long long completed = json_integer_value(json_object_get(sum, "rounds_completed"));
    json_decref(sum);
    if (done == -2) return fail(&p, "stopped after the time limit (see %s/logs)", out);
    if (done < 0) return fail(&p, "the coordinator failed (see %s/logs/coordinator.log)", out);
    printf("gaitfed demo: %lld rounds with %s aggregation in %.0f s; %s/summary.json and %s\n", completed,
           plain ? "PLAIN" : "secure", now_s() - t0, out, dbp);
    return 0;
}

/* cli/fedrun: one whole federation as real processes on 127.0.0.1 (see
 * fedrun.h); the machinery of `gaitfed demo`, shared with `gaitfed audit loso`. */
#include "cli/fedrun.h"

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

#include <sqlite3.h>

#include "common/fileio.h"

#define MAX_PROCS 16
#define DEFAULT_LIMIT_S 600 /* a run that has not finished by then is stopped and reported */

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

const char *gf_fedrun_self(void)
{
    static char self[4096];
    if (!self[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || n >= (ssize_t)sizeof self - 1) snprintf(self, sizeof self, "/proc/self/exe");
        else self[n] = 0;
    }
    return self;
}

/* Runs `gaitfed <args…>` (this binary) with stdout+stderr to log; returns its pid. */
pid_t gf_fedrun_spawn(const char *log, char *const *args)
{
    const char *self = gf_fedrun_self();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(self, args);
    _exit(127);
}

/* Runs `gaitfed <args…>` to completion, quietly; 0 on success. */
static int run(const char *log, char *const *args)
{
    pid_t pid = gf_fedrun_spawn(log, args);
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

/* Evaluation metrics of model version v on cohort under norm ("own": the
 * cohort's own statistics, "pooled": the model's), or NULL. */
static char *evaluation(sqlite3 *db, long long v, const char *cohort, const char *norm)
{
    sqlite3_stmt *q;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT metrics FROM evaluations WHERE model_version = ? AND cohort = ? AND norm = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(q, 1, v);
    sqlite3_bind_text(q, 2, cohort, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, norm, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) out = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return out;
}

/* Prints the lines of rounds closed since *printed (waiting, per round, for both
 * cohorts' evaluations unless the next round has already closed). */
static void progress(sqlite3 *db, const char *norm, long long *printed, int final)
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
        char *h = evaluation(db, v, "healthy-test", norm), *o = evaluation(db, v, "onfh", norm);
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

int gf_fedrun_hospitals(const char *data, char names[][GF_FEDRUN_NAME_MAX], int cap)
{
    char sites_dir[4200];
    snprintf(sites_dir, sizeof sites_dir, "%s/sites", data);
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
            char t[GF_FEDRUN_NAME_MAX];
            memcpy(t, names[j], sizeof t), memcpy(names[j], names[j - 1], sizeof t), memcpy(names[j - 1], t, sizeof t);
        }
    return n;
}

int gf_fedrun_synth(const char *data, long seed, const char *log)
{
    char s[32];
    snprintf(s, sizeof s, "%ld", seed);
    char *synth[] = {"gaitfed", "synth", "--out", (char *)data, "--seed", s, NULL};
    return run(log, synth);
}

static int fail(const gf_fedrun_opts *o, procs *p, const char *fmt, const char *arg)
{
    stop_all(p);
    fflush(stdout);
    fprintf(stderr, "%s: ", o->prefix ? o->prefix : "gaitfed");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int gf_fedrun(const gf_fedrun_opts *o, gf_fedrun_result *res)
{
    memset(res, 0, sizeof *res);
    signal(SIGPIPE, SIG_IGN);
    procs p = {.n = 0};
    const char *out = o->out, *norm = o->normalization ? o->normalization : "own";
    /* What the progress lines report: the evaluation under the federation's normalization. */
    const char *eval_norm = !strcmp(norm, "global") ? "pooled" : !strcmp(norm, "model") ? "model" : "own";
    char path[8400];
    snprintf(path, sizeof path, "%s/logs", out);
    if (gf_mkdirs(path, 0)) return fail(o, &p, "cannot create %s", out);
    double t0 = now_s();
    char datab[4096], pki[4096], log[4096];
    const char *data = o->data;
    if (!data) {
        snprintf(datab, sizeof datab, "%s/data", out);
        data = datab;
    }
    snprintf(pki, sizeof pki, "%s/pki", out);
    if (o->progress) {
        printf("%s: %s ...\n", o->prefix, o->data ? "creating the consortium PKI" : "synthesizing the cohort, creating the consortium PKI");
        fflush(stdout);
    }
    snprintf(log, sizeof log, "%s/logs/setup.log", out);
    if (!o->data && gf_fedrun_synth(data, 1, log)) return fail(o, &p, "gaitfed synth failed (see %s)", log);
    char *init[] = {"gaitfed", "pki", "init", "--dir", pki, "--consortium", (char *)(o->consortium ? o->consortium : "gaitfed-demo"), NULL};
    if (run(log, init)) return fail(o, &p, "gaitfed pki init failed (see %s)", log);
    char all[GF_FEDRUN_MAX_SITES + 1][GF_FEDRUN_NAME_MAX], names[GF_FEDRUN_MAX_SITES + 2][GF_FEDRUN_NAME_MAX];
    int na = gf_fedrun_hospitals(data, all, GF_FEDRUN_MAX_SITES), nh = 0;
    if (na < 0) return fail(o, &p, "%s/sites: cannot read the site stores", data);
    if (o->sites) {
        for (int i = 0; i < o->n_sites; i++) {
            int found = 0;
            for (int j = 0; j < na && !found; j++) found = !strcmp(all[j], o->sites[i]);
            if (!found) return fail(o, &p, "no site store named '%s'", o->sites[i]);
        }
        for (int j = 0; j < na; j++) /* in the stores' (sorted) order */
            for (int i = 0; i < o->n_sites; i++)
                if (!strcmp(all[j], o->sites[i])) {
                    memcpy(names[nh++], all[j], GF_FEDRUN_NAME_MAX);
                    break;
                }
    } else {
        for (int j = 0; j < na; j++) memcpy(names[nh++], all[j], GF_FEDRUN_NAME_MAX);
    }
    if (nh < 2) return fail(o, &p, "%s/sites: fewer than two site stores", data);
    res->n_hospitals = nh;
    snprintf(names[nh], sizeof names[nh], "evaluator");
    for (int i = 0; i <= nh + 1; i++) {
        const char *nm = i == nh + 1 ? "coordinator" : names[i];
        const char *role = i == nh + 1 ? "coordinator" : i == nh ? "evaluator" : "hospital";
        char kit[4096];
        snprintf(kit, sizeof kit, "%s/kits/%s", out, nm);
        char *issue[] = {"gaitfed", "pki", "issue", "--dir", pki, "--name", (char *)nm, "--role", (char *)role, "--out", kit, NULL};
        if (run(log, issue)) return fail(o, &p, "gaitfed pki issue failed (see %s)", log);
    }
    /* The coordinator: its kit's skeleton plus the run's federation settings. */
    char cfg[4096], portf[4096], dbp[4096];
    snprintf(cfg, sizeof cfg, "%s/kits/coordinator/coordinator.json", out);
    snprintf(portf, sizeof portf, "%s/coordinator.port", out);
    snprintf(dbp, sizeof dbp, "%s/coordinator.db", out);
    snprintf(res->db, sizeof res->db, "%s", dbp);
    json_t *c = load_json(cfg);
    if (!c) return fail(o, &p, "%s: cannot read the coordinator skeleton", cfg);
    char absdb[4096];
    if (!realpath(out, absdb)) {
        json_decref(c);
        return fail(o, &p, "%s: cannot resolve", out);
    }
    strncat(absdb, "/coordinator.db", sizeof absdb - strlen(absdb) - 1);
    json_object_set_new(c, "listen", json_string("127.0.0.1:0"));
    json_object_set_new(c, "db", json_string(absdb));
    json_object_set_new(c, "rounds", json_integer(o->rounds));
    json_object_set_new(c, "min_sites", json_integer(nh));
    json_object_set_new(c, "secure_aggregation", json_boolean(o->secure));
    json_object_set_new(c, "local_epochs", json_integer(o->local_epochs));
    json_object_set_new(c, "batch", json_integer(o->batch));
    json_object_set_new(c, "lr", json_real(o->lr));
    json_object_set_new(c, "normalization", json_string(norm));
    json_object_set_new(c, "strategy", json_string(o->strategy ? o->strategy : "fedavg")); /* checked by the coordinator's config */
    if (o->server_lr > 0) json_object_set_new(c, "server_lr", json_real(o->server_lr));
    json_object_set_new(c, "update_clip", json_real(10.0)); /* above the Transformer's honest updates (L2 2-5) */
    if (o->initial_model) {
        char absm[4096];
        if (!realpath(o->initial_model, absm)) {
            json_decref(c);
            return fail(o, &p, "%s: cannot resolve", o->initial_model);
        }
        json_object_set_new(c, "initial_model", json_string(absm)); /* "model": the checkpoint's */
    } else {
        json_object_set_new(c, "model", o->model ? json_deep_copy(o->model) : json_pack("{s:s}", "arch", o->arch));
    }
    json_object_set_new(c, "timeouts_s", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "train", 120.0, "advert", 30.0,
                                                   "shares", 30.0, "masked", 60.0, "consistency", 30.0, "unmask", 30.0,
                                                   "evaluate", 60.0));
    int wr = write_json(cfg, c);
    json_decref(c);
    if (wr) return fail(o, &p, "%s: cannot write", cfg);
    snprintf(log, sizeof log, "%s/logs/coordinator.log", out);
    char *coord[] = {"gaitfed", "coordinator", "--config", cfg, "--port-file", portf, NULL};
    p.pid[p.n] = gf_fedrun_spawn(log, coord);
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
            return fail(o, &p, "the coordinator exited at start (see %s)", log);
        }
        if (!port) usleep(100000);
    }
    if (!port) return fail(o, &p, "the coordinator did not start listening (see %s)", log);
    if (o->progress) {
        printf("%s: coordinator on https://localhost:%d; starting %d hospitals and 1 evaluator\n", o->prefix, port, nh);
        fflush(stdout);
    }
    static const char *const default_cohorts[] = {"healthy-test", "onfh"};
    const char *const *cn = o->cohorts ? o->cohorts : default_cohorts;
    int ncn = o->cohorts ? o->n_cohorts : 2;
    for (int i = 0; i <= nh; i++) {
        char ncfg[4096], url[64];
        snprintf(ncfg, sizeof ncfg, "%s/kits/%s/node.json", out, names[i]);
        json_t *n = load_json(ncfg);
        if (!n) return fail(o, &p, "%s: cannot read the node skeleton", ncfg);
        snprintf(url, sizeof url, "https://localhost:%d", port);
        json_object_set_new(n, "coordinator_url", json_string(url));
        /* "global": the sites agree to pool; "model" needs no consent (nothing leaves a site). */
        json_object_set_new(n, "normalization", json_string(strcmp(norm, "global") ? "own" : "global"));
        char abs[4096];
        if (i < nh) {
            snprintf(path, sizeof path, "%s/sites/%s.db", data, names[i]);
            if (!realpath(path, abs)) {
                json_decref(n);
                return fail(o, &p, "%s: missing", path);
            }
            json_object_set_new(n, "site_db", json_string(abs));
            json_object_set_new(n, "share_local_model", json_true()); /* the sites agree to cross-site evaluation */
        } else {
            json_object_del(n, "site_db");
            json_t *cohorts = json_array();
            for (int k = 0; k < ncn; k++) {
                snprintf(path, sizeof path, "%s/cohorts/%s.db", data, cn[k]);
                if (!realpath(path, abs)) {
                    json_decref(cohorts);
                    json_decref(n);
                    return fail(o, &p, "%s: missing", path);
                }
                json_array_append_new(cohorts, json_pack("{s:s,s:s}", "name", cn[k], "db", abs));
            }
            json_object_set_new(n, "cohorts", cohorts);
        }
        wr = write_json(ncfg, n);
        json_decref(n);
        if (wr) return fail(o, &p, "%s: cannot write", ncfg);
        snprintf(log, sizeof log, "%s/logs/%s.log", out, names[i]);
        char *node[] = {"gaitfed", "node", "--config", ncfg, NULL};
        p.pid[p.n] = gf_fedrun_spawn(log, node);
        snprintf(p.name[p.n++], 64, "%s", names[i]);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return fail(o, &p, "%s: cannot open", dbp);
    }
    sqlite3_busy_timeout(db, 2000);
    long long printed = 0;
    int done = 0, limit = o->limit_s > 0 ? o->limit_s : DEFAULT_LIMIT_S;
    while (!done) {
        usleep(250000);
        if (o->progress) progress(db, eval_norm, &printed, 0);
        int stc;
        if (waitpid(p.pid[0], &stc, WNOHANG) == p.pid[0]) { /* the coordinator stops once every round is done */
            p.pid[0] = 0;
            done = WIFEXITED(stc) && WEXITSTATUS(stc) == 0 ? 1 : -1;
        }
        for (int i = 1; i < p.n && !done; i++)
            if (p.pid[i] > 0 && waitpid(p.pid[i], &stc, WNOHANG) == p.pid[i]) {
                p.pid[i] = 0;
                if (!WIFEXITED(stc) || WEXITSTATUS(stc)) {
                    fprintf(stderr, "%s: node %s stopped with an error (see %s/logs/%s.log)\n", o->prefix, p.name[i],
                            out, p.name[i]);
                }
            }
        if (now_s() - t0 > limit) done = -2;
    }
    if (o->progress) progress(db, eval_norm, &printed, 1);
    stop_all(&p);
    const char *model_name = o->arch;
    if (o->model && json_is_string(json_object_get(o->model, "arch")))
        model_name = json_string_value(json_object_get(o->model, "arch"));
    json_t *sum = summary(db, norm, o->secure, model_name ? model_name : "transformer");
    sqlite3_close(db);
    /* The coordinator has exited: one read-write open and close folds the WAL
     * back into coordinator.db, so the file stands alone. */
    if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/summary.json", out);
    if (write_json(path, sum)) {
        json_decref(sum);
        return fail(o, &p, "%s: cannot write", path);
    }
    res->rounds_completed = json_integer_value(json_object_get(sum, "rounds_completed"));
    json_decref(sum);
    res->seconds = now_s() - t0;
    if (done == -2) return fail(o, &p, "stopped after the time limit (see %s/logs)", out);
    if (done < 0) return fail(o, &p, "the coordinator failed (see %s/logs/coordinator.log)", out);
    return 0;
}

/* gaitfed bench federation: a load test of one whole secure federation on
 * 127.0.0.1 with many hospitals, every party a real process: a consortium CA
 * and one kit per hospital (crypto/pki.h, in process), the synthetic cohort's
 * site stores copied round-robin into N hospital stores (hospital-001 …), one
 * `gaitfed coordinator` (tiny LSTM, secure aggregation with the SecAgg+
 * defaults for n = N, min_sites N, no cross-site stage unless --cross-site)
 * and N `gaitfed node` processes, no evaluator. While it runs the coordinator's
 * /proc/<pid>/status (VmHWM, VmRSS) and its database's open round (phase
 * column) are sampled every 5 ms; afterwards the rounds table gives the round
 * times (opened_ms → closed_ms), the sampled phase transitions the time per
 * phase, wait4() the exact peak RSS of the coordinator and of every node.
 * Checks: the coordinator and every node exit 0, every round aggregated with
 * n_survivors = N in one attempt, the audit chain verifies. Prints a table and
 * one JSON line (`{"bench":"federation",…}`); exit status 0 only when every
 * check passed. GF_SLOW=F (env) multiplies every phase deadline and the time
 * limit (valgrind, sanitizers). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "cli/fedrun.h"
#include "common/fileio.h"
#include "coordinator/audit.h"
#include "crypto/pki.h"
#include "node/https_client.h"

static const char *USAGE =
    "gaitfed bench federation [--nodes N (50)] [--rounds R (2)] [--out DIR] [--data DIR] [--poll-ms MS (200)]\n"
    "                         [--limit S (600)] [--cross-site]";

#define MAX_NODES 500
#define SAMPLE_US 5000
/* The phases a secure round passes through, in order (the rounds.phase
 * column); the last one runs until closed_ms, so it includes the aggregation
 * (which has no phase of its own in the database). */
static const char *const PHASES[] = {"train", "shares", "masked", "consistency", "unmask+aggregate"};
static const char *const DB_PHASES[] = {"train", "shares", "masked", "consistency", "unmask"};
#define N_PHASES 5
/* Phases of the coordinator's /metrics summary gaitfed_phase_duration_seconds. */
static const char *const M_PHASES[] = {"train", "shares", "masked", "consistency", "unmask", "evaluate"};
#define N_MPHASES 6

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

/* `gaitfed <args…>` (this binary), stdout+stderr appended to log. */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    char buf[1 << 16];
    ssize_t n = 0;
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    while (!rc && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) rc = -1;
    if (n < 0) rc = -1;
    if (in >= 0) close(in);
    if (out >= 0 && close(out)) rc = -1;
    return rc;
}

static int write_json(const char *path, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = s && gf_write_file_atomic(path, s, strlen(s)) == GF_OK ? 0 : -1;
    free(s);
    return rc;
}

/* "VmHWM:" / "VmRSS:" of pid in KiB, or -1. */
static long proc_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

typedef struct {
    pid_t pid;
    int status;      /* exit status once reaped; -1 running; 128+sig when killed */
    long maxrss_kib; /* from wait4 */
} child;

/* Reaps c if it has exited (or waits for it when block); 1 once reaped. */
static int reap(child *c, int block)
{
    if (c->pid <= 0) return 1;
    int st;
    struct rusage ru;
    pid_t r = wait4(c->pid, &st, block ? 0 : WNOHANG, &ru);
    if (r == c->pid) {
        c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        c->maxrss_kib = ru.ru_maxrss;
        c->pid = 0;
        return 1;
    }
    if (r < 0) {
        c->pid = 0;
        c->status = 126;
        return 1;
    }
    return 0;
}

static void stop(child *c, int n)
{
    for (int i = 0; i < n; i++)
        if (c[i].pid > 0) kill(c[i].pid, SIGTERM);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        while (!reap(&c[i], 0)) {
            if (now_s() - t0 > 10) kill(c[i].pid, SIGKILL);
            usleep(20000);
        }
}

/* First wall-clock ms at which (round, phase) was seen in the database. */
typedef struct {
    long long round;
    int phase;
    long long ms;
} seen_t;

typedef struct {
    seen_t *v;
    int n, cap;
} seen_list;

static void sample_db(sqlite3 *db, seen_list *s)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT round, attempt, phase FROM rounds WHERE closed_ms IS NULL", -1, &q, NULL) != SQLITE_OK)
        return;
    long long ms = wall_ms();
    while (sqlite3_step(q) == SQLITE_ROW) {
        long long r = sqlite3_column_int64(q, 0);
        const char *ph = (const char *)sqlite3_column_text(q, 2);
        int p = -1;
        for (int i = 0; i < N_PHASES && ph; i++)
            if (!strcmp(ph, DB_PHASES[i])) p = i;
        if (p < 0) continue;
        int have = 0;
        for (int i = 0; i < s->n && !have; i++) have = s->v[i].round == r && s->v[i].phase == p;
        if (have) continue;
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 64;
            seen_t *nv = realloc(s->v, (size_t)cap * sizeof *nv);
            if (!nv) break;
            s->v = nv, s->cap = cap;
        }
        s->v[s->n++] = (seen_t){r, p, ms};
    }
    sqlite3_finalize(q);
}

static long long seen_at(const seen_list *s, long long round, int phase)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i].round == round && s->v[i].phase == phase) return s->v[i].ms;
    return -1;
}

/* The coordinator's phase-duration summary from its /metrics text (sums and
 * counts, exact: measured by the coordinator itself). 1 when every phase was found. */
static int parse_metrics(const char *text, double sum[N_MPHASES], double cnt[N_MPHASES])
{
    int found = 0;
    for (int p = 0; p < N_MPHASES; p++) {
        char key[128];
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "gaitfed_phase_duration_seconds_%s{phase=\"%s\"} ", k ? "count" : "sum", M_PHASES[p]);
            const char *at = strstr(text, key);
            if (!at) continue;
            (k ? cnt : sum)[p] = strtod(at + strlen(key), NULL);
            found++;
        }
    }
    return found == 2 * N_MPHASES;
}

static int fail(const char *fmt, const char *arg)
{
    fflush(stdout);
    fprintf(stderr, "gaitfed bench federation: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

typedef struct {
    long long round, opened, closed, attempt;
    int survivors;
    char outcome[16];
    double phase_s[N_PHASES]; /* NAN when a transition was not seen */
} round_row;

int bench_federation(int argc, char **argv)
{
    const char *nodes_s = "50", *rounds_s = "2", *out_s = NULL, *data_s = NULL, *poll_s = "200", *limit_s = "600",
               *cross = NULL;
    cli_opt opts[] = {{"--nodes", 1, &nodes_s}, {"--rounds", 1, &rounds_s}, {"--out", 1, &out_s},
                      {"--data", 1, &data_s},   {"--poll-ms", 1, &poll_s},  {"--limit", 1, &limit_s},
                      {"--cross-site", 0, &cross}};
    const char *cmd = "bench federation";
    int rc = cli_parse(cmd, USAGE, argc, argv, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    long n, rounds, poll_ms, limit;
    if ((rc = cli_long(cmd, USAGE, "--nodes", nodes_s, 2, MAX_NODES, &n))) return rc;
    if ((rc = cli_long(cmd, USAGE, "--rounds", rounds_s, 1, 1000, &rounds))) return rc;
    if ((rc = cli_long(cmd, USAGE, "--poll-ms", poll_s, 10, 10000, &poll_ms))) return rc;
    if ((rc = cli_long(cmd, USAGE, "--limit", limit_s, 10, 86400, &limit))) return rc;
    double slow = 1;
    const char *sl = getenv("GF_SLOW");
    if (sl && *sl) {
        char *end;
        slow = strtod(sl, &end);
        if (*end || !(slow >= 1 && slow <= 1000)) return cli_usage(cmd, USAGE, "GF_SLOW=%s: expected a factor in [1, 1000]", sl);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(4 * n + 256) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)(4 * n + 256) ? rl.rlim_max : (rlim_t)(4 * n + 256);
        setrlimit(RLIMIT_NOFILE, &rl); /* inherited by the coordinator: one connection per node */
    }
    signal(SIGPIPE, SIG_IGN);

    char out[2048], path[8400], log[8400], data[4096];
    int own_out = !out_s;
    if (own_out) {
        const char *tmp = getenv("TMPDIR");
        snprintf(out, sizeof out, "%s/gaitfed-bench-federation-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(out)) return fail("cannot create a directory under %s", tmp && *tmp ? tmp : "/tmp");
    } else {
        if (strlen(out_s) >= sizeof out) return cli_usage(cmd, USAGE, "--out: path too long");
        snprintf(out, sizeof out, "%s", out_s);
    }
    snprintf(path, sizeof path, "%s/logs", out);
    if (gf_mkdirs(path, 0)) return fail("cannot create %s", path);
    snprintf(path, sizeof path, "%s/sites", out);
    if (gf_mkdirs(path, 0)) return fail("cannot create %s", path);
    snprintf(log, sizeof log, "%s/logs/setup.log", out);
    double t_start = now_s();

    /* Data: the synthetic cohort's site stores, copied round-robin. */
    if (data_s) snprintf(data, sizeof data, "%s", data_s);
    else {
        snprintf(data, sizeof data, "%s/data", out);
        if (gf_fedrun_synth(data, 1, log)) return fail("gaitfed synth failed (see %s)", log);
    }
    char stores[16][GF_FEDRUN_NAME_MAX];
    int ns = gf_fedrun_hospitals(data, stores, 16);
    if (ns < 1) return fail("%s/sites: no site stores", data);
    double t_synth = now_s();
    char (*names)[GF_FEDRUN_NAME_MAX] = calloc((size_t)n, sizeof *names);
    child *kids = calloc((size_t)n + 1, sizeof *kids); /* [0] the coordinator */
    if (!names || !kids) {
        free(names), free(kids);
        return fail("%s", "out of memory");
    }
    for (long i = 0; i < n; i++) {
        snprintf(names[i], GF_FEDRUN_NAME_MAX, "hospital-%03ld", i + 1);
        char from[8400];
        snprintf(from, sizeof from, "%s/sites/%s.db", data, stores[i % ns]);
        snprintf(path, sizeof path, "%s/sites/%s.db", out, names[i]);
        if (copy_file(from, path)) {
            free(names), free(kids);
            return fail("cannot copy %s", from);
        }
    }
    /* PKI in process: the CA, the coordinator's kit and one kit per hospital. */
    char pki[2200];
    snprintf(pki, sizeof pki, "%s/pki", out);
    gf_err e = gf_pki_init(pki, "gaitfed-load", 3650);
    gf_pki_issue_opts io = {.name = "coordinator", .role = GF_ROLE_COORDINATOR};
    if (!e) e = gf_pki_issue(pki, &io, NULL);
    for (long i = 0; !e && i < n; i++) {
        io = (gf_pki_issue_opts){.name = names[i], .role = GF_ROLE_HOSPITAL};
        e = gf_pki_issue(pki, &io, NULL);
    }
    if (e) {
        free(names), free(kids);
        return cli_fail(e);
    }
    double t_pki = now_s();

    /* The coordinator: its kit's skeleton plus the load settings. */
    char cfg[8400], portf[8400], dbp[8400], abs[4096];
    snprintf(cfg, sizeof cfg, "%s/kits/coordinator/coordinator.json", pki);
    snprintf(portf, sizeof portf, "%s/coordinator.port", out);
    snprintf(dbp, sizeof dbp, "%s/coordinator.db", out);
    json_t *c = json_load_file(cfg, 0, NULL);
    if (!c || !realpath(out, abs)) {
        json_decref(c);
        free(names), free(kids);
        return fail("%s: cannot read the coordinator skeleton", cfg);
    }
    strncat(abs, "/coordinator.db", sizeof abs - strlen(abs) - 1);
    json_object_set_new(c, "listen", json_string("127.0.0.1:0"));
    json_object_set_new(c, "db", json_string(abs));
    json_object_set_new(c, "rounds", json_integer(rounds));
    json_object_set_new(c, "min_sites", json_integer(n));
    json_object_set_new(c, "secure_aggregation", json_true());
    json_object_set_new(c, "cross_site_eval", json_boolean(cross != NULL));
    json_object_set_new(c, "strategy", json_string("fedavg"));
    json_object_set_new(c, "local_epochs", json_integer(1));
    json_object_set_new(c, "batch", json_integer(32));
    json_object_set_new(c, "lr", json_real(0.001));
    json_object_set_new(c, "seed", json_integer(7));
    json_object_set_new(c, "normalization", json_string("own"));
    json_object_set_new(c, "model", json_pack("{s:s,s:i,s:i,s:i}", "arch", "lstm", "d_model", 16, "layers", 1, "dropout", 0));
    /* A phase closes as soon as every site answered: the deadlines only bound a hung run. */
    json_object_set_new(c, "timeouts_s",
                        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "train", 300 * slow, "advert", 120 * slow, "shares",
                                  120 * slow, "masked", 120 * slow, "consistency", 120 * slow, "unmask", 120 * slow,
                                  "evaluate", 10 * slow, "cross_eval", 300 * slow));
    int wr = write_json(cfg, c);
    json_decref(c);
    if (wr) {
        free(names), free(kids);
        return fail("%s: cannot write", cfg);
    }
    snprintf(log, sizeof log, "%s/logs/coordinator.log", out);
    char *coord[] = {"gaitfed", "coordinator", "--config", cfg, "--port-file", portf, NULL};
    kids[0] = (child){gf_fedrun_spawn(log, coord), -1, 0};
    int nk = 1, port = 0;
    const char *err = NULL;
    for (int i = 0; i < (int)(200 * slow) && !port && !err; i++) { /* 20 s (× GF_SLOW) to bind */
        FILE *f = fopen(portf, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (!port && reap(&kids[0], 0)) err = "the coordinator exited at start (see %s/logs/coordinator.log)";
        if (!port) usleep(100000);
    }
    if (!port && !err) err = "the coordinator did not start listening (see %s/logs/coordinator.log)";
    for (long i = 0; !err && i < n; i++) {
        char ncfg[8400], url[64], site[8400];
        snprintf(ncfg, sizeof ncfg, "%s/kits/%s/node.json", pki, names[i]);
        json_t *nj = json_load_file(ncfg, 0, NULL);
        snprintf(site, sizeof site, "%s/sites/%s.db", out, names[i]);
        if (!nj || !realpath(site, abs)) {
            json_decref(nj);
            err = "cannot prepare a node config under %s/pki/kits";
            break;
        }
        snprintf(url, sizeof url, "https://localhost:%d", port);
        json_object_set_new(nj, "coordinator_url", json_string(url));
        json_object_set_new(nj, "site_db", json_string(abs));
        json_object_set_new(nj, "normalization", json_string("own"));
        json_object_set_new(nj, "threads", json_integer(1));
        json_object_set_new(nj, "poll_ms", json_integer(poll_ms));
        json_object_set_new(nj, "backoff_max_ms", json_integer(2 * poll_ms > 1000 ? 2 * poll_ms : 1000));
        if (cross) json_object_set_new(nj, "share_local_model", json_true());
        wr = write_json(ncfg, nj);
        json_decref(nj);
        if (wr) {
            err = "cannot write a node config under %s/pki/kits";
            break;
        }
        snprintf(log, sizeof log, "%s/logs/%s.log", out, names[i]);
        char *node[] = {"gaitfed", "node", "--config", ncfg, NULL};
        kids[nk++] = (child){gf_fedrun_spawn(log, node), -1, 0};
    }
    double t_spawned = now_s();
    long long spawned_ms = wall_ms();

    /* Run: sample the coordinator's memory and the database until it exits. */
    sqlite3 *db = NULL;
    seen_list seen = {0};
    long hwm_kib = 0, rss_max_kib = 0;
    int node_errors = 0, done = 0, have_metrics = 0;
    double m_sum[N_MPHASES] = {0}, m_cnt[N_MPHASES] = {0}, last_scrape = 0;
    gf_https_client *mon = NULL; /* the operators' view: the coordinator kit reads /metrics every 250 ms */
    char kkey[2300], kcert[2300], kca[2300], murl[64];
    snprintf(kkey, sizeof kkey, "%s/kits/coordinator/key.pem", pki);
    snprintf(kcert, sizeof kcert, "%s/kits/coordinator/cert.pem", pki);
    snprintf(kca, sizeof kca, "%s/ca.pem", pki);
    snprintf(murl, sizeof murl, "https://localhost:%d", port);
    gf_https_client_opts mo = {.base_url = murl, .key_path = kkey, .cert_path = kcert, .ca_path = kca,
                               .connect_timeout_ms = 2000, .timeout_ms = (long)(5000 * slow)};
    if (!err && gf_https_client_new(&mo, &mon)) mon = NULL;
    while (!err && !done) {
        usleep(SAMPLE_US);
        long h = proc_kib(kids[0].pid, "VmHWM:"), r = proc_kib(kids[0].pid, "VmRSS:");
        if (h > hwm_kib) hwm_kib = h;
        if (r > rss_max_kib) rss_max_kib = r;
        if (!db && access(dbp, F_OK) == 0) {
            if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                sqlite3_close(db);
                db = NULL;
            } else
                sqlite3_busy_timeout(db, 50);
        }
        if (db) sample_db(db, &seen);
        if (mon && now_s() - last_scrape > 0.25) {
            gf_https_resp resp = {0};
            if (gf_https_get(mon, "/metrics", 1 << 20, &resp) == GF_OK && resp.status == 200 && resp.body)
                have_metrics |= parse_metrics((const char *)resp.body, m_sum, m_cnt);
            gf_https_resp_free(&resp);
            last_scrape = now_s();
        }
        if (reap(&kids[0], 0)) done = 1;
        for (int i = 1; i < nk; i++)
            if (kids[i].pid > 0 && reap(&kids[i], 0) && kids[i].status != 0) {
                node_errors++;
                fprintf(stderr, "gaitfed bench federation: node %s exited with %d (see %s/logs/%s.log)\n", names[i - 1],
                        kids[i].status, out, names[i - 1]);
            }
        if (now_s() - t_spawned > limit * slow) err = "stopped after the time limit (see %s/logs)";
    }
    double t_coord_exit = now_s();
    gf_https_client_free(mon);
    /* The nodes exit on "done"; give them the time to hear it. */
    for (int i = 1; i < nk; i++)
        while (!reap(&kids[i], 0) && now_s() - t_coord_exit < 30 * slow) usleep(20000);
    for (int i = 1; i < nk; i++) /* still running ones are stopped and counted */
        if (kids[i].pid > 0) node_errors++;
    stop(kids, nk);
    for (int i = 1; i < nk; i++)
        if (kids[i].status != 0 && kids[i].status != -1 && !err) {
            static char b[128];
            snprintf(b, sizeof b, "%d node(s) did not exit 0 (see %%s/logs)", node_errors ? node_errors : 1);
            err = b;
            break;
        }
    double t_end = now_s();
    if (db) sample_db(db, &seen);
    sqlite3_close(db);
    db = NULL;

    /* Results from the database (opened read-write once: the WAL folds back). */
    round_row *rr = calloc((size_t)rounds + 8, sizeof *rr);
    int nr = 0, audit_ok = 0;
    gf_audit_report ar = {0};
    if (rr && sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, "SELECT round, opened_ms, closed_ms, attempt, n_survivors, outcome FROM rounds ORDER BY round",
                               -1, &q, NULL) == SQLITE_OK) {
            while (nr < rounds + 8 && sqlite3_step(q) == SQLITE_ROW) {
                round_row *w = &rr[nr++];
                w->round = sqlite3_column_int64(q, 0);
                w->opened = sqlite3_column_int64(q, 1);
                w->closed = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 2);
                w->attempt = sqlite3_column_int64(q, 3);
                w->survivors = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 4);
                const char *oc = (const char *)sqlite3_column_text(q, 5);
                snprintf(w->outcome, sizeof w->outcome, "%s", oc ? oc : "open");
                for (int p = 0; p < N_PHASES; p++) {
                    long long a = p ? seen_at(&seen, w->round, p) : w->opened;
                    long long b = -1; /* the next phase seen (one shorter than a sample is counted in this one) */
                    for (int k = p + 1; k < N_PHASES && b < 0; k++) b = seen_at(&seen, w->round, k);
                    if (b < 0) b = w->closed;
                    w->phase_s[p] = a >= 0 && b >= a ? (b - a) / 1000.0 : NAN;
                }
            }
            sqlite3_finalize(q);
        }
        audit_ok = gf_audit_verify(db, &ar) == GF_OK && ar.first_bad == 0;
    }
    sqlite3_close(db);
    free(seen.v);

    int agg_ok = 0;
    for (int i = 0; i < nr; i++)
        agg_ok += !strcmp(rr[i].outcome, "aggregated") && rr[i].survivors == n && rr[i].attempt == 1;
    long node_max = 0;
    double node_sum = 0;
    for (int i = 1; i < nk; i++) {
        node_max = kids[i].maxrss_kib > node_max ? kids[i].maxrss_kib : node_max;
        node_sum += kids[i].maxrss_kib;
    }
    long coord_peak = kids[0].maxrss_kib > hwm_kib ? kids[0].maxrss_kib : hwm_kib;
    int ok = !err && agg_ok == rounds && nr == rounds && audit_ok && !node_errors;

    printf("bench federation: %ld hospital processes, %ld rounds, secure aggregation, lstm d_model 16, 1 local epoch; "
           "setup %.1f s (synth %.1f, copies+pki %.1f)\n",
           n, rounds, t_spawned - t_start, t_synth - t_start, t_pki - t_synth);
    printf("round  outcome     survivors  attempt  round_s |   train  shares  masked  consist  unmask+agg  (s, sampled)\n");
    double sum_round = 0;
    int n_closed = 0;
    for (int i = 0; i < nr; i++) {
        double rs = rr[i].closed >= 0 ? (rr[i].closed - rr[i].opened) / 1000.0 : NAN;
        if (isfinite(rs)) sum_round += rs, n_closed++;
        printf("%5lld  %-10s  %9d  %7lld  %7.2f |", rr[i].round, rr[i].outcome, rr[i].survivors, rr[i].attempt, rs);
        for (int p = 0; p < N_PHASES; p++) printf(p == N_PHASES - 1 ? "  %10.2f" : "  %6.2f", rr[i].phase_s[p]);
        printf("\n");
    }
    double round_mean = n_closed ? sum_round / n_closed : NAN, mean[N_MPHASES], in_round = 0;
    for (int p = 0; p < N_MPHASES; p++) {
        mean[p] = have_metrics && m_cnt[p] > 0 ? m_sum[p] / m_cnt[p] : NAN;
        if (p < N_MPHASES - 1 && isfinite(mean[p])) in_round += mean[p];
    }
    double agg_s = have_metrics && isfinite(round_mean) ? round((round_mean - in_round) * 1000) / 1000 : NAN;
    if (have_metrics)
        printf("phase means from the coordinator's /metrics (s): train %.3f, shares %.3f, masked %.3f, consistency %.3f, "
               "unmask %.3f; aggregation (round - phases) %.3f; evaluate (no evaluator) %.3f\n",
               mean[0], mean[1], mean[2], mean[3], mean[4], agg_s, mean[5]);
    else
        printf("phase means: the coordinator's /metrics could not be read\n");
    double first_open = nr ? (rr[0].opened - spawned_ms) / 1000.0 : NAN;
    printf("round time mean %.2f s; nodes spawned -> round 1 opened %.2f s; total (spawn -> coordinator exit) %.2f s; "
           "whole run %.2f s\n",
           round_mean, first_open, t_coord_exit - t_spawned, t_end - t_start);
    printf("coordinator peak RSS %.1f MiB (VmHWM sampled every %d ms: %.1f MiB, largest VmRSS sample %.1f MiB)\n",
           coord_peak / 1024.0, SAMPLE_US / 1000, hwm_kib / 1024.0, rss_max_kib / 1024.0);
    printf("node peak RSS: max %.1f MiB, mean %.1f MiB\n", node_max / 1024.0, nk > 1 ? node_sum / (nk - 1) / 1024.0 : 0);
    printf("checks: %d/%ld rounds aggregated with %ld survivors in one attempt; audit chain %s (%lld rows); node errors %d\n",
           agg_ok, rounds, n, audit_ok ? "verifies" : "BROKEN", (long long)ar.rows, node_errors);

#define NUM(x) (isfinite(x) ? json_real(x) : json_null())
    json_t *j = json_pack("{s:s,s:I,s:I,s:b,s:o,s:o,s:f,s:f,s:f,s:f,s:f,s:i,s:b,s:I}", "bench", "federation", "nodes",
                          (json_int_t)n, "rounds", (json_int_t)rounds, "ok", ok, "round_s_mean", NUM(round_mean),
                          "first_round_open_s", NUM(first_open), "total_s", t_coord_exit - t_spawned, "whole_run_s",
                          t_end - t_start, "coordinator_peak_rss_mib", coord_peak / 1024.0,
                          "coordinator_vmhwm_sampled_mib", hwm_kib / 1024.0, "node_peak_rss_mib_max", node_max / 1024.0,
                          "rounds_aggregated_all_survivors", agg_ok, "audit_ok", audit_ok, "audit_rows", (json_int_t)ar.rows);
    json_t *per = json_array(), *pm = json_object();
    for (int i = 0; i < nr; i++) {
        json_t *row = json_pack("{s:I,s:s,s:i,s:f}", "round", (json_int_t)rr[i].round, "outcome", rr[i].outcome,
                                "survivors", rr[i].survivors, "round_s",
                                rr[i].closed >= 0 ? (rr[i].closed - rr[i].opened) / 1000.0 : -1.0);
        for (int p = 0; p < N_PHASES; p++)
            json_object_set_new(row, PHASES[p], NUM(rr[i].phase_s[p]));
        json_array_append_new(per, row);
    }
    for (int p = 0; p < N_MPHASES - 1; p++) json_object_set_new(pm, M_PHASES[p], NUM(mean[p]));
    json_object_set_new(pm, "aggregation", NUM(agg_s));
    json_object_set_new(pm, "evaluate", NUM(mean[N_MPHASES - 1]));
    json_object_set_new(j, "phase_s_mean", pm);
    json_object_set_new(j, "per_round", per);
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    printf("%s\n", line ? line : "{}");
    free(line);
    json_decref(j);
    free(rr);
    free(names);
    free(kids);
    fflush(stdout);
    if (err) return fail(err, out);
    if (!ok) return fail("checks failed (see %s/logs)", out);
    if (own_out) nftw(out, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

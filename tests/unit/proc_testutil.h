/* Helpers of the tests that run real gaitfed processes on 127.0.0.1
 * (federation, faults, hostile clients, load): the shared synthetic cohort,
 * free ports, config files, clocks and waiting for children. */
#ifndef GF_PROC_TESTUTIL_H
#define GF_PROC_TESTUTIL_H
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "model/safetensors.h"
#include "tests/unit/testutil.h"

/* One synthetic cohort (seed 5) shared by every process test, made once
 * under a lock (the tests run in parallel processes). */
static inline const char *fed_data(void)
{
    static char dir[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gaitfed-federation-data", tmp && *tmp ? tmp : "/tmp");
    cr_assert_eq(tu_sh("flock %s.lock sh -c 'test -e %s/.done || { rm -rf %s && %s synth --out %s --seed 5 "
                       "> %s.log 2>&1 && touch %s/.done; }'",
                       dir, dir, dir, tu_bin(), dir, dir, dir),
                 0, "gaitfed synth failed, see %s.log", dir);
    return dir;
}

static inline int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Exit status of pid, or -1 (then killed) when it runs past timeout_s. */
static inline int wait_exit(pid_t pid, double timeout_s)
{
    double t0 = now_s();
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (now_s() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_ms(20);
    }
}

/* Runs exe args... (args NULL-terminated, at most 14) with stdout+stderr
 * appended to log; the child gets SIGKILL when the test process dies
 * (PR_SET_PDEATHSIG), so a failed assertion leaves nothing running. */
static inline pid_t tu_spawn(const char *log, const char *exe, const char *const *args)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)exe;
        for (; args[n - 1] && n < 15; n++) argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

/* Runs `gaitfed args...` (tu_spawn with the gaitfed binary). */
static inline pid_t proc_spawn(const char *log, const char *const *args) { return tu_spawn(log, tu_bin(), args); }

/* How many times needle occurs in the file (0 if unreadable). */
static inline int proc_log_count(const char *path, const char *needle)
{
    unsigned char *b = NULL;
    size_t n = 0, k = strlen(needle);
    int hits = 0;
    if (gf_read_file(path, 16u << 20, &b, &n) != GF_OK) return 0;
    for (size_t i = 0; k && i + k <= n; i++)
        if (!memcmp(b + i, needle, k)) hits++, i += k - 1;
    free(b);
    return hits;
}

/* 1 once the file holds needle at least `times` times (polled every 20 ms), 0 after timeout_s. */
static inline int proc_wait_log(const char *path, const char *needle, int times, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (proc_log_count(path, needle) >= times) return 1;
        sleep_ms(20);
    }
    return 0;
}

/* The first value of a query on an SQLite file, as text (the sqlite3 tool: an independent reader). */
static inline void proc_query(const char *db, const char *sql, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sqlite3 %s \"%s\"", db, sql);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = 0;
    cr_assert_eq(pclose(p), 0, "sqlite3 failed on: %s", sql);
}

/* Model version v of a coordinator database, parsed (the SQLite C API). */
static inline void proc_model_version(const char *path, int v, gf_safetensors *st)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT weights FROM models WHERE version = ?", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_int(q, 1, v);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s: no model version %d", path, v);
    cr_assert_eq(gf_safetensors_parse(path, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), st), GF_OK,
                 "%s", gf_errmsg());
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static inline long proc_query_long(const char *db, const char *sql)
{
    char b[256], *end;
    proc_query(db, sql, b, sizeof b);
    long v = strtol(b, &end, 10);
    cr_assert(end != b && !*end, "'%s' gave '%s', not a number", sql, b);
    return v;
}

/* max |a - b| over every parameter (same names, same shapes), and max |a|. */
static inline double max_diff(const gf_safetensors *a, const gf_safetensors *b, double *max_abs)
{
    cr_assert_eq(a->n, b->n);
    double d = 0, m = 0;
    for (int i = 0; i < a->n; i++) {
        const gf_st_tensor *t = &a->t[i], *u = gf_safetensors_get(b, t->name);
        cr_assert_not_null(u, "tensor %s missing", t->name);
        cr_assert_eq(t->numel, u->numel);
        for (size_t k = 0; k < t->numel; k++) {
            d = fmax(d, fabs((double)t->data[k] - u->data[k]));
            m = fmax(m, fabs((double)t->data[k]));
        }
    }
    if (max_abs) *max_abs = m;
    return d;
}

/* The bound on |θ_secure − θ_reference| after R FedAvg rounds of n sites: per
 * round n encodings rounded to 1/scale plus one float32 ulp of max|θ|
 * (test_federation.c explains it). */
static inline double fixpoint_tolerance(double scale, int n, int rounds, double max_theta)
{
    double ulp = ldexp(1.0, (int)floor(log2(max_theta)) - 23);
    return rounds * (n * 0.5 / scale + ulp);
}

#endif

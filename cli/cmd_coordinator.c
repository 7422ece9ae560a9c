/* gaitfed coordinator --config F [--port-file P]: runs the federation of F
 * until every configured round is done (exit 0) or SIGINT/SIGTERM (exit 0,
 * state committed; SIGHUP re-reads the CRL), or until a transition cannot be committed (the disk is
 * full, ...: exit 1 with one line; the database holds the last committed
 * state and a restart resumes). The first stdout line says where it listens; with
 * --port-file the port is also written there (temp-then-rename), for
 * scripts that start it on an ephemeral port ("listen": "127.0.0.1:0"). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "common/fileio.h"
#include "coordinator/coordinator.h"
#include "coordinator/db.h"

static const char *USAGE = "gaitfed coordinator --config F [--port-file P]\n"
                            "       gaitfed coordinator resume --config F";

/* resume: the operator's action that ends a pause (README "`gaitfed
 * coordinator`"): a "federation_resumed" audit row in the coordinator's
 * database, which the running coordinator polls while paused (a stopped one
 * reads it at start). */
static int resume(int argc, char **argv)
{
    const char *config = NULL;
    cli_opt opts[] = {{"--config", 1, &config}};
    int rc = cli_parse("coordinator resume", "gaitfed coordinator resume --config F", argc, argv, opts, 1, NULL, 0, NULL);
    if (rc) return rc;
    if (!config) return cli_usage("coordinator resume", "gaitfed coordinator resume --config F", "--config is required");
    gf_coord_config cfg;
    gf_err e = gf_coord_config_load(config, &cfg);
    if (e) return cli_fail(e);
    gf_coord_db db;
    char reason[1024] = "", by[96];
    const char *user = getenv("USER");
    snprintf(by, sizeof by, "operator (uid %u%s%.40s)", (unsigned)getuid(), user ? ", " : "", user ? user : "");
    int64_t seq = 0;
    e = gf_coord_db_open(cfg.db, &db);
    if (!e) {
        e = gf_coord_db_paused(&db, &seq, reason, sizeof reason);
        if (!e) e = gf_coord_db_resume(&db, (int64_t)time(NULL) * 1000, by);
        gf_coord_db_close(&db);
    }
    gf_coord_config_free(&cfg);
    if (e) return cli_fail(e);
    printf("coordinator: federation resumed (it was paused: %s); a running coordinator continues within %d s, a "
           "stopped one when started\n", reason, GF_RESUME_CHECK_MS / 1000);
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    fprintf(stderr, "coordinator: signal %d, stopping (state is committed)\n", (int)sig);
    event_base_loopbreak(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    gf_coordinator_reload_crl(arg);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    void **a = arg;
    if (gf_coordinator_finished(a[0]) || gf_coordinator_failed(a[0], NULL)) event_base_loopbreak(a[1]);
}

int cmd_coordinator(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "resume")) return resume(argc - 1, argv + 1);
    const char *config = NULL, *port_file = NULL;
    cli_opt opts[] = {{"--config", 1, &config}, {"--port-file", 1, &port_file}};
    int rc = cli_parse("coordinator", USAGE, argc, argv, opts, 2, NULL, 0, NULL);
    if (rc) return rc;
    if (!config) return cli_usage("coordinator", USAGE, "--config is required");
    signal(SIGPIPE, SIG_IGN);
    gf_coord_config cfg;
    gf_err e = gf_coord_config_load(config, &cfg);
    if (e) return cli_fail(e);
    struct event_base *base = event_base_new();
    gf_coordinator *c = NULL;
    if (!base) e = gf_fail(GF_ENOMEM, "event loop: out of memory");
    if (!e) e = gf_coordinator_new(&cfg, base, &c);
    if (e) {
        if (base) event_base_free(base);
        gf_coord_config_free(&cfg);
        return cli_fail(e);
    }
    int port = gf_coordinator_port(c);
    printf("coordinator %s listening on https://%s:%d (%s aggregation, %s, %ld rounds)\n", cfg.name, cfg.host, port,
           cfg.secure ? "secure" : "PLAIN", gf_fed_strategy_name(cfg.strategy), cfg.rounds);
    fflush(stdout);
    if (port_file) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d\n", port);
        if ((e = gf_write_file_atomic(port_file, buf, (size_t)n))) {
            gf_coordinator_free(c);
            event_base_free(base);
            gf_coord_config_free(&cfg);
            return cli_fail(e);
        }
    }
    struct event *si = evsignal_new(base, SIGINT, on_signal, base), *st = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *hup = evsignal_new(base, SIGHUP, on_hup, c); /* re-read the CRL */
    void *args[2] = {c, base};
    struct event *chk = event_new(base, -1, EV_PERSIST, on_check, args);
    struct timeval tv = {0, 200000};
    if (si) event_add(si, NULL);
    if (st) event_add(st, NULL);
    if (hup) event_add(hup, NULL);
    if (chk) event_add(chk, &tv);
    event_base_dispatch(base);
    int finished = gf_coordinator_finished(c);
    const char *why = NULL;
    char reason[600] = "";
    gf_err failed = gf_coordinator_failed(c, &why);
    if (failed) snprintf(reason, sizeof reason, "%s", why);
    if (si) event_free(si);
    if (st) event_free(st);
    if (hup) event_free(hup);
    if (chk) event_free(chk);
    gf_coordinator_free(c);
    /* A connection freed while one of its deferred callbacks was queued keeps
     * a reference that event_base_free would cancel, not drop: its SSL would
     * never be freed. One pass of the loop runs those callbacks first. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
    gf_coord_config_free(&cfg);
    if (failed) return cli_fail(gf_fail(failed, "%s", reason)); /* one line; the database is at its last committed state */
    if (finished) printf("coordinator: federation finished\n");
    return 0;
}

/* gaitfed node --config F [--max-rounds N] [--verbose]: a hospital or
 * evaluator node (node/node.h) until the federation is done (exit 0),
 * --max-rounds rounds taken part in, or SIGINT/SIGTERM (exit 0). One line per
 * round on stderr; fatal problems (certificate refused, unknown CA, bad
 * config or data) are one line and exit 1. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/node.h"

static const char *USAGE = "gaitfed node --config F [--max-rounds N] [--verbose]";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

int cmd_node(int argc, char **argv)
{
    const char *config = NULL, *max_s = NULL, *verbose = NULL;
    cli_opt opts[] = {{"--config", 1, &config}, {"--max-rounds", 1, &max_s}, {"--verbose", 0, &verbose}};
    int rc = cli_parse("node", USAGE, argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!config) return cli_usage("node", USAGE, "--config is required");
    long max_rounds = 0;
    if (max_s && (rc = cli_long("node", USAGE, "--max-rounds", max_s, 1, 1000000, &max_rounds))) return rc;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    gf_node_config cfg;
    gf_err e = gf_node_config_load(config, &cfg);
    if (e) return cli_fail(e);
    gf_node_opts o = {.max_rounds = max_rounds, .verbose = verbose != NULL, .stop = &g_stop, .log = log_line};
    e = gf_node_run(&cfg, &o);
    gf_node_config_free(&cfg);
    if (e) return cli_fail(e);
    return 0;
}

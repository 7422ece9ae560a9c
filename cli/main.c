#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

/* Commands without a function are planned but not built yet. */
static const command commands[] = {
    {"synth", cmd_synth, "synthetic hospitals + cohorts"},
    {"import", cmd_import, "load real recordings (NPZ or OpenSim) into a site store"},
    {"export", cmd_export, "write a site store as a Gait2Hip NPZ"},
    {"info", cmd_info, "summary of a .db/.npz/.sto/.mot file or a model checkpoint"},
    {"train", cmd_train, "centralized training, Gait2Hip protocol"},
    {"eval", cmd_eval, "metrics of a model on a data set"},
    {"predict", cmd_predict, "model outputs for an NPZ of inputs"},
    {"pki", cmd_pki, "consortium CA and site kits (init, issue, revoke, list)"},
    {"coordinator", cmd_coordinator, "run the federation coordinator (--config F); resume a paused one (resume --config F)"},
    {"node", cmd_node, "run a hospital or evaluator node (--config F)"},
    {"report", cmd_report, "HTML report with plots (--db COORD.db --out DIR)"},
    {"audit", cmd_audit, "the audit chain (audit verify --db) and leave-one-site-out (audit loso --config)"},
    {"demo", cmd_demo, "a whole federation on localhost (make demo)"},
    {"bench", cmd_bench, "benchmarks with ratios measured in the same run (bench train | secagg | federation)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gaitfed <command> [options]   (gaitfed <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s%s\n", commands[i].name, commands[i].summary, commands[i].fn ? "" : " (not built yet)");
}

/* OpenBLAS starts its worker threads when the library is loaded, before
 * main, sized by OPENBLAS_NUM_THREADS (default: one per core). The engine
 * runs its own thread pool and calls only single-threaded sgemm blocks
 * (model/parallel.h), so those threads have no work; yet even after
 * openblas_set_num_threads(1) they cost time (measured on the 2-core bench
 * machine: Transformer training step 486 -> 386 ms once they were never
 * started). The only clean way not to start them is the environment at load
 * time: if OPENBLAS_NUM_THREADS is unset, set it to 1 and re-execute this
 * binary with the same arguments. A user's explicit setting is respected;
 * if the re-exec fails we just continue. */
static void openblas_single_thread(char **argv)
{
    if (getenv("OPENBLAS_NUM_THREADS")) return;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1)) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    openblas_single_thread(argv);
    /* Defence in depth: what a library call creates is 0600/0700 already
     * (common/fileio.h); this covers anything else, e.g. SQLite's side files. */
    umask(077);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (!commands[i].fn) {
            fprintf(stderr, "gaitfed %s: not built yet in this version\n", argv[1]);
            return 2;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "gaitfed: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

/* Commands without a function are on the roadmap (DESIGN.md) but not built yet. */
static const command commands[] = {
    {"synth", cmd_synth, "synthetic hospitals + cohorts"},
    {"import", cmd_import, "load real recordings (NPZ or OpenSim) into a site store"},
    {"export", cmd_export, "write a site store as a Gait2Hip NPZ"},
    {"info", cmd_info, "summary of a .db/.npz/.sto/.mot file"},
    {"train", cmd_train, "centralized training, Gait2Hip protocol"},
    {"eval", cmd_eval, "metrics of a model on a data set"},
    {"predict", cmd_predict, "model outputs for an NPZ of inputs"},
    {"pki", NULL, "consortium CA and site kits"},
    {"coordinator", NULL, "run the federation coordinator"},
    {"node", NULL, "run a hospital node"},
    {"report", NULL, "HTML report with plots"},
    {"audit", NULL, "verify the audit chain"},
    {"demo", NULL, "a whole federation on localhost"},
    {"bench", NULL, "benchmarks with ratios against baselines"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gaitfed <command> [options]   (gaitfed <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s%s\n", commands[i].name, commands[i].summary, commands[i].fn ? "" : " (not built yet)");
}

int main(int argc, char **argv)
{
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

/* Subcommands of the single `gaitfed` binary. Each returns the process exit
 * status: 0 success, 1 failure (message already printed), 2 usage error. */
#ifndef GF_CLI_H
#define GF_CLI_H
#include "common/err.h"

int cmd_synth(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);
int info_model(const char *path); /* gaitfed info M.safetensors (cmd_info_model.c) */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int bench_secagg(int argc, char **argv); /* gaitfed bench secagg (cmd_bench_secagg.c) */
int bench_federation(int argc, char **argv); /* gaitfed bench federation (cmd_bench_federation.c) */
int cmd_pki(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int audit_loso(int argc, char **argv); /* gaitfed audit loso (cmd_audit_loso.c) */
int cmd_coordinator(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Prints "gaitfed: <gf_errmsg() or strerror>" and returns 1. */
int cli_fail(gf_err e);
/* Prints "gaitfed <cmd>: <msg>" plus the usage hint and returns 2. */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Small option parser: --name value / --flag. Returns index of the value
 * argument or -1; sets *bad on a missing value. */
typedef struct {
    const char *name;   /* "--out" */
    int has_arg;
    const char **value; /* receives the argument (or "1" for a flag) */
} cli_opt;
/* Parses argv[1..] against opts; positional arguments go to pos (up to npos).
 * Returns 0, or 2 after printing a usage error. */
int cli_parse(const char *cmd, const char *usage, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int npos, int *npos_out);
/* Parses a number option strictly; returns 0 or prints and returns 2. */
int cli_long(const char *cmd, const char *usage, const char *name, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *usage, const char *name, const char *s, double lo, double hi, double *out);

/* Subject ids given as "H06,H08,..." or "@FILE" (common/idlist.h; the file
 * capped at 1 MiB, ids shorter than GF_ID_MAX). *ids malloc'd: free with
 * gf_idlist_free(*ids, *n). what names the option in messages. */
gf_err cli_id_list(const char *what, const char *s, char ***ids, int *n);

#endif

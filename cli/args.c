#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fileio.h"
#include "common/idlist.h"
#include "sites/dataset.h"

#define CLI_ID_FILE_CAP (1u << 20) /* --test-subjects @FILE */

int cli_fail(gf_err e)
{
    const char *m = gf_errmsg();
    fprintf(stderr, "gaitfed: %s\n", m[0] ? m : gf_strerror(e));
    return 1;
}

int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gaitfed %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    va_end(ap);
    return 2;
}

int cli_parse(const char *cmd, const char *usage, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int npos, int *npos_out)
{
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n", usage);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-') {
            int found = 0;
            for (int k = 0; k < nopts; k++) {
                if (strcmp(a, opts[k].name)) continue;
                found = 1;
                if (opts[k].has_arg) {
                    if (i + 1 >= argc) return cli_usage(cmd, usage, "%s needs a value", a);
                    *opts[k].value = argv[++i];
                } else {
                    *opts[k].value = "1";
                }
                break;
            }
            if (!found) return cli_usage(cmd, usage, "unknown option '%s'", a);
        } else {
            if (np >= npos) return cli_usage(cmd, usage, "unexpected argument '%s'", a);
            pos[np++] = a;
        }
    }
    if (npos_out) *npos_out = np;
    return 0;
}

int cli_long(const char *cmd, const char *usage, const char *name, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage(cmd, usage, "%s: expected an integer in [%ld, %ld], got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *usage, const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return cli_usage(cmd, usage, "%s: expected a number in [%g, %g], got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

gf_err cli_id_list(const char *what, const char *s, char ***ids, int *n)
{
    if (s[0] != '@') return gf_idlist_parse(what, s, strlen(s), GF_ID_MAX, ids, n);
    unsigned char *buf = NULL;
    size_t len = 0;
    char src[4200];
    snprintf(src, sizeof src, "%s %s", what, s + 1);
    gf_err e = gf_read_file(s + 1, CLI_ID_FILE_CAP, &buf, &len);
    if (e) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", gf_errmsg());
        return gf_fail(e, "%s: %s", what, msg);
    }
    e = gf_idlist_parse(src, (const char *)buf, len, GF_ID_MAX, ids, n);
    free(buf);
    return e;
}

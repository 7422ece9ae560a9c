#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fileio.h"
#include "sites/dataset.h"

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

/* A list of subject ids: "H06,H08 H18" or "@FILE" (ids separated by commas or
 * white space, '#' to the end of a line is a comment; at most 1 MiB). */
#define ID_LIST_FILE_CAP (1u << 20)
#define ID_LIST_MAX 100000
static int id_sep(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
gf_err cli_id_list(const char *what, const char *s, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *src = s;
    if (s[0] == '@') {
        gf_err e = gf_read_file(s + 1, ID_LIST_FILE_CAP, &buf, &len);
        if (e) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", gf_errmsg());
            return gf_fail(e, "%s: %s", what, msg);
        }
        src = (const char *)buf;
    } else {
        len = strlen(s);
    }
    char **ids = NULL;
    int k = 0, cap = 0;
    gf_err e = GF_OK;
    for (size_t i = 0; i < len && !e;) {
        unsigned char c = (unsigned char)src[i];
        if (c == '#') { while (i < len && src[i] != '\n') i++; continue; }
        if (id_sep((char)c)) { i++; continue; }
        size_t j = i;
        while (j < len && !id_sep(src[j]) && src[j] != '#' && (unsigned char)src[j] >= 0x20 && src[j] != 0x7f) j++;
        if (j < len && !id_sep(src[j]) && src[j] != '#') {
            e = gf_fail(GF_EFORMAT, "%s: control byte 0x%02x in a subject id", what, (unsigned char)src[j]);
            break;
        }
        if (j - i >= GF_ID_MAX) {
            e = gf_fail(GF_EINVAL, "%s: subject id '%.*s...' is longer than %d characters", what, 16, src + i, GF_ID_MAX - 1);
            break;
        }
        if (k == ID_LIST_MAX) { e = gf_fail(GF_ERANGE, "%s: more than %d subject ids", what, ID_LIST_MAX); break; }
        if (k == cap) {
            int nc = cap ? 2 * cap : 16;
            char **t = realloc(ids, (size_t)nc * sizeof *t);
            if (!t) { e = gf_fail(GF_ENOMEM, "out of memory"); break; }
            ids = t, cap = nc;
        }
        ids[k] = malloc(j - i + 1);
        if (!ids[k]) { e = gf_fail(GF_ENOMEM, "out of memory"); break; }
        memcpy(ids[k], src + i, j - i);
        ids[k++][j - i] = 0;
        i = j;
    }
    if (!e && k == 0) e = gf_fail(GF_EINVAL, "%s: %s names no subject", what, s[0] == '@' ? s + 1 : "the list");
    free(buf);
    if (e) { cli_id_list_free(ids, k); return e; }
    *out = ids;
    *n = k;
    return GF_OK;
}

void cli_id_list_free(char **ids, int n)
{
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

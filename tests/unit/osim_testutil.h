/* Shared by test_opensim.c and test_gaitcycle.c: run the Python oracle
 * (tests/unit/osim_oracle.py under /usr/bin/python3) and read its output. */
#ifndef GF_OSIM_TESTUTIL_H
#define GF_OSIM_TESTUTIL_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testutil.h"

/* Runs `python osim_oracle.py ARGS` and returns its stdout (malloc'd, caller
 * frees), or NULL if it failed. */
static inline char *oracle(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *oracle(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s/tests/unit/osim_oracle.py %s", tu_python(), tu_root(), args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    int rc = pclose(p);
    if (!buf || rc != 0) { free(buf); return NULL; }
    buf[n] = 0;
    return buf;
}

/* Parses up to max doubles, one per line, from oracle output; returns the count. */
static inline int oracle_doubles(const char *out, double *v, int max)
{
    int n = 0;
    const char *p = out;
    char *end;
    while (p && *p && n < max) {
        v[n] = strtod(p, &end);
        if (end == p) break;
        n++;
        p = end;
    }
    return n;
}

static inline char *osim_path(const char *name)
{
    static _Thread_local char buf[4][4096];
    static _Thread_local int k;
    k = (k + 1) % 4;
    const char *dir = tu_opensim_dir();
    size_t a = strlen(dir), b = strlen(name);
    if (a + b + 2 > sizeof buf[k]) return NULL;
    memcpy(buf[k], dir, a);
    buf[k][a] = '/';
    memcpy(buf[k] + a + 1, name, b + 1);
    return buf[k];
}

#endif

/* Helpers for tests: where the test data, python oracle and binary are, and
 * a private temporary directory per test process. */
#ifndef GF_TESTUTIL_H
#define GF_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/fileio.h"

/* tests/data/opensim in the repository (GF_ROOT), or $GF_OPENSIM. */
static inline const char *tu_opensim_dir(void)
{
    static char buf[4096];
    const char *e = getenv("GF_OPENSIM");
    if (e) return e;
    const char *root = getenv("GF_ROOT");
    snprintf(buf, sizeof buf, "%s/tests/data/opensim", root ? root : ".");
    return buf;
}
static inline const char *tu_python(void) { const char *p = getenv("GF_PYTHON"); return p ? p : "/usr/bin/python3"; }
static inline const char *tu_bin(void) { const char *p = getenv("GF_BIN"); return p ? p : "bin/gaitfed"; }
/* tests/evil/evil_node: a hospital node running modified code (red-team tests). */
static inline const char *tu_evil(void) { const char *p = getenv("GF_EVIL"); return p ? p : "build/tests/evil_node"; }
static inline const char *tu_root(void) { const char *p = getenv("GF_ROOT"); return p ? p : "."; }

/* A fresh temporary directory (mkdtemp) under $TMPDIR; `make test` points TMPDIR at
 * build/tmp and removes it after a passing run (kept for inspection on failure). */
static inline const char *tu_tmpdir(void)
{
    static _Thread_local char buf[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/gaitfed-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(buf);
}

/* Runs a shell command, returns its exit status (or -1). */
static inline int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
#include <sys/wait.h>
static inline int tu_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc)) return -1;
    return WEXITSTATUS(rc);
}

/* A fresh directory, asserting success. */
static inline const char *tu_dir(void)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    return d;
}

/* dir/name (malloc'd; caller frees), asserting success. */
static inline char *tu_path(const char *dir, const char *name)
{
    char *p = gf_path_join(dir, name);
    cr_assert_not_null(p);
    return p;
}

#endif

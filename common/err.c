#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_msg[512];

static const char *const names[GF_ERR_COUNT_] = {
    [GF_OK] = "ok",
    [GF_EINVAL] = "invalid argument",
    [GF_ENOMEM] = "out of memory",
    [GF_EIO] = "I/O error",
    [GF_EFORMAT] = "malformed input",
    [GF_ERANGE] = "value out of range",
    [GF_ENOTFOUND] = "not found",
    [GF_EUNSUPPORTED] = "unsupported",
    [GF_EDB] = "database error",
    [GF_ECRYPTO] = "cryptography error",
    [GF_ENUMERIC] = "numerical error",
    [GF_ESTATE] = "wrong state",
    [GF_ENET] = "network error",
    [GF_ENOTIMPL] = "not implemented",
};

const char *gf_strerror(gf_err e)
{
    if ((int)e < 0 || e >= GF_ERR_COUNT_) return "unknown error";
    return names[e];
}

gf_err gf_fail(gf_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    /* One line, no terminal escapes: messages quote file names and fields that
     * come from outside (a JSON "a\nb" decodes to a newline). */
    for (char *p = g_msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return e;
}

const char *gf_errmsg(void) { return g_msg; }
void gf_errclear(void) { g_msg[0] = 0; }

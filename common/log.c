#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int g_active;

int gf_progress_enabled(void) { return isatty(2); }

void gf_progress(const char *fmt, ...)
{
    if (!gf_progress_enabled()) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    g_active = 1;
}

void gf_progress_done(void)
{
    if (g_active && gf_progress_enabled()) fputs("\r\033[K", stderr);
    g_active = 0;
}

/* The report's text buffer, escaping and JSON lookups (report_internal.h). */
#include "coordinator/report_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(gf_rbuf *b, size_t need)
{
    if (b->oom) return 0;
    if (b->len + need + 1 <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + need + 1) nc *= 2;
    char *nb = realloc(b->buf, nc);
    if (!nb) { b->oom = 1; return 0; }
    b->buf = nb, b->cap = nc;
    return 1;
}

void gf_rb_put(gf_rbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if (!grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gf_rb_raw(gf_rbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!grow(b, n)) return;
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

void gf_rb_html(gf_rbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char c[2] = {(char)*p, 0};
        switch (*p) {
        case '&': gf_rb_raw(b, "&amp;"); break;
        case '<': gf_rb_raw(b, "&lt;"); break;
        case '>': gf_rb_raw(b, "&gt;"); break;
        case '"': gf_rb_raw(b, "&quot;"); break;
        case '\'': gf_rb_raw(b, "&#39;"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) break;
            gf_rb_raw(b, c);
        }
    }
}

void gf_rb_md(gf_rbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char c[3] = {'\\', (char)*p, 0};
        switch (*p) {
        case '\\': case '`': case '*': case '_': case '[': case ']': case '|': case '#': case '!':
            gf_rb_raw(b, c);
            break;
        case '&': gf_rb_raw(b, "&amp;"); break;
        case '<': gf_rb_raw(b, "&lt;"); break;
        case '>': gf_rb_raw(b, "&gt;"); break;
        case '\n': case '\r': case '\t': gf_rb_raw(b, " "); break;
        default:
            if (*p < 0x20 || *p == 0x7f) break;
            gf_rb_raw(b, c + 1);
        }
    }
}

void gf_rb_num(gf_rbuf *b, double v, int digits)
{
    if (isnan(v)) gf_rb_raw(b, "\xe2\x80\x93"); /* en dash */
    else gf_rb_put(b, "%.*f", digits, v);
}

void gf_rb_free(gf_rbuf *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

static const json_t *walk(const json_t *o, const char *path)
{
    char key[128];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        o = json_object_get(o, key);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

double gf_rj_num(const json_t *o, const char *path)
{
    const json_t *v = walk(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *gf_rj_str(const json_t *o, const char *path)
{
    const char *s = json_string_value(walk(o, path));
    return s ? s : "";
}

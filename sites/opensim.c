#include "sites/opensim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fileio.h"

/* ---- line cursor over a private, NUL-terminated copy of the file ---- */

typedef struct {
    const char *what;
    char *text;   /* owned copy, len + 1 bytes */
    size_t len;
    size_t pos;
    int line;     /* 1-based number of the line last returned */
} cursor;

/* Next line with its "\n" and trailing "\r" removed (in place), or NULL at EOF. */
static char *next_line(cursor *c)
{
    if (c->pos >= c->len) return NULL;
    char *s = c->text + c->pos;
    char *nl = memchr(s, '\n', c->len - c->pos);
    size_t n = nl ? (size_t)(nl - s) : c->len - c->pos;
    s[n] = 0;
    if (n && s[n - 1] == '\r') s[n - 1] = 0;
    c->pos += n + 1;
    c->line++;
    return s;
}

static int is_sep(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* Trims separators from both ends, in place. */
static char *trim(char *s)
{
    while (is_sep(*s)) s++;
    size_t n = strlen(s);
    while (n && is_sep(s[n - 1])) s[--n] = 0;
    return s;
}

/* Splits off the next whitespace-delimited token (NUL-terminating it) or returns NULL. */
static char *next_token(char **p)
{
    char *s = *p;
    while (is_sep(*s)) s++;
    if (!*s) { *p = s; return NULL; }
    char *e = s;
    while (*e && !is_sep(*e)) e++;
    if (*e) *e++ = 0;
    *p = e;
    return s;
}

/* ---- strict number parsing ---- */

/* Whole token must be a decimal number (sign, digits, point, exponent) or nan. */
static int parse_double(const char *s, double *v)
{
    const char *q = s + (*s == '+' || *s == '-');
    if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) return 0; /* no hex floats in OpenSim tables */
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return 0;
    if (isinf(d)) return 0;
    *v = d;
    return 1;
}

static int parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno) return 0;
    if (x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

/* ---- header ---- */

typedef struct {
    long rows, cols; /* declared, -1 when absent */
} declared;

static gf_err set_count(cursor *c, const char *key, const char *val, long cap, long *dst)
{
    char *end;
    errno = 0;
    long x = strtol(val, &end, 10);
    if (end == val || *end || x < 0)
        return gf_fail(GF_EFORMAT, "%s: line %d: %s: expected a count, got '%.40s'", c->what, c->line, key, val);
    if (errno || x > cap)
        return gf_fail(GF_ERANGE, "%s: line %d: %s=%.40s exceeds the cap of %ld", c->what, c->line, key, val, cap);
    *dst = x;
    return GF_OK;
}

static gf_err header_keyval(cursor *c, char *key, char *val, gf_osim_table *t, declared *d)
{
    key = trim(key);
    val = trim(val);
    if (!strcasecmp(key, "nRows") || !strcasecmp(key, "datarows"))
        return set_count(c, key, val, GF_OSIM_MAX_ROWS, &d->rows);
    if (!strcasecmp(key, "nColumns") || !strcasecmp(key, "datacolumns"))
        return set_count(c, key, val, GF_OSIM_MAX_COLS, &d->cols);
    if (!strcasecmp(key, "version")) {
        long v;
        if (!parse_int(val, 0, 1000, &v))
            return gf_fail(GF_EFORMAT, "%s: line %d: version: expected an integer, got '%.40s'", c->what, c->line, val);
        t->version = (int)v;
        return GF_OK;
    }
    if (!strcasecmp(key, "inDegrees")) {
        if (!strcasecmp(val, "yes")) t->in_degrees = 1;
        else if (!strcasecmp(val, "no")) t->in_degrees = 0;
        else return gf_fail(GF_EFORMAT, "%s: line %d: inDegrees: expected yes or no, got '%.40s'", c->what, c->line, val);
    }
    return GF_OK; /* other keys (DataType, OpenSimVersion, ...) carry nothing we use */
}

/* Legacy "key value" lines: name, datacolumns, datarows, range. 1 if handled. */
static int header_legacy(cursor *c, char *s, gf_osim_table *t, declared *d, gf_err *err)
{
    char *sp = s;
    while (*sp && !is_sep(*sp)) sp++;
    if (!*sp) return 0;
    size_t klen = (size_t)(sp - s);
    char *val = trim(sp);
    if (klen == 4 && !strncmp(s, "name", 4)) {
        if (!t->name) {
            t->name = strdup(val);
            if (!t->name) *err = gf_fail(GF_ENOMEM, "%s: out of memory", c->what);
        }
        return 1;
    }
    if (klen == 8 && !strncmp(s, "datarows", 8)) { *err = set_count(c, "datarows", val, GF_OSIM_MAX_ROWS, &d->rows); return 1; }
    if (klen == 11 && !strncmp(s, "datacolumns", 11)) { *err = set_count(c, "datacolumns", val, GF_OSIM_MAX_COLS, &d->cols); return 1; }
    if (klen == 5 && !strncmp(s, "range", 5)) return 1; /* informational; the time column is authoritative */
    return 0;
}

/* Reads header lines up to "endheader". */
static gf_err parse_header(cursor *c, gf_osim_table *t, declared *d)
{
    char *s;
    while ((s = next_line(c))) {
        s = trim(s);
        if (!strcmp(s, "endheader")) return GF_OK;
        char *eq = strchr(s, '=');
        gf_err err = GF_OK;
        if (eq) {
            *eq = 0;
            GF_TRY(header_keyval(c, s, eq + 1, t, d));
        } else if (header_legacy(c, s, t, d, &err)) {
            GF_TRY(err);
        } else if (c->line == 1) {
            t->name = strdup(s);
            if (!t->name) return gf_fail(GF_ENOMEM, "%s: out of memory", c->what);
        } else if (strstr(s, "Angles are in degrees")) {
            t->text_degrees = 1;
        } else if (strstr(s, "Angles are in radians")) {
            t->text_degrees = 0;
        }
    }
    if (c->line == 0) return gf_fail(GF_EFORMAT, "%s: line 1: empty file", c->what);
    return gf_fail(GF_EFORMAT, "%s: line %d: no 'endheader' line before the end of the file", c->what, c->line);
}

/* ---- labels ---- */

static int is_state_suffix(const char *s)
{
    static const char *const names[] = {"speed", "activation", "normalized_tendon_force", "fiber_length",
                                        "fiber_velocity", "tendon_force", "excitation"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i])) return 1;
    return 0;
}

/* Short name of a component-path label (see opensim.h); malloc'd, caller frees. */
static char *short_label(const char *raw)
{
    if (!strchr(raw, '/')) return strdup(raw);
    const char *last = NULL, *prev = NULL;
    size_t last_n = 0, prev_n = 0;
    for (const char *p = raw; *p;) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        prev = last; prev_n = last_n;
        last = p; last_n = n;
        p += n;
    }
    if (!last) return strdup(raw);
    char lastbuf[64] = "";
    if (last_n < sizeof lastbuf) { memcpy(lastbuf, last, last_n); lastbuf[last_n] = 0; }
    char *out;
    if (prev && !strcmp(lastbuf, "value")) {
        out = strndup(prev, prev_n);
    } else if (prev && is_state_suffix(lastbuf)) {
        out = malloc(prev_n + 1 + last_n + 1);
        if (out) {
            memcpy(out, prev, prev_n);
            out[prev_n] = '_';
            memcpy(out + prev_n + 1, last, last_n);
            out[prev_n + 1 + last_n] = 0;
        }
    } else {
        out = strndup(last, last_n);
    }
    return out;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* First duplicate among names[0..n) (sorted copy), or NULL. */
static const char *find_duplicate(char **names, int n, char **scratch)
{
    memcpy(scratch, names, (size_t)n * sizeof *scratch);
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_strp);
    for (int i = 1; i < n; i++)
        if (!strcmp(scratch[i - 1], scratch[i])) return scratch[i];
    return NULL;
}

static gf_err parse_labels(cursor *c, gf_osim_table *t)
{
    char *s;
    while ((s = next_line(c)) && !*trim(s)) {}
    if (!s) return gf_fail(GF_EFORMAT, "%s: line %d: no column labels after endheader", c->what, c->line);
    int label_line = c->line;
    char *tok, *p = s;
    int n = 0;
    /* Count first so the arrays are allocated once. */
    for (char *q = s; *q;) {
        while (is_sep(*q)) q++;
        if (!*q) break;
        if (++n > GF_OSIM_MAX_COLS)
            return gf_fail(GF_ERANGE, "%s: line %d: more than %d columns", c->what, label_line, GF_OSIM_MAX_COLS);
        while (*q && !is_sep(*q)) q++;
    }
    t->raw_labels = calloc((size_t)n, sizeof(char *));
    t->labels = calloc((size_t)n, sizeof(char *));
    if (!t->raw_labels || !t->labels) return gf_fail(GF_ENOMEM, "%s: out of memory", c->what);
    t->n_cols = n;
    for (int i = 0; (tok = next_token(&p)); i++) {
        t->raw_labels[i] = strdup(tok);
        t->labels[i] = short_label(tok);
        if (!t->raw_labels[i] || !t->labels[i]) return gf_fail(GF_ENOMEM, "%s: out of memory", c->what);
    }
    if (strcasecmp(t->raw_labels[0], "time"))
        return gf_fail(GF_EFORMAT, "%s: line %d: first column is '%.60s', expected 'time'", c->what, label_line,
                       t->raw_labels[0]);
    char **scratch = malloc((size_t)n * sizeof *scratch);
    if (!scratch) return gf_fail(GF_ENOMEM, "%s: out of memory", c->what);
    const char *dup = find_duplicate(t->raw_labels, n, scratch);
    gf_err e = GF_OK;
    if (dup) {
        e = gf_fail(GF_EFORMAT, "%s: line %d: duplicate column label '%.80s'", c->what, label_line, dup);
    } else if ((dup = find_duplicate(t->labels, n, scratch))) {
        e = gf_fail(GF_EFORMAT, "%s: line %d: two columns have the short label '%.80s'", c->what, label_line, dup);
    }
    free(scratch);
    return e;
}

/* ---- data rows ---- */

static gf_err grow_rows(cursor *c, gf_osim_table *t, size_t *cap_rows)
{
    if ((size_t)t->n_rows < *cap_rows) return GF_OK;
    size_t nc = *cap_rows ? *cap_rows * 2 : 64;
    if (nc > GF_OSIM_MAX_ROWS) nc = GF_OSIM_MAX_ROWS;
    double *nd = realloc(t->data, nc * (size_t)t->n_cols * sizeof(double));
    if (!nd) return gf_fail(GF_ENOMEM, "%s: out of memory for %zu rows", c->what, nc);
    t->data = nd;
    *cap_rows = nc;
    return GF_OK;
}

static gf_err parse_row(cursor *c, gf_osim_table *t, char *s, double *row)
{
    int n = 0;
    char *tok;
    while ((tok = next_token(&s))) {
        if (n == t->n_cols)
            return gf_fail(GF_EFORMAT, "%s: line %d: more than the %d values the labels name", c->what, c->line,
                           t->n_cols);
        if (!parse_double(tok, &row[n]))
            return gf_fail(GF_EFORMAT, "%s: line %d: column '%.60s': not a finite number: '%.40s'", c->what,
                           c->line, t->raw_labels[n], tok);
        n++;
    }
    if (n != t->n_cols)
        return gf_fail(GF_EFORMAT, "%s: line %d: %d values, expected %d (one per label)", c->what, c->line, n,
                       t->n_cols);
    if (!isfinite(row[0]))
        return gf_fail(GF_EFORMAT, "%s: line %d: time is not a number", c->what, c->line);
    if (t->n_rows > 0 && !(row[0] > row[-t->n_cols]))
        return gf_fail(GF_EFORMAT, "%s: line %d: time %.17g does not increase (previous %.17g)", c->what, c->line,
                       row[0], row[-t->n_cols]);
    return GF_OK;
}

static gf_err parse_rows(cursor *c, gf_osim_table *t)
{
    size_t cap_rows = 0;
    char *s;
    while ((s = next_line(c))) {
        s = trim(s);
        if (!*s) continue; /* blank lines (e.g. at the end) carry no row */
        if (t->n_rows >= GF_OSIM_MAX_ROWS)
            return gf_fail(GF_ERANGE, "%s: line %d: more than %d rows", c->what, c->line, GF_OSIM_MAX_ROWS);
        GF_TRY(grow_rows(c, t, &cap_rows));
        GF_TRY(parse_row(c, t, s, t->data + (size_t)t->n_rows * (size_t)t->n_cols));
        t->n_rows++;
    }
    if (t->n_rows == 0) return gf_fail(GF_EFORMAT, "%s: line %d: no data rows", c->what, c->line);
    return GF_OK;
}

static gf_err check_declared(cursor *c, const gf_osim_table *t, const declared *d)
{
    if (d->rows >= 0 && d->rows != t->n_rows)
        return gf_fail(GF_EFORMAT, "%s: line %d: header declares %ld rows, the file holds %d", c->what, c->line,
                       d->rows, t->n_rows);
    if (d->cols >= 0 && t->version < 2 && d->cols != t->n_cols)
        return gf_fail(GF_EFORMAT, "%s: line %d: header declares %ld columns, the labels name %d", c->what,
                       c->line, d->cols, t->n_cols);
    return GF_OK;
}

static gf_err parse_all(cursor *c, gf_osim_table *t)
{
    const char *nul = memchr(c->text, 0, c->len);
    if (nul) {
        int line = 1;
        for (const char *p = c->text; p < nul; p++) line += *p == '\n';
        return gf_fail(GF_EFORMAT, "%s: line %d: NUL byte in a text table", c->what, line);
    }
    declared d = {-1, -1};
    GF_TRY(parse_header(c, t, &d));
    GF_TRY(parse_labels(c, t));
    GF_TRY(parse_rows(c, t));
    return check_declared(c, t, &d);
}

gf_err gf_osim_parse(const char *what, const unsigned char *buf, size_t len, gf_osim_table *out)
{
    memset(out, 0, sizeof *out);
    out->in_degrees = -1;
    out->text_degrees = -1;
    if (!what) what = "(opensim table)";
    if (len > GF_OSIM_MAX_FILE)
        return gf_fail(GF_ERANGE, "%s: line 0: file larger than the %u-byte cap", what, GF_OSIM_MAX_FILE);
    if (len == 0) return gf_fail(GF_EFORMAT, "%s: line 1: empty file", what);
    cursor c = {what, malloc(len + 1), len, 0, 0};
    if (!c.text) return gf_fail(GF_ENOMEM, "%s: out of memory", what);
    memcpy(c.text, buf, len);
    c.text[len] = 0;
    gf_err e = parse_all(&c, out);
    free(c.text);
    if (e != GF_OK) {
        gf_osim_free(out);
        return e;
    }
    if (!out->name && !(out->name = strdup(""))) { /* no name line: "" so callers can print it */
        gf_osim_free(out);
        return gf_fail(GF_ENOMEM, "%s: out of memory", what);
    }
    /* Shrink the row buffer to what was used. */
    double *nd = realloc(out->data, (size_t)out->n_rows * (size_t)out->n_cols * sizeof(double));
    if (nd) out->data = nd;
    return GF_OK;
}

gf_err gf_osim_read(const char *path, gf_osim_table *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    GF_TRY(gf_read_file(path, GF_OSIM_MAX_FILE, &buf, &len));
    gf_err e = gf_osim_parse(path, buf, len, out);
    free(buf);
    return e;
}

void gf_osim_free(gf_osim_table *t)
{
    if (!t) return;
    for (int i = 0; i < t->n_cols; i++) {
        if (t->labels) free(t->labels[i]);
        if (t->raw_labels) free(t->raw_labels[i]);
    }
    free(t->labels);
    free(t->raw_labels);
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

int gf_osim_col(const gf_osim_table *t, const char *label)
{
    for (int i = 0; i < t->n_cols; i++)
        if (t->labels && t->labels[i] && !strcmp(t->labels[i], label)) return i;
    for (int i = 0; i < t->n_cols; i++)
        if (t->raw_labels && t->raw_labels[i] && !strcmp(t->raw_labels[i], label)) return i;
    return -1;
}

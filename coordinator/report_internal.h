/* Internals of the report (coordinator/report.h): the data model is a Jansson
 * object (exactly what summary.json holds, built by report_data.c); the HTML
 * (report_html.c) and markdown (report_md.c) renderers read only that
 * object. report_text.c: a growing text buffer and escaping; report_svg.c:
 * the inline SVG charts. Every string from the database goes through
 * gf_rb_html / gf_rb_md before it reaches a page. */
#ifndef GF_REPORT_INTERNAL_H
#define GF_REPORT_INTERNAL_H
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

typedef struct {
    char *buf;   /* owned; NUL-terminated */
    size_t len, cap;
    int oom;     /* sticky: set once an allocation failed */
} gf_rbuf;

void gf_rb_put(gf_rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gf_rb_raw(gf_rbuf *b, const char *s);
/* & < > " ' as entities; control characters dropped. */
void gf_rb_html(gf_rbuf *b, const char *s);
/* Markdown table cell: \ ` * _ [ ] | # as backslash escapes, & < > as
 * entities, newlines as spaces. */
void gf_rb_md(gf_rbuf *b, const char *s);
/* "%.*f" of v, or "–" (n/a) when v is NaN. */
void gf_rb_num(gf_rbuf *b, double v, int digits);
void gf_rb_free(gf_rbuf *b);

/* Number in a JSON object (NAN when missing or null); path "a.b.c". */
double gf_rj_num(const json_t *o, const char *path);
const char *gf_rj_str(const json_t *o, const char *path); /* "" when missing */

/* SVG charts; id becomes the <svg id> (and data-chart) attribute. Labels are
 * escaped here. NaN values are gaps/omitted. */
typedef struct {
    const char *label;
    int n;
    const double *x, *y;
    int dashed;
} gf_svg_series;
void gf_svg_lines(gf_rbuf *b, const char *id, const char *title, const char *xlabel, const char *ylabel,
                  const gf_svg_series *s, int ns);
/* Grouped bars: v[g * ns + s] for group g (x label) and series s (legend). */
void gf_svg_bars(gf_rbuf *b, const char *id, const char *title, const char *ylabel, const char *const *groups,
                 int ng, const char *const *series, int ns, const double *v);
/* Heat map: v[r * nc + c]; low values green, high red; the number in each cell. */
void gf_svg_heat(gf_rbuf *b, const char *id, const char *title, const char *const *rows, int nr,
                 const char *const *cols, int nc, const double *v);
/* Mean +- SD bands of reference and prediction over 0..100 % of the cycle. */
void gf_svg_band(gf_rbuf *b, const char *id, const char *title, const char *ylabel, int T, const double *ref_m,
                 const double *ref_sd, const double *pred_m, const double *pred_sd);

/* report_data.c: reads the database (read-only) into the summary model. */
gf_err gf_report_collect(const char *db_path, json_t **model);
/* The renderers; *out is owned by the caller. */
gf_err gf_report_html(const json_t *model, char **out, size_t *len);
gf_err gf_report_md(const json_t *model, char **out, size_t *len);

#endif

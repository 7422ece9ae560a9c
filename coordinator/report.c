/* gf_report_write (coordinator/report.h): collect, render, write. */
#include "coordinator/report.h"

#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "coordinator/report_internal.h"

static gf_err write_in(const char *dir, const char *name, const char *buf, size_t len)
{
    char *p = gf_path_join(dir, name);
    if (!p) return gf_fail(GF_ENOMEM, "report: out of memory");
    gf_err e = gf_write_file_atomic(p, buf, len);
    free(p);
    return e;
}

gf_err gf_report_write(const char *db_path, const char *out_dir)
{
    if (!db_path || !out_dir || !*out_dir) return gf_fail(GF_EINVAL, "report: a database and an output directory are needed");
    json_t *m = NULL;
    GF_TRY(gf_report_collect(db_path, &m));
    char *html = NULL, *md = NULL, *js = NULL;
    size_t hlen = 0, mlen = 0;
    gf_err e = gf_mkdirs(out_dir, 0);
    if (!e) e = gf_report_html(m, &html, &hlen);
    if (!e) e = gf_report_md(m, &md, &mlen);
    if (!e && !(js = json_dumps(m, JSON_INDENT(1) | JSON_REAL_PRECISION(17))))
        e = gf_fail(GF_ENOMEM, "report: out of memory");
    if (!e) e = write_in(out_dir, "summary.json", js, strlen(js));
    if (!e) e = write_in(out_dir, "summary.md", md, mlen);
    if (!e) e = write_in(out_dir, "index.html", html, hlen);
    free(html), free(md), free(js);
    json_decref(m);
    return e;
}

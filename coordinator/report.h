/* `gaitfed report`: a self-contained HTML report (inline SVG, no script, no
 * network), summary.json and summary.md from a coordinator database, opened
 * read-only so a running coordinator is not disturbed (WAL readers never
 * block it). What it shows and the fitness thresholds: README.md "`gaitfed report`". */
#ifndef GF_REPORT_H
#define GF_REPORT_H
#include "common/err.h"

/* Fitness verdict thresholds on the global model's subject-mean R^2 at a site
 * (cross-site matrix when run, else the site's validation in the last round):
 * green >= GF_REPORT_GREEN_R2, amber >= GF_REPORT_AMBER_R2, red below. */
#define GF_REPORT_GREEN_R2 0.70
#define GF_REPORT_AMBER_R2 0.50

/* Writes out_dir/index.html, out_dir/summary.json and out_dir/summary.md
 * (each temp-then-rename; out_dir is created when missing). A missing or
 * foreign database is GF_ENOTFOUND / GF_EFORMAT with a one-line gf_errmsg;
 * a federation without rounds still gets a report saying so. A broken audit
 * chain is reported in the files, not an error. */
gf_err gf_report_write(const char *db_path, const char *out_dir);

#endif

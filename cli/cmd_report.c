/* gaitfed report --db COORD.db --out DIR: index.html (self-contained, inline
 * SVG), summary.json and summary.md from a coordinator database, which is
 * opened read-only (coordinator/report.h). */
#include <stdio.h>

#include "cli/cli.h"
#include "coordinator/report.h"

static const char *USAGE = "gaitfed report --db COORD.db --out DIR";

int cmd_report(int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    cli_opt opts[] = {{"--db", 1, &db}, {"--out", 1, &out}};
    int rc = cli_parse("report", USAGE, argc, argv, opts, 2, NULL, 0, NULL);
    if (rc) return rc;
    if (!db || !out) return cli_usage("report", USAGE, "--db and --out are required");
    gf_err e = gf_report_write(db, out);
    if (e) return cli_fail(e);
    printf("gaitfed report: %s/index.html, summary.json, summary.md\n", out);
    return 0;
}

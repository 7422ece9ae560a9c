#include <stdio.h>

#include "cli/cli.h"
#include "sites/npz.h"
#include "sites/store.h"

static const char *USAGE = "gaitfed export --db SITE.db --npz F [--task forces|moments]";

int cmd_export(int argc, char **argv)
{
    const char *db = NULL, *npz = NULL, *task_s = "forces";
    cli_opt opts[] = {{"--db", 1, &db}, {"--npz", 1, &npz}, {"--task", 1, &task_s}};
    int rc = cli_parse("export", USAGE, argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!db || !npz) return cli_usage("export", USAGE, "--db and --npz are required");
    gf_task task;
    if (gf_task_parse(task_s, &task)) return cli_usage("export", USAGE, "%s", gf_errmsg());

    gf_store *st;
    gf_err e = gf_store_open(db, 0, &st);
    if (e) return cli_fail(e);
    gf_dataset ds;
    e = gf_store_load(st, task == GF_TASK_FORCES ? GF_STORE_NEED_FORCES : GF_STORE_NEED_MOMENTS, &ds);
    gf_store_close(st);
    if (e) return cli_fail(e);
    if (ds.n == 0) {
        gf_dataset_free(&ds);
        fprintf(stderr, "gaitfed export: %s: no cycles with %s targets\n", db, gf_task_name(task));
        return 1;
    }
    e = gf_g2h_write(npz, &ds, task);
    if (!e) printf("export: %lld cycles (%s) -> %s\n", (long long)ds.n, gf_task_name(task), npz);
    gf_dataset_free(&ds);
    return e ? cli_fail(e) : 0;
}

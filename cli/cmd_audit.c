/* gaitfed audit verify --db COORD.db: checks the coordinator's audit chain
 * (coordinator/audit.h) and names the first broken row. Read-only: the
 * database is opened with SQLITE_OPEN_READONLY.
 * gaitfed audit loso --config F [--out DIR]: leave-one-site-out
 * (cmd_audit_loso.c). */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "coordinator/audit.h"

static const char *USAGE = "gaitfed audit verify --db COORD.db\n"
                            "       gaitfed audit loso --config F [--out DIR (./loso-out)]";

static int verify(int argc, char **argv)
{
    const char *db_path = NULL;
    cli_opt opts[] = {{"--db", 1, &db_path}};
    int rc = cli_parse("audit verify", "gaitfed audit verify --db COORD.db", argc, argv, opts, 1, NULL, 0, NULL);
    if (rc) return rc;
    if (!db_path) return cli_usage("audit verify", "gaitfed audit verify --db COORD.db", "--db is required");
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "gaitfed: %s: cannot open: %s\n", db_path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return 1;
    }
    gf_audit_report r;
    gf_err e = gf_audit_verify(db, &r);
    sqlite3_close(db);
    if (e != GF_OK) {
        fprintf(stderr, "gaitfed: %s: %s\n", db_path, gf_errmsg());
        return 1;
    }
    printf("audit chain intact: %lld rows, head %s\n", (long long)r.rows, r.rows ? r.head_hex : "(empty)");
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: %s\n", USAGE);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "verify")) return verify(argc - 1, argv + 1);
    if (!strcmp(argv[1], "loso")) return audit_loso(argc - 1, argv + 1);
    return cli_usage("audit", USAGE, "unknown subcommand '%s'", argv[1]);
}

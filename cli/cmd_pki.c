/* gaitfed pki init|issue|revoke|list: the consortium CA and site kits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/fileio.h"
#include "crypto/pki.h"
#include "crypto/pki_index.h"
#include "crypto/pki_internal.h"
#include "crypto/x509util.h"

static const char *USAGE =
    "gaitfed pki init   --dir D --consortium NAME [--days N]\n"
    "       gaitfed pki issue  --dir D --name NAME --role hospital|evaluator|coordinator [--out KITDIR]\n"
    "                          [--host H]... [--days N]\n"
    "       gaitfed pki revoke --dir D (--name NAME | --serial S)\n"
    "       gaitfed pki list   --dir D";

static int pki_init(int argc, char **argv)
{
    const char *dir = NULL, *cons = NULL, *days_s = NULL;
    cli_opt opts[] = {{"--dir", 1, &dir}, {"--consortium", 1, &cons}, {"--days", 1, &days_s}};
    int rc = cli_parse("pki init", USAGE, argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir || !cons) return cli_usage("pki init", USAGE, "--dir and --consortium are required");
    long days = 3650;
    if (days_s && (rc = cli_long("pki init", USAGE, "--days", days_s, 1, 36500, &days))) return rc;
    gf_err e = gf_pki_init(dir, cons, (int)days);
    if (e) return cli_fail(e);
    printf("pki init: consortium %s, CA in %s (valid %ld days)\n", cons, dir, days);
    return 0;
}

static int pki_issue(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *role_s = NULL, *out = NULL, *days_s = NULL;
    /* --host repeats: collect it here, hand the rest to cli_parse. */
    const char **hosts = calloc((size_t)argc + 1, sizeof *hosts);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!hosts || !rest) { free(hosts); free(rest); return cli_fail(gf_fail(GF_ENOMEM, "out of memory")); }
    int nh = 0, nr = 0, rc = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !strcmp(argv[i], "--host")) {
            if (i + 1 >= argc) { rc = cli_usage("pki issue", USAGE, "--host needs a value"); break; }
            hosts[nh++] = argv[++i];
        } else {
            rest[nr++] = argv[i];
        }
    }
    cli_opt opts[] = {{"--dir", 1, &dir}, {"--name", 1, &name}, {"--role", 1, &role_s},
                      {"--out", 1, &out}, {"--days", 1, &days_s}};
    if (!rc) rc = cli_parse("pki issue", USAGE, nr, rest, opts, 5, NULL, 0, NULL);
    if (!rc && (!dir || !name || !role_s)) rc = cli_usage("pki issue", USAGE, "--dir, --name and --role are required");
    long days = 0; /* library default: 365, or up to the CA's end if sooner */
    if (!rc && days_s) rc = cli_long("pki issue", USAGE, "--days", days_s, 1, 36500, &days);
    gf_pki_issue_opts o = {.name = name, .kit_dir = out, .hosts = hosts, .n_hosts = (size_t)nh, .days = (int)days};
    if (!rc && gf_role_parse(role_s, &o.role)) {
        fprintf(stderr, "gaitfed: --role '%s': expected hospital, evaluator or coordinator\n", role_s);
        rc = 1;
    }
    uint64_t serial = 0;
    if (!rc) {
        gf_err e = gf_pki_issue(dir, &o, &serial);
        if (e) rc = cli_fail(e);
        else
            printf("pki issue: %s (%s) serial 0x%016llx, kit in %s%s%s\n", name, role_s, (unsigned long long)serial,
                   out ? out : dir, out ? "" : "/kits/", out ? "" : name);
    }
    free(hosts);
    free(rest);
    return rc;
}

static int pki_revoke(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *serial_s = NULL;
    cli_opt opts[] = {{"--dir", 1, &dir}, {"--name", 1, &name}, {"--serial", 1, &serial_s}};
    int rc = cli_parse("pki revoke", USAGE, argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir || !name == !serial_s) return cli_usage("pki revoke", USAGE, "--dir and one of --name or --serial are required");
    uint64_t serial = 0;
    if (serial_s && !gf_pki_serial_parse(serial_s, &serial)) {
        fprintf(stderr, "gaitfed: --serial '%s': expected 0x<hex> or a decimal number, not zero\n", serial_s);
        return 1;
    }
    gf_err e = gf_pki_revoke_ex(dir, name, serial, time(NULL));
    if (e) return cli_fail(e);
    if (name) printf("pki revoke: %s revoked; %s/crl.pem rewritten\n", name, dir);
    else printf("pki revoke: serial 0x%016llx revoked; %s/crl.pem rewritten\n", (unsigned long long)serial, dir);
    /* The coordinator reads its kit's copy: say how the new list gets there. */
    printf("pki revoke: deliver it to the coordinator: copy %s/crl.pem over the crl.pem of the coordinator's kit\n"
           "  (the file its config's \"crl\" names; copy to a temporary name there and rename it into place).\n"
           "  The running coordinator checks the file every second and takes the new list within 2 s\n"
           "  (kill -HUP <coordinator pid> re-reads it at once); from then on every new connection and every\n"
           "  request on an open one with the revoked certificate is refused, and audited by name and serial.\n",
           dir); /* 2 s: the coordinator checks every crl_poll_ms = 1000 (coordinator/https_server.h) */
    return 0;
}

static int pki_list(int argc, char **argv)
{
    const char *dir = NULL;
    cli_opt opts[] = {{"--dir", 1, &dir}};
    int rc = cli_parse("pki list", USAGE, argc, argv, opts, 1, NULL, 0, NULL);
    if (rc) return rc;
    if (!dir) return cli_usage("pki list", USAGE, "--dir is required");
    char *ip = gf_path_join(dir, "index.json");
    if (!ip) return cli_fail(gf_fail(GF_ENOMEM, "out of memory"));
    gf_pki_index ix;
    gf_err e = gf_pki_index_load(ip, &ix);
    free(ip);
    if (e) return cli_fail(e);
    printf("%-18s  %-24s  %-11s  %-20s  %s\n", "serial", "name", "role", "not_after", "revoked");
    for (size_t i = 0; i < ix.n; i++) {
        const gf_pki_entry *c = &ix.certs[i];
        char na[32], ra[32];
        gf_time_iso(c->not_after, na);
        if (c->revoked) gf_time_iso(c->revoked_at, ra);
        printf("0x%016llx  %-24s  %-11s  %-20s  %s\n", (unsigned long long)c->serial, c->name, gf_role_name(c->role), na,
               c->revoked ? ra : "no");
    }
    gf_pki_index_free(&ix);
    return 0;
}

int cmd_pki(int argc, char **argv)
{
    if (argc < 2) return cli_usage("pki", USAGE, "expected a subcommand: init, issue, revoke or list");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        printf("usage: %s\n", USAGE);
        return 0;
    }
    if (!strcmp(sub, "init")) return pki_init(argc - 1, argv + 1);
    if (!strcmp(sub, "issue")) return pki_issue(argc - 1, argv + 1);
    if (!strcmp(sub, "revoke")) return pki_revoke(argc - 1, argv + 1);
    if (!strcmp(sub, "list")) return pki_list(argc - 1, argv + 1);
    return cli_usage("pki", USAGE, "unknown subcommand '%s'", sub);
}

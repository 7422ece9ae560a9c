/* The node's config: the PKI's node.json skeleton loads as written (paths
 * against the kit, the kit's CRL picked up), defaults, and every bad field
 * refused with one line naming the file and the field. */
#include "crypto/pki.h"
#include "node/config.h"
#include "testutil.h"

static const char *base = "{\"name\":\"h1\",\"role\":\"%s\",\"coordinator_url\":\"https://localhost:8443\","
                          "\"key\":\"key.pem\",\"cert\":\"cert.pem\",\"ca\":\"ca.pem\"%s}";

static gf_err parse_with(const char *role, const char *extra, gf_node_config *out)
{
    char text[2048];
    snprintf(text, sizeof text, base, role, extra);
    return gf_node_config_parse("/etc/gf/node.json", text, strlen(text), out);
}

Test(node_config, skeleton_from_pki_loads)
{
    const char *d = tu_dir();
    char ca[1024], kit[1024], path[1100], want[1200];
    snprintf(ca, sizeof ca, "%s/ca", d);
    snprintf(kit, sizeof kit, "%s/kit", d);
    cr_assert_eq(gf_pki_init(ca, "testnet", 3650), GF_OK, "%s", gf_errmsg());
    gf_pki_issue_opts o = {.name = "h1", .role = GF_ROLE_HOSPITAL, .kit_dir = kit};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    snprintf(path, sizeof path, "%s/node.json", kit);
    gf_node_config c;
    cr_assert_eq(gf_node_config_load(path, &c), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(c.name, "h1");
    cr_assert_eq(c.role, GF_ROLE_HOSPITAL);
    snprintf(want, sizeof want, "%s/site.db", kit);
    cr_assert_str_eq(c.site_db, want, "relative paths resolve against the config's directory");
    snprintf(want, sizeof want, "%s/state", kit);
    cr_assert_str_eq(c.state_dir, want);
    snprintf(want, sizeof want, "%s/crl.pem", kit);
    cr_assert_not_null(c.crl);
    cr_assert_str_eq(c.crl, want, "the kit's CRL is used when the config names none");
    cr_assert_eq(c.threads, 1);
    cr_assert_eq(c.norm_global, 0);
    cr_assert_eq(c.n_cohorts, 0);
    gf_node_config_free(&c);
}

Test(node_config, evaluator_cohorts)
{
    gf_node_config c;
    cr_assert_eq(parse_with("evaluator", ",\"cohorts\":[{\"name\":\"healthy-test\",\"db\":\"c/h.db\"},"
                                         "{\"name\":\"onfh\",\"db\":\"/abs/onfh.db\"}],\"threads\":2,\"poll_ms\":50", &c),
                 GF_OK, "%s", gf_errmsg());
    cr_assert_eq(c.n_cohorts, 2);
    cr_assert_str_eq(c.cohorts[0].name, "healthy-test");
    cr_assert_str_eq(c.cohorts[0].db, "/etc/gf/c/h.db");
    cr_assert_str_eq(c.cohorts[1].db, "/abs/onfh.db");
    cr_assert_eq(c.threads, 2);
    cr_assert_eq(c.poll_ms, 50);
    cr_assert_null(c.site_db);
    gf_node_config_free(&c);
}

Test(node_config, bad_fields_name_file_and_field)
{
    static const struct { const char *role, *extra, *field; } bad[] = {
        {"hospital", "", "'site_db'"},                                  /* a hospital needs its data */
        {"evaluator", "", "'cohorts'"},                                 /* an evaluator needs cohorts */
        {"hospital", ",\"site_db\":\"s.db\",\"sitedb\":1", "'sitedb'"}, /* typo: unknown field */
        {"hospital", ",\"site_db\":\"s.db\",\"threads\":0", "'threads'"},
        {"hospital", ",\"site_db\":\"s.db\",\"normalization\":\"pooled\"", "'normalization'"},
        {"hospital", ",\"site_db\":\"s.db\",\"cohorts\":[{\"name\":\"x\",\"db\":\"x.db\"}]", "'cohorts'"},
        {"nurse", ",\"site_db\":\"s.db\"", "'role'"},
        {"evaluator", ",\"cohorts\":[{\"name\":\"a\",\"db\":\"a.db\"},{\"name\":\"a\",\"db\":\"b.db\"}]", "'cohorts[1].name'"},
        {"evaluator", ",\"cohorts\":[{\"name\":\"a\",\"db\":\"a.db\",\"norm\":\"own\"}]", "'cohorts[0].norm'"},
        {"evaluator", ",\"cohorts\":[{\"name\":\"a b\",\"db\":\"a.db\"}]", "'cohorts[0].name'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gf_node_config c;
        cr_assert_neq(parse_with(bad[i].role, bad[i].extra, &c), GF_OK, "case %zu accepted", i);
        const char *m = gf_errmsg();
        cr_assert(strstr(m, "/etc/gf/node.json") && strstr(m, bad[i].field) && !strchr(m, '\n'),
                  "case %zu: '%s' should name the file and %s on one line", i, m, bad[i].field);
    }
    gf_node_config c;
    const char *url = "{\"name\":\"h1\",\"role\":\"hospital\",\"coordinator_url\":\"http://x:1\",\"key\":\"k\","
                      "\"cert\":\"c\",\"ca\":\"a\",\"site_db\":\"s\"}";
    cr_assert_neq(gf_node_config_parse("n.json", url, strlen(url), &c), GF_OK);
    cr_assert(strstr(gf_errmsg(), "'coordinator_url'"), "%s", gf_errmsg());
}

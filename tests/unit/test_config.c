/* Config files: the PKI's coordinator skeleton loads as written; every bad
 * field is refused with one line naming the file and the field. */
#include "coordinator/config.h"
#include "crypto/pki.h"
#include "testutil.h"

static const char *base =
    "{\"name\":\"coord\",\"key\":\"key.pem\",\"cert\":\"cert.pem\",\"ca\":\"ca.pem\"%s}";

/* Parses base with extra fields spliced in; returns the error code. */
static gf_err parse_with(const char *extra, gf_coord_config *out)
{
    char text[2048];
    snprintf(text, sizeof text, base, extra);
    return gf_coord_config_parse("/etc/gf/coord.json", text, strlen(text), out);
}

Test(config, skeleton_from_pki_loads)
{
    const char *d = tu_dir();
    char ca[1024], kit[1024], path[1100];
    snprintf(ca, sizeof ca, "%s/ca", d);
    snprintf(kit, sizeof kit, "%s/coordkit", d);
    cr_assert_eq(gf_pki_init(ca, "testnet", 3650), GF_OK, "%s", gf_errmsg());
    gf_pki_issue_opts o = {.name = "coord", .role = GF_ROLE_COORDINATOR, .kit_dir = kit};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    snprintf(path, sizeof path, "%s/coordinator.json", kit);
    gf_coord_config c;
    cr_assert_eq(gf_coord_config_load(path, &c), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(c.name, "coord");
    cr_assert_str_eq(c.host, "127.0.0.1");
    cr_assert_eq(c.port, 8443);
    char want[1200];
    snprintf(want, sizeof want, "%s/key.pem", kit);
    cr_assert_str_eq(c.key, want, "relative paths resolve against the config's directory");
    snprintf(want, sizeof want, "%s/coordinator.db", kit);
    cr_assert_str_eq(c.db, want);
    cr_assert_not_null(c.crl);
    cr_assert_eq(access(c.crl, R_OK), 0, "the skeleton points at the CA's CRL: %s", c.crl);
    cr_assert(c.secure);
    cr_assert_eq(c.strategy, GF_FED_FEDAVG);
    cr_assert_eq(c.rounds, 20);
    cr_assert_eq(c.min_sites, 3);
    cr_assert_eq(c.model.arch, GF_ARCH_TRANSFORMER);
    cr_assert_eq(c.model.d_out, 14);
    cr_assert_eq(c.timeout_s[GF_PH_TRAIN], 900);
    gf_coord_config_free(&c);
}

Test(config, fields_and_defaults)
{
    gf_coord_config c;
    cr_assert_eq(parse_with(",\"listen\":\"0.0.0.0:0\",\"strategy\":\"fedadam\",\"sites\":[\"a\",\"b\",\"c\"],"
                            "\"min_sites\":3,\"threshold\":2,\"model\":{\"arch\":\"lstm\",\"task\":\"moments\","
                            "\"d_model\":32},\"timeouts_s\":{\"masked\":5.5},\"secure_aggregation\":false",
                            &c),
                 GF_OK, "%s", gf_errmsg());
    cr_assert_eq(c.port, 0);
    cr_assert_str_eq(c.host, "0.0.0.0");
    cr_assert_eq(c.strategy, GF_FED_FEDADAM);
    cr_assert_float_eq(c.server_lr, 1e-2, 1e-12, "adaptive strategies default to a server lr of 0.01");
    cr_assert_eq(c.n_sites, 3);
    cr_assert_str_eq(c.sites[2], "c");
    cr_assert_eq(c.model.arch, GF_ARCH_LSTM);
    cr_assert_eq(c.model.d_out, 3);
    cr_assert_eq(c.model.d_model, 32);
    cr_assert_float_eq(c.timeout_s[GF_PH_MASKED], 5.5, 1e-12);
    cr_assert_float_eq(c.timeout_s[GF_PH_ADVERT], 60, 1e-12);
    cr_assert_eq(c.secure, 0);
    cr_assert_str_eq(c.key, "/etc/gf/key.pem");
    gf_coord_config_free(&c);
}

Test(config, bad_fields_named)
{
    static const struct {
        const char *extra, *needle;
    } cases[] = {
        {",\"roundz\":3", "field 'roundz': unknown field"},
        {",\"rounds\":\"20\"", "field 'rounds': expected an integer"},
        {",\"rounds\":0", "field 'rounds': expected an integer in [1,"},
        {",\"rounds\":2.5", "field 'rounds'"},
        {",\"lr\":-1", "field 'lr': expected a number"},
        {",\"strategy\":\"krum\"", "field 'strategy': 'krum' is not one of fedavg|fedprox|fedadam|fedyogi|fedadagrad"},
        {",\"listen\":\"localhost\"", "field 'listen': expected HOST:PORT"},
        {",\"listen\":\"h:99999\"", "field 'listen'"},
        {",\"listen\":\":80\"", "field 'listen'"},
        {",\"timeouts_s\":{\"train\":-1}", "field 'timeouts_s.train'"},
        {",\"timeouts_s\":{\"trian\":1}", "field 'timeouts_s.trian': unknown field"},
        {",\"timeouts_s\":3", "field 'timeouts_s': expected an object"},
        {",\"model\":{\"heads\":3}", "field 'model.heads': 3 does not divide d_model 128"},
        {",\"model\":{\"arch\":\"mamba\"}", "field 'model.arch'"},
        {",\"mu\":0.1", "field 'mu': only used with"},
        {",\"sites\":[\"a\",\"a\"]", "field 'sites[1]': 'a' listed twice"},
        {",\"sites\":[\"a b\"]", "field 'sites[0]'"},
        {",\"sites\":[\"a\"],\"min_sites\":2", "field 'min_sites'"},
        {",\"threshold\":5,\"min_sites\":3", "field 'threshold'"},
        {",\"secure_aggregation\":\"yes\"", "field 'secure_aggregation': expected true or false"},
        {",\"normalization\":\"global\",\"secure_aggregation\":false", "field 'normalization': \"global\" pools"},
        {",\"name\":\"x\"", "line 1"}, /* duplicate key: refused, not last-wins */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gf_coord_config c;
        cr_assert_neq(parse_with(cases[i].extra, &c), GF_OK, "accepted: %s", cases[i].extra);
        cr_assert(strstr(gf_errmsg(), cases[i].needle), "%s -> %s", cases[i].extra, gf_errmsg());
        cr_assert(strstr(gf_errmsg(), "/etc/gf/coord.json"), "file not named: %s", gf_errmsg());
        cr_assert_null(strchr(gf_errmsg(), '\n'));
    }
    gf_coord_config c;
    cr_assert_neq(gf_coord_config_parse("x.json", "[1,2]", 5, &c), GF_OK);
    cr_assert(strstr(gf_errmsg(), "x.json: the config must be a JSON object"), "%s", gf_errmsg());
    cr_assert_neq(gf_coord_config_parse("x.json", "{\"name\":", 8, &c), GF_OK);
    cr_assert(strstr(gf_errmsg(), "x.json: line 1"), "%s", gf_errmsg());
    cr_assert_neq(gf_coord_config_parse("x.json", "{}", 2, &c), GF_OK);
    cr_assert(strstr(gf_errmsg(), "field 'name': required"), "%s", gf_errmsg());
    cr_assert_neq(gf_coord_config_load("/nonexistent/c.json", &c), GF_OK);
    cr_assert(strstr(gf_errmsg(), "/nonexistent/c.json"), "%s", gf_errmsg());
}

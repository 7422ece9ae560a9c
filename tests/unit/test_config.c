/* Config files: the PKI's coordinator skeleton loads as written; every bad
 * field is refused with one line naming the file and the field. */
#include "coordinator/config.h"
#include "crypto/pki.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
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
    cr_assert_eq(c.weighting, GF_WEIGHT_EQUAL, "never the sites' unchecked claims by default");
    cr_assert_eq(c.aggregator, GF_AGG_MEAN);
    cr_assert_eq(c.max_attempt_failures, 3);
    cr_assert_float_eq(c.update_clip, 10.0, 1e-12, "above the default Transformer's honest updates (L2 2-5)");
    gf_coord_config_free(&c);
    /* Per-site caps; robust aggregators in plain mode. */
    cr_assert_eq(parse_with(",\"sites\":[{\"name\":\"a\",\"max_samples\":500},{\"name\":\"b\",\"max_samples\":7}],"
                            "\"weighting\":\"samples_capped\",\"max_attempt_failures\":5",
                            &c),
                 GF_OK, "%s", gf_errmsg());
    cr_assert_eq(c.weighting, GF_WEIGHT_SAMPLES_CAPPED);
    cr_assert_str_eq(c.sites[1], "b");
    cr_assert_eq(c.max_samples[0], 500);
    cr_assert_eq(c.max_samples[1], 7);
    cr_assert_eq(c.max_attempt_failures, 5);
    gf_coord_config_free(&c);
    cr_assert_eq(parse_with(",\"aggregator\":\"trimmed_mean\",\"trim_fraction\":0.25,\"secure_aggregation\":false", &c),
                 GF_OK, "%s", gf_errmsg());
    cr_assert_eq(c.aggregator, GF_AGG_TRIMMED_MEAN);
    cr_assert_float_eq(c.trim_fraction, 0.25, 1e-12);
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
        {",\"weighting\":\"claimed\"", "field 'weighting': 'claimed' is not one of equal|samples_capped"},
        {",\"weighting\":\"samples_capped\"", "field 'weighting': \"samples_capped\" needs 'sites' with a \"max_samples\""},
        {",\"weighting\":\"samples_capped\",\"sites\":[{\"name\":\"a\",\"max_samples\":10},\"b\"],\"min_sites\":2",
         "field 'sites[1]': 'b' has no \"max_samples\""},
        {",\"sites\":[{\"name\":\"a\",\"max_samples\":0}]", "field 'sites[0].max_samples'"},
        {",\"sites\":[{\"name\":\"a\",\"cap\":5}]", "field 'sites[0].cap': unknown field"},
        {",\"sites\":[{\"max_samples\":5}]", "field 'sites[0].name': required"},
        {",\"aggregator\":\"median\"", "field 'aggregator': \"median\" needs each site's update, but secure aggregation"},
        {",\"aggregator\":\"krum\",\"secure_aggregation\":false", "field 'aggregator': 'krum' is not one of"},
        {",\"aggregator\":\"median\",\"secure_aggregation\":false,\"weighting\":\"samples_capped\","
         "\"sites\":[{\"name\":\"a\",\"max_samples\":10},{\"name\":\"b\",\"max_samples\":10}]",
         "field 'weighting': \"median\" counts every site once"},
        {",\"trim_fraction\":0.1,\"secure_aggregation\":false", "field 'trim_fraction': only used with"},
        {",\"aggregator\":\"trimmed_mean\",\"trim_fraction\":0.5,\"secure_aggregation\":false", "field 'trim_fraction'"},
        {",\"max_attempt_failures\":0", "field 'max_attempt_failures'"},
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

/* ---- initial_model (warm start) ---- */

/* A small Transformer checkpoint as gaitfed writes them (task, d_model,
 * with or without x_mean/x_std); in_col0 renames the first input column
 * (a channel mismatch) when not NULL. */
static void write_ckpt(const char *path, gf_task task, int d_model, int stats, const char *in_col0)
{
    gf_model_config mc = gf_model_config_default(GF_ARCH_TRANSFORMER, GF_DIN, gf_task_dim(task));
    mc.d_model = d_model, mc.n_layers = 1, mc.n_heads = 2, mc.d_ff = 32;
    gf_model *m;
    cr_assert_eq(gf_model_create(&mc, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, 3), GF_OK);
    m->has_norm = stats;
    for (int k = 0; k < GF_DIN; k++) m->x_mean[k] = (float)k - 4.5f, m->x_std[k] = 1.0f + 0.25f * (float)k;
    json_t *meta = gf_checkpoint_meta(&mc, task);
    cr_assert_not_null(meta);
    if (in_col0) {
        char cols[512];
        snprintf(cols, sizeof cols, "%s", gf_safetensors_meta(&(gf_safetensors){.meta = meta}, "in_cols"));
        char *q = strchr(cols + 2, '"'); /* ["first", ... */
        cr_assert_not_null(q);
        char fixed[600];
        snprintf(fixed, sizeof fixed, "[\"%s%s", in_col0, q);
        cr_assert_eq(gf_meta_set(meta, "in_cols", "%s", fixed), GF_OK);
    }
    gf_meta_set(meta, "source", "test fixture");
    cr_assert_eq(gf_safetensors_save_model(path, m, meta), GF_OK, "%s", gf_errmsg());
    json_decref(meta);
    gf_model_free(m);
}

/* dir/coord.json with the required fields and extra spliced in. */
static char *coord_json(const char *dir, const char *extra)
{
    char *p = tu_path(dir, "coord.json"), text[2048];
    snprintf(text, sizeof text, base, extra);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* A config naming a checkpoint relative to its own directory takes the
 * checkpoint's architecture, hyper-parameters and task when "model" is left
 * out; given fields must agree (dropout, a training setting, may differ);
 * the SHA-256 is the file's (checked with sha256sum). */
Test(config, initial_model_sets_the_model)
{
    const char *d = tu_dir();
    char *ck = tu_path(d, "warm.safetensors");
    write_ckpt(ck, GF_TASK_MOMENTS, 16, 1, NULL);
    char *cfg = coord_json(d, ",\"initial_model\":\"warm.safetensors\",\"normalization\":\"model\"");
    gf_coord_config c;
    cr_assert_eq(gf_coord_config_load(cfg, &c), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(c.initial_model, ck, "resolved against the config's directory");
    cr_assert_eq(c.model.arch, GF_ARCH_TRANSFORMER);
    cr_assert_eq(c.model.d_model, 16);
    cr_assert_eq(c.model.n_layers, 1);
    cr_assert_eq(c.model.d_ff, 32);
    cr_assert_eq(c.model.d_out, 3);
    cr_assert_eq(c.task_moments, 1, "the task is the checkpoint's");
    cr_assert_eq(c.normalization, GF_NORM_MODEL);
    cr_assert(c.initial && c.initial->has_norm);
    cr_assert_float_eq(c.initial->x_std[9], 3.25, 1e-6);
    cr_assert_str_eq(json_string_value(json_object_get(c.initial_meta, "source")), "test fixture");
    cr_assert_eq(tu_sh("test \"$(sha256sum %s | cut -c1-64)\" = %s", ck, c.initial_sha256), 0, "SHA-256 %s",
                 c.initial_sha256);
    gf_coord_config_free(&c);
    free(cfg);
    cfg = coord_json(d, ",\"initial_model\":\"warm.safetensors\",\"model\":{\"arch\":\"transformer\",\"task\":\"moments\","
                        "\"d_model\":16,\"layers\":1,\"heads\":2,\"ff\":32,\"dropout\":0.3}");
    cr_assert_eq(gf_coord_config_load(cfg, &c), GF_OK, "%s", gf_errmsg());
    cr_assert_float_eq(c.model.dropout, 0.3, 1e-6);
    cr_assert_eq(c.normalization, GF_NORM_OWN);
    gf_coord_config_free(&c);
    free(cfg), free(ck);
}

/* Every mismatch is one line naming the config, the field and the checkpoint. */
Test(config, initial_model_mismatches_named)
{
    const char *d = tu_dir();
    char *ck = tu_path(d, "warm.safetensors"), *plain = tu_path(d, "nostats.safetensors");
    char *chan = tu_path(d, "chan.safetensors"), *bad = tu_path(d, "cut.safetensors");
    write_ckpt(ck, GF_TASK_FORCES, 16, 1, NULL);
    write_ckpt(plain, GF_TASK_FORCES, 16, 0, NULL);
    write_ckpt(chan, GF_TASK_FORCES, 16, 1, "knee_angle_l");
    cr_assert_eq(tu_sh("head -c 3000 %s > %s", ck, bad), 0);
    cr_assert_eq(tu_sh("mkdir %s/dir.safetensors", d), 0);
    static const struct {
        const char *extra, *needle;
    } cases[] = {
        {",\"initial_model\":\"warm.safetensors\",\"model\":{\"arch\":\"lstm\"}",
         "field 'initial_model': warm.safetensors: model transformer but \"model.arch\" is lstm"},
        {",\"initial_model\":\"warm.safetensors\",\"model\":{\"d_model\":64,\"heads\":2}",
         "field 'initial_model': warm.safetensors: d_model 16 but \"model.d_model\" is 64"},
        {",\"initial_model\":\"warm.safetensors\",\"model\":{\"layers\":2}",
         "field 'initial_model': warm.safetensors: layers 1 but \"model.layers\" is 2"},
        {",\"initial_model\":\"warm.safetensors\",\"model\":{\"task\":\"moments\"}",
         "field 'initial_model': warm.safetensors: task forces but the federation's task is moments"},
        {",\"initial_model\":\"none.safetensors\"", "field 'initial_model': none.safetensors: No such file"},
        {",\"initial_model\":\"dir.safetensors\"", "field 'initial_model': dir.safetensors: not a regular file"},
        {",\"initial_model\":\"cut.safetensors\"", "field 'initial_model': cut.safetensors: "},
        {",\"initial_model\":\"chan.safetensors\"", "field 'initial_model': chan.safetensors: channel mismatch: in_cols[0]"},
        {",\"initial_model\":\"nostats.safetensors\",\"normalization\":\"model\"",
         "field 'normalization': \"model\" z-scores with the initial model's x_mean/x_std, but the initial model carries none"},
        {",\"normalization\":\"model\"", "field 'normalization': \"model\" z-scores with the initial model's x_mean/x_std, "
                                         "but there is no initial_model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *cfg = coord_json(d, cases[i].extra);
        gf_coord_config c;
        cr_assert_neq(gf_coord_config_load(cfg, &c), GF_OK, "accepted: %s", cases[i].extra);
        cr_assert(strstr(gf_errmsg(), cases[i].needle), "%s -> %s", cases[i].extra, gf_errmsg());
        cr_assert(!strncmp(gf_errmsg(), cfg, strlen(cfg)), "config not named first: %s", gf_errmsg());
        cr_assert_null(strchr(gf_errmsg(), '\n'));
        cr_assert_null(c.initial, "nothing kept on failure");
        free(cfg);
    }
    /* the same files with agreeing fields load (the cases above fail for the reason named) */
    char *cfg = coord_json(d, ",\"initial_model\":\"nostats.safetensors\",\"model\":{\"arch\":\"transformer\",\"layers\":1}");
    gf_coord_config c;
    cr_assert_eq(gf_coord_config_load(cfg, &c), GF_OK, "%s", gf_errmsg());
    cr_assert_not_null(c.initial);
    cr_assert_eq(c.initial->has_norm, 0);
    gf_coord_config_free(&c);
    free(cfg), free(ck), free(plain), free(chan), free(bad);
}

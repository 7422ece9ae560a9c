/* The wire parsers (coordinator/wire.h, node/wire.h) the HTTP handlers and
 * the node call: valid messages give their fields, each malformed one its
 * one-line message; inputs found by the fuzz targets (tests/fuzz/
 * fuzz_wire_*.c) and its invariants are kept here as regressions. */
#include <math.h>

#include "coordinator/wire.h"
#include "model/metrics.h"
#include "node/wire.h"
#include "testutil.h"

#define S(lit) (const uint8_t *)(lit), strlen(lit)

static const char *HEX32 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
static const char *HEX64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                           "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

static void expect_fail(gf_err e, const char *msg)
{
    cr_assert_eq(e, GF_EFORMAT, "expected a refusal with '%s'", msg);
    cr_assert(strstr(gf_errmsg(), msg), "message '%s' lacks '%s'", gf_errmsg(), msg);
    cr_assert_null(strchr(gf_errmsg(), '\n'), "one line");
}

/* ---- coordinator ---- */

Test(wire, advert)
{
    gf_wire_advert a;
    cr_assert_eq(gf_wire_parse_advert(S("{\"attempt\":2,\"n_samples\":120,\"val\":{\"train_loss\":0.5},\"advert\":\"AAAA\"}"),
                                      1, &a), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(a.attempt, 2);
    cr_assert_eq(a.n_samples, 120);
    cr_assert(json_is_object(a.val));
    cr_assert_str_eq(a.advert, "AAAA");
    json_decref(a.root);
    /* plain mode: no advert, no val */
    cr_assert_eq(gf_wire_parse_advert(S("{\"attempt\":1,\"n_samples\":0}"), 0, &a), GF_OK);
    cr_assert_null(a.val);
    cr_assert_null(a.advert);
    json_decref(a.root);
    const char *bad[] = {"{\"attempt\":1,\"n_samples\":3}", /* secure: advert missing */
                         "{\"attempt\":1.0,\"n_samples\":3,\"advert\":\"\"}",
                         "{\"attempt\":1,\"n_samples\":\"3\",\"advert\":\"\"}",
                         "{\"attempt\":1,\"n_samples\":3,\"val\":[],\"advert\":\"\"}",
                         "{\"attempt\":1,\"attempt\":1,\"n_samples\":3,\"advert\":\"\"}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_fail(gf_wire_parse_advert(S(bad[i]), 1, &a), "advert: expected {attempt, n_samples, val, advert}");
        cr_assert_null(a.root);
    }
    expect_fail(gf_wire_parse_advert(S("{\"attempt\":"), 1, &a), "advert: expected {attempt, n_samples, val, advert}: ");
}

Test(wire, evaluations)
{
    gf_wire_evaluations ev;
    cr_assert_eq(gf_wire_parse_evaluations(S("{\"model_version\":3,\"results\":[{\"cohort\":\"onfh\",\"norm\":\"pooled\","
                                             "\"metrics\":{\"r2\":0.5}},{\"cohort\":\"a/b\",\"norm\":\"own\",\"metrics\":{}}]}"),
                                           &ev), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(ev.model_version, 3);
    cr_assert_eq(ev.n, 2);
    gf_wire_evaluation it;
    cr_assert_eq(gf_wire_evaluation_item(&ev, 0, &it), GF_OK);
    cr_assert_str_eq(it.cohort, "onfh");
    cr_assert_str_eq(it.norm, "pooled");
    expect_fail(gf_wire_evaluation_item(&ev, 1, &it), "evaluations: results[1] needs a cohort name, norm own|pooled|model and metrics");
    json_decref(ev.root);
    expect_fail(gf_wire_parse_evaluations(S("{\"model_version\":\"3\",\"results\":[]}"), &ev),
                "evaluations: expected {model_version, results[<=64]}");
    char big[2048] = "{\"model_version\":1,\"results\":[{}";
    for (int i = 1; i < 65; i++) strcat(big, ",{}");
    strcat(big, "]}");
    expect_fail(gf_wire_parse_evaluations(S(big), &ev), "results[<=64]");
}

Test(wire, xeval_key)
{
    json_t *j;
    expect_fail(gf_wire_parse_object(S("[1]"), &j), "expected a JSON object");
    cr_assert_null(j);
    expect_fail(gf_wire_parse_object(S("{"), &j), "expected a JSON object: ");
    char body[1024];
    snprintf(body, sizeof body, "{\"version\":4,\"pk\":\"%s\",\"cert\":\"AAEC\",\"sig\":\"%s\",\"share\":true}", HEX32, HEX64);
    cr_assert_eq(gf_wire_parse_object(S(body), &j), GF_OK, "%s", gf_errmsg());
    gf_wire_xeval_key k;
    cr_assert_eq(gf_wire_xeval_key_fields(j, &k), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(k.pk[31], 0xff);
    cr_assert_eq(k.sig[63], 0x3f);
    cr_assert_eq(k.cert_len, 3);
    cr_assert_eq(k.cert[2], 2);
    cr_assert_eq(k.share, 1);
    free(k.cert);
    json_decref(j);
    const char *fmt[] = {"{\"pk\":\"%s\",\"cert\":\"AAEC\",\"sig\":\"%s\",\"share\":1}",
                         "{\"pk\":\"%s\",\"cert\":\"AAE\",\"sig\":\"%s\",\"share\":false}",
                         "{\"pk\":\"%s\",\"sig\":\"%s\",\"share\":false}",
                         "{\"pk\":\"%s0\",\"cert\":\"\",\"sig\":\"%s\",\"share\":false}",
                         "{\"pk\":\"%s\",\"cert\":\"\",\"sig\":\"%.126s\",\"share\":false}"};
    for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++) {
        snprintf(body, sizeof body, fmt[i], HEX32, HEX64);
        cr_assert_eq(gf_wire_parse_object(S(body), &j), GF_OK);
        expect_fail(gf_wire_xeval_key_fields(j, &k), "cross-site key: expected {version, pk (64 hex), cert (base64 DER)");
        cr_assert_null(k.cert);
        json_decref(j);
    }
}

Test(wire, xeval_results)
{
    json_t *j;
    const json_t *res, *m;
    const char *model;
    size_t n;
    cr_assert_eq(gf_wire_parse_object(S("{\"version\":4,\"results\":[{\"model\":\"global\",\"metrics\":{\"subject_mean\":{}}},"
                                        "{\"model\":\"h1\",\"metrics\":{\"subject_mean\":1}},{\"model\":\"../x\","
                                        "\"metrics\":{\"subject_mean\":{}}}]}"), &j), GF_OK);
    cr_assert_eq(gf_wire_xeval_results(j, &res, &n), GF_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(gf_wire_xeval_result_item(res, 0, &model, &m), GF_OK);
    cr_assert_str_eq(model, "global");
    expect_fail(gf_wire_xeval_result_item(res, 1, &model, &m), "cross-site results[1]: model must be \"global\"");
    expect_fail(gf_wire_xeval_result_item(res, 2, &model, &m), "cross-site results[2]: model must be");
    json_decref(j);
    cr_assert_eq(gf_wire_parse_object(S("{\"version\":4,\"results\":{}}"), &j), GF_OK);
    expect_fail(gf_wire_xeval_results(j, &res, &n), "cross-site results: expected {version, results[<=257]}");
    json_decref(j);
}

/* Aggregates only (issue 13): the honest node's cross-site metrics (model/
 * metrics.h on made-up predictions of two subjects, less per_subject and
 * definitions, as node/local_val.c sends them) come back equal; the full
 * gf_metrics_to_json (per-subject rows keyed by subject id), a subject id as
 * an unknown key anywhere, as a cadence or channel key, or as a string value,
 * and another task are refused, and no message repeats the id. */
static json_t *honest_xeval_metrics(int with_subjects)
{
    enum { N = 4, T = 3, D = GF_NF };
    float pred[N * T * D], ref[N * T * D];
    for (int i = 0; i < N * T * D; i++) ref[i] = (float)(i % 7), pred[i] = (float)(i % 7) + (float)(i % 3) * 0.1f;
    const char *ids[N] = {"H07", "H07", "H11", "H11"}, *speeds[N] = {"slow", "med", "med", "fast"};
    gf_metrics met;
    cr_assert_eq(gf_metrics_compute(&met, pred, ref, N, T, D, ids, speeds), GF_OK, "%s", gf_errmsg());
    json_t *j = gf_metrics_to_json(&met, gf_force_cols);
    gf_metrics_free(&met);
    cr_assert_not_null(j);
    cr_assert(json_is_object(json_object_get(j, "per_subject")), "the reference must carry the ids it is refused for");
    if (!with_subjects) json_object_del(j, "per_subject"), json_object_del(j, "definitions");
    json_object_set_new(j, "task", json_string("forces"));
    json_object_set_new(j, "units", json_string(gf_task_units(GF_TASK_FORCES)));
    return j;
}

static void refused_without_echo(const json_t *m, const char *msg)
{
    json_t *out = (json_t *)1;
    expect_fail(gf_wire_xeval_aggregates(m, GF_TASK_FORCES, "cross-site results[0].metrics", &out), msg);
    cr_assert_null(out);
    cr_assert_null(strstr(gf_errmsg(), "H07"), "the refusal repeats a subject id: %s", gf_errmsg());
}

Test(wire, xeval_metrics_aggregates_only)
{
    json_t *h = honest_xeval_metrics(0), *out = NULL;
    cr_assert_eq(gf_wire_xeval_aggregates(h, GF_TASK_FORCES, "m", &out), GF_OK, "%s", gf_errmsg());
    cr_assert(json_equal(h, out), "the honest node's aggregates are not kept as sent");
    json_decref(out);
    json_t *full = honest_xeval_metrics(1);
    refused_without_echo(full, "cross-site results[0].metrics: 'per_subject' refused");
    json_decref(full);
    /* the id smuggled in as a key at each level, and as a string value */
    const char *where[] = {"", "/subject_mean", "/per_cadence", "/per_cadence/med", "/per_channel",
                           "/per_channel/" /* first channel, filled below */};
    for (size_t k = 0; k < sizeof where / sizeof *where; k++) {
        json_t *m = json_deep_copy(h), *o = m;
        char path[128];
        snprintf(path, sizeof path, "%s%s", where[k], k == 5 ? gf_force_cols[0] : "");
        for (char *p = strtok(path, "/"); p; p = strtok(NULL, "/")) o = json_object_get(o, p);
        cr_assert(json_is_object(o), "no object at %s", where[k]);
        json_object_set_new(o, "H07", json_real(1.0));
        refused_without_echo(m, k == 2 ? "not a cadence label" : k == 4 ? "not an output channel" : "not echoed");
        json_decref(m);
    }
    json_t *m = json_deep_copy(h);
    json_object_set_new(json_object_get(m, "pooled"), "rmse", json_string("H07"));
    refused_without_echo(m, "'rmse' must be a number or null");
    json_object_set_new(json_object_get(m, "pooled"), "rmse", json_real(1));
    json_object_set_new(m, "task", json_string("moments"));
    refused_without_echo(m, "'task' must be \"forces\"");
    json_object_del(m, "task");
    json_object_del(m, "subject_mean");
    refused_without_echo(m, "needs 'subject_mean'");
    json_decref(m);
    json_decref(h);
}

/* The advert's validation report: gf_local_train's aggregates kept, anything else refused. */
Test(wire, advert_val_aggregates_only)
{
    const char *ok = "{\"train_loss\":0.5,\"n_cycles\":12,\"n_subjects\":3,"
                     "\"global\":{\"subject_mean\":{\"rmse\":1.5,\"mae\":1.25,\"r2\":null},\"pooled\":{\"rmse\":2.5}},"
                     "\"local\":{\"subject_mean\":{\"rmse\":1.0}}}";
    json_t *v = json_loads(ok, 0, NULL), *out = NULL;
    cr_assert_eq(gf_wire_val_aggregates(v, &out), GF_OK, "%s", gf_errmsg());
    cr_assert(json_equal(v, out));
    json_decref(out);
    json_object_set_new(v, "subjects", json_pack("[s]", "H07"));
    expect_fail(gf_wire_val_aggregates(v, &out), "advert: val: a field that is not one of the aggregates");
    cr_assert_null(strstr(gf_errmsg(), "H07"));
    json_object_del(v, "subjects");
    json_object_set_new(json_object_get(v, "global"), "per_subject", json_object());
    expect_fail(gf_wire_val_aggregates(v, &out), "advert: val.global: 'per_subject' refused");
    json_decref(v);
}

/* ---- node ---- */

static json_t *work_json(const char *text)
{
    gf_wire_work w;
    cr_assert_eq(gf_wire_parse_work(S(text), &w), GF_OK, "%s", gf_errmsg());
    return w.root;
}

Test(wire, work_item)
{
    gf_wire_work w;
    cr_assert_eq(gf_wire_parse_work(S("{\"state\":\"wait\",\"round\":3,\"attempt\":1,\"retry_after_ms\":200}"), &w), GF_OK);
    cr_assert_str_eq(w.state, "wait");
    cr_assert_eq(w.round, 3);
    cr_assert_eq(w.retry_after_ms, 200);
    json_decref(w.root);
    expect_fail(gf_wire_parse_work(S("{\"state\":\"wait\",\"round\":-1}"), &w), "GET /v1/work: not a work item");
    expect_fail(gf_wire_parse_work(S("{\"round\":1}"), &w), "GET /v1/work: not a work item");
    expect_fail(gf_wire_parse_work(S("nonsense"), &w), "GET /v1/work: not a work item");

    char text[512];
    snprintf(text, sizeof text, "{\"state\":\"train\",\"model\":{\"version\":2,\"sha256\":\"%s\",\"bytes\":100}}", HEX32);
    json_t *j = work_json(text);
    gf_wire_model m;
    cr_assert_eq(gf_wire_work_model(j, 1000, &m), GF_OK);
    cr_assert_eq(m.version, 2);
    cr_assert_eq(m.bytes, 100);
    expect_fail(gf_wire_work_model(j, 99, &m), "work item: 'model' needs version >= 0, sha256 and bytes in 1..99");
    json_decref(j);
}

static gf_err train_of(const char *obj, gf_local_config *lc, gf_task *task, const char **norm)
{
    json_t *t = json_loads(obj, 0, NULL);
    gf_err e = gf_wire_work_train(t, lc, task, norm);
    json_decref(t);
    return e;
}

Test(wire, work_train)
{
    gf_local_config lc;
    gf_task task;
    const char *norm;
    cr_assert_eq(train_of("{\"epochs\":2,\"lr\":1e-3,\"batch\":64,\"weight_decay\":1e-5,\"grad_clip\":0.5,\"mu\":0.01,"
                          "\"seed\":7,\"task\":\"moments\"}", &lc, &task, &norm), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(lc.epochs, 2);
    cr_assert_eq(lc.batch, 64);
    cr_assert_eq(lc.seed, 7);
    cr_assert_eq(task, GF_TASK_MOMENTS);
    cr_assert_null(norm);
    const char *msg = "work item: 'train' needs task, epochs, batch, lr, weight_decay, grad_clip, mu, seed";
    expect_fail(train_of("{\"epochs\":0,\"lr\":1e-3,\"batch\":64,\"task\":\"forces\"}", &lc, &task, &norm), msg);
    expect_fail(train_of("{\"epochs\":1,\"lr\":1e-3,\"batch\":64,\"task\":\"speed\"}", &lc, &task, &norm), msg);
}

/* Caught by fuzz_wire_node's range invariants: doubles beyond float range (or below its smallest
 * positive value) passed the checks and reached training as inf or 0. */
Test(wire, work_train_float_range_regression)
{
    gf_local_config lc;
    gf_task task;
    const char *norm;
    const char *msg = "work item: 'train' needs";
    expect_fail(train_of("{\"epochs\":1,\"lr\":1e-3,\"batch\":64,\"grad_clip\":1e300,\"task\":\"forces\"}", &lc, &task, &norm), msg);
    expect_fail(train_of("{\"epochs\":1,\"lr\":1e-3,\"batch\":64,\"mu\":1e39,\"task\":\"forces\"}", &lc, &task, &norm), msg);
    expect_fail(train_of("{\"epochs\":1,\"lr\":1e-320,\"batch\":64,\"task\":\"forces\"}", &lc, &task, &norm), msg);
    cr_assert_eq(train_of("{\"epochs\":1,\"lr\":1e-12,\"batch\":64,\"grad_clip\":1e6,\"mu\":1e6,\"task\":\"forces\"}", &lc,
                          &task, &norm), GF_OK, "the coordinator config's extremes pass");
    cr_assert(isfinite(lc.grad_clip) && isfinite(lc.mu) && lc.lr > 0);
}

Test(wire, work_secagg)
{
    char text[1024];
    const char *fmt = "{\"state\":\"train\",\"index\":%d,\"secagg\":{\"round_id\":196609,\"nonce\":\"%s\",\"n\":%s,"
                      "\"k\":3,\"t\":3,\"L\":%s,\"clip\":1.0,\"scale\":268435456}}";
    gf_secagg_params p;
    uint32_t idx;
    snprintf(text, sizeof text, fmt, 2, HEX32, "4", "332558");
    json_t *j = work_json(text);
    cr_assert_eq(gf_wire_work_secagg(j, &p, &idx), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(idx, 2);
    cr_assert_eq(p.n, 4);
    cr_assert_eq(p.L, 332558);
    cr_assert_eq(p.round_id, 196609);
    cr_assert_eq(p.nonce[31], 0xff);
    json_decref(j);
    const char *msg = "work item: 'secagg' needs round_id, nonce (64 hex), n, k, t, L, clip, scale and 'index' in 1..n";
    snprintf(text, sizeof text, fmt, 5, HEX32, "4", "332558");
    j = work_json(text);
    expect_fail(gf_wire_work_secagg(j, &p, &idx), msg);
    json_decref(j);
}

/* Caught by fuzz_wire_node's range invariants: integers wider than 32 bits wrapped (n = 2^32 + 4
 * read as 4, L = 2^32 + L as L) and were accepted. */
Test(wire, work_secagg_wrap_regression)
{
    char text[1024];
    const char *fmt = "{\"state\":\"train\",\"index\":2,\"secagg\":{\"round_id\":%s,\"nonce\":\"%s\",\"n\":%s,"
                      "\"k\":3,\"t\":3,\"L\":%s,\"clip\":1.0,\"scale\":268435456}}";
    const char *cases[][3] = {{"196609", "4294967300", "332558"}, {"196609", "4", "4295299854"},
                              {"-1", "4", "332558"}, {"196609", "4.0", "332558"}};
    gf_secagg_params p;
    uint32_t idx;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, fmt, cases[i][0], HEX32, cases[i][1], cases[i][2]);
        json_t *j = work_json(text);
        expect_fail(gf_wire_work_secagg(j, &p, &idx), "work item: 'secagg' needs");
        json_decref(j);
    }
}

Test(wire, work_xeval)
{
    const json_t *senders;
    const char *norm;
    json_t *j = work_json("{\"state\":\"xeval_evaluate\",\"xeval\":{\"version\":2,\"normalization\":\"own\","
                          "\"senders\":[\"h1\",\"h2\"]}}");
    cr_assert_eq(gf_wire_work_xeval(j, &senders, &norm), GF_OK);
    cr_assert_eq(json_array_size(senders), 2);
    cr_assert_str_eq(norm, "own");
    json_decref(j);
    j = work_json("{\"state\":\"xeval_evaluate\",\"xeval\":{\"normalization\":\"own\",\"senders\":[\"h1\",\"../h2\"]}}");
    expect_fail(gf_wire_work_xeval(j, &senders, &norm), "work item: xeval.senders[1] is not a name");
    json_decref(j);
    j = work_json("{\"state\":\"xeval_evaluate\",\"xeval\":{\"senders\":[]}}");
    expect_fail(gf_wire_work_xeval(j, &senders, &norm), "work item: 'xeval' needs senders[] and normalization");
    json_decref(j);
}

Test(wire, keys)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"version\":2,\"keys\":[{\"site\":\"h1\",\"pk\":\"%s\",\"cert\":\"AAEC\",\"sig\":\"%s\","
             "\"share\":true},{\"site\":\"h2\",\"pk\":\"%s\",\"cert\":\"\",\"sig\":\"%s\"}]}", HEX32, HEX64, HEX32, HEX64);
    gf_wire_keys k;
    cr_assert_eq(gf_wire_parse_keys(S(text), 2, &k), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(k.n, 2);
    cr_assert_str_eq(k.keys[0].site, "h1");
    cr_assert_eq(k.keys[0].cert_len, 3);
    cr_assert_eq(k.keys[1].cert_len, 0);
    cr_assert_eq(k.keys[1].pk[0], 0);
    gf_wire_keys_free(&k);
    expect_fail(gf_wire_parse_keys(S(text), 3, &k), "GET /v1/xeval/keys: keys for another model version");
    cr_assert_null(k.keys);
    expect_fail(gf_wire_parse_keys(S("{\"version\":2,\"keys\":{}}"), 2, &k), "GET /v1/xeval/keys: expected {keys[<=256]}");
    snprintf(text, sizeof text, "{\"version\":2,\"keys\":[{\"site\":\"h1\",\"pk\":\"%s\",\"cert\":\"AAEC\",\"sig\":\"%s\"},"
             "{\"site\":\"h 2\",\"pk\":\"%s\",\"cert\":\"\",\"sig\":\"%s\"}]}", HEX32, HEX64, HEX32, HEX64);
    expect_fail(gf_wire_parse_keys(S(text), 2, &k), "GET /v1/xeval/keys: entry 1 needs site, pk (64 hex), cert and sig");
    snprintf(text, sizeof text, "{\"version\":2,\"keys\":[{\"site\":\"h1\",\"pk\":\"%s\",\"cert\":\"A===\",\"sig\":\"%s\"}]}",
             HEX32, HEX64);
    expect_fail(gf_wire_parse_keys(S(text), 2, &k), "base64: bad character");
}

Test(wire, error_body)
{
    char code[8], msg[16];
    gf_wire_parse_error(S("{\"error\":{\"code\":\"wrong_phase\",\"message\":\"the advert phase is closed\"}}"), code,
                        sizeof code, msg, sizeof msg);
    cr_assert_str_eq(code, "wrong_p", "truncated to the buffer");
    cr_assert_str_eq(msg, "the advert phas");
    gf_wire_parse_error(S("<html>502</html>"), code, sizeof code, msg, sizeof msg);
    cr_assert_str_eq(code, "");
    cr_assert_str_eq(msg, "");
    gf_wire_parse_error(S("{\"error\":{\"code\":7}}"), code, sizeof code, msg, sizeof msg);
    cr_assert_str_eq(code, "");
}

#include "coordinator/wire.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/xeval.h"

gf_err gf_wire_parse_advert(const uint8_t *b, size_t n, int secure, gf_wire_advert *out)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &je);
    json_t *att = json_object_get(j, "attempt"), *ns = json_object_get(j, "n_samples"), *val = json_object_get(j, "val");
    const char *adv = json_string_value(json_object_get(j, "advert"));
    if (!j || !json_is_object(j) || !json_is_integer(att) || !json_is_integer(ns) || (val && !json_is_object(val)) ||
        (secure && !adv)) {
        gf_err e = gf_fail(GF_EFORMAT, "advert: expected {attempt, n_samples, val, advert}%s%s", j ? "" : ": ",
                           j ? "" : je.text);
        json_decref(j);
        return e;
    }
    *out = (gf_wire_advert){.root = j, .attempt = json_integer_value(att), .n_samples = json_integer_value(ns),
                            .val = val, .advert = adv};
    return GF_OK;
}

gf_err gf_wire_parse_evaluations(const uint8_t *b, size_t n, gf_wire_evaluations *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *mv = json_object_get(j, "model_version"), *res = json_object_get(j, "results");
    if (!json_is_integer(mv) || !json_is_array(res) || json_array_size(res) > GF_WIRE_EVAL_MAX) {
        json_decref(j);
        return gf_fail(GF_EFORMAT, "evaluations: expected {model_version, results[<=64]}");
    }
    *out = (gf_wire_evaluations){.root = j, .model_version = json_integer_value(mv), .results = res,
                                 .n = json_array_size(res)};
    return GF_OK;
}

gf_err gf_wire_evaluation_item(const gf_wire_evaluations *ev, size_t i, gf_wire_evaluation *out)
{
    memset(out, 0, sizeof *out);
    json_t *it = json_array_get(ev->results, i), *m = json_object_get(it, "metrics");
    const char *cohort = json_string_value(json_object_get(it, "cohort"));
    const char *norm = json_string_value(json_object_get(it, "norm"));
    if (!cohort || !gf_name_valid(cohort) || !norm || (strcmp(norm, "own") && strcmp(norm, "pooled") && strcmp(norm, "model")) ||
        !json_is_object(m))
        return gf_fail(GF_EFORMAT, "evaluations: results[%zu] needs a cohort name, norm own|pooled|model and metrics", i);
    *out = (gf_wire_evaluation){.cohort = cohort, .norm = norm, .metrics = m};
    return GF_OK;
}

gf_err gf_wire_parse_object(const uint8_t *b, size_t n, json_t **out)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &je);
    *out = NULL;
    if (!json_is_object(j)) {
        gf_err e = gf_fail(GF_EFORMAT, "expected a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
        json_decref(j);
        return e;
    }
    *out = j;
    return GF_OK;
}

gf_err gf_wire_xeval_key_fields(const json_t *j, gf_wire_xeval_key *out)
{
    memset(out, 0, sizeof *out);
    const char *pk = json_string_value(json_object_get(j, "pk")), *cb = json_string_value(json_object_get(j, "cert"));
    const char *sg = json_string_value(json_object_get(j, "sig"));
    json_t *sh = json_object_get(j, "share");
    if (!pk || strlen(pk) != 64 || gf_unhex(pk, out->pk, 32) || !sg || strlen(sg) != 2 * GF_SIG_MAX ||
        gf_unhex(sg, out->sig, GF_SIG_MAX) || !cb || !json_is_boolean(sh) ||
        gf_b64_decode(cb, 2 * GF_CERT_DER_MAX, &out->cert, &out->cert_len)) {
        free(out->cert);
        memset(out, 0, sizeof *out);
        return gf_fail(GF_EFORMAT, "cross-site key: expected {version, pk (64 hex), cert (base64 DER), "
                                   "sig (128 hex), share (boolean)}");
    }
    out->share = json_is_true(sh);
    return GF_OK;
}

gf_err gf_wire_xeval_results(const json_t *j, const json_t **results, size_t *n)
{
    const json_t *res = json_object_get(j, "results");
    *results = NULL, *n = 0;
    if (!json_is_array(res) || json_array_size(res) > GF_XEVAL_MAX_PEERS + 1)
        return gf_fail(GF_EFORMAT, "cross-site results: expected {version, results[<=%d]}", GF_XEVAL_MAX_PEERS + 1);
    *results = res, *n = json_array_size(res);
    return GF_OK;
}

gf_err gf_wire_xeval_result_unknown(size_t i)
{
    return gf_fail(GF_EFORMAT, "cross-site results[%zu]: model must be \"global\", the sender or a site that "
                               "shared its model, with metrics {subject_mean, ...}", i);
}

gf_err gf_wire_xeval_result_item(const json_t *results, size_t i, const char **model, const json_t **metrics)
{
    const json_t *it = json_array_get(results, i), *m = json_object_get(it, "metrics");
    const char *s = json_string_value(json_object_get(it, "model"));
    *model = NULL, *metrics = NULL;
    if (!s || (strcmp(s, "global") && !gf_name_valid(s)) || !json_is_object(m) ||
        !json_is_object(json_object_get(m, "subject_mean")))
        return gf_wire_xeval_result_unknown(i);
    *model = s, *metrics = m;
    return GF_OK;
}

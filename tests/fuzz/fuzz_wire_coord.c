/* libFuzzer target for the JSON request bodies the coordinator parses
 * (coordinator/wire.h): every input goes through each parser (advert in
 * plain and secure mode, evaluations, the cross-site key and results, and
 * the aggregates-only schema of the metrics in an advert and a result). What
 * a parser accepts must satisfy what the handlers rely on (types, caps,
 * valid names, decoded lengths); what it refuses must come with a one-line
 * message; nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/wire.h"
#include "crypto/hash.h"
#include "crypto/xeval.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void one_line(void) { CHECK(!strchr(gf_errmsg(), '\n') && !strchr(gf_errmsg(), '\r')); }

static void dumps(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    CHECK(s);
    free(s);
}

static void lower_eq(const char *hex, const uint8_t *b, size_t n)
{
    char h[2 * GF_SIG_MAX + 1];
    gf_hex(b, n, h);
    for (size_t i = 0; i < 2 * n; i++) CHECK(h[i] == (hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]));
}

/* Aggregates only: what is kept is an object with no "per_subject" at the top
 * (the schema has none anywhere); a refusal is one line. */
static void aggregates(const json_t *m, int xeval)
{
    for (int t = 0; t < (xeval ? 2 : 1); t++) {
        json_t *out = NULL;
        gf_err e = xeval ? gf_wire_xeval_aggregates(m, t ? GF_TASK_MOMENTS : GF_TASK_FORCES, "m", &out)
                         : gf_wire_val_aggregates(m, &out);
        if (e) {
            CHECK(!out);
            one_line();
            continue;
        }
        CHECK(json_is_object(out) && !json_object_get(out, "per_subject"));
        dumps(out);
        json_decref(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int secure = 0; secure < 2; secure++) {
        gf_wire_advert a;
        if (gf_wire_parse_advert(data, size, secure, &a) == GF_OK) {
            CHECK(json_is_object(a.root) && (!a.val || json_is_object(a.val)) && (!secure || a.advert));
            if (a.val) dumps(a.val), aggregates(a.val, 0);
            uint8_t *m = NULL;
            size_t ml = 0;
            if (a.advert && gf_b64_decode(a.advert, 16384, &m, &ml) == GF_OK) CHECK(ml <= 16384);
            free(m);
            json_decref(a.root);
        } else {
            CHECK(!a.root);
            one_line();
        }
    }

    gf_wire_evaluations ev;
    if (gf_wire_parse_evaluations(data, size, &ev) == GF_OK) {
        CHECK(ev.n <= GF_WIRE_EVAL_MAX && json_is_array(ev.results) && ev.n == json_array_size(ev.results));
        for (size_t i = 0; i < ev.n; i++) {
            gf_wire_evaluation it;
            if (gf_wire_evaluation_item(&ev, i, &it) != GF_OK) {
                one_line();
                continue;
            }
            CHECK(gf_name_valid(it.cohort) && (!strcmp(it.norm, "own") || !strcmp(it.norm, "pooled")));
            CHECK(json_is_object(it.metrics));
            dumps(it.metrics);
        }
        json_decref(ev.root);
    } else {
        one_line();
    }

    json_t *j;
    if (gf_wire_parse_object(data, size, &j) != GF_OK) {
        CHECK(!j);
        one_line();
        return 0;
    }
    CHECK(json_is_object(j));
    gf_wire_xeval_key k;
    if (gf_wire_xeval_key_fields(j, &k) == GF_OK) {
        CHECK(k.cert && k.cert_len <= 2 * GF_CERT_DER_MAX && (k.share == 0 || k.share == 1));
        lower_eq(json_string_value(json_object_get(j, "pk")), k.pk, 32);
        lower_eq(json_string_value(json_object_get(j, "sig")), k.sig, GF_SIG_MAX);
        free(k.cert);
    } else {
        CHECK(!k.cert);
        one_line();
    }
    const json_t *res;
    size_t n;
    if (gf_wire_xeval_results(j, &res, &n) == GF_OK) {
        CHECK(n <= GF_XEVAL_MAX_PEERS + 1 && json_is_array(res));
        for (size_t i = 0; i < n; i++) {
            const char *model;
            const json_t *m;
            if (gf_wire_xeval_result_item(res, i, &model, &m) != GF_OK) {
                CHECK(!model && !m);
                one_line();
                continue;
            }
            CHECK(!strcmp(model, "global") || gf_name_valid(model));
            CHECK(json_is_object(m) && json_is_object(json_object_get(m, "subject_mean")));
            dumps(m);
            aggregates(m, 1);
        }
    } else {
        one_line();
    }
    json_decref(j);
    return 0;
}

/* libFuzzer target for what a node parses from the coordinator
 * (node/wire.h): every input goes through each parser — the work item and
 * its "model", "train", "secagg" and "xeval" objects, the cross-site key
 * list and an HTTP error body. Accepted values must lie in the ranges the
 * node relies on (documented in node/wire.h and docs/PROTOCOL.md), names
 * must be valid, refusals one line; nothing may crash or leak. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/xeval.h"
#include "node/wire.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void one_line(void) { CHECK(!strchr(gf_errmsg(), '\n') && !strchr(gf_errmsg(), '\r')); }

static void work(const json_t *w)
{
    gf_wire_model m;
    const size_t cap = (size_t)1 << 31;
    if (gf_wire_work_model(w, cap, &m) == GF_OK) CHECK(m.version >= 0 && strlen(m.sha256) == 64 && m.bytes >= 1 && m.bytes <= cap);
    else one_line();

    gf_local_config lc;
    gf_task task;
    const char *norm;
    if (gf_wire_work_train(json_object_get(w, "train"), &lc, &task, &norm) == GF_OK) {
        CHECK(lc.epochs >= 1 && lc.epochs <= 10000 && lc.batch >= 1 && lc.batch <= 65536);
        CHECK(isfinite(lc.lr) && lc.lr > 0 && lc.lr <= 10 && isfinite(lc.weight_decay) && lc.weight_decay >= 0 &&
              lc.weight_decay <= 10);
        CHECK(isfinite(lc.grad_clip) && lc.grad_clip >= 0 && isfinite(lc.mu) && lc.mu >= 0);
        CHECK(task == GF_TASK_FORCES || task == GF_TASK_MOMENTS);
    } else {
        one_line();
    }

    gf_secagg_params p;
    uint32_t idx;
    if (gf_wire_work_secagg(w, &p, &idx) == GF_OK) {
        const json_t *s = json_object_get(w, "secagg");
        CHECK(idx >= 1 && idx <= p.n);
        /* the numbers are the JSON's, not wrapped into 32 bits */
        CHECK((json_int_t)p.n == json_integer_value(json_object_get(s, "n")));
        CHECK((json_int_t)p.L == json_integer_value(json_object_get(s, "L")));
        CHECK((json_int_t)p.k == json_integer_value(json_object_get(s, "k")));
        CHECK((json_int_t)p.t == json_integer_value(json_object_get(s, "t")));
        if (gf_secagg_params_check(&p) == GF_OK) CHECK(p.n >= 2 && p.n <= GF_SECAGG_MAX_PARTIES && p.L >= 1);
    } else {
        one_line();
    }

    const json_t *senders;
    if (gf_wire_work_xeval(w, &senders, &norm) == GF_OK) {
        CHECK(json_is_array(senders) && json_array_size(senders) <= GF_XEVAL_MAX_PEERS && norm);
        for (size_t i = 0; i < json_array_size(senders); i++)
            CHECK(gf_name_valid(json_string_value(json_array_get(senders, i))));
    } else {
        one_line();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_wire_work wk;
    if (gf_wire_parse_work(data, size, &wk) == GF_OK) {
        CHECK(wk.root && wk.state && wk.round >= 0 && wk.attempt >= 0);
        work(wk.root);
        json_decref(wk.root);
    } else {
        CHECK(!wk.root);
        one_line();
    }

    gf_wire_keys ks;
    if (gf_wire_parse_keys(data, size, 1, &ks) == GF_OK) {
        CHECK(ks.n <= GF_XEVAL_MAX_PEERS && (ks.keys || !ks.n));
        for (size_t i = 0; i < ks.n; i++)
            CHECK(gf_name_valid(ks.keys[i].site) && ks.keys[i].cert && ks.keys[i].cert_len <= 2 * GF_CERT_DER_MAX);
        gf_wire_keys_free(&ks);
    } else {
        CHECK(!ks.keys && !ks.n);
        one_line();
    }

    char code[64], msg[256];
    memset(code, 'x', sizeof code), memset(msg, 'x', sizeof msg);
    gf_wire_parse_error(data, size, code, sizeof code, msg, sizeof msg);
    CHECK(memchr(code, 0, sizeof code) && memchr(msg, 0, sizeof msg));
    return 0;
}

/* Test fixtures for secure aggregation: a throw-away consortium CA with n
 * hospital identities, and a round driven phase by phase so tests can drop,
 * replay or tamper with any message. */
#ifndef GF_SECAGG_TESTUTIL_H
#define GF_SECAGG_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/rng.h"
#include "crypto/identity.h"
#include "crypto/pki.h"
#include "crypto/secagg.h"
#include "tests/unit/testutil.h"

typedef struct {
    char ca[1100];
    gf_trust *trust;
    gf_identity **ids;
    uint32_t n;
} tu_fed;

static inline gf_identity *tu_fed_issue(const char *ca, const char *name)
{
    gf_pki_issue_opts o = {.name = name, .role = GF_ROLE_HOSPITAL, .days = 20};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "issue %s: %s", name, gf_errmsg());
    char kit[1300];
    snprintf(kit, sizeof kit, "%s/kits/%s", ca, name);
    gf_identity *id = NULL;
    cr_assert_eq(gf_identity_load_kit(kit, &id), GF_OK, "%s", gf_errmsg());
    return id;
}

static inline void tu_fed_make(tu_fed *f, uint32_t n, const char *consortium)
{
    const char *d = tu_dir();
    snprintf(f->ca, sizeof f->ca, "%s/ca", d);
    cr_assert_eq(gf_pki_init(f->ca, consortium, 60), GF_OK, "%s", gf_errmsg());
    char pem[1200];
    snprintf(pem, sizeof pem, "%s/ca.pem", f->ca);
    cr_assert_eq(gf_trust_load(pem, NULL, &f->trust), GF_OK, "%s", gf_errmsg());
    f->n = n;
    f->ids = calloc(n, sizeof *f->ids);
    for (uint32_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "site%03u", i + 1);
        f->ids[i] = tu_fed_issue(f->ca, name);
    }
}

static inline void tu_fed_free(tu_fed *f)
{
    for (uint32_t i = 0; i < f->n; i++) gf_identity_free(f->ids[i]);
    free(f->ids);
    gf_trust_free(f->trust);
}

/* Random inputs (n vectors of L words) bounded as a fixpoint plan allows. */
static inline uint32_t **tu_inputs(const gf_secagg_params *p, uint64_t seed)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    int64_t m = (int64_t)(p->clip * p->scale + 0.5);
    uint32_t **x = calloc(p->n, sizeof *x);
    for (uint32_t i = 0; i < p->n; i++) {
        x[i] = malloc((size_t)p->L * 4);
        for (uint32_t j = 0; j < p->L; j++) x[i][j] = (uint32_t)(int32_t)((int64_t)gf_rng_below(&r, (uint64_t)(2 * m + 1)) - m);
    }
    return x;
}
static inline void tu_inputs_free(uint32_t **x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) free(x[i]);
    free(x);
}

/* A round driven step by step: clients c[0..n) are parties 1..n. */
typedef struct {
    gf_secagg_params p;
    tu_fed *f;
    gf_secagg_client **c;
    gf_secagg_server *s;
    uint8_t *msg[4096];
    size_t len[4096];
} tu_round;

static inline void tu_round_new(tu_round *r, tu_fed *f, const gf_secagg_params *p, const gf_trust *server_trust)
{
    memset(r, 0, sizeof *r);
    r->p = *p;
    r->f = f;
    r->c = calloc(p->n, sizeof *r->c);
    for (uint32_t i = 0; i < p->n; i++)
        cr_assert_eq(gf_secagg_client_new(p, i + 1, f->ids[i], f->trust, &r->c[i]), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_secagg_server_new(p, server_trust, 2, &r->s), GF_OK, "%s", gf_errmsg());
}

static inline void tu_round_free(tu_round *r)
{
    for (uint32_t i = 0; i < r->p.n; i++) gf_secagg_client_free(r->c[i]);
    free(r->c);
    gf_secagg_server_free(r->s);
    for (int i = 0; i < 4096; i++) free(r->msg[i]);
}

/* Sum mod 2^32 of the inputs of parties with keep[i] (all when keep is NULL). */
static inline void tu_plain_sum(uint32_t *const *x, const uint8_t *keep, uint32_t n, uint32_t L, uint32_t *out)
{
    memset(out, 0, (size_t)L * 4);
    for (uint32_t i = 0; i < n; i++)
        if (!keep || keep[i])
            for (uint32_t j = 0; j < L; j++) out[j] += x[i][j];
}

static inline gf_secagg_params tu_params(uint32_t n, uint32_t k, uint32_t t, uint32_t L, uint64_t round)
{
    gf_secagg_params p;
    cr_assert_eq(gf_secagg_params_default(round, n, L, 1.0, &p), GF_OK, "%s", gf_errmsg());
    if (k) p.k = k, p.t = t;
    cr_assert_eq(gf_secagg_params_check(&p), GF_OK, "%s", gf_errmsg());
    return p;
}

#endif

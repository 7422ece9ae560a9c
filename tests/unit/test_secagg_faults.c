/* Secure aggregation under attack: tampered share ciphertexts, substituted
 * keys, bad or foreign signatures, a server asking for both shares of a
 * party, the uniformity of a masked input (chi-square), malformed messages. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyagree.h"
#include "crypto/secagg.h"
#include "crypto/secagg_msg.h"
#include "tests/unit/secagg_testutil.h"

/* Adverts of all parties into r->msg[0..n). */
static void adverts(tu_round *r)
{
    for (uint32_t i = 0; i < r->p.n; i++)
        cr_assert_eq(gf_secagg_client_advertise(r->c[i], &r->msg[i], &r->len[i]), GF_OK, "%s", gf_errmsg());
}

/* The server (built without a trust anchor, so only clients check) accepts the
 * adverts; returns the list. */
static uint8_t *collect(tu_round *r, size_t *ll)
{
    uint8_t *list;
    for (uint32_t i = 0; i < r->p.n; i++)
        cr_assert_eq(gf_secagg_server_add_advert(r->s, r->msg[i], r->len[i]), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_secagg_server_close_adverts(r->s, &list, ll), GF_OK, "%s", gf_errmsg());
    return list;
}

/* Runs the advert phase with advert `victim` modified by fn; expects both a
 * trusting server and the other clients to refuse it with GF_ECRYPTO. */
static void expect_advert_rejected(uint32_t n, void (*fn)(uint8_t *m, size_t len), const char *what)
{
    tu_fed f;
    tu_fed_make(&f, n, "testfed");
    gf_secagg_params p = tu_params(n, 0, 0, 8, 11);
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    adverts(&r);
    fn(r.msg[1], r.len[1]); /* party 2 */
    gf_secagg_server *checked;
    cr_assert_eq(gf_secagg_server_new(&p, f.trust, 1, &checked), GF_OK);
    cr_assert_eq(gf_secagg_server_add_advert(checked, r.msg[1], r.len[1]), GF_ECRYPTO, "%s: server accepted", what);
    gf_secagg_server_free(checked);
    size_t ll;
    uint8_t *list = collect(&r, &ll), *m;
    size_t ml;
    cr_assert_eq(gf_secagg_client_share(r.c[0], list, ll, &m, &ml), GF_ECRYPTO, "%s: client accepted", what);
    cr_assert(strstr(gf_errmsg(), "party 2") != NULL, "%s", gf_errmsg());
    /* A refusal is final. */
    cr_assert_eq(gf_secagg_client_share(r.c[0], list, ll, &m, &ml), GF_ESTATE);
    free(list);
    tu_round_free(&r);
    tu_fed_free(&f);
}

static void flip_c_pk(uint8_t *m, size_t len) { (void)len; m[GF_SA_HDR + 4] ^= 0x01; }
static void flip_s_pk(uint8_t *m, size_t len) { (void)len; m[GF_SA_HDR + 36 + 31] ^= 0x40; }
static void flip_sig(uint8_t *m, size_t len) { m[len - 5] ^= 0x10; }

Test(secagg_faults, substituted_public_key_detected) { expect_advert_rejected(4, flip_c_pk, "c_pk"); }
Test(secagg_faults, substituted_mask_key_detected) { expect_advert_rejected(4, flip_s_pk, "s_pk"); }
Test(secagg_faults, bad_advert_signature_detected) { expect_advert_rejected(4, flip_sig, "signature"); }

Test(secagg_faults, advert_from_another_ca_rejected)
{
    tu_fed f, other;
    tu_fed_make(&f, 4, "testfed");
    tu_fed_make(&other, 2, "testfed"); /* same consortium name, another CA key */
    gf_secagg_params p = tu_params(4, 0, 0, 8, 12);
    gf_identity *keep = f.ids[1];
    f.ids[1] = other.ids[1]; /* party 2 = "site002" of the other CA */
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    adverts(&r);
    gf_secagg_server *checked;
    cr_assert_eq(gf_secagg_server_new(&p, f.trust, 1, &checked), GF_OK);
    cr_assert_eq(gf_secagg_server_add_advert(checked, r.msg[0], r.len[0]), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_secagg_server_add_advert(checked, r.msg[1], r.len[1]), GF_ECRYPTO);
    gf_secagg_server_free(checked);
    size_t ll, ml;
    uint8_t *list = collect(&r, &ll), *m;
    cr_assert_eq(gf_secagg_client_share(r.c[0], list, ll, &m, &ml), GF_ECRYPTO);
    cr_assert(strstr(gf_errmsg(), "party 2") != NULL, "%s", gf_errmsg());
    free(list);
    tu_round_free(&r);
    f.ids[1] = keep;
    tu_fed_free(&f);
    tu_fed_free(&other);
}

Test(secagg_faults, one_certificate_at_two_indices_rejected)
{
    tu_fed f;
    tu_fed_make(&f, 4, "testfed");
    gf_secagg_params p = tu_params(4, 0, 0, 8, 13);
    gf_identity *keep = f.ids[2];
    f.ids[2] = f.ids[1]; /* site002 plays parties 2 and 3 */
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    adverts(&r);
    gf_secagg_server *checked;
    cr_assert_eq(gf_secagg_server_new(&p, f.trust, 1, &checked), GF_OK);
    cr_assert_eq(gf_secagg_server_add_advert(checked, r.msg[1], r.len[1]), GF_OK);
    cr_assert_eq(gf_secagg_server_add_advert(checked, r.msg[2], r.len[2]), GF_ECRYPTO);
    gf_secagg_server_free(checked);
    size_t ll, ml;
    uint8_t *list = collect(&r, &ll), *m;
    cr_assert_eq(gf_secagg_client_share(r.c[0], list, ll, &m, &ml), GF_ECRYPTO);
    cr_assert(strstr(gf_errmsg(), "two indices") != NULL, "%s", gf_errmsg());
    free(list);
    tu_round_free(&r);
    f.ids[2] = keep;
    tu_fed_free(&f);
}

/* Runs adverts and shares; returns with the server ready to route. */
static void to_routing(tu_round *r)
{
    adverts(r);
    size_t ll;
    uint8_t *list = collect(r, &ll);
    for (uint32_t i = 0; i < r->p.n; i++) {
        uint8_t *m;
        size_t ml;
        cr_assert_eq(gf_secagg_client_share(r->c[i], list, ll, &m, &ml), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_secagg_server_add_shares(r->s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    free(list);
    cr_assert_eq(gf_secagg_server_close_shares(r->s), GF_OK);
}

Test(secagg_faults, tampered_share_ciphertext_detected)
{
    tu_fed f;
    tu_fed_make(&f, 4, "testfed");
    gf_secagg_params p = tu_params(4, 0, 0, 8, 14);
    /* Each offset: GCM nonce, ciphertext, tag, and the routed sender index. */
    size_t offs[] = {GF_SA_HDR + 8 + 4 + 3, GF_SA_HDR + 8 + 4 + 12 + 40, GF_SA_HDR + 8 + 4 + GF_SA_SHARE_CT - 1,
                     GF_SA_HDR + 8 + GF_SA_SHARE_ENTRY};
    for (size_t o = 0; o < sizeof offs / sizeof *offs; o++) {
        tu_round r;
        tu_round_new(&r, &f, &p, NULL);
        to_routing(&r);
        uint8_t *routed, *m;
        size_t rl, ml;
        uint32_t x[8] = {0};
        cr_assert_eq(gf_secagg_server_routed(r.s, 1, &routed, &rl), GF_OK);
        routed[offs[o]] ^= o == 3 ? 0x01 : 0x80; /* o == 3: sender 2 -> 3 */
        gf_err e = gf_secagg_client_mask(r.c[0], routed, rl, x, &m, &ml);
        cr_assert(e == GF_ECRYPTO || e == GF_EFORMAT, "offset %zu: %d %s", offs[o], e, gf_errmsg());
        free(routed);
        /* The untampered copy passes for another party. */
        cr_assert_eq(gf_secagg_server_routed(r.s, 2, &routed, &rl), GF_OK);
        cr_assert_eq(gf_secagg_client_mask(r.c[1], routed, rl, x, &m, &ml), GF_OK, "%s", gf_errmsg());
        free(routed), free(m);
        tu_round_free(&r);
    }
    tu_fed_free(&f);
}

static uint8_t *craft_request(uint64_t round, const uint32_t *ids, uint32_t n_ids, const uint32_t *signers,
                              const uint8_t (*sigs)[64], uint32_t n_sig, size_t *len)
{
    uint8_t *msg;
    uint8_t *b = gf_sa_begin(GF_SA_UNMASK_REQ, round, 8 + 4 * (size_t)n_ids + (size_t)n_sig * GF_SA_SIG_ENTRY, &msg, len);
    cr_assert_not_null(b);
    gf_put_u32le(b, n_ids);
    for (uint32_t i = 0; i < n_ids; i++) gf_put_u32le(b + 4 + 4 * i, ids[i]);
    uint8_t *p = b + 4 + 4 * n_ids;
    gf_put_u32le(p, n_sig);
    for (uint32_t i = 0; i < n_sig; i++) gf_put_u32le(p + 4 + i * GF_SA_SIG_ENTRY, signers[i]), memcpy(p + 8 + i * GF_SA_SIG_ENTRY, sigs[i], 64);
    return msg;
}

Test(secagg_faults, both_shares_of_one_party_never_revealed)
{
    enum { N = 5 }; /* full graph, t = 3 */
    tu_fed f;
    tu_fed_make(&f, N, "testfed");
    gf_secagg_params p = tu_params(N, 0, 0, 8, 15);
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    to_routing(&r);
    uint32_t x[8] = {0};
    for (uint32_t i = 0; i < N; i++) {
        uint8_t *routed, *m;
        size_t rl, ml;
        cr_assert_eq(gf_secagg_server_routed(r.s, i + 1, &routed, &rl), GF_OK);
        cr_assert_eq(gf_secagg_client_mask(r.c[i], routed, rl, x, &m, &ml), GF_OK);
        cr_assert_eq(gf_secagg_server_add_masked(r.s, m, ml), GF_OK);
        free(routed), free(m);
    }
    uint8_t *surv, *req;
    size_t sl, ql;
    cr_assert_eq(gf_secagg_server_close_masked(r.s, &surv, &sl), GF_OK);
    uint8_t sigs[N][64];
    uint32_t signers[N];
    for (uint32_t i = 0; i < N; i++) {
        uint8_t *m;
        size_t ml;
        cr_assert_eq(gf_secagg_client_consistency(r.c[i], surv, sl, &m, &ml), GF_OK, "%s", gf_errmsg());
        memcpy(sigs[i], m + GF_SA_HDR + 4, 64);
        signers[i] = i + 1;
        cr_assert_eq(gf_secagg_server_add_consistency(r.s, m, ml), GF_OK);
        free(m);
    }
    cr_assert_eq(gf_secagg_server_close_consistency(r.s, &req, &ql), GF_OK);

    /* Party 1 answers the genuine request: b shares of all five survivors. */
    uint8_t *ans;
    size_t al;
    cr_assert_eq(gf_secagg_client_unmask(r.c[0], req, ql, &ans, &al), GF_OK, "%s", gf_errmsg());
    gf_sa_unmask um;
    cr_assert_eq(gf_sa_parse_unmask(ans, al, p.round_id, N, &um), GF_OK);
    cr_assert_eq(um.count, 5u);
    for (uint32_t i = 0; i < um.count; i++) cr_assert_eq(um.entries[i * GF_SA_UNMASK_ENTRY + 4], GF_SA_KIND_B);
    free(ans);
    /* A second request claiming party 2 dropped (to get its s share too) is refused. */
    uint32_t ids2[] = {1, 3, 4, 5};
    uint8_t sig2[4][64];
    for (int i = 0; i < 4; i++) memcpy(sig2[i], sigs[ids2[i] - 1], 64);
    uint8_t *bad = craft_request(p.round_id, ids2, 4, ids2, (const uint8_t(*)[64])sig2, 4, &ql);
    cr_assert_eq(gf_secagg_client_unmask(r.c[0], bad, ql, &ans, &al), GF_ESTATE);
    /* Party 2 has not answered yet: the same forged set is refused because it is not the set it signed. */
    cr_assert_eq(gf_secagg_client_unmask(r.c[1], bad, ql, &ans, &al), GF_ESTATE);
    cr_assert(strstr(gf_errmsg(), "survivor set") != NULL, "%s", gf_errmsg());
    free(bad);
    /* Party 3: the genuine set but only t-1 = 2 signatures. */
    uint32_t all[] = {1, 2, 3, 4, 5};
    bad = craft_request(p.round_id, all, 5, signers, sigs, 2, &ql);
    cr_assert_eq(gf_secagg_client_unmask(r.c[2], bad, ql, &ans, &al), GF_ESTATE);
    cr_assert(strstr(gf_errmsg(), "valid consistency signatures") != NULL, "%s", gf_errmsg());
    free(bad);
    /* Party 4: a corrupted signature. */
    sigs[0][7] ^= 1;
    bad = craft_request(p.round_id, all, 5, signers, sigs, N, &ql);
    cr_assert_eq(gf_secagg_client_unmask(r.c[3], bad, ql, &ans, &al), GF_ECRYPTO);
    free(bad);
    /* Party 5: one signature repeated three times does not count as three. */
    uint32_t rep[] = {2, 2, 2};
    uint8_t rsig[3][64];
    for (int i = 0; i < 3; i++) memcpy(rsig[i], sigs[1], 64);
    bad = craft_request(p.round_id, all, 5, rep, (const uint8_t(*)[64])rsig, 3, &ql);
    cr_assert_neq(gf_secagg_client_unmask(r.c[4], bad, ql, &ans, &al), GF_OK);
    free(bad);
    free(surv), free(req);
    tu_round_free(&r);
    tu_fed_free(&f);
}

/* p-value of a chi-square statistic (Wilson–Hilferty normal approximation). */
static double chi2_pvalue(double chi2, double dof)
{
    double z = (cbrt(chi2 / dof) - (1 - 2 / (9 * dof))) / sqrt(2 / (9 * dof));
    return 0.5 * erfc(z / sqrt(2));
}
static double byte_chi2(const uint8_t *b, size_t n)
{
    double cnt[256] = {0}, e = (double)n / 256, c = 0;
    for (size_t i = 0; i < n; i++) cnt[b[i]]++;
    for (int i = 0; i < 256; i++) c += (cnt[i] - e) * (cnt[i] - e) / e;
    return c;
}

Test(secagg_faults, masked_input_indistinguishable_from_uniform)
{
    enum { N = 3, L = 262144 }; /* 1 MiB of party 1's masked vector */
    tu_fed f;
    tu_fed_make(&f, N, "testfed");
    gf_secagg_params p = tu_params(N, 0, 0, L, 16);
    uint32_t **x = tu_inputs(&p, 77); /* small signed values: very non-uniform bytes */
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    to_routing(&r);
    uint8_t *routed, *m;
    size_t rl, ml;
    cr_assert_eq(gf_secagg_server_routed(r.s, 1, &routed, &rl), GF_OK);
    cr_assert_eq(gf_secagg_client_mask(r.c[0], routed, rl, x[0], &m, &ml), GF_OK);
    cr_assert_eq(ml, (size_t)GF_SA_HDR + 8 + 4 * L);
    const uint8_t *y = m + GF_SA_HDR + 8;
    double pv = chi2_pvalue(byte_chi2(y, 4 * L), 255);
    cr_assert_gt(pv, 1e-9, "masked bytes fail uniformity: p = %g", pv);
    /* Negative controls: the unmasked input, and a weak mask (top byte unmasked), are rejected. */
    double p_plain = chi2_pvalue(byte_chi2((const uint8_t *)x[0], 4 * L), 255);
    cr_assert_lt(p_plain, 1e-9, "the test cannot tell an unmasked vector: p = %g", p_plain);
    uint32_t *weak = malloc(4 * L);
    for (uint32_t i = 0; i < L; i++) {
        uint32_t yi;
        memcpy(&yi, y + 4 * i, 4);
        weak[i] = x[0][i] + ((yi - x[0][i]) & 0x00ffffffu);
    }
    double p_weak = chi2_pvalue(byte_chi2((const uint8_t *)weak, 4 * L), 255);
    cr_assert_lt(p_weak, 1e-9, "the test cannot tell a weakly masked vector: p = %g", p_weak);
    free(weak), free(routed), free(m);
    tu_inputs_free(x, N);
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg_faults, malformed_messages_refused)
{
    tu_fed f;
    tu_fed_make(&f, 3, "testfed");
    gf_secagg_params p = tu_params(3, 0, 0, 8, 17);
    tu_round r;
    tu_round_new(&r, &f, &p, NULL);
    adverts(&r);
    uint8_t *m = r.msg[0];
    size_t len = r.len[0];
    gf_sa_advert a;
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_OK);
    cr_assert_eq(gf_sa_parse_advert(m, len - 1, p.round_id, p.n, &a), GF_EFORMAT);           /* truncated */
    cr_assert_eq(gf_sa_parse_advert(m, 10, p.round_id, p.n, &a), GF_EFORMAT);                /* header cut */
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id + 1, p.n, &a), GF_ESTATE);            /* other round */
    m[0] = 'X';
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "magic") != NULL);
    m[0] = 'G', m[4] = GF_SA_VERSION + 1;
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "version") != NULL);
    m[4] = 1; /* a node of before the share commitments */
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "version") != NULL);
    m[4] = GF_SA_VERSION, m[5] = GF_SA_MASKED;
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "type") != NULL);
    m[5] = 200;
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    m[5] = GF_SA_ADVERT;
    uint8_t c0 = m[GF_SA_HDR + 68], c1 = m[GF_SA_HDR + 69];
    m[GF_SA_HDR + 68] = 0x89, m[GF_SA_HDR + 69] = 0x13; /* 5001 > GF_CERT_DER_MAX */
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "certificate length") != NULL, "%s", gf_errmsg());
    m[GF_SA_HDR + 68] = c0, m[GF_SA_HDR + 69] = c1;
    gf_put_u32le(m + GF_SA_HDR, 4); /* party 4 of 3 */
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);
    gf_put_u32le(m + 16, (uint32_t)(len - GF_SA_HDR + 1)); /* body length lies */
    cr_assert_eq(gf_sa_parse_advert(m, len, p.round_id, p.n, &a), GF_EFORMAT);

    /* Masked input of the wrong length, and a count over its cap. */
    uint8_t *mm;
    size_t ml;
    uint8_t *b = gf_sa_begin(GF_SA_MASKED, p.round_id, 8 + 4 * 8, &mm, &ml);
    memset(b, 0, 8 + 32);
    gf_put_u32le(b, 1), gf_put_u32le(b + 4, 8);
    gf_sa_masked mk;
    cr_assert_eq(gf_sa_parse_masked(mm, ml, p.round_id, p.n, 8, &mk), GF_OK);
    cr_assert_eq(gf_sa_parse_masked(mm, ml, p.round_id, p.n, 9, &mk), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "vector length") != NULL);
    gf_put_u32le(b + 4, 9);
    cr_assert_eq(gf_sa_parse_masked(mm, ml, p.round_id, p.n, 9, &mk), GF_EFORMAT);
    cr_assert_eq(gf_secagg_server_add_masked(r.s, mm, ml), GF_ESTATE); /* wrong phase */
    free(mm);
    b = gf_sa_begin(GF_SA_SHARES, p.round_id, 8, &mm, &ml);
    gf_put_u32le(b, 1), gf_put_u32le(b + 4, 3); /* 3 entries > n-1, and no bytes for them */
    gf_sa_shares sh;
    cr_assert_eq(gf_sa_parse_shares(mm, ml, GF_SA_SHARES, p.round_id, p.n, &sh), GF_EFORMAT);
    free(mm);
    b = gf_sa_begin(GF_SA_SURVIVORS, p.round_id, 12, &mm, &ml);
    gf_put_u32le(b, 2), gf_put_u32le(b + 4, 3), gf_put_u32le(b + 8, 2); /* not ascending */
    gf_sa_survivors sv;
    cr_assert_eq(gf_sa_parse_survivors(mm, ml, GF_SA_SURVIVORS, p.round_id, p.n, &sv), GF_EFORMAT);
    gf_put_u32le(b + 4, 2), gf_put_u32le(b + 8, 3);
    cr_assert_eq(gf_sa_parse_survivors(mm, ml, GF_SA_SURVIVORS, p.round_id, p.n, &sv), GF_OK);
    free(mm);
    b = gf_sa_begin(GF_SA_UNMASK, p.round_id, 8 + GF_SA_UNMASK_ENTRY, &mm, &ml);
    memset(b, 0, 8 + GF_SA_UNMASK_ENTRY);
    gf_put_u32le(b, 1), gf_put_u32le(b + 4, 1), gf_put_u32le(b + 8, 2);
    b[12] = 7; /* unknown kind */
    gf_sa_unmask um;
    cr_assert_eq(gf_sa_parse_unmask(mm, ml, p.round_id, p.n, &um), GF_EFORMAT);
    b[12] = GF_SA_KIND_S;
    cr_assert_eq(gf_sa_parse_unmask(mm, ml, p.round_id, p.n, &um), GF_OK);
    free(mm);
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg_faults, fresh_keys_every_round_and_own_advert_checked)
{
    tu_fed f;
    tu_fed_make(&f, 3, "testfed");
    gf_secagg_params p1 = tu_params(3, 0, 0, 8, 30), p2 = tu_params(3, 0, 0, 8, 31);
    tu_round r1, r2;
    tu_round_new(&r1, &f, &p1, NULL);
    tu_round_new(&r2, &f, &p2, NULL);
    adverts(&r1);
    adverts(&r2);
    /* Same identity, two rounds: different c_pk and s_pk; an advert of round 30 is no advert of round 31. */
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert(memcmp(r1.msg[i] + GF_SA_HDR + 4, r2.msg[i] + GF_SA_HDR + 4, 64) != 0);
        cr_assert_eq(gf_secagg_server_add_advert(r2.s, r1.msg[i], r1.len[i]), GF_ESTATE);
    }
    /* A replayed advert re-labelled with the new round id fails its signature (it binds the context). */
    gf_secagg_server *checked;
    cr_assert_eq(gf_secagg_server_new(&p2, f.trust, 1, &checked), GF_OK);
    uint8_t *old = malloc(r1.len[1]);
    memcpy(old, r1.msg[1], r1.len[1]);
    gf_put_u64le(old + 8, p2.round_id);
    cr_assert_eq(gf_secagg_server_add_advert(checked, old, r1.len[1]), GF_ECRYPTO);
    free(old);
    gf_secagg_server_free(checked);
    /* The server swaps party 1's own keys in the list: party 1 notices. */
    r1.msg[0][GF_SA_HDR + 10] ^= 1;
    size_t ll, ml;
    uint8_t *list = collect(&r1, &ll), *m;
    cr_assert_eq(gf_secagg_client_share(r1.c[0], list, ll, &m, &ml), GF_ECRYPTO);
    cr_assert(strstr(gf_errmsg(), "my advert") != NULL, "%s", gf_errmsg());
    free(list);
    tu_round_free(&r1);
    tu_round_free(&r2);
    tu_fed_free(&f);
}

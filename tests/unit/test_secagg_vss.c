/* Verifiable sharing in secure aggregation: a holder that reveals a forged
 * share (b of a survivor, s of a dropped party) is named and its shares are
 * ignored, the sum staying exact while t verified shares remain; too few left
 * fails naming the forgers; a dealer whose shares rebuild another secret than
 * its commitment is named; a holder given a share that does not match its
 * dealer's commitment keeps it out of its answer and is not blamed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyagree.h"
#include "crypto/secagg.h"
#include "crypto/secagg_msg.h"
#include "tests/unit/secagg_testutil.h"

/* What a modified party does in a round driven by hand. */
typedef struct {
    uint32_t forge_b[4], forge_s[4]; /* parties (0-terminated) forging every b / s share they reveal */
    uint32_t drop_mask;              /* party that shares but never sends a masked input (0: none) */
    uint32_t lie_dealer, lie_holder; /* dealer whose commitment to holder's b share is wrong (0: none) */
} misbehaviour;

static int listed(const uint32_t *l, uint32_t u)
{
    for (int i = 0; i < 4 && l[i]; i++)
        if (l[i] == u) return 1;
    return 0;
}

/* Adds 2^16 (mod p) to chunk 0 of every share of the given kind in an UNMASK message (not 1: an X25519
 * key rebuilt 1 off in its lowest bits is clamped back to the same scalar, and the forgery would be moot). */
static void forge(uint8_t *m, uint8_t kind)
{
    uint32_t cnt = gf_get_u32le(m + GF_SA_HDR + 4);
    for (uint32_t i = 0; i < cnt; i++) {
        uint8_t *e = m + GF_SA_HDR + 8 + (size_t)i * GF_SA_UNMASK_ENTRY;
        if (e[4] != kind) continue;
        uint64_t y = gf_get_u64le(e + 5);
        gf_put_u64le(e + 5, (y + 0x10000) % GF_SHAMIR_P);
    }
}

/* One round with the full graph, every phase by hand; returns finish's result
 * and the sum in *sum, the plain sum of the survivors' inputs in *want. */
static gf_err run_round(tu_fed *f, uint32_t n, const misbehaviour *mb, uint32_t *sum, uint32_t *want,
                        gf_secagg_server **srv_out, tu_round *r)
{
    enum { L = 300 };
    gf_secagg_params p = tu_params(n, 0, 0, L, 31);
    tu_round_new(r, f, &p, NULL);
    uint32_t **x = tu_inputs(&p, 77);
    uint8_t *list, *m, *bc;
    size_t ll, ml, bl;
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(gf_secagg_client_advertise(r->c[i], &m, &ml), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_secagg_server_add_advert(r->s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    cr_assert_eq(gf_secagg_server_close_adverts(r->s, &list, &ll), GF_OK);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(gf_secagg_client_share(r->c[i], list, ll, &m, &ml), GF_OK, "%s", gf_errmsg());
        if (mb->lie_dealer == i + 1) { /* its commitment to the b share of lie_holder: one bit off */
            gf_sa_shares sh;
            cr_assert_eq(gf_sa_parse_shares(m, ml, GF_SA_SHARES, p.round_id, n, &sh), GF_OK);
            uint32_t j = 0;
            while (gf_sa_shares_peer(&sh, j) != mb->lie_holder) j++;
            m[gf_sa_shares_commit(&sh, j) - m + GF_SA_COMMIT] ^= 0x01;
        }
        cr_assert_eq(gf_secagg_server_add_shares(r->s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    free(list);
    cr_assert_eq(gf_secagg_server_close_shares(r->s), GF_OK);
    memset(want, 0, (size_t)L * 4);
    for (uint32_t i = 0; i < n; i++) {
        if (mb->drop_mask == i + 1) continue;
        uint8_t *routed;
        size_t rl;
        cr_assert_eq(gf_secagg_server_routed(r->s, i + 1, &routed, &rl), GF_OK);
        cr_assert_eq(gf_secagg_client_mask(r->c[i], routed, rl, x[i], &m, &ml), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_secagg_server_add_masked(r->s, m, ml), GF_OK, "%s", gf_errmsg());
        for (uint32_t j = 0; j < L; j++) want[j] += x[i][j];
        free(routed), free(m);
    }
    cr_assert_eq(gf_secagg_server_close_masked(r->s, &bc, &bl), GF_OK);
    for (uint32_t i = 0; i < n; i++) {
        if (!gf_secagg_server_in_u3(r->s, i + 1)) continue;
        cr_assert_eq(gf_secagg_client_consistency(r->c[i], bc, bl, &m, &ml), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_secagg_server_add_consistency(r->s, m, ml), GF_OK);
        free(m);
    }
    free(bc);
    cr_assert_eq(gf_secagg_server_close_consistency(r->s, &bc, &bl), GF_OK);
    for (uint32_t i = 0; i < n; i++) {
        if (!gf_secagg_server_in_u3(r->s, i + 1)) continue;
        cr_assert_eq(gf_secagg_client_unmask(r->c[i], bc, bl, &m, &ml), GF_OK, "%s", gf_errmsg());
        if (listed(mb->forge_b, i + 1)) forge(m, GF_SA_KIND_B);
        if (listed(mb->forge_s, i + 1)) forge(m, GF_SA_KIND_S);
        /* A forger's message is accepted (it is named, not refused: refusing would only make it a dropout). */
        cr_assert_eq(gf_secagg_server_add_unmask(r->s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    free(bc);
    tu_inputs_free(x, n);
    *srv_out = r->s;
    return gf_secagg_server_finish(r->s, sum);
}

static uint32_t cheaters(gf_secagg_server *s, gf_secagg_cheat *c)
{
    return gf_secagg_server_cheaters(s, c, 8);
}

Test(secagg_vss, forged_b_share_ignored_holder_named_sum_exact)
{
    tu_fed f;
    tu_fed_make(&f, 5, "testfed");
    misbehaviour mb = {.forge_b = {2}};
    uint32_t sum[300], want[300];
    gf_secagg_server *s;
    tu_round r;
    gf_err e = run_round(&f, 5, &mb, sum, want, &s, &r); /* full graph, t = 3 of 5 holders: 4 honest remain */
    cr_assert_eq(e, GF_OK, "%s", gf_errmsg());
    cr_assert_arr_eq(sum, want, sizeof sum, "a forged b share moved the sum");
    gf_secagg_cheat c[8];
    cr_assert_eq(cheaters(s, c), 1u);
    cr_assert_eq(c[0].party, 2u);
    cr_assert_eq(c[0].check, GF_SA_CHEAT_SHARE);
    cr_assert_eq(c[0].secret, 'b');
    cr_assert_eq(c[0].about, 1u, "first forged share: party 1's");
    cr_assert_eq(c[0].count, 5u, "every b share it revealed was forged");
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg_vss, forged_s_share_of_dropped_party_ignored_holder_named)
{
    tu_fed f;
    tu_fed_make(&f, 5, "testfed");
    misbehaviour mb = {.forge_s = {3}, .drop_mask = 5}; /* 5 shares, then drops: its mask key is rebuilt */
    uint32_t sum[300], want[300];
    gf_secagg_server *s;
    tu_round r;
    gf_err e = run_round(&f, 5, &mb, sum, want, &s, &r);
    cr_assert_eq(e, GF_OK, "%s", gf_errmsg());
    cr_assert_arr_eq(sum, want, sizeof sum, "a forged s share moved the sum");
    gf_secagg_cheat c[8];
    cr_assert_eq(cheaters(s, c), 1u);
    cr_assert_eq(c[0].party, 3u);
    cr_assert_eq(c[0].check, GF_SA_CHEAT_SHARE);
    cr_assert_eq(c[0].secret, 's');
    cr_assert_eq(c[0].about, 5u);
    cr_assert_eq(c[0].count, 1u);
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg_vss, too_few_verified_shares_fails_naming_the_forgers)
{
    tu_fed f;
    tu_fed_make(&f, 4, "testfed");
    misbehaviour mb = {.forge_b = {2, 3}}; /* full graph of 4, t = 3: two forgers leave 2 verified shares */
    uint32_t sum[300], want[300];
    gf_secagg_server *s;
    tu_round r;
    gf_err e = run_round(&f, 4, &mb, sum, want, &s, &r);
    cr_assert_eq(e, GF_ESTATE, "finish: %d %s", e, gf_errmsg());
    cr_assert(strstr(gf_errmsg(), "2 of 4 verified shares") != NULL, "%s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), "party 2 revealed") != NULL && strstr(gf_errmsg(), "party 3 revealed") != NULL,
              "%s", gf_errmsg());
    gf_secagg_cheat c[8];
    cr_assert_eq(cheaters(s, c), 2u);
    cr_assert(c[0].party == 2 && c[1].party == 3 && c[0].check == GF_SA_CHEAT_SHARE && c[1].check == GF_SA_CHEAT_SHARE);
    cr_assert_eq(gf_secagg_server_finish(s, sum), GF_ESTATE, "an abandoned round stays abandoned");
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg_vss, holder_given_a_share_off_its_commitment_omits_it_and_is_not_blamed)
{
    tu_fed f;
    tu_fed_make(&f, 5, "testfed");
    misbehaviour mb = {.lie_dealer = 1, .lie_holder = 2};
    uint32_t sum[300], want[300];
    gf_secagg_server *s;
    tu_round r;
    gf_err e = run_round(&f, 5, &mb, sum, want, &s, &r);
    cr_assert_eq(e, GF_OK, "%s", gf_errmsg());
    cr_assert_arr_eq(sum, want, sizeof sum);
    gf_secagg_cheat c[8];
    cr_assert_eq(cheaters(s, c), 0u, "holder 2 revealed a share its dealer committed to otherwise: framed");
    tu_round_free(&r);
    tu_fed_free(&f);
}

/* Through the simulator's forging modes, on the sparse SecAgg+ graph too. */
static void sim_case(gf_secagg_params p, const gf_secagg_forge *fg, const gf_secagg_drop *drops, gf_err want_e,
                     uint32_t want_cheater, gf_secagg_check want_check, const char *want_msg)
{
    const uint32_t n = p.n;
    tu_fed f;
    tu_fed_make(&f, n, "testfed");
    uint32_t **x = tu_inputs(&p, 9), sum[257], want[257];
    uint8_t keep[16];
    for (uint32_t i = 0; i < n; i++) keep[i] = !drops || !drops[i];
    gf_secagg_sim_stats st;
    gf_err e = gf_secagg_sim_run_forged(&p, (const gf_identity *const *)f.ids, f.trust, (const uint32_t *const *)x, drops,
                                        fg, 2, sum, &st);
    cr_assert_eq(e, want_e, "n %u: %d %s", n, e, gf_errmsg());
    if (want_msg) cr_assert(strstr(gf_errmsg(), want_msg) != NULL, "%s", gf_errmsg());
    if (e == GF_OK) {
        tu_plain_sum(x, keep, n, 257, want);
        cr_assert_arr_eq(sum, want, sizeof sum);
    }
    cr_assert_eq(st.n_cheaters, 1u, "cheater %u expected", want_cheater);
    cr_assert_eq(st.cheaters[0].party, want_cheater);
    cr_assert_eq(st.cheaters[0].check, want_check);
    tu_inputs_free(x, n);
    tu_fed_free(&f);
}

Test(secagg_vss, simulator_forgers_on_the_sparse_graph_named)
{
    /* n = 12, k = 6, t = 4 of 7 holders. */
    gf_secagg_params p = tu_params(12, 6, 4, 257, 41);
    gf_secagg_forge fg[12] = {0};
    fg[4] = GF_SA_FORGE_B;
    sim_case(p, fg, NULL, GF_OK, 5, GF_SA_CHEAT_SHARE, NULL);
    /* Party 7 drops after sharing; a neighbour of it (one of its holders) forges the s share it reveals
     * (the graph is fixed by the round's nonce: the same parameters go to the simulator). */
    gf_secagg_graph *g;
    uint32_t nb[6];
    cr_assert_eq(gf_secagg_graph_new(&p, &g), GF_OK);
    gf_secagg_graph_neighbours(g, 7, nb);
    gf_secagg_graph_free(g);
    gf_secagg_forge fs[12] = {0};
    gf_secagg_drop d[12] = {0};
    d[6] = GF_SA_DROP_MASK;
    fs[nb[0] - 1] = GF_SA_FORGE_S;
    sim_case(p, fs, d, GF_OK, nb[0], GF_SA_CHEAT_SHARE, NULL);
}

Test(secagg_vss, dealer_whose_shares_rebuild_another_secret_named)
{
    /* Party 3's commitment to b is not the b it shared: its verified shares rebuild a b that does not match. */
    gf_secagg_forge fg[5] = {0};
    fg[2] = GF_SA_FORGE_COMMIT;
    sim_case(tu_params(5, 0, 0, 257, 41), fg, NULL, GF_ECRYPTO, 3, GF_SA_CHEAT_DEALER, "party 3 dealt b shares");
}

/* Secure aggregation end to end: the unmasked sum equals the plain sum of the
 * encoded updates exactly, with dropouts at every phase; too few survivors
 * abort cleanly; the graph is a proper k-regular ring. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secagg.h"
#include "tests/unit/secagg_testutil.h"

static void run_exact(uint32_t n, uint32_t k, uint32_t t, uint32_t L, const gf_secagg_drop *drops)
{
    tu_fed f;
    tu_fed_make(&f, n, "testfed");
    gf_secagg_params p = tu_params(n, k, t, L, 7);
    uint32_t **x = tu_inputs(&p, 100 + n);
    uint32_t *sum = calloc(L, 4), *want = calloc(L, 4);
    uint8_t *keep = calloc(n, 1);
    for (uint32_t i = 0; i < n; i++) keep[i] = !drops || drops[i] == GF_SA_DROP_NONE || drops[i] >= GF_SA_DROP_CONSIST;
    gf_secagg_sim_stats st;
    gf_err e = gf_secagg_sim_run(&p, (const gf_identity *const *)f.ids, f.trust, (const uint32_t *const *)x, drops, 2, sum, &st);
    cr_assert_eq(e, GF_OK, "n %u k %u t %u: %s", n, p.k, p.t, gf_errmsg());
    tu_plain_sum(x, keep, n, L, want);
    cr_assert_arr_eq(sum, want, (size_t)L * 4, "n %u: unmasked sum differs from the plain sum", n);
    uint32_t u3 = 0;
    for (uint32_t i = 0; i < n; i++) u3 += keep[i];
    cr_assert_eq(st.u3, u3);
    /* Upload of the masked vector: exactly 4 bytes per parameter plus the 28-byte header. */
    cr_assert_eq(st.up_bytes_mean[2], 4.0 * L + 28);
    tu_inputs_free(x, n);
    free(sum), free(want), free(keep);
    tu_fed_free(&f);
}

Test(secagg, exact_sum_2_parties) { run_exact(2, 0, 0, 1000, NULL); }
Test(secagg, exact_sum_3_parties) { run_exact(3, 0, 0, 1001, NULL); }
Test(secagg, exact_sum_5_parties) { run_exact(5, 0, 0, 4099, NULL); }
Test(secagg, exact_sum_10_parties) { run_exact(10, 0, 0, 5000, NULL); }
Test(secagg, exact_sum_50_parties_secaggplus) { run_exact(50, 0, 0, 3000, NULL); }
Test(secagg, exact_sum_10_parties_sparse_k4) { run_exact(10, 4, 3, 777, NULL); }

/* n - t dropouts at each single phase, then mixed over all phases. */
Test(secagg, dropouts_at_every_phase_full_graph)
{
    const uint32_t n = 10; /* full graph, t = 6: up to 4 dropouts */
    for (int ph = GF_SA_DROP_ADVERT; ph <= GF_SA_DROP_UNMASK; ph++) {
        gf_secagg_drop d[10] = {0};
        d[0] = d[3] = d[4] = d[9] = (gf_secagg_drop)ph;
        run_exact(n, 0, 0, 513, d);
    }
    gf_secagg_drop mixed[10] = {GF_SA_DROP_SHARE, 0, GF_SA_DROP_MASK, 0, GF_SA_DROP_UNMASK, 0, 0, GF_SA_DROP_CONSIST};
    run_exact(n, 0, 0, 513, mixed);
}

Test(secagg, dropouts_sparse_graph)
{
    /* n = 12, k = 6, t = 4 of 7 holders: three dropouts anywhere leave every holder set >= 4. */
    gf_secagg_drop d[12] = {0};
    d[1] = GF_SA_DROP_MASK, d[5] = GF_SA_DROP_MASK, d[8] = GF_SA_DROP_UNMASK;
    run_exact(12, 6, 4, 300, d);
    gf_secagg_drop e[12] = {0};
    e[2] = GF_SA_DROP_ADVERT, e[7] = GF_SA_DROP_SHARE, e[11] = GF_SA_DROP_CONSIST;
    run_exact(12, 6, 4, 300, e);
}

static gf_err run_expect_fail(uint32_t n, const gf_secagg_drop *drops)
{
    tu_fed f;
    tu_fed_make(&f, n, "testfed");
    gf_secagg_params p = tu_params(n, 0, 0, 64, 9);
    uint32_t **x = tu_inputs(&p, 5);
    uint32_t sum[64];
    gf_err e = gf_secagg_sim_run(&p, (const gf_identity *const *)f.ids, f.trust, (const uint32_t *const *)x, drops, 1, sum, NULL);
    tu_inputs_free(x, n);
    tu_fed_free(&f);
    return e;
}

Test(secagg, fewer_survivors_than_threshold_abort_cleanly)
{
    /* n = 5, t = 3: three dropouts in any phase leave too few. */
    for (int ph = GF_SA_DROP_ADVERT; ph <= GF_SA_DROP_UNMASK; ph++) {
        gf_secagg_drop d[5] = {0};
        d[1] = d[2] = d[4] = (gf_secagg_drop)ph;
        gf_err e = run_expect_fail(5, d);
        cr_assert_eq(e, GF_ESTATE, "drop at phase %d: %s", ph, gf_errmsg());
        cr_assert(strstr(gf_errmsg(), "threshold") != NULL, "%s", gf_errmsg());
    }
}

Test(secagg, late_or_duplicate_masked_input_refused)
{
    tu_fed f;
    tu_fed_make(&f, 4, "testfed");
    gf_secagg_params p = tu_params(4, 0, 0, 16, 3);
    tu_round r;
    tu_round_new(&r, &f, &p, f.trust);
    uint8_t *m, *list, *routed, *masked[4] = {0}, *surv;
    size_t ml, ll, rl, mll[4], sl;
    uint32_t x[16] = {0};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(gf_secagg_client_advertise(r.c[i], &m, &ml), GF_OK);
        cr_assert_eq(gf_secagg_server_add_advert(r.s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    cr_assert_eq(gf_secagg_server_close_adverts(r.s, &list, &ll), GF_OK);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(gf_secagg_client_share(r.c[i], list, ll, &m, &ml), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_secagg_server_add_shares(r.s, m, ml), GF_OK, "%s", gf_errmsg());
        free(m);
    }
    cr_assert_eq(gf_secagg_server_close_shares(r.s), GF_OK);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(gf_secagg_server_routed(r.s, (uint32_t)i + 1, &routed, &rl), GF_OK);
        cr_assert_eq(gf_secagg_client_mask(r.c[i], routed, rl, x, &masked[i], &mll[i]), GF_OK, "%s", gf_errmsg());
        free(routed);
    }
    for (int i = 0; i < 3; i++) cr_assert_eq(gf_secagg_server_add_masked(r.s, masked[i], mll[i]), GF_OK);
    cr_assert_eq(gf_secagg_server_add_masked(r.s, masked[0], mll[0]), GF_ESTATE); /* twice */
    cr_assert_eq(gf_secagg_server_close_masked(r.s, &surv, &sl), GF_OK);
    cr_assert_eq(gf_secagg_server_add_masked(r.s, masked[3], mll[3]), GF_ESTATE); /* late */
    cr_assert(strstr(gf_errmsg(), "after the survivor set") != NULL, "%s", gf_errmsg());
    cr_assert_eq(gf_secagg_server_u3_count(r.s), 3u);
    /* A client asked out of order refuses. */
    cr_assert_eq(gf_secagg_client_advertise(r.c[0], &m, &ml), GF_ESTATE);
    for (int i = 0; i < 4; i++) free(masked[i]);
    free(list), free(surv);
    tu_round_free(&r);
    tu_fed_free(&f);
}

Test(secagg, graph_is_k_regular_symmetric_and_nonce_bound)
{
    gf_secagg_params p = tu_params(101, 20, 14, 8, 1);
    gf_secagg_graph *g, *h;
    cr_assert_eq(gf_secagg_graph_new(&p, &g), GF_OK);
    uint32_t nb[20];
    for (uint32_t u = 1; u <= p.n; u++) {
        gf_secagg_graph_neighbours(g, u, nb);
        uint32_t deg = 0;
        for (uint32_t v = 1; v <= p.n; v++) {
            cr_assert_eq(gf_secagg_graph_adjacent(g, u, v), gf_secagg_graph_adjacent(g, v, u));
            deg += gf_secagg_graph_adjacent(g, u, v);
        }
        cr_assert_eq(deg, 20u);
        for (int i = 0; i < 20; i++) cr_assert(gf_secagg_graph_adjacent(g, u, nb[i]));
        for (int i = 1; i < 20; i++) cr_assert_lt(nb[i - 1], nb[i]);
    }
    p.nonce[0] ^= 1;
    cr_assert_eq(gf_secagg_graph_new(&p, &h), GF_OK);
    int diff = 0;
    for (uint32_t v = 2; v <= p.n; v++) diff += gf_secagg_graph_adjacent(g, 1, v) != gf_secagg_graph_adjacent(h, 1, v);
    cr_assert_gt(diff, 0, "another nonce, another graph");
    gf_secagg_graph_free(g);
    gf_secagg_graph_free(h);
    /* Bad parameters. */
    gf_secagg_params q = tu_params(10, 0, 0, 8, 1);
    q.k = 5;
    cr_assert_eq(gf_secagg_params_check(&q), GF_EINVAL); /* odd sparse k */
    q.k = 9, q.t = 5;
    cr_assert_eq(gf_secagg_params_check(&q), GF_EINVAL); /* not a majority of 10 */
    q.t = 11;
    cr_assert_eq(gf_secagg_params_check(&q), GF_EINVAL);
    q.t = 6, q.scale = 1e9;
    cr_assert_eq(gf_secagg_params_check(&q), GF_ERANGE); /* 10 × 1e9 ≥ 2^31: overflow guard */
}

Test(secagg, bench_cli_checks_and_reports_exact_sum)
{
    const char *d = tu_dir();
    cr_assert_eq(tu_sh("TMPDIR=%s %s bench secagg --sites 4 --params 1000 --dropout 0.25 > %s/out.txt 2>%s/err.txt",
                       d, tu_bin(), d, d), 0);
    cr_assert_eq(tu_sh("tail -n 1 %s/out.txt | grep -qx 'sum_exact=1'", d), 0);
    cr_assert_eq(tu_sh("grep -q 'survivors U1=4 U2=4 U3=3' %s/out.txt", d), 0);
    cr_assert_eq(tu_sh("grep -q 'masked_vector=4028 ' %s/out.txt", d), 0);
    /* Usage errors exit 2; a refused configuration (overflow guard) too. */
    cr_assert_eq(tu_sh("%s bench secagg --sites 4 > /dev/null 2>&1", tu_bin()), 2);
    cr_assert_eq(tu_sh("%s bench secagg --sites 1 --params 10 > /dev/null 2>&1", tu_bin()), 2);
    cr_assert_eq(tu_sh("%s bench secagg --sites 10 --params 10 --neighbours 5 > /dev/null 2>&1", tu_bin()), 2);
}

Test(secagg, sparse_neighbourhood_short_of_shares_aborts_cleanly)
{
    /* n = 12, k = 4, t = 3 of 5 holders: if three of party 1's four neighbours sign but never
     * answer the unmask request, its self-mask seed has only 2 shares: the round is abandoned
     * even though 9 of 12 parties answered. */
    const uint32_t n = 12;
    tu_fed f;
    tu_fed_make(&f, n, "testfed");
    gf_secagg_params p = tu_params(n, 4, 3, 32, 21);
    gf_secagg_graph *g;
    cr_assert_eq(gf_secagg_graph_new(&p, &g), GF_OK);
    uint32_t nb[4];
    gf_secagg_graph_neighbours(g, 1, nb);
    gf_secagg_graph_free(g);
    gf_secagg_drop d[12] = {0};
    for (int i = 0; i < 3; i++) d[nb[i] - 1] = GF_SA_DROP_UNMASK;
    uint32_t **x = tu_inputs(&p, 3), sum[32];
    gf_err e = gf_secagg_sim_run(&p, (const gf_identity *const *)f.ids, f.trust, (const uint32_t *const *)x, d, 1, sum, NULL);
    cr_assert_eq(e, GF_ESTATE, "%s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), "shares of party 1") != NULL, "%s", gf_errmsg());
    tu_inputs_free(x, n);
    tu_fed_free(&f);
}

/* In-process simulator: n clients and a server run one round, with a dropout
 * schedule; timings and upload sizes per phase for `gaitfed bench secagg`. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keyagree.h"
#include "crypto/secagg.h"
#include "crypto/secagg_msg.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    double t[GF_SA_PHASES];
    size_t up[GF_SA_PHASES];
    int ran[GF_SA_PHASES];
} party_stats;

/* A client phase that fails (anything but a dropout) fails the simulation:
 * honest clients never refuse an honest server. */
#define CLIENT_PHASE(ph, call)                                                                      \
    do {                                                                                            \
        double t0_ = now_s();                                                                       \
        e = (call);                                                                                 \
        ps[i].t[ph] = now_s() - t0_;                                                                \
        ps[i].ran[ph] = 1;                                                                          \
        ps[i].up[ph] = e == GF_OK ? mlen : 0;                                                       \
    } while (0)

/* A forging holder: adds 2^16 (mod p) to chunk 0 of every revealed share of the given kind (2^16: a mask
 * key rebuilt off by less than 8 would be clamped back to the same X25519 scalar). */
static void forge_unmask(uint8_t *msg, size_t len, uint8_t kind)
{
    if (len < GF_SA_HDR + 8) return;
    uint32_t cnt = gf_sa_u32(msg + GF_SA_HDR + 4);
    for (uint32_t i = 0; i < cnt && GF_SA_HDR + 8 + (size_t)(i + 1) * GF_SA_UNMASK_ENTRY <= len; i++) {
        uint8_t *e = msg + GF_SA_HDR + 8 + (size_t)i * GF_SA_UNMASK_ENTRY;
        if (e[4] != kind) continue;
        uint64_t y = gf_get_u64le(e + 5);
        gf_put_u64le(e + 5, (y + 0x10000) % GF_SHAMIR_P);
    }
}

gf_err gf_secagg_sim_run(const gf_secagg_params *p, const gf_identity *const *ids, const gf_trust *trust,
                         const uint32_t *const *inputs, const gf_secagg_drop *drops, int n_threads, uint32_t *sum,
                         gf_secagg_sim_stats *st)
{
    return gf_secagg_sim_run_forged(p, ids, trust, inputs, drops, NULL, n_threads, sum, st);
}

gf_err gf_secagg_sim_run_forged(const gf_secagg_params *p, const gf_identity *const *ids, const gf_trust *trust,
                                const uint32_t *const *inputs, const gf_secagg_drop *drops,
                                const gf_secagg_forge *forges, int n_threads, uint32_t *sum, gf_secagg_sim_stats *st)
{
    GF_TRY(gf_secagg_params_check(p));
    const uint32_t n = p->n;
    gf_secagg_client **c = calloc(n, sizeof *c);
    party_stats *ps = calloc(n, sizeof *ps);
    if (!c || !ps) {
        free(c), free(ps);
        return gf_fail(GF_ENOMEM, "secagg sim: out of memory");
    }
    gf_secagg_server *srv = NULL;
    gf_err e = gf_secagg_server_new(p, trust, n_threads, &srv);
    uint8_t *msg = NULL, *bcast = NULL;
    size_t mlen = 0, blen = 0;
    double srv_collect = 0, srv_sum = 0, srv_unmask = 0, t0;
#define DROP(i, ph) (drops && drops[i] != GF_SA_DROP_NONE && drops[i] <= (ph))
    for (uint32_t i = 0; i < n && e == GF_OK; i++) e = gf_secagg_client_new(p, i + 1, ids[i], trust, &c[i]);
    /* 0: advertise */
    for (uint32_t i = 0; i < n && e == GF_OK; i++) {
        if (DROP(i, GF_SA_DROP_ADVERT)) continue;
        CLIENT_PHASE(0, gf_secagg_client_advertise(c[i], &msg, &mlen));
        t0 = now_s();
        if (e == GF_OK) e = gf_secagg_server_add_advert(srv, msg, mlen);
        srv_collect += now_s() - t0;
        free(msg), msg = NULL;
    }
    t0 = now_s();
    if (e == GF_OK) e = gf_secagg_server_close_adverts(srv, &bcast, &blen);
    srv_collect += now_s() - t0;
    /* 1: share keys */
    for (uint32_t i = 0; i < n && e == GF_OK; i++) {
        if (DROP(i, GF_SA_DROP_ADVERT)) continue;
        if (DROP(i, GF_SA_DROP_SHARE)) continue;
        CLIENT_PHASE(1, gf_secagg_client_share(c[i], bcast, blen, &msg, &mlen));
        if (e == GF_OK && forges && forges[i] == GF_SA_FORGE_COMMIT) msg[GF_SA_HDR + 8] ^= 1; /* commitment to b */
        t0 = now_s();
        if (e == GF_OK) e = gf_secagg_server_add_shares(srv, msg, mlen);
        srv_collect += now_s() - t0;
        free(msg), msg = NULL;
    }
    free(bcast), bcast = NULL;
    t0 = now_s();
    if (e == GF_OK) e = gf_secagg_server_close_shares(srv);
    srv_collect += now_s() - t0;
    /* 2: masked input */
    for (uint32_t i = 0; i < n && e == GF_OK; i++) {
        if (!gf_secagg_server_in_u2(srv, i + 1) || DROP(i, GF_SA_DROP_MASK)) continue;
        uint8_t *routed = NULL;
        size_t rlen = 0;
        t0 = now_s();
        e = gf_secagg_server_routed(srv, i + 1, &routed, &rlen);
        srv_collect += now_s() - t0;
        if (e == GF_OK) CLIENT_PHASE(2, gf_secagg_client_mask(c[i], routed, rlen, inputs[i], &msg, &mlen));
        free(routed);
        t0 = now_s();
        if (e == GF_OK) e = gf_secagg_server_add_masked(srv, msg, mlen);
        srv_sum += now_s() - t0;
        free(msg), msg = NULL;
    }
    t0 = now_s();
    if (e == GF_OK) e = gf_secagg_server_close_masked(srv, &bcast, &blen);
    srv_collect += now_s() - t0;
    /* 3: consistency */
    for (uint32_t i = 0; i < n && e == GF_OK; i++) {
        if (!gf_secagg_server_in_u3(srv, i + 1) || DROP(i, GF_SA_DROP_CONSIST)) continue;
        CLIENT_PHASE(3, gf_secagg_client_consistency(c[i], bcast, blen, &msg, &mlen));
        t0 = now_s();
        if (e == GF_OK) e = gf_secagg_server_add_consistency(srv, msg, mlen);
        srv_collect += now_s() - t0;
        free(msg), msg = NULL;
    }
    free(bcast), bcast = NULL;
    t0 = now_s();
    if (e == GF_OK) e = gf_secagg_server_close_consistency(srv, &bcast, &blen);
    srv_collect += now_s() - t0;
    /* 4: unmask (parties that did not sign cannot answer: they are not in the request's signers
     * but still hold shares; an honest client that missed phase 3 is in state MASKED and refuses) */
    for (uint32_t i = 0; i < n && e == GF_OK; i++) {
        if (!gf_secagg_server_in_u3(srv, i + 1) || DROP(i, GF_SA_DROP_CONSIST) || DROP(i, GF_SA_DROP_UNMASK)) continue;
        CLIENT_PHASE(4, gf_secagg_client_unmask(c[i], bcast, blen, &msg, &mlen));
        if (e == GF_OK && forges && (forges[i] == GF_SA_FORGE_B || forges[i] == GF_SA_FORGE_S))
            forge_unmask(msg, mlen, forges[i] == GF_SA_FORGE_B ? GF_SA_KIND_B : GF_SA_KIND_S);
        t0 = now_s();
        if (e == GF_OK) e = gf_secagg_server_add_unmask(srv, msg, mlen);
        srv_unmask += now_s() - t0;
        free(msg), msg = NULL;
    }
    free(bcast), bcast = NULL;
    t0 = now_s();
    if (e == GF_OK) e = gf_secagg_server_finish(srv, sum);
    srv_unmask += now_s() - t0;
#undef DROP
    if (st) {
        memset(st, 0, sizeof *st);
        st->server_collect = srv_collect;
        st->server_sum = srv_sum;
        st->server_unmask = srv_unmask;
        uint32_t cnt[GF_SA_PHASES] = {0}, n_tot = 0, n_up = 0;
        double tot_sum = 0, up_sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            double tot = 0;
            size_t up = 0;
            for (int ph = 0; ph < GF_SA_PHASES; ph++) {
                if (!ps[i].ran[ph]) continue;
                cnt[ph]++;
                st->client_mean[ph] += ps[i].t[ph];
                if (ps[i].t[ph] > st->client_max[ph]) st->client_max[ph] = ps[i].t[ph];
                st->up_bytes_mean[ph] += (double)ps[i].up[ph];
                tot += ps[i].t[ph];
                up += ps[i].up[ph];
            }
            if (ps[i].ran[0]) {
                n_tot++;
                tot_sum += tot;
                if (tot > st->client_total_max) st->client_total_max = tot;
            }
            if (srv && gf_secagg_server_in_u3(srv, i + 1)) n_up++, up_sum += (double)up;
        }
        for (int ph = 0; ph < GF_SA_PHASES; ph++)
            if (cnt[ph]) st->client_mean[ph] /= cnt[ph], st->up_bytes_mean[ph] /= cnt[ph];
        st->client_total_mean = n_tot ? tot_sum / n_tot : 0;
        st->up_total_mean = n_up ? up_sum / n_up : 0;
        st->u1 = cnt[0];
        st->u2 = cnt[2] + 0;
        if (srv) {
            st->u3 = gf_secagg_server_u3_count(srv);
            st->n_cheaters = gf_secagg_server_cheaters(srv, st->cheaters, GF_SA_SIM_CHEATS);
            uint32_t u2 = 0;
            for (uint32_t v = 1; v <= n; v++) u2 += gf_secagg_server_in_u2(srv, v);
            st->u2 = u2;
        }
    }
    for (uint32_t i = 0; i < n; i++) gf_secagg_client_free(c[i]);
    gf_secagg_server_free(srv);
    free(c);
    free(ps);
    return e;
}

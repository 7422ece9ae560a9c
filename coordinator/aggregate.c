/* Aggregation of a round on a worker thread: the secure-aggregation unmasking
 * (or the plain weighted sum), the decoding to the weighted mean update and
 * the strategy step. The loop thread keeps serving meanwhile; it touches none
 * of the round state while c->state == R_AGGREGATING. */
#include "coordinator/coord_internal.h"

#include "coordinator/robust.h"
#include "node/local.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Plain mode: the accepted updates (each checked and clipped on arrival,
 * api.c) combined by the configured aggregator; the mean weighted by the
 * counts the coordinator fixed (gf_coord_counted). */
static gf_err plain_aggregate(gf_coordinator *c, float *delta)
{
    const float **u = malloc((c->n_sel ? c->n_sel : 1) * sizeof *u);
    double *w = malloc((c->n_sel ? c->n_sel : 1) * sizeof *w);
    gf_err e = u && w ? GF_OK : gf_fail(GF_ENOMEM, "aggregation: out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_sel && !e; i++)
        if (c->sel[i]->updated) {
            u[n] = c->sel[i]->update;
            w[n++] = (double)gf_coord_counted(c, c->sel[i]);
        }
    if (!e) e = gf_aggregate(c->cfg->aggregator, u, w, n, c->L, c->cfg->trim_fraction, delta);
    free(u), free(w);
    c->n_survivors = n;
    return e;
}

/* Secure mode: what honest senders can produce. Each encodes w_i·Δ_i with
 * ||Δ_i||_2 <= clip (node.c scales it so) and w_i = n_i / S_i the weight
 * this coordinator announced, so the mean Σ w_i Δ_i / W (W = Σ w_i) is a
 * convex combination with L2 and L∞ <= clip, up to the encoding's rounding
 * (0.5/scale per word and sender) and float32 decoding (relative 1e-5 is
 * ample). An aggregate beyond that is not the mean of honest clipped
 * updates: refused, though whose update it was cannot be known. */
static gf_err check_bound(gf_coordinator *c, const float *delta, uint32_t n, double W)
{
    gf_update_norms un;
    gf_update_norms_of(delta, c->L, &un);
    double clip = c->sp.clip, rel = 1e-5;
    double per_coord = n * 0.5 / (c->sp.scale * W);
    double max_inf = clip * (1 + rel) + per_coord, max_l2 = clip * (1 + rel) + per_coord * sqrt((double)c->L);
    if (un.nonfinite || un.linf > max_inf || un.l2 > max_l2) {
        c->worker_rejected = 1;
        return gf_fail(GF_ERANGE, "aggregate out of bounds: L-inf %.6g (at most %.6g), L2 %.6g (at most %.6g) for "
                                  "update_clip %g", un.linf, max_inf, un.l2, max_l2, clip);
    }
    return GF_OK;
}

/* The unmasked sum, refused when someone was caught cheating: the cheater's own
 * masked input is inside the sum, so the attempt is redone without it. */
static gf_err unmask(gf_coordinator *c, uint32_t *sum)
{
    GF_TRY(gf_secagg_server_finish(c->sa, sum));
    uint32_t n = gf_secagg_server_cheaters(c->sa, NULL, 0);
    if (n) return gf_fail(GF_ECRYPTO, "secure aggregation: %u site(s) caught revealing forged shares", n);
    return GF_OK;
}

static gf_err weighted_mean(gf_coordinator *c, float *delta)
{
    const size_t L = c->L;
    if (!c->cfg->secure) return plain_aggregate(c, delta);
    uint32_t *sum = malloc(L * sizeof *sum);
    if (!sum) return gf_fail(GF_ENOMEM, "aggregation: out of memory");
    gf_err e = unmask(c, sum);
    if (!e) {
        gf_fixpoint fp;
        e = gf_fixpoint_plan(c->sp.n, c->sp.clip, c->sp.scale, &fp);
        if (!e) gf_fixpoint_decode(&fp, sum, L, delta);
    }
    free(sum);
    if (e) return e;
    /* The survivors encoded (n_i / S_i)·Δ_i: divide by the sum of those weights for their weighted mean. */
    double W = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_sel; i++)
        if (gf_secagg_server_in_u3(c->sa, c->sel[i]->idx)) {
            W += c->sel[i]->weight_den > 0 ? (double)c->sel[i]->n_samples / (double)c->sel[i]->weight_den : 0;
            n++;
        }
    if (!(W > 0)) return gf_fail(GF_ESTATE, "aggregation: survivors carry no samples");
    for (size_t j = 0; j < L; j++) delta[j] = (float)(delta[j] / W);
    c->n_survivors = n;
    return check_bound(c, delta, n, W);
}

/* The statistics session: exact sums of frame counts, Σx, Σx² → pooled mean
 * and SD, accepted only within the physical bounds of the joint angles
 * (gf_local_stats_plausible); else the attempt is rejected with the reason
 * (audited as attempt_rejected; repeated, the federation pauses) and no model
 * version carries them. */
static gf_err pooled_statistics(gf_coordinator *c)
{
    uint32_t sum[GF_STATS_WORDS];
    int64_t v[GF_STATS_WORDS / 4];
    GF_TRY(unmask(c, sum));
    gf_limbs_decode(sum, GF_STATS_WORDS / 4, v);
    c->pooled_frames = v[0];
    c->n_survivors = gf_secagg_server_u3_count(c->sa);
    char who[64];
    snprintf(who, sizeof who, "pooled input statistics of %u sites", c->n_survivors);
    double sd[GF_DIN];
    for (int j = 0; j < GF_DIN; j++) sd[j] = NAN; /* when the frame count fails */
    gf_err e = gf_local_stats_plausible(who, v[0], v + 1, v + 1 + GF_DIN, NULL, sd);
    fprintf(stderr, "coordinator: round %lld attempt %lld: pooled SD per input channel (deg):", (long long)c->round,
            (long long)c->attempt);
    for (int j = 0; j < GF_DIN; j++) fprintf(stderr, " %.4g", sd[j]);
    fprintf(stderr, "%s\n", e ? " (refused)" : "");
    if (e) { /* an integrity check failed: the attempt is rejected (and counts towards the pause) */
        char why[256];
        snprintf(why, sizeof why, "%s", gf_errmsg());
        c->worker_rejected = 1;
        return gf_fail(e, "%s; refused: a site's sums are implausible, secure aggregation hides which", why);
    }
    return gf_local_pooled_norm(v[0], v + 1, v + 1 + GF_DIN, c->pooled_mean, c->pooled_sd);
}

static void *work(void *arg)
{
    gf_coordinator *c = arg;
    if (c->statistics) {
        c->worker_err = pooled_statistics(c);
        if (!c->worker_err) gf_arena_pack(&c->model->params, c->next_theta);
        snprintf(c->worker_msg, sizeof c->worker_msg, "%s", c->worker_err ? gf_errmsg() : "");
        if (write(c->wake_fd[1], "w", 1) != 1) {}
        return NULL;
    }
    float *delta = malloc(c->L * sizeof *delta);
    gf_err e = delta && c->next_theta ? GF_OK : gf_fail(GF_ENOMEM, "aggregation: out of memory");
    if (!e) e = weighted_mean(c, delta);
    if (!e) {
        gf_arena_pack(&c->model->params, c->next_theta);
        e = gf_strategy_step(&c->next_strat, c->next_theta, delta);
        if (e == GF_ENUMERIC) c->worker_rejected = 1;
    }
    free(delta);
    c->worker_err = e;
    snprintf(c->worker_msg, sizeof c->worker_msg, "%s", e ? gf_errmsg() : "");
    if (write(c->wake_fd[1], "w", 1) != 1) {} /* the loop polls the state anyway */
    return NULL;
}

gf_err gf_coord_start_aggregate(gf_coordinator *c)
{
    free(c->next_theta);
    c->next_theta = malloc(c->L * sizeof *c->next_theta);
    gf_strategy_free(&c->next_strat);
    gf_err e = c->next_theta ? gf_strategy_init(&c->next_strat, c->strat.kind, c->strat.server_lr, c->strat.beta1,
                                                c->strat.beta2, c->strat.tau, c->L)
                             : gf_fail(GF_ENOMEM, "aggregation: out of memory");
    if (!e && c->strat.m) { /* the step runs on a copy: a failed commit leaves the state as it was */
        memcpy(c->next_strat.m, c->strat.m, c->L * sizeof *c->strat.m);
        memcpy(c->next_strat.v, c->strat.v, c->L * sizeof *c->strat.v);
    }
    c->next_strat.step = c->strat.step;
    if (e) return e;
    c->worker_rejected = 0;
    c->state = R_AGGREGATING;
    if (pthread_create(&c->worker, NULL, work, c)) {
        c->state = R_OPEN;
        return gf_fail(GF_ENOMEM, "aggregation: cannot start the worker thread");
    }
    c->worker_running = 1;
    return GF_OK;
}

/* Secure aggregation caught sites cheating (forged shares, inconsistent
 * dealing): one audit row each, with the site's name and what failed, and
 * the site is not sampled again (docs/SECURE_AGGREGATION.md, "Verifiable
 * sharing"). */
static void audit_cheaters(gf_coordinator *c)
{
    gf_secagg_cheat ch[64];
    uint32_t n = c->sa ? gf_secagg_server_cheaters(c->sa, ch, 64) : 0;
    if (n > 64) n = 64;
    int64_t now = gf_now_ms();
    for (uint32_t i = 0; i < n; i++) {
        if (ch[i].party < 1 || ch[i].party > c->n_sel || ch[i].about < 1 || ch[i].about > c->n_sel) continue;
        gf_site *s = c->sel[ch[i].party - 1];
        const char *check = ch[i].check == GF_SA_CHEAT_SHARE ? "forged_share" : "inconsistent_dealer";
        char secret[2] = {ch[i].secret, 0}, reason[256];
        if (ch[i].check == GF_SA_CHEAT_SHARE)
            snprintf(reason, sizeof reason, "revealed %u share(s) not matching their dealer's commitment (first: its %s "
                     "share of %s)", ch[i].count, ch[i].secret == 'b' ? "self-mask seed" : "mask key",
                     c->sel[ch[i].about - 1]->name);
        else
            snprintf(reason, sizeof reason, "dealt %s shares that rebuild another secret than the one it committed to",
                     ch[i].secret == 'b' ? "self-mask seed" : "mask key");
        json_t *j = json_pack("{s:I,s:I,s:s,s:i,s:s,s:s,s:s,s:i,s:s}", "round", (json_int_t)c->round, "attempt",
                              (json_int_t)c->attempt, "site", s->name, "index", (int)ch[i].party, "check", check,
                              "secret", secret, "about", c->sel[ch[i].about - 1]->name, "shares", (int)ch[i].count,
                              "reason", reason);
        char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        gf_err e = d ? gf_coord_db_begin(&c->db) : GF_ENOMEM;
        if (!e) e = gf_coord_db_audit(&c->db, now, "secagg_cheater", d);
        if (!e) e = gf_coord_db_commit(&c->db);
        else if (d) gf_coord_db_rollback(&c->db);
        free(d);
        if (e == GF_EDB) gf_coord_fatal(c, e);
        s->cheated = 1;
        fprintf(stderr, "coordinator: round %lld attempt %lld: site %s caught cheating: %s; it is not sampled again\n",
                (long long)c->round, (long long)c->attempt, s->name, reason);
    }
}

void gf_coord_note_excluded_wait(gf_coordinator *c, uint32_t eligible, uint32_t need, int64_t now)
{
    if (c->excluded_wait_round == c->round) return;
    json_t *names = json_array();
    for (size_t i = 0; i < c->n_sites && names; i++)
        if (c->sites[i].cheated && now - c->sites[i].last_seen_ms <= GF_ONLINE_MS)
            json_array_append_new(names, json_string(c->sites[i].name));
    if (!names || !json_array_size(names)) {
        json_decref(names);
        return;
    }
    c->excluded_wait_round = c->round;
    fprintf(stderr, "coordinator: round %lld waits: %u eligible hospitals online, %u needed (min_sites); %zu online "
            "site(s) excluded for cheating\n", (long long)c->round, eligible, need, json_array_size(names));
    json_t *j = json_pack("{s:I,s:i,s:i,s:o}", "round", (json_int_t)c->round, "eligible", (int)eligible, "needed",
                          (int)need, "excluded", names);
    char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    gf_err e = d ? gf_coord_db_begin(&c->db) : GF_ENOMEM;
    if (!e) e = gf_coord_db_audit(&c->db, now, "round_waiting", d);
    if (!e) e = gf_coord_db_commit(&c->db);
    else if (d) gf_coord_db_rollback(&c->db);
    free(d);
    if (e == GF_EDB) gf_coord_fatal(c, e);
}

void gf_coord_finish_aggregate(gf_coordinator *c)
{
    if (!c->worker_running) return;
    pthread_join(c->worker, NULL);
    c->worker_running = 0;
    c->state = R_OPEN;
    if (c->worker_err) {
        if (c->cfg->secure) audit_cheaters(c);
        if (c->fatal) return;
        if (c->worker_rejected) c->aggregates_rejected++, gf_coord_reject(c, c->worker_msg, NULL);
        else gf_coord_abandon(c, c->worker_msg);
        return;
    }
    c->rejections = 0; /* committed below or abandoned for another reason */
    if (c->statistics) { /* θ unchanged; the model now carries the pooled statistics */
        int d = c->model->cfg.d_in;
        memcpy(c->model->x_mean, c->pooled_mean, (size_t)d * sizeof(float));
        memcpy(c->model->x_std, c->pooled_sd, (size_t)d * sizeof(float));
        c->model->has_norm = 1;
        gf_err ce = gf_coord_commit_version(c, NAN);
        if (ce) {
            c->model->has_norm = 0;
            if (ce == GF_EDB) gf_coord_fatal(c, ce); /* the store failed: stop, nothing half-committed */
            else gf_coord_abandon(c, gf_errmsg());
            return;
        }
        fprintf(stderr, "coordinator: round %lld: pooled input statistics of %u sites (%lld frames) -> model version %lld\n",
                (long long)c->round, c->n_survivors, (long long)c->pooled_frames, (long long)c->version);
        c->statistics = 0;
        c->state = R_IDLE;
        c->round++;
        c->attempt = 1;
        return;
    }
    double loss = 0, w = 0;
    for (uint32_t i = 0; i < c->n_sel; i++)
        if (isfinite(c->sel[i]->train_loss) && c->sel[i]->n_samples > 0) {
            loss += c->sel[i]->train_loss * (double)gf_coord_counted(c, c->sel[i]);
            w += (double)gf_coord_counted(c, c->sel[i]);
        }
    loss = w > 0 ? loss / w : NAN;
    gf_err ce = gf_coord_commit_version(c, loss);
    if (ce) {
        if (ce == GF_EDB) gf_coord_fatal(c, ce); /* the store failed: stop, nothing half-committed */
        else gf_coord_abandon(c, gf_errmsg());
        return;
    }
    gf_strategy tmp = c->strat;
    c->strat = c->next_strat;
    c->next_strat = tmp;
    fprintf(stderr, "coordinator: round %lld: model version %lld from %u sites (loss %.4g)\n", (long long)c->round,
            (long long)c->version, c->n_survivors, loss);
    c->rounds_aggregated++;
    c->eval_version = c->version;
    for (size_t i = 0; i < c->n_sites; i++) c->sites[i].evaluated = 0;
    c->state = R_EVALUATE;
    c->phase = GF_PH_EVALUATE;
    c->phase_started_ms = gf_now_ms();
    c->deadline_ms = gf_now_ms() + (int64_t)(c->cfg->timeout_s[GF_PH_EVALUATE] * 1000);
}

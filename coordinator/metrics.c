/* GET /metrics: the coordinator's counters in the Prometheus text exposition
 * format (version 0.0.4): rounds, attempts, current round and model version,
 * sites online by role, phase durations (a summary without quantiles),
 * requests and refused connections, the pause and the bounded-influence
 * checks (refused/clipped updates, rejected aggregates). Counters count since this process
 * started; the database holds the full history. */
#include "coordinator/coord_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        size_t nc = (b->cap + (size_t)n + 1) * 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) { b->oom = 1; return; }
        b->buf = nb, b->cap = nc;
    }
}

static void family(sbuf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

gf_err gf_coord_metrics(const gf_coordinator *c, int64_t now, char **out, size_t *len)
{
    sbuf b = {.cap = 4096};
    if (!(b.buf = malloc(b.cap))) return gf_fail(GF_ENOMEM, "metrics: out of memory");
    b.buf[0] = 0;
    family(&b, "gaitfed_rounds_aggregated_total", "counter", "Rounds whose aggregate became a model version.");
    put(&b, "gaitfed_rounds_aggregated_total %llu\n", (unsigned long long)c->rounds_aggregated);
    family(&b, "gaitfed_attempts_abandoned_total", "counter", "Round attempts abandoned (too few sites, deadlines).");
    put(&b, "gaitfed_attempts_abandoned_total %llu\n", (unsigned long long)c->attempts_abandoned);
    family(&b, "gaitfed_paused", "gauge", "1 while the federation is paused after repeated rejected attempts "
                                         "(resumed by gaitfed coordinator resume).");
    put(&b, "gaitfed_paused %d\n", c->state == R_PAUSED);
    family(&b, "gaitfed_attempts_rejected", "gauge", "Rejected attempts of the current round (pause at max_attempt_failures).");
    put(&b, "gaitfed_attempts_rejected %lld\n", (long long)c->rejections);
    family(&b, "gaitfed_updates_total", "counter", "Plain updates refused (not finite) or clipped (L2 over update_clip) on arrival.");
    put(&b, "gaitfed_updates_total{outcome=\"refused\"} %llu\n", (unsigned long long)c->updates_refused);
    put(&b, "gaitfed_updates_total{outcome=\"clipped\"} %llu\n", (unsigned long long)c->updates_clipped);
    family(&b, "gaitfed_aggregates_rejected_total", "counter", "Aggregates refused: over the update_clip bound or not finite.");
    put(&b, "gaitfed_aggregates_rejected_total %llu\n", (unsigned long long)c->aggregates_rejected);
    family(&b, "gaitfed_round", "gauge", "Current round number.");
    put(&b, "gaitfed_round %lld\n", (long long)c->round);
    family(&b, "gaitfed_round_attempt", "gauge", "Attempt of the current round.");
    put(&b, "gaitfed_round_attempt %lld\n", (long long)c->attempt);
    family(&b, "gaitfed_model_version", "gauge", "Latest stored model version.");
    put(&b, "gaitfed_model_version %lld\n", (long long)c->version);
    family(&b, "gaitfed_secure_aggregation", "gauge", "1 when updates are securely aggregated.");
    put(&b, "gaitfed_secure_aggregation %d\n", c->cfg->secure ? 1 : 0);
    family(&b, "gaitfed_sites_online", "gauge", "Sites that polled within the last 15 seconds.");
    static const gf_role roles[] = {GF_ROLE_HOSPITAL, GF_ROLE_EVALUATOR};
    for (int r = 0; r < 2; r++) {
        unsigned n = 0;
        for (size_t i = 0; i < c->n_sites; i++)
            n += c->sites[i].role == roles[r] && now - c->sites[i].last_seen_ms <= GF_ONLINE_MS;
        put(&b, "gaitfed_sites_online{role=\"%s\"} %u\n", gf_role_name(roles[r]), n);
    }
    family(&b, "gaitfed_phase_duration_seconds", "summary", "Time from a phase's opening to its close.");
    for (int p = 0; p < GF_PH_COUNT; p++) {
        put(&b, "gaitfed_phase_duration_seconds_sum{phase=\"%s\"} %.6f\n", gf_phase_name((gf_phase)p), c->phase_sum_s[p]);
        put(&b, "gaitfed_phase_duration_seconds_count{phase=\"%s\"} %llu\n", gf_phase_name((gf_phase)p),
            (unsigned long long)c->phase_count[p]);
    }
    gf_https_stats hs = gf_https_server_stats(c->http);
    family(&b, "gaitfed_http_requests_total", "counter", "Requests from verified peers.");
    put(&b, "gaitfed_http_requests_total %llu\n", (unsigned long long)hs.requests);
    family(&b, "gaitfed_refused_connections_total", "counter",
           "Refusals: TLS handshakes ended with a fatal alert, certificates refused after the handshake, "
           "consortium certificates of sites not registered here, requests on a connection whose certificate was "
           "revoked since it opened.");
    put(&b, "gaitfed_refused_connections_total{reason=\"tls\"} %llu\n", (unsigned long long)hs.refused_tls);
    put(&b, "gaitfed_refused_connections_total{reason=\"certificate\"} %llu\n", (unsigned long long)hs.refused_peer);
    put(&b, "gaitfed_refused_connections_total{reason=\"unregistered\"} %llu\n", (unsigned long long)c->refused_sites);
    put(&b, "gaitfed_refused_connections_total{reason=\"revoked\"} %llu\n", (unsigned long long)hs.refused_revoked);
    family(&b, "gaitfed_crl_reloads_total", "counter", "Changed CRL files: taken, or refused (current CRL kept).");
    put(&b, "gaitfed_crl_reloads_total{result=\"taken\"} %llu\n", (unsigned long long)hs.crl_reloads);
    put(&b, "gaitfed_crl_reloads_total{result=\"refused\"} %llu\n", (unsigned long long)hs.crl_rejected);
    if (b.oom) {
        free(b.buf);
        return gf_fail(GF_ENOMEM, "metrics: out of memory");
    }
    *out = b.buf;
    *len = b.len;
    return GF_OK;
}

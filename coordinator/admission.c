/* Who is let in, beyond the certificate check: refused certificates of the
 * consortium audited by name and serial (rate-limited, so a flood cannot
 * grow the database without bound), and one live node per identity (a
 * second node presenting the certificate of a site whose node is active is
 * refused with 409 duplicate_instance). */
#include "coordinator/coord_internal.h"

#include <stdio.h>
#include <string.h>

static void hex_serial(uint64_t serial, char out[19]) { snprintf(out, 19, "0x%016llx", (unsigned long long)serial); }

void gf_coord_audit_limited(gf_coordinator *c, const char *event, const char *key, uint64_t serial, json_t *detail)
{
    int64_t now = gf_now_ms();
    size_t k = GF_AUDIT_LIMIT_SLOTS, oldest = 0;
    for (size_t i = 0; i < GF_AUDIT_LIMIT_SLOTS; i++) {
        if (c->audit_limit[i].ms && c->audit_limit[i].serial == serial && !strcmp(c->audit_limit[i].event, key)) k = i;
        if (c->audit_limit[i].ms < c->audit_limit[oldest].ms) oldest = i;
    }
    if (k < GF_AUDIT_LIMIT_SLOTS && now - c->audit_limit[k].ms < GF_CERT_AUDIT_MS) {
        c->audit_limit[k].suppressed++;
        json_decref(detail);
        return;
    }
    if (now - c->audit_minute_ms >= 60000) c->audit_minute_ms = now, c->audit_minute_rows = 0;
    if (c->audit_minute_rows >= GF_CERT_AUDIT_PER_MIN) { /* more certificates than slots, cycling */
        c->audit_dropped++;
        json_decref(detail);
        return;
    }
    if (k == GF_AUDIT_LIMIT_SLOTS) { /* a new one takes the least recently audited slot */
        k = oldest;
        memset(&c->audit_limit[k], 0, sizeof c->audit_limit[k]);
        c->audit_limit[k].serial = serial;
        snprintf(c->audit_limit[k].event, sizeof c->audit_limit[k].event, "%s", key);
    }
    if (detail && c->audit_limit[k].suppressed)
        json_object_set_new(detail, "suppressed", json_integer((json_int_t)c->audit_limit[k].suppressed));
    if (detail && c->audit_dropped) /* refusals of any certificate not written for the budget */
        json_object_set_new(detail, "over_budget", json_integer((json_int_t)c->audit_dropped));
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    if (d && gf_coord_db_begin(&c->db) == GF_OK) {
        if (gf_coord_db_audit(&c->db, now, event, d) == GF_OK && gf_coord_db_commit(&c->db) == GF_OK) {
            c->audit_limit[k].ms = now;
            c->audit_limit[k].suppressed = 0;
            c->audit_minute_rows++;
            c->audit_dropped = 0;
        } else {
            gf_coord_db_rollback(&c->db);
        }
    }
    free(d);
}

void gf_coord_cert_refused(void *ctx, const char *name, uint64_t serial, const char *why, int handshake)
{
    const char *where = handshake ? "handshake" : "request", *key = handshake ? "cert:handshake" : "cert:request";
    gf_coordinator *c = ctx;
    char sx[19];
    hex_serial(serial, sx);
    /* A site whose own certificate was refused is offline from now on: it is
     * not sampled again, and the end of the federation does not wait for it. */
    for (size_t i = 0; i < c->n_sites; i++)
        if (!strcmp(c->sites[i].name, name) && c->sites[i].serial == serial) c->sites[i].last_seen_ms = 0;
    int64_t k = 0;
    for (size_t i = 0; i < GF_AUDIT_LIMIT_SLOTS; i++)
        if (c->audit_limit[i].serial == serial && !strcmp(c->audit_limit[i].event, key)) k = c->audit_limit[i].ms;
    if (!k || gf_now_ms() - k >= GF_CERT_AUDIT_MS)
        fprintf(stderr, "coordinator: certificate of %s (serial %s) refused in the %s: %s\n", name, sx, where, why);
    gf_coord_audit_limited(c, "certificate_refused", key, serial,
                           json_pack("{s:s,s:s,s:s,s:s}", "site", name, "serial", sx, "where", where, "reason", why));
}

void gf_coordinator_reload_crl(gf_coordinator *c)
{
    fprintf(stderr, "coordinator: SIGHUP: re-reading the revocation list\n");
    gf_https_server_reload_crl(c->http, 1);
}

/* [A-Za-z0-9-], 1..GF_INSTANCE_MAX characters. */
static int instance_valid(const char *v)
{
    size_t n = strlen(v);
    if (!n || n > GF_INSTANCE_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
            return 0;
    return 1;
}

/* The first instance seen keeps the site's place while it is active (a
 * request within GF_ONLINE_MS, the liveness timeout); after that silence a
 * new instance takes over (a node restarted elsewhere). A request without
 * the header is the instance "" (clients other than gaitfed node). */
int gf_coord_admit_instance(gf_coordinator *c, gf_https_req *r, gf_site *s, const gf_peer *p, int64_t now)
{
    const char *inst = gf_https_header(r, "X-Gaitfed-Instance");
    if (!inst) inst = "";
    if (*inst && !instance_valid(inst)) {
        gf_https_reply_error(r, 400, "bad_request", "X-Gaitfed-Instance: expected 1..%d of [A-Za-z0-9-]", GF_INSTANCE_MAX);
        return 0;
    }
    s->serial = p->serial;
    char sx[19];
    hex_serial(p->serial, sx);
    if (s->instance_ms && strcmp(s->instance, inst)) {
        int64_t silent = now - s->instance_ms;
        if (silent <= GF_ONLINE_MS) {
            gf_coord_audit_limited(c, "duplicate_instance", "duplicate_instance", p->serial,
                                   json_pack("{s:s,s:s,s:I,s:I,s:I}", "site", s->name, "serial", sx, "round",
                                             (json_int_t)c->round, "attempt", (json_int_t)c->attempt, "holder_seen_ms_ago",
                                             (json_int_t)silent));
            gf_https_reply_error(r, 409, "duplicate_instance",
                                 "another node with %s's certificate is already taking part in round %lld (its last "
                                 "request %lld ms ago; its place is free after %d s of silence)",
                                 s->name, (long long)c->round, (long long)silent, GF_ONLINE_MS / 1000);
            return 0;
        }
        fprintf(stderr, "coordinator: site %s: a new node instance takes over (the previous one silent for %lld s)\n",
                s->name, (long long)(silent / 1000));
        gf_coord_audit_limited(c, "instance_replaced", "instance_replaced", p->serial,
                               json_pack("{s:s,s:s,s:I,s:I}", "site", s->name, "serial", sx, "round", (json_int_t)c->round,
                                         "previous_silent_ms", (json_int_t)silent));
    }
    snprintf(s->instance, sizeof s->instance, "%s", inst);
    s->instance_ms = now;
    return 1;
}

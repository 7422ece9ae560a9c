/* The coordinator's HTTPS/1.1 endpoint on libevent's evhttp with
 * bufferevent_openssl: TLS 1.3 only, a client certificate required and
 * verified against the consortium CA and CRL during the handshake, no
 * session resumption (a revoked certificate must not ride an old session).
 * Each request then carries the gf_peer its certificate names; the router
 * above decides what that peer may do.
 *
 * Revocation takes effect at once: the CRL file is watched (inode, size,
 * mtime and ctime checked every crl_poll_ms) and reloaded when it changes
 * or on gf_https_server_reload_crl (SIGHUP). A new CRL is taken only if it
 * is a PEM CRL signed by the CA and not older (CRL number, else lastUpdate)
 * than the current one; otherwise one line is logged and the current one
 * stays (never fail open). New handshakes verify against a store rebuilt
 * with the new CRL, and every request's certificate serial is looked up in
 * the current CRL, so a connection kept alive from before the revocation is
 * answered 403 certificate_revoked and closed.
 *
 * All callbacks run on the event-loop thread. A handler must answer every
 * request exactly once before it returns (gf_https_reply_*); a request left
 * unanswered gets 500. The process must ignore SIGPIPE (a peer may close
 * while the server writes). */
#ifndef GF_HTTPS_SERVER_H
#define GF_HTTPS_SERVER_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "crypto/identity.h"

struct event_base;

typedef struct {
    const char *key_path, *cert_path; /* the coordinator's kit */
    const char *ca_path;              /* consortium CA */
    const char *crl_path;             /* NULL: no revocation list */
    const char *host;                 /* NULL: "127.0.0.1" */
    int port;                         /* 0: an ephemeral port (see gf_https_server_port) */
    size_t max_body;                  /* request body cap; 0: 64 MiB. Larger: 413 */
    size_t max_headers;               /* 0: 16 KiB */
    int timeout_s;                    /* per-connection read/write timeout; 0: 30 s */
    int max_conns;                    /* open connections; 0: GF_HTTPS_MAX_CONNS. At the cap the
                                         listener pauses until one closes (never within 64 of
                                         RLIMIT_NOFILE) */
    int crl_poll_ms;                  /* how often the CRL file is checked for changes; 0: 1000 */
    /* Called (loop thread) for every refused certificate issued by the CA:
     * revoked, expired, not yet valid (in the handshake) or revoked on a
     * kept-alive connection. name: the subject CN (only [A-Za-z0-9._-],
     * else "?"); why: a short reason; handshake: 1 in the TLS handshake, 0
     * on a request. Certificates not signed by the CA are only counted
     * (their names are the sender's invention). NULL: none. */
    void (*on_refused)(void *ctx, const char *name, uint64_t serial, const char *why, int handshake);
    void *refused_ctx;
} gf_https_opts;
#define GF_HTTPS_MAX_CONNS 1024

typedef struct gf_https_server gf_https_server;
typedef struct gf_https_req gf_https_req;
typedef void (*gf_https_handler)(gf_https_req *req, void *ctx);

/* Binds and starts serving on base (the caller runs the loop). */
gf_err gf_https_server_new(struct event_base *base, const gf_https_opts *opts, gf_https_handler handler, void *ctx,
                           gf_https_server **out);
void gf_https_server_free(gf_https_server *s);
int gf_https_server_port(const gf_https_server *s);

/* Counters since start (for /metrics). */
typedef struct {
    uint64_t requests;          /* requests handed to the handler */
    uint64_t refused_tls;       /* fatal TLS alerts sent: no, unknown, revoked or expired
                                   certificate, TLS < 1.3 (plain HTTP is dropped silently) */
    uint64_t refused_peer;      /* verified by TLS but refused by gf_trust (role, name) */
    uint64_t conn_cap_hits;     /* times the connection cap was reached (accepting paused) */
    uint64_t refused_revoked;   /* requests refused on a connection whose certificate was revoked since */
    uint64_t crl_reloads;       /* new CRLs taken */
    uint64_t crl_rejected;      /* changed CRL files refused (unreadable, not the CA's, older) */
} gf_https_stats;
gf_https_stats gf_https_server_stats(const gf_https_server *s);

/* Checks the CRL file now (force: even if it looks unchanged). 1: a new CRL
 * was taken; 0: unchanged or no CRL configured; -1: refused (logged, the
 * current one kept). */
int gf_https_server_reload_crl(gf_https_server *s, int force);

/* The request, valid until it is answered. */
const char *gf_https_method(const gf_https_req *r);  /* "GET", "POST" */
const char *gf_https_path(const gf_https_req *r);    /* decoded path, no query */
const char *gf_https_query(const gf_https_req *r, const char *key); /* NULL if absent */
const char *gf_https_header(const gf_https_req *r, const char *name);
const gf_peer *gf_https_peer(const gf_https_req *r);
const uint8_t *gf_https_body(const gf_https_req *r, size_t *len);

/* 1 once r has been answered. */
int gf_https_replied(const gf_https_req *r);
/* An extra response header (before the answer). */
void gf_https_add_header(gf_https_req *r, const char *name, const char *value);
/* Answers. Every body carries X-Content-SHA256 (hex of the body). */
void gf_https_reply_json(gf_https_req *r, int status, json_t *body /* reference stolen */);
void gf_https_reply_bytes(gf_https_req *r, int status, const char *content_type, const void *data, size_t len);
/* {"error":{"code":code,"message":…}} */
void gf_https_reply_error(gf_https_req *r, int status, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif

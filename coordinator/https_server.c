#include "coordinator/https_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/hash.h"
#include "crypto/x509util.h"

struct gf_https_server {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    gf_trust *trust;
    gf_https_handler handler;
    void *ctx;
    int port;
    gf_https_stats stats;
    struct conn_count *cc;
    /* revocation */
    char *ca_path, *crl_path;  /* crl_path NULL: no CRL */
    X509 *ca;
    X509_CRL *crl;             /* the current one (its store is the SSL_CTX's) */
    struct crl_file { int ok; dev_t dev; ino_t ino; off_t size; struct timespec mtime, ctime; } crl_seen;
    struct event *crl_timer;
    void (*on_refused)(void *ctx, const char *name, uint64_t serial, const char *why, int handshake);
    void *refused_ctx;
};

/* Open connections: one reference each and one for the server, because a
 * connection's SSL may be freed after the server (bufferevents are finalized
 * late, when the event base runs or is freed). */
struct conn_count {
    int refs, conns, max_conns;
    struct evconnlistener *listener; /* NULL once the server is being freed */
};

struct gf_https_req {
    struct evhttp_request *ev;
    gf_https_server *srv;
    char *path;
    struct evkeyvalq query;
    gf_peer peer;
    uint8_t *body;
    size_t body_len;
    int answered;
};

/* Index of the server pointer in SSL_CTX ex-data, for the info callback. */
static int ctx_index = -1;

/* The connection cap. Every accepted connection owns one SSL (freed with its
 * bufferevent), counted here; at the cap the listener stops accepting (new
 * connections wait in the kernel's backlog, holding no descriptor of ours)
 * until one closes. Without it a flood of connections would run the process
 * out of descriptors, and SQLite and the listener with it. */
static int ssl_index = -1;

static void conn_closed(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct conn_count *cc = ptr;
    if (!cc) return;
    if (cc->conns-- == cc->max_conns && cc->listener) {
        evconnlistener_enable(cc->listener);
        fprintf(stderr, "coordinator: https: below the cap of %d connections, accepting again\n", cc->max_conns);
    }
    if (--cc->refs == 0) free(cc);
}

/* Every fatal alert the server sends ends a handshake it refused: unknown
 * CA, revoked or missing certificate, TLS below 1.3, garbage. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_WRITE_ALERT) || strcmp(SSL_alert_type_string(ret), "F")) return;
    gf_https_server *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (s) s->stats.refused_tls++;
}

static gf_err ssl_fail(const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return gf_fail(GF_ECRYPTO, "%s%s%s: %s", path ? path : "", path ? ": " : "", what, buf[0] ? buf : "failed");
}

/* ---- revocation ---- */

/* The CA and, when given, the CRL: the store new handshakes verify against. */
static gf_err make_store(const gf_https_server *s, X509_CRL *crl, X509_STORE **out)
{
    X509_STORE *st = X509_STORE_new();
    if (!st || !X509_STORE_add_cert(st, s->ca) || (crl && !X509_STORE_add_crl(st, crl))) {
        X509_STORE_free(st);
        return ssl_fail("certificate store", NULL);
    }
    if (crl) X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
    *out = st;
    return GF_OK;
}

static void crl_stat(const char *path, struct crl_file *f)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    if (stat(path, &st)) return;
    *f = (struct crl_file){1, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

static int crl_same(const struct crl_file *a, const struct crl_file *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* <0 when crl is older than cur: by CRL number when both carry one, else by lastUpdate. */
static int crl_cmp(X509_CRL *crl, X509_CRL *cur)
{
    ASN1_INTEGER *a = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL),
                 *b = X509_CRL_get_ext_d2i(cur, NID_crl_number, NULL, NULL);
    int r = a && b ? ASN1_INTEGER_cmp(a, b) : 0;
    ASN1_INTEGER_free(a), ASN1_INTEGER_free(b);
    if (r == 0) {
        int d = 0, sec = 0;
        if (ASN1_TIME_diff(&d, &sec, X509_CRL_get0_lastUpdate(cur), X509_CRL_get0_lastUpdate(crl)))
            r = d < 0 || sec < 0 ? -1 : d > 0 || sec > 0;
    }
    ERR_clear_error();
    return r;
}

static long crl_number(X509_CRL *crl)
{
    ASN1_INTEGER *a = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    long n = a ? ASN1_INTEGER_get(a) : -1;
    ASN1_INTEGER_free(a);
    ERR_clear_error();
    return n;
}

int gf_https_server_reload_crl(gf_https_server *s, int force)
{
    if (!s->crl_path) return 0;
    struct crl_file now;
    crl_stat(s->crl_path, &now);
    if (!force && crl_same(&now, &s->crl_seen)) return 0;
    s->crl_seen = now; /* a refused file is reported once, until it changes again */
    X509_CRL *crl = NULL;
    X509_STORE *st = NULL;
    gf_err e = gf_x509_read_crl(s->crl_path, &crl);
    if (!e) e = gf_x509_check_crl(s->ca, crl, s->crl_path, s->ca_path);
    if (!e && crl_cmp(crl, s->crl) < 0)
        e = gf_fail(GF_ESTATE, "%s: CRL number %ld is older than the current one (%ld)", s->crl_path, crl_number(crl),
                    crl_number(s->crl));
    if (!e && crl_cmp(crl, s->crl) == 0 && X509_CRL_match(crl, s->crl) == 0 && !force) {
        X509_CRL_free(crl); /* the same list rewritten */
        return 0;
    }
    if (!e) e = make_store(s, crl, &st);
    if (e) {
        X509_CRL_free(crl);
        s->stats.crl_rejected++;
        fprintf(stderr, "coordinator: revocation list refused, keeping CRL number %ld: %s\n", crl_number(s->crl),
                gf_errmsg());
        return -1;
    }
    /* Single-threaded: no handshake is inside verification now; the next
     * one uses the new store, the old one is freed here. */
    SSL_CTX_set_cert_store(s->ssl, st);
    X509_CRL_free(s->crl);
    s->crl = crl;
    s->stats.crl_reloads++;
    STACK_OF(X509_REVOKED) *rv = X509_CRL_get_REVOKED(crl);
    fprintf(stderr, "coordinator: revocation list %s reloaded: CRL number %ld, %d revoked\n", s->crl_path,
            crl_number(crl), rv ? sk_X509_REVOKED_num(rv) : 0);
    return 1;
}

static void on_crl_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    gf_https_server_reload_crl(arg, 0);
}

/* The subject CN if it is a well-formed party name, else "?". */
static void cert_name(X509 *x, char out[GF_NAME_MAX + 1])
{
    snprintf(out, GF_NAME_MAX + 1, "?");
    const X509_NAME *sub = X509_get_subject_name(x);
    int i = sub ? X509_NAME_get_index_by_NID(sub, NID_commonName, -1) : -1;
    const ASN1_STRING *v = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, i)) : NULL;
    int n = v ? ASN1_STRING_length(v) : 0;
    char b[GF_NAME_MAX + 1] = "";
    if (n > 0 && n <= GF_NAME_MAX) memcpy(b, ASN1_STRING_get0_data(v), (size_t)n);
    if (gf_name_valid(b)) memcpy(out, b, sizeof b);
}

static uint64_t cert_serial(X509 *x)
{
    uint64_t v = 0;
    if (gf_x509_serial_u64(X509_get0_serialNumber(x), &v) != GF_OK) v = 0;
    return v;
}

static void refused(gf_https_server *s, X509 *x, const char *why, int handshake)
{
    if (!s->on_refused) return;
    char name[GF_NAME_MAX + 1];
    cert_name(x, name);
    s->on_refused(s->refused_ctx, name, cert_serial(x), why, handshake);
}

/* A handshake refusing a certificate: reported by name when the CA signed
 * it (revoked, expired, not yet valid); anything else is only counted. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    if (ok) return 1;
    X509 *cert = X509_STORE_CTX_get_current_cert(x);
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    gf_https_server *s = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index) : NULL;
    /* Revocation is checked before signatures: the CA's signature is checked here. */
    if (s && cert && X509_STORE_CTX_get_error_depth(x) == 0 && X509_verify(cert, X509_get0_pubkey(s->ca)) == 1)
        refused(s, cert, X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)), 1);
    ERR_clear_error();
    return 0;
}

static gf_err make_ssl_ctx(gf_https_server *s, const gf_https_opts *o)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c) return ssl_fail("SSL_CTX_new", NULL);
    s->ssl = c;
    if (!SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION))
        return ssl_fail("TLS 1.3 only", NULL);
    if (SSL_CTX_use_certificate_chain_file(c, o->cert_path) != 1) return ssl_fail("server certificate", o->cert_path);
    if (SSL_CTX_use_PrivateKey_file(c, o->key_path, SSL_FILETYPE_PEM) != 1) return ssl_fail("server key", o->key_path);
    if (SSL_CTX_check_private_key(c) != 1) return ssl_fail("key does not match the certificate", o->key_path);
    GF_TRY(gf_x509_read_cert(o->ca_path, &s->ca));
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_path);
    if (!names) return ssl_fail("CA certificate", o->ca_path);
    SSL_CTX_set_client_CA_list(c, names);
    if (o->crl_path) { /* the same capped reader and checks gf_trust uses */
        crl_stat(o->crl_path, &s->crl_seen);
        GF_TRY(gf_x509_read_crl(o->crl_path, &s->crl));
        GF_TRY(gf_x509_check_crl(s->ca, s->crl, o->crl_path, o->ca_path));
    }
    X509_STORE *st = NULL;
    GF_TRY(make_store(s, s->crl, &st));
    SSL_CTX_set_cert_store(c, st);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_info_callback(c, info_cb);
    /* No resumption: every connection proves its certificate afresh. */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, 0);
    if (ctx_index < 0) ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (ssl_index < 0) ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_closed);
    SSL_CTX_set_ex_data(c, ctx_index, s);
    return GF_OK;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    gf_https_server *s = arg;
    SSL *ssl = SSL_new(s->ssl);
    if (!ssl) return NULL;
    struct conn_count *cc = s->cc;
    SSL_set_ex_data(ssl, ssl_index, cc);
    cc->refs++;
    if (++cc->conns == cc->max_conns && cc->listener) {
        evconnlistener_disable(cc->listener);
        s->stats.conn_cap_hits++;
        fprintf(stderr, "coordinator: https: %d connections open, the cap: new connections wait until one closes\n",
                cc->conns);
    }
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* Listens on host:port with the kernel's full backlog (SOMAXCONN).
 * evhttp_bind_socket listens with a backlog of 128: under a burst of
 * connections the accept queue overflows, the kernel answers with SYN
 * cookies and drops the handshakes it cannot queue, and a client that sends
 * nothing first (or waits for the server) is never accepted. */
static gf_err bind_listener(gf_https_server *s, const char *host, int port, struct evhttp_bound_socket **out)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = EVUTIL_AI_PASSIVE};
    struct evutil_addrinfo *ai = NULL;
    int rc = evutil_getaddrinfo(host, ps, &hints, &ai);
    if (rc) return gf_fail(GF_ENET, "https server: cannot listen on %s:%d: %s", host, port, evutil_gai_strerror(rc));
    struct evconnlistener *l = evconnlistener_new_bind(
        s->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, SOMAXCONN, ai->ai_addr,
        (int)ai->ai_addrlen);
    int err = errno;
    evutil_freeaddrinfo(ai);
    if (!l) return gf_fail(GF_ENET, "https server: cannot listen on %s:%d: %s", host, port, strerror(err));
    *out = evhttp_bind_listener(s->http, l);
    if (!*out) {
        evconnlistener_free(l);
        return gf_fail(GF_ENET, "https server: cannot listen on %s:%d", host, port);
    }
    return GF_OK;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Error" : "Internal Server Error";
    }
}

static void req_free(gf_https_req *r)
{
    evhttp_clear_headers(&r->query);
    free(r->path);
    free(r->body);
    free(r);
}

int gf_https_replied(const gf_https_req *r) { return r->answered; }

void gf_https_add_header(gf_https_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

void gf_https_reply_bytes(gf_https_req *r, int status, const char *content_type, const void *data, size_t len)
{
    if (r->answered) return;
    r->answered = 1;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    uint8_t d[GF_SHA256_LEN];
    char hex[GF_SHA256_HEX];
    if (gf_sha256(data, len, d) == GF_OK) {
        gf_hex(d, sizeof d, hex);
        evhttp_add_header(h, "X-Content-SHA256", hex);
    }
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (len) evbuffer_add(evhttp_request_get_output_buffer(r->ev), data, len);
    evhttp_send_reply(r->ev, status, reason(status), NULL);
}

void gf_https_reply_json(gf_https_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        gf_https_reply_error(r, 500, "internal", "could not encode the response");
        return;
    }
    gf_https_reply_bytes(r, status, "application/json", s, strlen(s));
    free(s);
}

void gf_https_reply_error(gf_https_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    const char *fallback = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    gf_https_reply_bytes(r, status, "application/json", s ? s : fallback, strlen(s ? s : fallback));
    free(s);
}

/* The peer named by the connection's client certificate (already verified by
 * the handshake; gf_trust re-checks it and extracts role and name). */
static gf_err peer_of(gf_https_server *s, struct evhttp_request *ev, gf_peer *out, int *revoked)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (!cert) return gf_fail(GF_ECRYPTO, "no client certificate");
    /* The handshake may predate the current CRL: look the serial up in it. */
    X509_REVOKED *rev = NULL;
    if (s->crl && X509_CRL_get0_by_serial(s->crl, &rev, X509_get0_serialNumber(cert)) == 1) {
        char name[GF_NAME_MAX + 1];
        cert_name(cert, name);
        *revoked = 1;
        refused(s, cert, "certificate revoked (request on a connection opened before the revocation)", 0);
        return gf_fail(GF_ECRYPTO, "the certificate of %s (serial 0x%016llx) is revoked", name,
                       (unsigned long long)cert_serial(cert));
    }
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0) return gf_fail(GF_ECRYPTO, "client certificate cannot be encoded");
    gf_err e = gf_trust_check_cert(s->trust, der, (size_t)n, out);
    OPENSSL_free(der);
    return e;
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    gf_https_server *s = arg;
    gf_https_req *r = calloc(1, sizeof *r);
    if (!r) {
        evhttp_send_error(ev, 500, "out of memory");
        return;
    }
    r->ev = ev;
    r->srv = s;
    r->query.tqh_first = NULL; /* TAILQ_INIT without <sys/queue.h> */
    r->query.tqh_last = &r->query.tqh_first;
    int revoked = 0;
    if (peer_of(s, ev, &r->peer, &revoked) != GF_OK) {
        if (revoked) { /* answered, then the connection is closed */
            s->stats.refused_revoked++;
            evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
            gf_https_reply_error(r, 403, "certificate_revoked", "%s", gf_errmsg());
        } else {
            s->stats.refused_peer++;
            gf_https_reply_error(r, 403, "forbidden", "%s", gf_errmsg());
        }
        req_free(r);
        return;
    }
    /* evhttp itself would answer other methods with 501 and an HTML page. */
    enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", "GET, POST");
        gf_https_reply_error(r, 405, "method_not_allowed", "only GET and POST are served");
        req_free(r);
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    r->path = evhttp_uridecode(path && *path ? path : "/", 0, NULL);
    if (!r->path || (query && evhttp_parse_query_str(query, &r->query) != 0)) {
        gf_https_reply_error(r, 400, "bad_request", "malformed request target");
        req_free(r);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t n = evbuffer_get_length(in);
    if (n) {
        r->body = malloc(n);
        if (!r->body || evbuffer_remove(in, r->body, n) != (int)n) {
            gf_https_reply_error(r, 500, "internal", "could not read the body");
            req_free(r);
            return;
        }
        r->body_len = n;
    }
    s->stats.requests++;
    s->handler(r, s->ctx);
    if (!r->answered) gf_https_reply_error(r, 500, "internal", "request was not answered");
    req_free(r);
}

gf_err gf_https_server_new(struct event_base *base, const gf_https_opts *o, gf_https_handler handler, void *ctx,
                           gf_https_server **out)
{
    *out = NULL;
    if (!base || !o || !handler || !o->key_path || !o->cert_path || !o->ca_path)
        return gf_fail(GF_EINVAL, "https server: key, certificate and CA are required");
    gf_https_server *s = calloc(1, sizeof *s);
    if (!s) return gf_fail(GF_ENOMEM, "https server: out of memory");
    s->base = base;
    s->handler = handler;
    s->ctx = ctx;
    s->on_refused = o->on_refused;
    s->refused_ctx = o->refused_ctx;
    s->ca_path = strdup(o->ca_path);
    s->crl_path = o->crl_path ? strdup(o->crl_path) : NULL;
    if (!s->ca_path || (o->crl_path && !s->crl_path)) {
        gf_https_server_free(s);
        return gf_fail(GF_ENOMEM, "https server: out of memory");
    }
    gf_err e = (s->cc = calloc(1, sizeof *s->cc)) ? GF_OK : gf_fail(GF_ENOMEM, "https server: out of memory");
    if (s->cc) s->cc->refs = 1, s->cc->max_conns = GF_HTTPS_MAX_CONNS;
    if (e == GF_OK) e = gf_trust_load(o->ca_path, o->crl_path, &s->trust);
    if (e == GF_OK) e = make_ssl_ctx(s, o);
    if (e == GF_OK && !(s->http = evhttp_new(base))) e = gf_fail(GF_ENOMEM, "https server: evhttp_new failed");
    if (e == GF_OK && s->crl_path) {
        int ms = o->crl_poll_ms > 0 ? o->crl_poll_ms : 1000;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        s->crl_timer = event_new(base, -1, EV_PERSIST, on_crl_timer, s);
        if (!s->crl_timer || event_add(s->crl_timer, &tv)) e = gf_fail(GF_ENOMEM, "https server: cannot schedule the CRL check");
    }
    if (e == GF_OK) {
        evhttp_set_bevcb(s->http, bevcb, s);
        evhttp_set_gencb(s->http, on_request, s);
        evhttp_set_max_body_size(s->http, (ev_ssize_t)(o->max_body ? o->max_body : 64u << 20));
        evhttp_set_max_headers_size(s->http, (ev_ssize_t)(o->max_headers ? o->max_headers : 16u << 10));
        evhttp_set_timeout(s->http, o->timeout_s > 0 ? o->timeout_s : 30);
        /* Every method reaches on_request, which answers all but GET and POST with 405. */
        evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
        const char *host = o->host ? o->host : "127.0.0.1";
        struct evhttp_bound_socket *bs = NULL;
        e = bind_listener(s, host, o->port, &bs);
        if (!e) {
            /* The cap: as configured (default 1024), and never closer than 64 to the descriptor limit. */
            struct rlimit rl;
            int cap = o->max_conns > 0 ? o->max_conns : GF_HTTPS_MAX_CONNS;
            if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)cap + 64)
                cap = rl.rlim_cur > 80 ? (int)rl.rlim_cur - 64 : 16;
            s->cc->max_conns = cap;
            s->cc->listener = evhttp_bound_socket_get_listener(bs);
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    if (e != GF_OK) {
        gf_https_server_free(s);
        return e;
    }
    *out = s;
    return GF_OK;
}

void gf_https_server_free(gf_https_server *s)
{
    if (!s) return;
    if (s->crl_timer) event_free(s->crl_timer);
    if (s->cc) s->cc->listener = NULL; /* evhttp_free frees it before the connections */
    if (s->http) evhttp_free(s->http);
    if (s->cc && --s->cc->refs == 0) free(s->cc);
    SSL_CTX_free(s->ssl);
    gf_trust_free(s->trust);
    X509_free(s->ca);
    X509_CRL_free(s->crl);
    free(s->ca_path), free(s->crl_path);
    free(s);
}

int gf_https_server_port(const gf_https_server *s) { return s->port; }
gf_https_stats gf_https_server_stats(const gf_https_server *s) { return s->stats; }

const char *gf_https_method(const gf_https_req *r)
{
    switch (evhttp_request_get_command(r->ev)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    default: return "OTHER";
    }
}
const char *gf_https_path(const gf_https_req *r) { return r->path; }
const char *gf_https_query(const gf_https_req *r, const char *key) { return evhttp_find_header(&r->query, key); }
const char *gf_https_header(const gf_https_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}
const gf_peer *gf_https_peer(const gf_https_req *r) { return &r->peer; }
const uint8_t *gf_https_body(const gf_https_req *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

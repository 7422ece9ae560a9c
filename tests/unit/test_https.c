/* The coordinator's mTLS endpoint and the node's client, over real sockets on
 * 127.0.0.1, with kits from gf_pki. Refusals are cross-checked with the
 * openssl and curl command-line tools where our own client cannot misbehave
 * (TLS 1.2, no client certificate). */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "coordinator/https_server.h"
#include "crypto/hash.h"
#include "crypto/pki.h"
#include "node/https_client.h"
#include "testutil.h"

typedef struct {
    const char *dir;
    char ca[4][1024];  /* consortium CA dir, other CA dir */
    struct event_base *base;
    gf_https_server *srv;
    pthread_t thread;
    int port;
} fixture;

static char *kit_file(const fixture *f, const char *ca, const char *name, const char *file)
{
    static _Thread_local char buf[4][1400];
    static _Thread_local int k;
    char *b = buf[k++ & 3];
    if (!strcmp(name, "h2")) snprintf(b, sizeof buf[0], "%s/h2kit/%s", f->dir, file);
    else snprintf(b, sizeof buf[0], "%s/kits/%s/%s", ca, name, file);
    return b;
}

static void issue(const char *ca, const char *name, gf_role role)
{
    gf_pki_issue_opts o = {.name = name, .role = role};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
}

/* Echoes who asked and what: the peer comes from the client certificate. */
static void echo(gf_https_req *r, void *ctx)
{
    (void)ctx;
    size_t n;
    const uint8_t *body = gf_https_body(r, &n);
    if (!strcmp(gf_https_path(r), "/big")) {
        size_t len = 2u << 20;
        uint8_t *big = calloc(1, len);
        gf_https_reply_bytes(r, 200, "application/octet-stream", big, len);
        free(big);
        return;
    }
    if (!strcmp(gf_https_path(r), "/missing")) {
        gf_https_reply_error(r, 404, "not_found", "no such thing: %s", gf_https_path(r));
        return;
    }
    uint8_t d[32];
    char hex[65];
    gf_sha256(body, n, d);
    gf_hex(d, 32, hex);
    const char *x = gf_https_query(r, "x");
    gf_https_reply_json(r, 200,
                        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "method", gf_https_method(r), "path",
                                  gf_https_path(r), "name", gf_https_peer(r)->name, "role",
                                  gf_role_name(gf_https_peer(r)->role), "x", x ? x : "", "len", (json_int_t)n));
    (void)hex;
}

/* The server counts an alert after writing it, so a client may see it first:
 * wait (up to 5 s) for the counter to pass `before`. */
static uint64_t refused_after(const fixture *f, uint64_t before)
{
    for (int i = 0; i < 500 && gf_https_server_stats(f->srv).refused_tls <= before; i++) usleep(10000);
    return gf_https_server_stats(f->srv).refused_tls;
}

static void *loop(void *arg)
{
    fixture *f = arg;
    event_base_dispatch(f->base);
    return NULL;
}

static void start(fixture *f)
{
    memset(f, 0, sizeof *f);
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN); /* as the coordinator does: a peer may close mid-write */
    f->dir = tu_dir();
    snprintf(f->ca[0], sizeof f->ca[0], "%s/ca", f->dir);
    snprintf(f->ca[1], sizeof f->ca[1], "%s/other", f->dir);
    cr_assert_eq(gf_pki_init(f->ca[0], "testnet", 3650), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_pki_init(f->ca[1], "othernet", 3650), GF_OK, "%s", gf_errmsg());
    issue(f->ca[0], "coord", GF_ROLE_COORDINATOR);
    issue(f->ca[0], "h1", GF_ROLE_HOSPITAL);
    char h2kit[1200];
    snprintf(h2kit, sizeof h2kit, "%s/h2kit", f->dir); /* outside the CA: revocation parks default kits */
    gf_pki_issue_opts o2 = {.name = "h2", .role = GF_ROLE_HOSPITAL, .kit_dir = h2kit};
    cr_assert_eq(gf_pki_issue(f->ca[0], &o2, NULL), GF_OK, "%s", gf_errmsg());
    issue(f->ca[0], "eval", GF_ROLE_EVALUATOR);
    issue(f->ca[1], "h1", GF_ROLE_HOSPITAL);
    cr_assert_eq(gf_pki_revoke(f->ca[0], "h2"), GF_OK, "%s", gf_errmsg());
    char crl[1200];
    snprintf(crl, sizeof crl, "%s/crl.pem", f->ca[0]);
    gf_https_opts o = {.key_path = kit_file(f, f->ca[0], "coord", "key.pem"),
                       .cert_path = kit_file(f, f->ca[0], "coord", "cert.pem"),
                       .ca_path = kit_file(f, f->ca[0], "coord", "ca.pem"),
                       .crl_path = crl,
                       .max_body = 1u << 20,
                       .timeout_s = 5};
    f->base = event_base_new();
    cr_assert_not_null(f->base);
    cr_assert_eq(gf_https_server_new(f->base, &o, echo, NULL, &f->srv), GF_OK, "%s", gf_errmsg());
    f->port = gf_https_server_port(f->srv);
    cr_assert_gt(f->port, 0);
    cr_assert_eq(pthread_create(&f->thread, NULL, loop, f), 0);
}

static void stop(fixture *f)
{
    event_base_loopbreak(f->base);
    pthread_join(f->thread, NULL);
    gf_https_server_free(f->srv);
    event_base_free(f->base);
}

static gf_https_client *client(const fixture *f, const char *ca, const char *name, const char *trust_ca)
{
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%d", f->port);
    gf_https_client_opts o = {.base_url = url,
                              .key_path = kit_file(f, ca, name, "key.pem"),
                              .cert_path = kit_file(f, ca, name, "cert.pem"),
                              .ca_path = trust_ca,
                              .timeout_ms = 10000};
    gf_https_client *c = NULL;
    cr_assert_eq(gf_https_client_new(&o, &c), GF_OK, "%s", gf_errmsg());
    return c;
}

Test(https, peer_is_the_client_certificate)
{
    fixture f;
    start(&f);
    char ca_pem[1200];
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", f.ca[0]);
    const char *names[] = {"h1", "eval"}, *roles[] = {"hospital", "evaluator"};
    for (int i = 0; i < 2; i++) {
        gf_https_client *c = client(&f, f.ca[0], names[i], ca_pem);
        gf_https_resp r;
        cr_assert_eq(gf_https_get(c, "/v1/hello?x=a%20b", 1 << 16, &r), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.content_type, "application/json");
        json_t *j = json_loadb((const char *)r.body, r.len, 0, NULL);
        cr_assert_not_null(j);
        cr_assert_str_eq(json_string_value(json_object_get(j, "name")), names[i]);
        cr_assert_str_eq(json_string_value(json_object_get(j, "role")), roles[i]);
        cr_assert_str_eq(json_string_value(json_object_get(j, "path")), "/v1/hello");
        cr_assert_str_eq(json_string_value(json_object_get(j, "x")), "a b");
        json_decref(j);
        gf_https_resp_free(&r);
        /* A POST body arrives whole; an error arrives as the documented JSON. */
        uint8_t body[3000];
        for (size_t k = 0; k < sizeof body; k++) body[k] = (uint8_t)(k * 7);
        cr_assert_eq(gf_https_post(c, "/v1/up", "application/octet-stream", body, sizeof body, 1 << 16, &r), GF_OK,
                     "%s", gf_errmsg());
        j = json_loadb((const char *)r.body, r.len, 0, NULL);
        cr_assert_eq(json_integer_value(json_object_get(j, "len")), (json_int_t)sizeof body);
        cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
        json_decref(j);
        gf_https_resp_free(&r);
        cr_assert_eq(gf_https_get(c, "/missing", 1 << 16, &r), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(r.status, 404);
        cr_assert_str_eq(r.error_code, "not_found");
        cr_assert(strstr(r.error_msg, "/missing"));
        gf_https_resp_free(&r);
        gf_https_client_free(c);
    }
    cr_assert_eq(gf_https_server_stats(f.srv).requests, 6);
    stop(&f);
}

Test(https, caps_on_both_sides)
{
    fixture f;
    start(&f);
    char ca_pem[1200];
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", f.ca[0]);
    gf_https_client *c = client(&f, f.ca[0], "h1", ca_pem);
    gf_https_resp r;
    /* 2 MiB response against a 1 MiB client cap. */
    cr_assert_eq(gf_https_get(c, "/big", 1 << 20, &r), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "cap"), "%s", gf_errmsg());
    cr_assert_eq(gf_https_get(c, "/big", 4 << 20, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.len, 2u << 20);
    gf_https_resp_free(&r);
    /* A body over the server's 1 MiB cap is refused with 413 before the handler. */
    size_t n = (1u << 20) + 1;
    uint8_t *big = calloc(1, n);
    gf_err e = gf_https_post(c, "/v1/up", "application/octet-stream", big, n, 1 << 16, &r);
    /* evhttp answers 413 and closes; depending on timing curl sees the status or a reset. */
    if (e == GF_OK) {
        cr_assert_eq(r.status, 413);
        gf_https_resp_free(&r);
    } else {
        cr_assert_eq(e, GF_ENET, "%s", gf_errmsg());
    }
    free(big);
    cr_assert_eq(gf_https_server_stats(f.srv).requests, 2);
    gf_https_client_free(c);
    stop(&f);
}

Test(https, strangers_are_refused)
{
    fixture f;
    start(&f);
    char ca_pem[1200], other_pem[1200];
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", f.ca[0]);
    snprintf(other_pem, sizeof other_pem, "%s/ca.pem", f.ca[1]);
    gf_https_resp r;
    /* A certificate from another CA, a revoked one. */
    const char *who[][2] = {{f.ca[1], "h1"}, {f.ca[0], "h2"}};
    for (int i = 0; i < 2; i++) {
        gf_https_client *c = client(&f, who[i][0], who[i][1], ca_pem);
        gf_err e = gf_https_get(c, "/v1/hello", 1 << 16, &r);
        cr_assert_neq(e, GF_OK, "client %s/%s got in", who[i][0], who[i][1]);
        cr_assert(e == GF_ECRYPTO || e == GF_ENET, "%d %s", e, gf_errmsg());
        gf_https_client_free(c);
    }
    cr_assert_geq(refused_after(&f, 1), 2);
    /* A client that trusts another CA refuses the coordinator. */
    gf_https_client *c = client(&f, f.ca[0], "h1", other_pem);
    cr_assert_eq(gf_https_get(c, "/v1/hello", 1 << 16, &r), GF_ECRYPTO, "%s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), "localhost:"), "%s", gf_errmsg());
    gf_https_client_free(c);
    /* Independent tools: no client certificate (curl), TLS 1.2 (openssl s_client). */
    uint64_t before = gf_https_server_stats(f.srv).refused_tls;
    cr_assert_neq(tu_sh("curl -s -o /dev/null --max-time 5 --cacert %s https://localhost:%d/v1/hello", ca_pem, f.port), 0);
    cr_assert_gt(refused_after(&f, before), before, "no certificate: a fatal alert");
    before = gf_https_server_stats(f.srv).refused_tls;
    cr_assert_neq(tu_sh("openssl s_client -connect 127.0.0.1:%d -tls1_2 -cert %s/kits/h1/cert.pem -key "
                        "%s/kits/h1/key.pem -CAfile %s </dev/null >/dev/null 2>&1",
                        f.port, f.ca[0], f.ca[0], ca_pem),
                  0);
    cr_assert_gt(refused_after(&f, before), before, "TLS 1.2: a fatal alert");
    /* The same tools get in with the right kit (the negative results above mean something). */
    cr_assert_eq(tu_sh("curl -s -o /dev/null --max-time 5 --cacert %s --cert %s/kits/h1/cert.pem --key "
                       "%s/kits/h1/key.pem https://localhost:%d/v1/hello",
                       ca_pem, f.ca[0], f.ca[0], f.port),
                 0);
    /* Plain HTTP on the TLS port gets no HTTP answer (OpenSSL closes without an alert). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char req[] = "GET /v1/hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char buf[256] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    cr_assert(n <= 0 || strncmp(buf, "HTTP/", 5), "plain HTTP was answered: %.40s", buf);
    close(fd);
    cr_assert_eq(gf_https_server_stats(f.srv).requests, 1, "only the curl request with a kit was served");
    stop(&f);
}

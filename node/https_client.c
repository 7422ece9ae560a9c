#include "node/https_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "crypto/hash.h"
#include "node/wire.h"

struct gf_https_client {
    CURL *curl;
    char *base_url;
    char errbuf[CURL_ERROR_SIZE];
    int closed_after_handshake;
    char instance[96];             /* "X-Gaitfed-Instance: …" or "" */
    struct curl_slist *get_hdr;    /* the headers of every GET */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    uint8_t *buf;
    size_t len, cap, limit;
    int over;
    char sha_hex[GF_SHA256_HEX];
    char ctype[64];
    char total[32];
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t k = size * n;
    if (k > s->limit - s->len) {
        s->over = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + k + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->len + k + 1) nc *= 2;
        uint8_t *nb = realloc(s->buf, nc);
        if (!nb) return 0;
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    return k;
}

static void copy_header_value(const char *p, size_t n, char *dst, size_t cap)
{
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t k = size * n;
    static const char sha[] = "X-Content-SHA256:", ct[] = "Content-Type:", tot[] = "X-Gaitfed-Total-Samples:";
    if (k > sizeof sha - 1 && !strncasecmp(p, sha, sizeof sha - 1))
        copy_header_value(p + sizeof sha - 1, k - (sizeof sha - 1), s->sha_hex, sizeof s->sha_hex);
    else if (k > sizeof ct - 1 && !strncasecmp(p, ct, sizeof ct - 1))
        copy_header_value(p + sizeof ct - 1, k - (sizeof ct - 1), s->ctype, sizeof s->ctype);
    else if (k > sizeof tot - 1 && !strncasecmp(p, tot, sizeof tot - 1))
        copy_header_value(p + sizeof tot - 1, k - (sizeof tot - 1), s->total, sizeof s->total);
    return k;
}

gf_err gf_https_client_new(const gf_https_client_opts *o, gf_https_client **out)
{
    *out = NULL;
    if (!o || !o->base_url || !o->key_path || !o->cert_path || !o->ca_path)
        return gf_fail(GF_EINVAL, "https client: base URL, key, certificate and CA are required");
    if (strncmp(o->base_url, "https://", 8))
        return gf_fail(GF_EINVAL, "coordinator URL %s: must start with https://", o->base_url);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return gf_fail(GF_ENET, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    gf_https_client *c = calloc(1, sizeof *c);
    if (!c || !(c->base_url = strdup(o->base_url)) || !(c->curl = curl_easy_init())) {
        gf_https_client_free(c);
        return gf_fail(GF_ENOMEM, "https client: out of memory");
    }
    if (o->instance) {
        int n = snprintf(c->instance, sizeof c->instance, "X-Gaitfed-Instance: %s", o->instance);
        if (n < 0 || (size_t)n >= sizeof c->instance || !(c->get_hdr = curl_slist_append(NULL, c->instance))) {
            gf_https_client_free(c);
            return gf_fail(GF_EINVAL, "https client: instance id too long or out of memory");
        }
    }
    size_t bl = strlen(c->base_url);
    while (bl && c->base_url[bl - 1] == '/') c->base_url[--bl] = 0;
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert_path);
    curl_easy_setopt(h, CURLOPT_SSLKEY, o->key_path);
    curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_path);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 120000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    *out = c;
    return GF_OK;
}

int gf_https_closed_after_handshake(const gf_https_client *c) { return c->closed_after_handshake; }

void gf_https_client_free(gf_https_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->get_hdr);
    free(c->base_url);
    free(c);
}

void gf_https_resp_free(gf_https_resp *r)
{
    if (!r) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void parse_error_body(gf_https_resp *r)
{
    gf_wire_parse_error(r->body, r->len, r->error_code, sizeof r->error_code, r->error_msg, sizeof r->error_msg);
}

static gf_err perform(gf_https_client *c, const char *path, size_t cap, gf_https_resp *resp, struct curl_slist *hdr)
{
    memset(resp, 0, sizeof *resp);
    size_t n = strlen(c->base_url) + strlen(path) + 1;
    char *url = malloc(n);
    if (!url) return gf_fail(GF_ENOMEM, "https client: out of memory");
    snprintf(url, n, "%s%s", c->base_url, path);
    sink s = {.limit = cap};
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    c->errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    /* TLS 1.3: a server refusing our certificate does so after the client's
     * side of the handshake is done, so it shows as a send/receive failure. */
    double app = 0;
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &app);
    c->closed_after_handshake = app > 0 && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING);
    gf_err e = GF_OK;
    if (s.over) {
        e = gf_fail(GF_ERANGE, "%s: response body over the cap of %zu bytes", url, cap);
    } else if (rc != CURLE_OK) {
        const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
        /* A peer that vanished mid-handshake (a coordinator killed or
         * restarting) is the network, not a certificate problem: retried. */
        long oserr = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        int gone = oserr == ECONNRESET || oserr == EPIPE || oserr == ECONNREFUSED || oserr == ECONNABORTED;
        int tls = !gone && (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
                  rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CIPHER ||
                  rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CRL_BADFILE);
        e = gf_fail(tls ? GF_ECRYPTO : GF_ENET, "%s: %s", url, why);
    }
    if (e == GF_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!s.buf) s.buf = calloc(1, 1);
        if (!s.buf) e = gf_fail(GF_ENOMEM, "https client: out of memory");
    }
    if (e == GF_OK) {
        s.buf[s.len] = 0;
        resp->body = s.buf;
        resp->len = s.len;
        s.buf = NULL;
        snprintf(resp->content_type, sizeof resp->content_type, "%s", s.ctype);
        snprintf(resp->total_samples, sizeof resp->total_samples, "%s", s.total);
        if (s.sha_hex[0]) {
            uint8_t want[GF_SHA256_LEN], got[GF_SHA256_LEN];
            if (gf_unhex(s.sha_hex, want, sizeof want) != GF_OK || gf_sha256(resp->body, resp->len, got) != GF_OK ||
                memcmp(want, got, sizeof want))
                e = gf_fail(GF_EFORMAT, "%s: body does not match its X-Content-SHA256", url);
        }
        if (e == GF_OK && resp->status >= 400) parse_error_body(resp);
    }
    free(s.buf);
    free(url);
    if (e != GF_OK) gf_https_resp_free(resp);
    return e;
}

gf_err gf_https_get(gf_https_client *c, const char *path, size_t cap, gf_https_resp *resp)
{
    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    return perform(c, path, cap, resp, c->get_hdr);
}

gf_err gf_https_post(gf_https_client *c, const char *path, const char *content_type, const void *body, size_t len,
                     size_t cap, gf_https_resp *resp)
{
    return gf_https_post_hdr(c, path, content_type, NULL, body, len, cap, resp);
}

gf_err gf_https_post_hdr(gf_https_client *c, const char *path, const char *content_type, const char *extra_header,
                         const void *body, size_t len, size_t cap, gf_https_resp *resp)
{
    char ct[128], sha[GF_SHA256_HEX + 32];
    uint8_t d[GF_SHA256_LEN];
    char hex[GF_SHA256_HEX];
    GF_TRY(gf_sha256(body, len, d));
    gf_hex(d, sizeof d, hex);
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    snprintf(sha, sizeof sha, "X-Content-SHA256: %s", hex);
    struct curl_slist *hdr = NULL, *t;
    if (!(t = curl_slist_append(hdr, ct))) return gf_fail(GF_ENOMEM, "https client: out of memory");
    hdr = t;
    if (!(t = curl_slist_append(hdr, sha)) || !(hdr = t, t = curl_slist_append(hdr, "Expect:"))) {
        curl_slist_free_all(hdr);
        return gf_fail(GF_ENOMEM, "https client: out of memory");
    }
    hdr = t;
    if (c->instance[0]) {
        if (!(t = curl_slist_append(hdr, c->instance))) {
            curl_slist_free_all(hdr);
            return gf_fail(GF_ENOMEM, "https client: out of memory");
        }
        hdr = t;
    }
    if (extra_header) {
        if (!(t = curl_slist_append(hdr, extra_header))) {
            curl_slist_free_all(hdr);
            return gf_fail(GF_ENOMEM, "https client: out of memory");
        }
        hdr = t;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    gf_err e = perform(c, path, cap, resp, hdr);
    curl_slist_free_all(hdr);
    return e;
}

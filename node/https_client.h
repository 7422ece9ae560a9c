/* The node's HTTPS client (libcurl): its kit's certificate and key, the
 * consortium CA as the only trust anchor (the system store is never used),
 * TLS 1.3 only, the host name checked against the coordinator certificate.
 * Every response body is capped by the caller and checked against the
 * X-Content-SHA256 header when the server sends one. One client per thread. */
#ifndef GF_HTTPS_CLIENT_H
#define GF_HTTPS_CLIENT_H
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct {
    const char *base_url;            /* "https://localhost:8443" */
    const char *key_path, *cert_path; /* the party's kit */
    const char *ca_path;             /* consortium CA */
    long connect_timeout_ms;         /* 0: 5000 */
    long timeout_ms;                 /* whole request; 0: 120000 */
    const char *instance;            /* sent as X-Gaitfed-Instance with every request; NULL: none */
} gf_https_client_opts;

typedef struct gf_https_client gf_https_client;

typedef struct {
    long status;          /* HTTP status */
    uint8_t *body;        /* owned; NUL-terminated for convenience (len excludes it) */
    size_t len;
    char content_type[64];
    char error_code[64];  /* from {"error":{"code":…}} when status >= 400 */
    char error_msg[256];
    char total_samples[32]; /* X-Gaitfed-Total-Samples ("" when absent) */
} gf_https_resp;

gf_err gf_https_client_new(const gf_https_client_opts *o, gf_https_client **out);
void gf_https_client_free(gf_https_client *c);

/* GET/POST path (appended to base_url). Transport failures: GF_ENET (refused,
 * timed out) or GF_ECRYPTO (TLS: certificate refused, wrong CA, TLS < 1.3),
 * with curl's message. An HTTP error status is not a failure here: the
 * caller reads resp->status. A body over cap: GF_ERANGE. A body whose
 * SHA-256 differs from X-Content-SHA256: GF_EFORMAT. */
gf_err gf_https_get(gf_https_client *c, const char *path, size_t cap, gf_https_resp *resp);
gf_err gf_https_post(gf_https_client *c, const char *path, const char *content_type, const void *body, size_t len,
                     size_t cap, gf_https_resp *resp);
/* 1 when the last request failed after the TLS handshake completed and
 * before any HTTP answer: with TLS 1.3 that is how a server refusing the
 * client's certificate looks (or a server that died mid-request). */
int gf_https_closed_after_handshake(const gf_https_client *c);
/* POST with one more request header ("Name: value"; NULL: none). */
gf_err gf_https_post_hdr(gf_https_client *c, const char *path, const char *content_type, const char *extra_header,
                         const void *body, size_t len, size_t cap, gf_https_resp *resp);
void gf_https_resp_free(gf_https_resp *resp);

#endif

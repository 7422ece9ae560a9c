/* Building and signing X.509 v3 certificates and CRLs for the consortium CA.
 * Every key is Ed25519, so every signature is made with a NULL digest. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "crypto/pki_cert.h"
#include "crypto/x509util.h"

static gf_err set_serial(ASN1_INTEGER *dst, uint64_t serial)
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++) be[i] = (unsigned char)(serial >> (56 - 8 * i));
    BIGNUM *bn = BN_bin2bn(be, 8, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, dst);
    BN_free(bn);
    return ok ? GF_OK : gf_fail(GF_ECRYPTO, "serial: %s", gf_ossl_reason());
}

gf_err gf_pki_random_serial(const gf_pki_index *ix, uint64_t *out)
{
    for (int tries = 0; tries < 64; tries++) {
        unsigned char b[8];
        if (RAND_bytes(b, 8) != 1) return gf_fail(GF_ECRYPTO, "RAND_bytes: %s", gf_ossl_reason());
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | b[i];
        /* Top bit clear: positive as a DER INTEGER in 8 bytes and in int64. */
        v &= 0x7fffffffffffffffULL;
        if (v == 0 || (ix && gf_pki_index_find_serial(ix, v) >= 0)) continue;
        *out = v;
        return GF_OK;
    }
    return gf_fail(GF_ECRYPTO, "no unused serial found");
}

static gf_err add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ok) return gf_fail(GF_ECRYPTO, "extension %s=%s: %s", OBJ_nid2sn(nid), value, gf_ossl_reason());
    return GF_OK;
}

int gf_pki_host_valid(const char *h, int *is_ip)
{
    unsigned char buf[16];
    *is_ip = inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
    if (*is_ip) return 1;
    /* A DNS name: labels of [A-Za-z0-9-] separated by dots (no commas or
     * colons, which would change the meaning of the extension text). */
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return 0;
        if (++label > 63) return 0;
    }
    return label > 0;
}

static gf_err add_name(X509_NAME *n, const char *field, const char *value)
{
    if (!X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0))
        return gf_fail(GF_ECRYPTO, "subject %s: %s", field, gf_ossl_reason());
    return GF_OK;
}

gf_err gf_pki_make_cert(const gf_cert_spec *s, X509 **out)
{
    *out = NULL;
    X509 *x = X509_new();
    if (!x) return gf_fail(GF_ENOMEM, "out of memory");
    X509_NAME *sub = X509_get_subject_name(x);
    gf_err e = GF_OK;
    if (!X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, s->pubkey) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), s->not_before) || !ASN1_TIME_set(X509_getm_notAfter(x), s->not_after))
        e = gf_fail(GF_ECRYPTO, "certificate: %s", gf_ossl_reason());
    if (!e) e = set_serial(X509_get_serialNumber(x), s->serial);
    if (!e) e = add_name(sub, "O", s->consortium);
    if (!e && s->role != GF_ROLE_NONE) e = add_name(sub, "OU", gf_role_name(s->role));
    if (!e) e = add_name(sub, "CN", s->cn);
    X509 *issuer = s->issuer ? s->issuer : x; /* NULL issuer: self-signed CA */
    if (!e && !X509_set_issuer_name(x, X509_get_subject_name(issuer)))
        e = gf_fail(GF_ECRYPTO, "issuer: %s", gf_ossl_reason());
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if (!e && !X509V3_set_issuer_pkey(&ctx, s->issuer_key))
        e = gf_fail(GF_ECRYPTO, "issuer key: %s", gf_ossl_reason());
    if (s->role == GF_ROLE_NONE) { /* the CA */
        if (!e) e = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        if (!e) e = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        if (!e) e = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
        if (!e) e = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    } else {
        if (!e) e = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        if (!e) e = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        if (!e) e = add_ext(x, &ctx, NID_ext_key_usage,
                            s->role == GF_ROLE_COORDINATOR ? "serverAuth,clientAuth" : "clientAuth");
        if (!e) e = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
        if (!e) e = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        if (!e && s->role == GF_ROLE_COORDINATOR) {
            static const char *const dflt[] = {"localhost", "127.0.0.1"};
            const char *const *hosts = s->n_hosts ? s->hosts : dflt;
            size_t nh = s->n_hosts ? s->n_hosts : 2;
            char san[GF_PKI_HOSTS_MAX * 264];
            size_t at = 0;
            san[0] = 0;
            for (size_t i = 0; !e && i < nh; i++) {
                int ip;
                if (i >= GF_PKI_HOSTS_MAX || !gf_pki_host_valid(hosts[i], &ip))
                    e = gf_fail(GF_EINVAL, "host '%.80s': not a DNS name or IP address", hosts[i]);
                else
                    at += (size_t)snprintf(san + at, sizeof san - at, "%s%s:%s", i ? "," : "", ip ? "IP" : "DNS",
                                           hosts[i]);
            }
            if (!e) e = add_ext(x, &ctx, NID_subject_alt_name, san);
        }
    }
    if (!e && !X509_sign(x, s->issuer_key, NULL)) e = gf_fail(GF_ECRYPTO, "signing the certificate: %s", gf_ossl_reason());
    if (e) { X509_free(x); return e; }
    *out = x;
    return GF_OK;
}

gf_err gf_pki_make_crl(X509 *ca, EVP_PKEY *ca_key, const gf_pki_index *ix, time_t now, int days, X509_CRL **out)
{
    *out = NULL;
    X509_CRL *crl = X509_CRL_new();
    if (!crl) return gf_fail(GF_ENOMEM, "out of memory");
    gf_err e = GF_OK;
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    if (!t || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) || !ASN1_TIME_set(t, now) ||
        !X509_CRL_set1_lastUpdate(crl, t) || !ASN1_TIME_set(t, now + (time_t)days * 86400) ||
        !X509_CRL_set1_nextUpdate(crl, t))
        e = gf_fail(GF_ECRYPTO, "CRL: %s", gf_ossl_reason());
    for (size_t i = 0; !e && i < ix->n; i++) {
        const gf_pki_entry *c = &ix->certs[i];
        if (!c->revoked) continue;
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *sn = ASN1_INTEGER_new();
        int ok = r && sn && !set_serial(sn, c->serial) && X509_REVOKED_set_serialNumber(r, sn) &&
                 ASN1_TIME_set(t, (time_t)c->revoked_at) && X509_REVOKED_set_revocationDate(r, t) &&
                 X509_CRL_add0_revoked(crl, r);
        ASN1_INTEGER_free(sn);
        if (!ok) {
            X509_REVOKED_free(r);
            e = gf_fail(GF_ECRYPTO, "CRL entry 0x%016llx: %s", (unsigned long long)c->serial, gf_ossl_reason());
        }
    }
    if (!e) e = set_serial(num, ix->crl_number);
    if (!e) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
        X509_EXTENSION *akid = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        if (!X509_CRL_sort(crl) || !akid || !X509_CRL_add_ext(crl, akid, -1) ||
            !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
            e = gf_fail(GF_ECRYPTO, "CRL extensions: %s", gf_ossl_reason());
        X509_EXTENSION_free(akid);
    }
    if (!e && !X509_CRL_sign(crl, ca_key, NULL)) e = gf_fail(GF_ECRYPTO, "signing the CRL: %s", gf_ossl_reason());
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(num);
    if (e) { X509_CRL_free(crl); return e; }
    *out = crl;
    return GF_OK;
}

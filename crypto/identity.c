/* gf_identity (own key + certificate, signs) and gf_trust (consortium CA and
 * CRL, checks other parties' certificates and signatures). */
#include "crypto/identity.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"
#include "crypto/x509util.h"

static const char *const role_names[] = {"none", "hospital", "evaluator", "coordinator"};

const char *gf_role_name(gf_role role)
{
    return (int)role >= 0 && (int)role <= GF_ROLE_COORDINATOR ? role_names[role] : "none";
}

gf_err gf_role_parse(const char *s, gf_role *out)
{
    for (int r = GF_ROLE_HOSPITAL; r <= GF_ROLE_COORDINATOR; r++)
        if (!strcmp(s, role_names[r])) { *out = (gf_role)r; return GF_OK; }
    return gf_fail(GF_EINVAL, "role '%.64s': expected hospital, evaluator or coordinator", s);
}

int gf_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= GF_NAME_MAX) return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    /* "." and ".." would be path components in kits/<name>. */
    return n > 0 && strcmp(s, ".") && strcmp(s, "..");
}

/* ---- identity ---------------------------------------------------------- */

struct gf_identity {
    EVP_PKEY *key;   /* owned */
    uint8_t *der;    /* owned, the certificate */
    size_t der_len;
    gf_peer peer;
};

gf_err gf_identity_load(const char *key_path, const char *cert_path, gf_identity **out)
{
    *out = NULL;
    gf_identity *id = calloc(1, sizeof *id);
    if (!id) return gf_fail(GF_ENOMEM, "out of memory");
    X509 *cert = NULL;
    gf_err e = gf_x509_read_ed25519_key(key_path, &id->key);
    if (!e) e = gf_x509_read_cert(cert_path, &cert);
    if (!e && !X509_check_private_key(cert, id->key)) {
        ERR_clear_error();
        e = gf_fail(GF_ECRYPTO, "%s: key does not match the certificate %s", key_path, cert_path);
    }
    if (!e) {
        int n = i2d_X509(cert, &id->der);
        if (n <= 0) e = gf_fail(GF_ECRYPTO, "%s: DER encoding: %s", cert_path, gf_ossl_reason());
        else if ((size_t)n > GF_CERT_DER_MAX) e = gf_fail(GF_ERANGE, "%s: certificate larger than %d bytes", cert_path, GF_CERT_DER_MAX);
        else id->der_len = (size_t)n;
    }
    if (!e) e = gf_x509_peer(cert, id->der, id->der_len, cert_path, &id->peer);
    X509_free(cert);
    if (e) { gf_identity_free(id); return e; }
    *out = id;
    return GF_OK;
}

gf_err gf_identity_load_kit(const char *kit_dir, gf_identity **out)
{
    *out = NULL;
    char *k = gf_path_join(kit_dir, "key.pem"), *c = gf_path_join(kit_dir, "cert.pem");
    gf_err e = k && c ? gf_identity_load(k, c, out) : gf_fail(GF_ENOMEM, "out of memory");
    free(k);
    free(c);
    return e;
}

void gf_identity_free(gf_identity *id)
{
    if (!id) return;
    EVP_PKEY_free(id->key);
    OPENSSL_free(id->der);
    free(id);
}

const gf_peer *gf_identity_peer(const gf_identity *id) { return &id->peer; }

const uint8_t *gf_identity_cert_der(const gf_identity *id, size_t *len)
{
    *len = id->der_len;
    return id->der;
}

gf_err gf_identity_sign(const gf_identity *id, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = GF_SIG_MAX;
    /* Ed25519 is "pure": no digest (NULL md), one-shot EVP_DigestSign. */
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, id->key) == 1 &&
             EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == GF_SIG_MAX;
    EVP_MD_CTX_free(ctx);
    if (!ok) return gf_fail(GF_ECRYPTO, "Ed25519 signing: %s", gf_ossl_reason());
    *sig_len = n;
    return GF_OK;
}

/* ---- trust ------------------------------------------------------------- */

struct gf_trust {
    X509_STORE *store;  /* owned: the CA certificate (and CRL) */
    X509 *ca;           /* owned */
    int has_crl;
    char consortium[GF_NAME_MAX + 1];
};

void gf_trust_free(gf_trust *t)
{
    if (!t) return;
    X509_STORE_free(t->store);
    X509_free(t->ca);
    free(t);
}

gf_err gf_trust_load(const char *ca_path, const char *crl_path, gf_trust **out)
{
    *out = NULL;
    gf_trust *t = calloc(1, sizeof *t);
    if (!t) return gf_fail(GF_ENOMEM, "out of memory");
    X509_CRL *crl = NULL;
    gf_err e = gf_x509_read_cert(ca_path, &t->ca);
    if (!e) {
        /* The CA must be a CA whose O is a consortium name. */
        const X509_NAME *sub = X509_get_subject_name(t->ca);
        int i = X509_NAME_get_index_by_NID(sub, NID_organizationName, -1);
        const ASN1_STRING *s = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, i)) : NULL;
        int n = s ? ASN1_STRING_length(s) : 0;
        if (n > 0 && n <= GF_NAME_MAX) memcpy(t->consortium, ASN1_STRING_get0_data(s), (size_t)n);
        if (!gf_name_valid(t->consortium))
            e = gf_fail(GF_ECRYPTO, "%s: subject O is not a valid consortium name", ca_path);
        else if (X509_check_ca(t->ca) == 0)
            e = gf_fail(GF_ECRYPTO, "%s: not a CA certificate", ca_path);
    }
    if (!e) {
        t->store = X509_STORE_new();
        if (!t->store || !X509_STORE_add_cert(t->store, t->ca))
            e = gf_fail(GF_ECRYPTO, "%s: %s", ca_path, gf_ossl_reason());
    }
    if (!e && crl_path) {
        e = gf_x509_read_crl(crl_path, &crl);
        if (!e) e = gf_x509_check_crl(t->ca, crl, crl_path, ca_path);
        if (!e && !X509_STORE_add_crl(t->store, crl)) e = gf_fail(GF_ECRYPTO, "%s: %s", crl_path, gf_ossl_reason());
        if (!e) t->has_crl = 1;
    }
    X509_CRL_free(crl); /* the store holds its own reference */
    if (e) { gf_trust_free(t); return e; }
    *out = t;
    return GF_OK;
}

static gf_err check_cert(const gf_trust *t, const uint8_t *der, size_t len, gf_peer *out);

gf_err gf_trust_check_cert(const gf_trust *t, const uint8_t *der, size_t len, gf_peer *out)
{
    gf_peer p;
    gf_err e = check_cert(t, der, len, &p);
    if (out) *out = p; /* out may be NULL: a yes/no check */
    return e;
}

static gf_err check_cert(const gf_trust *t, const uint8_t *der, size_t len, gf_peer *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > GF_CERT_DER_MAX)
        return gf_fail(GF_ECRYPTO, "certificate: %zu bytes, expected 1..%d", len, GF_CERT_DER_MAX);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) return gf_fail(GF_ECRYPTO, "certificate: not DER X.509 (%s)", gf_ossl_reason());
    /* Exactly one certificate, in canonical DER: the fingerprint is then
     * a unique name for it. */
    unsigned char *re = NULL;
    int rn = i2d_X509(x, &re);
    int canonical = p == der + len && rn == (int)len && !memcmp(re, der, len);
    OPENSSL_free(re);
    if (!canonical) {
        X509_free(x);
        return gf_fail(GF_ECRYPTO, "certificate: trailing bytes or not canonical DER");
    }
    gf_err e = GF_OK;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || !X509_STORE_CTX_init(ctx, t->store, x, NULL)) {
        e = gf_fail(GF_ECRYPTO, "certificate: %s", gf_ossl_reason());
    } else {
        X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
        unsigned long flags = X509_V_FLAG_X509_STRICT;
        if (t->has_crl) flags |= X509_V_FLAG_CRL_CHECK;
        X509_VERIFY_PARAM_set_flags(vp, flags);
        /* Chain is leaf -> CA only: no intermediates are accepted. */
        X509_VERIFY_PARAM_set_depth(vp, 0);
        if (X509_verify_cert(ctx) != 1) {
            int err = X509_STORE_CTX_get_error(ctx);
            e = gf_fail(GF_ECRYPTO, "certificate: %s", X509_verify_cert_error_string(err));
        }
        ERR_clear_error();
    }
    X509_STORE_CTX_free(ctx);
    /* Leaf only: a CA certificate is never a party. */
    if (!e && X509_check_ca(x) != 0) e = gf_fail(GF_ECRYPTO, "certificate: is a CA certificate, not a party's");
    if (!e && !EVP_PKEY_is_a(X509_get0_pubkey(x), "ED25519"))
        e = gf_fail(GF_ECRYPTO, "certificate: key is not Ed25519");
    if (!e) e = gf_x509_peer(x, der, len, "certificate", out);
    if (!e && strcmp(out->consortium, t->consortium))
        e = gf_fail(GF_ECRYPTO, "certificate: consortium '%s' is not the CA's '%s'", out->consortium, t->consortium);
    X509_free(x);
    if (e) memset(out, 0, sizeof *out);
    return e;
}

gf_err gf_trust_verify(const gf_trust *t, const uint8_t *cert_der, size_t cert_len, const uint8_t *msg,
                       size_t msg_len, const uint8_t *sig, size_t sig_len, gf_peer *out)
{
    gf_peer peer;
    gf_err e = gf_trust_check_cert(t, cert_der, cert_len, &peer);
    if (e) {
        if (out) memset(out, 0, sizeof *out);
        return e;
    }
    if (sig_len != GF_SIG_MAX) {
        if (out) memset(out, 0, sizeof *out);
        return gf_fail(GF_ECRYPTO, "signature of %s: %zu bytes, expected %d", peer.name, sig_len, GF_SIG_MAX);
    }
    const unsigned char *p = cert_der;
    X509 *x = d2i_X509(NULL, &p, (long)cert_len);
    EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = pub && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    X509_free(x);
    ERR_clear_error();
    if (!ok) {
        if (out) memset(out, 0, sizeof *out);
        return gf_fail(GF_ECRYPTO, "signature of %s does not verify", peer.name);
    }
    if (out) *out = peer;
    return GF_OK;
}

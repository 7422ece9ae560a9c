#include "crypto/x509util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/fileio.h"

const char *gf_ossl_reason(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e) snprintf(buf, sizeof buf, "unknown OpenSSL error");
    else ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

/* Reads path (capped) into a read-only memory BIO. *raw is the file buffer,
 * which the caller wipes (keys) and frees after the BIO. */
static gf_err open_bio(const char *path, size_t cap, unsigned char **raw, BIO **bio)
{
    size_t len;
    GF_TRY(gf_read_file(path, cap, raw, &len));
    *bio = BIO_new_mem_buf(*raw, (int)len);
    if (!*bio) {
        free(*raw);
        return gf_fail(GF_ENOMEM, "%s: out of memory", path);
    }
    return GF_OK;
}

gf_err gf_x509_read_cert(const char *path, X509 **out)
{
    unsigned char *raw;
    BIO *b;
    *out = NULL;
    GF_TRY(open_bio(path, GF_PEM_MAX, &raw, &b));
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    free(raw);
    if (!x) return gf_fail(GF_EFORMAT, "%s: not a PEM certificate (%s)", path, gf_ossl_reason());
    *out = x;
    return GF_OK;
}

gf_err gf_x509_read_crl(const char *path, X509_CRL **out)
{
    unsigned char *raw;
    BIO *b;
    *out = NULL;
    GF_TRY(open_bio(path, GF_CRL_MAX, &raw, &b));
    X509_CRL *c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
    BIO_free(b);
    free(raw);
    if (!c) return gf_fail(GF_EFORMAT, "%s: not a PEM CRL (%s)", path, gf_ossl_reason());
    *out = c;
    return GF_OK;
}

gf_err gf_x509_check_crl(X509 *ca, X509_CRL *crl, const char *crl_path, const char *ca_path)
{
    EVP_PKEY *pub = X509_get0_pubkey(ca);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
        return gf_fail(GF_ECRYPTO, "%s: CRL issuer is not the CA %s", crl_path, ca_path);
    if (!pub || X509_CRL_verify(crl, pub) != 1) {
        ERR_clear_error();
        return gf_fail(GF_ECRYPTO, "%s: CRL signature does not verify with the CA %s", crl_path, ca_path);
    }
    return GF_OK;
}

gf_err gf_x509_read_ed25519_key(const char *path, EVP_PKEY **out)
{
    unsigned char *raw;
    BIO *b;
    *out = NULL;
    GF_TRY(open_bio(path, GF_PEM_MAX, &raw, &b));
    size_t len = (size_t)BIO_get_mem_data(b, NULL);
    /* No passphrase callback: kits hold unencrypted keys (mode 0600). */
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    OPENSSL_cleanse(raw, len);
    free(raw);
    if (!k) return gf_fail(GF_EFORMAT, "%s: not a PEM private key (%s)", path, gf_ossl_reason());
    if (!EVP_PKEY_is_a(k, "ED25519")) {
        gf_err e = gf_fail(GF_ECRYPTO, "%s: key type %s, expected Ed25519", path, EVP_PKEY_get0_type_name(k));
        EVP_PKEY_free(k);
        return e;
    }
    *out = k;
    return GF_OK;
}

gf_err gf_x509_serial_u64(const ASN1_INTEGER *s, uint64_t *out)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);
    if (!bn) return gf_fail(GF_ECRYPTO, "serial: %s", gf_ossl_reason());
    int ok = !BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bits(bn) <= 64;
    uint64_t v = 0;
    if (ok) {
        unsigned char be[8];
        ok = BN_bn2binpad(bn, be, 8) == 8;
        for (int i = 0; i < 8; i++) v = v << 8 | be[i];
    }
    BN_free(bn);
    if (!ok) return gf_fail(GF_ECRYPTO, "serial is not a positive 64-bit integer");
    *out = v;
    return GF_OK;
}

/* The single entry of nid in name into buf; 0 if missing, repeated, not
 * a valid gf name, or too long. */
static int subject_entry(const X509_NAME *name, int nid, char *buf, size_t cap)
{
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0) return 0;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    int n = ASN1_STRING_length(s);
    if (n <= 0 || (size_t)n >= cap) return 0;
    memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
    buf[n] = 0;
    return strlen(buf) == (size_t)n; /* no embedded NUL */
}

gf_err gf_x509_peer(X509 *cert, const uint8_t *der, size_t der_len, const char *what, gf_peer *p)
{
    memset(p, 0, sizeof *p);
    const X509_NAME *sub = X509_get_subject_name(cert);
    char role[GF_NAME_MAX + 1];
    if (!subject_entry(sub, NID_organizationalUnitName, role, sizeof role) || gf_role_parse(role, &p->role))
        return gf_fail(GF_ECRYPTO, "%s: subject OU is not a known role (hospital|evaluator|coordinator)", what);
    if (!subject_entry(sub, NID_commonName, p->name, sizeof p->name) || !gf_name_valid(p->name))
        return gf_fail(GF_ECRYPTO, "%s: subject CN is not a valid party name", what);
    if (!subject_entry(sub, NID_organizationName, p->consortium, sizeof p->consortium) ||
        !gf_name_valid(p->consortium))
        return gf_fail(GF_ECRYPTO, "%s: subject O is not a valid consortium name", what);
    if (gf_x509_serial_u64(X509_get0_serialNumber(cert), &p->serial))
        return gf_fail(GF_ECRYPTO, "%s: serial is not a positive 64-bit integer", what);
    unsigned int mdlen = 0;
    if (!EVP_Digest(der, der_len, p->fingerprint, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return gf_fail(GF_ECRYPTO, "%s: SHA-256: %s", what, gf_ossl_reason());
    return GF_OK;
}

gf_err gf_write_file_mode(const char *path, const void *buf, size_t len, mode_t mode)
{
    gf_atomic_file af;
    GF_TRY(gf_atomic_open(&af, path));
    if (fchmod(fileno(af.fp), mode) != 0 || (len && fwrite(buf, 1, len, af.fp) != len)) {
        gf_err e = gf_fail(GF_EIO, "%s: write failed: %s", path, strerror(errno));
        gf_atomic_abort(&af);
        return e;
    }
    return gf_atomic_commit(&af);
}

/* Copies a memory BIO's contents into a malloc'd NUL-terminated buffer. */
static gf_err bio_take(BIO *b, int ok, const char *what, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!ok) {
        BIO_free(b);
        return gf_fail(GF_ECRYPTO, "PEM encoding of the %s: %s", what, gf_ossl_reason());
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    if (!s) { BIO_free(b); return gf_fail(GF_ENOMEM, "out of memory"); }
    memcpy(s, data, (size_t)n);
    s[n] = 0;
    BIO_free(b); /* a secmem BIO wipes its buffer */
    *out = s;
    *len = (size_t)n;
    return GF_OK;
}

gf_err gf_pem_cert(X509 *x, char **out, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return gf_fail(GF_ENOMEM, "out of memory");
    return bio_take(b, PEM_write_bio_X509(b, x), "certificate", out, len);
}

gf_err gf_pem_crl(X509_CRL *c, char **out, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return gf_fail(GF_ENOMEM, "out of memory");
    return bio_take(b, PEM_write_bio_X509_CRL(b, c), "CRL", out, len);
}

gf_err gf_pem_key(EVP_PKEY *k, char **out, size_t *len)
{
    BIO *b = BIO_new(BIO_s_secmem());
    if (!b) return gf_fail(GF_ENOMEM, "out of memory");
    return bio_take(b, PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), "private key", out, len);
}

gf_err gf_ed25519_keygen(EVP_PKEY **out)
{
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!*out) return gf_fail(GF_ECRYPTO, "Ed25519 key generation: %s", gf_ossl_reason());
    return GF_OK;
}

void gf_time_iso(int64_t t, char buf[static 32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) { snprintf(buf, 32, "?"); return; }
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int gf_time_parse_iso(const char *s, int64_t *out)
{
    int Y, M, D, h, m, sec, n = 0;
    if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 20)
        return 0;
    if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59 || h < 0 ||
        m < 0 || sec < 0)
        return 0;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return 0;
    char back[32];
    gf_time_iso((int64_t)t, back);
    if (strcmp(back, s)) return 0; /* e.g. 2026-02-31 normalized away */
    *out = (int64_t)t;
    return 1;
}

int gf_asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 0;
    time_t v = timegm(&tm);
    if (v == (time_t)-1) return 0;
    *out = (int64_t)v;
    return 1;
}

/* Certificate and CRL construction for the CA (internal to crypto/). */
#ifndef GF_PKI_CERT_H
#define GF_PKI_CERT_H
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/pki_internal.h"

typedef struct {
    const char *consortium;     /* subject O */
    const char *cn;             /* subject CN */
    gf_role role;               /* subject OU; GF_ROLE_NONE: the self-signed CA */
    EVP_PKEY *pubkey;           /* subject key (borrowed) */
    X509 *issuer;               /* NULL for the CA itself (borrowed) */
    EVP_PKEY *issuer_key;       /* borrowed */
    uint64_t serial;
    time_t not_before, not_after;
    const char *const *hosts;   /* coordinator subjectAltName; none: localhost, 127.0.0.1 */
    size_t n_hosts;
} gf_cert_spec;

gf_err gf_pki_make_cert(const gf_cert_spec *s, X509 **out);
/* CRL of every revoked entry in ix, numbered ix->crl_number (caller frees). */
gf_err gf_pki_make_crl(X509 *ca, EVP_PKEY *ca_key, const gf_pki_index *ix, time_t now, int days, X509_CRL **out);
/* A random positive 63-bit serial not used in ix (ix may be NULL). */
gf_err gf_pki_random_serial(const gf_pki_index *ix, uint64_t *out);
/* 1 if h is an IPv4/IPv6 address (*is_ip = 1) or a DNS name. */
int gf_pki_host_valid(const char *h, int *is_ip);

#endif

/* Who a party is, and whom it trusts.
 *
 * A gf_identity is one party's certificate key (it signs) and certificate, as
 * written by `gaitfed pki issue` into a kit directory (key.pem, cert.pem).
 * A gf_trust is the consortium trust anchor (ca.pem, optionally crl.pem): it
 * checks every other party's certificate and signatures. Every key is
 * Ed25519; the role and the party's name are in the certificate subject
 * (OU=role, CN=name, O=consortium). Both objects are immutable after load and
 * may be shared between threads. */
#ifndef GF_IDENTITY_H
#define GF_IDENTITY_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

#define GF_NAME_MAX     63    /* party and consortium names: [A-Za-z0-9._-], 1..63 chars */
#define GF_SIG_MAX      64    /* an Ed25519 signature */
#define GF_CERT_DER_MAX 4096  /* cap on a certificate carried in a message */

typedef enum {
    GF_ROLE_NONE = 0,
    GF_ROLE_HOSPITAL,
    GF_ROLE_EVALUATOR,
    GF_ROLE_COORDINATOR,
} gf_role;

const char *gf_role_name(gf_role role);           /* "hospital", … ("none") */
gf_err gf_role_parse(const char *s, gf_role *out); /* GF_EINVAL naming s */
/* 1 if s is a valid party/consortium name (see GF_NAME_MAX). */
int gf_name_valid(const char *s);

/* What a verified certificate says. */
typedef struct {
    gf_role role;
    char name[GF_NAME_MAX + 1];
    char consortium[GF_NAME_MAX + 1];
    uint64_t serial;
    uint8_t fingerprint[32];  /* SHA-256 of the certificate DER */
} gf_peer;

typedef struct gf_identity gf_identity;

/* Loads a private key (PEM, must be Ed25519) and its certificate (PEM); fails
 * with GF_ECRYPTO if the key does not match the certificate. */
gf_err gf_identity_load(const char *key_path, const char *cert_path, gf_identity **out);
/* Same from a kit directory: DIR/key.pem and DIR/cert.pem. */
gf_err gf_identity_load_kit(const char *kit_dir, gf_identity **out);
void gf_identity_free(gf_identity *id);
/* The subject of the party's own certificate (not chain-checked). */
const gf_peer *gf_identity_peer(const gf_identity *id);
/* The certificate as DER (owned by id). */
const uint8_t *gf_identity_cert_der(const gf_identity *id, size_t *len);
/* Ed25519 signature over msg into sig (GF_SIG_MAX bytes); *sig_len = 64. */
gf_err gf_identity_sign(const gf_identity *id, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len);

typedef struct gf_trust gf_trust;

/* Loads the consortium CA certificate and, if crl_path is non-NULL, its CRL
 * (the CRL's signature is checked against the CA). */
gf_err gf_trust_load(const char *ca_path, const char *crl_path, gf_trust **out);
void gf_trust_free(gf_trust *t);
/* Checks that der (at most GF_CERT_DER_MAX bytes) is a certificate issued by
 * the consortium CA, within its validity period, not revoked, with a known
 * role and a valid name; fills *out. GF_ECRYPTO with a message naming the
 * reason otherwise (then *out is zeroed). out may be NULL. */
gf_err gf_trust_check_cert(const gf_trust *t, const uint8_t *der, size_t len, gf_peer *out);
/* gf_trust_check_cert, then checks that sig is the certificate key's Ed25519
 * signature over msg. out may be NULL. */
gf_err gf_trust_verify(const gf_trust *t, const uint8_t *cert_der, size_t cert_len, const uint8_t *msg,
                       size_t msg_len, const uint8_t *sig, size_t sig_len, gf_peer *out);

#endif

/* Small OpenSSL helpers shared by identity.c and the pki_*.c files (internal
 * to crypto/): capped PEM reads, subject fields, serials, private-file writes.
 * Every function returns a gf_err with a message naming the file/field. */
#ifndef GF_X509UTIL_H
#define GF_X509UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "crypto/identity.h"

#define GF_PEM_MAX (64 * 1024) /* cap on a key, certificate or CRL file we read */
#define GF_CRL_MAX (16 * 1024 * 1024)

/* The reason of the newest OpenSSL error on this thread ("unknown") and
 * clears the queue. Thread-local buffer. */
const char *gf_ossl_reason(void);

/* Reads one PEM object from path (capped); *out owned by the caller. */
gf_err gf_x509_read_cert(const char *path, X509 **out);
gf_err gf_x509_read_crl(const char *path, X509_CRL **out);
/* Checks that crl (read from crl_path) is issued and signed by the CA ca
 * (read from ca_path). GF_ECRYPTO naming both files otherwise. */
gf_err gf_x509_check_crl(X509 *ca, X509_CRL *crl, const char *crl_path, const char *ca_path);
/* Reads a PEM private key and refuses anything but Ed25519. The file bytes
 * are wiped before return. */
gf_err gf_x509_read_ed25519_key(const char *path, EVP_PKEY **out);

/* Fills role, name, consortium, serial of *p from cert's subject/serial and
 * the fingerprint from der. GF_ECRYPTO naming what is wrong (unknown role,
 * invalid name, serial not a positive 64-bit integer). `what` names the
 * certificate in messages. */
gf_err gf_x509_peer(X509 *cert, const uint8_t *der, size_t der_len, const char *what, gf_peer *p);

/* The serial as uint64 if it is positive and fits; GF_ECRYPTO otherwise. */
gf_err gf_x509_serial_u64(const ASN1_INTEGER *s, uint64_t *out);

/* Writes buf to path atomically (temp, fsync, rename) with the given mode,
 * set before any byte is written so a key is never readable by others. */
gf_err gf_write_file_mode(const char *path, const void *buf, size_t len, mode_t mode);

/* PEM of an object into a malloc'd buffer (*out, *len; caller frees).
 * For keys the caller must OPENSSL_cleanse before free. */
gf_err gf_pem_cert(X509 *x, char **out, size_t *len);
gf_err gf_pem_crl(X509_CRL *c, char **out, size_t *len);
gf_err gf_pem_key(EVP_PKEY *k, char **out, size_t *len);

/* Fresh Ed25519 key (caller frees). */
gf_err gf_ed25519_keygen(EVP_PKEY **out);

/* "YYYY-MM-DDTHH:MM:SSZ" of t into buf (>= 21 bytes) and back (strict). */
void gf_time_iso(int64_t t, char buf[static 32]);
int gf_time_parse_iso(const char *s, int64_t *out);
/* An ASN1_TIME as seconds since the epoch. */
int gf_asn1_time_unix(const ASN1_TIME *t, int64_t *out);

#endif

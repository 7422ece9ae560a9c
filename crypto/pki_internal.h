/* Internals of the CA directory shared by pki_ca.c, pki_cert.c and pki_kit.c,
 * plus the test hooks (a fixed "now" to make expired certificates). */
#ifndef GF_PKI_INTERNAL_H
#define GF_PKI_INTERNAL_H
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/pki.h"
#include "crypto/pki_index.h"

#define GF_PKI_CA_DAYS 3650      /* default CA validity */
#define GF_PKI_LEAF_DAYS 365     /* default leaf validity */
#define GF_PKI_DAYS_MAX 36500
#define GF_PKI_CRL_DAYS 365      /* nextUpdate of every CRL we sign */
#define GF_PKI_SKEW_S 300        /* notBefore backdated for clock skew between sites */
#define GF_PKI_HOSTS_MAX 32

/* An open, locked CA directory. */
typedef struct {
    char *dir;                   /* owned copy */
    int lock_fd;                 /* flock(LOCK_EX) on dir/.lock */
    EVP_PKEY *key;               /* owned (loaded by gf_pki_open with load_ca) */
    X509 *cert;                  /* owned */
    gf_pki_index ix;
} gf_pki_ca;

/* Locks dir; with load != 0 also loads ca.key, ca.pem and index.json and
 * checks that they belong together. */
gf_err gf_pki_open(const char *dir, int load, gf_pki_ca *ca);
void gf_pki_close(gf_pki_ca *ca);

/* dir/name, or NULL after gf_fail(GF_ENOMEM). Caller frees. */
char *gf_pki_path(const char *dir, const char *name);



/* gf_pki_issue as if the clock read `now` (tests: an expired certificate). */
gf_err gf_pki_issue_at(const char *ca_dir, const gf_pki_issue_opts *opts, time_t now, uint64_t *serial_out);

/* Writes the kit for a freshly issued certificate into kit_dir (created if
 * missing; refused if it holds any kit file). All or nothing. */
gf_err gf_pki_write_kit(const gf_pki_ca *ca, const char *kit_dir, const char *name, gf_role role, EVP_PKEY *key,
                        X509 *cert);
/* Removes the kit files from kit_dir (undo of gf_pki_write_kit). */
void gf_pki_remove_kit(const char *kit_dir);

/* Revokes by name (serial 0) or by serial (name NULL). */
gf_err gf_pki_revoke_ex(const char *ca_dir, const char *name, uint64_t serial, time_t now);

#endif

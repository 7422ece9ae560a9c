/* The consortium's certificate authority, kept in a directory:
 *   ca.key (0600, never leaves the directory), ca.pem, crl.pem,
 *   index.json (every issued certificate: serial, name, role, dates, revoked),
 *   kits/<name>/ (default kit location).
 * A kit is what one party needs: key.pem (0600), cert.pem, ca.pem, crl.pem (a
 * copy at issue time) and a config skeleton (node.json for hospitals and
 * evaluators, coordinator.json for the coordinator).
 * All through OpenSSL 3 APIs; every file is written temp-then-rename; the
 * directory is locked (flock on D/.lock) while a command changes it. */
#ifndef GF_PKI_H
#define GF_PKI_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "crypto/identity.h"

/* Creates the CA in ca_dir (created 0700 if missing). Refuses (GF_ESTATE) to
 * overwrite an existing CA. days: validity of the CA certificate. */
gf_err gf_pki_init(const char *ca_dir, const char *consortium, int days);

typedef struct {
    const char *name;           /* party name, gf_name_valid() */
    gf_role role;
    const char *kit_dir;        /* NULL: <ca_dir>/kits/<name>; refused if it holds a kit */
    const char *const *hosts;   /* subjectAltName DNS names / IP addresses (coordinator) */
    size_t n_hosts;             /* 0 for a coordinator: "localhost" and 127.0.0.1 */
    int days;                   /* validity; 0: 365 (or up to the CA's notAfter if sooner) */
} gf_pki_issue_opts;

/* Issues a certificate and writes the kit. A name with an unrevoked
 * certificate is refused (GF_ESTATE). *serial_out may be NULL. */
gf_err gf_pki_issue(const char *ca_dir, const gf_pki_issue_opts *opts, uint64_t *serial_out);

/* Revokes every unrevoked certificate of a party (by name) or one serial
 * ("0x…" or decimal) and rewrites ca_dir/crl.pem. GF_ENOTFOUND if nothing matches.
 * A revoked kit in the default location moves to kits/<name>.revoked-0x<serial>. */
gf_err gf_pki_revoke(const char *ca_dir, const char *name_or_serial);

#endif

/* The CA directory: gf_pki_init, gf_pki_issue, gf_pki_revoke. Every command
 * holds flock(D/.lock) while it reads and rewrites the directory; files are
 * replaced temp-then-rename, index.json last, so a failed command leaves the
 * directory as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common/fileio.h"
#include "crypto/pki_cert.h"
#include "crypto/pki_internal.h"
#include "crypto/x509util.h"

char *gf_pki_path(const char *dir, const char *name)
{
    char *p = gf_path_join(dir, name);
    if (!p) gf_fail(GF_ENOMEM, "out of memory");
    return p;
}

void gf_pki_close(gf_pki_ca *ca)
{
    if (ca->lock_fd >= 0) close(ca->lock_fd); /* releases the flock */
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    gf_pki_index_free(&ca->ix);
    free(ca->dir);
    memset(ca, 0, sizeof *ca);
    ca->lock_fd = -1;
}

gf_err gf_pki_open(const char *dir, int load, gf_pki_ca *ca)
{
    memset(ca, 0, sizeof *ca);
    ca->lock_fd = -1;
    struct stat st;
    if (stat(dir, &st) != 0) return gf_fail(GF_ENOTFOUND, "%s: not a CA directory (%s)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gf_fail(GF_ENOTFOUND, "%s: not a CA directory (not a directory)", dir);
    ca->dir = strdup(dir);
    char *lock = gf_pki_path(dir, ".lock");
    if (!ca->dir || !lock) { free(lock); gf_pki_close(ca); return gf_fail(GF_ENOMEM, "out of memory"); }
    ca->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    gf_err e = GF_OK;
    if (ca->lock_fd < 0) e = gf_fail(GF_EIO, "%s: %s", lock, strerror(errno));
    else if (flock(ca->lock_fd, LOCK_EX | LOCK_NB) != 0)
        e = gf_fail(errno == EWOULDBLOCK ? GF_ESTATE : GF_EIO, "%s: %s", lock,
                    errno == EWOULDBLOCK ? "locked by another gaitfed pki command" : strerror(errno));
    free(lock);
    if (!e && load) {
        char *kp = gf_pki_path(dir, "ca.key"), *cp = gf_pki_path(dir, "ca.pem"), *ip = gf_pki_path(dir, "index.json");
        if (!kp || !cp || !ip) e = GF_ENOMEM;
        if (!e) e = gf_x509_read_ed25519_key(kp, &ca->key);
        if (!e) e = gf_x509_read_cert(cp, &ca->cert);
        if (!e && !X509_check_private_key(ca->cert, ca->key)) {
            ERR_clear_error();
            e = gf_fail(GF_ECRYPTO, "%s: does not match the CA certificate %s", kp, cp);
        }
        if (!e) e = gf_pki_index_load(ip, &ca->ix);
        if (!e) {
            char o[GF_NAME_MAX + 1] = "";
            X509_NAME *sub = X509_get_subject_name(ca->cert);
            X509_NAME_get_text_by_NID(sub, NID_organizationName, o, sizeof o);
            if (strcmp(o, ca->ix.consortium))
                e = gf_fail(GF_EFORMAT, "%s: consortium: '%s' but the CA certificate %s says '%s'", ip,
                            ca->ix.consortium, cp, o);
        }
        free(kp); free(cp); free(ip);
    }
    if (e) gf_pki_close(ca);
    return e;
}

/* Files of a CA, in the order init writes them (index.json last). */
static const char *const ca_files[] = {"ca.key", "ca.pem", "crl.pem", "index.json"};

gf_err gf_pki_init(const char *ca_dir, const char *consortium, int days)
{
    if (!gf_name_valid(consortium))
        return gf_fail(GF_EINVAL, "consortium '%.80s': expected 1..%d characters [A-Za-z0-9._-]", consortium, GF_NAME_MAX);
    if (days == 0) days = GF_PKI_CA_DAYS;
    if (days < 1 || days > GF_PKI_DAYS_MAX) return gf_fail(GF_EINVAL, "days %d: expected 1..%d", days, GF_PKI_DAYS_MAX);
    GF_TRY(gf_mkdirs(ca_dir, 1)); /* 0700, ours, not a link */
    gf_pki_ca ca;
    GF_TRY(gf_pki_open(ca_dir, 0, &ca));
    gf_err e = GF_OK;
    char *paths[4] = {0};
    for (int i = 0; i < 4; i++) {
        paths[i] = gf_pki_path(ca_dir, ca_files[i]);
        if (!paths[i]) { e = GF_ENOMEM; break; }
        if (!e && access(paths[i], F_OK) == 0)
            e = gf_fail(GF_ESTATE, "%s: a CA already exists here; refusing to overwrite it", paths[i]);
    }
    snprintf(ca.ix.consortium, sizeof ca.ix.consortium, "%s", consortium);
    ca.ix.crl_number = 1;
    time_t now = time(NULL);
    char cn[GF_NAME_MAX + 8];
    snprintf(cn, sizeof cn, "%s CA", consortium);
    uint64_t serial = 0;
    if (!e) e = gf_ed25519_keygen(&ca.key);
    if (!e) e = gf_pki_random_serial(NULL, &serial);
    if (!e) {
        gf_cert_spec s = {.consortium = consortium, .cn = cn, .role = GF_ROLE_NONE, .pubkey = ca.key,
                          .issuer_key = ca.key, .serial = serial, .not_before = now - GF_PKI_SKEW_S,
                          .not_after = now + (time_t)days * 86400};
        e = gf_pki_make_cert(&s, &ca.cert);
    }
    char *pem[4] = {0};
    size_t len[4] = {0};
    X509_CRL *crl = NULL;
    if (!e) e = gf_pem_key(ca.key, &pem[0], &len[0]);
    if (!e) e = gf_pem_cert(ca.cert, &pem[1], &len[1]);
    if (!e) e = gf_pki_make_crl(ca.cert, ca.key, &ca.ix, now, GF_PKI_CRL_DAYS, &crl);
    if (!e) e = gf_pem_crl(crl, &pem[2], &len[2]);
    if (!e) e = gf_pki_index_dump(&ca.ix, &pem[3], &len[3]);
    int written = 0;
    for (; !e && written < 4; written++)
        e = gf_write_file_mode(paths[written], pem[written], len[written], 0600);
    if (e) /* all or nothing: remove what this call wrote */
        for (int i = 0; i < written - 1; i++) unlink(paths[i]);
    if (pem[0]) OPENSSL_cleanse(pem[0], len[0]);
    for (int i = 0; i < 4; i++) { free(pem[i]); free(paths[i]); }
    X509_CRL_free(crl);
    gf_pki_close(&ca);
    return e;
}

gf_err gf_pki_issue(const char *ca_dir, const gf_pki_issue_opts *opts, uint64_t *serial_out)
{
    return gf_pki_issue_at(ca_dir, opts, time(NULL), serial_out);
}

gf_err gf_pki_issue_at(const char *ca_dir, const gf_pki_issue_opts *o, time_t now, uint64_t *serial_out)
{
    if (!o->name || !gf_name_valid(o->name))
        return gf_fail(GF_EINVAL, "name '%.80s': expected 1..%d characters [A-Za-z0-9._-]", o->name ? o->name : "",
                       GF_NAME_MAX);
    if (o->role != GF_ROLE_HOSPITAL && o->role != GF_ROLE_EVALUATOR && o->role != GF_ROLE_COORDINATOR)
        return gf_fail(GF_EINVAL, "role: expected hospital, evaluator or coordinator");
    int days = o->days ? o->days : GF_PKI_LEAF_DAYS;
    if (days < 1 || days > GF_PKI_DAYS_MAX) return gf_fail(GF_EINVAL, "days %d: expected 1..%d", days, GF_PKI_DAYS_MAX);
    if (o->n_hosts && o->role != GF_ROLE_COORDINATOR)
        return gf_fail(GF_EINVAL, "hosts: only a coordinator certificate names hosts");
    if (o->n_hosts > GF_PKI_HOSTS_MAX) return gf_fail(GF_EINVAL, "hosts: more than %d", GF_PKI_HOSTS_MAX);
    for (size_t i = 0; i < o->n_hosts; i++) {
        int ip;
        if (!o->hosts[i] || !gf_pki_host_valid(o->hosts[i], &ip))
            return gf_fail(GF_EINVAL, "host '%.80s': not a DNS name or IP address", o->hosts[i] ? o->hosts[i] : "");
    }
    gf_pki_ca ca;
    GF_TRY(gf_pki_open(ca_dir, 1, &ca));
    gf_err e = GF_OK;
    char *ip = gf_pki_path(ca_dir, "index.json"), *kit = NULL;
    if (!ip) e = GF_ENOMEM;
    long act = e ? -1 : gf_pki_index_active(&ca.ix, o->name);
    if (act >= 0)
        e = gf_fail(GF_ESTATE, "name '%s': already has an unrevoked certificate (serial 0x%016llx); revoke it first",
                    o->name, (unsigned long long)ca.ix.certs[act].serial);
    time_t nb = now - GF_PKI_SKEW_S, na = now + (time_t)days * 86400;
    int64_t ca_na = 0;
    if (!e && !gf_asn1_time_unix(X509_get0_notAfter(ca.cert), &ca_na))
        e = gf_fail(GF_ECRYPTO, "%s/ca.pem: unreadable notAfter", ca_dir);
    if (!e && ca_na <= (int64_t)now) e = gf_fail(GF_ESTATE, "%s/ca.pem: the CA certificate has expired", ca_dir);
    /* The default validity stops at the CA's end; an explicit one past it is refused. */
    if (!e && !o->days && (int64_t)na > ca_na) na = (time_t)ca_na;
    if (!e && (int64_t)na > ca_na) {
        char b[32];
        gf_time_iso(ca_na, b);
        e = gf_fail(GF_EINVAL, "days %d: the certificate would outlive the CA (not after %s)", days, b);
    }
    if (!e) {
        if (o->kit_dir) {
            if ((kit = strdup(o->kit_dir))) gf_path_trim(kit); /* "link/" is a link too */
        } else {
            char rel[GF_NAME_MAX + 8];
            snprintf(rel, sizeof rel, "kits/%s", o->name);
            kit = gf_pki_path(ca_dir, rel);
        }
        if (!kit) e = gf_fail(GF_ENOMEM, "out of memory");
    }
    uint64_t serial = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    if (!e) e = gf_pki_random_serial(&ca.ix, &serial);
    if (!e) e = gf_ed25519_keygen(&key);
    if (!e) {
        gf_cert_spec s = {.consortium = ca.ix.consortium, .cn = o->name, .role = o->role, .pubkey = key,
                          .issuer = ca.cert, .issuer_key = ca.key, .serial = serial, .not_before = nb,
                          .not_after = na, .hosts = o->hosts, .n_hosts = o->n_hosts};
        e = gf_pki_make_cert(&s, &cert);
    }
    if (!e) e = gf_pki_write_kit(&ca, kit, o->name, o->role, key, cert);
    if (!e) {
        gf_pki_entry ent = {.serial = serial, .role = o->role, .not_before = nb, .not_after = na};
        snprintf(ent.name, sizeof ent.name, "%s", o->name);
        e = gf_pki_index_add(&ca.ix, &ent);
        if (!e) e = gf_pki_index_save(ip, &ca.ix);
        if (e) gf_pki_remove_kit(kit); /* the index is the record: no kit without it */
    }
    if (!e && serial_out) *serial_out = serial;
    EVP_PKEY_free(key);
    X509_free(cert);
    free(ip);
    free(kit);
    gf_pki_close(&ca);
    return e;
}

/* Moves the default kit of a revoked certificate aside
 * (kits/<name> -> kits/<name>.revoked-0x<serial>) so the name can be issued
 * again; a kit elsewhere (--out) is the operator's to delete. */
static void park_kit(const char *ca_dir, const gf_pki_entry *ent)
{
    char rel[GF_NAME_MAX + 64], relc[GF_NAME_MAX + 64], park[GF_NAME_MAX + 64];
    snprintf(rel, sizeof rel, "kits/%s", ent->name);
    snprintf(relc, sizeof relc, "kits/%s/cert.pem", ent->name);
    snprintf(park, sizeof park, "kits/%s.revoked-0x%016llx", ent->name, (unsigned long long)ent->serial);
    char *kd = gf_pki_path(ca_dir, rel), *kc = gf_pki_path(ca_dir, relc), *kp = gf_pki_path(ca_dir, park);
    X509 *c = NULL;
    uint64_t s = 0;
    if (kd && kc && kp && !gf_x509_read_cert(kc, &c) && !gf_x509_serial_u64(X509_get0_serialNumber(c), &s) &&
        s == ent->serial)
        (void)rename(kd, kp);
    X509_free(c);
    free(kd); free(kc); free(kp);
    gf_errclear();
}

gf_err gf_pki_revoke_ex(const char *ca_dir, const char *name, uint64_t serial, time_t now)
{
    if (name && !gf_name_valid(name))
        return gf_fail(GF_EINVAL, "name '%.80s': expected 1..%d characters [A-Za-z0-9._-]", name, GF_NAME_MAX);
    gf_pki_ca ca;
    GF_TRY(gf_pki_open(ca_dir, 1, &ca));
    gf_err e = GF_OK;
    char *ip = gf_pki_path(ca_dir, "index.json"), *cp = gf_pki_path(ca_dir, "crl.pem");
    unsigned char *old_crl = NULL;
    size_t old_len = 0;
    if (!ip || !cp) e = GF_ENOMEM;
    size_t hits = 0;
    for (size_t i = 0; !e && i < ca.ix.n; i++) {
        gf_pki_entry *c = &ca.ix.certs[i];
        if (name ? strcmp(c->name, name) != 0 : c->serial != serial) continue;
        if (c->revoked) {
            if (!name) e = gf_fail(GF_ESTATE, "serial 0x%016llx (%s): already revoked", (unsigned long long)serial, c->name);
            continue;
        }
        c->revoked = 1;
        c->revoked_at = (int64_t)now;
        hits++;
    }
    if (!e && !hits) {
        if (name) e = gf_fail(GF_ENOTFOUND, "%s: no unrevoked certificate named '%s'", ip, name);
        else e = gf_fail(GF_ENOTFOUND, "%s: no certificate with serial 0x%016llx", ip, (unsigned long long)serial);
    }
    X509_CRL *crl = NULL;
    char *pem = NULL;
    size_t len = 0;
    ca.ix.crl_number++;
    if (!e) e = gf_read_file(cp, GF_CRL_MAX, &old_crl, &old_len);
    if (!e) e = gf_pki_make_crl(ca.cert, ca.key, &ca.ix, now, GF_PKI_CRL_DAYS, &crl);
    if (!e) e = gf_pem_crl(crl, &pem, &len);
    /* CRL first: if the index cannot be written the old CRL is put back; a
     * crash in between leaves a CRL that revokes more, never less. */
    if (!e) e = gf_write_file_mode(cp, pem, len, 0600);
    if (!e) {
        e = gf_pki_index_save(ip, &ca.ix);
        if (e) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", gf_errmsg());
            (void)gf_write_file_mode(cp, old_crl, old_len, 0600);
            gf_fail(e, "%s", msg);
        }
    }
    if (!e)
        for (size_t i = 0; i < ca.ix.n; i++)
            if (ca.ix.certs[i].revoked && ca.ix.certs[i].revoked_at == (int64_t)now &&
                (name ? !strcmp(ca.ix.certs[i].name, name) : ca.ix.certs[i].serial == serial))
                park_kit(ca_dir, &ca.ix.certs[i]);
    X509_CRL_free(crl);
    free(pem);
    free(old_crl);
    free(ip);
    free(cp);
    gf_pki_close(&ca);
    return e;
}

gf_err gf_pki_revoke(const char *ca_dir, const char *name_or_serial)
{
    uint64_t serial;
    /* A serial if it reads as one and the index has it; a name otherwise. */
    if (gf_pki_serial_parse(name_or_serial, &serial)) {
        gf_pki_index ix;
        char *ip = gf_pki_path(ca_dir, "index.json");
        if (!ip) return GF_ENOMEM;
        gf_err e = gf_pki_index_load(ip, &ix);
        free(ip);
        GF_TRY(e);
        int known = gf_pki_index_find_serial(&ix, serial) >= 0;
        gf_pki_index_free(&ix);
        if (known || !gf_name_valid(name_or_serial) || !strncmp(name_or_serial, "0x", 2))
            return gf_pki_revoke_ex(ca_dir, NULL, serial, time(NULL));
    }
    return gf_pki_revoke_ex(ca_dir, name_or_serial, 0, time(NULL));
}

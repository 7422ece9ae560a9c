/* A party's kit: key.pem, cert.pem, ca.pem, crl.pem and a config skeleton
 * (node.json or coordinator.json; paths relative to the kit), every file 0600
 * in a 0700 folder. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/fileio.h"
#include "crypto/pki_internal.h"
#include "crypto/x509util.h"

static const char *const kit_files[] = {"key.pem", "cert.pem", "ca.pem", "crl.pem", "node.json", "coordinator.json"};
#define N_KIT_FILES 6

void gf_pki_remove_kit(const char *kit_dir)
{
    for (int i = 0; i < N_KIT_FILES; i++) {
        char *p = gf_path_join(kit_dir, kit_files[i]);
        if (p) unlink(p);
        free(p);
    }
    (void)rmdir(kit_dir); /* only if now empty */
}

/* The config skeleton as JSON text (caller frees). */
static gf_err skeleton(const gf_pki_ca *ca, const char *name, gf_role role, char **out)
{
    json_t *o;
    if (role == GF_ROLE_COORDINATOR) {
        /* The kit's own CRL copy: `gaitfed pki revoke` says how to replace
         * it, and the running coordinator picks the new one up. */
        (void)ca;
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:i, s:i}", "name", name, "listen",
                      "127.0.0.1:8443", "key", "key.pem", "cert", "cert.pem", "ca", "ca.pem", "crl", "crl.pem", "db",
                      "coordinator.db", "secure_aggregation", 1, "strategy", "fedavg", "rounds", 20, "min_sites", 3,
                      "local_epochs", 1);
    } else {
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "role", gf_role_name(role),
                      "coordinator_url", "https://localhost:8443", "key", "key.pem", "cert", "cert.pem", "ca",
                      "ca.pem", "site_db", "site.db", "state_dir", "state", "normalization", "own");
    }
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s) return gf_fail(GF_ENOMEM, "config skeleton: JSON encoding failed");
    *out = s;
    return GF_OK;
}

gf_err gf_pki_write_kit(const gf_pki_ca *ca, const char *kit_dir, const char *name, gf_role role, EVP_PKEY *key,
                        X509 *cert)
{
    struct stat st;
    int created = lstat(kit_dir, &st) != 0;
    if (!created && S_ISLNK(st.st_mode))
        return gf_fail(GF_ESTATE, "%s: a symbolic link; refusing to write a kit through it", kit_dir);
    if (!created && !S_ISDIR(st.st_mode)) return gf_fail(GF_ESTATE, "%s: exists and is not a directory", kit_dir);
    for (int i = 0; !created && i < N_KIT_FILES; i++) {
        char *p = gf_path_join(kit_dir, kit_files[i]);
        if (!p) return gf_fail(GF_ENOMEM, "out of memory");
        gf_err e = GF_OK;
        if (lstat(p, &st) == 0) /* a link too, even one to nothing */
            e = gf_fail(GF_ESTATE, "%s: %s; refusing to overwrite", p,
                        S_ISLNK(st.st_mode) ? "a symbolic link in the kit directory" : "kit directory already holds a kit");
        free(p);
        if (e) return e;
    }
    /* A new folder is made 0700; an existing one is tightened to 0700, or refused if not ours. */
    GF_TRY(gf_mkdirs(kit_dir, 1));
    char *data[5] = {0};
    size_t len[5] = {0};
    unsigned char *crl = NULL;
    char *crl_path = gf_pki_path(ca->dir, "crl.pem");
    gf_err e = crl_path ? GF_OK : GF_ENOMEM;
    if (!e) e = gf_pem_key(key, &data[0], &len[0]);
    if (!e) e = gf_pem_cert(cert, &data[1], &len[1]);
    if (!e) e = gf_pem_cert(ca->cert, &data[2], &len[2]);
    if (!e) e = gf_read_file(crl_path, GF_CRL_MAX, &crl, &len[3]);
    if (!e) data[3] = (char *)crl;
    if (!e) e = skeleton(ca, name, role, &data[4]);
    if (!e) len[4] = strlen(data[4]);
    const char *files[5] = {"key.pem", "cert.pem", "ca.pem", "crl.pem",
                            role == GF_ROLE_COORDINATOR ? "coordinator.json" : "node.json"};
    for (int i = 0; !e && i < 5; i++) {
        char *p = gf_path_join(kit_dir, files[i]);
        if (!p) e = gf_fail(GF_ENOMEM, "out of memory");
        else e = gf_write_file_mode(p, data[i], len[i], 0600);
        free(p);
    }
    if (e) { /* all or nothing */
        for (int i = 0; i < 5; i++) {
            char *p = gf_path_join(kit_dir, files[i]);
            if (p) unlink(p);
            free(p);
        }
        if (created) (void)rmdir(kit_dir);
    }
    if (data[0]) OPENSSL_cleanse(data[0], len[0]);
    for (int i = 0; i < 5; i++) free(data[i]);
    free(crl_path);
    return e;
}

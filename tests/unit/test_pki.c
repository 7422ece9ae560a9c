/* PKI: the consortium CA (gf_pki_*), identities and trust (gf_identity_*,
 * gf_trust_*) and `gaitfed pki`, cross-checked with the openssl binary as the
 * independent oracle. */
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "common/fileio.h"
#include "crypto/identity.h"
#include "crypto/pki.h"
#include "crypto/pki_internal.h"
#include "tests/unit/testutil.h"

/* A CA in a fresh directory: D/ca with hospital h1, evaluator ev1 and
 * coordinator coord (kits in D/ca/kits/<name>). Returns D/ca (static). */
static const char *make_ca(const char *consortium)
{
    static _Thread_local char ca[1024];
    snprintf(ca, sizeof ca, "%s/ca", tu_dir());
    cr_assert_eq(gf_pki_init(ca, consortium, 0), GF_OK, "init: %s", gf_errmsg());
    gf_pki_issue_opts o = {.name = "h1", .role = GF_ROLE_HOSPITAL};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "issue h1: %s", gf_errmsg());
    o.name = "ev1";
    o.role = GF_ROLE_EVALUATOR;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "issue ev1: %s", gf_errmsg());
    o.name = "coord";
    o.role = GF_ROLE_COORDINATOR;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "issue coord: %s", gf_errmsg());
    return ca;
}

/* The DER of a PEM certificate file, via the openssl binary (malloc'd). */
static uint8_t *cert_der(const char *pem, size_t *len)
{
    char der[1100];
    snprintf(der, sizeof der, "%s.der", pem);
    cr_assert_eq(tu_sh("openssl x509 -in %s -outform DER -out %s", pem, der), 0);
    unsigned char *buf;
    cr_assert_eq(gf_read_file(der, 1 << 20, &buf, len), GF_OK);
    return buf;
}

Test(pki, openssl_verifies_every_issued_certificate)
{
    const char *ca = make_ca("gaitnet");
    for (const char *n = "h1\0ev1\0coord\0"; *n; n += strlen(n) + 1) {
        cr_assert_eq(tu_sh("openssl verify -x509_strict -CAfile %s/ca.pem %s/kits/%s/cert.pem >/dev/null", ca, ca, n), 0,
                     "openssl verify rejected %s", n);
        cr_assert_eq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/kits/%s/cert.pem >/dev/null",
                           ca, ca, ca, n), 0, "openssl verify -crl_check rejected %s", n);
    }
}

Test(pki, identity_signs_and_trust_verifies)
{
    const char *ca = make_ca("gaitnet");
    char kit[1100], capem[1100], crl[1100];
    snprintf(kit, sizeof kit, "%s/kits/h1", ca);
    snprintf(capem, sizeof capem, "%s/ca.pem", ca);
    snprintf(crl, sizeof crl, "%s/crl.pem", ca);
    gf_identity *id;
    cr_assert_eq(gf_identity_load_kit(kit, &id), GF_OK, "%s", gf_errmsg());
    const gf_peer *me = gf_identity_peer(id);
    cr_assert_str_eq(me->name, "h1");
    cr_assert_str_eq(me->consortium, "gaitnet");
    cr_assert_eq(me->role, GF_ROLE_HOSPITAL);
    gf_trust *t;
    cr_assert_eq(gf_trust_load(capem, crl, &t), GF_OK, "%s", gf_errmsg());
    const uint8_t msg[] = "round 7 key advertisement";
    uint8_t sig[GF_SIG_MAX];
    size_t sl;
    cr_assert_eq(gf_identity_sign(id, msg, sizeof msg, sig, &sl), GF_OK);
    cr_assert_eq(sl, 64);
    size_t dl;
    const uint8_t *der = gf_identity_cert_der(id, &dl);
    gf_peer p;
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sig, sl, &p), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(p.name, "h1");
    cr_assert_eq(p.role, GF_ROLE_HOSPITAL);
    cr_assert_eq(p.serial, me->serial);
    cr_assert_eq(memcmp(p.fingerprint, me->fingerprint, 32), 0);
    /* The fingerprint is SHA-256 of the DER, as openssl computes it. */
    size_t ol;
    uint8_t *od = cert_der(kit[0] ? strcat(kit, "/cert.pem") : kit, &ol);
    cr_assert_eq(ol, dl);
    cr_assert_eq(memcmp(od, der, dl), 0);
    free(od);
    /* A flipped message bit fails. */
    uint8_t msg2[sizeof msg];
    memcpy(msg2, msg, sizeof msg);
    msg2[0] ^= 1;
    cr_assert_eq(gf_trust_verify(t, der, dl, msg2, sizeof msg2, sig, sl, &p), GF_ECRYPTO);
    gf_trust_free(t);
    gf_identity_free(id);
}

/* ---- helpers ----------------------------------------------------------- */

static char *kitfile(const char *ca, const char *name, const char *file)
{
    char *p = malloc(1200);
    cr_assert_not_null(p);
    snprintf(p, 1200, "%s/kits/%s/%s", ca, name, file);
    return p;
}

static gf_trust *trust_of(const char *ca, int with_crl)
{
    char capem[1100], crl[1100];
    snprintf(capem, sizeof capem, "%s/ca.pem", ca);
    snprintf(crl, sizeof crl, "%s/crl.pem", ca);
    gf_trust *t;
    cr_assert_eq(gf_trust_load(capem, with_crl ? crl : NULL, &t), GF_OK, "trust: %s", gf_errmsg());
    return t;
}

/* gf_trust_check_cert on a PEM file (DER made by the openssl binary). */
static gf_err check_pem(const gf_trust *t, const char *pem, gf_peer *p)
{
    size_t n;
    uint8_t *der = cert_der(pem, &n);
    gf_err e = gf_trust_check_cert(t, der, n, p);
    free(der);
    return e;
}

static int msg_has(const char *s) { return strstr(gf_errmsg(), s) != NULL; }

/* ---- certificate contents, as the openssl binary reads them -------------- */

Test(pki, openssl_shows_subject_extensions_and_san)
{
    const char *ca = make_ca("gaitnet");
    const char *q = "openssl x509 -noout -subject -ext basicConstraints,keyUsage,extendedKeyUsage,subjectAltName -in";
    /* The CA. */
    cr_assert_eq(tu_sh("%s %s/ca.pem > %s/ca.txt && grep -q '^subject=O = gaitnet, CN = gaitnet CA$' %s/ca.txt && "
                       "grep -q 'CA:TRUE' %s/ca.txt && grep -q 'Certificate Sign, CRL Sign' %s/ca.txt",
                       q, ca, ca, ca, ca, ca), 0, "CA subject/extensions");
    cr_assert_eq(tu_sh("openssl x509 -noout -text -in %s/ca.pem | grep -A1 'Basic Constraints' | grep -q critical", ca), 0);
    /* Hospital: OU=hospital, clientAuth only, no SAN, CA:FALSE, digitalSignature. */
    cr_assert_eq(tu_sh("%s %s/kits/h1/cert.pem > %s/h1.txt && grep -q '^subject=O = gaitnet, OU = hospital, CN = h1$' %s/h1.txt "
                       "&& grep -q 'CA:FALSE' %s/h1.txt && grep -q 'Digital Signature' %s/h1.txt "
                       "&& grep -q 'TLS Web Client Authentication' %s/h1.txt && ! grep -q 'Server Authentication' %s/h1.txt "
                       "&& ! grep -q 'Alternative Name' %s/h1.txt", q, ca, ca, ca, ca, ca, ca, ca, ca), 0, "hospital");
    cr_assert_eq(tu_sh("%s %s/kits/ev1/cert.pem | grep -q '^subject=O = gaitnet, OU = evaluator, CN = ev1$'", q, ca), 0);
    /* Coordinator: serverAuth+clientAuth, default SAN localhost + 127.0.0.1. */
    cr_assert_eq(tu_sh("%s %s/kits/coord/cert.pem > %s/c.txt && grep -q 'OU = coordinator, CN = coord$' %s/c.txt && "
                       "grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' %s/c.txt && "
                       "grep -q 'DNS:localhost, IP Address:127.0.0.1' %s/c.txt", q, ca, ca, ca, ca, ca), 0, "coordinator");
    /* v3, Ed25519, AKID of the leaf = SKID of the CA. */
    cr_assert_eq(tu_sh("openssl x509 -noout -text -in %s/kits/h1/cert.pem | grep -q 'Version: 3 (0x2)'", ca), 0);
    cr_assert_eq(tu_sh("openssl x509 -noout -text -in %s/kits/h1/cert.pem | grep -q 'Signature Algorithm: ED25519'", ca), 0);
    cr_assert_eq(tu_sh("a=$(openssl x509 -noout -ext authorityKeyIdentifier -in %s/kits/h1/cert.pem | tail -n 1 | tr -d ' ') && "
                       "s=$(openssl x509 -noout -ext subjectKeyIdentifier -in %s/ca.pem | tail -n 1 | tr -d ' ') && "
                       "test -n \"$s\" && test \"$a\" = \"$s\"", ca, ca), 0, "AKID != CA SKID");
    /* Explicit hosts. */
    const char *hosts[] = {"fl.example.org", "10.1.2.3", "::1"};
    gf_pki_issue_opts o = {.name = "coord2", .role = GF_ROLE_COORDINATOR, .hosts = hosts, .n_hosts = 3};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(tu_sh("openssl x509 -noout -ext subjectAltName -in %s/kits/coord2/cert.pem | "
                       "grep -q 'DNS:fl.example.org, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1'", ca), 0);
    cr_assert_eq(tu_sh("openssl verify -CAfile %s/ca.pem %s/kits/coord2/cert.pem >/dev/null", ca, ca), 0);
}

Test(pki, bad_hosts_are_refused)
{
    const char *ca = make_ca("gaitnet");
    const char *bad[] = {"a,DNS:evil.org"};
    gf_pki_issue_opts o = {.name = "c3", .role = GF_ROLE_COORDINATOR, .hosts = bad, .n_hosts = 1};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_EINVAL);
    cr_assert(msg_has("host"), "%s", gf_errmsg());
    const char *ok[] = {"localhost"};
    gf_pki_issue_opts h = {.name = "h9", .role = GF_ROLE_HOSPITAL, .hosts = ok, .n_hosts = 1};
    cr_assert_eq(gf_pki_issue(ca, &h, NULL), GF_EINVAL, "hosts on a hospital certificate");
    cr_assert_eq(tu_sh("test ! -e %s/kits/c3 && test ! -e %s/kits/h9", ca, ca), 0);
}

/* ---- revocation --------------------------------------------------------- */

Test(pki, revoked_serial_in_crl_and_openssl_rejects_it)
{
    const char *ca = make_ca("gaitnet");
    cr_assert_eq(gf_pki_revoke(ca, "h1"), GF_OK, "%s", gf_errmsg());
    /* The revoked kit was parked, so the serial is read from there. */
    cr_assert_eq(tu_sh("s=$(openssl x509 -noout -serial -in %s/kits/h1.revoked-0x*/cert.pem | cut -d= -f2) && test -n \"$s\" && "
                       "openssl crl -in %s/crl.pem -noout -text | grep -q \"Serial Number: $s\"", ca, ca), 0,
                 "revoked serial not listed in the CRL");
    cr_assert_eq(tu_sh("openssl crl -in %s/crl.pem -noout -verify -CAfile %s/ca.pem 2>&1 | grep -q 'verify OK'", ca, ca), 0);
    cr_assert_neq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/kits/h1.revoked-0x*/cert.pem "
                        ">/dev/null 2>&1", ca, ca, ca), 0, "openssl accepted a revoked certificate");
    cr_assert_eq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/kits/h1.revoked-0x*/cert.pem 2>&1 "
                       "| grep -q 'certificate revoked'", ca, ca, ca), 0);
    for (const char *n = "ev1\0coord\0"; *n; n += strlen(n) + 1)
        cr_assert_eq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/kits/%s/cert.pem >/dev/null",
                           ca, ca, ca, n), 0, "openssl rejected unrevoked %s", n);
    /* Revoke by serial (hex, as `pki list` prints it); then a second time is refused. */
    gf_identity *id;
    char kit[1100];
    snprintf(kit, sizeof kit, "%s/kits/ev1", ca);
    cr_assert_eq(gf_identity_load_kit(kit, &id), GF_OK);
    char s[32];
    snprintf(s, sizeof s, "0x%016llx", (unsigned long long)gf_identity_peer(id)->serial);
    gf_identity_free(id);
    cr_assert_eq(gf_pki_revoke(ca, s), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_pki_revoke(ca, s), GF_ESTATE);
    cr_assert_eq(gf_pki_revoke(ca, "nobody"), GF_ENOTFOUND);
    cr_assert_eq(gf_pki_revoke(ca, "h1"), GF_ENOTFOUND, "already revoked: nothing unrevoked matches");
    cr_assert_eq(tu_sh("openssl crl -in %s/crl.pem -noout -text | grep -c 'Serial Number' | grep -qx 2", ca), 0);
    cr_assert_eq(tu_sh("openssl crl -in %s/crl.pem -noout -text | grep -A1 'CRL Number' | tail -n 1 | grep -qw 3", ca), 0,
                 "CRL number must grow with every CRL");
}

Test(pki, trust_rejects_revoked_only_with_the_crl)
{
    const char *ca = make_ca("gaitnet");
    char *pem = kitfile(ca, "h1", "cert.pem");
    char copy[1200];
    snprintf(copy, sizeof copy, "%s/h1-copy.pem", ca);
    cr_assert_eq(tu_sh("cp %s %s", pem, copy), 0);
    cr_assert_eq(gf_pki_revoke(ca, "h1"), GF_OK, "%s", gf_errmsg());
    gf_peer p;
    gf_trust *t = trust_of(ca, 1);
    cr_assert_eq(check_pem(t, copy, &p), GF_ECRYPTO);
    cr_assert(msg_has("revoked"), "%s", gf_errmsg());
    cr_assert_eq(p.role, GF_ROLE_NONE, "a rejected certificate must not fill *out");
    char *ev = kitfile(ca, "ev1", "cert.pem");
    cr_assert_eq(check_pem(t, ev, &p), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(p.role, GF_ROLE_EVALUATOR);
    gf_trust_free(t);
    /* Without a CRL the same certificate passes: the CRL is what refuses it. */
    t = trust_of(ca, 0);
    cr_assert_eq(check_pem(t, copy, &p), GF_OK, "%s", gf_errmsg());
    gf_trust_free(t);
    free(pem);
    free(ev);
}

Test(pki, reissue_refused_while_unrevoked_allowed_after)
{
    const char *ca = make_ca("gaitnet");
    gf_pki_issue_opts o = {.name = "h1", .role = GF_ROLE_HOSPITAL};
    char *out = malloc(1200);
    snprintf(out, 1200, "%s/elsewhere", ca);
    o.kit_dir = out;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_ESTATE);
    cr_assert(msg_has("h1"), "%s", gf_errmsg());
    cr_assert_eq(tu_sh("test ! -e %s", out), 0, "no kit after a refused issue");
    cr_assert_eq(gf_pki_revoke(ca, "h1"), GF_OK, "%s", gf_errmsg());
    o.kit_dir = NULL;
    uint64_t s2;
    cr_assert_eq(gf_pki_issue(ca, &o, &s2), GF_OK, "%s", gf_errmsg());
    gf_identity *id;
    char kit[1100];
    snprintf(kit, sizeof kit, "%s/kits/h1", ca);
    cr_assert_eq(gf_identity_load_kit(kit, &id), GF_OK);
    cr_assert_eq(gf_identity_peer(id)->serial, s2, "kits/h1 must hold the new certificate");
    gf_identity_free(id);
    gf_pki_index ix;
    char idx[1100];
    snprintf(idx, sizeof idx, "%s/index.json", ca);
    cr_assert_eq(gf_pki_index_load(idx, &ix), GF_OK);
    cr_assert_eq(ix.n, 4);
    for (size_t i = 0; i < ix.n; i++) {
        cr_assert(ix.certs[i].serial > 0 && ix.certs[i].serial < (1ULL << 63));
        for (size_t j = 0; j < i; j++) cr_assert_neq(ix.certs[i].serial, ix.certs[j].serial);
    }
    gf_pki_index_free(&ix);
    /* A kit directory that holds a kit is never overwritten. */
    gf_pki_issue_opts o2 = {.name = "h2", .role = GF_ROLE_HOSPITAL, .kit_dir = kit};
    cr_assert_eq(gf_pki_issue(ca, &o2, NULL), GF_ESTATE);
    free(out);
}

/* PKI: the consortium CA (gf_pki_*), identities and trust (gf_identity_*,
 * gf_trust_*) and `gaitfed pki`, cross-checked with the openssl binary as the
 * independent oracle. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>

#include "common/fileio.h"
#include "crypto/identity.h"
#include "crypto/pki.h"
#include "crypto/pki_cert.h"
#include "crypto/pki_internal.h"
#include "crypto/x509util.h"
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

static uint8_t *find_bytes(uint8_t *h, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(h + i, needle, k)) return h + i;
    return NULL;
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

/* ---- gf_trust_check_cert rejections ------------------------------------- */

Test(pki, trust_rejects_other_ca_and_tampered_der)
{
    const char *ca = make_ca("gaitnet");
    char other[1100];
    snprintf(other, sizeof other, "%s/../other", ca);
    cr_assert_eq(gf_pki_init(other, "gaitnet", 0), GF_OK, "%s", gf_errmsg());
    gf_pki_issue_opts o = {.name = "h1", .role = GF_ROLE_HOSPITAL};
    cr_assert_eq(gf_pki_issue(other, &o, NULL), GF_OK, "%s", gf_errmsg());
    gf_trust *t = trust_of(ca, 1);
    gf_peer p;
    /* Same consortium and name, another CA (second `pki init`). */
    char *foreign = kitfile(other, "h1", "cert.pem");
    cr_assert_eq(check_pem(t, foreign, &p), GF_ECRYPTO);
    cr_assert(msg_has("issuer"), "%s", gf_errmsg());
    free(foreign);
    /* The genuine one passes; a byte flipped in the signature or in the TBS fails. */
    char *pem = kitfile(ca, "ev1", "cert.pem");
    size_t n;
    uint8_t *der = cert_der(pem, &n);
    cr_assert_eq(gf_trust_check_cert(t, der, n, &p), GF_OK, "%s", gf_errmsg());
    der[n - 1] ^= 0x01; /* last byte of the Ed25519 signature */
    cr_assert_eq(gf_trust_check_cert(t, der, n, &p), GF_ECRYPTO, "flipped signature byte accepted");
    cr_assert(msg_has("signature"), "%s", gf_errmsg());
    der[n - 1] ^= 0x01;
    uint8_t *cn = find_bytes(der, n, "ev1", 3); /* the subject CN, inside the TBS */
    cr_assert_not_null(cn);
    cn[2] = '2';
    cr_assert_eq(gf_trust_check_cert(t, der, n, &p), GF_ECRYPTO, "tampered TBS accepted");
    cn[2] = '1';
    cr_assert_eq(gf_trust_check_cert(t, der, n, &p), GF_OK);
    /* Trailing bytes, truncation, an empty or oversized buffer. */
    uint8_t *big = calloc(GF_CERT_DER_MAX + 1, 1);
    memcpy(big, der, n);
    cr_assert_eq(gf_trust_check_cert(t, big, n + 1, &p), GF_ECRYPTO, "trailing byte accepted");
    cr_assert_eq(gf_trust_check_cert(t, big, GF_CERT_DER_MAX + 1, &p), GF_ECRYPTO);
    cr_assert_eq(gf_trust_check_cert(t, der, n - 1, &p), GF_ECRYPTO);
    cr_assert_eq(gf_trust_check_cert(t, der, 0, &p), GF_ECRYPTO);
    free(big);
    free(der);
    free(pem);
    /* The CA certificate is not a party. */
    char capem[1100];
    snprintf(capem, sizeof capem, "%s/ca.pem", ca);
    cr_assert_eq(check_pem(t, capem, &p), GF_ECRYPTO);
    gf_trust_free(t);
    /* A CRL signed by another CA is refused at load. */
    char capem2[1200], crl2[1200];
    snprintf(capem2, sizeof capem2, "%s/ca.pem", ca);
    snprintf(crl2, sizeof crl2, "%s/crl.pem", other);
    gf_trust *t2;
    cr_assert_eq(gf_trust_load(capem2, crl2, &t2), GF_ECRYPTO);
    cr_assert(msg_has("crl.pem"), "%s", gf_errmsg());
}

Test(pki, trust_rejects_expired_and_not_yet_valid)
{
    const char *ca = make_ca("gaitnet");
    gf_pki_issue_opts o = {.name = "old", .role = GF_ROLE_HOSPITAL, .days = 1};
    /* Issued as if the clock read 400 days ago, valid for one day. */
    cr_assert_eq(gf_pki_issue_at(ca, &o, time(NULL) - 400 * 86400, NULL), GF_OK, "%s", gf_errmsg());
    cr_assert_neq(tu_sh("openssl verify -CAfile %s/ca.pem %s/kits/old/cert.pem >/dev/null 2>&1", ca, ca), 0);
    gf_trust *t = trust_of(ca, 1);
    gf_peer p;
    char *pem = kitfile(ca, "old", "cert.pem");
    cr_assert_eq(check_pem(t, pem, &p), GF_ECRYPTO);
    cr_assert(msg_has("expired"), "%s", gf_errmsg());
    free(pem);
    o.name = "future";
    cr_assert_eq(gf_pki_issue_at(ca, &o, time(NULL) + 2 * 86400, NULL), GF_OK, "%s", gf_errmsg());
    pem = kitfile(ca, "future", "cert.pem");
    cr_assert_eq(check_pem(t, pem, &p), GF_ECRYPTO);
    cr_assert(msg_has("not yet valid"), "%s", gf_errmsg());
    free(pem);
    gf_trust_free(t);
    /* A leaf may not outlive its CA. */
    char d[1100];
    snprintf(d, sizeof d, "%s/../short", ca);
    cr_assert_eq(gf_pki_init(d, "gaitnet", 30), GF_OK);
    gf_pki_issue_opts l = {.name = "h1", .role = GF_ROLE_HOSPITAL, .days = 31};
    cr_assert_eq(gf_pki_issue(d, &l, NULL), GF_EINVAL);
    cr_assert(msg_has("outlive"), "%s", gf_errmsg());
}

/* A certificate signed by the real CA key with the openssl binary: accepted
 * with OU=hospital (control), refused with OU=janitor or a wrong O. */
static void openssl_sign(const char *ca, const char *tag, const char *subj)
{
    cr_assert_eq(tu_sh("cd %s && printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
                       "subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' > ext.cnf && "
                       "openssl genpkey -algorithm ed25519 -out %s.key 2>/dev/null && "
                       "openssl req -new -key %s.key -subj '%s' -out %s.csr && "
                       "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 30 "
                       "-extfile ext.cnf -out %s.pem 2>/dev/null", ca, tag, tag, subj, tag, tag, tag), 0,
                 "openssl could not sign %s", tag);
}

Test(pki, trust_rejects_unknown_role_and_foreign_consortium)
{
    const char *ca = make_ca("gaitnet");
    openssl_sign(ca, "ctl", "/O=gaitnet/OU=hospital/CN=ctl");
    openssl_sign(ca, "jan", "/O=gaitnet/OU=janitor/CN=jan");
    openssl_sign(ca, "noou", "/O=gaitnet/CN=noou");
    openssl_sign(ca, "cons", "/O=othernet/OU=hospital/CN=cons");
    openssl_sign(ca, "badcn", "/O=gaitnet/OU=hospital/CN=a b");
    gf_trust *t = trust_of(ca, 1);
    gf_peer p;
    char f[1200];
    snprintf(f, sizeof f, "%s/ctl.pem", ca);
    cr_assert_eq(check_pem(t, f, &p), GF_OK, "control: %s", gf_errmsg());
    cr_assert_str_eq(p.name, "ctl");
    cr_assert_eq(p.serial, 4242);
    snprintf(f, sizeof f, "%s/jan.pem", ca);
    cr_assert_eq(check_pem(t, f, &p), GF_ECRYPTO);
    cr_assert(msg_has("role"), "%s", gf_errmsg());
    snprintf(f, sizeof f, "%s/noou.pem", ca);
    cr_assert_eq(check_pem(t, f, &p), GF_ECRYPTO);
    cr_assert(msg_has("role"), "%s", gf_errmsg());
    snprintf(f, sizeof f, "%s/cons.pem", ca);
    cr_assert_eq(check_pem(t, f, &p), GF_ECRYPTO);
    cr_assert(msg_has("consortium"), "%s", gf_errmsg());
    snprintf(f, sizeof f, "%s/badcn.pem", ca);
    cr_assert_eq(check_pem(t, f, &p), GF_ECRYPTO);
    cr_assert(msg_has("CN"), "%s", gf_errmsg());
    gf_trust_free(t);
}

/* ---- signatures and identities ----------------------------------------- */

Test(pki, trust_verify_rejects_bad_signatures)
{
    const char *ca = make_ca("gaitnet");
    char k1[1100], k2[1100];
    snprintf(k1, sizeof k1, "%s/kits/h1", ca);
    snprintf(k2, sizeof k2, "%s/kits/ev1", ca);
    gf_identity *a, *b;
    cr_assert_eq(gf_identity_load_kit(k1, &a), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_identity_load_kit(k2, &b), GF_OK, "%s", gf_errmsg());
    gf_trust *t = trust_of(ca, 1);
    const uint8_t msg[] = "share ciphertexts for round 3";
    uint8_t sa[GF_SIG_MAX], sb[GF_SIG_MAX];
    size_t la, lb, dl;
    cr_assert_eq(gf_identity_sign(a, msg, sizeof msg, sa, &la), GF_OK);
    cr_assert_eq(gf_identity_sign(b, msg, sizeof msg, sb, &lb), GF_OK);
    const uint8_t *der = gf_identity_cert_der(a, &dl);
    gf_peer p;
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, la, &p), GF_OK, "%s", gf_errmsg());
    /* Another party's key signing, presented with h1's certificate. */
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sb, lb, &p), GF_ECRYPTO);
    cr_assert_eq(p.role, GF_ROLE_NONE);
    /* A flipped bit, a truncated and an empty signature. */
    sa[10] ^= 0x80;
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, la, &p), GF_ECRYPTO);
    sa[10] ^= 0x80;
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, la - 1, &p), GF_ECRYPTO);
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, 0, &p), GF_ECRYPTO);
    /* The signature is over the whole message. */
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg - 1, sa, la, &p), GF_ECRYPTO);
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, la, &p), GF_OK);
    /* out may be NULL. */
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sa, la, NULL), GF_OK);
    cr_assert_eq(gf_trust_verify(t, der, dl, msg, sizeof msg, sb, lb, NULL), GF_ECRYPTO);
    cr_assert_eq(gf_trust_check_cert(t, der, dl, NULL), GF_OK);
    /* The openssl binary verifies our signature too (independent oracle). */
    char f[1200];
    snprintf(f, sizeof f, "%s/msg.bin", ca);
    cr_assert_eq(gf_write_file_atomic(f, msg, sizeof msg), GF_OK);
    snprintf(f, sizeof f, "%s/msg.sig", ca);
    cr_assert_eq(gf_write_file_atomic(f, sa, la), GF_OK);
    cr_assert_eq(tu_sh("cd %s && openssl x509 -in kits/h1/cert.pem -pubkey -noout > h1.pub && "
                       "openssl pkeyutl -verify -pubin -inkey h1.pub -rawin -in msg.bin -sigfile msg.sig >/dev/null", ca), 0,
                 "openssl pkeyutl does not verify gf_identity_sign");
    gf_trust_free(t);
    gf_identity_free(a);
    gf_identity_free(b);
}

Test(pki, identity_load_rejects_mismatch_and_non_ed25519)
{
    const char *ca = make_ca("gaitnet");
    char *key = kitfile(ca, "h1", "key.pem"), *cert = kitfile(ca, "ev1", "cert.pem"), *own = kitfile(ca, "h1", "cert.pem");
    gf_identity *id = NULL;
    cr_assert_eq(gf_identity_load(key, cert, &id), GF_ECRYPTO);
    cr_assert(msg_has("does not match"), "%s", gf_errmsg());
    cr_assert_null(id);
    cr_assert_eq(gf_identity_load(key, own, &id), GF_OK);
    gf_identity_free(id);
    char f[1200];
    for (const char *alg = "RSA\0EC\0X25519\0"; *alg; alg += strlen(alg) + 1) {
        snprintf(f, sizeof f, "%s/%s.key", ca, alg);
        cr_assert_eq(tu_sh("openssl genpkey -algorithm %s %s -out %s 2>/dev/null", alg,
                           !strcmp(alg, "RSA") ? "-pkeyopt rsa_keygen_bits:2048" :
                           !strcmp(alg, "EC") ? "-pkeyopt ec_paramgen_curve:P-256" : "", f), 0);
        cr_assert_eq(gf_identity_load(f, own, &id), GF_ECRYPTO, "%s key accepted", alg);
        cr_assert(msg_has("Ed25519"), "%s", gf_errmsg());
    }
    /* Missing files and garbage name the file. */
    snprintf(f, sizeof f, "%s/nope.pem", ca);
    cr_assert_eq(gf_identity_load(f, own, &id), GF_ENOTFOUND);
    cr_assert(msg_has("nope.pem"), "%s", gf_errmsg());
    cr_assert_eq(gf_identity_load(key, f, &id), GF_ENOTFOUND);
    cr_assert_eq(gf_identity_load(own, own, &id), GF_EFORMAT);
    free(key);
    free(cert);
    free(own);
}

/* ---- files, modes, locking, kit ---------------------------------------- */

static unsigned mode_of(const char *dir, const char *rel)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s missing", p);
    return st.st_mode & 0777;
}

Test(pki, private_files_have_private_modes)
{
    const char *ca = make_ca("gaitnet");
    cr_assert_eq(mode_of(ca, "."), 0700);
    cr_assert_eq(mode_of(ca, "ca.key"), 0600);
    cr_assert_eq(mode_of(ca, "kits"), 0700);
    for (const char *n = "h1\0ev1\0coord\0"; *n; n += strlen(n) + 1) {
        char rel[64];
        snprintf(rel, sizeof rel, "kits/%s/key.pem", n);
        cr_assert_eq(mode_of(ca, rel), 0600, "%s", rel);
        snprintf(rel, sizeof rel, "kits/%s", n);
        cr_assert_eq(mode_of(ca, rel), 0700, "%s", rel);
    }
    /* The key is Ed25519 in PKCS#8 PEM (openssl reads it). */
    cr_assert_eq(tu_sh("openssl pkey -in %s/ca.key -noout -text | grep -q ED25519", ca), 0);
    /* No temporaries left behind. */
    cr_assert_eq(tu_sh("test -z \"$(find %s -name '*.tmp.*')\"", ca), 0);
    /* A pre-existing world-readable directory becomes 0700. */
    const char *d = tu_dir();
    char ca2[1100];
    snprintf(ca2, sizeof ca2, "%s/open", d);
    cr_assert_eq(tu_sh("mkdir -m 0755 %s", ca2), 0);
    cr_assert_eq(gf_pki_init(ca2, "gaitnet", 0), GF_OK);
    cr_assert_eq(mode_of(ca2, "."), 0700);
}

Test(pki, kit_holds_files_and_config_skeletons)
{
    const char *ca = make_ca("gaitnet");
    for (const char *n = "h1\0ev1\0"; *n; n += strlen(n) + 1)
        cr_assert_eq(tu_sh("cd %s/kits/%s && cmp -s ca.pem ../../ca.pem && cmp -s crl.pem ../../crl.pem && "
                           "test ! -e coordinator.json && "
                           "%s -c 'import json,sys; d=json.load(open(\"node.json\")); "
                           "sys.exit(0 if d=={\"name\":\"%s\",\"role\":\"%s\",\"coordinator_url\":\"https://localhost:8443\","
                           "\"key\":\"key.pem\",\"cert\":\"cert.pem\",\"ca\":\"ca.pem\",\"site_db\":\"site.db\","
                           "\"state_dir\":\"state\",\"normalization\":\"own\"} else 1)'",
                           ca, n, tu_python(), n, n[0] == 'h' ? "hospital" : "evaluator"), 0, "kit %s", n);
    cr_assert_eq(tu_sh("cd %s/kits/coord && test ! -e node.json && "
                       "%s -c 'import json,os,sys; d=json.load(open(\"coordinator.json\")); "
                       "sys.exit(0 if d=={\"name\":\"coord\",\"listen\":\"127.0.0.1:8443\",\"key\":\"key.pem\","
                       "\"cert\":\"cert.pem\",\"ca\":\"ca.pem\",\"crl\":\"crl.pem\","
                       "\"db\":\"coordinator.db\",\"secure_aggregation\":True,\"strategy\":\"fedavg\",\"rounds\":20,"
                       "\"min_sites\":3,\"local_epochs\":1} else 1)'", ca, tu_python()), 0, "coordinator.json");
    /* The kit's key matches its certificate (gf_identity_load_kit checks it). */
    gf_identity *id;
    char k[1100];
    snprintf(k, sizeof k, "%s/kits/coord", ca);
    cr_assert_eq(gf_identity_load_kit(k, &id), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_identity_peer(id)->role, GF_ROLE_COORDINATOR);
    gf_identity_free(id);
}

Test(pki, a_locked_directory_is_refused)
{
    const char *ca = make_ca("gaitnet");
    char lock[1100], idx[1100];
    snprintf(lock, sizeof lock, "%s/.lock", ca);
    snprintf(idx, sizeof idx, "%s/index.json", ca);
    int fd = open(lock, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    gf_pki_issue_opts o = {.name = "h2", .role = GF_ROLE_HOSPITAL};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_ESTATE);
    cr_assert(msg_has("locked"), "%s", gf_errmsg());
    cr_assert_eq(gf_pki_revoke(ca, "h1"), GF_ESTATE);
    close(fd);
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
}

Test(pki, init_validates_and_refuses_existing_ca)
{
    const char *ca = make_ca("gaitnet");
    cr_assert_eq(gf_pki_init(ca, "gaitnet", 0), GF_ESTATE);
    cr_assert(msg_has("already exists"), "%s", gf_errmsg());
    const char *d = tu_dir();
    char p[1100];
    snprintf(p, sizeof p, "%s/x", d);
    cr_assert_eq(gf_pki_init(p, "bad name", 0), GF_EINVAL);
    cr_assert_eq(gf_pki_init(p, "", 0), GF_EINVAL);
    cr_assert_eq(gf_pki_init(p, "ok", -1), GF_EINVAL);
    cr_assert_eq(gf_pki_init(p, "ok", 36501), GF_EINVAL);
    gf_pki_issue_opts o = {.name = "..", .role = GF_ROLE_HOSPITAL};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_EINVAL);
    o.name = "x";
    o.role = GF_ROLE_NONE;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_EINVAL);
    cr_assert(gf_name_valid("site-01_a.b"));
    cr_assert(!gf_name_valid("a/b") && !gf_name_valid("") && !gf_name_valid("é"));
    char long_name[GF_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name);
    long_name[GF_NAME_MAX] = 0;
    cr_assert(gf_name_valid(long_name));
    long_name[GF_NAME_MAX] = 'a';
    long_name[GF_NAME_MAX + 1] = 0;
    cr_assert(!gf_name_valid(long_name));
    gf_role r;
    cr_assert_eq(gf_role_parse("coordinator", &r), GF_OK);
    cr_assert_eq(r, GF_ROLE_COORDINATOR);
    cr_assert_eq(gf_role_parse("Hospital", &r), GF_EINVAL);
    cr_assert_str_eq(gf_role_name(GF_ROLE_EVALUATOR), "evaluator");
}

/* ---- index.json parser --------------------------------------------------- */

#define ENTRY(serial, name, role, revoked, revoked_at)                                                              \
    "{\"serial\":" serial ",\"name\":" name ",\"role\":" role ",\"not_before\":\"2026-01-01T00:00:00Z\","       \
    "\"not_after\":\"2027-01-01T00:00:00Z\",\"revoked\":" revoked ",\"revoked_at\":" revoked_at "}"
#define INDEX(certs) "{\"version\":1,\"consortium\":\"gaitnet\",\"crl_number\":1,\"certs\":[" certs "]}"
#define GOOD ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"hospital\"", "false", "null")

Test(pki, index_parser_names_file_and_field)
{
    static const struct { const char *json, *want; } cases[] = {
        {"not json", "idx.json: line 1"},
        {"[]", "expected a JSON object"},
        {"{\"version\":2,\"consortium\":\"g\",\"crl_number\":1,\"certs\":[]}", "version"},
        {"{\"version\":1,\"crl_number\":1,\"certs\":[]}", "consortium: missing"},
        {"{\"version\":1,\"consortium\":\"a b\",\"crl_number\":1,\"certs\":[]}", "consortium: not a valid name"},
        {"{\"version\":1,\"consortium\":\"g\",\"crl_number\":0,\"certs\":[]}", "crl_number"},
        {"{\"version\":1,\"consortium\":\"g\",\"crl_number\":1,\"certs\":{}}", "certs: expected an array"},
        {INDEX("7"), "certs[0]: expected an object"},
        {INDEX(ENTRY("255", "\"h1\"", "\"hospital\"", "false", "null")), "certs[0].serial: expected a string"},
        {INDEX(ENTRY("\"0xff\"", "\"h1\"", "\"hospital\"", "false", "null")), "certs[0].serial"},
        {INDEX(ENTRY("\"0x0000000000000000\"", "\"h1\"", "\"hospital\"", "false", "null")), "certs[0].serial"},
        {INDEX(ENTRY("\"0x00000000000000fg\"", "\"h1\"", "\"hospital\"", "false", "null")), "certs[0].serial"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "\"a/b\"", "\"hospital\"", "false", "null")), "certs[0].name"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "7", "\"hospital\"", "false", "null")), "certs[0].name: expected a string"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"janitor\"", "false", "null")), "certs[0].role"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"hospital\"", "\"no\"", "null")), "certs[0].revoked"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"hospital\"", "true", "null")), "certs[0].revoked_at"},
        {INDEX(ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"hospital\"", "false", "\"2026-01-02T00:00:00Z\"")),
         "certs[0].revoked_at"},
        {INDEX(GOOD "," GOOD), "certs[1].serial: duplicate"},
        {INDEX(GOOD "," ENTRY("\"0x0000000000000100\"", "\"h1\"", "\"evaluator\"", "false", "null")),
         "certs[1].name: 'h1' has two unrevoked"},
        {"{\"version\":1,\"version\":1,\"consortium\":\"g\",\"crl_number\":1,\"certs\":[]}", "duplicate"},
        {INDEX("{\"serial\":\"0x00000000000000ff\",\"name\":\"h1\",\"role\":\"hospital\",\"not_before\":"
               "\"2026-02-31T00:00:00Z\",\"not_after\":\"2027-01-01T00:00:00Z\",\"revoked\":false}"),
         "certs[0].not_before"},
        {INDEX("{\"serial\":\"0x00000000000000ff\",\"name\":\"h1\",\"role\":\"hospital\",\"not_before\":"
               "\"2026-01-01T00:00:00Z\",\"not_after\":\"2025-01-01T00:00:00Z\",\"revoked\":false}"),
         "certs[0].not_after"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gf_pki_index ix;
        gf_errclear();
        gf_err e = gf_pki_index_parse("idx.json", (const uint8_t *)cases[i].json, strlen(cases[i].json), &ix);
        cr_assert_neq(e, GF_OK, "case %zu accepted: %s", i, cases[i].json);
        cr_assert(!strncmp(gf_errmsg(), "idx.json: ", 10), "case %zu: message does not name the file: %s", i, gf_errmsg());
        cr_assert(msg_has(cases[i].want), "case %zu: '%s' lacks '%s'", i, gf_errmsg(), cases[i].want);
        cr_assert_null(strchr(gf_errmsg(), '\n'), "case %zu: more than one line", i);
    }
    /* A valid index round-trips through dump/parse; a revoked entry and a
     * later unrevoked one of the same name are fine. */
    const char *ok = INDEX(ENTRY("\"0x00000000000000ff\"", "\"h1\"", "\"hospital\"", "true", "\"2026-03-01T12:00:00Z\"")
                           "," ENTRY("\"0x7fffffffffffffff\"", "\"h1\"", "\"coordinator\"", "false", "null"));
    gf_pki_index a, b;
    cr_assert_eq(gf_pki_index_parse("idx.json", (const uint8_t *)ok, strlen(ok), &a), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.certs[1].serial, 0x7fffffffffffffffULL);
    cr_assert_eq(a.certs[0].revoked_at, 1772366400);
    char *s;
    size_t n;
    cr_assert_eq(gf_pki_index_dump(&a, &s, &n), GF_OK);
    cr_assert_eq(gf_pki_index_parse("again", (const uint8_t *)s, n, &b), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(b.n, a.n);
    cr_assert_eq(memcmp(a.certs, b.certs, a.n * sizeof *a.certs), 0);
    free(s);
    gf_pki_index_free(&a);
    gf_pki_index_free(&b);
}

Test(pki, index_file_over_the_cap_is_refused)
{
    const char *d = tu_dir();
    char p[1100];
    snprintf(p, sizeof p, "%s/index.json", d);
    cr_assert_eq(tu_sh("head -c %u /dev/zero | tr '\\0' ' ' > %s", GF_PKI_INDEX_MAX + 1, p), 0);
    gf_pki_index ix;
    cr_assert_eq(gf_pki_index_load(p, &ix), GF_ERANGE);
    cr_assert(msg_has("index.json"), "%s", gf_errmsg());
}

/* ---- the CLI ------------------------------------------------------------- */

/* Hash of every file in the CA directory except the lock. */
static void snapshot(const char *ca, const char *out)
{
    cr_assert_eq(tu_sh("cd %s && find . -path ./.lock -prune -o -print | LC_ALL=C sort > %s && "
                       "find . -type f ! -name .lock -print0 | LC_ALL=C sort -z | xargs -0 sha256sum >> %s", ca, out, out), 0);
}

/* Runs a failing pki command: exit status `rc`, one line on stderr
 * containing `want`, the CA directory byte for byte unchanged. */
static void fails(const char *ca, int rc, const char *want, const char *args)
{
    char before[1200], after[1200], err[1200];
    snprintf(before, sizeof before, "%s.before", ca);
    snprintf(after, sizeof after, "%s.after", ca);
    snprintf(err, sizeof err, "%s.err", ca);
    snapshot(ca, before);
    cr_assert_eq(tu_sh("%s pki %s > /dev/null 2> %s", tu_bin(), args, err), rc, "'pki %s' should exit %d", args, rc);
    char wantf[1200];
    snprintf(wantf, sizeof wantf, "%s.want", ca);
    cr_assert_eq(gf_write_file_atomic(wantf, want, strlen(want)), GF_OK);
    if (rc == 1)
        cr_assert_eq(tu_sh("test $(wc -l < %s) -eq 1 && grep -qF -f %s %s", err, wantf, err), 0,
                     "'pki %s': expected one line containing '%s'", args, want);
    snapshot(ca, after);
    cr_assert_eq(tu_sh("cmp -s %s %s", before, after), 0, "'pki %s' changed the CA directory", args);
}

Test(pki, cli_init_issue_revoke_list)
{
    const char *d = tu_dir();
    char ca[1100];
    snprintf(ca, sizeof ca, "%s/ca", d);
    const char *b = tu_bin();
    cr_assert_eq(tu_sh("%s pki init --dir %s --consortium gaitnet --days 100 > %s/out", b, ca, d), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s --name h1 --role hospital >> %s/out", b, ca, d), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s --name ev1 --role evaluator --days 30 --out %s/ev1kit >> %s/out", b, ca, d, d), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s --name coord --role coordinator --host fl.example.org --host 10.0.0.7 >> %s/out",
                       b, ca, d), 0);
    cr_assert_eq(tu_sh("openssl x509 -noout -ext subjectAltName -in %s/kits/coord/cert.pem | "
                       "grep -q 'DNS:fl.example.org, IP Address:10.0.0.7'", ca), 0);
    cr_assert_eq(tu_sh("openssl verify -CAfile %s/ca.pem %s/ev1kit/cert.pem >/dev/null", ca, d), 0);
    cr_assert_eq(tu_sh("test -e %s/ev1kit/node.json && test ! -e %s/kits/ev1", d, ca), 0);
    /* --days reached the certificates: CA about 100 days, ev1 about 30. */
    cr_assert_eq(tu_sh("openssl x509 -checkend %d -noout -in %s/ca.pem >/dev/null && "
                       "! openssl x509 -checkend %d -noout -in %s/ca.pem >/dev/null", 99 * 86400, ca, 101 * 86400, ca), 0);
    cr_assert_eq(tu_sh("openssl x509 -checkend %d -noout -in %s/ev1kit/cert.pem >/dev/null && "
                       "! openssl x509 -checkend %d -noout -in %s/ev1kit/cert.pem >/dev/null", 29 * 86400, d, 31 * 86400, d), 0);
    cr_assert_eq(tu_sh("%s pki revoke --dir %s --name h1 >> %s/out", b, ca, d), 0);
    cr_assert_eq(tu_sh("%s pki list --dir %s > %s/list", b, ca, d), 0);
    cr_assert_eq(tu_sh("test $(wc -l < %s/list) -eq 4 && head -n 1 %s/list | grep -q '^serial .*name .*role .*not_after .*revoked'",
                       d, d), 0, "list header + 3 rows");
    cr_assert_eq(tu_sh("grep -Eq '^0x[0-9a-f]{16} +h1 +hospital +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T' %s/list", d), 0,
                 "h1 listed as revoked");
    cr_assert_eq(tu_sh("grep -Eq '^0x[0-9a-f]{16} +ev1 +evaluator +.* no$' %s/list && grep -Eq ' coord +coordinator +.* no$' %s/list",
                       d, d), 0);
    /* The serial list prints is the one openssl sees; revoke by it. */
    cr_assert_eq(tu_sh("s=$(awk '$2==\"ev1\"{print $1}' %s/list) && o=$(openssl x509 -noout -serial -in %s/ev1kit/cert.pem | cut -d= -f2) "
                       "&& test \"$(printf '%%d' $s)\" = \"$(printf '%%d' 0x$o)\" && %s pki revoke --dir %s --serial $s > /dev/null",
                       d, d, b, ca), 0, "revoke --serial with the listed serial");
    cr_assert_neq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/ev1kit/cert.pem >/dev/null 2>&1",
                        ca, ca, d), 0);
    cr_assert_eq(tu_sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/ca.pem %s/kits/coord/cert.pem >/dev/null",
                       ca, ca, ca), 0);
    /* After revocation the name can be issued again. */
    cr_assert_eq(tu_sh("%s pki issue --dir %s --name h1 --role hospital >/dev/null", b, ca), 0);
}

Test(pki, cli_failures_exit_1_one_line_and_change_nothing)
{
    const char *d = tu_dir();
    char ca[1100];
    snprintf(ca, sizeof ca, "%s/ca", d);
    const char *b = tu_bin();
    cr_assert_eq(tu_sh("%s pki init --dir %s --consortium gaitnet >/dev/null && %s pki issue --dir %s --name h1 --role hospital "
                       ">/dev/null", b, ca, b, ca), 0);
    char a[4096];
#define FAILS(rc, want, ...) do { snprintf(a, sizeof a, __VA_ARGS__); fails(ca, rc, want, a); } while (0)
    FAILS(1, "ca.key: a CA already exists", "init --dir %s --consortium other", ca);
    FAILS(1, "--role 'janitor'", "issue --dir %s --name h2 --role janitor", ca);
    FAILS(1, "name 'a/b'", "issue --dir %s --name a/b --role hospital", ca);
    FAILS(1, "name '..'", "issue --dir %s --name .. --role hospital", ca);
    FAILS(1, "name 'h1': already has an unrevoked", "issue --dir %s --name h1 --role hospital --out %s/x", ca, d);
    FAILS(1, "host 'a,b'", "issue --dir %s --name c1 --role coordinator --host a,b", ca);
    FAILS(1, "hosts: only a coordinator", "issue --dir %s --name h5 --role hospital --host x.org", ca);
    FAILS(1, "index.json: no unrevoked certificate named 'nobody'", "revoke --dir %s --name nobody", ca);
    FAILS(1, "index.json: no certificate with serial 0x0000000000000007", "revoke --dir %s --serial 7", ca);
    FAILS(1, "--serial 'zz'", "revoke --dir %s --serial zz", ca);
    FAILS(1, "nowhere/index.json: No such file", "list --dir %s/nowhere", d);
    /* Usage errors exit 2. */
    FAILS(2, "", "issue --dir %s --name h3", ca);
    FAILS(2, "", "issue --dir %s --name h3 --role hospital --days zero", ca);
    FAILS(2, "", "revoke --dir %s --name h1 --serial 7", ca);
    FAILS(2, "", "frobnicate --dir %s", ca);
    FAILS(2, "", "init --dir %s", ca);
    FAILS(2, "", "list --dir %s --bogus", ca);
    cr_assert_eq(tu_sh("%s pki 2>/dev/null", b), 2);
    /* A kit directory that already holds a kit. */
    cr_assert_eq(tu_sh("mkdir -p %s/kit && touch %s/kit/key.pem", d, d), 0);
    FAILS(1, "kit/key.pem: kit directory already holds a kit", "issue --dir %s --name h4 --role hospital --out %s/kit", ca, d);
    cr_assert_eq(tu_sh("test $(ls %s/kit | wc -l) -eq 1", d), 0, "the existing kit directory was changed");
    /* A corrupted index.json: named with its field, nothing written. */
    cr_assert_eq(tu_sh("cp %s/index.json %s/index.good && sed -i 's/\"hospital\"/\"janitor\"/' %s/index.json", ca, d, ca), 0);
    FAILS(1, "index.json: certs[0].role", "issue --dir %s --name h2 --role hospital", ca);
    FAILS(1, "index.json: certs[0].role", "revoke --dir %s --name h1", ca);
    FAILS(1, "index.json: certs[0].role", "list --dir %s", ca);
    cr_assert_eq(tu_sh("printf '{\"version\": 1, \"consortium\": ' > %s/index.json", ca), 0);
    FAILS(1, "index.json: line 1", "issue --dir %s --name h2 --role hospital", ca);
    cr_assert_eq(tu_sh("cp %s/index.good %s/index.json", d, ca), 0);
    /* A missing or foreign ca.key. */
    cr_assert_eq(tu_sh("mv %s/ca.key %s/ca.key.away", ca, d), 0);
    FAILS(1, "ca.key", "issue --dir %s --name h2 --role hospital", ca);
    FAILS(1, "ca.key", "revoke --dir %s --name h1", ca);
    cr_assert_eq(tu_sh("openssl genpkey -algorithm ed25519 -out %s/ca.key", ca), 0);
    FAILS(1, "ca.key: does not match the CA certificate", "issue --dir %s --name h2 --role hospital", ca);
    cr_assert_eq(tu_sh("mv %s/ca.key.away %s/ca.key", d, ca), 0);
    /* Everything works again once the directory is repaired. */
    cr_assert_eq(tu_sh("%s pki issue --dir %s --name h2 --role hospital >/dev/null", b, ca), 0);
#undef FAILS
}

/* A CRL past its nextUpdate makes every check fail (the reason the README
 * asks for a re-signed CRL within the year). */
Test(pki, an_expired_crl_fails_every_check)
{
    const char *dir = make_ca("gaitnet");
    gf_pki_ca ca;
    cr_assert_eq(gf_pki_open(dir, 1, &ca), GF_OK, "%s", gf_errmsg());
    X509_CRL *crl;
    cr_assert_eq(gf_pki_make_crl(ca.cert, ca.key, &ca.ix, time(NULL) - 400 * 86400, GF_PKI_CRL_DAYS, &crl), GF_OK);
    gf_pki_close(&ca);
    char *pem;
    size_t n;
    cr_assert_eq(gf_pem_crl(crl, &pem, &n), GF_OK);
    X509_CRL_free(crl);
    char f[1100], capem[1100];
    snprintf(f, sizeof f, "%s/old-crl.pem", dir);
    snprintf(capem, sizeof capem, "%s/ca.pem", dir);
    cr_assert_eq(gf_write_file_atomic(f, pem, n), GF_OK);
    free(pem);
    gf_trust *t;
    cr_assert_eq(gf_trust_load(capem, f, &t), GF_OK, "%s", gf_errmsg());
    char *h1 = kitfile(dir, "h1", "cert.pem");
    gf_peer p;
    cr_assert_eq(check_pem(t, h1, &p), GF_ECRYPTO);
    cr_assert(msg_has("CRL has expired"), "%s", gf_errmsg());
    gf_trust_free(t);
    /* The current CRL accepts the same certificate. */
    t = trust_of(dir, 1);
    cr_assert_eq(check_pem(t, h1, &p), GF_OK, "%s", gf_errmsg());
    gf_trust_free(t);
    free(h1);
}

/* identity.h promises that a loaded identity and trust may be shared between
 * threads: four threads sign and verify with the same objects at once. */
typedef struct {
    gf_identity *id;
    gf_trust *t;
    int ok;
} share_arg;

static void *share_worker(void *p)
{
    share_arg *a = p;
    size_t dl;
    const uint8_t *der = gf_identity_cert_der(a->id, &dl);
    a->ok = 1;
    for (int i = 0; i < 50; i++) {
        uint8_t msg[8] = {(uint8_t)i}, sig[GF_SIG_MAX];
        size_t sl;
        gf_peer peer;
        if (gf_identity_sign(a->id, msg, sizeof msg, sig, &sl) || gf_trust_verify(a->t, der, dl, msg, sizeof msg, sig, sl, &peer))
            a->ok = 0;
        sig[0] ^= 1;
        if (gf_trust_verify(a->t, der, dl, msg, sizeof msg, sig, sl, &peer) == GF_OK) a->ok = 0;
    }
    return NULL;
}

Test(pki, identity_and_trust_shared_between_threads)
{
    const char *ca = make_ca("gaitnet");
    char kit[1100];
    snprintf(kit, sizeof kit, "%s/kits/coord", ca);
    gf_identity *id;
    cr_assert_eq(gf_identity_load_kit(kit, &id), GF_OK, "%s", gf_errmsg());
    gf_trust *t = trust_of(ca, 1);
    pthread_t th[4];
    share_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (share_arg){.id = id, .t = t};
        cr_assert_eq(pthread_create(&th[i], NULL, share_worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert(a[i].ok, "thread %d: a signature check went wrong", i);
    }
    gf_trust_free(t);
    gf_identity_free(id);
}

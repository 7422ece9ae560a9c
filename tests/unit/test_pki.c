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

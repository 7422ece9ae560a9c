/* Cross-site evaluation transport (crypto/xeval.h): a sealed local model
 * opens, bit for bit, for each addressed hospital and for nobody else; any
 * change to the body (sender, version, a wrap, the ciphertext) or the wrong
 * model context fails authentication; the parser refuses malformed bodies;
 * key messages are signed over name, version, model hash and key. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyagree.h"
#include "crypto/xeval.h"
#include "tests/unit/secagg_testutil.h"

#define NP 1000

typedef struct {
    uint8_t sk[3][32], pk[3][32], sha[32];
    float theta[NP];
    uint8_t *body;
    size_t len;
} fixture;

static const char *const names[3] = {"alpha", "beta", "gamma"};

/* alpha seals for beta and gamma. */
static void make(fixture *f)
{
    for (int i = 0; i < 3; i++) cr_assert_eq(gf_x25519_keypair(f->sk[i], f->pk[i]), GF_OK);
    for (int i = 0; i < 32; i++) f->sha[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < NP; i++) f->theta[i] = (float)((i % 97) - 48) / 17.0f;
    gf_xeval_recipient rc[2] = {{names[1], f->pk[1]}, {names[2], f->pk[2]}};
    cr_assert_eq(gf_xeval_seal(names[0], f->sk[0], 7, f->sha, f->theta, NP, rc, 2, &f->body, &f->len), GF_OK, "%s",
                 gf_errmsg());
}

static gf_err open_as(const fixture *f, const uint8_t *body, size_t len, int who, const uint8_t *sender_pk,
                      const uint8_t *sha, float *out)
{
    gf_xeval_body b;
    gf_err e = gf_xeval_parse(body, len, &b);
    if (e) return e;
    return gf_xeval_open(&b, names[who], f->sk[who], sender_pk, sha, out, NP);
}

Test(xeval, sealed_model_opens_exactly_for_each_recipient_only)
{
    fixture f;
    make(&f);
    gf_xeval_body b;
    cr_assert_eq(gf_xeval_parse(f.body, f.len, &b), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(b.sender, "alpha");
    cr_assert_eq(b.version, 7);
    cr_assert_eq(b.L, NP);
    cr_assert_eq(b.n_wraps, 2);
    cr_assert_eq(f.len, 4 + 4 + 8 + 1 + 5 + 4 + (1 + 4 + 60) + (1 + 5 + 60) + 8 + 28 + 4 * NP, "%zu", f.len);
    /* The model bytes do not appear in the body. */
    for (size_t i = 0; i + 64 <= f.len; i++) cr_assert_neq(memcmp(f.body + i, f.theta, 64), 0, "plaintext at %zu", i);
    for (int who = 1; who <= 2; who++) {
        float out[NP];
        cr_assert_eq(open_as(&f, f.body, f.len, who, f.pk[0], f.sha, out), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(memcmp(out, f.theta, sizeof out), 0, "recipient %d got other parameters", who);
    }
    float out[NP];
    /* The sender itself is not addressed; a stranger's key is not a recipient's. */
    cr_assert_eq(open_as(&f, f.body, f.len, 0, f.pk[0], f.sha, out), GF_ENOTFOUND);
    /* A recipient that trusts a substituted sender key (the coordinator's own) fails. */
    uint8_t msk[32], mpk[32];
    cr_assert_eq(gf_x25519_keypair(msk, mpk), GF_OK);
    cr_assert_eq(open_as(&f, f.body, f.len, 1, mpk, f.sha, out), GF_ECRYPTO);
    /* Another final model (another context): fails. */
    uint8_t sha2[32];
    memcpy(sha2, f.sha, 32);
    sha2[5] ^= 1;
    cr_assert_eq(open_as(&f, f.body, f.len, 1, f.pk[0], sha2, out), GF_ECRYPTO);
    free(f.body);
}

Test(xeval, every_tampered_byte_region_fails_authentication)
{
    fixture f;
    make(&f);
    /* offsets: version, sender name, beta's wrap, gamma's wrap, model nonce, ciphertext, tag */
    size_t wrap_b = 4 + 4 + 8 + 1 + 5 + 4 + 1 + 4, ct = f.len - 4 * NP - 28;
    size_t offs[] = {8, 17, wrap_b, wrap_b + 30, wrap_b + 59, ct, ct + 12, ct + 12 + 2000, f.len - 1};
    for (size_t k = 0; k < sizeof offs / sizeof *offs; k++) {
        uint8_t *b = malloc(f.len);
        memcpy(b, f.body, f.len);
        b[offs[k]] ^= 0x20;
        float out[NP];
        gf_err e = open_as(&f, b, f.len, 1, f.pk[0], f.sha, out);
        cr_assert(e == GF_ECRYPTO || e == GF_EFORMAT, "flip at %zu accepted (%d)", offs[k], e);
        free(b);
    }
    free(f.body);
}

Test(xeval, parser_refuses_malformed_bodies)
{
    fixture f;
    make(&f);
    gf_xeval_body b;
    for (size_t cut = 0; cut < f.len; cut += cut < 200 ? 1 : 997)
        cr_assert_eq(gf_xeval_parse(f.body, cut, &b), GF_EFORMAT, "truncated at %zu accepted", cut);
    uint8_t *x = malloc(f.len + 1);
    memcpy(x, f.body, f.len);
    x[f.len] = 0;
    cr_assert_eq(gf_xeval_parse(x, f.len + 1, &b), GF_EFORMAT, "trailing byte accepted");
    memcpy(x, f.body, f.len);
    x[0] = 'X';
    cr_assert_eq(gf_xeval_parse(x, f.len, &b), GF_EFORMAT);
    memcpy(x, f.body, f.len);
    x[16] = 0; /* empty sender name */
    cr_assert_eq(gf_xeval_parse(x, f.len, &b), GF_EFORMAT);
    memcpy(x, f.body, f.len);
    x[22] = 0xff, x[23] = 0xff; /* recipient count far over the cap */
    cr_assert_eq(gf_xeval_parse(x, f.len, &b), GF_EFORMAT);
    free(x);
    free(f.body);
}

Test(xeval, key_messages_bind_name_version_model_and_key)
{
    tu_fed fed;
    tu_fed_make(&fed, 2, "xevalfed");
    uint8_t sha[32] = {1}, pk[32], sk[32], msg[GF_XEVAL_KEYMSG_MAX], sig[64];
    size_t ml, sl, cl;
    cr_assert_eq(gf_x25519_keypair(sk, pk), GF_OK);
    cr_assert_eq(gf_xeval_key_message("site001", 3, sha, pk, msg, &ml), GF_OK);
    cr_assert_eq(gf_identity_sign(fed.ids[0], msg, ml, sig, &sl), GF_OK);
    const uint8_t *cert = gf_identity_cert_der(fed.ids[0], &cl);
    gf_peer who;
    cr_assert_eq(gf_trust_verify(fed.trust, cert, cl, msg, ml, sig, sl, &who), GF_OK, "%s", gf_errmsg());
    cr_assert_str_eq(who.name, "site001");
    /* The same signature over another version, model or key does not verify. */
    uint8_t m2[GF_XEVAL_KEYMSG_MAX];
    size_t l2;
    cr_assert_eq(gf_xeval_key_message("site001", 4, sha, pk, m2, &l2), GF_OK);
    cr_assert_eq(gf_trust_verify(fed.trust, cert, cl, m2, l2, sig, sl, NULL), GF_ECRYPTO);
    pk[0] ^= 1;
    cr_assert_eq(gf_xeval_key_message("site001", 3, sha, pk, m2, &l2), GF_OK);
    cr_assert_eq(gf_trust_verify(fed.trust, cert, cl, m2, l2, sig, sl, NULL), GF_ECRYPTO);
    /* Another site's certificate with this signature: refused. */
    const uint8_t *cert2 = gf_identity_cert_der(fed.ids[1], &cl);
    cr_assert_eq(gf_trust_verify(fed.trust, cert2, cl, msg, ml, sig, sl, NULL), GF_ECRYPTO);
    cr_assert_eq(gf_xeval_key_message("bad name!", 3, sha, pk, m2, &l2), GF_EINVAL);
    tu_fed_free(&fed);
}

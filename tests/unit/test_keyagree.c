/* X25519 and HKDF-SHA256: RFC known answers, and the protocol's derivations
 * checked against the openssl command-line tool as an independent oracle. */
#include <criterion/criterion.h>
#include <string.h>

#include "crypto/keyagree.h"
#include "crypto/maskgen.h"
#include "tests/unit/crypto_testutil.h"
#include "tests/unit/testutil.h"

Test(keyagree, x25519_rfc7748_5_2)
{
    uint8_t k[32], u[32], want[32], out[32];
    tu_unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", k, 32);
    tu_unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", u, 32);
    tu_unhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", want, 32);
    cr_assert_eq(gf_x25519_derive(k, u, out), GF_OK, "%s", gf_errmsg());
    cr_assert_arr_eq(out, want, 32);
}

Test(keyagree, x25519_rfc7748_6_1)
{
    uint8_t a[32], A[32], b[32], B[32], K[32], pa[32], pb[32], ka[32], kb[32];
    tu_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    tu_unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", A, 32);
    tu_unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
    tu_unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", B, 32);
    tu_unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", K, 32);
    cr_assert_eq(gf_x25519_public(a, pa), GF_OK);
    cr_assert_eq(gf_x25519_public(b, pb), GF_OK);
    cr_assert_arr_eq(pa, A, 32);
    cr_assert_arr_eq(pb, B, 32);
    cr_assert_eq(gf_x25519_derive(a, B, ka), GF_OK);
    cr_assert_eq(gf_x25519_derive(b, A, kb), GF_OK);
    cr_assert_arr_eq(ka, K, 32);
    cr_assert_arr_eq(kb, K, 32);
}

Test(keyagree, x25519_refuses_small_order_point)
{
    uint8_t a[32], zero[32] = {0}, out[32];
    uint8_t pub[32];
    cr_assert_eq(gf_x25519_keypair(a, pub), GF_OK);
    cr_assert_eq(gf_x25519_derive(a, zero, out), GF_ECRYPTO);
}

Test(keyagree, keypairs_are_fresh)
{
    uint8_t a[32], A[32], b[32], B[32], chk[32];
    cr_assert_eq(gf_x25519_keypair(a, A), GF_OK);
    cr_assert_eq(gf_x25519_keypair(b, B), GF_OK);
    cr_assert(memcmp(a, b, 32) != 0);
    cr_assert_eq(gf_x25519_public(a, chk), GF_OK);
    cr_assert_arr_eq(chk, A, 32);
}

Test(keyagree, hkdf_rfc5869_case1)
{
    uint8_t ikm[22], salt[13], info[10], want[42], out[42];
    memset(ikm, 0x0b, sizeof ikm);
    tu_unhex("000102030405060708090a0b0c", salt, 13);
    tu_unhex("f0f1f2f3f4f5f6f7f8f9", info, 10);
    tu_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", want, 42);
    cr_assert_eq(gf_hkdf_sha256(ikm, 22, salt, 13, info, 10, out, 42), GF_OK, "%s", gf_errmsg());
    cr_assert_arr_eq(out, want, 42);
}

/* Raw X25519 keys as DER for the openssl tool (PKCS#8 / SubjectPublicKeyInfo). */
static void write_der_keys(const char *dir, const uint8_t priv[32], const uint8_t peer_pub[32])
{
    uint8_t p8[48], spki[44];
    tu_unhex("302e020100300506032b656e04220420", p8, 16);
    memcpy(p8 + 16, priv, 32);
    tu_unhex("302a300506032b656e032100", spki, 12);
    memcpy(spki + 12, peer_pub, 32);
    char path[1200];
    snprintf(path, sizeof path, "%s/priv.der", dir);
    tu_write(path, p8, sizeof p8);
    snprintf(path, sizeof path, "%s/peer.der", dir);
    tu_write(path, spki, sizeof spki);
}

Test(keyagree, derivations_match_openssl_cli)
{
    const char *d = tu_dir();
    uint8_t a[32], A[32], b[32], B[32], ctx[32], z[32], zcli[32];
    cr_assert_eq(gf_x25519_keypair(a, A), GF_OK);
    cr_assert_eq(gf_x25519_keypair(b, B), GF_OK);
    cr_assert_eq(gf_sha256("some round context", 18, ctx), GF_OK);
    write_der_keys(d, a, B);
    cr_assert_eq(tu_sh("openssl pkeyutl -derive -inkey %s/priv.der -keyform DER -peerkey %s/peer.der "
                       "-peerform DER -out %s/z.bin 2>%s/err", d, d, d, d), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/z.bin", d);
    cr_assert_eq(tu_read(path, zcli, 32), 32u);
    cr_assert_eq(gf_x25519_derive(a, B, z), GF_OK);
    cr_assert_arr_eq(z, zcli, 32);

    /* Mask seed and directional share key via `openssl kdf ... HKDF`. */
    struct { int mask; uint32_t x, y; } cases[] = {{1, 7, 3}, {1, 3, 7}, {0, 3, 7}, {0, 7, 3}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint8_t mine[32], cli[64];
        const char *label = cases[c].mask ? GF_SECAGG_INFO_MASK : GF_SECAGG_INFO_SHARE;
        uint32_t i0 = cases[c].x, i1 = cases[c].y;
        if (cases[c].mask && i0 > i1) { uint32_t t = i0; i0 = i1; i1 = t; } /* mask: min, max */
        uint8_t info[64];
        size_t ll = strlen(label);
        memcpy(info, label, ll);
        gf_put_u32le(info + ll, i0);
        gf_put_u32le(info + ll + 4, i1);
        char hz[65], hs[65], hi[129];
        tu_hex(z, 32, hz);
        tu_hex(ctx, 32, hs);
        tu_hex(info, ll + 8, hi);
        cr_assert_eq(tu_sh("openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:%s -kdfopt hexsalt:%s "
                           "-kdfopt hexinfo:%s HKDF > %s/kdf.txt 2>%s/err", hz, hs, hi, d, d), 0);
        char txt[256] = {0};
        snprintf(path, sizeof path, "%s/kdf.txt", d);
        tu_read(path, txt, sizeof txt - 1);
        cr_assert_eq(tu_unhex(txt, cli, sizeof cli), 32u);
        if (cases[c].mask) cr_assert_eq(gf_secagg_mask_seed(a, B, ctx, cases[c].x, cases[c].y, mine), GF_OK);
        else cr_assert_eq(gf_secagg_share_key(a, B, ctx, cases[c].x, cases[c].y, mine), GF_OK);
        cr_assert_arr_eq(mine, cli, 32, "case %zu", c);
    }
    /* Both ends agree on the mask seed; share keys are directional. */
    uint8_t s1[32], s2[32], k1[32], k2[32];
    cr_assert_eq(gf_secagg_mask_seed(a, B, ctx, 3, 7, s1), GF_OK);
    cr_assert_eq(gf_secagg_mask_seed(b, A, ctx, 7, 3, s2), GF_OK);
    cr_assert_arr_eq(s1, s2, 32);
    cr_assert_eq(gf_secagg_share_key(a, B, ctx, 3, 7, k1), GF_OK);
    cr_assert_eq(gf_secagg_share_key(b, A, ctx, 7, 3, k2), GF_OK);
    cr_assert(memcmp(k1, k2, 32) != 0);
}

/* Fixed known answers for the protocol's own derivations and mask expansion
 * (RFC 7748 §6.1 keys; expected values computed independently with Python's
 * hmac/hashlib HKDF and `openssl enc -aes-256-ctr`), so a change of label,
 * index encoding or word order fails even where no openssl binary exists. */
Test(keyagree, protocol_derivation_and_mask_kat)
{
    uint8_t a[32], B[32], ctx[32], seed[32], key[32], want[32];
    tu_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    tu_unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", B, 32);
    cr_assert_eq(gf_sha256("gaitfed kat context", 19, ctx), GF_OK);
    tu_unhex("32efbb0c88d25074f60b25fa43cdb31d323ad556c164fa3bbb268158045af142", want, 32);
    cr_assert_arr_eq(ctx, want, 32);
    cr_assert_eq(gf_secagg_mask_seed(a, B, ctx, 7, 3, seed), GF_OK);
    tu_unhex("27ab69f628b66796831a0478e67962fa6ee374fb478a4e3ad8884f3e2c8c79ad", want, 32);
    cr_assert_arr_eq(seed, want, 32);
    cr_assert_eq(gf_secagg_share_key(a, B, ctx, 7, 3, key), GF_OK);
    tu_unhex("b7065d82aad0fe9ca205e16ac0266941f81f2f8e75690b987ee6dc2debefc60f", want, 32);
    cr_assert_arr_eq(key, want, 32);
    uint32_t v[8] = {0}, w[8] = {0x5e2deedb, 0x52cb0e04, 0xc0735e7c, 0x2fd28d10, 0x10ba1098, 0xca86415e, 0xa02a07d6, 0xa9e33637};
    cr_assert_eq(gf_mask_apply(v, 8, seed, +1), GF_OK);
    cr_assert_arr_eq(v, w, sizeof w);
}

/* Mask expansion: AES-256-CTR known answers (NIST SP 800-38A F.5.5) and the
 * mask words checked against `openssl enc -aes-256-ctr` on zero bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/maskgen.h"
#include "tests/unit/crypto_testutil.h"
#include "tests/unit/testutil.h"

Test(maskgen, aes256ctr_sp800_38a_f55)
{
    uint8_t key[32], iv[16], pt[64], want[64], ct[64], ks[64];
    tu_unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", key, 32);
    tu_unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, 16);
    tu_unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710", pt, 64);
    tu_unhex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
             "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6", want, 64);
    cr_assert_eq(gf_aes256ctr_xor(key, iv, pt, ct, 64), GF_OK);
    cr_assert_arr_eq(ct, want, 64);
    cr_assert_eq(gf_aes256ctr_keystream(key, iv, ks, 64), GF_OK);
    for (int i = 0; i < 64; i++) cr_assert_eq(ks[i] ^ pt[i], want[i]);
}

Test(maskgen, words_match_openssl_enc_and_ranges_compose)
{
    const char *d = tu_dir();
    enum { L = 50001 }; /* not a multiple of the 16 KiB chunk or of 4 words */
    uint8_t key[32];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 37 + 11);
    uint32_t *v = calloc(L, 4), *w = calloc(L, 4);
    uint8_t *cli = malloc(4 * L);
    cr_assert(v && w && cli);
    cr_assert_eq(gf_mask_apply(v, L, key, +1), GF_OK);
    char hk[65];
    tu_hex(key, 32, hk);
    cr_assert_eq(tu_sh("head -c %d /dev/zero | openssl enc -aes-256-ctr -K %s -iv 00000000000000000000000000000000 "
                       "> %s/ks.bin 2>%s/err", 4 * L, hk, d, d), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/ks.bin", d);
    cr_assert_eq(tu_read(path, cli, 4 * L), (size_t)4 * L);
    for (size_t i = 0; i < L; i++) {
        uint32_t le = (uint32_t)cli[4 * i] | (uint32_t)cli[4 * i + 1] << 8 | (uint32_t)cli[4 * i + 2] << 16 |
                      (uint32_t)cli[4 * i + 3] << 24;
        cr_assert_eq(v[i], le, "word %zu", i);
    }
    /* Any range expands to the same words (the server's threads rely on it). */
    size_t cuts[] = {0, 1, 5, 4099, 4100, 30001, L};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof *cuts; c++)
        cr_assert_eq(gf_mask_apply_range(w + cuts[c], cuts[c], cuts[c + 1] - cuts[c], key, +1), GF_OK);
    cr_assert_arr_eq(v, w, 4 * L);
    /* Subtracting the same mask restores zero; a different key does not. */
    cr_assert_eq(gf_mask_apply(v, L, key, -1), GF_OK);
    for (size_t i = 0; i < L; i++) cr_assert_eq(v[i], 0u);
    key[0] ^= 1;
    cr_assert_eq(gf_mask_apply(w, L, key, -1), GF_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < L; i++) zeros += w[i] == 0;
    cr_assert_lt(zeros, 3u);
    cr_assert_eq(gf_mask_apply(w, L, key, 2), GF_EINVAL);
    free(v), free(w), free(cli);
}

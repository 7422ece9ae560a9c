/* libFuzzer target for the cross-site evaluation body parser
 * (crypto/xeval.h). Whatever it accepts must lie inside the input, with
 * names valid, recipients within the cap and the ciphertext length exact;
 * opening it with a fixed key must fail cleanly (or, never expected from
 * random bytes, succeed) without touching memory outside. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/xeval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_xeval_body b;
    if (gf_xeval_parse(data, size, &b) != GF_OK) return 0;
    if (b.ct < data || b.ct + b.ct_len != data + size || b.ct_len != 28 + 4 * b.L) abort();
    if (b.wraps < data || b.wraps + b.wraps_len > b.ct || b.n_wraps > GF_XEVAL_MAX_PEERS) abort();
    if (!gf_name_valid(b.sender)) abort();
    if (b.L > 4096) return 0; /* keep the open cheap */
    static const uint8_t sk[32] = {9}, pk[32] = {9}, sha[32] = {1};
    float *theta = malloc((b.L ? b.L : 1) * sizeof *theta);
    if (!theta) return 0;
    gf_err e = gf_xeval_open(&b, "site", sk, pk, sha, theta, b.L);
    if (e != GF_OK && e != GF_ECRYPTO && e != GF_ENOTFOUND && e != GF_EFORMAT) abort();
    free(theta);
    return 0;
}

/* libFuzzer target for every secure-aggregation message parser. Beyond "no
 * crash": whatever a parser accepts must lie inside the input and satisfy the
 * invariants the client and server rely on (indices in 1..n, ascending, sizes
 * exact). The input is tried as every type, with n = 5 parties, the round id
 * of its header and the vector length its own field claims (capped). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secagg_msg.h"

#define N 5

static void in_buf(const uint8_t *base, size_t size, const uint8_t *p, size_t n)
{
    if (p < base || p + n > base + size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t round = size >= 16 ? ((uint64_t)data[8] | (uint64_t)data[9] << 8 | (uint64_t)data[10] << 16 |
                                   (uint64_t)data[11] << 24 | (uint64_t)data[12] << 32 | (uint64_t)data[13] << 40 |
                                   (uint64_t)data[14] << 48 | (uint64_t)data[15] << 56)
                                : 1;
    gf_sa_advert a;
    if (gf_sa_parse_advert(data, size, round, N, &a) == GF_OK) {
        in_buf(data, size, a.raw, a.raw_len);
        in_buf(data, size, a.sig, 64);
        if (a.from < 1 || a.from > N || a.cert_len < 1 || a.cert_len > GF_CERT_DER_MAX) abort();
    }
    gf_sa_advert_list l;
    if (gf_sa_parse_advert_list(data, size, round, N, &l) == GF_OK) {
        for (uint32_t i = 0; i < l.count; i++) {
            in_buf(data, size, l.adv[i].raw, l.adv[i].raw_len);
            if (i && l.adv[i].from <= l.adv[i - 1].from) abort();
        }
        gf_sa_advert_list_free(&l);
    }
    gf_sa_type types[2] = {GF_SA_SHARES, GF_SA_ROUTED};
    for (int t = 0; t < 2; t++) {
        gf_sa_shares s;
        if (gf_sa_parse_shares(data, size, types[t], round, N, &s) != GF_OK) continue;
        if (s.count > N - 1) abort();
        in_buf(data, size, s.entries, (size_t)s.count * GF_SA_SHARE_ENTRY);
        if (types[t] == GF_SA_SHARES) in_buf(data, size, s.commits, 3 * GF_SA_COMMIT);
        else if (s.commits) abort();
        for (uint32_t i = 0; i < s.count; i++) {
            uint32_t v = gf_sa_shares_peer(&s, i);
            if (v < 1 || v > N || v == s.party) abort();
        }
    }
    uint32_t L = size >= 28 ? gf_sa_u32(data + 24) : 0;
    if (L > 1u << 20) L = 1u << 20;
    gf_sa_masked m;
    if (gf_sa_parse_masked(data, size, round, N, L, &m) == GF_OK) in_buf(data, size, m.data, (size_t)m.L * 4);
    gf_sa_type st[2] = {GF_SA_SURVIVORS, GF_SA_UNMASK_REQ};
    for (int t = 0; t < 2; t++) {
        gf_sa_survivors s;
        if (gf_sa_parse_survivors(data, size, st[t], round, N, &s) != GF_OK) continue;
        in_buf(data, size, s.ids, 4 * (size_t)s.count);
        if (s.n_sig) in_buf(data, size, s.sigs, (size_t)s.n_sig * GF_SA_SIG_ENTRY);
        if (s.count < 1 || s.count > N || s.n_sig > s.count) abort();
    }
    gf_sa_consist c;
    if (gf_sa_parse_consist(data, size, round, N, &c) == GF_OK) in_buf(data, size, c.sig, 64);
    gf_sa_unmask u;
    if (gf_sa_parse_unmask(data, size, round, N, &u) == GF_OK) {
        in_buf(data, size, u.entries, (size_t)u.count * GF_SA_UNMASK_ENTRY);
        for (uint32_t i = 0; i < u.count; i++) {
            const uint8_t *e = u.entries + (size_t)i * GF_SA_UNMASK_ENTRY;
            gf_shamir_share sh;
            (void)gf_shamir_share_unpack(1, e + 5, &sh);
            if (e[4] > 1) abort();
        }
    }
    return 0;
}

#include "crypto/secagg_msg.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/keyagree.h"
#include "crypto/secagg.h"

gf_err gf_sa_parse_header(const uint8_t *buf, size_t len, gf_sa_type *type, uint64_t *round_id,
                          const uint8_t **body, size_t *body_len)
{
    if (!buf || len < GF_SA_HDR) return gf_fail(GF_EFORMAT, "secagg message: %zu bytes, shorter than the header", len);
    if (memcmp(buf, GF_SA_MAGIC, 4)) return gf_fail(GF_EFORMAT, "secagg message: bad magic");
    if (buf[4] != GF_SA_VERSION) return gf_fail(GF_EFORMAT, "secagg message: version %u (want %d)", buf[4], GF_SA_VERSION);
    if (buf[5] < 1 || buf[5] >= GF_SA_TYPE_COUNT_) return gf_fail(GF_EFORMAT, "secagg message: unknown type %u", buf[5]);
    if (buf[6] || buf[7]) return gf_fail(GF_EFORMAT, "secagg message: reserved field not zero");
    uint32_t bl = gf_sa_u32(buf + 16);
    if ((size_t)bl != len - GF_SA_HDR)
        return gf_fail(GF_EFORMAT, "secagg message: body length %u but %zu bytes follow", bl, len - GF_SA_HDR);
    *type = (gf_sa_type)buf[5];
    *round_id = gf_get_u64le(buf + 8);
    *body = buf + GF_SA_HDR;
    *body_len = bl;
    return GF_OK;
}

static const char *type_name(gf_sa_type t)
{
    static const char *const n[GF_SA_TYPE_COUNT_] = {"?", "advert", "advert list", "shares", "routed shares",
                                                     "masked input", "survivors", "consistency signature",
                                                     "unmask request", "unmask shares"};
    return t > 0 && t < GF_SA_TYPE_COUNT_ ? n[t] : "?";
}

static gf_err expect(const uint8_t *buf, size_t len, gf_sa_type want, uint64_t round_id, const uint8_t **body,
                     size_t *blen)
{
    gf_sa_type t;
    uint64_t r;
    GF_TRY(gf_sa_parse_header(buf, len, &t, &r, body, blen));
    if (t != want) return gf_fail(GF_EFORMAT, "secagg message: type %s, expected %s", type_name(t), type_name(want));
    if (r != round_id)
        return gf_fail(GF_ESTATE, "secagg %s: round %llu, expected %llu", type_name(want), (unsigned long long)r,
                       (unsigned long long)round_id);
    return GF_OK;
}

static gf_err party(uint32_t v, uint32_t n, const char *what, const char *field)
{
    if (v < 1 || v > n) return gf_fail(GF_EFORMAT, "secagg %s: %s %u outside 1..%u", what, field, v, n);
    return GF_OK;
}

/* One advert body at p (at most avail bytes); *used gets its size. */
static gf_err advert_at(const uint8_t *p, size_t avail, uint32_t n, const char *what, gf_sa_advert *a, size_t *used)
{
    if (avail < 4 + 64 + 2) return gf_fail(GF_EFORMAT, "secagg %s: advert truncated", what);
    a->from = gf_sa_u32(p);
    GF_TRY(party(a->from, n, what, "party index"));
    a->c_pk = p + 4;
    a->s_pk = p + 36;
    size_t cl = (size_t)p[68] | (size_t)p[69] << 8;
    if (cl < 1 || cl > GF_CERT_DER_MAX)
        return gf_fail(GF_EFORMAT, "secagg %s: certificate length %zu outside 1..%d", what, cl, GF_CERT_DER_MAX);
    size_t need = gf_sa_advert_size(cl);
    if (avail < need) return gf_fail(GF_EFORMAT, "secagg %s: certificate or signature truncated", what);
    a->cert = p + 70;
    a->cert_len = cl;
    a->sig = p + 70 + cl;
    a->raw = p;
    a->raw_len = need;
    *used = need;
    return GF_OK;
}

size_t gf_sa_advert_size(size_t cert_len) { return 4 + 32 + 32 + 2 + cert_len + GF_SA_SIG; }

void gf_sa_advert_write(uint8_t *p, uint32_t from, const uint8_t c_pk[32], const uint8_t s_pk[32],
                        const uint8_t *cert, size_t cert_len, const uint8_t sig[64])
{
    gf_put_u32le(p, from);
    memcpy(p + 4, c_pk, 32);
    memcpy(p + 36, s_pk, 32);
    p[68] = (uint8_t)cert_len;
    p[69] = (uint8_t)(cert_len >> 8);
    memcpy(p + 70, cert, cert_len);
    memcpy(p + 70 + cert_len, sig, GF_SA_SIG);
}

gf_err gf_sa_parse_advert(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_advert *out)
{
    const uint8_t *b;
    size_t bl, used;
    GF_TRY(expect(buf, len, GF_SA_ADVERT, round_id, &b, &bl));
    GF_TRY(advert_at(b, bl, n, "advert", out, &used));
    if (used != bl) return gf_fail(GF_EFORMAT, "secagg advert: %zu trailing bytes", bl - used);
    return GF_OK;
}

gf_err gf_sa_parse_advert_list(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_advert_list *out)
{
    const uint8_t *b;
    size_t bl;
    out->count = 0;
    out->adv = NULL;
    GF_TRY(expect(buf, len, GF_SA_ADVERT_LIST, round_id, &b, &bl));
    if (bl < 4) return gf_fail(GF_EFORMAT, "secagg advert list: count truncated");
    uint32_t cnt = gf_sa_u32(b);
    if (cnt < 1 || cnt > n) return gf_fail(GF_EFORMAT, "secagg advert list: count %u outside 1..%u", cnt, n);
    gf_sa_advert *a = calloc(cnt, sizeof *a);
    if (!a) return gf_fail(GF_ENOMEM, "secagg advert list: out of memory");
    size_t off = 4;
    for (uint32_t i = 0; i < cnt; i++) {
        size_t used;
        gf_err e = advert_at(b + off, bl - off, n, "advert list", &a[i], &used);
        if (e == GF_OK && i && a[i].from <= a[i - 1].from)
            e = gf_fail(GF_EFORMAT, "secagg advert list: party %u out of order or repeated", a[i].from);
        if (e != GF_OK) { free(a); return e; }
        off += used;
    }
    if (off != bl) { free(a); return gf_fail(GF_EFORMAT, "secagg advert list: %zu trailing bytes", bl - off); }
    out->count = cnt;
    out->adv = a;
    return GF_OK;
}

void gf_sa_advert_list_free(gf_sa_advert_list *l)
{
    if (!l) return;
    free(l->adv);
    l->adv = NULL;
    l->count = 0;
}

gf_err gf_sa_parse_shares(const uint8_t *buf, size_t len, gf_sa_type type, uint64_t round_id, uint32_t n,
                          gf_sa_shares *out)
{
    if (type != GF_SA_SHARES && type != GF_SA_ROUTED) return gf_fail(GF_EINVAL, "secagg: not a shares type");
    const uint8_t *b;
    size_t bl;
    const char *what = type_name(type);
    GF_TRY(expect(buf, len, type, round_id, &b, &bl));
    size_t head = type == GF_SA_SHARES ? GF_SA_SHARES_HEAD : GF_SA_ROUTED_HEAD;
    if (bl < head) return gf_fail(GF_EFORMAT, "secagg %s: header truncated", what);
    out->party = gf_sa_u32(b);
    GF_TRY(party(out->party, n, what, type == GF_SA_SHARES ? "sender" : "recipient"));
    out->count = gf_sa_u32(b + 4);
    if (out->count > n - 1) return gf_fail(GF_EFORMAT, "secagg %s: count %u over %u", what, out->count, n - 1);
    if (bl - head != (size_t)out->count * GF_SA_SHARE_ENTRY)
        return gf_fail(GF_EFORMAT, "secagg %s: %zu bytes for %u entries of %d", what, bl - head, out->count,
                       GF_SA_SHARE_ENTRY);
    out->commits = type == GF_SA_SHARES ? b + 8 : NULL;
    out->entries = b + head;
    for (uint32_t i = 0; i < out->count; i++) {
        uint32_t v = gf_sa_shares_peer(out, i);
        GF_TRY(party(v, n, what, "peer index"));
        if (v == out->party) return gf_fail(GF_EFORMAT, "secagg %s: entry %u addressed to its own party", what, i);
        if (i && v <= gf_sa_shares_peer(out, i - 1))
            return gf_fail(GF_EFORMAT, "secagg %s: peer %u out of order or repeated", what, v);
    }
    return GF_OK;
}

gf_err gf_sa_parse_masked(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, uint32_t L, gf_sa_masked *out)
{
    const uint8_t *b;
    size_t bl;
    GF_TRY(expect(buf, len, GF_SA_MASKED, round_id, &b, &bl));
    if (bl < 8) return gf_fail(GF_EFORMAT, "secagg masked input: header truncated");
    out->from = gf_sa_u32(b);
    GF_TRY(party(out->from, n, "masked input", "sender"));
    out->L = gf_sa_u32(b + 4);
    if (out->L != L) return gf_fail(GF_EFORMAT, "secagg masked input: vector length %u, expected %u", out->L, L);
    if (bl - 8 != (size_t)L * 4)
        return gf_fail(GF_EFORMAT, "secagg masked input: %zu data bytes, expected %zu", bl - 8, (size_t)L * 4);
    out->data = b + 8;
    return GF_OK;
}

gf_err gf_sa_parse_survivors(const uint8_t *buf, size_t len, gf_sa_type type, uint64_t round_id, uint32_t n,
                             gf_sa_survivors *out)
{
    if (type != GF_SA_SURVIVORS && type != GF_SA_UNMASK_REQ) return gf_fail(GF_EINVAL, "secagg: not a survivors type");
    const char *what = type_name(type);
    const uint8_t *b;
    size_t bl;
    GF_TRY(expect(buf, len, type, round_id, &b, &bl));
    if (bl < 4) return gf_fail(GF_EFORMAT, "secagg %s: count truncated", what);
    out->count = gf_sa_u32(b);
    if (out->count < 1 || out->count > n) return gf_fail(GF_EFORMAT, "secagg %s: count %u outside 1..%u", what, out->count, n);
    size_t need = 4 + (size_t)out->count * 4;
    if (bl < need) return gf_fail(GF_EFORMAT, "secagg %s: survivor list truncated", what);
    out->ids = b + 4;
    for (uint32_t i = 0; i < out->count; i++) {
        uint32_t v = gf_sa_u32(out->ids + 4 * i);
        GF_TRY(party(v, n, what, "survivor"));
        if (i && v <= gf_sa_u32(out->ids + 4 * (i - 1)))
            return gf_fail(GF_EFORMAT, "secagg %s: survivor %u out of order or repeated", what, v);
    }
    out->n_sig = 0;
    out->sigs = NULL;
    if (type == GF_SA_SURVIVORS) {
        if (bl != need) return gf_fail(GF_EFORMAT, "secagg %s: %zu trailing bytes", what, bl - need);
        return GF_OK;
    }
    if (bl < need + 4) return gf_fail(GF_EFORMAT, "secagg %s: signature count truncated", what);
    out->n_sig = gf_sa_u32(b + need);
    if (out->n_sig > out->count)
        return gf_fail(GF_EFORMAT, "secagg %s: %u signatures for %u survivors", what, out->n_sig, out->count);
    if (bl - need - 4 != (size_t)out->n_sig * GF_SA_SIG_ENTRY)
        return gf_fail(GF_EFORMAT, "secagg %s: signature list of %zu bytes for %u entries", what, bl - need - 4, out->n_sig);
    out->sigs = b + need + 4;
    for (uint32_t i = 0; i < out->n_sig; i++) GF_TRY(party(gf_sa_u32(out->sigs + (size_t)i * GF_SA_SIG_ENTRY), n, what, "signer"));
    return GF_OK;
}

gf_err gf_sa_parse_consist(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_consist *out)
{
    const uint8_t *b;
    size_t bl;
    GF_TRY(expect(buf, len, GF_SA_CONSIST, round_id, &b, &bl));
    if (bl != 4 + GF_SA_SIG) return gf_fail(GF_EFORMAT, "secagg consistency signature: body of %zu bytes, expected %d", bl, 4 + GF_SA_SIG);
    out->from = gf_sa_u32(b);
    GF_TRY(party(out->from, n, "consistency signature", "sender"));
    out->sig = b + 4;
    return GF_OK;
}

gf_err gf_sa_parse_unmask(const uint8_t *buf, size_t len, uint64_t round_id, uint32_t n, gf_sa_unmask *out)
{
    const uint8_t *b;
    size_t bl;
    GF_TRY(expect(buf, len, GF_SA_UNMASK, round_id, &b, &bl));
    if (bl < 8) return gf_fail(GF_EFORMAT, "secagg unmask shares: header truncated");
    out->from = gf_sa_u32(b);
    GF_TRY(party(out->from, n, "unmask shares", "sender"));
    out->count = gf_sa_u32(b + 4);
    if (out->count > n) return gf_fail(GF_EFORMAT, "secagg unmask shares: count %u over %u", out->count, n);
    if (bl - 8 != (size_t)out->count * GF_SA_UNMASK_ENTRY)
        return gf_fail(GF_EFORMAT, "secagg unmask shares: %zu bytes for %u entries", bl - 8, out->count);
    out->entries = b + 8;
    for (uint32_t i = 0; i < out->count; i++) {
        const uint8_t *e = out->entries + (size_t)i * GF_SA_UNMASK_ENTRY;
        GF_TRY(party(gf_sa_u32(e), n, "unmask shares", "party"));
        if (i && gf_sa_u32(e) <= gf_sa_u32(e - GF_SA_UNMASK_ENTRY))
            return gf_fail(GF_EFORMAT, "secagg unmask shares: party %u out of order or repeated", gf_sa_u32(e));
        if (e[4] != GF_SA_KIND_B && e[4] != GF_SA_KIND_S)
            return gf_fail(GF_EFORMAT, "secagg unmask shares: kind %u of entry %u", e[4], i);
    }
    return GF_OK;
}

uint8_t *gf_sa_begin(gf_sa_type type, uint64_t round_id, size_t body_len, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    if (body_len > UINT32_MAX) return NULL;
    uint8_t *m = malloc(GF_SA_HDR + body_len);
    if (!m) return NULL;
    memcpy(m, GF_SA_MAGIC, 4);
    m[4] = GF_SA_VERSION;
    m[5] = (uint8_t)type;
    m[6] = m[7] = 0;
    gf_put_u64le(m + 8, round_id);
    gf_put_u32le(m + 16, (uint32_t)body_len);
    *msg = m;
    *len = GF_SA_HDR + body_len;
    return m + GF_SA_HDR;
}

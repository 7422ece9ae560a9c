/* NumPy .npy: strict parser for format versions 1.0, 2.0 and 3.0, and a
 * serializer (1.0, or 2.0 when the header needs it). Arrays in memory are
 * C order, host (little-endian) byte order. */
#include "sites/npz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sites/npy.c assumes a little-endian host"
#endif

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

const char *gf_dtype_name(gf_dtype dt)
{
    switch (dt) {
    case GF_DT_F32: return "float32";
    case GF_DT_F64: return "float64";
    case GF_DT_I8: return "int8";
    case GF_DT_I16: return "int16";
    case GF_DT_I32: return "int32";
    case GF_DT_I64: return "int64";
    case GF_DT_U8: return "uint8";
    case GF_DT_U16: return "uint16";
    case GF_DT_U32: return "uint32";
    case GF_DT_U64: return "uint64";
    case GF_DT_BOOL: return "bool";
    case GF_DT_STR: return "unicode";
    case GF_DT_BYTES: return "bytes";
    }
    return "?";
}

/* Bytes per element for fixed-size dtypes, 0 for STR/BYTES. */
static size_t fixed_itemsize(gf_dtype dt)
{
    switch (dt) {
    case GF_DT_I8: case GF_DT_U8: case GF_DT_BOOL: return 1;
    case GF_DT_I16: case GF_DT_U16: return 2;
    case GF_DT_F32: case GF_DT_I32: case GF_DT_U32: return 4;
    case GF_DT_F64: case GF_DT_I64: case GF_DT_U64: return 8;
    case GF_DT_STR: case GF_DT_BYTES: return 0;
    }
    return 0;
}

/* count = prod(shape), bytes = count * itemsize, both overflow-checked and capped. */
static gf_err shape_bytes(const char *what, int ndim, const int64_t *shape, size_t itemsize,
                          int64_t *count, size_t *bytes)
{
    uint64_t c = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return gf_fail(GF_EFORMAT, "%s: negative dimension %lld", what, (long long)shape[i]);
        if (__builtin_mul_overflow(c, (uint64_t)shape[i], &c))
            return gf_fail(GF_ERANGE, "%s: shape element count overflows", what);
    }
    uint64_t b;
    if (__builtin_mul_overflow(c, (uint64_t)itemsize, &b) || b > GF_NPZ_MAX_MEMBER)
        return gf_fail(GF_ERANGE, "%s: array of %llu elements x %zu bytes exceeds the %zu-byte cap",
                       what, (unsigned long long)c, itemsize, GF_NPZ_MAX_MEMBER);
    *count = (int64_t)c;
    *bytes = (size_t)b;
    return GF_OK;
}

gf_err gf_array_alloc(gf_array *a, const char *name, gf_dtype dt, size_t itemsize,
                      int ndim, const int64_t *shape)
{
    memset(a, 0, sizeof *a);
    const char *what = name ? name : "array";
    if (name && strlen(name) >= sizeof a->name) return gf_fail(GF_EINVAL, "array name '%s' too long", name);
    if (ndim < 0 || ndim > GF_NPY_MAX_DIMS) return gf_fail(GF_EINVAL, "%s: %d dimensions (max %d)", what, ndim, GF_NPY_MAX_DIMS);
    size_t is = fixed_itemsize(dt);
    if (!is) {
        size_t unit = dt == GF_DT_STR ? 4 : 1;
        if (itemsize == 0 || itemsize % unit || itemsize / unit > GF_NPY_MAX_STRLEN)
            return gf_fail(GF_EINVAL, "%s: bad string itemsize %zu", what, itemsize);
        is = itemsize;
    }
    int64_t count;
    size_t bytes;
    GF_TRY(shape_bytes(what, ndim, shape, is, &count, &bytes));
    a->data = calloc(bytes ? bytes : 1, 1);
    if (!a->data) return gf_fail(GF_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
    if (name) snprintf(a->name, sizeof a->name, "%s", name);
    a->dtype = dt;
    a->itemsize = is;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->count = count;
    return GF_OK;
}

void gf_array_free(gf_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ---- */

typedef struct {
    const char *p, *end;
} cursor;

typedef struct {
    gf_dtype dt;
    size_t itemsize;
    size_t swap_unit; /* byte-swap granularity, 0 = no swap */
    int fortran;
    int ndim;
    int64_t shape[GF_NPY_MAX_DIMS];
} npy_header;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}

/* A quoted Python string literal without escapes (numpy never writes any). */
static gf_err read_quoted(const char *what, cursor *c, char *dst, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return gf_fail(GF_EFORMAT, "%s: npy header: expected a quoted string", what);
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20 || (unsigned char)*c->p > 0x7e)
            return gf_fail(GF_EFORMAT, "%s: npy header: unexpected character in string", what);
        if (n + 1 >= cap) return gf_fail(GF_EFORMAT, "%s: npy header: string too long", what);
        dst[n++] = *c->p++;
    }
    if (c->p >= c->end) return gf_fail(GF_EFORMAT, "%s: npy header: unterminated string", what);
    c->p++;
    dst[n] = 0;
    return GF_OK;
}

static gf_err parse_descr(const char *what, const char *d, npy_header *h)
{
    char bo = d[0];
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=')
        return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s'", what, d);
    char kind = d[1];
    if (kind == 'O') return gf_fail(GF_EUNSUPPORTED, "%s: object arrays (pickle) are not supported", what);
    const char *digits = d + 2;
    size_t nd = strspn(digits, "0123456789");
    if (!kind || nd == 0 || nd > 7 || digits[nd])
        return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s'", what, d);
    size_t n = (size_t)strtoul(digits, NULL, 10);
    size_t unit = n;
    switch (kind) {
    case 'f':
        if (n == 4) h->dt = GF_DT_F32;
        else if (n == 8) h->dt = GF_DT_F64;
        else return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s' (only float32/float64)", what, d);
        break;
    case 'i': case 'u': {
        static const gf_dtype si[] = {GF_DT_I8, GF_DT_I16, GF_DT_I32, GF_DT_I64};
        static const gf_dtype ui[] = {GF_DT_U8, GF_DT_U16, GF_DT_U32, GF_DT_U64};
        int k = n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : n == 8 ? 3 : -1;
        if (k < 0) return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s'", what, d);
        h->dt = kind == 'i' ? si[k] : ui[k];
        break;
    }
    case 'b':
        if (n != 1) return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s'", what, d);
        h->dt = GF_DT_BOOL;
        break;
    case 'U':
        if (n == 0 || n > GF_NPY_MAX_STRLEN)
            return gf_fail(GF_ERANGE, "%s: string dtype '%s' outside [1, %d] characters", what, d, GF_NPY_MAX_STRLEN);
        h->dt = GF_DT_STR;
        unit = 4;
        n *= 4;
        break;
    case 'S':
        if (n == 0 || n > GF_NPY_MAX_STRLEN)
            return gf_fail(GF_ERANGE, "%s: bytes dtype '%s' outside [1, %d] bytes", what, d, GF_NPY_MAX_STRLEN);
        h->dt = GF_DT_BYTES;
        unit = 1;
        break;
    default:
        return gf_fail(GF_EUNSUPPORTED, "%s: unsupported dtype '%s'", what, d);
    }
    if (unit > 1 && bo == '|') return gf_fail(GF_EFORMAT, "%s: dtype '%s' lacks a byte order", what, d);
    h->itemsize = n;
    h->swap_unit = (unit > 1 && bo == '>') ? unit : 0;
    return GF_OK;
}

static gf_err read_bool(const char *what, cursor *c, int *out)
{
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && !memcmp(c->p, "True", 4)) { c->p += 4; *out = 1; return GF_OK; }
    if (left >= 5 && !memcmp(c->p, "False", 5)) { c->p += 5; *out = 0; return GF_OK; }
    return gf_fail(GF_EFORMAT, "%s: npy header: fortran_order must be True or False", what);
}

/* A tuple of non-negative ints: (), (3,), (2, 3) or (2, 3,); Python 2's 3L accepted. */
static gf_err read_shape(const char *what, cursor *c, npy_header *h)
{
    if (!eat(c, '(')) return gf_fail(GF_EFORMAT, "%s: npy header: shape must be a tuple", what);
    h->ndim = 0;
    if (eat(c, ')')) return GF_OK;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return gf_fail(GF_EFORMAT, "%s: npy header: shape entries must be non-negative integers", what);
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *c->p - '0', &v))
                return gf_fail(GF_ERANGE, "%s: npy header: shape entry overflows", what);
            c->p++;
        }
        if (c->p < c->end && *c->p == 'L') c->p++;
        if (h->ndim == GF_NPY_MAX_DIMS)
            return gf_fail(GF_ERANGE, "%s: more than %d dimensions", what, GF_NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        int comma = eat(c, ',');
        if (eat(c, ')')) {
            if (h->ndim == 1 && !comma) return gf_fail(GF_EFORMAT, "%s: npy header: shape '(n)' is not a tuple", what);
            return GF_OK;
        }
        if (!comma) return gf_fail(GF_EFORMAT, "%s: npy header: malformed shape tuple", what);
    }
}

static gf_err parse_header(const char *what, const char *s, size_t len, npy_header *h)
{
    cursor c = {s, s + len};
    int have_d = 0, have_f = 0, have_s = 0;
    if (!eat(&c, '{')) return gf_fail(GF_EFORMAT, "%s: npy header is not a dict", what);
    while (!eat(&c, '}')) {
        char key[32];
        GF_TRY(read_quoted(what, &c, key, sizeof key));
        if (!eat(&c, ':')) return gf_fail(GF_EFORMAT, "%s: npy header: expected ':' after '%s'", what, key);
        if (!strcmp(key, "descr") && !have_d) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return gf_fail(GF_EUNSUPPORTED, "%s: structured dtypes are not supported", what);
            char d[32];
            GF_TRY(read_quoted(what, &c, d, sizeof d));
            GF_TRY(parse_descr(what, d, h));
            have_d = 1;
        } else if (!strcmp(key, "fortran_order") && !have_f) {
            GF_TRY(read_bool(what, &c, &h->fortran));
            have_f = 1;
        } else if (!strcmp(key, "shape") && !have_s) {
            GF_TRY(read_shape(what, &c, h));
            have_s = 1;
        } else {
            return gf_fail(GF_EFORMAT, "%s: npy header: unexpected or repeated key '%s'", what, key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return gf_fail(GF_EFORMAT, "%s: npy header: expected ',' or '}'", what);
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) return gf_fail(GF_EFORMAT, "%s: npy header: trailing bytes after the dict", what);
    if (!have_d || !have_f || !have_s)
        return gf_fail(GF_EFORMAT, "%s: npy header lacks '%s'", what,
                       !have_d ? "descr" : !have_f ? "fortran_order" : "shape");
    return GF_OK;
}

/* ---- data ---- */

static int cp_valid(uint32_t cp) { return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF); }

static void byteswap(unsigned char *p, size_t bytes, size_t unit)
{
    for (size_t o = 0; o + unit <= bytes; o += unit)
        for (size_t i = 0; i < unit / 2; i++) {
            unsigned char t = p[o + i];
            p[o + i] = p[o + unit - 1 - i];
            p[o + unit - 1 - i] = t;
        }
}

/* Fortran order (first index fastest) to C order (last index fastest). */
static void fortran_to_c(const unsigned char *src, unsigned char *dst, const gf_array *a)
{
    int64_t idx[GF_NPY_MAX_DIMS] = {0}, fstride[GF_NPY_MAX_DIMS];
    size_t is = a->itemsize;
    fstride[0] = 1;
    for (int j = 1; j < a->ndim; j++) fstride[j] = fstride[j - 1] * a->shape[j - 1];
    int64_t off = 0;
    for (int64_t n = 0; n < a->count; n++) {
        memcpy(dst + (size_t)n * is, src + (size_t)off * is, is);
        for (int j = a->ndim - 1; j >= 0; j--) {
            idx[j]++;
            off += fstride[j];
            if (idx[j] < a->shape[j]) break;
            off -= fstride[j] * a->shape[j];
            idx[j] = 0;
        }
    }
}

/* Rejects values numpy itself would not produce: bools other than 0/1,
 * invalid Unicode code points. */
static gf_err validate_data(const char *what, const gf_array *a)
{
    const unsigned char *p = a->data;
    if (a->dtype == GF_DT_BOOL) {
        for (int64_t i = 0; i < a->count; i++)
            if (p[i] > 1) return gf_fail(GF_EFORMAT, "%s: bool value %u at index %lld", what, p[i], (long long)i);
    } else if (a->dtype == GF_DT_STR) {
        size_t units = (size_t)a->count * (a->itemsize / 4);
        for (size_t u = 0; u < units; u++) {
            uint32_t cp;
            memcpy(&cp, p + 4 * u, 4);
            if (!cp_valid(cp))
                return gf_fail(GF_EFORMAT, "%s: invalid Unicode code point U+%X in element %zu", what,
                               (unsigned)cp, u / (a->itemsize / 4));
        }
    }
    return GF_OK;
}

gf_err gf_npy_parse(const char *what, const unsigned char *buf, size_t len, gf_array *out)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, npy_magic, 6)) return gf_fail(GF_EFORMAT, "%s: not an .npy array (bad magic)", what);
    int major = buf[6], minor = buf[7];
    size_t prefix, hlen;
    if (major == 1 && minor == 0) {
        prefix = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12) return gf_fail(GF_EFORMAT, "%s: truncated npy header", what);
        prefix = 12;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    } else {
        return gf_fail(GF_EUNSUPPORTED, "%s: npy format version %d.%d not supported", what, major, minor);
    }
    if (hlen > GF_NPY_MAX_HEADER)
        return gf_fail(GF_ERANGE, "%s: npy header of %zu bytes exceeds the %d-byte cap", what, hlen, GF_NPY_MAX_HEADER);
    if (len - prefix < hlen) return gf_fail(GF_EFORMAT, "%s: truncated npy header", what);
    /* Versions 1-2 are latin-1 and 3 is UTF-8, but every header we accept is
     * ASCII; read_quoted() and the grammar refuse any other byte. */
    npy_header h;
    memset(&h, 0, sizeof h);
    GF_TRY(parse_header(what, (const char *)buf + prefix, hlen, &h));

    int64_t count;
    size_t bytes;
    GF_TRY(shape_bytes(what, h.ndim, h.shape, h.itemsize, &count, &bytes));
    size_t have = len - prefix - hlen;
    if (have != bytes)
        return gf_fail(GF_EFORMAT, "%s: npy data is %zu bytes but its shape and dtype need %zu (%s)", what, have,
                       bytes, have < bytes ? "truncated" : "trailing bytes");
    const unsigned char *src = buf + prefix + hlen;
    gf_array a;
    memset(&a, 0, sizeof a);
    a.dtype = h.dt;
    a.itemsize = h.itemsize;
    a.ndim = h.ndim;
    memcpy(a.shape, h.shape, sizeof h.shape);
    a.count = count;
    a.data = malloc(bytes ? bytes : 1);
    if (!a.data) return gf_fail(GF_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
    if (h.fortran && h.ndim > 1 && count > 0) fortran_to_c(src, a.data, &a);
    else if (bytes) memcpy(a.data, src, bytes);
    if (h.swap_unit) byteswap(a.data, bytes, h.swap_unit);
    gf_err e = validate_data(what, &a);
    if (e != GF_OK) { gf_array_free(&a); return e; }
    *out = a;
    return GF_OK;
}

/* ---- serialize ---- */

static void descr_of(const gf_array *a, char *d, size_t cap)
{
    switch (a->dtype) {
    case GF_DT_F32: snprintf(d, cap, "<f4"); break;
    case GF_DT_F64: snprintf(d, cap, "<f8"); break;
    case GF_DT_I8: snprintf(d, cap, "|i1"); break;
    case GF_DT_I16: snprintf(d, cap, "<i2"); break;
    case GF_DT_I32: snprintf(d, cap, "<i4"); break;
    case GF_DT_I64: snprintf(d, cap, "<i8"); break;
    case GF_DT_U8: snprintf(d, cap, "|u1"); break;
    case GF_DT_U16: snprintf(d, cap, "<u2"); break;
    case GF_DT_U32: snprintf(d, cap, "<u4"); break;
    case GF_DT_U64: snprintf(d, cap, "<u8"); break;
    case GF_DT_BOOL: snprintf(d, cap, "|b1"); break;
    case GF_DT_STR: snprintf(d, cap, "<U%zu", a->itemsize / 4); break;
    case GF_DT_BYTES: snprintf(d, cap, "|S%zu", a->itemsize); break;
    }
}

/* Refuses an in-memory array whose fields disagree (a caller bug, not input). */
static gf_err check_array(const char *what, const gf_array *a, size_t *bytes)
{
    if (a->ndim < 0 || a->ndim > GF_NPY_MAX_DIMS) return gf_fail(GF_EINVAL, "%s: bad ndim %d", what, a->ndim);
    if ((unsigned)a->dtype > GF_DT_BYTES) return gf_fail(GF_EINVAL, "%s: bad dtype", what);
    size_t is = fixed_itemsize(a->dtype);
    if (is ? a->itemsize != is
           : (a->itemsize == 0 || a->itemsize % (a->dtype == GF_DT_STR ? 4 : 1) ||
              a->itemsize / (a->dtype == GF_DT_STR ? 4 : 1) > GF_NPY_MAX_STRLEN))
        return gf_fail(GF_EINVAL, "%s: itemsize %zu does not fit dtype %s", what, a->itemsize, gf_dtype_name(a->dtype));
    int64_t count;
    GF_TRY(shape_bytes(what, a->ndim, a->shape, a->itemsize, &count, bytes));
    if (count != a->count) return gf_fail(GF_EINVAL, "%s: count %lld != product of shape", what, (long long)a->count);
    if (*bytes && !a->data) return gf_fail(GF_EINVAL, "%s: no data", what);
    return GF_OK;
}

gf_err gf_npy_serialize(const gf_array *a, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    const char *what = a->name[0] ? a->name : "array";
    size_t bytes;
    GF_TRY(check_array(what, a, &bytes));
    char d[32], shape[GF_NPY_MAX_DIMS * 22 + 4] = "", dict[512];
    descr_of(a, d, sizeof d);
    size_t o = 0;
    for (int i = 0; i < a->ndim; i++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (a->ndim == 1) snprintf(shape + o, sizeof shape - o, ",");
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", d, shape);
    /* Pad with spaces and a final newline so the data starts 64-byte aligned. */
    size_t prefix = 10;
    size_t hlen = ((prefix + (size_t)dl + 1 + 63) / 64) * 64 - prefix;
    if (hlen > 65535) { prefix = 12; hlen = ((prefix + (size_t)dl + 1 + 63) / 64) * 64 - prefix; }
    size_t total = prefix + hlen + bytes;
    unsigned char *b = malloc(total);
    if (!b) return gf_fail(GF_ENOMEM, "%s: out of memory for %zu bytes", what, total);
    memcpy(b, npy_magic, 6);
    b[6] = prefix == 10 ? 1 : 2;
    b[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memset(b + prefix, ' ', hlen);
    memcpy(b + prefix, dict, (size_t)dl);
    b[prefix + hlen - 1] = '\n';
    if (bytes) memcpy(b + prefix + hlen, a->data, bytes);
    *buf = b;
    *len = total;
    return GF_OK;
}

/* ---- element access ---- */

double gf_array_get_f64(const gf_array *a, int64_t i)
{
    if (i < 0 || i >= a->count) return NAN;
    const unsigned char *p = (const unsigned char *)a->data + (size_t)i * a->itemsize;
    switch (a->dtype) {
    case GF_DT_F32: { float v; memcpy(&v, p, 4); return v; }
    case GF_DT_F64: { double v; memcpy(&v, p, 8); return v; }
    case GF_DT_I8: { int8_t v; memcpy(&v, p, 1); return v; }
    case GF_DT_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case GF_DT_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case GF_DT_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case GF_DT_U8: case GF_DT_BOOL: return *p;
    case GF_DT_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case GF_DT_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case GF_DT_U64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    case GF_DT_STR: case GF_DT_BYTES: return NAN;
    }
    return NAN;
}

static size_t utf8_encode(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one UTF-8 sequence from s[0..n); returns its length, 0 if invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || !cp_valid(v)) return 0;
    *cp = v;
    return len;
}

static gf_err str_index(const gf_array *a, int64_t i)
{
    if (a->dtype != GF_DT_STR && a->dtype != GF_DT_BYTES)
        return gf_fail(GF_EFORMAT, "key '%s': dtype %s is not a string type", a->name, gf_dtype_name(a->dtype));
    if (i < 0 || i >= a->count)
        return gf_fail(GF_EINVAL, "key '%s': index %lld outside [0, %lld)", a->name, (long long)i, (long long)a->count);
    return GF_OK;
}

gf_err gf_array_get_str(const gf_array *a, int64_t i, char *dst, size_t cap)
{
    if (cap == 0) return gf_fail(GF_EINVAL, "key '%s': zero-size destination", a->name);
    dst[0] = 0;
    GF_TRY(str_index(a, i));
    const unsigned char *p = (const unsigned char *)a->data + (size_t)i * a->itemsize;
    size_t unit = a->dtype == GF_DT_STR ? 4 : 1, n = a->itemsize / unit, o = 0;
    uint32_t cp;
    while (n > 0) { /* trailing NULs are padding */
        if (unit == 4) memcpy(&cp, p + 4 * (n - 1), 4);
        else cp = p[n - 1];
        if (cp) break;
        n--;
    }
    for (size_t k = 0; k < n;) {
        char enc[4];
        size_t el, adv;
        if (unit == 4) {
            memcpy(&cp, p + 4 * k, 4);
            if (!cp_valid(cp)) return gf_fail(GF_EFORMAT, "key '%s' element %lld: invalid code point U+%X", a->name, (long long)i, (unsigned)cp);
            el = utf8_encode(cp, enc);
            adv = 1;
        } else {
            adv = utf8_decode(p + k, n - k, &cp);
            if (!adv) return gf_fail(GF_EFORMAT, "key '%s' element %lld: invalid UTF-8", a->name, (long long)i);
            memcpy(enc, p + k, adv);
            el = adv;
        }
        if (cp == 0) return gf_fail(GF_EFORMAT, "key '%s' element %lld: embedded NUL", a->name, (long long)i);
        if (o + el + 1 > cap)
            return gf_fail(GF_ERANGE, "key '%s' element %lld: longer than %zu bytes", a->name, (long long)i, cap - 1);
        memcpy(dst + o, enc, el);
        o += el;
        k += adv;
    }
    dst[o] = 0;
    return GF_OK;
}

gf_err gf_array_set_str(gf_array *a, int64_t i, const char *s)
{
    GF_TRY(str_index(a, i));
    size_t unit = a->dtype == GF_DT_STR ? 4 : 1, n = a->itemsize / unit;
    /* Validate and measure first so a failure leaves the element untouched. */
    size_t need = 0, left = strlen(s);
    for (const unsigned char *u = (const unsigned char *)s; left;) {
        uint32_t cp;
        size_t adv = utf8_decode(u, left, &cp);
        if (!adv) return gf_fail(GF_EINVAL, "key '%s' element %lld: invalid UTF-8", a->name, (long long)i);
        need += unit == 4 ? 1 : adv;
        u += adv;
        left -= adv;
    }
    if (need > n) return gf_fail(GF_ERANGE, "key '%s' element %lld: '%s' longer than %zu", a->name, (long long)i, s, n);
    unsigned char *p = (unsigned char *)a->data + (size_t)i * a->itemsize;
    memset(p, 0, a->itemsize);
    if (unit == 1) { memcpy(p, s, strlen(s)); return GF_OK; }
    left = strlen(s);
    for (const unsigned char *u = (const unsigned char *)s; left; p += 4) {
        uint32_t cp;
        size_t adv = utf8_decode(u, left, &cp);
        memcpy(p, &cp, 4);
        u += adv;
        left -= adv;
    }
    return GF_OK;
}

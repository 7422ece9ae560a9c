#include "model/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

/* ---- common ---- */

static uint32_t rd_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= GF_ST_MAX_NAME && strcmp(s, "__metadata__") != 0;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

void gf_safetensors_free(gf_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->t[i].data);
    free(st->t);
    if (st->meta) json_decref(st->meta);
    memset(st, 0, sizeof *st);
}

const gf_st_tensor *gf_safetensors_get(const gf_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

const char *gf_safetensors_meta(const gf_safetensors *st, const char *key)
{
    if (!st->meta) return NULL;
    return json_string_value(json_object_get(st->meta, key));
}

/* ---- writer ---- */

typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    size_t numel;
    const float *data;
} wentry;

static gf_err write_floats(FILE *fp, const float *x, size_t n)
{
    unsigned char buf[4096];
    size_t i = 0;
    while (i < n) {
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < n; k++, i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            wr_u32le(buf + 4 * k, u);
        }
        if (fwrite(buf, 4, k, fp) != k) return GF_EIO;
    }
    return GF_OK;
}

/* Validates and writes a whole file to fp; path names it in messages. */
static gf_err write_to(FILE *fp, const char *path, const gf_arena *params, const gf_st_tensor *extra, int n_extra,
                       const json_t *meta)
{
    int np = params ? params->n : 0;
    if (n_extra < 0 || (n_extra && !extra)) return gf_fail(GF_EINVAL, "%s: bad extra tensor list", path);
    if (params && np && !params->data) return gf_fail(GF_ESTATE, "%s: parameter arena not allocated", path);
    int n = np + n_extra;
    if (n > GF_ST_MAX_TENSORS) return gf_fail(GF_ERANGE, "%s: %d tensors (at most %d)", path, n, GF_ST_MAX_TENSORS);
    if (meta) {
        if (!json_is_object(meta)) return gf_fail(GF_EINVAL, "%s: metadata is not a JSON object", path);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)meta, k, v)
            if (!json_is_string(v)) return gf_fail(GF_EINVAL, "%s: metadata %s is not a string", path, k);
    }
    wentry *e = calloc((size_t)(n ? n : 1), sizeof *e);
    if (!e) return gf_fail(GF_ENOMEM, "%s: out of memory", path);
    gf_err err = GF_OK;
    for (int i = 0; i < np; i++) {
        const gf_tensor *t = &params->t[i];
        e[i] = (wentry){t->name, t->ndim, t->shape, t->numel, gf_arena_ptr(params, i)};
    }
    for (int i = 0; i < n_extra; i++) {
        const gf_st_tensor *t = &extra[i];
        if (t->ndim < 0 || t->ndim > GF_TDIMS) { err = gf_fail(GF_EINVAL, "%s: tensor %s has %d dimensions", path, t->name, t->ndim); goto out; }
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || t->shape[d] > (1 << 30)) { err = gf_fail(GF_EINVAL, "%s: tensor %s: dimension %d is %lld", path, t->name, d, (long long)t->shape[d]); goto out; }
            numel *= (size_t)t->shape[d];
            if (numel > GF_ST_MAX_FILE / 4) { err = gf_fail(GF_ERANGE, "%s: tensor %s too large", path, t->name); goto out; }
        }
        if (numel && !t->data) { err = gf_fail(GF_EINVAL, "%s: tensor %s has no data", path, t->name); goto out; }
        e[np + i] = (wentry){t->name, t->ndim, t->shape, numel, t->data};
    }
    json_t *hdr = json_object();
    if (!hdr) { err = gf_fail(GF_ENOMEM, "%s: out of memory", path); goto out; }
    size_t off = 0;
    for (int i = 0; i < n && !err; i++) {
        if (!valid_name(e[i].name)) { err = gf_fail(GF_EINVAL, "%s: tensor name '%s' is empty, reserved or longer than %d bytes", path, e[i].name, GF_ST_MAX_NAME); break; }
        if (json_object_get(hdr, e[i].name)) { err = gf_fail(GF_EINVAL, "%s: tensor %s written twice", path, e[i].name); break; }
        for (size_t j = 0; j < e[i].numel; j++)
            if (!isfinite(e[i].data[j])) { err = gf_fail(GF_ENUMERIC, "%s: tensor %s has a non-finite value at element %zu", path, e[i].name, j); break; }
        if (err) break;
        json_t *shape = json_array();
        for (int d = 0; shape && d < e[i].ndim; d++) json_array_append_new(shape, json_integer(e[i].shape[d]));
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                (json_int_t)off, (json_int_t)(off + 4 * e[i].numel));
        if (!ent || json_object_set_new(hdr, e[i].name, ent)) { err = gf_fail(GF_ENOMEM, "%s: out of memory", path); break; }
        off += 4 * e[i].numel;
        if (off > GF_ST_MAX_FILE) { err = gf_fail(GF_ERANGE, "%s: checkpoint larger than %zu bytes", path, GF_ST_MAX_FILE); break; }
    }
    if (!err && meta && json_object_size(meta)) {
        if (json_object_set_new(hdr, "__metadata__", json_deep_copy(meta))) err = gf_fail(GF_ENOMEM, "%s: out of memory", path);
    }
    char *js = NULL;
    if (!err && !(js = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER))) err = gf_fail(GF_ENOMEM, "%s: cannot encode the header", path);
    json_decref(hdr);
    if (err) { free(js); goto out; }
    size_t hlen = strlen(js), padded = (hlen + 7) / 8 * 8;
    if (padded > GF_ST_MAX_HEADER) { free(js); err = gf_fail(GF_ERANGE, "%s: header of %zu bytes (at most %zu)", path, padded, GF_ST_MAX_HEADER); goto out; }
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(js, 1, hlen, fp) == hlen;
    for (size_t k = hlen; ok && k < padded; k++) ok = fputc(' ', fp) != EOF;
    free(js);
    for (int i = 0; ok && i < n; i++) ok = write_floats(fp, e[i].data, e[i].numel) == GF_OK;
    if (!ok) err = gf_fail(GF_EIO, "%s: write failed", path);
out:
    free(e);
    return err;
}

gf_err gf_safetensors_write(const char *path, const gf_arena *params, const gf_st_tensor *extra, int n_extra,
                            const json_t *meta)
{
    gf_atomic_file af;
    GF_TRY(gf_atomic_open(&af, path));
    gf_err err = write_to(af.fp, path, params, extra, n_extra, meta);
    if (err) {
        gf_atomic_abort(&af);
        return err;
    }
    return gf_atomic_commit(&af);
}

gf_err gf_safetensors_encode(const char *what, const gf_arena *params, const gf_st_tensor *extra, int n_extra,
                             const json_t *meta, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    char *b = NULL;
    size_t l = 0;
    FILE *fp = open_memstream(&b, &l);
    if (!fp) return gf_fail(GF_ENOMEM, "%s: out of memory", what);
    gf_err err = write_to(fp, what, params, extra, n_extra, meta);
    if (fclose(fp) && !err) err = gf_fail(GF_ENOMEM, "%s: out of memory", what);
    if (err) {
        free(b);
        return err;
    }
    *buf = (unsigned char *)b;
    *len = l;
    return GF_OK;
}

/* ---- reader ---- */

typedef struct { size_t b, e; int i; } span;

static int span_cmp(const void *x, const void *y)
{
    const span *a = x, *b = y;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;
    return 0;
}

static int known_dtype(const char *s)
{
    static const char *const K[] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16",
                                    "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
        if (!strcmp(s, K[i])) return 1;
    return 0;
}

/* Parses one tensor entry into t (without data); *b, *e get its byte range. */
static gf_err parse_entry(const char *what, const char *name, json_t *v, size_t dlen, gf_st_tensor *t, size_t *b, size_t *e)
{
    if (!json_is_object(v)) return gf_fail(GF_EFORMAT, "%s: tensor %s: entry is not an object", what, name);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return gf_fail(GF_EFORMAT, "%s: tensor %s: unknown field '%.40s'", what, name, k);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return gf_fail(GF_EFORMAT, "%s: tensor %s: dtype missing or not a string", what, name);
    const char *ds = json_string_value(dt);
    if (strcmp(ds, "F32")) {
        if (known_dtype(ds)) return gf_fail(GF_EUNSUPPORTED, "%s: tensor %s: dtype %s not supported (only F32)", what, name, ds);
        return gf_fail(GF_EFORMAT, "%s: tensor %s: unknown dtype '%.16s'", what, name, ds);
    }
    if (!json_is_array(sh)) return gf_fail(GF_EFORMAT, "%s: tensor %s: shape missing or not an array", what, name);
    size_t nd = json_array_size(sh);
    if (nd > GF_ST_MAX_DIMS) return gf_fail(GF_ERANGE, "%s: tensor %s: %zu dimensions (at most %d)", what, name, nd, GF_ST_MAX_DIMS);
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t d = 0; d < nd; d++) {
        json_t *j = json_array_get(sh, d);
        if (!json_is_integer(j) || json_integer_value(j) < 0)
            return gf_fail(GF_EFORMAT, "%s: tensor %s: shape[%zu] is not a non-negative integer", what, name, d);
        json_int_t dim = json_integer_value(j);
        if ((uint64_t)dim > GF_ST_MAX_FILE / 4)
            return gf_fail(GF_ERANGE, "%s: tensor %s: shape[%zu] = %lld is too large", what, name, d, (long long)dim);
        t->shape[d] = dim;
        numel *= (uint64_t)dim; /* both factors <= 2^29: no overflow */
        if (numel > GF_ST_MAX_FILE / 4)
            return gf_fail(GF_ERANGE, "%s: tensor %s: shape has more than %zu elements", what, name, GF_ST_MAX_FILE / 4);
    }
    if (!json_is_array(of) || json_array_size(of) != 2 || !json_is_integer(json_array_get(of, 0)) ||
        !json_is_integer(json_array_get(of, 1)))
        return gf_fail(GF_EFORMAT, "%s: tensor %s: data_offsets is not [begin, end]", what, name);
    json_int_t jb = json_integer_value(json_array_get(of, 0)), je = json_integer_value(json_array_get(of, 1));
    if (jb < 0 || je < jb || (uint64_t)je > dlen)
        return gf_fail(GF_EFORMAT, "%s: tensor %s: data_offsets [%lld, %lld] outside the %zu data bytes", what, name,
                       (long long)jb, (long long)je, dlen);
    if ((uint64_t)(je - jb) != numel * 4) {
        char s[96];
        shape_str(s, sizeof s, t->ndim, t->shape);
        return gf_fail(GF_EFORMAT, "%s: tensor %s: %lld bytes for shape %s (expected %llu)", what, name,
                       (long long)(je - jb), s, (unsigned long long)(numel * 4));
    }
    t->numel = (size_t)numel;
    *b = (size_t)jb;
    *e = (size_t)je;
    return GF_OK;
}

gf_err gf_safetensors_parse(const char *what, const unsigned char *buf, size_t len, gf_safetensors *out)
{
    memset(out, 0, sizeof *out);
    if (len > GF_ST_MAX_FILE) return gf_fail(GF_ERANGE, "%s: %zu bytes (at most %zu)", what, len, GF_ST_MAX_FILE);
    if (len < 8) return gf_fail(GF_EFORMAT, "%s: truncated: %zu bytes, no header length", what, len);
    uint64_t hl = 0;
    for (int b = 7; b >= 0; b--) hl = hl << 8 | buf[b];
    if (hl > GF_ST_MAX_HEADER) return gf_fail(GF_ERANGE, "%s: header length %llu exceeds %zu bytes", what, (unsigned long long)hl, GF_ST_MAX_HEADER);
    if (hl > len - 8) return gf_fail(GF_EFORMAT, "%s: header length %llu beyond the end of the file (%zu bytes)", what, (unsigned long long)hl, len);
    if (hl < 2 || buf[8] != '{') return gf_fail(GF_EFORMAT, "%s: header does not start with '{'", what);
    const unsigned char *data = buf + 8 + hl;
    size_t dlen = len - 8 - (size_t)hl;

    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root) return gf_fail(GF_EFORMAT, "%s: header is not valid JSON: %s (byte %d)", what, je.text, je.position);
    gf_err err = GF_OK;
    span *sp = NULL;
    size_t nt = 0;
    if (!json_is_object(root)) { err = gf_fail(GF_EFORMAT, "%s: header is not a JSON object", what); goto fail; }
    size_t nk = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    nt = nk - (meta ? 1 : 0);
    if (nt > GF_ST_MAX_TENSORS) { err = gf_fail(GF_ERANGE, "%s: %zu tensors (at most %d)", what, nt, GF_ST_MAX_TENSORS); goto fail; }
    if (meta) {
        if (!json_is_object(meta)) { err = gf_fail(GF_EFORMAT, "%s: __metadata__ is not an object", what); goto fail; }
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v)
            if (!json_is_string(v)) { err = gf_fail(GF_EFORMAT, "%s: __metadata__ value '%.40s' is not a string", what, k); goto fail; }
        out->meta = json_incref(meta);
    } else if (!(out->meta = json_object())) {
        err = gf_fail(GF_ENOMEM, "%s: out of memory", what);
        goto fail;
    }
    out->t = calloc(nt ? nt : 1, sizeof *out->t);
    sp = calloc(nt ? nt : 1, sizeof *sp);
    if (!out->t || !sp) { err = gf_fail(GF_ENOMEM, "%s: out of memory", what); goto fail; }
    const char *name;
    json_t *v;
    int i = 0;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        if (!valid_name(name)) { err = gf_fail(GF_EFORMAT, "%s: tensor name '%.40s' is empty or longer than %d bytes", what, name, GF_ST_MAX_NAME); goto fail; }
        if ((err = parse_entry(what, name, v, dlen, &out->t[i], &sp[i].b, &sp[i].e))) goto fail;
        sp[i].i = i;
        i++;
    }
    /* The byte ranges must tile [0, dlen): sorted, each begins where the last ended. */
    qsort(sp, nt, sizeof *sp, span_cmp);
    size_t at = 0;
    for (size_t k = 0; k < nt; k++) {
        if (sp[k].b < at) { err = gf_fail(GF_EFORMAT, "%s: tensor %s overlaps another tensor's data", what, out->t[sp[k].i].name); goto fail; }
        if (sp[k].b > at) { err = gf_fail(GF_EFORMAT, "%s: %zu unused data bytes before tensor %s", what, sp[k].b - at, out->t[sp[k].i].name); goto fail; }
        at = sp[k].e;
    }
    if (at != dlen) { err = gf_fail(GF_EFORMAT, "%s: %zu data bytes after the last tensor", what, dlen - at); goto fail; }
    for (size_t k = 0; k < nt; k++) {
        gf_st_tensor *t = &out->t[sp[k].i];
        if (!t->numel) continue;
        if (!(t->data = malloc(t->numel * sizeof(float)))) { err = gf_fail(GF_ENOMEM, "%s: out of memory for tensor %s", what, t->name); out->n = (int)nt; goto fail; }
        const unsigned char *p = data + sp[k].b;
        for (size_t j = 0; j < t->numel; j++) {
            uint32_t u = rd_u32le(p + 4 * j);
            memcpy(&t->data[j], &u, 4);
        }
    }
    out->n = (int)nt;
    free(sp);
    json_decref(root);
    return GF_OK;
fail:
    free(sp);
    json_decref(root);
    if (out->t) out->n = (int)nt; /* data pointers are NULL or owned: free them all */
    gf_safetensors_free(out);
    return err;
}

gf_err gf_safetensors_read(const char *path, gf_safetensors *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    GF_TRY(gf_read_file(path, GF_ST_MAX_FILE, &buf, &len));
    gf_err e = gf_safetensors_parse(path, buf, len, out);
    free(buf);
    return e;
}

/* ---- loading into a model ---- */

static int is_norm_name(const char *s) { return !strcmp(s, "x_mean") || !strcmp(s, "x_std"); }

gf_err gf_safetensors_load_into(gf_arena *params, const gf_safetensors *st, const char *what)
{
    if (!params->data) return gf_fail(GF_ESTATE, "%s: parameter arena not allocated", what);
    char missing[512] = "", unexpected[512] = "";
    int n_missing = 0, n_unexpected = 0;
    for (int i = 0; i < params->n; i++) {
        const gf_tensor *a = &params->t[i];
        const gf_st_tensor *t = gf_safetensors_get(st, a->name);
        if (!t) {
            if (n_missing++ < 4) {
                size_t o = strlen(missing);
                snprintf(missing + o, sizeof missing - o, "%s%s", o ? ", " : "", a->name);
            }
            continue;
        }
        int same = t->ndim == a->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = t->shape[d] == a->shape[d];
        if (!same) {
            char s1[96], s2[96];
            shape_str(s1, sizeof s1, t->ndim, t->shape);
            shape_str(s2, sizeof s2, a->ndim, a->shape);
            return gf_fail(GF_EFORMAT, "%s: tensor %s has shape %s, the model expects %s", what, a->name, s1, s2);
        }
        for (size_t j = 0; j < t->numel; j++)
            if (!isfinite(t->data[j])) return gf_fail(GF_ENUMERIC, "%s: tensor %s has a non-finite value at element %zu", what, a->name, j);
    }
    for (int i = 0; i < st->n; i++) {
        if (is_norm_name(st->t[i].name) || gf_arena_find(params, st->t[i].name) >= 0) continue;
        if (n_unexpected++ < 4) {
            size_t o = strlen(unexpected);
            snprintf(unexpected + o, sizeof unexpected - o, "%s%s", o ? ", " : "", st->t[i].name);
        }
    }
    if (n_missing || n_unexpected) {
        char a[600] = "", b[600] = "";
        if (n_missing) snprintf(a, sizeof a, "%d missing tensor(s): %s%s", n_missing, missing, n_missing > 4 ? ", ..." : "");
        if (n_unexpected) snprintf(b, sizeof b, "%s%d unexpected tensor(s): %s%s", n_missing ? "; " : "", n_unexpected, unexpected, n_unexpected > 4 ? ", ..." : "");
        return gf_fail(n_missing ? GF_ENOTFOUND : GF_EFORMAT, "%s: does not match the model: %s%s", what, a, b);
    }
    for (int i = 0; i < params->n; i++) {
        const gf_st_tensor *t = gf_safetensors_get(st, params->t[i].name);
        if (t->numel) memcpy(gf_arena_ptr(params, i), t->data, t->numel * sizeof(float));
    }
    return GF_OK;
}

gf_err gf_safetensors_save_model(const char *path, const gf_model *m, const json_t *meta)
{
    gf_st_tensor ex[2];
    int n = 0;
    if (m->has_norm) {
        memset(ex, 0, sizeof ex);
        strcpy(ex[0].name, "x_mean");
        strcpy(ex[1].name, "x_std");
        for (int k = 0; k < 2; k++) {
            ex[k].ndim = 1;
            ex[k].shape[0] = m->cfg.d_in;
            ex[k].numel = (size_t)m->cfg.d_in;
        }
        ex[0].data = (float *)m->x_mean;
        ex[1].data = (float *)m->x_std;
        n = 2;
    }
    return gf_safetensors_write(path, &m->params, ex, n, meta);
}

gf_err gf_safetensors_load_model(const char *path, gf_model *m, json_t **meta_out)
{
    if (meta_out) *meta_out = NULL;
    gf_safetensors st;
    GF_TRY(gf_safetensors_read(path, &st));
    const gf_st_tensor *mu = gf_safetensors_get(&st, "x_mean"), *sd = gf_safetensors_get(&st, "x_std");
    gf_err e = GF_OK;
    int d = m->cfg.d_in;
    if (!mu != !sd) {
        e = gf_fail(GF_EFORMAT, "%s: x_mean and x_std come together", path);
    } else if (mu) {
        if (d > (int)(sizeof m->x_mean / sizeof m->x_mean[0]))
            e = gf_fail(GF_ERANGE, "%s: %d input channels", path, d);
        for (int k = 0; k < 2 && !e; k++) {
            const gf_st_tensor *t = k ? sd : mu;
            if (t->ndim != 1 || t->shape[0] != d)
                e = gf_fail(GF_EFORMAT, "%s: %s must have shape [%d]", path, t->name, d);
            for (int j = 0; j < d && !e; j++)
                if (!isfinite(t->data[j]) || (k && !(t->data[j] > 0)))
                    e = gf_fail(GF_EFORMAT, "%s: %s[%d] = %g is not %s", path, t->name, j, t->data[j], k ? "a finite value > 0" : "finite");
        }
    }
    if (!e) e = gf_safetensors_load_into(&m->params, &st, path);
    if (!e) {
        m->has_norm = mu != NULL;
        if (mu) {
            memcpy(m->x_mean, mu->data, (size_t)d * sizeof(float));
            memcpy(m->x_std, sd->data, (size_t)d * sizeof(float));
        }
        if (meta_out) *meta_out = json_incref(st.meta);
    }
    gf_safetensors_free(&st);
    return e;
}

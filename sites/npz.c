/* .npz on libzip: a zip of "<key>.npy" members, stored or deflated.
 * Reading never trusts a member's declared size: output is read in chunks
 * and stops at min(declared size, cap); a declared size no deflate stream of
 * that compressed size could reach is refused before any inflation. */
#include "sites/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "common/fileio.h"

/* Deflate's best case is about 1032:1 (258-byte matches in ~2 bits). */
#define NPZ_MAX_RATIO 1100
#define NPZ_CHUNK ((size_t)1 << 16)

static void free_all(gf_npz *z)
{
    for (int i = 0; i < z->n; i++) gf_array_free(&z->arrays[i]);
    free(z->arrays);
    z->arrays = NULL;
    z->n = 0;
}

void gf_npz_free(gf_npz *z)
{
    if (z) free_all(z);
}

const gf_array *gf_npz_get(const gf_npz *z, const char *key)
{
    for (int i = 0; i < z->n; i++)
        if (!strcmp(z->arrays[i].name, key)) return &z->arrays[i];
    return NULL;
}

/* "X.npy" -> "X"; refuses other names and duplicates. */
static gf_err member_key(const char *what, const gf_npz *z, const char *name, char *key, size_t cap)
{
    size_t n = strlen(name);
    if (n < 5 || strcmp(name + n - 4, ".npy"))
        return gf_fail(GF_EFORMAT, "%s: member '%.64s' is not a .npy array", what, name);
    if (n - 4 >= cap) return gf_fail(GF_ERANGE, "%s: member name '%.64s...' too long", what, name);
    memcpy(key, name, n - 4);
    key[n - 4] = 0;
    if (gf_npz_get(z, key)) return gf_fail(GF_EFORMAT, "%s: key '%s' appears twice", what, key);
    return GF_OK;
}

/* Checks a member's declared sizes and method before reading it. */
static gf_err check_stat(const char *what, const zip_stat_t *st, size_t cap, size_t *total)
{
    const char *nm = st->name;
    if (!(st->valid & ZIP_STAT_SIZE) || !(st->valid & ZIP_STAT_COMP_SIZE) || !(st->valid & ZIP_STAT_COMP_METHOD))
        return gf_fail(GF_EFORMAT, "%s: member '%s': sizes unknown", what, nm);
    if ((st->valid & ZIP_STAT_ENCRYPTION_METHOD) && st->encryption_method != ZIP_EM_NONE)
        return gf_fail(GF_EUNSUPPORTED, "%s: member '%s' is encrypted", what, nm);
    if (st->comp_method != ZIP_CM_STORE && st->comp_method != ZIP_CM_DEFLATE)
        return gf_fail(GF_EUNSUPPORTED, "%s: member '%s': compression method %d (only stored or deflated)", what, nm,
                       (int)st->comp_method);
    if (st->size > cap)
        return gf_fail(GF_ERANGE, "%s: member '%s' declares %llu bytes, over the %zu-byte cap", what, nm,
                       (unsigned long long)st->size, cap);
    if (st->comp_method == ZIP_CM_STORE && st->size != st->comp_size)
        return gf_fail(GF_EFORMAT, "%s: stored member '%s': sizes disagree", what, nm);
    if (st->comp_method == ZIP_CM_DEFLATE && st->size / NPZ_MAX_RATIO > st->comp_size + 64)
        return gf_fail(GF_ERANGE, "%s: member '%s' declares an impossible compression ratio (%llu from %llu bytes)",
                       what, nm, (unsigned long long)st->size, (unsigned long long)st->comp_size);
    if (st->size > GF_NPZ_MAX_TOTAL - *total)
        return gf_fail(GF_ERANGE, "%s: archive inflates past the %zu-byte cap", what, GF_NPZ_MAX_TOTAL);
    *total += st->size;
    return GF_OK;
}

/* Reads a member in chunks, stopping as soon as it passes its declared size. */
static gf_err inflate_member(const char *what, zip_t *za, zip_uint64_t i, const zip_stat_t *st,
                             unsigned char **out, size_t *len)
{
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    if (!zf) return gf_fail(GF_EFORMAT, "%s: member '%s': %s", what, st->name, zip_strerror(za));
    size_t limit = (size_t)st->size, size = 0, alloc = 0;
    unsigned char *b = NULL;
    gf_err e = GF_OK;
    for (;;) {
        if (size == alloc) {
            if (size > limit) break;
            size_t na = alloc ? alloc * 2 : NPZ_CHUNK;
            if (na > limit + 1) na = limit + 1;
            unsigned char *nb = realloc(b, na);
            if (!nb) { e = gf_fail(GF_ENOMEM, "%s: member '%s': out of memory", what, st->name); break; }
            b = nb;
            alloc = na;
        }
        zip_int64_t got = zip_fread(zf, b + size, alloc - size);
        if (got < 0) {
            e = gf_fail(GF_EFORMAT, "%s: member '%s': %s", what, st->name, zip_file_strerror(zf));
            break;
        }
        if (got == 0) break;
        size += (size_t)got;
    }
    zip_fclose(zf);
    if (e == GF_OK && size > limit)
        e = gf_fail(GF_ERANGE, "%s: member '%s' inflates past its declared %zu bytes (zip bomb?)", what, st->name, limit);
    else if (e == GF_OK && size != limit)
        e = gf_fail(GF_EFORMAT, "%s: member '%s' inflates to %zu bytes but declares %zu", what, st->name, size, limit);
    if (e != GF_OK) { free(b); return e; }
    *out = b;
    *len = size;
    return GF_OK;
}

static gf_err read_member(const char *what, zip_t *za, zip_uint64_t i, size_t cap, size_t *total, gf_npz *z)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
        return gf_fail(GF_EFORMAT, "%s: member %llu: %s", what, (unsigned long long)i, zip_strerror(za));
    gf_array *a = &z->arrays[z->n];
    char key[sizeof a->name];
    GF_TRY(member_key(what, z, st.name, key, sizeof key));
    GF_TRY(check_stat(what, &st, cap, total));
    unsigned char *buf = NULL;
    size_t len = 0;
    GF_TRY(inflate_member(what, za, i, &st, &buf, &len));
    char kw[512];
    snprintf(kw, sizeof kw, "%s: key '%s'", what, key);
    gf_err e = gf_npy_parse(kw, buf, len, a);
    free(buf);
    if (e != GF_OK) return e;
    memcpy(a->name, key, sizeof key);
    z->n++;
    return GF_OK;
}

gf_err gf_npz_parse_capped(const char *what, const unsigned char *buf, size_t len, size_t member_cap, gf_npz *out)
{
    memset(out, 0, sizeof *out);
    if (member_cap > GF_NPZ_MAX_MEMBER) member_cap = GF_NPZ_MAX_MEMBER;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return gf_fail(GF_ENOMEM, "%s: out of memory", what);
    }
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        gf_err e = gf_fail(GF_EFORMAT, "%s: not a valid npz (zip) archive: %s", what, zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        return e;
    }
    zip_error_fini(&ze);
    gf_err e = GF_OK;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > GF_NPZ_MAX_MEMBERS)
        e = gf_fail(GF_ERANGE, "%s: %lld members (max %d)", what, (long long)n, GF_NPZ_MAX_MEMBERS);
    else if (!(out->arrays = calloc(n ? (size_t)n : 1, sizeof *out->arrays)))
        e = gf_fail(GF_ENOMEM, "%s: out of memory", what);
    size_t total = 0;
    for (zip_int64_t i = 0; e == GF_OK && i < n; i++) e = read_member(what, za, (zip_uint64_t)i, member_cap, &total, out);
    zip_discard(za); /* also frees src */
    if (e != GF_OK) free_all(out);
    return e;
}

gf_err gf_npz_parse(const char *what, const unsigned char *buf, size_t len, gf_npz *out)
{
    return gf_npz_parse_capped(what, buf, len, GF_NPZ_MAX_MEMBER, out);
}

gf_err gf_npz_read(const char *path, gf_npz *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    GF_TRY(gf_read_file(path, GF_NPZ_MAX_FILE, &buf, &len));
    gf_err e = gf_npz_parse(path, buf, len, out);
    free(buf);
    return e;
}

/* ---- writer ---- */

/* 2020-01-01 00:00 local time: zip stores local DOS time, so a fixed local
 * date gives the same bytes in every time zone. */
static time_t fixed_mtime(void)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 120;
    tm.tm_mday = 1;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static gf_err add_member(const char *path, zip_t *za, const gf_array *a, int compress, time_t mt)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    GF_TRY(gf_npy_serialize(a, &buf, &len));
    char name[sizeof a->name + 8];
    snprintf(name, sizeof name, "%s.npy", a->name);
    zip_source_t *s = zip_source_buffer(za, buf, len, 1); /* takes buf */
    if (!s) { free(buf); return gf_fail(GF_ENOMEM, "%s: key '%s': %s", path, a->name, zip_strerror(za)); }
    zip_int64_t idx = zip_file_add(za, name, s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        zip_source_free(s);
        return gf_fail(GF_EIO, "%s: key '%s': %s", path, a->name, zip_strerror(za));
    }
    /* Level 1: float data barely compresses better at higher levels, and deflate
     * dominated the synthetic generator at the default level (6). */
    if (zip_set_file_compression(za, (zip_uint64_t)idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, compress ? 1 : 0) < 0 ||
        zip_file_set_mtime(za, (zip_uint64_t)idx, mt, 0) < 0)
        return gf_fail(GF_EIO, "%s: key '%s': %s", path, a->name, zip_strerror(za));
    return GF_OK;
}

/* Copies the bytes of a (closed, kept) buffer source into *out. */
static gf_err source_bytes(const char *path, zip_source_t *mem, unsigned char **out, size_t *len)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(mem, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(mem) < 0)
        return gf_fail(GF_EIO, "%s: cannot read the built archive", path);
    unsigned char *b = malloc(st.size ? (size_t)st.size : 1);
    if (!b) { zip_source_close(mem); return gf_fail(GF_ENOMEM, "%s: out of memory", path); }
    zip_int64_t got = zip_source_read(mem, b, st.size);
    zip_source_close(mem);
    if (got < 0 || (zip_uint64_t)got != st.size) { free(b); return gf_fail(GF_EIO, "%s: cannot read the built archive", path); }
    *out = b;
    *len = (size_t)st.size;
    return GF_OK;
}

static gf_err check_names(const char *path, const gf_array *arrays, int n)
{
    if (n < 0 || n > GF_NPZ_MAX_MEMBERS) return gf_fail(GF_EINVAL, "%s: %d arrays (max %d)", path, n, GF_NPZ_MAX_MEMBERS);
    for (int i = 0; i < n; i++) {
        if (!arrays[i].name[0] || memchr(arrays[i].name, 0, sizeof arrays[i].name) == NULL)
            return gf_fail(GF_EINVAL, "%s: array %d has no name", path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(arrays[i].name, arrays[j].name))
                return gf_fail(GF_EINVAL, "%s: key '%s' given twice", path, arrays[i].name);
    }
    return GF_OK;
}

/* Builds the whole archive in a libzip memory source. */
static gf_err build_zip(const char *path, const gf_array *arrays, int n, int compress, unsigned char **out, size_t *len)
{
    if (n == 0) { /* libzip deletes empty archives; write the 22-byte end record numpy writes */
        *out = calloc(22, 1);
        if (!*out) return gf_fail(GF_ENOMEM, "%s: out of memory", path);
        memcpy(*out, "PK\x05\x06", 4);
        *len = 22;
        return GF_OK;
    }
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = mem ? zip_open_from_source(mem, ZIP_CREATE | ZIP_TRUNCATE, &ze) : NULL;
    if (!za) {
        gf_err e = gf_fail(GF_EIO, "%s: cannot start archive: %s", path, zip_error_strerror(&ze));
        if (mem) zip_source_free(mem);
        zip_error_fini(&ze);
        return e;
    }
    zip_error_fini(&ze);
    zip_source_keep(mem); /* survive zip_close so the bytes can be read back */
    time_t mt = fixed_mtime();
    gf_err e = GF_OK;
    for (int i = 0; e == GF_OK && i < n; i++) e = add_member(path, za, &arrays[i], compress, mt);
    if (e == GF_OK && zip_close(za) < 0) e = gf_fail(GF_EIO, "%s: building archive: %s", path, zip_strerror(za));
    else if (e == GF_OK) za = NULL;
    if (za) zip_discard(za);
    if (e == GF_OK) e = source_bytes(path, mem, out, len);
    zip_source_free(mem);
    return e;
}

gf_err gf_npz_write(const char *path, const gf_array *arrays, int n, int compress)
{
    GF_TRY(check_names(path, arrays, n));
    unsigned char *buf = NULL;
    size_t len = 0;
    GF_TRY(build_zip(path, arrays, n, compress, &buf, &len));
    gf_err e = gf_write_file_atomic(path, buf, len);
    free(buf);
    return e;
}

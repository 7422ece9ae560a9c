#include "crypto/pki_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fileio.h"
#include "crypto/x509util.h"

void gf_pki_index_free(gf_pki_index *ix)
{
    free(ix->certs);
    memset(ix, 0, sizeof *ix);
}

gf_err gf_pki_index_add(gf_pki_index *ix, const gf_pki_entry *e)
{
    if (ix->n >= GF_PKI_INDEX_CERTS_MAX)
        return gf_fail(GF_ERANGE, "index: more than %d certificates", GF_PKI_INDEX_CERTS_MAX);
    if (ix->n == ix->cap) {
        size_t nc = ix->cap ? ix->cap * 2 : 16;
        gf_pki_entry *nv = realloc(ix->certs, nc * sizeof *nv);
        if (!nv) return gf_fail(GF_ENOMEM, "out of memory");
        ix->certs = nv;
        ix->cap = nc;
    }
    ix->certs[ix->n++] = *e;
    return GF_OK;
}

long gf_pki_index_active(const gf_pki_index *ix, const char *name)
{
    for (size_t i = 0; i < ix->n; i++)
        if (!ix->certs[i].revoked && !strcmp(ix->certs[i].name, name)) return (long)i;
    return -1;
}

long gf_pki_index_find_serial(const gf_pki_index *ix, uint64_t serial)
{
    for (size_t i = 0; i < ix->n; i++)
        if (ix->certs[i].serial == serial) return (long)i;
    return -1;
}

int gf_pki_serial_parse(const char *s, uint64_t *out)
{
    int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const char *d = hex ? s + 2 : s;
    if (!*d || strlen(d) > (hex ? 16u : 20u)) return 0;
    for (const char *c = d; *c; c++)
        if (!(hex ? ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F'))
                  : (*c >= '0' && *c <= '9')))
            return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(d, &end, hex ? 16 : 10);
    if (errno || *end || v == 0) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* Field getters: one-line errors "<file>: certs[i].field: problem". */
static gf_err get_str(const char *what, const char *ctx, json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v) return gf_fail(GF_EFORMAT, "%s: %s%s: missing", what, ctx, key);
    if (!json_is_string(v)) return gf_fail(GF_EFORMAT, "%s: %s%s: expected a string", what, ctx, key);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return gf_fail(GF_EFORMAT, "%s: %s%s: embedded NUL", what, ctx, key);
    return GF_OK;
}

static gf_err get_name(const char *what, const char *ctx, json_t *o, const char *key, char out[GF_NAME_MAX + 1])
{
    const char *s;
    GF_TRY(get_str(what, ctx, o, key, &s));
    if (!gf_name_valid(s))
        return gf_fail(GF_EFORMAT, "%s: %s%s: not a valid name ([A-Za-z0-9._-], 1..%d chars)", what, ctx, key,
                       GF_NAME_MAX);
    strcpy(out, s);
    return GF_OK;
}

static gf_err get_time(const char *what, const char *ctx, json_t *o, const char *key, int64_t *out)
{
    const char *s;
    GF_TRY(get_str(what, ctx, o, key, &s));
    if (!gf_time_parse_iso(s, out))
        return gf_fail(GF_EFORMAT, "%s: %s%s: expected a UTC time YYYY-MM-DDTHH:MM:SSZ", what, ctx, key);
    return GF_OK;
}

static gf_err parse_entry(const char *what, size_t i, json_t *o, gf_pki_entry *e)
{
    char ctx[48];
    snprintf(ctx, sizeof ctx, "certs[%zu].", i);
    memset(e, 0, sizeof *e);
    if (!json_is_object(o)) return gf_fail(GF_EFORMAT, "%s: certs[%zu]: expected an object", what, i);
    const char *s;
    GF_TRY(get_str(what, ctx, o, "serial", &s));
    if (strncmp(s, "0x", 2) || strlen(s) != 18 || !gf_pki_serial_parse(s, &e->serial))
        return gf_fail(GF_EFORMAT, "%s: %sserial: expected \"0x\" and 16 hex digits, not zero", what, ctx);
    GF_TRY(get_name(what, ctx, o, "name", e->name));
    GF_TRY(get_str(what, ctx, o, "role", &s));
    if (gf_role_parse(s, &e->role))
        return gf_fail(GF_EFORMAT, "%s: %srole: expected hospital, evaluator or coordinator", what, ctx);
    GF_TRY(get_time(what, ctx, o, "not_before", &e->not_before));
    GF_TRY(get_time(what, ctx, o, "not_after", &e->not_after));
    if (e->not_after < e->not_before) return gf_fail(GF_EFORMAT, "%s: %snot_after: before not_before", what, ctx);
    json_t *r = json_object_get(o, "revoked");
    if (!json_is_boolean(r)) return gf_fail(GF_EFORMAT, "%s: %srevoked: expected true or false", what, ctx);
    e->revoked = json_is_true(r);
    json_t *ra = json_object_get(o, "revoked_at");
    if (e->revoked) {
        GF_TRY(get_time(what, ctx, o, "revoked_at", &e->revoked_at));
    } else if (ra && !json_is_null(ra)) {
        return gf_fail(GF_EFORMAT, "%s: %srevoked_at: must be null when revoked is false", what, ctx);
    }
    return GF_OK;
}

gf_err gf_pki_index_parse(const char *what, const uint8_t *buf, size_t len, gf_pki_index *ix)
{
    memset(ix, 0, sizeof *ix);
    if (len > GF_PKI_INDEX_MAX) return gf_fail(GF_ERANGE, "%s: larger than the %u-byte cap", what, GF_PKI_INDEX_MAX);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return gf_fail(GF_EFORMAT, "%s: line %d: %s", what, jerr.line, jerr.text);
    gf_err e = GF_OK;
    json_t *v;
    if (!json_is_object(root)) { e = gf_fail(GF_EFORMAT, "%s: expected a JSON object", what); goto out; }
    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        e = gf_fail(GF_EFORMAT, "%s: version: expected 1", what);
        goto out;
    }
    if ((e = get_name(what, "", root, "consortium", ix->consortium))) goto out;
    v = json_object_get(root, "crl_number");
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        e = gf_fail(GF_EFORMAT, "%s: crl_number: expected a positive integer", what);
        goto out;
    }
    ix->crl_number = (uint64_t)json_integer_value(v);
    json_t *certs = json_object_get(root, "certs");
    if (!json_is_array(certs)) { e = gf_fail(GF_EFORMAT, "%s: certs: expected an array", what); goto out; }
    for (size_t i = 0; i < json_array_size(certs); i++) {
        gf_pki_entry ent;
        if ((e = parse_entry(what, i, json_array_get(certs, i), &ent))) goto out;
        if (gf_pki_index_find_serial(ix, ent.serial) >= 0) {
            e = gf_fail(GF_EFORMAT, "%s: certs[%zu].serial: duplicate 0x%016llx", what, i, (unsigned long long)ent.serial);
            goto out;
        }
        if (!ent.revoked && gf_pki_index_active(ix, ent.name) >= 0) {
            e = gf_fail(GF_EFORMAT, "%s: certs[%zu].name: '%s' has two unrevoked certificates", what, i, ent.name);
            goto out;
        }
        if ((e = gf_pki_index_add(ix, &ent))) {
            e = gf_fail(e, "%s: certs[%zu]: %s", what, i, gf_errmsg());
            goto out;
        }
    }
out:
    json_decref(root);
    if (e) gf_pki_index_free(ix);
    return e;
}

gf_err gf_pki_index_load(const char *path, gf_pki_index *ix)
{
    unsigned char *buf;
    size_t len;
    memset(ix, 0, sizeof *ix);
    GF_TRY(gf_read_file(path, GF_PKI_INDEX_MAX, &buf, &len));
    gf_err e = gf_pki_index_parse(path, buf, len, ix);
    free(buf);
    return e;
}

static int set_time(json_t *o, const char *key, int64_t t)
{
    char b[32];
    gf_time_iso(t, b);
    return json_object_set_new(o, key, json_string(b));
}

gf_err gf_pki_index_dump(const gf_pki_index *ix, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *root = json_object(), *certs = json_array();
    int bad = !root || !certs;
    if (!bad) {
        bad |= json_object_set_new(root, "version", json_integer(1));
        bad |= json_object_set_new(root, "consortium", json_string(ix->consortium));
        bad |= json_object_set_new(root, "crl_number", json_integer((json_int_t)ix->crl_number));
        bad |= json_object_set(root, "certs", certs);
    }
    for (size_t i = 0; !bad && i < ix->n; i++) {
        const gf_pki_entry *e = &ix->certs[i];
        json_t *o = json_object();
        char s[24];
        snprintf(s, sizeof s, "0x%016llx", (unsigned long long)e->serial);
        bad |= !o;
        if (bad) break;
        bad |= json_object_set_new(o, "serial", json_string(s));
        bad |= json_object_set_new(o, "name", json_string(e->name));
        bad |= json_object_set_new(o, "role", json_string(gf_role_name(e->role)));
        bad |= set_time(o, "not_before", e->not_before);
        bad |= set_time(o, "not_after", e->not_after);
        bad |= json_object_set_new(o, "revoked", json_boolean(e->revoked));
        bad |= e->revoked ? set_time(o, "revoked_at", e->revoked_at) : json_object_set_new(o, "revoked_at", json_null());
        bad |= json_array_append_new(certs, o);
    }
    char *s = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(certs);
    json_decref(root);
    if (!s) return gf_fail(GF_ENOMEM, "index: JSON encoding failed");
    size_t n = strlen(s);
    char *t = malloc(n + 2);
    if (!t) { free(s); return gf_fail(GF_ENOMEM, "out of memory"); }
    memcpy(t, s, n);
    t[n] = '\n';
    t[n + 1] = 0;
    free(s);
    *out = t;
    *len = n + 1;
    return GF_OK;
}

gf_err gf_pki_index_save(const char *path, const gf_pki_index *ix)
{
    char *s;
    size_t n;
    GF_TRY(gf_pki_index_dump(ix, &s, &n));
    gf_err e = gf_write_file_mode(path, s, n, 0600);
    free(s);
    return e;
}

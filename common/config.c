#include "common/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

/* User text echoed in a message: printable ASCII only, at most 63 characters,
 * so an error stays one readable line. */
static const char *clean(const char *s, char out[64])
{
    size_t i = 0;
    for (; s[i] && i < 63; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = 0;
    return out;
}

gf_err gf_cfg_parse(const char *name, const char *text, size_t len, gf_cfg *out)
{
    memset(out, 0, sizeof *out);
    if (len > GF_CFG_MAX_BYTES) return gf_fail(GF_ERANGE, "%s: config larger than %u bytes", name, GF_CFG_MAX_BYTES);
    json_error_t je;
    /* JSON_REJECT_DUPLICATES: a key given twice is ambiguous, not "last wins". */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    char why[64];
    if (!root) return gf_fail(GF_EFORMAT, "%s: line %d: %s", name, je.line, clean(je.text, why));
    if (!json_is_object(root)) {
        json_decref(root);
        return gf_fail(GF_EFORMAT, "%s: the config must be a JSON object", name);
    }
    out->root = root;
    out->path = strdup(name);
    out->dir = dir_of(name);
    if (!out->path || !out->dir) {
        gf_cfg_free(out);
        return gf_fail(GF_ENOMEM, "%s: out of memory", name);
    }
    return GF_OK;
}

gf_err gf_cfg_load(const char *path, gf_cfg *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    GF_TRY(gf_read_file(path, GF_CFG_MAX_BYTES, &buf, &len));
    gf_err e = gf_cfg_parse(path, (const char *)buf, len, out);
    free(buf);
    return e;
}

void gf_cfg_free(gf_cfg *c)
{
    if (!c) return;
    json_decref(c->root);
    free(c->path);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

#define FIELD_FMT "%s: field '%s%s%s'"
#define FIELD_ARGS(c, prefix, key) (c)->path, (prefix), (*(prefix) ? "." : ""), (key)

gf_err gf_cfg_only(const gf_cfg *c, const json_t *obj, const char *prefix, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(*a, key);
        char k[64];
        if (!ok) return gf_fail(GF_EINVAL, FIELD_FMT ": unknown field", FIELD_ARGS(c, prefix, clean(key, k)));
    }
    return GF_OK;
}

static const json_t *get(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

static gf_err missing(const gf_cfg *c, const char *prefix, const char *key)
{
    return gf_fail(GF_EINVAL, FIELD_FMT ": required", FIELD_ARGS(c, prefix, key));
}

gf_err gf_cfg_str(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                  const char *def, const char **out)
{
    const json_t *v = get(obj, key);
    if (!v) {
        if (required) return missing(c, prefix, key);
        *out = def;
        return GF_OK;
    }
    if (!json_is_string(v) || !json_string_length(v) || strlen(json_string_value(v)) != json_string_length(v))
        return gf_fail(GF_EINVAL, FIELD_FMT ": expected a non-empty string", FIELD_ARGS(c, prefix, key));
    *out = json_string_value(v);
    return GF_OK;
}

gf_err gf_cfg_enum(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, const char *const *choices,
                   int def, int *out)
{
    const char *s;
    GF_TRY(gf_cfg_str(c, obj, prefix, key, def < 0, NULL, &s));
    if (!s) {
        *out = def;
        return GF_OK;
    }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(s, choices[i])) {
            *out = i;
            return GF_OK;
        }
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? "|" : "", choices[i]);
    }
    char v[64];
    return gf_fail(GF_EINVAL, FIELD_FMT ": '%s' is not one of %s", FIELD_ARGS(c, prefix, key), clean(s, v), list);
}

gf_err gf_cfg_path(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                   const char *def, char **out)
{
    const char *s;
    *out = NULL;
    GF_TRY(gf_cfg_str(c, obj, prefix, key, required, def, &s));
    if (!s) return GF_OK;
    *out = s[0] == '/' ? strdup(s) : gf_path_join(c->dir, s);
    if (!*out) return gf_fail(GF_ENOMEM, "%s: out of memory", c->path);
    return GF_OK;
}

gf_err gf_cfg_num(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, double lo, double hi,
                  double def, int required, double *out)
{
    const json_t *v = get(obj, key);
    if (!v) {
        if (required) return missing(c, prefix, key);
        *out = def;
        return GF_OK;
    }
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || x < lo || x > hi)
        return gf_fail(GF_EINVAL, FIELD_FMT ": expected a number in [%g, %g]", FIELD_ARGS(c, prefix, key), lo, hi);
    *out = x;
    return GF_OK;
}

gf_err gf_cfg_int(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, long lo, long hi,
                  long def, int required, long *out)
{
    const json_t *v = get(obj, key);
    if (!v) {
        if (required) return missing(c, prefix, key);
        *out = def;
        return GF_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return gf_fail(GF_EINVAL, FIELD_FMT ": expected an integer in [%ld, %ld]", FIELD_ARGS(c, prefix, key), lo,
                       hi);
    *out = (long)json_integer_value(v);
    return GF_OK;
}

gf_err gf_cfg_bool(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int def, int *out)
{
    const json_t *v = get(obj, key);
    if (!v) {
        *out = def;
        return GF_OK;
    }
    if (!json_is_boolean(v))
        return gf_fail(GF_EINVAL, FIELD_FMT ": expected true or false", FIELD_ARGS(c, prefix, key));
    *out = json_is_true(v);
    return GF_OK;
}

gf_err gf_cfg_obj(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                  const json_t **out)
{
    const json_t *v = get(obj, key);
    *out = NULL;
    if (!v) return required ? missing(c, prefix, key) : GF_OK;
    if (!json_is_object(v)) return gf_fail(GF_EINVAL, FIELD_FMT ": expected an object", FIELD_ARGS(c, prefix, key));
    *out = v;
    return GF_OK;
}

#include "common/idlist.h"

#include <stdlib.h>
#include <string.h>

static int is_sep(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_ctl(char c) { return (unsigned char)c < 0x20 || c == 0x7f; }

gf_err gf_idlist_parse(const char *what, const char *buf, size_t len, size_t max_id, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    char **ids = NULL;
    int k = 0, cap = 0;
    gf_err e = GF_OK;
    for (size_t i = 0; i < len && !e;) {
        if (buf[i] == '#') { while (i < len && buf[i] != '\n') i++; continue; }
        if (is_sep(buf[i])) { i++; continue; }
        size_t j = i;
        while (j < len && !is_sep(buf[j]) && buf[j] != '#' && !is_ctl(buf[j])) j++;
        if (j < len && is_ctl(buf[j]) && !is_sep(buf[j])) {
            e = gf_fail(GF_EFORMAT, "%s: control byte 0x%02x in an id", what, (unsigned char)buf[j]);
        } else if (j - i >= max_id) {
            e = gf_fail(GF_EINVAL, "%s: id '%.16s...' is longer than %zu bytes", what, buf + i, max_id - 1);
        } else if (k == GF_IDLIST_MAX) {
            e = gf_fail(GF_ERANGE, "%s: more than %d ids", what, GF_IDLIST_MAX);
        } else if (k == cap) {
            int nc = cap ? 2 * cap : 16;
            char **t = realloc(ids, (size_t)nc * sizeof *t);
            if (t) ids = t, cap = nc;
            else e = gf_fail(GF_ENOMEM, "out of memory");
        }
        if (!e && !(ids[k] = malloc(j - i + 1))) e = gf_fail(GF_ENOMEM, "out of memory");
        if (e) break;
        memcpy(ids[k], buf + i, j - i);
        ids[k++][j - i] = 0;
        i = j;
    }
    if (!e && k == 0) e = gf_fail(GF_EINVAL, "%s: names no id", what);
    if (e) { gf_idlist_free(ids, k); return e; }
    *out = ids;
    *n = k;
    return GF_OK;
}

void gf_idlist_free(char **ids, int n)
{
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

#include "model/arena.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes: one cache line, one AVX-512 vector */

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

gf_err gf_arena_add(gf_arena *a, const char *name, int ndim, const int64_t *shape, int *id)
{
    if (a->data) return gf_fail(GF_ESTATE, "tensor %s: arena already allocated", name);
    if (ndim < 1 || ndim > GF_TDIMS) return gf_fail(GF_EINVAL, "tensor %s: %d dimensions", name, ndim);
    if (strlen(name) >= GF_TNAME_MAX) return gf_fail(GF_EINVAL, "tensor name too long: %s", name);
    if (gf_arena_find(a, name) >= 0) return gf_fail(GF_EINVAL, "tensor %s declared twice", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || shape[d] > (1 << 30)) return gf_fail(GF_EINVAL, "tensor %s: dimension %d is %lld", name, d, (long long)shape[d]);
        if (numel > ((size_t)1 << 34) / (size_t)shape[d]) return gf_fail(GF_ERANGE, "tensor %s: too large", name);
        numel *= (size_t)shape[d];
    }
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 32;
        gf_tensor *t = realloc(a->t, (size_t)nc * sizeof *t);
        if (!t) return gf_fail(GF_ENOMEM, "out of memory declaring %s", name);
        a->t = t;
        a->cap = nc;
    }
    gf_tensor *t = &a->t[a->n];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->offset = a->size;
    t->numel = numel;
    a->size += round_up(numel);
    if (id) *id = a->n;
    a->n++;
    return GF_OK;
}

gf_err gf_arena_commit(gf_arena *a)
{
    if (a->data) return gf_fail(GF_ESTATE, "arena already allocated");
    size_t bytes = (a->size ? a->size : ALIGN_FLOATS) * sizeof(float);
    a->data = aligned_alloc(64, bytes);
    if (!a->data) return gf_fail(GF_ENOMEM, "out of memory: arena of %zu bytes", bytes);
    memset(a->data, 0, bytes);
    return GF_OK;
}

gf_err gf_arena_clone_layout(gf_arena *dst, const gf_arena *src)
{
    memset(dst, 0, sizeof *dst);
    if (src->n) {
        dst->t = malloc((size_t)src->n * sizeof *dst->t);
        if (!dst->t) return gf_fail(GF_ENOMEM, "out of memory cloning an arena");
        memcpy(dst->t, src->t, (size_t)src->n * sizeof *dst->t);
    }
    dst->n = dst->cap = src->n;
    dst->size = src->size;
    gf_err e = gf_arena_commit(dst);
    if (e) gf_arena_free(dst);
    return e;
}

void gf_arena_zero(gf_arena *a)
{
    if (a->data) memset(a->data, 0, a->size * sizeof(float));
}

void gf_arena_free(gf_arena *a)
{
    free(a->t);
    free(a->data);
    memset(a, 0, sizeof *a);
}

int gf_arena_find(const gf_arena *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->t[i].name, name)) return i;
    return -1;
}

size_t gf_arena_numel(const gf_arena *a)
{
    size_t n = 0;
    for (int i = 0; i < a->n; i++) n += a->t[i].numel;
    return n;
}

void gf_arena_pack(const gf_arena *a, float *out)
{
    for (int i = 0; i < a->n; i++) {
        memcpy(out, a->data + a->t[i].offset, a->t[i].numel * sizeof *out);
        out += a->t[i].numel;
    }
}

void gf_arena_unpack(gf_arena *a, const float *in)
{
    for (int i = 0; i < a->n; i++) {
        memcpy(a->data + a->t[i].offset, in, a->t[i].numel * sizeof *in);
        in += a->t[i].numel;
    }
}

int gf_arena_decl_add(gf_arena_decl *d, const char *name, size_t n)
{
    if (d->e) return -1;
    int64_t shape[1] = {(int64_t)n};
    int id = -1;
    d->e = gf_arena_add(d->a, name, 1, shape, &id);
    return id;
}

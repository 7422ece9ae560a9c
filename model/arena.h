/* One arena per role (parameters, gradients, AdamW m and v, activations,
 * activation gradients): one 64-byte aligned float block plus a table of
 * named tensors (name, shape, offset). Layout first (gf_arena_add), then one
 * allocation (gf_arena_commit); arenas of the same layout share offsets, so
 * optimizers and clipping run as one flat loop over `data`. */
#ifndef GF_ARENA_H
#define GF_ARENA_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

#define GF_TNAME_MAX 96
#define GF_TDIMS 4

typedef struct {
    char name[GF_TNAME_MAX]; /* PyTorch state_dict name for parameters */
    int ndim;
    int64_t shape[GF_TDIMS];
    size_t offset;           /* in floats, a multiple of 16 (64 bytes) */
    size_t numel;
} gf_tensor;

typedef struct {
    gf_tensor *t;
    int n, cap;
    float *data;             /* owned, NULL until committed */
    size_t size;             /* floats, including alignment padding */
} gf_arena;

/* Declares a tensor (shape dims of 0 end the shape). Returns its index in
 * *id. Names must be unique; fails after commit. */
gf_err gf_arena_add(gf_arena *a, const char *name, int ndim, const int64_t *shape, int *id);
/* Allocates zeroed storage for every declared tensor. */
gf_err gf_arena_commit(gf_arena *a);
/* dst gets src's layout (names, shapes, offsets) and zeroed storage. */
gf_err gf_arena_clone_layout(gf_arena *dst, const gf_arena *src);
void gf_arena_zero(gf_arena *a);
void gf_arena_free(gf_arena *a);
/* Index of the tensor called name, or -1. */
int gf_arena_find(const gf_arena *a, const char *name);
static inline float *gf_arena_ptr(const gf_arena *a, int id) { return a->data + a->t[id].offset; }
/* Total floats in tensors (without padding). */
size_t gf_arena_numel(const gf_arena *a);

/* The tensors as one packed vector (arena order, no padding) of
 * gf_arena_numel floats: what a federated update is made of. */
void gf_arena_pack(const gf_arena *a, float *out);
void gf_arena_unpack(gf_arena *a, const float *in);

/* Declaring many 1-D tensors with one error check at the end: the first
 * failure is kept in e and every later gf_arena_decl_add is a no-op.
 *     gf_arena_decl d = {&arena, GF_OK};
 *     int x = gf_arena_decl_add(&d, "x", n), y = gf_arena_decl_add(&d, "y", n);
 *     if (d.e) ...
 * Returns the tensor's index, or -1 once an error is set. */
typedef struct { gf_arena *a; gf_err e; } gf_arena_decl;
int gf_arena_decl_add(gf_arena_decl *d, const char *name, size_t n);

#endif

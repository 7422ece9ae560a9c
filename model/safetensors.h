/* safetensors checkpoints (https://github.com/huggingface/safetensors format):
 *   u64 little-endian N | N bytes of JSON header, padded with spaces to a
 *   multiple of 8 | data.
 * Header: {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
 *          ..., "__metadata__": {"<key>": "<string>", ...}}
 * offsets relative to the start of the data. Only F32 is written or read.
 * Parameter tensors carry PyTorch state_dict names, so the file loads in
 * Python with safetensors.torch.load_file + load_state_dict(strict=True)
 * once the extra tensors (x_mean, x_std) are popped.
 *
 * Reader caps: file <= 2 GiB, header <= 16 MiB, <= 4096 tensors, names 1..95
 * bytes, <= 4 dimensions; the header must be a strict JSON object (no
 * duplicate keys, no unknown fields in a tensor entry, integer offsets and
 * dims); tensor byte ranges must tile the data exactly (no overlap, no gap,
 * nothing after the last tensor). */
#ifndef GF_SAFETENSORS_H
#define GF_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "common/err.h"
#include "model/arena.h"
#include "model/model.h"

#define GF_ST_MAX_FILE ((size_t)2 << 30)
#define GF_ST_MAX_HEADER ((size_t)16 << 20)
#define GF_ST_MAX_TENSORS 4096
#define GF_ST_MAX_NAME (GF_TNAME_MAX - 1)
#define GF_ST_MAX_DIMS GF_TDIMS

/* A tensor read from a file, or an extra tensor to write (data borrowed then). */
typedef struct {
    char name[GF_TNAME_MAX];
    int ndim;                  /* 0 (scalar) .. 4 */
    int64_t shape[GF_TDIMS];
    size_t numel;
    float *data;               /* owned when read (native floats) */
} gf_st_tensor;

typedef struct {
    int n;
    gf_st_tensor *t;           /* in file header order; owned */
    json_t *meta;              /* object of string values (empty if absent); owned */
} gf_safetensors;

/* Writes every tensor of params (arena order, F32, little-endian), then the
 * n_extra extra tensors (e.g. x_mean, x_std), and meta (an object whose values
 * are all strings, or NULL) as "__metadata__". Names must be unique and
 * values finite. Atomic: temporary file, fsync, rename. params may be NULL. */
gf_err gf_safetensors_write(const char *path, const gf_arena *params, const gf_st_tensor *extra,
                            int n_extra, const json_t *meta);
/* The same file, in memory (*buf malloc'd, caller frees); what names it in messages. */
gf_err gf_safetensors_encode(const char *what, const gf_arena *params, const gf_st_tensor *extra, int n_extra,
                             const json_t *meta, unsigned char **buf, size_t *len);
/* Parses a safetensors file held in memory; what names it in messages. */
gf_err gf_safetensors_parse(const char *what, const unsigned char *buf, size_t len, gf_safetensors *out);
gf_err gf_safetensors_read(const char *path, gf_safetensors *out);
/* The tensor called name, or NULL. */
const gf_st_tensor *gf_safetensors_get(const gf_safetensors *st, const char *name);
/* The metadata value of key, or NULL. */
const char *gf_safetensors_meta(const gf_safetensors *st, const char *key);
void gf_safetensors_free(gf_safetensors *st);

/* Copies st into params like load_state_dict(strict=True): every arena tensor
 * must be present with exactly its shape and finite values; a tensor the
 * arena does not have is an error unless it is x_mean or x_std. what (the
 * file) names the source in messages. All-or-nothing: on error params is
 * unchanged. */
gf_err gf_safetensors_load_into(gf_arena *params, const gf_safetensors *st, const char *what);

/* Model convenience (extension): params plus x_mean/x_std (shape [d_in]) when
 * m->has_norm. */
gf_err gf_safetensors_save_model(const char *path, const gf_model *m, const json_t *meta);
/* Loads params into m and x_mean/x_std when present (both or neither;
 * shape [d_in], finite, x_std > 0), setting m->has_norm; *meta_out (may be
 * NULL) receives a new reference to the metadata object. */
gf_err gf_safetensors_load_model(const char *path, gf_model *m, json_t **meta_out);

#endif

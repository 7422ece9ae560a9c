/* NumPy .npy (format versions 1-3) and .npz (zip, stored or deflated, on
 * libzip), and the Gait2Hip-60 file layout on top of them.
 * Every size read from a file is capped; pickled object arrays are refused. */
#ifndef GF_NPZ_H
#define GF_NPZ_H
#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "sites/dataset.h"

#define GF_NPY_MAX_DIMS 8
#define GF_NPZ_MAX_MEMBER ((size_t)4 << 30)  /* uncompressed bytes per member */
#define GF_NPZ_MAX_MEMBERS 256
#define GF_NPZ_MAX_TOTAL ((size_t)8 << 30)   /* uncompressed bytes per archive */
#define GF_NPZ_MAX_FILE ((size_t)8 << 30)    /* bytes of an .npz file read whole */
#define GF_NPY_MAX_HEADER 10000              /* numpy's own default read limit */
#define GF_NPY_MAX_STRLEN 65536              /* characters per '<U n' / '|S n' item */

typedef enum {
    GF_DT_F32, GF_DT_F64, GF_DT_I8, GF_DT_I16, GF_DT_I32, GF_DT_I64,
    GF_DT_U8, GF_DT_U16, GF_DT_U32, GF_DT_U64, GF_DT_BOOL,
    GF_DT_STR,   /* fixed-width unicode '<U n' (UTF-32LE), itemsize 4n */
    GF_DT_BYTES, /* fixed-width bytes '|S n' */
} gf_dtype;

typedef struct {
    char name[128];          /* key inside the npz (without .npy) */
    gf_dtype dtype;
    size_t itemsize;
    int ndim;
    int64_t shape[GF_NPY_MAX_DIMS];
    int64_t count;           /* product of shape */
    void *data;              /* C order, native little-endian; owned */
} gf_array;

gf_err gf_npy_parse(const char *what, const unsigned char *buf, size_t len, gf_array *out);
/* Serializes as .npy version 1.0 (2.0 if the header needs it); *buf malloc'd. */
gf_err gf_npy_serialize(const gf_array *a, unsigned char **buf, size_t *len);
void gf_array_free(gf_array *a);
/* Allocates a zeroed C-order array named name (may be NULL); itemsize is
 * only read for GF_DT_STR (4 * chars) and GF_DT_BYTES. */
gf_err gf_array_alloc(gf_array *a, const char *name, gf_dtype dt, size_t itemsize,
                      int ndim, const int64_t *shape);
/* "float32", "int64", "unicode", ... for messages. */
const char *gf_dtype_name(gf_dtype dt);
/* Element i as double (numeric dtypes; NAN for strings or i out of range). */
double gf_array_get_f64(const gf_array *a, int64_t i);
/* Element i of a STR/BYTES array as a NUL-terminated UTF-8 string. Trailing
 * NULs are padding (as in numpy); embedded NULs, invalid code points or
 * invalid UTF-8 bytes are errors; GF_ERANGE when it needs more than cap bytes. */
gf_err gf_array_get_str(const gf_array *a, int64_t i, char *dst, size_t cap);
/* Stores UTF-8 s into element i of a STR/BYTES array (GF_ERANGE if too long). */
gf_err gf_array_set_str(gf_array *a, int64_t i, const char *s);

typedef struct {
    int n;
    gf_array *arrays;
} gf_npz;

gf_err gf_npz_read(const char *path, gf_npz *out);
/* Parses an npz held in memory; what names it in messages (e.g. the path).
 * Only "*.npy" members, stored or deflated, unencrypted, unique keys. */
gf_err gf_npz_parse(const char *what, const unsigned char *buf, size_t len, gf_npz *out);
/* Same with a lower per-member cap (tests exercise the zip-bomb defence with it). */
gf_err gf_npz_parse_capped(const char *what, const unsigned char *buf, size_t len,
                           size_t member_cap, gf_npz *out);
const gf_array *gf_npz_get(const gf_npz *z, const char *key);
void gf_npz_free(gf_npz *z);
/* Writes arrays as an npz atomically (temp file, fsync, rename). compress: deflate. */
gf_err gf_npz_write(const char *path, const gf_array *arrays, int n, int compress);

/* Gait2Hip-60 layout: X (N,180,10), Y (N,180,D) in N or N·m, subject_id,
 * height_m, weight_kg, speed_label, in_cols, out_cols. Columns are mapped by
 * name. Reading fills ds->yf or ds->ym according to out_cols and sets *task;
 * a file with only X (for predict) leaves both NULL and *task = -1.
 * Reader rules:
 *  - X, Y: float32/float64, T = 180, every value finite in float32.
 *  - in_cols: a permutation of gf_in_cols (absent: X is in gf_in_cols order).
 *    out_cols: a permutation of gf_force_cols or of gf_moment_cols; Y and
 *    out_cols come together.
 *  - With Y, subject_id (strings, or integers written in decimal),
 *    height_m (0, 3], weight_kg (0, 500] and speed_label (strings, any
 *    non-empty label up to 7 bytes) are required; without Y they are
 *    optional and absent ones leave meta zeroed ("" / 0).
 *  - Optional extras (written by gf_g2h_write): cadence_spm [0, 400] and
 *    trial (integers, [0, 2^31)). Other keys are ignored. Without cadence_spm
 *    the cadence is 0 (unknown). Without trial (the public Gait2Hip-60 files,
 *    one cycle per trial) and with subject_id and speed_label, every cycle is
 *    its own trial, numbered 1, 2, ... per (subject, speed label) in file order.
 *  - height_m and weight_kg are kept as read (double), so a float64 file
 *    written back by gf_g2h_write is equal.
 *  - Every per-cycle array is 1-D with N entries. */
gf_err gf_g2h_read(const char *path, gf_dataset *ds, int *task);
/* The same on an npz already parsed / held in memory (what names it). */
gf_err gf_g2h_from_npz(const char *what, const gf_npz *z, gf_dataset *ds, int *task);
gf_err gf_g2h_parse(const char *what, const unsigned char *buf, size_t len, gf_dataset *ds, int *task);
/* Writes X, Y (float32, absolute N or N·m), subject_id, height_m, weight_kg
 * (float64), speed_label, in_cols, out_cols, and two extra keys the reader
 * restores: cadence_spm (float32) and trial (int32). Deflated, deterministic
 * bytes. Refuses (naming the cycle, subject and field) what the reader would
 * refuse: e.g. "height missing" for a height of 0. */
gf_err gf_g2h_write(const char *path, const gf_dataset *ds, gf_task task);

#endif

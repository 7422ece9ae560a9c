/* Gait2Hip-60 npz layout <-> gf_dataset. Columns are mapped by name, every
 * per-cycle array must have N entries, X/Y must be finite float32 values. */
#include "sites/npz.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

#define COL_MAX 64    /* bytes of a column name */
#define MAX_COLS 64   /* entries of in_cols / out_cols */

/* Re-labels an element-access error (which names only the key) with the file. */
static gf_err with_file(const char *what, gf_err e)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", gf_errmsg());
    return gf_fail(e, "%s: %s", what, msg);
}

static int is_int_dtype(gf_dtype d) { return d >= GF_DT_I8 && d <= GF_DT_U64; }
static int is_str_dtype(gf_dtype d) { return d == GF_DT_STR || d == GF_DT_BYTES; }
static int is_num_dtype(gf_dtype d) { return d == GF_DT_F32 || d == GF_DT_F64 || is_int_dtype(d); }

/* A per-cycle array: 1-D with n entries. */
static gf_err check_per_cycle(const char *what, const gf_array *a, int64_t n)
{
    if (a->ndim != 1)
        return gf_fail(GF_EFORMAT, "%s: key '%s' has %d dimensions, expected 1 (one entry per cycle)", what, a->name, a->ndim);
    if (a->shape[0] != n)
        return gf_fail(GF_EFORMAT, "%s: key '%s' has %lld entries but X has %lld cycles", what, a->name,
                       (long long)a->shape[0], (long long)n);
    return GF_OK;
}

/* X or Y: (n, 180, d) float32/float64. n < 0 means "take n from this array". */
static gf_err check_grid(const char *what, const gf_array *a, int64_t *n, int64_t d)
{
    if (a->dtype != GF_DT_F32 && a->dtype != GF_DT_F64)
        return gf_fail(GF_EFORMAT, "%s: key '%s' has dtype %s, expected float32 or float64", what, a->name,
                       gf_dtype_name(a->dtype));
    if (a->ndim != 3) return gf_fail(GF_EFORMAT, "%s: key '%s' has %d dimensions, expected 3 (N, 180, %lld)", what, a->name, a->ndim, (long long)d);
    if (a->shape[1] != GF_T)
        return gf_fail(GF_EFORMAT, "%s: key '%s' has T=%lld samples per cycle, expected %d", what, a->name, (long long)a->shape[1], GF_T);
    if (a->shape[2] != d)
        return gf_fail(GF_EFORMAT, "%s: key '%s' has %lld channels but its column list has %lld", what, a->name, (long long)a->shape[2], (long long)d);
    if (*n < 0) {
        if (a->shape[0] > GF_MAX_CYCLES)
            return gf_fail(GF_ERANGE, "%s: key '%s' has %lld cycles (max %d)", what, a->name, (long long)a->shape[0], GF_MAX_CYCLES);
        *n = a->shape[0];
    } else if (a->shape[0] != *n) {
        return gf_fail(GF_EFORMAT, "%s: key '%s' has %lld cycles but X has %lld", what, a->name, (long long)a->shape[0], (long long)*n);
    }
    return GF_OK;
}

static int find_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* map[j] = canonical index of the file's column j; the file's columns must be
 * a permutation of names[0..n). */
static gf_err col_map(const char *what, const gf_array *cols, const char *const *names, int n, const char *kind, int *map)
{
    if (!is_str_dtype(cols->dtype) || cols->ndim != 1)
        return gf_fail(GF_EFORMAT, "%s: key '%s' must be a 1-D string array", what, cols->name);
    if (cols->count > MAX_COLS) return gf_fail(GF_ERANGE, "%s: key '%s' has %lld entries", what, cols->name, (long long)cols->count);
    int seen[MAX_COLS] = {0};
    for (int64_t j = 0; j < cols->count; j++) {
        char s[COL_MAX];
        gf_err e = gf_array_get_str(cols, j, s, sizeof s);
        if (e != GF_OK) return with_file(what, e);
        int k = find_name(s, names, n);
        if (k < 0) return gf_fail(GF_EFORMAT, "%s: key '%s': unknown column '%s' (not one of the %d %s columns)", what, cols->name, s, n, kind);
        if (seen[k]) return gf_fail(GF_EFORMAT, "%s: key '%s': column '%s' appears twice", what, cols->name, s);
        seen[k] = 1;
        map[j] = k;
    }
    for (int k = 0; k < n; k++)
        if (!seen[k]) return gf_fail(GF_EFORMAT, "%s: key '%s': column '%s' missing", what, cols->name, names[k]);
    return GF_OK;
}

/* out_cols decides the task by its first name, then must be that task's permutation. */
static gf_err out_task(const char *what, const gf_array *cols, gf_task *task)
{
    if (!is_str_dtype(cols->dtype) || cols->ndim != 1 || cols->count < 1)
        return gf_fail(GF_EFORMAT, "%s: key '%s' must be a non-empty 1-D string array", what, cols->name);
    char s[COL_MAX];
    gf_err e = gf_array_get_str(cols, 0, s, sizeof s);
    if (e != GF_OK) return with_file(what, e);
    if (find_name(s, gf_force_cols, GF_NF) >= 0) *task = GF_TASK_FORCES;
    else if (find_name(s, gf_moment_cols, GF_NM) >= 0) *task = GF_TASK_MOMENTS;
    else return gf_fail(GF_EFORMAT, "%s: key '%s': unknown column '%s' (neither a hip muscle force nor a hip moment)", what, cols->name, s);
    return GF_OK;
}

/* dst[(i*T + t)*d + map[j]] = a[i][t][j], each finite in float32. */
static gf_err copy_grid(const char *what, const gf_array *a, int64_t n, int d, const int *map, float *dst)
{
    for (int64_t i = 0; i < n; i++)
        for (int t = 0; t < GF_T; t++)
            for (int j = 0; j < d; j++) {
                size_t k = ((size_t)i * GF_T + (size_t)t) * (size_t)d + (size_t)j;
                double v;
                if (a->dtype == GF_DT_F32) { float f; memcpy(&f, (const float *)a->data + k, 4); v = f; }
                else memcpy(&v, (const double *)a->data + k, 8);
                if (!isfinite(v) || fabs(v) > FLT_MAX)
                    return gf_fail(GF_ENUMERIC, "%s: key '%s': non-finite value %g at index (%lld, %d, %d)", what, a->name, v,
                                   (long long)i, t, j);
                dst[((size_t)i * GF_T + (size_t)t) * (size_t)d + (size_t)map[j]] = (float)v;
            }
    return GF_OK;
}

/* Numeric per-cycle value in [lo, hi] (hi > lo), e.g. weight_kg. */
static gf_err get_num(const char *what, const gf_array *a, int64_t i, double lo, double hi, int lo_open, double *out)
{
    double v = gf_array_get_f64(a, i);
    if (!isfinite(v) || v > hi || v < lo || (lo_open && v == lo))
        return gf_fail(GF_ERANGE, "%s: key '%s': value %g at index %lld outside %s%g, %g]", what, a->name, v, (long long)i,
                       lo_open ? "(" : "[", lo, hi);
    *out = v;
    return GF_OK;
}

static gf_err read_subject_ids(const char *what, const gf_array *a, gf_dataset *ds)
{
    if (!is_str_dtype(a->dtype) && !is_int_dtype(a->dtype))
        return gf_fail(GF_EFORMAT, "%s: key 'subject_id' has dtype %s, expected strings or integers", what, gf_dtype_name(a->dtype));
    for (int64_t i = 0; i < ds->n; i++) {
        char *dst = ds->meta[i].subject_id;
        if (is_str_dtype(a->dtype)) {
            gf_err e = gf_array_get_str(a, i, dst, GF_ID_MAX);
            if (e != GF_OK) return with_file(what, e);
        } else if (a->dtype == GF_DT_U64) {
            uint64_t v;
            memcpy(&v, (const unsigned char *)a->data + (size_t)i * 8, 8);
            snprintf(dst, GF_ID_MAX, "%" PRIu64, v);
        } else if (a->dtype == GF_DT_I64) {
            int64_t v;
            memcpy(&v, (const unsigned char *)a->data + (size_t)i * 8, 8);
            snprintf(dst, GF_ID_MAX, "%" PRId64, v);
        } else { /* up to 32 bits: exact through double */
            snprintf(dst, GF_ID_MAX, "%" PRId64, (int64_t)gf_array_get_f64(a, i));
        }
        if (!dst[0]) return gf_fail(GF_EFORMAT, "%s: key 'subject_id': empty id at index %lld", what, (long long)i);
    }
    return GF_OK;
}

static gf_err read_speeds(const char *what, const gf_array *a, gf_dataset *ds)
{
    if (!is_str_dtype(a->dtype))
        return gf_fail(GF_EFORMAT, "%s: key 'speed_label' has dtype %s, expected strings", what, gf_dtype_name(a->dtype));
    for (int64_t i = 0; i < ds->n; i++) {
        gf_err e = gf_array_get_str(a, i, ds->meta[i].speed, sizeof ds->meta[i].speed);
        if (e != GF_OK) return with_file(what, e);
        if (!ds->meta[i].speed[0]) return gf_fail(GF_EFORMAT, "%s: key 'speed_label': empty label at index %lld", what, (long long)i);
    }
    return GF_OK;
}

/* height_m, weight_kg, cadence_spm (float), trial (int): range-checked. */
static gf_err read_numeric_meta(const char *what, const gf_npz *z, gf_dataset *ds)
{
    static const struct { const char *key; double lo, hi; int lo_open; } spec[] = {
        {"height_m", 0, 3, 1}, {"weight_kg", 0, 500, 1}, {"cadence_spm", 0, 400, 0}, {"trial", 0, INT32_MAX, 0},
    };
    for (size_t s = 0; s < sizeof spec / sizeof spec[0]; s++) {
        const gf_array *a = gf_npz_get(z, spec[s].key);
        if (!a) continue;
        GF_TRY(check_per_cycle(what, a, ds->n));
        int want_int = s == 3;
        if (want_int ? !is_int_dtype(a->dtype) : !is_num_dtype(a->dtype))
            return gf_fail(GF_EFORMAT, "%s: key '%s' has dtype %s, expected %s", what, a->name, gf_dtype_name(a->dtype),
                           want_int ? "integers" : "numbers");
        for (int64_t i = 0; i < ds->n; i++) {
            double v = 0;
            GF_TRY(get_num(what, a, i, spec[s].lo, spec[s].hi, spec[s].lo_open, &v));
            gf_cycle_meta *m = &ds->meta[i];
            if (s == 0) m->height_m = v;
            else if (s == 1) m->weight_kg = v;
            else if (s == 2) m->cadence_spm = (float)v;
            else m->trial = (int32_t)v;
        }
    }
    return GF_OK;
}

typedef struct {
    const gf_cycle_meta *m;
    int64_t i;
} cycle_ref;

static int by_subject_speed_index(const void *pa, const void *pb)
{
    const cycle_ref *a = pa, *b = pb;
    int c = strcmp(a->m->subject_id, b->m->subject_id);
    if (!c) c = strcmp(a->m->speed, b->m->speed);
    if (!c) c = (a->i > b->i) - (a->i < b->i);
    return c;
}

/* Without a 'trial' key (the public Gait2Hip-60 files hold one cycle per
 * trial), each cycle is its own trial: 1, 2, ... per (subject, speed label)
 * in file order. */
static gf_err number_trials(const char *what, gf_dataset *ds)
{
    if (ds->n == 0) return GF_OK;
    cycle_ref *r = malloc((size_t)ds->n * sizeof *r);
    if (!r) return gf_fail(GF_ENOMEM, "%s: out of memory numbering trials", what);
    for (int64_t i = 0; i < ds->n; i++) r[i] = (cycle_ref){&ds->meta[i], i};
    qsort(r, (size_t)ds->n, sizeof *r, by_subject_speed_index);
    int32_t k = 0;
    for (int64_t j = 0; j < ds->n; j++) {
        int same = j > 0 && !strcmp(r[j].m->subject_id, r[j - 1].m->subject_id) && !strcmp(r[j].m->speed, r[j - 1].m->speed);
        k = same ? k + 1 : 1;
        ds->meta[r[j].i].trial = k;
    }
    free(r);
    return GF_OK;
}

static gf_err read_meta(const char *what, const gf_npz *z, int labelled, gf_dataset *ds)
{
    static const char *const required[] = {"subject_id", "height_m", "weight_kg", "speed_label"};
    for (int k = 0; k < 4; k++) {
        const gf_array *a = gf_npz_get(z, required[k]);
        if (!a && labelled) return gf_fail(GF_ENOTFOUND, "%s: key '%s' missing (required with Y)", what, required[k]);
        if (a) GF_TRY(check_per_cycle(what, a, ds->n));
    }
    const gf_array *a;
    if ((a = gf_npz_get(z, "subject_id"))) GF_TRY(read_subject_ids(what, a, ds));
    if ((a = gf_npz_get(z, "speed_label"))) GF_TRY(read_speeds(what, a, ds));
    GF_TRY(read_numeric_meta(what, z, ds));
    if (!gf_npz_get(z, "trial") && gf_npz_get(z, "subject_id") && gf_npz_get(z, "speed_label"))
        GF_TRY(number_trials(what, ds));
    return GF_OK;
}

static gf_err from_npz(const char *what, const gf_npz *z, gf_dataset *ds, int *task)
{
    const gf_array *x = gf_npz_get(z, "X"), *y = gf_npz_get(z, "Y");
    const gf_array *ic = gf_npz_get(z, "in_cols"), *oc = gf_npz_get(z, "out_cols");
    if (!x) return gf_fail(GF_ENOTFOUND, "%s: key 'X' missing", what);
    if (y && !oc) return gf_fail(GF_ENOTFOUND, "%s: key 'Y' present but 'out_cols' missing", what);
    if (oc && !y) return gf_fail(GF_ENOTFOUND, "%s: key 'out_cols' present but 'Y' missing", what);
    int xmap[MAX_COLS], ymap[MAX_COLS];
    for (int k = 0; k < GF_DIN; k++) xmap[k] = k; /* no in_cols: the canonical order */
    if (ic) GF_TRY(col_map(what, ic, gf_in_cols, GF_DIN, "input", xmap));
    int64_t n = -1;
    GF_TRY(check_grid(what, x, &n, GF_DIN));
    gf_task t = GF_TASK_FORCES;
    if (y) {
        GF_TRY(out_task(what, oc, &t));
        GF_TRY(col_map(what, oc, gf_task_cols(t), gf_task_dim(t), gf_task_name(t), ymap));
        GF_TRY(check_grid(what, y, &n, gf_task_dim(t)));
    }
    GF_TRY(gf_dataset_alloc(ds, n, y && t == GF_TASK_FORCES, y && t == GF_TASK_MOMENTS));
    gf_err e = copy_grid(what, x, n, GF_DIN, xmap, ds->x);
    if (e == GF_OK && y) e = copy_grid(what, y, n, gf_task_dim(t), ymap, t == GF_TASK_FORCES ? ds->yf : ds->ym);
    if (e == GF_OK) e = read_meta(what, z, y != NULL, ds);
    if (e != GF_OK) { gf_dataset_free(ds); return e; }
    *task = y ? (int)t : -1;
    return GF_OK;
}

gf_err gf_g2h_from_npz(const char *what, const gf_npz *z, gf_dataset *ds, int *task)
{
    memset(ds, 0, sizeof *ds);
    *task = -1;
    return from_npz(what, z, ds, task);
}

gf_err gf_g2h_parse(const char *what, const unsigned char *buf, size_t len, gf_dataset *ds, int *task)
{
    memset(ds, 0, sizeof *ds);
    *task = -1;
    gf_npz z;
    GF_TRY(gf_npz_parse(what, buf, len, &z));
    gf_err e = from_npz(what, &z, ds, task);
    gf_npz_free(&z);
    return e;
}

gf_err gf_g2h_read(const char *path, gf_dataset *ds, int *task)
{
    memset(ds, 0, sizeof *ds);
    *task = -1;
    gf_npz z;
    GF_TRY(gf_npz_read(path, &z));
    gf_err e = from_npz(path, &z, ds, task);
    gf_npz_free(&z);
    return e;
}

/* ---- writer ---- */

enum { W_X, W_Y, W_SUBJ, W_HEIGHT, W_WEIGHT, W_SPEED, W_IN, W_OUT, W_CAD, W_TRIAL, W_COUNT };

/* A per-cycle value the reader requires in (0, hi] (lo_open) or [0, hi]; 0 in
 * an open range means the store never had it (e.g. an OpenSim import without
 * --height), so the message says "missing" rather than "out of range". */
static gf_err check_value(const char *path, int64_t i, const char *sid, const char *field, const char *unit, double v,
                          double hi, int lo_open)
{
    if (lo_open && v == 0)
        return gf_fail(GF_ERANGE, "%s: cycle %lld (subject %s): %s missing (stored as 0)", path, (long long)i, sid, field);
    if (!(v >= 0 && v <= hi))
        return gf_fail(GF_ERANGE, "%s: cycle %lld (subject %s): %s %g%s out of range %s0, %g]", path, (long long)i, sid,
                       field, v, unit, lo_open ? "(" : "[", hi);
    return GF_OK;
}

/* One cycle's metadata, each field named in the message. */
static gf_err check_meta(const char *path, const gf_cycle_meta *m, int64_t i)
{
    if (!memchr(m->subject_id, 0, GF_ID_MAX) || !m->subject_id[0])
        return gf_fail(GF_EINVAL, "%s: cycle %lld: subject id missing", path, (long long)i);
    const char *sid = m->subject_id;
    if (!memchr(m->speed, 0, sizeof m->speed) || !m->speed[0])
        return gf_fail(GF_EINVAL, "%s: cycle %lld (subject %s): speed label missing", path, (long long)i, sid);
    GF_TRY(check_value(path, i, sid, "height", " m", m->height_m, 3, 1));
    GF_TRY(check_value(path, i, sid, "weight", " kg", m->weight_kg, 500, 1));
    GF_TRY(check_value(path, i, sid, "cadence", " steps/min", m->cadence_spm, 400, 0));
    if (m->trial < 0)
        return gf_fail(GF_ERANGE, "%s: cycle %lld (subject %s): trial %d is negative", path, (long long)i, sid,
                       (int)m->trial);
    return GF_OK;
}

/* Refuses what the reader would refuse, so a written file always reads back. */
static gf_err check_dataset(const char *path, const gf_dataset *ds, gf_task task)
{
    if (task != GF_TASK_FORCES && task != GF_TASK_MOMENTS) return gf_fail(GF_EINVAL, "%s: bad task %d", path, (int)task);
    const float *y = task == GF_TASK_FORCES ? ds->yf : ds->ym;
    if (ds->n < 0 || ds->n > GF_MAX_CYCLES) return gf_fail(GF_ERANGE, "%s: %lld cycles", path, (long long)ds->n);
    if (!y) return gf_fail(GF_EINVAL, "%s: dataset has no %s targets", path, gf_task_name(task));
    size_t nx = (size_t)ds->n * GF_T * GF_DIN, ny = (size_t)ds->n * GF_T * (size_t)gf_task_dim(task);
    for (size_t k = 0; k < nx; k++)
        if (!isfinite(ds->x[k])) return gf_fail(GF_ENUMERIC, "%s: X value %zu is not finite", path, k);
    for (size_t k = 0; k < ny; k++)
        if (!isfinite(y[k])) return gf_fail(GF_ENUMERIC, "%s: Y value %zu is not finite", path, k);
    for (int64_t i = 0; i < ds->n; i++) GF_TRY(check_meta(path, &ds->meta[i], i));
    return GF_OK;
}

/* A '<U n' array of count strings, n = the longest (in code points, >= 1). */
static gf_err str_array(const char *path, gf_array *a, const char *name, int64_t count, const char *(*get)(const void *, int64_t),
                        const void *ctx)
{
    size_t maxc = 1;
    for (int64_t i = 0; i < count; i++) {
        size_t c = 0;
        for (const unsigned char *p = (const unsigned char *)get(ctx, i); *p; p++) c += (*p & 0xC0) != 0x80;
        if (c > maxc) maxc = c;
    }
    int64_t shape[1] = {count};
    GF_TRY(gf_array_alloc(a, name, GF_DT_STR, 4 * maxc, 1, shape));
    for (int64_t i = 0; i < count; i++) {
        gf_err e = gf_array_set_str(a, i, get(ctx, i));
        if (e != GF_OK) return with_file(path, e);
    }
    return GF_OK;
}

static const char *get_subject(const void *ctx, int64_t i) { return ((const gf_dataset *)ctx)->meta[i].subject_id; }
static const char *get_speed(const void *ctx, int64_t i) { return ((const gf_dataset *)ctx)->meta[i].speed; }
static const char *get_name(const void *ctx, int64_t i) { return ((const char *const *)ctx)[i]; }

enum { F_HEIGHT, F_WEIGHT, F_CADENCE, F_TRIAL };

/* height_m and weight_kg as float64 (what they were read as, so a float64
 * file exports equal), cadence_spm float32, trial int32. */
static gf_err num_array(gf_array *a, const char *name, const gf_dataset *ds, int field)
{
    static const gf_dtype dt[] = {GF_DT_F64, GF_DT_F64, GF_DT_F32, GF_DT_I32};
    int64_t shape[1] = {ds->n};
    GF_TRY(gf_array_alloc(a, name, dt[field], 0, 1, shape));
    for (int64_t i = 0; i < ds->n; i++) {
        const gf_cycle_meta *m = &ds->meta[i];
        if (field == F_HEIGHT) ((double *)a->data)[i] = m->height_m;
        else if (field == F_WEIGHT) ((double *)a->data)[i] = m->weight_kg;
        else if (field == F_CADENCE) ((float *)a->data)[i] = m->cadence_spm;
        else ((int32_t *)a->data)[i] = m->trial;
    }
    return GF_OK;
}

static gf_err build_arrays(const char *path, const gf_dataset *ds, gf_task task, gf_array *w)
{
    int d = gf_task_dim(task);
    /* X and Y alias the dataset's buffers (already float32 C order); not freed. */
    snprintf(w[W_X].name, sizeof w[W_X].name, "X");
    w[W_X].dtype = GF_DT_F32; w[W_X].itemsize = 4; w[W_X].ndim = 3;
    w[W_X].shape[0] = ds->n; w[W_X].shape[1] = GF_T; w[W_X].shape[2] = GF_DIN;
    w[W_X].count = ds->n * GF_T * GF_DIN;
    w[W_X].data = ds->x;
    w[W_Y] = w[W_X];
    snprintf(w[W_Y].name, sizeof w[W_Y].name, "Y");
    w[W_Y].shape[2] = d;
    w[W_Y].count = ds->n * GF_T * d;
    w[W_Y].data = task == GF_TASK_FORCES ? ds->yf : ds->ym;
    GF_TRY(str_array(path, &w[W_SUBJ], "subject_id", ds->n, get_subject, ds));
    GF_TRY(num_array(&w[W_HEIGHT], "height_m", ds, F_HEIGHT));
    GF_TRY(num_array(&w[W_WEIGHT], "weight_kg", ds, F_WEIGHT));
    GF_TRY(str_array(path, &w[W_SPEED], "speed_label", ds->n, get_speed, ds));
    GF_TRY(str_array(path, &w[W_IN], "in_cols", GF_DIN, get_name, gf_in_cols));
    GF_TRY(str_array(path, &w[W_OUT], "out_cols", d, get_name, gf_task_cols(task)));
    GF_TRY(num_array(&w[W_CAD], "cadence_spm", ds, F_CADENCE));
    GF_TRY(num_array(&w[W_TRIAL], "trial", ds, F_TRIAL));
    return GF_OK;
}

gf_err gf_g2h_write(const char *path, const gf_dataset *ds, gf_task task)
{
    GF_TRY(check_dataset(path, ds, task));
    gf_array w[W_COUNT];
    memset(w, 0, sizeof w);
    gf_err e = build_arrays(path, ds, task, w);
    if (e == GF_OK) e = gf_npz_write(path, w, W_COUNT, 1);
    for (int k = W_SUBJ; k < W_COUNT; k++) gf_array_free(&w[k]);
    return e;
}

/* safetensors checkpoints. The oracle (tests/py/safetensors_ref.py under
 * Debian's python3) parses what C writes from the specification with struct,
 * json and numpy, loads it into torch modules with load_state_dict(strict=True),
 * and writes files by hand for C to read. Malformed files are built here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rng.h"
#include "model/arena.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "sites/npz.h"
#include "tests/unit/testutil.h"

static int run_ref(const char *args)
{
    return tu_sh("%s %s/tests/py/safetensors_ref.py %s", tu_python(), tu_root(), args);
}

/* The layout of a small reference module (Linear 5->7, LSTM 7->4, Linear 4->3). */
static void make_arena(gf_arena *a, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    static const struct { const char *name; int ndim; int64_t shape[2]; } T[] = {
        {"input_proj.weight", 2, {7, 5}}, {"input_proj.bias", 1, {7}},
        {"lstm.weight_ih_l0", 2, {16, 7}}, {"lstm.weight_hh_l0", 2, {16, 4}},
        {"lstm.bias_ih_l0", 1, {16}}, {"lstm.bias_hh_l0", 1, {16}},
        {"fc.weight", 2, {3, 4}}, {"fc.bias", 1, {3}},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        cr_assert_eq(gf_arena_add(a, T[i].name, T[i].ndim, T[i].shape, NULL), GF_OK);
    cr_assert_eq(gf_arena_commit(a), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, seed);
    for (int k = 0; k < a->n; k++)
        for (size_t i = 0; i < a->t[k].numel; i++) gf_arena_ptr(a, k)[i] = (float)gf_rng_normal(&r);
}

static void add_f32(gf_array *arr, int *na, const char *name, int ndim, const int64_t *shape, const float *x)
{
    gf_array *a = &arr[(*na)++];
    cr_assert_eq(gf_array_alloc(a, name, GF_DT_F32, 4, ndim, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a->data, x, (size_t)a->count * 4);
}

Test(safetensors, c_writes_python_reads_and_loads_state_dict)
{
    const char *dir = tu_dir();
    gf_arena a;
    make_arena(&a, 11);
    float mean[10], sd[10];
    for (int i = 0; i < 10; i++) { mean[i] = (float)(i * 3.5 - 7); sd[i] = (float)(1.0 + i / 8.0); }
    gf_st_tensor ex[2] = {{.name = "x_mean", .ndim = 1, .shape = {10}, .data = mean},
                          {.name = "x_std", .ndim = 1, .shape = {10}, .data = sd}};
    json_t *meta = json_pack("{s:s, s:s, s:s}", "kind", "lstm", "out_cols", "[\"hip_flexion_r_moment\"]", "unit", "N\xc2\xb7m/kg");
    char *st = tu_path(dir, "m.safetensors"), *exp = tu_path(dir, "expect.npz"), *mj = tu_path(dir, "meta.json");
    cr_assert_eq(gf_safetensors_write(st, &a, ex, 2, meta), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(json_dump_file(meta, mj, 0), 0);

    gf_array arr[16];
    int na = 0;
    for (int k = 0; k < a.n; k++) add_f32(arr, &na, a.t[k].name, a.t[k].ndim, a.t[k].shape, gf_arena_ptr(&a, k));
    add_f32(arr, &na, "x_mean", 1, (int64_t[]){10}, mean);
    add_f32(arr, &na, "x_std", 1, (int64_t[]){10}, sd);
    cr_assert_eq(gf_npz_write(exp, arr, na, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < na; i++) gf_array_free(&arr[i]);
    char args[2048];
    snprintf(args, sizeof args, "check %s %s %s", st, exp, mj);
    cr_assert_eq(run_ref(args), 0, "python oracle rejected the C file");

    /* And C reads its own file back into a fresh arena, bit for bit. */
    gf_safetensors s;
    cr_assert_eq(gf_safetensors_read(st, &s), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(s.n, a.n + 2);
    cr_assert_str_eq(gf_safetensors_meta(&s, "kind"), "lstm");
    cr_assert_str_eq(gf_safetensors_meta(&s, "unit"), "N\xc2\xb7m/kg");
    gf_arena b;
    make_arena(&b, 12);
    cr_assert_eq(gf_safetensors_load_into(&b, &s, st), GF_OK, "%s", gf_errmsg());
    for (int k = 0; k < a.n; k++)
        cr_assert(!memcmp(gf_arena_ptr(&a, k), gf_arena_ptr(&b, k), a.t[k].numel * 4), "%s differs", a.t[k].name);
    cr_assert(!memcmp(gf_safetensors_get(&s, "x_std")->data, sd, sizeof sd));
    gf_safetensors_free(&s);
    gf_arena_free(&b);

    /* A python-side mismatch is detected: the oracle must fail on a wrong value. */
    gf_arena_ptr(&a, 0)[3] += 1.0f;
    cr_assert_eq(gf_safetensors_write(st, &a, ex, 2, meta), GF_OK, "%s", gf_errmsg());
    cr_assert_neq(run_ref(args), 0, "python oracle accepted a wrong value");
    json_decref(meta);
    gf_arena_free(&a);
    free(st); free(exp); free(mj);
}

Test(safetensors, python_writes_c_reads)
{
    const char *dir = tu_dir();
    char *st = tu_path(dir, "py.safetensors"), *exp = tu_path(dir, "expect.npz");
    char args[2048];
    snprintf(args, sizeof args, "write %s %s", st, exp);
    cr_assert_eq(run_ref(args), 0);
    gf_safetensors s;
    cr_assert_eq(gf_safetensors_read(st, &s), GF_OK, "%s", gf_errmsg());
    gf_npz z;
    cr_assert_eq(gf_npz_read(exp, &z), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(s.n, z.n);
    for (int i = 0; i < z.n; i++) {
        const gf_array *e = &z.arrays[i];
        const gf_st_tensor *t = gf_safetensors_get(&s, e->name);
        cr_assert_not_null(t, "%s missing", e->name);
        cr_assert_eq(t->ndim, e->ndim, "%s", e->name);
        for (int d = 0; d < e->ndim; d++) cr_assert_eq(t->shape[d], e->shape[d]);
        cr_assert_eq((int64_t)t->numel, e->count);
        if (e->count) cr_assert(!memcmp(t->data, e->data, (size_t)e->count * 4), "%s values differ", e->name);
    }
    /* Header order (sorted by name) is kept. */
    cr_assert_str_eq(s.t[0].name, "a.scalar");
    cr_assert_eq(s.t[0].ndim, 0);
    cr_assert_eq(s.t[0].data[0], 2.5f);
    const gf_st_tensor *w = gf_safetensors_get(&s, "fc.weight");
    cr_assert(w->data[0] > 0 && w->data[0] < 1e-38f, "subnormal lost");
    cr_assert(signbit(w->data[1]) && w->data[1] == 0.0f, "-0 lost");
    cr_assert_str_eq(gf_safetensors_meta(&s, "kind"), "lstm");
    cr_assert_str_eq(gf_safetensors_meta(&s, "unit"), "N\xc2\xb7m/kg");
    cr_assert_null(gf_safetensors_meta(&s, "nope"));

    /* Strict loading: this file lacks most of the reference module. */
    gf_arena a;
    make_arena(&a, 3);
    float *before = malloc(a.size * 4);
    cr_assert_not_null(before);
    memcpy(before, a.data, a.size * 4);
    gf_errclear();
    cr_assert_eq(gf_safetensors_load_into(&a, &s, st), GF_ENOTFOUND);
    cr_assert(strstr(gf_errmsg(), st) && strstr(gf_errmsg(), "input_proj.weight"), "%s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), "unexpected") && strstr(gf_errmsg(), "conv.weight"), "%s", gf_errmsg());
    cr_assert(!strstr(gf_errmsg(), "x_mean"), "x_mean is allowed: %s", gf_errmsg());
    cr_assert(!memcmp(before, a.data, a.size * 4), "arena changed by a refused load");
    free(before);
    gf_arena_free(&a);
    gf_npz_free(&z);
    gf_safetensors_free(&s);
    free(st); free(exp);
}

/* ---- strict load_state_dict semantics ---- */

static void write_tensors(const char *path, const gf_arena *a, const gf_st_tensor *ex, int nex)
{
    cr_assert_eq(gf_safetensors_write(path, a, ex, nex, NULL), GF_OK, "%s", gf_errmsg());
}

Test(safetensors, load_into_is_strict)
{
    const char *dir = tu_dir();
    char *p = tu_path(dir, "s.safetensors");
    gf_arena a, b;
    make_arena(&a, 1);
    make_arena(&b, 2);
    float *b0 = malloc(b.size * 4);
    cr_assert_not_null(b0);
    memcpy(b0, b.data, b.size * 4);
    gf_safetensors s;

    /* Extra tensor not in the model. */
    float one = 1;
    gf_st_tensor extra = {.name = "encoder.extra", .ndim = 1, .shape = {1}, .data = &one};
    write_tensors(p, &a, &extra, 1);
    cr_assert_eq(gf_safetensors_read(p, &s), GF_OK);
    cr_assert_eq(gf_safetensors_load_into(&b, &s, p), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "unexpected") && strstr(gf_errmsg(), "encoder.extra") && strstr(gf_errmsg(), p), "%s", gf_errmsg());
    cr_assert(!memcmp(b0, b.data, b.size * 4));
    gf_safetensors_free(&s);

    /* Shape mismatch: a model with fc 4->2 instead of 4->3. */
    gf_arena c;
    memset(&c, 0, sizeof c);
    for (int k = 0; k < a.n; k++) {
        int64_t sh[2] = {a.t[k].shape[0], a.t[k].shape[1]};
        if (!strncmp(a.t[k].name, "fc.", 3)) sh[0] = 2;
        cr_assert_eq(gf_arena_add(&c, a.t[k].name, a.t[k].ndim, sh, NULL), GF_OK);
    }
    cr_assert_eq(gf_arena_commit(&c), GF_OK);
    write_tensors(p, &a, NULL, 0);
    cr_assert_eq(gf_safetensors_read(p, &s), GF_OK);
    cr_assert_eq(gf_safetensors_load_into(&c, &s, p), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "fc.weight has shape [3, 4], the model expects [2, 4]"), "%s", gf_errmsg());
    gf_arena_free(&c);

    /* Same layout, x_mean/x_std tolerated: loads exactly. */
    float mu[10] = {0}, sd[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    gf_st_tensor ex[2] = {{.name = "x_mean", .ndim = 1, .shape = {10}, .data = mu}, {.name = "x_std", .ndim = 1, .shape = {10}, .data = sd}};
    gf_safetensors_free(&s);
    write_tensors(p, &a, ex, 2);
    cr_assert_eq(gf_safetensors_read(p, &s), GF_OK);
    cr_assert_eq(gf_safetensors_load_into(&b, &s, p), GF_OK, "%s", gf_errmsg());
    cr_assert(!memcmp(a.data, b.data, a.size * 4));
    /* A NaN inside the file is refused at load and the arena kept. */
    memcpy(b.data, b0, b.size * 4);
    gf_safetensors_get(&s, "lstm.bias_hh_l0")->data[2] = NAN;
    cr_assert_eq(gf_safetensors_load_into(&b, &s, p), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "lstm.bias_hh_l0"), "%s", gf_errmsg());
    cr_assert(!memcmp(b0, b.data, b.size * 4));
    gf_safetensors_free(&s);

    /* The writer refuses non-finite values and duplicate names. */
    gf_arena_ptr(&a, 1)[0] = INFINITY;
    cr_assert_eq(gf_safetensors_write(p, &a, NULL, 0, NULL), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "input_proj.bias"), "%s", gf_errmsg());
    gf_arena_ptr(&a, 1)[0] = 0;
    gf_st_tensor dup = {.name = "fc.bias", .ndim = 1, .shape = {1}, .data = &one};
    cr_assert_eq(gf_safetensors_write(p, &a, &dup, 1, NULL), GF_EINVAL);
    json_t *bad_meta = json_pack("{s:i}", "epochs", 3);
    cr_assert_eq(gf_safetensors_write(p, &a, NULL, 0, bad_meta), GF_EINVAL);
    json_decref(bad_meta);
    free(b0);
    gf_arena_free(&a);
    gf_arena_free(&b);
    free(p);
}

Test(safetensors, model_save_load_with_norm)
{
    const char *dir = tu_dir();
    char *p = tu_path(dir, "model.safetensors");
    gf_model m, m2;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);
    m.cfg = gf_model_config_default(GF_ARCH_LSTM, 5, 3);
    m2.cfg = m.cfg;
    make_arena(&m.params, 8);
    make_arena(&m2.params, 9);
    m.has_norm = 1;
    for (int i = 0; i < 5; i++) { m.x_mean[i] = (float)i - 2; m.x_std[i] = 0.5f + (float)i; }
    json_t *meta = json_pack("{s:s}", "kind", "lstm");
    cr_assert_eq(gf_safetensors_save_model(p, &m, meta), GF_OK, "%s", gf_errmsg());
    json_t *got = NULL;
    cr_assert_eq(gf_safetensors_load_model(p, &m2, &got), GF_OK, "%s", gf_errmsg());
    cr_assert(m2.has_norm);
    cr_assert(!memcmp(m.x_mean, m2.x_mean, 5 * 4) && !memcmp(m.x_std, m2.x_std, 5 * 4));
    cr_assert(!memcmp(m.params.data, m2.params.data, m.params.size * 4));
    cr_assert_str_eq(json_string_value(json_object_get(got, "kind")), "lstm");
    json_decref(got);
    /* x_std <= 0 is refused. */
    m.x_std[2] = 0;
    cr_assert_eq(gf_safetensors_save_model(p, &m, meta), GF_OK);
    cr_assert_eq(gf_safetensors_load_model(p, &m2, NULL), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "x_std[2]"), "%s", gf_errmsg());
    /* Wrong channel count. */
    m2.cfg.d_in = 6;
    m.x_std[2] = 1;
    cr_assert_eq(gf_safetensors_save_model(p, &m, meta), GF_OK);
    cr_assert_eq(gf_safetensors_load_model(p, &m2, NULL), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "x_mean must have shape [6]"), "%s", gf_errmsg());
    json_decref(meta);
    gf_arena_free(&m.params);
    gf_arena_free(&m2.params);
    free(p);
}

/* ---- malformed files ---- */

/* 8-byte length + header (as given, unpadded) + ndata bytes of data. */
static void write_raw(const char *path, const char *header, size_t ndata, long long claimed_len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    unsigned long long n = claimed_len >= 0 ? (unsigned long long)claimed_len : strlen(header);
    for (int b = 0; b < 8; b++) fputc((int)((n >> (8 * b)) & 0xff), f);
    fputs(header, f);
    for (size_t i = 0; i < ndata; i++) fputc((int)(i * 7 + 1), f);
    fclose(f);
}

static void refused(const char *dir, const char *label, const char *header, size_t ndata, long long claimed,
                    gf_err want, const char *needle)
{
    char name[128];
    snprintf(name, sizeof name, "%s.safetensors", label);
    char *p = tu_path(dir, name);
    write_raw(p, header, ndata, claimed);
    gf_safetensors s;
    gf_errclear();
    gf_err e = gf_safetensors_read(p, &s);
    cr_assert_eq(e, want, "%s: got %s (%s), want %s", label, gf_strerror(e), gf_errmsg(), gf_strerror(want));
    cr_assert(strstr(gf_errmsg(), p), "%s: message does not name the file: %s", label, gf_errmsg());
    cr_assert(strstr(gf_errmsg(), needle), "%s: message lacks '%s': %s", label, needle, gf_errmsg());
    cr_assert_eq(s.n, 0);
    cr_assert_null(s.t);
    free(p);
}

#define E1(b, e) "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #b "," #e "]}"

Test(safetensors, malformed_refused)
{
    const char *dir = tu_dir();
    /* The valid baseline parses. */
    char *ok = tu_path(dir, "ok.safetensors");
    write_raw(ok, E1(0, 8) ",\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}", 12, -1);
    gf_safetensors s;
    cr_assert_eq(gf_safetensors_read(ok, &s), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(s.n, 2);
    gf_safetensors_free(&s);
    free(ok);

    refused(dir, "empty", "", 0, 0, GF_EFORMAT, "header does not start");
    {   /* fewer than 8 bytes */
        char *p = tu_path(dir, "tiny.safetensors");
        FILE *f = fopen(p, "wb");
        cr_assert_not_null(f);
        fputs("\x10\0\0", f);
        fclose(f);
        cr_assert_eq(gf_safetensors_read(p, &s), GF_EFORMAT);
        cr_assert(strstr(gf_errmsg(), p) && strstr(gf_errmsg(), "truncated"), "%s", gf_errmsg());
        free(p);
    }
    refused(dir, "truncated_data", E1(0, 8) "}", 5, -1, GF_EFORMAT, "outside the 5 data bytes");
    refused(dir, "header_beyond_file", E1(0, 8) "}", 8, 4096, GF_EFORMAT, "beyond the end");
    refused(dir, "header_too_big", E1(0, 8) "}", 8, (long long)GF_ST_MAX_HEADER + 8, GF_ERANGE, "exceeds");
    refused(dir, "overlap", E1(0, 8) ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1, GF_EFORMAT, "overlaps");
    refused(dir, "gap", E1(0, 8) ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, -1, GF_EFORMAT, "unused data bytes");
    refused(dir, "trailing", E1(0, 8) "}", 12, -1, GF_EFORMAT, "after the last tensor");
    refused(dir, "dtype_f64", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -1, GF_EUNSUPPORTED, "F64 not supported");
    refused(dir, "dtype_bogus", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, GF_EFORMAT, "unknown dtype");
    refused(dir, "bad_json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],}", 8, -1, GF_EFORMAT, "not valid JSON");
    refused(dir, "not_object", "[1,2]   ", 0, -1, GF_EFORMAT, "does not start");
    refused(dir, "huge_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,4]}}", 4, -1, GF_ERANGE, "elements");
    refused(dir, "huge_dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999],\"data_offsets\":[0,4]}}", 4, -1, GF_ERANGE, "too large");
    refused(dir, "five_dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, -1, GF_ERANGE, "5 dimensions");
    refused(dir, "shape_vs_bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1, GF_EFORMAT, "expected 12");
    refused(dir, "negative_dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, -1, GF_EFORMAT, "non-negative");
    refused(dir, "real_offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, -1, GF_EFORMAT, "data_offsets");
    refused(dir, "duplicate", E1(0, 8) "," "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, -1, GF_EFORMAT, "duplicate");
    refused(dir, "unknown_field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, -1, GF_EFORMAT, "unknown field");
    refused(dir, "meta_not_string", E1(0, 8) ",\"__metadata__\":{\"epochs\":3}}", 8, -1, GF_EFORMAT, "not a string");
    refused(dir, "empty_name", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, GF_EFORMAT, "tensor name");
    char longname[300];
    snprintf(longname, sizeof longname, "{\"%096d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0);
    refused(dir, "long_name", longname, 4, -1, GF_EFORMAT, "longer than 95");
    refused(dir, "missing_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, -1, GF_EFORMAT, "data_offsets");

    /* More than 4096 tensors (empty ones, so the file stays small). */
    size_t cap = 5000 * 64;
    char *many = malloc(cap);
    cr_assert_not_null(many);
    size_t o = (size_t)snprintf(many, cap, "{");
    for (int i = 0; i < 4097; i++)
        o += (size_t)snprintf(many + o, cap - o, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "", i);
    snprintf(many + o, cap - o, "}");
    refused(dir, "too_many", many, 0, -1, GF_ERANGE, "4097 tensors");
    free(many);
}

/* The in-memory encoding (what the coordinator serves) is byte for byte the file. */
Test(safetensors, encode_equals_file)
{
    gf_model_config cfg = gf_model_config_default(GF_ARCH_LSTM, 10, 3);
    cfg.d_model = 8;
    gf_model *m = NULL;
    cr_assert_eq(gf_model_create(&cfg, &m), GF_OK);
    cr_assert_eq(gf_model_init(m, 3), GF_OK);
    json_t *meta = json_pack("{s:s}", "kind", "lstm");
    char *path = tu_path(tu_dir(), "m.safetensors");
    cr_assert_eq(gf_safetensors_write(path, &m->params, NULL, 0, meta), GF_OK, "%s", gf_errmsg());
    unsigned char *file = NULL, *mem = NULL;
    size_t flen = 0, mlen = 0;
    cr_assert_eq(gf_read_file(path, 1 << 24, &file, &flen), GF_OK);
    cr_assert_eq(gf_safetensors_encode("model", &m->params, NULL, 0, meta, &mem, &mlen), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(mlen, flen);
    cr_assert_arr_eq(mem, file, flen);
    gf_safetensors st;
    cr_assert_eq(gf_safetensors_parse("model", mem, mlen, &st), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(st.n, m->params.n);
    gf_safetensors_free(&st);
    /* A non-finite parameter is refused in memory as in a file. */
    m->params.data[0] = NAN;
    free(mem);
    cr_assert_eq(gf_safetensors_encode("model", &m->params, NULL, 0, meta, &mem, &mlen), GF_ENUMERIC);
    cr_assert_null(mem);
    free(file);
    free(path);
    json_decref(meta);
    gf_model_free(m);
}

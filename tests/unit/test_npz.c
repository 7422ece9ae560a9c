/* .npy/.npz/Gait2Hip tests. The oracle is Debian's numpy (tu_python()):
 * it writes files the C side must read value-for-value, and loads what the C
 * side writes (allow_pickle=False), exiting non-zero on any mismatch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sites/dataset.h"
#include "sites/npz.h"
#include "tests/unit/testutil.h"

/* Shared by every script: argv[1] is the test's directory (also the cwd). */
static const char py_prelude[] =
    "import sys, os, io, zipfile, struct\n"
    "import numpy as np\n"
    "os.chdir(sys.argv[1])\n"
    "def check(c, m):\n"
    "    if not c:\n"
    "        print('MISMATCH:', m); sys.exit(1)\n"
    "IN = ['hip_flexion_r','hip_adduction_r','hip_rotation_r','hip_flexion_l','hip_adduction_l',\n"
    "      'hip_rotation_l','knee_angle_r','ankle_angle_r','knee_angle_l','ankle_angle_l']\n"
    "FO = ['addbrev_r','addlong_r','addmag_r','grac_r','iliopsoas_r','recfem_r','sart_r','glmax_r',\n"
    "      'bflh_r','hamstring_r','glmed_r','glmin_r','tfl_r','piri_r']\n"
    "MO = ['hip_flexion_r_moment','hip_adduction_r_moment','hip_rotation_r_moment']\n"
    /* Value of cycle i, sample t, canonical channel k: exact in float32. */
    "def val(i, t, k): return i * 10000 + t * 16 + k\n"
    "def grid(n, cols, canon, sign=1.0, dt='f8'):\n"
    "    a = np.zeros((n, 180, len(cols)), dt)\n"
    "    for j, c in enumerate(cols):\n"
    "        k = canon.index(c)\n"
    "        a[:, :, j] = sign * (np.arange(n)[:, None] * 10000 + np.arange(180)[None, :] * 16 + k)\n"
    "    return a\n"
    "def g2h(n=2, task='forces'):\n"
    "    oc = FO if task == 'forces' else MO\n"
    "    return dict(X=grid(n, IN, IN), Y=grid(n, oc, oc), subject_id=np.array(['H%02d' % (i + 1) for i in range(n)]),\n"
    "                height_m=np.full(n, 1.75), weight_kg=np.full(n, 70.0), speed_label=np.array(['med'] * n),\n"
    "                in_cols=np.array(IN), out_cols=np.array(oc))\n"
    "def member(z, name, arr=None, raw=None, version=None):\n"
    "    if raw is None:\n"
    "        b = io.BytesIO(); np.lib.format.write_array(b, arr, version=version, allow_pickle=True); raw = b.getvalue()\n"
    "    z.writestr(name + '.npy', raw)\n"
    "    return raw\n";

static int py(const char *dir, const char *code)
{
    static int seq;
    char path[512];
    snprintf(path, sizeof path, "%s/script%d.py", dir, seq++);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(py_prelude, f);
    fputs(code, f);
    fclose(f);
    return tu_sh("%s %s %s", tu_python(), path, dir);
}

static int64_t get_i64(const gf_array *a, int64_t i)
{
    int64_t v;
    memcpy(&v, (const char *)a->data + i * 8, 8);
    return v;
}

static const gf_array *need(const gf_npz *z, const char *key)
{
    const gf_array *a = gf_npz_get(z, key);
    cr_assert_not_null(a, "key %s missing", key);
    return a;
}

/* ---- numpy writes, C reads ---- */

static void check_numeric(const gf_npz *z)
{
    const gf_array *a = need(z, "a");
    cr_assert_eq(a->dtype, GF_DT_F32);
    cr_assert_eq(a->ndim, 3);
    cr_assert(a->shape[0] == 2 && a->shape[1] == 3 && a->shape[2] == 4);
    for (int i = 0; i < 24; i++) {
        float want = (float)i * 0.1f - 1.0f;
        cr_assert_eq(((float *)a->data)[i], want, "a[%d] = %.9g, want %.9g", i, ((float *)a->data)[i], want);
    }
    const gf_array *b = need(z, "b");
    cr_assert_eq(b->dtype, GF_DT_F64);
    for (int i = 0; i < 6; i++) cr_assert_eq(((double *)b->data)[i], i / 3.0);
    const gf_array *i1 = need(z, "i1"), *u8 = need(z, "u8"), *i8 = need(z, "i8"), *u4 = need(z, "u4");
    cr_assert_eq(i1->dtype, GF_DT_I8);
    cr_assert_eq(gf_array_get_f64(i1, 0), -128);
    cr_assert_eq(gf_array_get_f64(i1, 2), 127);
    cr_assert_eq(i8->dtype, GF_DT_I64);
    cr_assert_eq(get_i64(i8, 0), INT64_MIN);
    cr_assert_eq(get_i64(i8, 2), INT64_MAX);
    cr_assert_eq(u8->dtype, GF_DT_U64);
    cr_assert_eq((uint64_t)get_i64(u8, 1), UINT64_MAX);
    cr_assert_eq(u4->dtype, GF_DT_U32);
    cr_assert_eq(gf_array_get_f64(u4, 1), 4294967295.0);
    cr_assert_eq(gf_array_get_f64(need(z, "i2"), 0), -32768);
    cr_assert_eq(gf_array_get_f64(need(z, "u2"), 1), 65535);
    cr_assert_eq(gf_array_get_f64(need(z, "i4"), 0), -2147483648.0);
    cr_assert_eq(gf_array_get_f64(need(z, "u1"), 1), 255);
    const gf_array *bo = need(z, "bo");
    cr_assert_eq(bo->dtype, GF_DT_BOOL);
    cr_assert(gf_array_get_f64(bo, 0) == 1 && gf_array_get_f64(bo, 1) == 0 && gf_array_get_f64(bo, 2) == 1);
    const gf_array *sc = need(z, "sc");
    cr_assert_eq(sc->ndim, 0);
    cr_assert_eq(sc->count, 1);
    cr_assert_eq(gf_array_get_f64(sc, 0), 2.5);
    const gf_array *em = need(z, "em");
    cr_assert(em->ndim == 2 && em->shape[0] == 0 && em->shape[1] == 3 && em->count == 0);
    cr_assert(isnan(gf_array_get_f64(em, 0)), "out-of-range index gives NAN");
}

Test(npz, numpy_savez_and_savez_compressed_exact_values)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "arrs = dict(a=(np.arange(24, dtype=np.float32) * np.float32(0.1) - np.float32(1)).reshape(2, 3, 4),\n"
                    "  b=(np.arange(6, dtype=np.float64) / 3.0).reshape(3, 2),\n"
                    "  i1=np.array([-128, 0, 127], 'i1'), i2=np.array([-32768, 32767], 'i2'),\n"
                    "  i4=np.array([-2**31, 2**31 - 1], 'i4'), i8=np.array([-2**63, 0, 2**63 - 1], 'i8'),\n"
                    "  u1=np.array([0, 255], 'u1'), u2=np.array([0, 65535], 'u2'), u4=np.array([0, 2**32 - 1], 'u4'),\n"
                    "  u8=np.array([0, 2**64 - 1], 'u8'), bo=np.array([True, False, True]),\n"
                    "  sc=np.float64(2.5), em=np.zeros((0, 3), 'f4'))\n"
                    "np.savez('plain.npz', **arrs)\n"
                    "np.savez_compressed('comp.npz', **arrs)\n"
                    "check(zipfile.ZipFile('comp.npz').infolist()[0].compress_type == zipfile.ZIP_DEFLATED, 'deflated')\n"),
                 0);
    const char *names[] = {"plain.npz", "comp.npz"};
    for (int k = 0; k < 2; k++) {
        char *p = tu_path(d, names[k]);
        gf_npz z;
        cr_assert_eq(gf_npz_read(p, &z), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(z.n, 13);
        check_numeric(&z);
        gf_npz_free(&z);
        free(p);
    }
}

Test(npz, fortran_order_big_endian_and_npy_versions_2_3)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "with zipfile.ZipFile('fmt.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
                    "    r = member(z, 'f', np.asfortranarray(np.arange(24, dtype='<f8').reshape(2, 3, 4)))\n"
                    "    check(b\"'fortran_order': True\" in r, 'fortran header')\n"
                    "    r = member(z, 'fbe', np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)))\n"
                    "    check(b\"'>i4'\" in r and b'True' in r, 'big-endian fortran header')\n"
                    "    member(z, 'bf4', np.arange(5, dtype='>f4') * np.float32(0.5))\n"
                    "    member(z, 'bf8', np.arange(5, dtype='>f8') / 7.0)\n"
                    "    r = member(z, 'v2', np.arange(7, dtype='<i2') - 3, version=(2, 0))\n"
                    "    check(r[6] == 2, 'v2')\n"
                    "    r = member(z, 'v3', np.array(['a\u00e9', 'b']), version=(3, 0))\n"
                    "    check(r[6] == 3, 'v3')\n"),
                 0);
    char *p = tu_path(d, "fmt.npz");
    gf_npz z;
    cr_assert_eq(gf_npz_read(p, &z), GF_OK, "%s", gf_errmsg());
    const gf_array *f = need(&z, "f");
    cr_assert(f->ndim == 3 && f->shape[0] == 2 && f->shape[2] == 4);
    for (int i = 0; i < 24; i++) cr_assert_eq(((double *)f->data)[i], (double)i, "f[%d] in C order", i);
    const gf_array *fbe = need(&z, "fbe");
    cr_assert_eq(fbe->dtype, GF_DT_I32);
    for (int i = 0; i < 6; i++) cr_assert_eq(((int32_t *)fbe->data)[i], i);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(((float *)need(&z, "bf4")->data)[i], (float)i * 0.5f);
        cr_assert_eq(((double *)need(&z, "bf8")->data)[i], i / 7.0);
    }
    for (int i = 0; i < 7; i++) cr_assert_eq(gf_array_get_f64(need(&z, "v2"), i), i - 3);
    char s[16];
    cr_assert_eq(gf_array_get_str(need(&z, "v3"), 0, s, sizeof s), GF_OK);
    cr_assert_str_eq(s, "a\xc3\xa9");
    gf_npz_free(&z);
    free(p);
}

Test(npz, unicode_and_bytes_strings)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "np.savez('s.npz', u=np.array(['H01', 'Zo\u00eb', '\u65e5\u672c\u8a9e', '\U0001F600x', '']),\n"
                    "         ube=np.array(['Zo\u00eb', 'ab'], dtype='>U3'), b=np.array([b'ab', b'c', b'']))\n"),
                 0);
    char *p = tu_path(d, "s.npz");
    gf_npz z;
    cr_assert_eq(gf_npz_read(p, &z), GF_OK, "%s", gf_errmsg());
    const gf_array *u = need(&z, "u"), *ube = need(&z, "ube"), *b = need(&z, "b");
    cr_assert_eq(u->dtype, GF_DT_STR);
    const char *want[] = {"H01", "Zo\xc3\xab", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x80x", ""};
    char s[32];
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(gf_array_get_str(u, i, s, sizeof s), GF_OK, "%s", gf_errmsg());
        cr_assert_str_eq(s, want[i]);
    }
    cr_assert_eq(gf_array_get_str(ube, 0, s, sizeof s), GF_OK);
    cr_assert_str_eq(s, "Zo\xc3\xab");
    cr_assert_eq(b->dtype, GF_DT_BYTES);
    cr_assert_eq(gf_array_get_str(b, 0, s, sizeof s), GF_OK);
    cr_assert_str_eq(s, "ab");
    cr_assert_eq(gf_array_get_str(b, 2, s, sizeof s), GF_OK);
    cr_assert_str_eq(s, "");
    /* 9 UTF-8 bytes do not fit in 9 (needs 10 with the NUL). */
    cr_assert_eq(gf_array_get_str(u, 2, s, 9), GF_ERANGE);
    cr_assert_eq(gf_array_get_str(u, 5, s, sizeof s), GF_EINVAL);
    gf_npz_free(&z);
    free(p);
}

/* ---- C writes, numpy reads ---- */

static void fill_all_dtypes(gf_array *w)
{
    int64_t s3[3] = {2, 3, 4}, s1[1] = {3}, s0[1] = {0}, e2[2] = {0, 3};
    cr_assert_eq(gf_array_alloc(&w[0], "f32", GF_DT_F32, 0, 3, s3), GF_OK);
    for (int i = 0; i < 24; i++) ((float *)w[0].data)[i] = (float)i * 0.25f - 1;
    cr_assert_eq(gf_array_alloc(&w[1], "f64", GF_DT_F64, 0, 1, s1), GF_OK);
    ((double *)w[1].data)[0] = 1e300; ((double *)w[1].data)[1] = -0.0; ((double *)w[1].data)[2] = 1.0 / 3;
    cr_assert_eq(gf_array_alloc(&w[2], "i8", GF_DT_I64, 0, 1, s1), GF_OK);
    ((int64_t *)w[2].data)[0] = INT64_MIN; ((int64_t *)w[2].data)[2] = INT64_MAX;
    cr_assert_eq(gf_array_alloc(&w[3], "u2", GF_DT_U16, 0, 1, s1), GF_OK);
    ((uint16_t *)w[3].data)[1] = 65535;
    cr_assert_eq(gf_array_alloc(&w[4], "bo", GF_DT_BOOL, 0, 1, s1), GF_OK);
    ((uint8_t *)w[4].data)[1] = 1;
    cr_assert_eq(gf_array_alloc(&w[5], "u", GF_DT_STR, 4 * 4, 1, s1), GF_OK);
    cr_assert_eq(gf_array_set_str(&w[5], 0, "Zo\xc3\xab"), GF_OK);
    cr_assert_eq(gf_array_set_str(&w[5], 1, "\xf0\x9f\x98\x80"), GF_OK);
    cr_assert_eq(gf_array_set_str(&w[5], 2, "abcde"), GF_ERANGE, "5 chars do not fit <U4");
    cr_assert_eq(gf_array_alloc(&w[6], "by", GF_DT_BYTES, 3, 1, s1), GF_OK);
    cr_assert_eq(gf_array_set_str(&w[6], 0, "abc"), GF_OK);
    cr_assert_eq(gf_array_alloc(&w[7], "sc", GF_DT_I32, 0, 0, s0), GF_OK);
    ((int32_t *)w[7].data)[0] = -7;
    cr_assert_eq(gf_array_alloc(&w[8], "em", GF_DT_F32, 0, 2, e2), GF_OK);
}

static const char py_check_all_dtypes[] =
    "def verify(fn):\n"
    "    with np.load(fn, allow_pickle=False) as z:\n"
    "        check(sorted(z.files) == sorted(['f32','f64','i8','u2','bo','u','by','sc','em']), z.files)\n"
    "        a = z['f32']; check(a.dtype == np.float32 and a.shape == (2, 3, 4), a.dtype)\n"
    "        check(np.array_equal(a.ravel(), np.arange(24, dtype=np.float32) * np.float32(0.25) - 1), 'f32 values')\n"
    "        b = z['f64']; check(b.dtype == np.float64 and b[0] == 1e300 and b[1] == 0 and np.signbit(b[1]) and b[2] == 1/3, b)\n"
    "        check(z['i8'].dtype == np.int64 and list(z['i8']) == [-2**63, 0, 2**63 - 1], z['i8'])\n"
    "        check(z['u2'].dtype == np.uint16 and list(z['u2']) == [0, 65535, 0], z['u2'])\n"
    "        check(z['bo'].dtype == np.bool_ and list(z['bo']) == [False, True, False], z['bo'])\n"
    "        check(z['u'].dtype == np.dtype('<U4') and list(z['u']) == ['Zo\u00eb', '\U0001F600', ''], z['u'])\n"
    "        check(z['by'].dtype == np.dtype('S3') and list(z['by']) == [b'abc', b'', b''], z['by'])\n"
    "        check(z['sc'].shape == () and z['sc'].dtype == np.int32 and z['sc'] == -7, z['sc'])\n"
    "        check(z['em'].shape == (0, 3) and z['em'].dtype == np.float32, z['em'].shape)\n"
    "verify('store.npz'); verify('defl.npz')\n"
    "check(all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile('store.npz').infolist()), 'stored')\n"
    "check(all(i.compress_type == zipfile.ZIP_DEFLATED for i in zipfile.ZipFile('defl.npz').infolist()), 'deflated')\n"
    "a = np.load('one.npy', allow_pickle=False)\n"
    "check(a.dtype == np.float32 and a.shape == (2, 3, 4) and a[1, 2, 3] == np.float32(23 * 0.25 - 1), 'npy')\n"
    "check(np.load('empty.npz').files == [], 'empty npz')\n";

Test(npz, c_writer_output_loaded_by_numpy_and_deterministic)
{
    const char *d = tu_dir();
    gf_array w[9];
    fill_all_dtypes(w);
    char *ps = tu_path(d, "store.npz"), *pd = tu_path(d, "defl.npz"), *pd2 = tu_path(d, "defl2.npz");
    char *pn = tu_path(d, "one.npy"), *pe = tu_path(d, "empty.npz");
    cr_assert_eq(gf_npz_write(ps, w, 9, 0), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_npz_write(pd, w, 9, 1), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_npz_write(pd2, w, 9, 1), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_npz_write(pe, w, 0, 1), GF_OK, "%s", gf_errmsg());
    unsigned char *nb;
    size_t nl;
    cr_assert_eq(gf_npy_serialize(&w[0], &nb, &nl), GF_OK);
    cr_assert_eq(gf_write_file_atomic(pn, nb, nl), GF_OK);
    free(nb);
    cr_assert_eq(py(d, py_check_all_dtypes), 0, "numpy rejected or mis-read the C output");
    cr_assert_eq(tu_sh("cmp -s %s %s", pd, pd2), 0, "same arrays, same bytes");
    cr_assert_eq(tu_sh("test -z \"$(ls %s | grep tmp)\"", d), 0, "no temporary files left");
    /* And the C reader agrees with the C writer. */
    gf_npz z;
    cr_assert_eq(gf_npz_read(pd, &z), GF_OK, "%s", gf_errmsg());
    for (int k = 0; k < 9; k++) {
        const gf_array *a = need(&z, w[k].name);
        cr_assert_eq(a->dtype, w[k].dtype);
        cr_assert_eq(a->count, w[k].count);
        cr_assert_eq(memcmp(a->data, w[k].data, (size_t)a->count * a->itemsize), 0, "key %s", w[k].name);
    }
    /* Duplicate keys are refused. */
    snprintf(w[1].name, sizeof w[1].name, "f32");
    cr_assert_eq(gf_npz_write(ps, w, 9, 0), GF_EINVAL);
    gf_npz_free(&z);
    for (int k = 0; k < 9; k++) gf_array_free(&w[k]);
    free(ps); free(pd); free(pd2); free(pn); free(pe);
}

/* ---- Gait2Hip layout ---- */

static double val(int64_t i, int t, int k) { return (double)(i * 10000 + t * 16 + k); }

Test(npz, g2h_permuted_columns_round_trip_through_numpy)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "rng = np.random.default_rng(3)\n"
                    "ic = [IN[k] for k in rng.permutation(10)]; oc = [FO[k] for k in rng.permutation(14)]\n"
                    "check(ic != IN and oc != FO, 'permuted')\n"
                    "np.savez_compressed('in.npz', X=grid(3, ic, IN), Y=grid(3, oc, FO, -1.0), in_cols=np.array(ic),\n"
                    "    out_cols=np.array(oc), subject_id=np.array(['H01', 'H02', 'Zo\u00eb']),\n"
                    "    height_m=np.array([1.7, 1.8, 1.65]), weight_kg=np.array([70, 81, 55]),\n"
                    "    speed_label=np.array(['slow', 'med', 'self']), extra=np.zeros(4))\n"),
                 0);
    char *pin = tu_path(d, "in.npz"), *pout = tu_path(d, "out.npz");
    gf_dataset ds;
    int task;
    cr_assert_eq(gf_g2h_read(pin, &ds, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, GF_TASK_FORCES);
    cr_assert_eq(ds.n, 3);
    cr_assert_not_null(ds.yf);
    cr_assert_null(ds.ym);
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < GF_T; t++) {
            for (int k = 0; k < GF_DIN; k++) cr_assert_eq(ds.x[(i * GF_T + t) * GF_DIN + k], (float)val(i, t, k));
            for (int k = 0; k < GF_NF; k++) cr_assert_eq(ds.yf[(i * GF_T + t) * GF_NF + k], (float)-val(i, t, k));
        }
    cr_assert_str_eq(ds.meta[2].subject_id, "Zo\xc3\xab");
    cr_assert_str_eq(ds.meta[2].speed, "self");
    cr_assert_eq(ds.meta[1].height_m, 1.8); /* float64 kept as read */
    cr_assert_eq(ds.meta[1].weight_kg, 81.0);
    /* No 'trial' key: each cycle is its own trial, numbered per (subject, speed). */
    for (int i = 0; i < 3; i++) cr_assert_eq(ds.meta[i].trial, 1);
    cr_assert_eq(gf_g2h_write(pout, &ds, GF_TASK_FORCES), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(py(d,
                    "z = np.load('out.npz', allow_pickle=False)\n"
                    "check(sorted(z.files) == sorted(['X','Y','subject_id','height_m','weight_kg','speed_label',\n"
                    "    'in_cols','out_cols','cadence_spm','trial']), z.files)\n"
                    "check(z['X'].dtype == np.float32 and np.array_equal(z['X'], grid(3, IN, IN, dt='f4')), 'X')\n"
                    "check(z['Y'].dtype == np.float32 and np.array_equal(z['Y'], grid(3, FO, FO, -1.0, 'f4')), 'Y')\n"
                    "check(list(z['in_cols']) == IN and list(z['out_cols']) == FO, 'cols')\n"
                    "check(list(z['subject_id']) == ['H01', 'H02', 'Zo\u00eb'], z['subject_id'])\n"
                    "check(list(z['speed_label']) == ['slow', 'med', 'self'], z['speed_label'])\n"
                    "check(z['height_m'].dtype == np.float64 and np.array_equal(z['height_m'], np.array([1.7, 1.8, 1.65])), 'h')\n"
                    "check(z['weight_kg'].dtype == np.float64 and np.array_equal(z['weight_kg'], [70, 81, 55]), 'w')\n"
                    "check(np.array_equal(z['cadence_spm'], np.zeros(3)) and z['trial'].dtype == np.int32, 'extras')\n"
                    "check(np.array_equal(z['trial'], [1, 1, 1]), z['trial'])\n"),
                 0);
    gf_dataset_free(&ds);
    free(pin); free(pout);
}

Test(npz, g2h_moments_integer_ids_and_extra_keys_round_trip)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "oc = [MO[2], MO[0], MO[1]]\n"
                    "np.savez('m.npz', X=grid(2, IN, IN, dt='f4'), Y=grid(2, oc, MO, dt='f4'), in_cols=np.array(IN),\n"
                    "    out_cols=np.array(oc), subject_id=np.array([7, 123456789012], 'i8'), height_m=np.float32([1.6, 1.9]),\n"
                    "    weight_kg=np.float32([60.5, 90]), speed_label=np.array([b'fast', b'slow']),\n"
                    "    cadence_spm=np.array([135.0, 78.0]), trial=np.array([3, 1], 'i2'))\n"),
                 0);
    char *p = tu_path(d, "m.npz"), *p2 = tu_path(d, "m2.npz");
    gf_dataset ds, ds2;
    int task;
    cr_assert_eq(gf_g2h_read(p, &ds, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, GF_TASK_MOMENTS);
    cr_assert_null(ds.yf);
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < GF_T; t++)
            for (int k = 0; k < GF_NM; k++) cr_assert_eq(ds.ym[(i * GF_T + t) * GF_NM + k], (float)val(i, t, k));
    cr_assert_str_eq(ds.meta[0].subject_id, "7");
    cr_assert_str_eq(ds.meta[1].subject_id, "123456789012");
    cr_assert_str_eq(ds.meta[0].speed, "fast");
    cr_assert_eq(ds.meta[0].cadence_spm, 135.0f);
    cr_assert_eq(ds.meta[0].trial, 3);
    cr_assert_eq(ds.meta[1].weight_kg, 90.0f);
    /* C -> C keeps everything, including cadence_spm and trial. */
    cr_assert_eq(gf_g2h_write(p2, &ds, GF_TASK_MOMENTS), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_g2h_read(p2, &ds2, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, GF_TASK_MOMENTS);
    cr_assert_eq(memcmp(ds.x, ds2.x, sizeof(float) * 2 * GF_T * GF_DIN), 0);
    cr_assert_eq(memcmp(ds.ym, ds2.ym, sizeof(float) * 2 * GF_T * GF_NM), 0);
    cr_assert_eq(memcmp(ds.meta, ds2.meta, 2 * sizeof *ds.meta), 0);
    cr_assert_eq(gf_g2h_write(p2, &ds, GF_TASK_FORCES), GF_EINVAL, "no force targets to write");
    /* Same dataset, same bytes; a NaN is refused and leaves the old file. */
    char *p3 = tu_path(tu_tmpdir(), "m3.npz");
    cr_assert_eq(gf_g2h_write(p3, &ds, GF_TASK_MOMENTS), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(tu_sh("cmp -s %s %s", p2, p3), 0, "deterministic bytes");
    ds.x[5] = NAN;
    cr_assert_eq(gf_g2h_write(p3, &ds, GF_TASK_MOMENTS), GF_ENUMERIC);
    cr_assert_eq(tu_sh("cmp -s %s %s", p2, p3), 0, "old file intact");
    free(p3);
    gf_dataset_free(&ds);
    gf_dataset_free(&ds2);
    free(p); free(p2);
}

Test(npz, g2h_x_only_file_for_predict)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d, "np.savez('x.npz', X=grid(4, IN, IN))\n"), 0);
    char *p = tu_path(d, "x.npz");
    gf_dataset ds;
    int task = 5;
    cr_assert_eq(gf_g2h_read(p, &ds, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, -1);
    cr_assert_eq(ds.n, 4);
    cr_assert(ds.yf == NULL && ds.ym == NULL);
    cr_assert_eq(ds.x[(3 * GF_T + 179) * GF_DIN + 9], (float)val(3, 179, 9));
    cr_assert_str_eq(ds.meta[3].subject_id, "");
    cr_assert_eq(ds.meta[3].weight_kg, 0.0f);
    /* The in-memory entry point gives the same dataset. */
    unsigned char *buf;
    size_t len;
    gf_dataset ds2;
    cr_assert_eq(gf_read_file(p, 1 << 24, &buf, &len), GF_OK);
    cr_assert_eq(gf_g2h_parse("mem", buf, len, &ds2, &task), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(task, -1);
    cr_assert_eq(ds2.n, 4);
    cr_assert_eq(memcmp(ds.x, ds2.x, sizeof(float) * 4 * GF_T * GF_DIN), 0);
    gf_dataset_free(&ds2);
    cr_assert_eq(gf_g2h_parse("mem", buf, len / 2, &ds2, &task), GF_EFORMAT);
    cr_assert(strncmp(gf_errmsg(), "mem: ", 5) == 0, "%s", gf_errmsg());
    free(buf);
    gf_dataset_free(&ds);
    free(p);
}

/* The public Gait2Hip-60 layout (no trial, no cadence_spm): the reader numbers
 * the trials 1, 2, ... per (subject, speed label) in file order, as numpy
 * counts them (tests/py/g2h_public.py), and leaves the cadence unknown (0). */
Test(npz, g2h_public_layout_trials_numbered_in_file_order)
{
    const char *d = tu_dir();
    cr_assert_eq(tu_sh("%s %s/tests/py/g2h_public.py write %s && %s %s/tests/py/g2h_public.py trials %s/mf.npz > %s/want",
                       tu_python(), tu_root(), d, tu_python(), tu_root(), d, d), 0);
    char *p = tu_path(d, "mf.npz"), *w = tu_path(d, "want");
    gf_dataset ds;
    int task;
    cr_assert_eq(gf_g2h_read(p, &ds, &task), GF_OK, "%s", gf_errmsg());
    FILE *f = fopen(w, "r");
    cr_assert_not_null(f);
    int want, n = 0, max = 0;
    while (fscanf(f, "%d", &want) == 1) {
        cr_assert_lt(n, ds.n);
        cr_assert_eq(ds.meta[n].trial, want, "cycle %d (%s %s): trial %d, numpy %d", n, ds.meta[n].subject_id,
                     ds.meta[n].speed, ds.meta[n].trial, want);
        cr_assert_eq(ds.meta[n].cadence_spm, 0.0f);
        if (want > max) max = want;
        n++;
    }
    fclose(f);
    cr_assert_eq(n, ds.n);
    cr_assert_eq(max, 3, "the fixture repeats a (subject, speed) three times");
    gf_dataset_free(&ds);
    free(p);
    free(w);
}

/* The writer names the cycle, the subject and the field it refuses. */
Test(npz, g2h_writer_names_the_wrong_field)
{
    const char *d = tu_dir();
    char *p = tu_path(d, "w.npz");
    gf_dataset ds;
    cr_assert_eq(gf_dataset_alloc(&ds, 2, 0, 1), GF_OK);
    for (int i = 0; i < 2; i++) {
        snprintf(ds.meta[i].subject_id, sizeof ds.meta[i].subject_id, "H0%d", i + 1);
        snprintf(ds.meta[i].speed, sizeof ds.meta[i].speed, "med");
        ds.meta[i].height_m = 1.7, ds.meta[i].weight_kg = 70, ds.meta[i].trial = 1;
    }
    cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_OK, "%s", gf_errmsg()); /* control */
    struct { double *field; double bad; const char *msg; } cases[] = {
        {&ds.meta[1].height_m, 0, "w.npz: cycle 1 (subject H02): height missing"},
        {&ds.meta[1].height_m, 3.5, "cycle 1 (subject H02): height 3.5 m out of range (0, 3]"},
        {&ds.meta[1].weight_kg, 0, "cycle 1 (subject H02): weight missing"},
        {&ds.meta[1].weight_kg, NAN, "cycle 1 (subject H02): weight nan kg out of range (0, 500]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        double keep = *cases[k].field;
        *cases[k].field = cases[k].bad;
        cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_ERANGE, "%s", cases[k].msg);
        cr_assert(strstr(gf_errmsg(), cases[k].msg), "%s", gf_errmsg());
        *cases[k].field = keep;
    }
    ds.meta[0].cadence_spm = -3;
    cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "cycle 0 (subject H01): cadence -3 steps/min out of range [0, 400]"), "%s", gf_errmsg());
    ds.meta[0].cadence_spm = 0;
    ds.meta[0].trial = -1;
    cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "cycle 0 (subject H01): trial -1 is negative"), "%s", gf_errmsg());
    ds.meta[0].trial = 1;
    ds.meta[1].speed[0] = 0;
    cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_EINVAL);
    cr_assert(strstr(gf_errmsg(), "cycle 1 (subject H02): speed label missing"), "%s", gf_errmsg());
    gf_dataset_free(&ds);
    free(p);
}

/* ---- malformed files: each error names the file and the problem ---- */

static const char py_malformed[] =
    "np.savez('good.npz', **g2h(3))\n"
    "raw = open('good.npz', 'rb').read(); open('trunc.npz', 'wb').write(raw[:len(raw) // 2])\n"
    "open('notzip.npz', 'wb').write(b'this is not a zip archive at all, just text\\n' * 4)\n"
    "with zipfile.ZipFile('trunc_npy.npz', 'w') as z:\n"
    "    b = io.BytesIO(); np.lib.format.write_array(b, grid(2, IN, IN)); member(z, 'X', raw=b.getvalue()[:-4])\n"
    "with zipfile.ZipFile('trail_npy.npz', 'w') as z:\n"
    "    b = io.BytesIO(); np.lib.format.write_array(b, grid(2, IN, IN)); member(z, 'X', raw=b.getvalue() + b'\\0' * 8)\n"
    "d = g2h(2); d['X'] = np.full((2, 180, 10), 'a'); np.savez('xstr.npz', **d)\n"
    "d = g2h(2); d['X'] = np.empty((2, 180, 10), object); d['X'][:] = 1.0; np.savez('xobj.npz', **d)\n"
    "d = g2h(3); d['subject_id'] = d['subject_id'][:2]; np.savez('ragged.npz', **d)\n"
    "d = g2h(2); d['X'] = d['X'][:, :100]; np.savez('t100.npz', **d)\n"
    "with zipfile.ZipFile('absurd.npz', 'w') as z:\n"
    "    b = io.BytesIO(); np.lib.format.write_array_header_1_0(b, {'descr': '<f4', 'fortran_order': False,\n"
    "        'shape': (10**12, 180, 10)}); member(z, 'X', raw=b.getvalue() + b'\\0' * 64)\n"
    "d = g2h(2); del d['X']; np.savez('nox.npz', **d)\n"
    "d = g2h(2); d['Y'][1, 5, 2] = np.nan; np.savez('nany.npz', **d)\n"
    "d = g2h(2); d['out_cols'][7] = 'glmax_x'; np.savez('unkout.npz', **d)\n"
    "d = g2h(2); d['in_cols'] = np.array(IN[:9] + ['hip_flex_r']); np.savez('unkin.npz', **d)\n"
    "d = g2h(2); d['in_cols'] = np.array(IN[:9]); d['X'] = d['X'][:, :, :9]; np.savez('missin.npz', **d)\n"
    "d = g2h(2); d['height_m'] = np.array([175.0, 180.0]); np.savez('cm.npz', **d)\n"
    "d = g2h(2); del d['weight_kg']; np.savez('now.npz', **d)\n"
    "d = g2h(2); d['Y'] = d['Y'][:, :, :3]; d['out_cols'] = d['out_cols'][:3]; np.savez('mixcols.npz', **d)\n"
    /* A deflated member of 21.6 MB of zeros (21 KB compressed), declared
     * honestly (for the lowered cap) and declared as 1000 bytes (the lie). */
    "big = np.zeros((3000, 180, 10), np.float32)\n"
    "with zipfile.ZipFile('bomb.npz', 'w', zipfile.ZIP_DEFLATED) as z: member(z, 'X', big)\n"
    "def patch_sizes(src, dst, size):\n"
    "    b = bytearray(open(src, 'rb').read())\n"
    "    lh = b.find(b'PK\\x03\\x04'); struct.pack_into('<I', b, lh + 22, size)\n"
    "    cd = b.find(b'PK\\x01\\x02'); struct.pack_into('<I', b, cd + 24, size)\n"
    "    open(dst, 'wb').write(b)\n"
    "patch_sizes('bomb.npz', 'bomb_lie.npz', 1000)\n"
    "with zipfile.ZipFile('small.npz', 'w', zipfile.ZIP_DEFLATED) as z: member(z, 'X', np.zeros(10))\n"
    "patch_sizes('small.npz', 'ratio_lie.npz', 3 * 2**30)\n";

static void expect_fail(const char *dir, const char *name, gf_err code, const char *needle)
{
    char *p = tu_path(dir, name);
    gf_dataset ds;
    int task;
    gf_err e = gf_g2h_read(p, &ds, &task);
    cr_expect_eq(e, code, "%s: got %s (%s), want %s", name, gf_strerror(e), gf_errmsg(), gf_strerror(code));
    cr_expect(strstr(gf_errmsg(), p) != NULL, "%s: message names the file: %s", name, gf_errmsg());
    cr_expect(strstr(gf_errmsg(), needle) != NULL, "%s: message '%s' lacks '%s'", name, gf_errmsg(), needle);
    cr_expect(ds.x == NULL && ds.meta == NULL, "%s: nothing allocated on failure", name);
    free(p);
}

Test(npz, malformed_files_are_refused_with_named_errors)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d, py_malformed), 0);
    char *good = tu_path(d, "good.npz");
    gf_dataset ds;
    int task;
    cr_assert_eq(gf_g2h_read(good, &ds, &task), GF_OK, "the unmodified file reads: %s", gf_errmsg());
    gf_dataset_free(&ds);
    free(good);
    expect_fail(d, "trunc.npz", GF_EFORMAT, "not a valid npz");
    expect_fail(d, "notzip.npz", GF_EFORMAT, "not a valid npz");
    expect_fail(d, "missing.npz", GF_ENOTFOUND, "No such file");
    expect_fail(d, "trunc_npy.npz", GF_EFORMAT, "key 'X': npy data is 28796 bytes but its shape and dtype need 28800 (truncated)");
    expect_fail(d, "trail_npy.npz", GF_EFORMAT, "(trailing bytes)");
    expect_fail(d, "xstr.npz", GF_EFORMAT, "key 'X' has dtype unicode, expected float32 or float64");
    expect_fail(d, "xobj.npz", GF_EUNSUPPORTED, "key 'X': object arrays (pickle) are not supported");
    expect_fail(d, "ragged.npz", GF_EFORMAT, "key 'subject_id' has 2 entries but X has 3 cycles");
    expect_fail(d, "t100.npz", GF_EFORMAT, "key 'X' has T=100 samples per cycle, expected 180");
    expect_fail(d, "absurd.npz", GF_ERANGE, "key 'X': array of 1800000000000000 elements");
    expect_fail(d, "nox.npz", GF_ENOTFOUND, "key 'X' missing");
    expect_fail(d, "nany.npz", GF_ENUMERIC, "key 'Y': non-finite value nan at index (1, 5, 2)");
    expect_fail(d, "unkout.npz", GF_EFORMAT, "key 'out_cols': unknown column 'glmax_x'");
    expect_fail(d, "unkin.npz", GF_EFORMAT, "key 'in_cols': unknown column 'hip_flex_r'");
    expect_fail(d, "missin.npz", GF_EFORMAT, "key 'in_cols': column 'ankle_angle_l' missing");
    expect_fail(d, "cm.npz", GF_ERANGE, "key 'height_m': value 175 at index 0 outside (0, 3]");
    expect_fail(d, "now.npz", GF_ENOTFOUND, "key 'weight_kg' missing");
    expect_fail(d, "mixcols.npz", GF_EFORMAT, "column 'grac_r' missing");
    expect_fail(d, "bomb_lie.npz", GF_ERANGE, "member 'X.npy' inflates past its declared 1000 bytes");
    expect_fail(d, "ratio_lie.npz", GF_ERANGE, "member 'X.npy' declares an impossible compression ratio");
}

Test(npz, zip_bomb_stopped_at_member_cap)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d,
                    "with zipfile.ZipFile('bomb.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
                    "    member(z, 'X', np.zeros((3000, 180, 10), np.float32))\n"
                    "check(os.path.getsize('bomb.npz') < 100000, 'compresses well')\n"),
                 0);
    char *p = tu_path(d, "bomb.npz");
    unsigned char *buf;
    size_t len;
    cr_assert_eq(gf_read_file(p, 1 << 20, &buf, &len), GF_OK);
    gf_npz z;
    /* The real cap is 4 GiB, impractical to inflate in a test; the same code
     * path runs with a 1 MiB cap here. */
    cr_assert_eq(gf_npz_parse_capped(p, buf, len, 1 << 20, &z), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "member 'X.npy' declares 21600128 bytes, over the 1048576-byte cap"), "%s", gf_errmsg());
    cr_assert(strstr(gf_errmsg(), p), "%s", gf_errmsg());
    cr_assert_eq(z.n, 0);
    cr_assert_eq(gf_npz_parse(p, buf, len, &z), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(need(&z, "X")->count, 3000 * 180 * 10);
    gf_npz_free(&z);
    free(buf);
    free(p);
}

Test(npz, object_array_refused)
{
    const char *d = tu_dir();
    cr_assert_eq(py(d, "np.savez('o.npz', ok=np.zeros(2), o=np.array([{'a': 1}, None], dtype=object))\n"), 0);
    char *p = tu_path(d, "o.npz");
    gf_npz z;
    cr_assert_eq(gf_npz_read(p, &z), GF_EUNSUPPORTED);
    cr_assert(strstr(gf_errmsg(), p) && strstr(gf_errmsg(), "key 'o': object arrays (pickle) are not supported"), "%s",
              gf_errmsg());
    free(p);
}

/* ---- the .npy parser on hand-made headers ---- */

static gf_err npy_from(const char *dict, const void *data, size_t dlen, int version, gf_array *out)
{
    unsigned char buf[1 << 15];
    size_t hl = strlen(dict), pre = version == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + pre, dict, hl);
    memcpy(buf + pre + hl, data, dlen);
    return gf_npy_parse("t.npy", buf, pre + hl + dlen, out);
}

static void expect_npy(const char *dict, const void *data, size_t dlen, gf_err code, const char *needle)
{
    gf_array a;
    gf_err e = npy_from(dict, data, dlen, 1, &a);
    cr_expect_eq(e, code, "%s: got %s (%s)", dict, gf_strerror(e), gf_errmsg());
    if (e == GF_OK) { gf_array_free(&a); return; }
    cr_expect(strstr(gf_errmsg(), "t.npy") && strstr(gf_errmsg(), needle), "%s: '%s' lacks '%s'", dict, gf_errmsg(), needle);
}

Test(npz, npy_header_is_parsed_strictly)
{
    unsigned char z[64] = {0};
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", z, 8, GF_OK, "");
    expect_npy("{\"descr\":'<f4','fortran_order':False,'shape':(2,)}", z, 8, GF_OK, "");
    expect_npy("{'descr': '<f4', 'shape': (2,), }", z, 8, GF_EFORMAT, "lacks 'fortran_order'");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", z, 8, GF_EFORMAT, "unexpected or repeated key 'x'");
    expect_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", z, 8, GF_EFORMAT, "repeated key 'descr'");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", z, 8, GF_EFORMAT, "is not a tuple");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", z, 8, GF_EFORMAT, "non-negative");
    expect_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", z, 8, GF_EFORMAT, "True or False");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", z, 8, GF_EFORMAT, "trailing bytes");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", z, 4, GF_ERANGE, "more than 8 dimensions");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8)}", z, 8, GF_ERANGE, "overflows");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", z, 8, GF_ERANGE, "overflows");
    expect_npy("{'descr': '<c16', 'fortran_order': False, 'shape': (2,)}", z, 32, GF_EUNSUPPORTED, "unsupported dtype '<c16'");
    expect_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}", z, 4, GF_EUNSUPPORTED, "float32/float64");
    expect_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", z, 16, GF_EUNSUPPORTED, "object arrays (pickle)");
    expect_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", z, 8, GF_EUNSUPPORTED, "structured");
    expect_npy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", z, 8, GF_EFORMAT, "lacks a byte order");
    expect_npy("{'descr': '<U0', 'fortran_order': False, 'shape': (2,)}", z, 0, GF_ERANGE, "outside [1, 65536]");
    expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", z, 8, GF_EFORMAT, "(truncated)");
    uint8_t bools[2] = {1, 2};
    expect_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", bools, 2, GF_EFORMAT, "bool value 2 at index 1");
    uint32_t cps[2] = {'a', 0x110000}, sur[1] = {0xD800};
    expect_npy("{'descr': '<U2', 'fortran_order': False, 'shape': (1,)}", cps, 8, GF_EFORMAT, "invalid Unicode code point U+110000");
    expect_npy("{'descr': '<U1', 'fortran_order': False, 'shape': (1,)}", sur, 4, GF_EFORMAT, "U+D800");
    gf_array a;
    unsigned char bad[12] = "\x93NUMPY\x04\x00\x00\x00";
    cr_assert_eq(gf_npy_parse("t.npy", bad, 12, &a), GF_EUNSUPPORTED);
    cr_assert(strstr(gf_errmsg(), "version 4.0"));
    cr_assert_eq(gf_npy_parse("t.npy", (const unsigned char *)"PK\3\4junkjunk", 12, &a), GF_EFORMAT);
    /* A version 2 header longer than the cap is refused before it is read. */
    unsigned char big[12] = "\x93NUMPY\x02\x00\x20\x4e\x00\x00";
    cr_assert_eq(gf_npy_parse("t.npy", big, 12, &a), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "exceeds the 10000-byte cap"), "%s", gf_errmsg());
}

Test(npz, npy_strings_reject_embedded_nul_and_bad_utf8)
{
    gf_array a;
    uint32_t s[3] = {'a', 0, 'b'};
    cr_assert_eq(npy_from("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", s, 12, 1, &a), GF_OK);
    char out[16];
    cr_assert_eq(gf_array_get_str(&a, 0, out, sizeof out), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "embedded NUL"));
    gf_array_free(&a);
    unsigned char b[2] = {0xC3, 0x28};
    cr_assert_eq(npy_from("{'descr': '|S2', 'fortran_order': False, 'shape': (1,)}", b, 2, 1, &a), GF_OK);
    cr_assert_eq(gf_array_get_str(&a, 0, out, sizeof out), GF_EFORMAT);
    cr_assert(strstr(gf_errmsg(), "invalid UTF-8"));
    gf_array_free(&a);
}

Test(npz, npy_serialize_parse_round_trip_every_dtype)
{
    static const gf_dtype dts[] = {GF_DT_F32, GF_DT_F64, GF_DT_I8, GF_DT_I16, GF_DT_I32, GF_DT_I64, GF_DT_U8,
                                   GF_DT_U16, GF_DT_U32, GF_DT_U64, GF_DT_BOOL, GF_DT_STR, GF_DT_BYTES};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        int64_t shape[4] = {2, 1, 3, 2};
        gf_array a, b;
        cr_assert_eq(gf_array_alloc(&a, "a", dts[k], dts[k] == GF_DT_STR ? 12 : 5, 4, shape), GF_OK);
        unsigned char *p = a.data;
        for (size_t i = 0; i < (size_t)a.count * a.itemsize; i++) p[i] = (unsigned char)((i * 37) % 101);
        if (dts[k] == GF_DT_BOOL)
            for (int64_t i = 0; i < a.count; i++) p[i] &= 1;
        if (dts[k] == GF_DT_STR)
            for (size_t i = 0; i < (size_t)a.count * 3; i++) ((uint32_t *)a.data)[i] = 0x41 + (uint32_t)i % 2000;
        unsigned char *buf;
        size_t len;
        cr_assert_eq(gf_npy_serialize(&a, &buf, &len), GF_OK, "%s", gf_errmsg());
        size_t hl = (size_t)buf[8] | (size_t)buf[9] << 8;
        cr_assert_eq((10 + hl) % 64, 0, "data aligned to 64 bytes");
        cr_assert_eq(gf_npy_parse("rt", buf, len, &b), GF_OK, "%s: %s", gf_dtype_name(dts[k]), gf_errmsg());
        cr_assert_eq(b.dtype, a.dtype);
        cr_assert_eq(b.itemsize, a.itemsize);
        cr_assert_eq(b.ndim, 4);
        cr_assert_eq(memcmp(b.shape, a.shape, sizeof a.shape), 0);
        cr_assert_eq(memcmp(a.data, b.data, (size_t)a.count * a.itemsize), 0);
        free(buf);
        gf_array_free(&a);
        gf_array_free(&b);
    }
}

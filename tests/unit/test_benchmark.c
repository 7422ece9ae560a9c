/* The evaluator's benchmark end to end, as a user drives it: a synthetic
 * federation (`gaitfed synth`), a small Transformer trained for one epoch on
 * one site (`gaitfed train`), then on a held-out cohort
 *   `gaitfed eval --curves`  (gf_local_evaluate_full, the evaluator's call) and
 *   `gaitfed predict`        (the model's outputs, written to an NPZ).
 * tests/py/metrics_ref.py --benchmark recomputes with numpy, from predict's
 * predictions and the cohort's targets divided by body mass, every metric
 * (subject_mean, pooled, per_cadence, per_subject, per_channel) and every
 * curve value, and compares key for key with eval's JSON at 1e-6 relative;
 * this test checks the same again in C on the recomputed JSON. Negative
 * controls: one perturbed prediction, and one tampered curve value in eval's
 * JSON, must make the checker fail and name the paths that differ.
 * Cases: forces on a site-store cohort (healthy hold-out, --norm own) and
 * moments on a Gait2Hip NPZ cohort (ONFH patients, --norm model). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "common/fileio.h"
#include "tests/unit/testutil.h"

/* Small Transformer: a second per epoch on one site. */
#define SMALL "--model transformer --d-model 16 --layers 1 --heads 2 --ff 32 --threads 2 --epochs 1 --folds 0 --seed 3"
#define T 180

static const char *const LABELS[] = {"model", "data", "task", "units", "normalization", "architecture", "definitions"};

static json_t *load(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    cr_assert(json_is_object(j), "%s: %s", p, je.text);
    free(p);
    return j;
}

/* 1 if the file holds text s. */
static int file_has(const char *dir, const char *name, const char *s)
{
    char *p = tu_path(dir, name);
    unsigned char *b;
    size_t n;
    gf_err e = gf_read_file(p, 1 << 24, &b, &n);
    free(p);
    if (e) return 0;
    char *t = malloc(n + 1);
    cr_assert_not_null(t);
    memcpy(t, b, n);
    t[n] = 0;
    int r = strstr(t, s) != NULL;
    free(t);
    free(b);
    return r;
}

static int n_leaves;
static double max_rel;

/* a (gaitfed) and b (numpy) agree key for key; numbers to 1e-6 relative. */
static void same_json(const json_t *a, const json_t *b, const char *path)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double rel = fabs(x - y) <= 1e-15 ? 0 : fabs(x - y) / fmax(fabs(y), 1e-300);
        if (rel > max_rel) max_rel = rel;
        n_leaves++;
        cr_assert(rel <= 1e-6, "%s: gaitfed %.12g vs numpy %.12g", path, x, y);
        if (json_is_integer(b)) cr_assert(json_is_integer(a) && x == y, "%s: integer %g vs %g", path, x, y);
        return;
    }
    cr_assert_eq(json_typeof(a), json_typeof(b), "%s: JSON types differ (gaitfed %d, numpy %d)", path, json_typeof(a),
                 json_typeof(b));
    char sub[512];
    if (json_is_null(a)) {
        n_leaves++;
    } else if (json_is_array(a)) {
        cr_assert_eq(json_array_size(a), json_array_size(b), "%s: %zu vs %zu entries", path, json_array_size(a),
                     json_array_size(b));
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            same_json(json_array_get(a, i), json_array_get(b, i), sub);
        }
    } else if (json_is_object(a)) {
        cr_assert_eq(json_object_size(a), json_object_size(b), "%s: %zu vs %zu keys", path, json_object_size(a),
                     json_object_size(b));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            json_t *w = json_object_get(b, k);
            cr_assert_not_null(w, "%s missing in numpy's output", sub);
            same_json(v, w, sub);
        }
    } else {
        cr_assert(json_equal((json_t *)a, (json_t *)b), "%s differs", path);
    }
}

static const json_t *curve(const json_t *ev, const char *ch, const char *key)
{
    const json_t *a = json_object_get(json_object_get(json_object_get(json_object_get(ev, "curves"), "channels"), ch), key);
    cr_assert(json_is_array(a) && json_array_size(a) == T, "curves.channels.%s.%s: not an array of %d", ch, key, T);
    return a;
}

static double at(const json_t *a, int t)
{
    const json_t *v = json_array_get(a, (size_t)t);
    cr_assert(json_is_number(v), "curve value %d is not a number", t);
    return json_number_value(v);
}

/* eval (with and without --curves) and predict on one cohort; the numpy
 * checker must agree. Returns eval's JSON with curves (new reference). */
static json_t *benchmark(const char *d, const char *data, const char *npz, const char *norm, int n_cycles,
                         int n_subjects, int D)
{
    const char *B = tu_bin();
    cr_assert_eq(tu_sh("cd %s && %s eval --model M.safetensors --data %s --norm %s --curves --threads 2 > E.json 2> eval.err",
                       d, B, data, norm), 0, "eval --curves failed (%s/eval.err)", d);
    cr_assert_eq(tu_sh("cd %s && %s eval --model M.safetensors --data %s --norm %s --threads 2 > E0.json 2> eval0.err",
                       d, B, data, norm), 0, "eval failed (%s/eval0.err)", d);
    cr_assert_eq(tu_sh("cd %s && %s predict --model M.safetensors --in %s --out P.npz --norm %s --threads 2 2> predict.err",
                       d, B, npz, norm), 0, "predict failed (%s/predict.err)", d);
    int rc = tu_sh("cd %s && %s %s/tests/py/metrics_ref.py --benchmark E.json %s P.npz R.json 2> check.log", d, tu_python(),
                   tu_root(), npz);
    cr_assert_eq(rc, 0, "the benchmark differs from numpy's recomputation (status %d): %s/check.log", rc, d);

    json_t *ev = load(d, "E.json"), *e0 = load(d, "E0.json"), *num = load(d, "R.json");
    /* Without --curves: the same report, no curves (reports stay small). */
    cr_assert_null(json_object_get(e0, "curves"));
    json_t *stripped = json_deep_copy(ev);
    cr_assert_eq(json_object_del(stripped, "curves"), 0, "eval --curves wrote no curves");
    cr_assert(json_equal(stripped, e0), "eval --curves changed the metrics");
    json_decref(stripped);
    json_decref(e0);

    cr_assert_eq(json_integer_value(json_object_get(ev, "n_cycles")), n_cycles);
    cr_assert_eq(json_integer_value(json_object_get(ev, "n_subjects")), n_subjects);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "normalization")), norm);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(ev, "curves"), "frames")), T);
    cr_assert_eq(json_object_size(json_object_get(json_object_get(ev, "curves"), "channels")), (size_t)D);

    /* Key for key in C as well, on numpy's JSON (labels are not recomputed). */
    json_t *mine = json_deep_copy(ev);
    for (size_t i = 0; i < sizeof LABELS / sizeof *LABELS; i++) json_object_del(mine, LABELS[i]);
    n_leaves = 0;
    max_rel = 0;
    same_json(mine, num, "metrics");
    int n_cad = (int)json_object_size(json_object_get(ev, "per_cadence"));
    cr_assert_geq(n_cad, 1);
    int want = 4 + 3 + 3 + 8 * n_cad + 4 * n_subjects + 5 * D + 1 + 4 * T * D;
    cr_assert_eq(n_leaves, want, "%d values compared, expected %d", n_leaves, want);
    fprintf(stderr, "benchmark: %d values of `gaitfed eval --curves` equal numpy's, max rel error %.3g\n", n_leaves,
            max_rel);
    json_decref(mine);
    json_decref(num);
    return ev;
}

Test(benchmark, store_cohort_forces_equal_numpy)
{
    const char *d = tu_dir(), *B = tu_bin(), *py = tu_python();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 4 > %s/synth.log 2>&1", B, d, d), 0, "synth failed (%s/synth.log)", d);
    cr_assert_eq(tu_sh("cd %s && %s train --data D/sites/optical-lab.db --task forces " SMALL
                       " --out M.safetensors > train.log 2>&1", d, B), 0, "train failed (%s/train.log)", d);
    cr_assert_eq(tu_sh("cd %s && %s export --db D/cohorts/healthy-test.db --npz H.npz --task forces > export.log 2>&1", d, B),
                 0, "export failed (%s/export.log)", d);
    /* The evaluator's form: eval reads the site store, predict its export. */
    json_t *ev = benchmark(d, "D/cohorts/healthy-test.db", "H.npz", "own", 140, 12, 14);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "task")), "forces");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "units")), "N/kg");

    /* Real numbers: muscle forces per kg are >= 0 and well under 100 N/kg (not
     * N: body mass divided out); they vary over the cycle and between
     * subjects; the one-epoch model's mean curve is not the reference. */
    static const char *const CH[] = {"addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r",
                                     "glmax_r", "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r"};
    double peak = 0, lo = INFINITY, max_gap = 0, max_sd = 0;
    for (int j = 0; j < 14; j++) {
        const json_t *rm = curve(ev, CH[j], "ref_mean"), *rs = curve(ev, CH[j], "ref_sd"), *pm = curve(ev, CH[j], "pred_mean"),
                     *ps = curve(ev, CH[j], "pred_sd");
        for (int t = 0; t < T; t++) {
            double m = at(rm, t), s = at(rs, t);
            cr_assert(m >= 0 && m < 100, "%s ref_mean[%d] = %g N/kg", CH[j], t, m);
            cr_assert(s >= 0 && at(ps, t) >= 0, "%s: negative SD at frame %d", CH[j], t);
            peak = fmax(peak, m);
            lo = fmin(lo, m);
            max_sd = fmax(max_sd, s);
            max_gap = fmax(max_gap, fabs(at(pm, t) - m));
        }
    }
    cr_assert(peak > 1 && peak - lo > 1, "reference mean curves flat: %g..%g N/kg", lo, peak);
    cr_assert(max_sd > 0.1, "no spread between cycles (max SD %g)", max_sd);
    cr_assert(max_gap > 0.1, "prediction mean equals the reference (max gap %g)", max_gap);

    /* Negative control 1: one prediction moved by 1 N/kg (cycle 5, frame 40,
     * glmax_r) in predict's output: the checker must fail and say where. */
    cr_assert_eq(tu_sh("cd %s && %s -c \"import numpy as np; z=dict(np.load('P.npz')); y=z['Y'].copy(); "
                       "assert list(z['out_cols']).index('glmax_r') == 7; y[5,40,7] += 1.0; z['Y']=y; np.savez('Pbad.npz', **z)\"",
                       d, py), 0);
    int rc = tu_sh("cd %s && %s %s/tests/py/metrics_ref.py --benchmark E.json H.npz Pbad.npz Rbad.json 2> bad.log", d, py,
                   tu_root());
    cr_assert_eq(rc, 3, "a perturbed prediction passed the numpy comparison (status %d, %s/bad.log)", rc, d);
    cr_assert(file_has(d, "bad.log", "metrics.curves.channels.glmax_r.pred_mean[40]:"), "%s/bad.log", d);
    cr_assert(file_has(d, "bad.log", "metrics.curves.channels.glmax_r.pred_sd[40]:"), "%s/bad.log", d);
    cr_assert(file_has(d, "bad.log", "metrics.per_channel.glmax_r.rmse:"), "%s/bad.log", d);
    cr_assert(!file_has(d, "bad.log", "pred_mean[41]"), "an unperturbed frame differs (%s/bad.log)", d);
    cr_assert(!file_has(d, "bad.log", "ref_mean"), "the references moved (%s/bad.log)", d);

    /* Negative control 2: one reference SD in eval's JSON off by 1e-5
     * relative (above the 1e-6 tolerance). */
    json_t *bad = json_deep_copy(ev);
    json_t *a = (json_t *)json_object_get(json_object_get(json_object_get(json_object_get(bad, "curves"), "channels"),
                                                          "iliopsoas_r"), "ref_sd");
    double v = json_number_value(json_array_get(a, 90));
    cr_assert(v > 0);
    cr_assert_eq(json_array_set_new(a, 90, json_real(v * (1 + 1e-5))), 0);
    char *bp = tu_path(d, "Ebad.json");
    cr_assert_eq(json_dump_file(bad, bp, JSON_INDENT(1)), 0);
    rc = tu_sh("cd %s && %s %s/tests/py/metrics_ref.py --benchmark Ebad.json H.npz P.npz Rbad2.json 2> bad2.log", d, py,
               tu_root());
    cr_assert_eq(rc, 3, "a tampered curve passed the numpy comparison (status %d, %s/bad2.log)", rc, d);
    cr_assert(file_has(d, "bad2.log", "metrics.curves.channels.iliopsoas_r.ref_sd[90]:"), "%s/bad2.log", d);
    cr_assert(file_has(d, "bad2.log", ", 1 differ"), "only the tampered value differs (%s/bad2.log)", d);
    free(bp);
    json_decref(bad);
    json_decref(ev);
    tu_sh("rm -rf %s", d);
}

Test(benchmark, npz_cohort_moments_equal_numpy)
{
    const char *d = tu_dir(), *B = tu_bin();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 5 > %s/synth.log 2>&1", B, d, d), 0, "synth failed (%s/synth.log)", d);
    cr_assert_eq(tu_sh("cd %s && %s train --data D/sites/video-clinic.db --task moments " SMALL
                       " --out M.safetensors > train.log 2>&1", d, B), 0, "train failed (%s/train.log)", d);
    /* Zero-shot on the ONFH patients, normalized with the checkpoint's statistics. */
    json_t *ev = benchmark(d, "D/ONFH_JM9.npz", "D/ONFH_JM9.npz", "model", 28, 9, 3);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "task")), "moments");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "units")), "N·m/kg");
    /* Hip flexion moment per kg: an extension peak in early stance, a flexion
     * peak late, both within ±3 N·m/kg (not N·m). */
    const json_t *rm = curve(ev, "hip_flexion_r_moment", "ref_mean");
    double mn = INFINITY, mx = -INFINITY;
    for (int t = 0; t < T; t++) {
        mn = fmin(mn, at(rm, t));
        mx = fmax(mx, at(rm, t));
    }
    cr_assert(mn < -0.2 && mn > -3 && mx > 0.2 && mx < 3, "hip flexion moment mean %g..%g N·m/kg", mn, mx);
    json_decref(ev);
    tu_sh("rm -rf %s", d);
}

/* Gait2Hip metrics and aggregate curves. tests/py/metrics_ref.py (numpy,
 * Debian's python3) recomputes every number from the same predictions,
 * references, subject ids and cadences; the whole JSON objects (metrics plus
 * "curves") must agree key for key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rng.h"
#include "model/metrics.h"
#include "sites/npz.h"
#include "tests/unit/testutil.h"

static double max_rel;
static int n_compared;

/* Every key of a appears in b and vice versa; numbers agree to 1e-6 relative. */
static void same_json(const json_t *a, const json_t *b, const char *path)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double rel = fabs(x - y) / fmax(fabs(y), 1e-300);
        if (fabs(x - y) <= 1e-15) rel = 0; /* exact zeros (perfect channels) */
        if (rel > max_rel) max_rel = rel;
        n_compared++;
        cr_assert(rel <= 1e-6, "%s: C %.12g vs numpy %.12g", path, x, y);
        if (json_is_integer(b)) cr_assert(json_is_integer(a) && x == y, "%s: integer %g vs %g", path, x, y);
        return;
    }
    cr_assert_eq(json_typeof(a), json_typeof(b), "%s: JSON types differ (C %d, numpy %d)", path, json_typeof(a), json_typeof(b));
    if (json_is_array(a)) {
        cr_assert_eq(json_array_size(a), json_array_size(b), "%s: %zu entries vs %zu", path, json_array_size(a), json_array_size(b));
        for (size_t i = 0; i < json_array_size(a); i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            same_json(json_array_get(a, i), json_array_get(b, i), sub);
        }
    } else if (json_is_object(a)) {
        cr_assert_eq(json_object_size(a), json_object_size(b), "%s: %zu keys vs %zu", path, json_object_size(a), json_object_size(b));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            json_t *w = json_object_get(b, k);
            cr_assert_not_null(w, "%s missing in numpy output", sub);
            same_json(v, w, sub);
        }
    } else if (json_is_string(a)) {
        cr_assert_str_eq(json_string_value(a), json_string_value(b), "%s", path);
    }
}

static void str_array(gf_array *a, const char *name, const char *const *s, int n)
{
    cr_assert_eq(gf_array_alloc(a, name, GF_DT_STR, 4 * 16, 1, (int64_t[]){n}), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < n; i++) cr_assert_eq(gf_array_set_str(a, i, s[i]), GF_OK);
}

#define T 180
#define D 14

Test(metrics, matches_numpy)
{
    const char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    enum { N = 74 };
    static const char *const SUBJ[] = {"S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08", "ONFH_09"};
    static const char *const SPEED[] = {"slow", "med", "fast"};
    const char *sid[N], *spd[N];
    char *cols[D];
    float *pred = malloc(sizeof(float) * N * T * D), *ref = malloc(sizeof(float) * N * T * D);
    cr_assert(pred && ref);
    gf_rng r;
    gf_rng_seed(&r, 2024);
    for (int c = 0; c < N; c++) {
        int s = c % 9;
        sid[c] = SUBJ[s];
        /* Subject 9 walks only at med; two cycles carry an unusual label. */
        spd[c] = s == 8 ? "med" : c == 5 || c == 40 ? "self" : SPEED[(c / 9 + s) % 3];
        double amp = 1 + 0.3 * s, noise = 0.2 + 0.1 * s, bias = 0.05 * (s - 4);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < D; j++) {
                size_t i = ((size_t)c * T + t) * D + j;
                double v = j == D - 1 ? 0.0 /* constant channel: r2, r, nrmse undefined */
                         : amp * (j + 1) * sin(2 * M_PI * t / T + 0.4 * j) + 0.5 * j + 0.3 * gf_rng_normal(&r);
                ref[i] = (float)v;
                pred[i] = (float)(v + noise * gf_rng_normal(&r) + bias);
            }
    }
    for (int j = 0; j < D; j++) {
        cols[j] = malloc(16);
        snprintf(cols[j], 16, "out%02d", j);
    }
    gf_metrics m;
    cr_assert_eq(gf_metrics_compute(&m, pred, ref, N, T, D, sid, spd), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(m.n_subjects, 9);
    cr_assert_eq(m.n_cadences, 4);
    cr_assert_str_eq(m.cadences[0].label, "slow");
    cr_assert_str_eq(m.cadences[3].label, "self");
    cr_assert(isnan(m.channels[D - 1].r2) && isnan(m.channels[D - 1].pearson_r) && isnan(m.channels[D - 1].nrmse));
    json_t *cj = gf_metrics_to_json(&m, (const char *const *)cols);
    cr_assert_not_null(cj);
    cr_assert(json_is_null(json_object_get(json_object_get(json_object_get(cj, "per_channel"), "out13"), "r2")));
    json_t *cv = gf_metrics_curves_json(pred, ref, N, T, D, (const char *const *)cols);
    cr_assert_not_null(cv);
    cr_assert_eq(json_object_set_new(cj, "curves", cv), 0);

    gf_array arr[5];
    cr_assert_eq(gf_array_alloc(&arr[0], "pred", GF_DT_F32, 4, 3, (int64_t[]){N, T, D}), GF_OK);
    cr_assert_eq(gf_array_alloc(&arr[1], "ref", GF_DT_F32, 4, 3, (int64_t[]){N, T, D}), GF_OK);
    memcpy(arr[0].data, pred, sizeof(float) * N * T * D);
    memcpy(arr[1].data, ref, sizeof(float) * N * T * D);
    str_array(&arr[2], "subject_id", sid, N);
    str_array(&arr[3], "speed", spd, N);
    str_array(&arr[4], "cols", (const char *const *)cols, D);
    char *in = gf_path_join(dir, "in.npz"), *out = gf_path_join(dir, "out.json");
    cr_assert_eq(gf_npz_write(in, arr, 5, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < 5; i++) gf_array_free(&arr[i]);
    cr_assert_eq(tu_sh("%s %s/tests/py/metrics_ref.py %s %s --curves", tu_python(), tu_root(), in, out), 0);
    json_error_t je;
    json_t *pj = json_load_file(out, 0, &je);
    cr_assert_not_null(pj, "%s", je.text);
    json_object_del(cj, "definitions");
    max_rel = 0;
    n_compared = 0;
    same_json(cj, pj, "metrics");
    cr_assert_geq(n_compared, 3 + 3 + 4 * 8 + 9 * 4 + 14 * 5 - 3 + 1 + D * 4 * T);
    fprintf(stderr, "metrics: %d numbers vs numpy, max rel error %.3g\n", n_compared, max_rel);

    /* The oracle comparison is sensitive: a perturbed prediction changes numbers. */
    pred[7] += 0.5f;
    gf_metrics m2;
    cr_assert_eq(gf_metrics_compute(&m2, pred, ref, N, T, D, sid, spd), GF_OK);
    cr_assert_str_eq(m2.subjects[1].id, "S01");
    cr_assert_neq(m2.subjects[1].m.rmse, m.subjects[1].m.rmse);
    cr_assert_eq(m2.subjects[2].m.rmse, m.subjects[2].m.rmse);
    gf_metrics_free(&m2);

    json_decref(cj);
    json_decref(pj);
    gf_metrics_free(&m);
    for (int j = 0; j < D; j++) free(cols[j]);
    free(pred); free(ref); free(in); free(out);
}

Test(metrics, hand_checked)
{
    /* One cycle, 2 frames, 1 channel: ref [0, 2]. */
    const char *id[] = {"A"}, *sp[] = {"med"};
    float ref[2] = {0, 2};
    gf_metrics m;
    float p_mean[2] = {1, 1}; /* the reference mean: R^2 = 0 */
    cr_assert_eq(gf_metrics_compute(&m, p_mean, ref, 1, 2, 1, id, sp), GF_OK);
    cr_assert_float_eq(m.subject_mean.rmse, 1.0, 1e-12);
    cr_assert_float_eq(m.subject_mean.mae, 1.0, 1e-12);
    cr_assert_float_eq(m.subject_mean.r2, 0.0, 1e-12);
    cr_assert(isnan(m.channels[0].pearson_r));
    cr_assert_float_eq(m.channels[0].nrmse, 0.5, 1e-12);
    gf_metrics_free(&m);
    float p_half[2] = {0, 1}; /* SS_res 1, SS_tot 2 */
    cr_assert_eq(gf_metrics_compute(&m, p_half, ref, 1, 2, 1, id, sp), GF_OK);
    cr_assert_float_eq(m.pooled.r2, 0.5, 1e-12);
    cr_assert_float_eq(m.pooled.rmse, sqrt(0.5), 1e-12);
    cr_assert_float_eq(m.pooled.mae, 0.5, 1e-12);
    cr_assert_float_eq(m.channels[0].pearson_r, 1.0, 1e-12);
    gf_metrics_free(&m);
}

/* R^2 uses one mean over all channels: two subjects, two channels. A
 * prediction equal to each subject's grand mean gives R^2 = 0 per subject,
 * while the per-channel R^2 (own channel mean, pooled) is negative. */
Test(metrics, perfect_and_grand_mean)
{
    enum { N = 4, TT = 3, DD = 2 };
    const char *id[N] = {"B", "A", "B", "A"}, *sp[N] = {"slow", "fast", "fast", "fast"};
    float ref[N * TT * DD], perf[N * TT * DD], gm[N * TT * DD];
    for (int i = 0; i < N * TT * DD; i++) ref[i] = (float)((i * 37 % 11) + (i % 2) * 20 + (i / (TT * DD) % 2) * 5);
    memcpy(perf, ref, sizeof ref);
    gf_metrics m;
    cr_assert_eq(gf_metrics_compute(&m, perf, ref, N, TT, DD, id, sp), GF_OK);
    cr_assert_eq(m.subject_mean.r2, 1.0);
    cr_assert_eq(m.subject_mean.rmse, 0.0);
    cr_assert_eq(m.subject_mean.mae, 0.0);
    cr_assert_eq(m.pooled.r2, 1.0);
    for (int j = 0; j < DD; j++) {
        cr_assert_eq(m.channels[j].r2, 1.0);
        cr_assert_float_eq(m.channels[j].pearson_r, 1.0, 1e-12);
        cr_assert_eq(m.channels[j].nrmse, 0.0);
    }
    cr_assert_eq(m.n_cadences, 2);
    cr_assert_str_eq(m.cadences[0].label, "slow");
    cr_assert_eq(m.cadences[0].n_subjects, 1);
    cr_assert_eq(m.cadences[1].n_subjects, 2);
    cr_assert_eq(m.cadences[1].n_cycles, 3);
    gf_metrics_free(&m);

    /* Grand mean of each subject over all its cycles, frames and channels. */
    for (int s = 0; s < 2; s++) {
        const char *who = s ? "B" : "A";
        double sum = 0;
        int cnt = 0;
        for (int c = 0; c < N; c++)
            if (!strcmp(id[c], who))
                for (int i = 0; i < TT * DD; i++) { sum += ref[c * TT * DD + i]; cnt++; }
        for (int c = 0; c < N; c++)
            if (!strcmp(id[c], who))
                for (int i = 0; i < TT * DD; i++) gm[c * TT * DD + i] = (float)(sum / cnt);
    }
    cr_assert_eq(gf_metrics_compute(&m, gm, ref, N, TT, DD, id, NULL), GF_OK);
    cr_assert_eq(m.n_cadences, 0);
    cr_assert_str_eq(m.subjects[0].id, "A");
    for (int s = 0; s < 2; s++) cr_assert_float_eq(m.subjects[s].m.r2, 0.0, 1e-6);
    cr_assert_float_eq(m.subject_mean.r2, 0.0, 1e-6);
    cr_assert(m.channels[0].r2 < -0.5, "per-channel R^2 %g uses the channel mean", m.channels[0].r2);
    gf_metrics_free(&m);
}

Test(metrics, refuses_bad_input)
{
    const char *id[] = {"A"}, *sp[] = {"med"};
    float ref[2] = {0, 2}, p[2] = {NAN, 1};
    gf_metrics m;
    cr_assert_eq(gf_metrics_compute(&m, p, ref, 1, 2, 1, id, sp), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "prediction of cycle 0, frame 0"), "%s", gf_errmsg());
    p[0] = 0;
    ref[1] = INFINITY;
    cr_assert_eq(gf_metrics_compute(&m, p, ref, 1, 2, 1, id, sp), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "reference of cycle 0, frame 1"), "%s", gf_errmsg());
    ref[1] = 1;
    const char *empty[] = {""};
    cr_assert_eq(gf_metrics_compute(&m, p, ref, 1, 2, 1, empty, sp), GF_EINVAL);
    cr_assert_eq(gf_metrics_compute(&m, p, ref, 0, 2, 1, id, sp), GF_EINVAL);
}

static double curve_at(const json_t *cv, const char *ch, const char *key, int t)
{
    const json_t *a = json_object_get(json_object_get(json_object_get(cv, "channels"), ch), key);
    cr_assert(json_is_array(a), "curves.channels.%s.%s is not an array", ch, key);
    cr_assert(json_is_number(json_array_get(a, (size_t)t)), "curves.channels.%s.%s[%d] is not a number", ch, key, t);
    return json_number_value(json_array_get(a, (size_t)t));
}

/* Curves by hand: 3 cycles, 2 frames, 2 channels, laid out [cycle][frame][channel];
 * the prediction is twice the reference (means and SDs double). */
Test(metrics, curves_hand_checked)
{
    enum { N = 3, TT = 2, DD = 2 };
    /*                 f0c0 f0c1  f1c0 f1c1 */
    float ref[N * TT * DD] = {1, -1, 5, 0.5f,
                              2, 1, 5, 1.5f,
                              6, 0, 5, 1};
    float pred[N * TT * DD];
    for (int i = 0; i < N * TT * DD; i++) pred[i] = 2 * ref[i];
    const char *names[DD] = {"a", "b"};
    json_t *cv = gf_metrics_curves_json(pred, ref, N, TT, DD, names);
    cr_assert_not_null(cv);
    cr_assert_eq(json_integer_value(json_object_get(cv, "frames")), TT);
    cr_assert_eq(json_object_size(cv), 2);
    cr_assert_eq(json_object_size(json_object_get(cv, "channels")), DD);
    cr_assert_eq(json_object_size(json_object_get(json_object_get(cv, "channels"), "a")), 4);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(json_object_get(cv, "channels"), "b"), "pred_sd")), TT);
    const double mean[DD][TT] = {{3, 5}, {0, 1}}, sd[DD][TT] = {{sqrt(14.0 / 3), 0}, {sqrt(2.0 / 3), sqrt(1.0 / 6)}};
    for (int j = 0; j < DD; j++)
        for (int t = 0; t < TT; t++) {
            cr_assert_float_eq(curve_at(cv, names[j], "ref_mean", t), mean[j][t], 1e-12, "%s ref_mean[%d]", names[j], t);
            cr_assert_float_eq(curve_at(cv, names[j], "ref_sd", t), sd[j][t], 1e-12, "%s ref_sd[%d]", names[j], t);
            cr_assert_float_eq(curve_at(cv, names[j], "pred_mean", t), 2 * mean[j][t], 1e-12, "%s pred_mean[%d]", names[j], t);
            cr_assert_float_eq(curve_at(cv, names[j], "pred_sd", t), 2 * sd[j][t], 1e-12, "%s pred_sd[%d]", names[j], t);
        }
    json_decref(cv);

    /* One cycle: its own values, SD 0; no names: ch0, ch1. */
    cv = gf_metrics_curves_json(pred, ref, 1, TT, DD, NULL);
    cr_assert_not_null(cv);
    cr_assert_eq(curve_at(cv, "ch1", "ref_mean", 1), 0.5);
    cr_assert_eq(curve_at(cv, "ch0", "pred_mean", 0), 2.0);
    cr_assert_eq(curve_at(cv, "ch1", "pred_sd", 0), 0.0);
    json_decref(cv);

    cr_assert_null(gf_metrics_curves_json(pred, ref, 0, TT, DD, NULL));
    cr_assert_null(gf_metrics_curves_json(pred, ref, N, 0, DD, NULL));
    cr_assert_null(gf_metrics_curves_json(NULL, ref, N, TT, DD, NULL));
}

/* Two passes: values 10^6 + {0, 0.5, 1} (exact in float). A one-pass
 * E[x^2] - E[x]^2 loses about 12 of double's 16 digits here; the SD must be
 * sqrt(1/6) to 1e-12. */
Test(metrics, curves_two_pass)
{
    float ref[3] = {1e6f, 1e6f + 0.5f, 1e6f + 1.0f}, pred[3] = {-1e6f, -1e6f - 0.5f, -1e6f - 1.0f};
    json_t *cv = gf_metrics_curves_json(pred, ref, 3, 1, 1, NULL);
    cr_assert_not_null(cv);
    cr_assert_float_eq(curve_at(cv, "ch0", "ref_mean", 0), 1e6 + 0.5, 1e-9);
    cr_assert_float_eq(curve_at(cv, "ch0", "ref_sd", 0) / sqrt(1.0 / 6), 1.0, 1e-12, "%.17g", curve_at(cv, "ch0", "ref_sd", 0));
    cr_assert_float_eq(curve_at(cv, "ch0", "pred_sd", 0) / sqrt(1.0 / 6), 1.0, 1e-12);
    json_decref(cv);
}

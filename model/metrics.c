#include "model/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gf_metrics_free(gf_metrics *m)
{
    if (!m) return;
    free(m->subjects);
    free(m->cadences);
    free(m->channels);
    memset(m, 0, sizeof *m);
}

/* Error statistics over the cycles idx[0..k) (each T*D values). */
static gf_errstats errstats(const float *pred, const float *ref, size_t per, const int *idx, int k)
{
    double n = (double)per * k, sr = 0;
    for (int c = 0; c < k; c++) {
        const float *r = ref + (size_t)idx[c] * per;
        for (size_t i = 0; i < per; i++) sr += r[i];
    }
    double mean = sr / n, ss_res = 0, ss_tot = 0, sa = 0;
    for (int c = 0; c < k; c++) {
        const float *r = ref + (size_t)idx[c] * per, *p = pred + (size_t)idx[c] * per;
        for (size_t i = 0; i < per; i++) {
            double e = (double)p[i] - r[i], d = (double)r[i] - mean;
            ss_res += e * e;
            sa += fabs(e);
            ss_tot += d * d;
        }
    }
    gf_errstats s = {sqrt(ss_res / n), sa / n, ss_tot > 0 ? 1.0 - ss_res / ss_tot : NAN};
    return s;
}

/* Mean over subjects of their statistics; NAN entries skipped per field. */
static gf_errstats mean_stats(const gf_errstats *s, int n)
{
    double a[3] = {0, 0, 0};
    int c[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        double v[3] = {s[i].rmse, s[i].mae, s[i].r2};
        for (int j = 0; j < 3; j++)
            if (!isnan(v[j])) { a[j] += v[j]; c[j]++; }
    }
    gf_errstats m = {c[0] ? a[0] / c[0] : NAN, c[1] ? a[1] / c[1] : NAN, c[2] ? a[2] / c[2] : NAN};
    return m;
}

typedef struct { const char *key; int cycle; } keyed;

static int keyed_cmp(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->cycle > b->cycle) - (a->cycle < b->cycle);
}

/* Subject-level mean over the cycles idx[0..k) already grouped by subject
 * (grp[c] ascending within idx order is not required: we regroup). */
static gf_err subject_level(const float *pred, const float *ref, size_t per, const int *idx, int k,
                            const int *subj_of, int n_subj, gf_errstats *mean_out, int *n_present,
                            gf_errstats *per_subject)
{
    int *cnt = calloc((size_t)n_subj + 1, sizeof *cnt), *start = calloc((size_t)n_subj + 1, sizeof *start);
    int *order = malloc((size_t)(k ? k : 1) * sizeof *order);
    gf_errstats *st = malloc((size_t)(n_subj ? n_subj : 1) * sizeof *st);
    if (!cnt || !start || !order || !st) {
        free(cnt); free(start); free(order); free(st);
        return gf_fail(GF_ENOMEM, "metrics: out of memory");
    }
    for (int c = 0; c < k; c++) cnt[subj_of[idx[c]]]++;
    for (int s = 0; s < n_subj; s++) start[s + 1] = start[s] + cnt[s];
    memset(cnt, 0, (size_t)n_subj * sizeof *cnt);
    for (int c = 0; c < k; c++) {
        int s = subj_of[idx[c]];
        order[start[s] + cnt[s]++] = idx[c];
    }
    int np = 0;
    for (int s = 0; s < n_subj; s++) {
        if (!cnt[s]) continue;
        st[np] = errstats(pred, ref, per, order + start[s], cnt[s]);
        if (per_subject) per_subject[s] = st[np];
        np++;
    }
    *mean_out = mean_stats(st, np);
    *n_present = np;
    free(cnt); free(start); free(order); free(st);
    return GF_OK;
}

static void channel_stats(gf_metrics_channel *ch, const float *pred, const float *ref, int n_cycles, int T, int D, int j)
{
    size_t n = (size_t)n_cycles * T;
    double sp = 0, sr = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t f = 0; f < n; f++) {
        double p = pred[f * D + j], r = ref[f * D + j];
        sp += p;
        sr += r;
        if (r < lo) lo = r;
        if (r > hi) hi = r;
    }
    double mp = sp / n, mr = sr / n, spp = 0, srr = 0, spr = 0, ss_res = 0, sa = 0;
    for (size_t f = 0; f < n; f++) {
        double p = pred[f * D + j], r = ref[f * D + j], e = p - r;
        spp += (p - mp) * (p - mp);
        srr += (r - mr) * (r - mr);
        spr += (p - mp) * (r - mr);
        ss_res += e * e;
        sa += fabs(e);
    }
    ch->rmse = sqrt(ss_res / n);
    ch->mae = sa / n;
    ch->r2 = srr > 0 ? 1.0 - ss_res / srr : NAN;
    ch->pearson_r = spp > 0 && srr > 0 ? spr / sqrt(spp * srr) : NAN;
    ch->nrmse = hi > lo ? ch->rmse / (hi - lo) : NAN;
}

static const char *const CANON[] = {"slow", "med", "fast"};

gf_err gf_metrics_compute(gf_metrics *out, const float *pred, const float *ref, int n_cycles, int T, int D,
                          const char *const *subject_ids, const char *const *speeds)
{
    memset(out, 0, sizeof *out);
    if (n_cycles < 1 || T < 1 || D < 1) return gf_fail(GF_EINVAL, "metrics: empty input (%d cycles, %d frames, %d channels)", n_cycles, T, D);
    if ((size_t)n_cycles * (size_t)T * (size_t)D > ((size_t)1 << 34)) return gf_fail(GF_ERANGE, "metrics: input too large");
    if (!pred || !ref || !subject_ids) return gf_fail(GF_EINVAL, "metrics: missing predictions, references or subject ids");
    const size_t per = (size_t)T * D;
    for (size_t i = 0; i < per * n_cycles; i++) {
        if (!isfinite(pred[i]) || !isfinite(ref[i]))
            return gf_fail(GF_ENUMERIC, "metrics: %s of cycle %zu, frame %zu, channel %zu is not finite",
                           isfinite(pred[i]) ? "reference" : "prediction", i / per, i % per / D, i % D);
    }
    for (int c = 0; c < n_cycles; c++) {
        if (!subject_ids[c] || !subject_ids[c][0] || strlen(subject_ids[c]) >= GF_METRICS_ID_MAX)
            return gf_fail(GF_EINVAL, "metrics: subject id of cycle %d is missing, empty or longer than %d bytes", c, GF_METRICS_ID_MAX - 1);
        if (speeds && (!speeds[c] || !speeds[c][0] || strlen(speeds[c]) >= GF_METRICS_LABEL_MAX))
            return gf_fail(GF_EINVAL, "metrics: speed label of cycle %d is missing, empty or longer than %d bytes", c, GF_METRICS_LABEL_MAX - 1);
    }
    gf_err err = GF_OK;
    keyed *kv = malloc((size_t)n_cycles * sizeof *kv);
    int *subj_of = malloc((size_t)n_cycles * sizeof *subj_of);
    int *idx = malloc((size_t)n_cycles * sizeof *idx);
    out->subjects = calloc((size_t)n_cycles, sizeof *out->subjects);
    out->channels = calloc((size_t)D, sizeof *out->channels);
    gf_errstats *ps = calloc((size_t)n_cycles, sizeof *ps);
    if (!kv || !subj_of || !idx || !out->subjects || !out->channels || !ps) { err = gf_fail(GF_ENOMEM, "metrics: out of memory"); goto done; }
    out->n_cycles = n_cycles;
    out->T = T;
    out->D = D;

    /* Subjects, sorted by id. */
    for (int c = 0; c < n_cycles; c++) kv[c] = (keyed){subject_ids[c], c};
    qsort(kv, (size_t)n_cycles, sizeof *kv, keyed_cmp);
    int ns = 0;
    for (int c = 0; c < n_cycles; c++) {
        if (c == 0 || strcmp(kv[c].key, kv[c - 1].key)) {
            strcpy(out->subjects[ns].id, kv[c].key);
            ns++;
        }
        subj_of[kv[c].cycle] = ns - 1;
        out->subjects[ns - 1].n_cycles++;
    }
    out->n_subjects = ns;

    for (int c = 0; c < n_cycles; c++) idx[c] = c;
    int np;
    if ((err = subject_level(pred, ref, per, idx, n_cycles, subj_of, ns, &out->subject_mean, &np, ps))) goto done;
    for (int s = 0; s < ns; s++) out->subjects[s].m = ps[s];
    out->pooled = errstats(pred, ref, per, idx, n_cycles);

    if (speeds) {
        /* Labels: slow, med, fast, then others by first appearance. */
        out->cadences = calloc((size_t)n_cycles + 3, sizeof *out->cadences);
        if (!out->cadences) { err = gf_fail(GF_ENOMEM, "metrics: out of memory"); goto done; }
        int nl = 0;
        for (int k = 0; k < 3; k++)
            for (int c = 0; c < n_cycles; c++)
                if (!strcmp(speeds[c], CANON[k])) { strcpy(out->cadences[nl++].label, CANON[k]); break; }
        for (int c = 0; c < n_cycles; c++) {
            int seen = 0;
            for (int l = 0; l < nl && !seen; l++) seen = !strcmp(out->cadences[l].label, speeds[c]);
            if (!seen) strcpy(out->cadences[nl++].label, speeds[c]);
        }
        out->n_cadences = nl;
        for (int l = 0; l < nl; l++) {
            gf_metrics_cadence *cd = &out->cadences[l];
            int k = 0;
            for (int c = 0; c < n_cycles; c++)
                if (!strcmp(speeds[c], cd->label)) idx[k++] = c;
            cd->n_cycles = k;
            if ((err = subject_level(pred, ref, per, idx, k, subj_of, ns, &cd->subject_mean, &cd->n_subjects, NULL))) goto done;
            cd->pooled = errstats(pred, ref, per, idx, k);
        }
    }
    for (int j = 0; j < D; j++) channel_stats(&out->channels[j], pred, ref, n_cycles, T, D, j);
done:
    free(kv);
    free(subj_of);
    free(idx);
    free(ps);
    if (err) gf_metrics_free(out);
    return err;
}

/* ---- JSON ---- */

static int put_num(json_t *o, const char *k, double v)
{
    return json_object_set_new(o, k, isfinite(v) ? json_real(v) : json_null());
}

static json_t *stats_json(const gf_errstats *s)
{
    json_t *o = json_object();
    if (!o || put_num(o, "rmse", s->rmse) || put_num(o, "mae", s->mae) || put_num(o, "r2", s->r2)) { json_decref(o); return NULL; }
    return o;
}

json_t *gf_metrics_to_json(const gf_metrics *m, const char *const *channel_names)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_t *cad = json_object(), *sub = json_object(), *chs = json_object();
    /* set_new steals each reference (also on failure): from here on only o is freed. */
    int bad = json_object_set_new(o, "n_cycles", json_integer(m->n_cycles)) ||
              json_object_set_new(o, "n_subjects", json_integer(m->n_subjects)) ||
              json_object_set_new(o, "frames", json_integer(m->T)) || json_object_set_new(o, "channels", json_integer(m->D)) ||
              json_object_set_new(o, "subject_mean", stats_json(&m->subject_mean)) ||
              json_object_set_new(o, "pooled", stats_json(&m->pooled));
    bad |= json_object_set_new(o, "per_cadence", cad) | json_object_set_new(o, "per_subject", sub) |
           json_object_set_new(o, "per_channel", chs);
    for (int l = 0; !bad && l < m->n_cadences; l++) {
        const gf_metrics_cadence *c = &m->cadences[l];
        json_t *e = json_object();
        bad = json_object_set_new(cad, c->label, e) || json_object_set_new(e, "n_cycles", json_integer(c->n_cycles)) ||
              json_object_set_new(e, "n_subjects", json_integer(c->n_subjects)) ||
              json_object_set_new(e, "subject_mean", stats_json(&c->subject_mean)) ||
              json_object_set_new(e, "pooled", stats_json(&c->pooled));
    }
    for (int s = 0; !bad && s < m->n_subjects; s++) {
        const gf_metrics_subject *x = &m->subjects[s];
        json_t *e = json_object();
        bad = json_object_set_new(sub, x->id, e) || json_object_set_new(e, "n_cycles", json_integer(x->n_cycles)) ||
              put_num(e, "rmse", x->m.rmse) || put_num(e, "mae", x->m.mae) || put_num(e, "r2", x->m.r2);
    }
    for (int j = 0; !bad && j < m->D; j++) {
        const gf_metrics_channel *c = &m->channels[j];
        char nm[32];
        const char *name = channel_names && channel_names[j] ? channel_names[j] : (snprintf(nm, sizeof nm, "ch%d", j), nm);
        json_t *e = json_object();
        bad = json_object_set_new(chs, name, e) || put_num(e, "r2", c->r2) || put_num(e, "pearson_r", c->pearson_r) ||
              put_num(e, "nrmse", c->nrmse) || put_num(e, "rmse", c->rmse) || put_num(e, "mae", c->mae);
    }
    bad = bad || json_object_set_new(o, "definitions", json_pack("{s:s, s:s, s:s, s:s, s:s}",
        "r2", "1 - SS_res/SS_tot; SS_tot about one mean over all output channels and frames of the set",
        "subject_mean", "metrics per subject over all of its cycles, averaged over subjects",
        "pooled", "metrics over all cycles at once",
        "per_channel", "pooled over all cycles and frames; r2 uses the channel's own mean",
        "nrmse", "rmse / (max - min) of the reference channel over all evaluated cycles and frames"));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- aggregate curves ---- */

/* A JSON array of the n doubles v (non-finite: null); NULL when out of memory. */
static json_t *num_array(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null())) { json_decref(a); a = NULL; }
    return a;
}

json_t *gf_metrics_curves_json(const float *pred, const float *ref, int n_cycles, int T, int D,
                               const char *const *channel_names)
{
    if (!pred || !ref || n_cycles < 1 || T < 1 || D < 1) return NULL;
    if ((size_t)n_cycles * (size_t)T * (size_t)D > ((size_t)1 << 34)) return NULL;
    const size_t per = (size_t)T * D;
    /* mean[k][t*D + j], sd[k][...]: k = 0 reference, 1 prediction. */
    double *acc = calloc(4 * per, sizeof *acc), *col = malloc((size_t)T * sizeof *col);
    json_t *o = NULL;
    if (!acc || !col) goto done;
    double *mean[2] = {acc, acc + per}, *sd[2] = {acc + 2 * per, acc + 3 * per};
    const float *src[2] = {ref, pred};
    const double n = (double)n_cycles;
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < n_cycles; c++) {
            const float *x = src[k] + (size_t)c * per;
            for (size_t i = 0; i < per; i++) mean[k][i] += x[i];
        }
        for (size_t i = 0; i < per; i++) mean[k][i] /= n;
        for (int c = 0; c < n_cycles; c++) {
            const float *x = src[k] + (size_t)c * per;
            for (size_t i = 0; i < per; i++) {
                double d = (double)x[i] - mean[k][i];
                sd[k][i] += d * d;
            }
        }
        for (size_t i = 0; i < per; i++) sd[k][i] = sqrt(sd[k][i] / n);
    }
    o = json_object();
    json_t *chs = json_object();
    if (!o || !chs) {
        json_decref(o);
        json_decref(chs);
        o = NULL;
        goto done;
    }
    /* set_new steals each reference (also on failure): from here on only o is freed. */
    int bad = json_object_set_new(o, "frames", json_integer(T)) | json_object_set_new(o, "channels", chs);
    static const char *const KEY[4] = {"ref_mean", "ref_sd", "pred_mean", "pred_sd"};
    for (int j = 0; !bad && j < D; j++) {
        char nm[32];
        const char *name = channel_names && channel_names[j] ? channel_names[j] : (snprintf(nm, sizeof nm, "ch%d", j), nm);
        json_t *e = json_object();
        bad = json_object_set_new(chs, name, e);
        for (int q = 0; !bad && q < 4; q++) {
            const double *v = q == 0 ? mean[0] : q == 1 ? sd[0] : q == 2 ? mean[1] : sd[1];
            for (int t = 0; t < T; t++) col[t] = v[(size_t)t * D + j];
            bad = json_object_set_new(e, KEY[q], num_array(col, T));
        }
    }
    if (bad) {
        json_decref(o);
        o = NULL;
    }
done:
    free(acc);
    free(col);
    return o;
}

/* The synthetic cohort builder (synth/cohort.c) and capture-system
 * error models (synth/capture.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"
#include "sites/stats.h"
#include "synth/synth.h"

#define FRAME (GF_T * GF_DIN)
#define PERIOD (GF_T - 1)
#define KNEE_R 6
#define KNEE_L 8

/* ---- helpers ---- */

static void build_or_fail(uint64_t seed, int n_sites, gf_synth_cohort *c)
{
    gf_err e = gf_synth_build(seed, n_sites, c);
    cr_assert_eq(e, GF_OK, "gf_synth_build(%d sites): %s", n_sites, gf_errmsg());
}

static int site_index(const gf_synth_cohort *c, const char *name)
{
    for (int k = 0; k < c->n_sites; k++)
        if (!strcmp(c->sites[k].name, name)) return k;
    cr_assert_fail("no site named %s", name);
    return -1;
}

static int subject_num(const char *id, char prefix)
{
    cr_assert_eq(id[0], prefix, "subject id %s", id);
    return atoi(id + 1);
}

/* Subject number -> count of cycles, for H01..H60 ids. */
static void count_subjects(const gf_dataset *d, int counts[GF_SYNTH_HEALTHY + 1])
{
    memset(counts, 0, sizeof(int) * (GF_SYNTH_HEALTHY + 1));
    for (int64_t i = 0; i < d->n; i++) {
        int s = subject_num(d->meta[i].subject_id, 'H');
        cr_assert(s >= 1 && s <= GF_SYNTH_HEALTHY, "subject %s", d->meta[i].subject_id);
        counts[s]++;
    }
}

static int64_t find_in_healthy(const gf_dataset *h, const gf_cycle_meta *m)
{
    for (int64_t i = 0; i < h->n; i++)
        if (!strcmp(h->meta[i].subject_id, m->subject_id) && !strcmp(h->meta[i].speed, m->speed) &&
            h->meta[i].trial == m->trial)
            return i;
    return -1;
}

/* Field by field: the struct has padding after the enum. */
static int same_profile(const gf_capture_profile *a, const gf_capture_profile *b)
{
    return a->system == b->system && a->noise_deg == b->noise_deg && a->offset_sd_deg == b->offset_sd_deg &&
           a->drift_deg == b->drift_deg && a->lag_s == b->lag_s && a->smooth_s == b->smooth_s &&
           a->knee_bias_deg == b->knee_bias_deg;
}

static void same_dataset(const gf_dataset *a, const gf_dataset *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %lld vs %lld cycles", what, (long long)a->n, (long long)b->n);
    size_t n = (size_t)a->n;
    cr_assert_eq(memcmp(a->x, b->x, n * FRAME * sizeof(float)), 0, "%s x", what);
    cr_assert_eq(memcmp(a->yf, b->yf, n * GF_T * GF_NF * sizeof(float)), 0, "%s yf", what);
    cr_assert_eq(memcmp(a->ym, b->ym, n * GF_T * GF_NM * sizeof(float)), 0, "%s ym", what);
    cr_assert_eq(memcmp(a->meta, b->meta, n * sizeof(gf_cycle_meta)), 0, "%s meta", what);
}

/* A smooth periodic stand-in for true kinematics (period GF_T - 1 samples):
 * the capture tests must not depend on the physics. */
static void synthetic_truth(gf_rng *r, float *x)
{
    double ph[GF_DIN], amp[GF_DIN];
    for (int c = 0; c < GF_DIN; c++) ph[c] = gf_rng_uniform(r) * 6.283185307, amp[c] = 5 + 25 * gf_rng_uniform(r);
    for (int i = 0; i < GF_T; i++)
        for (int c = 0; c < GF_DIN; c++) {
            double w = 6.283185307179586 * i / PERIOD;
            x[i * GF_DIN + c] = (float)(10 + amp[c] * sin(w + ph[c]) + 0.3 * amp[c] * sin(2 * w + 2 * ph[c]));
        }
}

/* SD of residual samples after removing, per cycle and channel, the mean
 * (detrend = 0) or the least-squares line (detrend = 1). Skips channels in
 * skip_mask. */
static double residual_sd(const float *res, int n_cycles, int detrend, unsigned skip_mask)
{
    double ss = 0, cnt = 0;
    for (int k = 0; k < n_cycles; k++)
        for (int c = 0; c < GF_DIN; c++) {
            if (skip_mask & (1u << c)) continue;
            const float *r = res + (size_t)k * FRAME;
            double m = 0, slope = 0, tm = (GF_T - 1) / 2.0, stt = 0;
            for (int i = 0; i < GF_T; i++) m += r[i * GF_DIN + c];
            m /= GF_T;
            if (detrend) {
                for (int i = 0; i < GF_T; i++) slope += (i - tm) * r[i * GF_DIN + c], stt += (i - tm) * (i - tm);
                slope /= stt;
            }
            for (int i = 0; i < GF_T; i++) {
                double d = r[i * GF_DIN + c] - m - slope * (i - tm);
                ss += d * d, cnt++;
            }
        }
    /* Degrees of freedom removed per cycle and channel: 1 (mean) or 2 (line). */
    double dof_loss = (detrend ? 2.0 : 1.0) / GF_T;
    return sqrt(ss / cnt / (1.0 - dof_loss));
}

typedef struct {
    int n;
    float *truth, *meas, *clean; /* clean: same streams, noise_deg = 0 */
} capture_run;

/* n cycles, each its own session, at a 1 s stride. */
static capture_run run_capture(const gf_capture_profile *p, int n)
{
    capture_run r = {n, malloc(sizeof(float) * FRAME * n), malloc(sizeof(float) * FRAME * n),
                     malloc(sizeof(float) * FRAME * n)};
    cr_assert(r.truth && r.meas && r.clean);
    gf_capture_profile q = *p;
    q.noise_deg = 0;
    gf_rng tr;
    gf_rng_seed(&tr, 99);
    for (int k = 0; k < n; k++) {
        float *t = r.truth + (size_t)k * FRAME;
        synthetic_truth(&tr, t);
        gf_rng s1, s2, n1, n2;
        gf_rng_derive(&s1, 5, (uint64_t)k), gf_rng_derive(&s2, 5, (uint64_t)k);
        gf_rng_derive(&n1, 6, (uint64_t)k), gf_rng_derive(&n2, 6, (uint64_t)k);
        gf_capture_apply(p, 1.0, &s1, &n1, t, r.meas + (size_t)k * FRAME);
        gf_capture_apply(&q, 1.0, &s2, &n2, t, r.clean + (size_t)k * FRAME);
    }
    return r;
}

static void free_run(capture_run *r) { free(r->truth), free(r->meas), free(r->clean); }

static float *diff(const float *a, const float *b, int n)
{
    float *d = malloc(sizeof(float) * FRAME * n);
    cr_assert_not_null(d);
    for (size_t i = 0; i < (size_t)FRAME * n; i++) d[i] = a[i] - b[i];
    return d;
}

static void assert_near_rel(double got, double want, double rel, const char *what)
{
    cr_log_info("%s: %.3f (model %.3f)", what, got, want);
    cr_assert(fabs(got - want) <= rel * want, "%s: %.3f, expected %.3f +- %.0f %%", what, got, want, rel * 100);
}

/* The shipped profiles, without building a cohort (no physics involved). */
static gf_capture_profile profile_of(gf_capture_system s)
{
    gf_capture_profile p = gf_capture_default(s);
    cr_assert_eq(p.system, s);
    return p;
}

/* ---- determinism ---- */

Test(synth_cohort, same_seed_identical_different_seed_differs)
{
    gf_synth_cohort a, b, c;
    build_or_fail(2024, 4, &a);
    build_or_fail(2024, 4, &b);
    same_dataset(&a.healthy, &b.healthy, "healthy");
    same_dataset(&a.healthy_test, &b.healthy_test, "healthy_test");
    same_dataset(&a.onfh, &b.onfh, "onfh");
    cr_assert_eq(a.n_sites, b.n_sites);
    for (int k = 0; k < a.n_sites; k++) {
        cr_assert_str_eq(a.sites[k].name, b.sites[k].name);
        cr_assert(same_profile(&a.sites[k].capture, &b.sites[k].capture));
        same_dataset(&a.sites[k].data, &b.sites[k].data, a.sites[k].name);
    }
    build_or_fail(2025, 4, &c);
    size_t n = (size_t)(a.healthy.n < c.healthy.n ? a.healthy.n : c.healthy.n);
    cr_assert_neq(memcmp(a.healthy.x, c.healthy.x, n * FRAME * sizeof(float)), 0);
    cr_assert_neq(memcmp(a.healthy.ym, c.healthy.ym, n * GF_T * GF_NM * sizeof(float)), 0);
    int same_weights = 1;
    for (size_t i = 0; i < n; i++) same_weights &= a.healthy.meta[i].weight_kg == c.healthy.meta[i].weight_kg;
    cr_assert(!same_weights, "a different seed draws different subjects");
    gf_synth_free(&a), gf_synth_free(&b), gf_synth_free(&c);
}

/* Subjects' bodies, trials and labels do not depend on the number of sites. */
Test(synth_cohort, site_count_does_not_reshuffle_subjects)
{
    gf_synth_cohort a, b;
    build_or_fail(77, 4, &a);
    build_or_fail(77, 7, &b);
    cr_assert_eq(a.healthy.n, b.healthy.n);
    size_t n = (size_t)a.healthy.n;
    cr_assert_eq(memcmp(a.healthy.meta, b.healthy.meta, n * sizeof(gf_cycle_meta)), 0);
    cr_assert_eq(memcmp(a.healthy.ym, b.healthy.ym, n * GF_T * GF_NM * sizeof(float)), 0);
    cr_assert_eq(memcmp(a.healthy.x, b.healthy.x, n * FRAME * sizeof(float)), 0);
    same_dataset(&a.healthy_test, &b.healthy_test, "healthy_test");
    same_dataset(&a.onfh, &b.onfh, "onfh");
    gf_synth_free(&a), gf_synth_free(&b);
}

/* ---- counts, ids, split, site membership ---- */

static void assert_partition(const gf_synth_cohort *c)
{
    int test[GF_SYNTH_HEALTHY + 1], all[GF_SYNTH_HEALTHY + 1], owner[GF_SYNTH_HEALTHY + 1];
    count_subjects(&c->healthy, all);
    count_subjects(&c->healthy_test, test);
    int n_test = 0;
    for (int s = 1; s <= GF_SYNTH_HEALTHY; s++) {
        cr_assert_gt(all[s], 0, "H%02d has no cycles", s);
        if (test[s]) {
            n_test++;
            cr_assert_eq(test[s], all[s], "H%02d: the hold-out holds all its cycles", s);
        }
        owner[s] = -1;
    }
    cr_assert_eq(n_test, GF_SYNTH_TEST);
    for (int k = 0; k < c->n_sites; k++) {
        int cnt[GF_SYNTH_HEALTHY + 1], members = 0;
        count_subjects(&c->sites[k].data, cnt);
        for (int s = 1; s <= GF_SYNTH_HEALTHY; s++) {
            if (!cnt[s]) continue;
            members++;
            cr_assert_eq(test[s], 0, "H%02d is held out but in site %s", s, c->sites[k].name);
            cr_assert_eq(owner[s], -1, "H%02d in two sites", s);
            owner[s] = k;
        }
        cr_assert_geq(members, 2, "site %s has %d subjects", c->sites[k].name, members);
        for (int j = 0; j < k; j++) cr_assert_str_neq(c->sites[j].name, c->sites[k].name);
    }
    for (int s = 1; s <= GF_SYNTH_HEALTHY; s++)
        cr_assert(test[s] || owner[s] >= 0, "pool subject H%02d belongs to no site", s);
}

Test(synth_cohort, counts_ids_and_split)
{
    gf_synth_cohort c;
    build_or_fail(3, 4, &c);
    cr_assert(c.healthy.n >= 650 && c.healthy.n <= 720, "%lld healthy cycles", (long long)c.healthy.n);
    static const char *speeds[] = {"slow", "med", "fast"};
    static const double spm[] = {78, 115, 135};
    for (int64_t i = 0; i < c.healthy.n; i++) {
        const gf_cycle_meta *m = &c.healthy.meta[i];
        int v = -1;
        for (int j = 0; j < 3; j++) if (!strcmp(m->speed, speeds[j])) v = j;
        cr_assert_geq(v, 0, "speed %s", m->speed);
        cr_assert(fabs(m->cadence_spm - spm[v]) <= 0.04 * spm[v], "%s cadence %g", m->speed, m->cadence_spm);
        cr_assert(m->trial >= 1 && m->trial <= 4);
        cr_assert(m->height_m >= 1.55f && m->height_m <= 1.92f, "height %g", m->height_m);
        cr_assert(m->weight_kg >= 48.f && m->weight_kg <= 100.f, "mass %g", m->weight_kg);
        double bmi = m->weight_kg / (m->height_m * m->height_m);
        cr_assert(bmi >= 18.4 && bmi <= 30.1, "BMI %g", bmi);
    }
    assert_partition(&c);
    cr_assert_eq(c.n_sites, 4);
    cr_assert_str_eq(c.sites[0].name, "optical-lab");
    cr_assert_str_eq(c.sites[1].name, "imu-clinic");
    cr_assert_str_eq(c.sites[2].name, "video-clinic");
    cr_assert_str_eq(c.sites[3].name, "senior-centre");
    static const gf_capture_system want[4] = {GF_CAPTURE_OPTICAL, GF_CAPTURE_INERTIAL, GF_CAPTURE_MARKERLESS,
                                              GF_CAPTURE_INERTIAL};
    for (int k = 0; k < 4; k++) {
        gf_capture_profile d = gf_capture_default(want[k]);
        cr_assert(same_profile(&c.sites[k].capture, &d), "%s uses the %s profile", c.sites[k].name,
                     gf_capture_name(want[k]));
    }
    /* Unequal cohorts. */
    int64_t lo = c.sites[0].data.n, hi = lo;
    for (int k = 1; k < 4; k++) {
        lo = c.sites[k].data.n < lo ? c.sites[k].data.n : lo;
        hi = c.sites[k].data.n > hi ? c.sites[k].data.n : hi;
    }
    cr_assert_gt(hi, lo * 3 / 2, "site sizes %lld..%lld should differ", (long long)lo, (long long)hi);
    /* ONFH: P01..P09, 2-4 self-paced trials each, slower than the med metronome. */
    int per[GF_SYNTH_ONFH + 1] = {0};
    for (int64_t i = 0; i < c.onfh.n; i++) {
        const gf_cycle_meta *m = &c.onfh.meta[i];
        int p = subject_num(m->subject_id, 'P');
        cr_assert(p >= 1 && p <= GF_SYNTH_ONFH);
        per[p]++;
        cr_assert_str_eq(m->speed, "self");
        cr_assert(m->cadence_spm >= 85 && m->cadence_spm <= 110, "ONFH cadence %g", m->cadence_spm);
    }
    for (int p = 1; p <= GF_SYNTH_ONFH; p++) cr_assert(per[p] >= 2 && per[p] <= 4, "P%02d: %d trials", p, per[p]);
    gf_synth_free(&c);
}

Test(synth_cohort, site_counts_from_one_to_max)
{
    static const int ns[] = {1, 2, 3, 5, 9, GF_SYNTH_MAX_SITES};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        gf_synth_cohort c;
        build_or_fail(11, ns[i], &c);
        cr_assert_eq(c.n_sites, ns[i]);
        assert_partition(&c);
        if (ns[i] == GF_SYNTH_MAX_SITES) cr_assert_str_eq(c.sites[4].name, "optical-lab-2");
        gf_synth_free(&c);
    }
    gf_synth_cohort c;
    cr_assert_eq(gf_synth_build(1, 0, &c), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "sites") != NULL, "message names the field: %s", gf_errmsg());
    cr_assert_eq(gf_synth_build(1, GF_SYNTH_MAX_SITES + 1, &c), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "sites") != NULL, "message names the field: %s", gf_errmsg());
    cr_assert_eq(gf_synth_build(1, 25, &c), GF_ERANGE);
}

static void assert_finite(const gf_dataset *d, const char *what)
{
    cr_assert_gt(d->n, 0, "%s is empty", what);
    for (size_t i = 0; i < (size_t)d->n * FRAME; i++) cr_assert(isfinite(d->x[i]), "%s x[%zu]", what, i);
    for (size_t i = 0; i < (size_t)d->n * GF_T * GF_NF; i++) cr_assert(isfinite(d->yf[i]), "%s yf[%zu]", what, i);
    for (size_t i = 0; i < (size_t)d->n * GF_T * GF_NM; i++) cr_assert(isfinite(d->ym[i]), "%s ym[%zu]", what, i);
}

/* Labels are the true ones: a site's cycle carries exactly the labels of the
 * same recording in the benchmark files, whatever its capture system. */
Test(synth_cohort, labels_finite_and_from_true_kinematics)
{
    gf_synth_cohort c;
    build_or_fail(4, 4, &c);
    assert_finite(&c.healthy, "healthy");
    assert_finite(&c.healthy_test, "healthy_test");
    assert_finite(&c.onfh, "onfh");
    for (int k = 0; k < c.n_sites; k++) {
        const gf_dataset *d = &c.sites[k].data;
        assert_finite(d, c.sites[k].name);
        for (int64_t i = 0; i < d->n; i++) {
            int64_t j = find_in_healthy(&c.healthy, &d->meta[i]);
            cr_assert_geq(j, 0, "%s %s trial %d not in the cohort", d->meta[i].subject_id, d->meta[i].speed,
                          d->meta[i].trial);
            cr_assert_eq(memcmp(&d->meta[i], &c.healthy.meta[j], sizeof d->meta[i]), 0);
            cr_assert_eq(memcmp(d->ym + i * GF_T * GF_NM, c.healthy.ym + j * GF_T * GF_NM,
                                sizeof(float) * GF_T * GF_NM), 0);
            cr_assert_eq(memcmp(d->yf + i * GF_T * GF_NF, c.healthy.yf + j * GF_T * GF_NF,
                                sizeof(float) * GF_T * GF_NF), 0);
        }
    }
    gf_synth_free(&c);
}

/* ---- capture models on synthetic input ---- */

Test(synth_cohort, optical_noise_half_a_degree)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_OPTICAL);
    capture_run r = run_capture(&p, 300);
    float *res = diff(r.meas, r.truth, r.n);
    assert_near_rel(residual_sd(res, r.n, 0, 0), 0.5, 0.2, "optical noise SD");
    free(res), free_run(&r);
}

Test(synth_cohort, inertial_noise_drift_and_session_offsets)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_INERTIAL);
    cr_assert_gt(p.drift_deg, 0);
    cr_assert_gt(p.offset_sd_deg, 0);
    capture_run r = run_capture(&p, 300);
    float *res = diff(r.meas, r.truth, r.n);
    assert_near_rel(residual_sd(res, r.n, 1, 0), 2.0, 0.2, "inertial noise SD (detrended)");
    /* Drift: the detrended residual is smaller than the mean-removed one. */
    cr_assert_lt(residual_sd(res, r.n, 1, 0), residual_sd(res, r.n, 0, 0));
    /* Offsets: per-cycle means vary across sessions with SD ~ offset_sd. */
    double ss = 0;
    for (int k = 0; k < r.n; k++)
        for (int c = 0; c < GF_DIN; c++) {
            double m = 0;
            for (int i = 0; i < GF_T; i++) m += res[(size_t)k * FRAME + i * GF_DIN + c];
            m /= GF_T;
            ss += m * m;
        }
    assert_near_rel(sqrt(ss / (r.n * GF_DIN)), p.offset_sd_deg, 0.2, "inertial session offset SD");
    free(res), free_run(&r);
}

/* One session = one offset: the same session stream gives the same offsets
 * whatever the per-cycle noise stream. */
Test(synth_cohort, session_offset_shared_within_session)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_INERTIAL);
    p.noise_deg = 0, p.drift_deg = 0;
    float truth[FRAME], a[FRAME], b[FRAME], d[FRAME];
    gf_rng tr, s1, s2, s3, n1, n2, n3;
    gf_rng_seed(&tr, 1);
    synthetic_truth(&tr, truth);
    gf_rng_derive(&s1, 9, 1), gf_rng_derive(&s2, 9, 1), gf_rng_derive(&s3, 9, 2);
    gf_rng_derive(&n1, 8, 1), gf_rng_derive(&n2, 8, 2), gf_rng_derive(&n3, 8, 3);
    gf_capture_apply(&p, 1.1, &s1, &n1, truth, a);
    gf_capture_apply(&p, 1.1, &s2, &n2, truth, b);
    gf_capture_apply(&p, 1.1, &s3, &n3, truth, d);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, d, sizeof a), 0);
}

Test(synth_cohort, markerless_noise_knee_bias_and_lag)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_MARKERLESS);
    capture_run r = run_capture(&p, 300);
    /* Noise: measured minus the same pipeline without noise. */
    float *noise = diff(r.meas, r.clean, r.n);
    assert_near_rel(residual_sd(noise, r.n, 0, 0), 3.0, 0.2, "markerless noise SD");
    /* Lag and smoothing add to the error against the truth. */
    float *res = diff(r.meas, r.truth, r.n);
    cr_assert_gt(residual_sd(res, r.n, 0, 0), 3.0 * 1.05);
    /* Knee bias: mean error on both knees ~ +knee_bias (offsets average out). */
    double kb = 0;
    for (int k = 0; k < r.n; k++)
        for (int i = 0; i < GF_T; i++)
            kb += res[(size_t)k * FRAME + i * GF_DIN + KNEE_R] + res[(size_t)k * FRAME + i * GF_DIN + KNEE_L];
    kb /= 2.0 * r.n * GF_T;
    cr_assert_gt(p.knee_bias_deg, 2.0);
    cr_assert(fabs(kb - p.knee_bias_deg) < 0.6, "knee bias %.2f vs %.2f", kb, p.knee_bias_deg);
    /* Lag: the clean measurement best matches the truth delayed by lag_s (the
     * box filter is zero-phase; session offsets cost the same at every shift). */
    double want = p.lag_s * PERIOD / 1.0; /* samples at a 1 s stride */
    cr_assert_gt(want, 2.0, "lag must be measurable");
    int best = 0;
    double best_err = INFINITY;
    for (int sh = -20; sh <= 20; sh++) {
        double e = 0;
        for (int k = 0; k < r.n; k += 10)
            for (int i = 0; i < PERIOD; i++)
                for (int c = 0; c < 6; c++) { /* hips: no knee bias */
                    int j = ((i - sh) % PERIOD + PERIOD) % PERIOD;
                    double d = r.clean[(size_t)k * FRAME + i * GF_DIN + c] - r.truth[(size_t)k * FRAME + j * GF_DIN + c];
                    e += d * d;
                }
        if (e < best_err) best_err = e, best = sh;
    }
    cr_log_info("markerless: knee bias %.2f deg, lag %d samples (model %.2f)", kb, best, want);
    cr_assert(fabs(best - want) <= 1.0, "measured lag %d samples, expected %.1f", best, want);
    free(noise), free(res), free_run(&r);
}

/* Optical capture has no lag: the best shift is zero. */
Test(synth_cohort, optical_has_no_lag)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_OPTICAL);
    cr_assert_eq(p.lag_s, 0);
    cr_assert_eq(p.smooth_s, 0);
    cr_assert_eq(p.knee_bias_deg, 0);
}

/* The cycle is periodic: rotating the true cycle rotates the filtered one, so
 * the first samples are as valid as the middle ones. */
Test(synth_cohort, markerless_filter_wraps_around_the_cycle)
{
    gf_capture_profile p = profile_of(GF_CAPTURE_MARKERLESS);
    p.noise_deg = 0, p.offset_sd_deg = 0;
    float a[FRAME], b[FRAME], ma[FRAME], mb[FRAME];
    gf_rng tr;
    gf_rng_seed(&tr, 3);
    synthetic_truth(&tr, a);
    int rot = 37;
    for (int i = 0; i < GF_T; i++)
        for (int c = 0; c < GF_DIN; c++) b[i * GF_DIN + c] = a[((i + rot) % PERIOD) * GF_DIN + c];
    gf_rng s1, s2, n1, n2;
    gf_rng_seed(&s1, 1), gf_rng_seed(&s2, 1), gf_rng_seed(&n1, 2), gf_rng_seed(&n2, 2);
    gf_capture_apply(&p, 0.9, &s1, &n1, a, ma);
    gf_capture_apply(&p, 0.9, &s2, &n2, b, mb);
    for (int i = 0; i < GF_T; i++)
        for (int c = 0; c < GF_DIN; c++) {
            float want = ma[((i + rot) % PERIOD) * GF_DIN + c];
            cr_assert(fabsf(mb[i * GF_DIN + c] - want) < 1e-3f, "sample %d channel %d: %g vs %g", i, c,
                      mb[i * GF_DIN + c], want);
        }
    /* And the filter did something (smoothing attenuates, lag shifts). */
    double d = 0;
    for (int i = 0; i < FRAME; i++) d = fmax(d, fabs(ma[i] - a[i] - (i % GF_DIN == KNEE_R || i % GF_DIN == KNEE_L ? p.knee_bias_deg : 0)));
    cr_assert_gt(d, 1.0);
}

Test(synth_cohort, capture_names_and_json)
{
    cr_assert_str_eq(gf_capture_name(GF_CAPTURE_OPTICAL), "optical");
    cr_assert_str_eq(gf_capture_name(GF_CAPTURE_INERTIAL), "inertial");
    cr_assert_str_eq(gf_capture_name(GF_CAPTURE_MARKERLESS), "markerless");
    gf_capture_profile p = profile_of(GF_CAPTURE_MARKERLESS);
    char *s = gf_capture_json(&p);
    cr_assert_not_null(s);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    cr_assert_not_null(j, "not JSON: %s (%s)", s, err.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "system")), "markerless");
    cr_assert_float_eq(json_number_value(json_object_get(j, "noise_deg")), p.noise_deg, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(j, "lag_s")), p.lag_s, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(j, "smooth_s")), p.smooth_s, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(j, "knee_bias_deg")), p.knee_bias_deg, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(j, "offset_sd_deg")), p.offset_sd_deg, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(j, "drift_deg")), p.drift_deg, 1e-9);
    json_decref(j);
    free(s);
}

/* ---- sites: their inputs differ the way their capture systems do ---- */

/* Residual of a site's inputs against the benchmark (optical) recording of
 * the same cycles, as a data set, so gf_xstats_compute can summarize it. */
static void site_residual(const gf_synth_cohort *c, int k, gf_dataset *res)
{
    const gf_dataset *d = &c->sites[k].data;
    cr_assert_eq(gf_dataset_alloc(res, d->n, 0, 0), GF_OK);
    for (int64_t i = 0; i < d->n; i++) {
        int64_t j = find_in_healthy(&c->healthy, &d->meta[i]);
        cr_assert_geq(j, 0);
        for (int f = 0; f < FRAME; f++) res->x[i * FRAME + f] = d->x[i * FRAME + f] - c->healthy.x[j * FRAME + f];
    }
}

static double max_sd(const gf_xstats *s, unsigned skip_mask)
{
    double m = 0;
    for (int c = 0; c < GF_DIN; c++) if (!(skip_mask & (1u << c))) m = fmax(m, s->sd[c]);
    return m;
}

static double min_sd(const gf_xstats *s)
{
    double m = INFINITY;
    for (int c = 0; c < GF_DIN; c++) m = fmin(m, s->sd[c]);
    return m;
}

Test(synth_cohort, site_input_statistics_differ_by_capture_system)
{
    gf_synth_cohort c;
    build_or_fail(5, 4, &c);
    int opt = site_index(&c, "optical-lab"), imu = site_index(&c, "imu-clinic"),
        vid = site_index(&c, "video-clinic");
    gf_dataset r_opt, r_imu, r_vid;
    gf_xstats s_opt, s_imu, s_vid;
    site_residual(&c, opt, &r_opt), site_residual(&c, imu, &r_imu), site_residual(&c, vid, &r_vid);
    cr_assert_eq(gf_xstats_compute(&r_opt, &s_opt), GF_OK);
    cr_assert_eq(gf_xstats_compute(&r_imu, &s_imu), GF_OK);
    cr_assert_eq(gf_xstats_compute(&r_vid, &s_vid), GF_OK);
    cr_log_info("site residual SD max/min: optical-lab %.2f/%.2f imu-clinic %.2f/%.2f video-clinic %.2f/%.2f; "
                "video knee mean %.2f/%.2f", max_sd(&s_opt, 0), min_sd(&s_opt), max_sd(&s_imu, 0), min_sd(&s_imu),
                max_sd(&s_vid, 0), min_sd(&s_vid), s_vid.mean[KNEE_R], s_vid.mean[KNEE_L]);
    /* Optical vs optical: noise 0.5 twice plus placement offsets of ~1 deg twice. */
    cr_assert_lt(max_sd(&s_opt, 0), 2.2, "optical-lab residual SD %.2f", max_sd(&s_opt, 0));
    cr_assert_gt(min_sd(&s_imu), 2.2 * 1.2, "imu-clinic residual SD %.2f", min_sd(&s_imu));
    cr_assert_gt(min_sd(&s_vid), 3.0, "video-clinic residual SD %.2f", min_sd(&s_vid));
    /* Markerless knees read more flexed; optical knees do not. */
    for (int ch = KNEE_R; ch <= KNEE_L; ch += 2) {
        cr_assert(s_vid.mean[ch] > 2.5 && s_vid.mean[ch] < 5.5, "video knee bias %.2f", s_vid.mean[ch]);
        cr_assert_lt(fabs(s_opt.mean[ch]), 1.5, "optical knee bias %.2f", s_opt.mean[ch]);
    }
    /* The site's own statistics (what per-site normalization uses) see it too. */
    gf_xstats own_vid, own_opt;
    cr_assert_eq(gf_xstats_compute(&c.sites[vid].data, &own_vid), GF_OK);
    cr_assert_eq(gf_xstats_compute(&c.sites[opt].data, &own_opt), GF_OK);
    cr_assert(memcmp(own_vid.mean, own_opt.mean, sizeof own_vid.mean) != 0);
    gf_dataset_free(&r_opt), gf_dataset_free(&r_imu), gf_dataset_free(&r_vid);
    gf_synth_free(&c);
}

static double speed_fraction(const gf_dataset *d, const char *speed)
{
    int64_t n = 0;
    for (int64_t i = 0; i < d->n; i++) n += !strcmp(d->meta[i].speed, speed);
    return d->n ? (double)n / (double)d->n : 0.0;
}

Test(synth_cohort, site_cadence_mixes_and_demographics)
{
    gf_synth_cohort c;
    build_or_fail(6, 4, &c);
    int opt = site_index(&c, "optical-lab"), sen = site_index(&c, "senior-centre");
    double fast_sen = speed_fraction(&c.sites[sen].data, "fast");
    for (int k = 0; k < c.n_sites; k++)
        if (k != sen) cr_assert_lt(fast_sen, speed_fraction(&c.sites[k].data, "fast"), "senior fewer fast trials");
    cr_assert_lt(fast_sen, 0.2, "senior fast fraction %.2f", fast_sen);
    cr_assert_gt(speed_fraction(&c.sites[opt].data, "med"), speed_fraction(&c.sites[opt].data, "slow") + 0.05);
    cr_assert(c.sites[sen].capture.system == GF_CAPTURE_INERTIAL || c.sites[sen].capture.system == GF_CAPTURE_OPTICAL);
    gf_synth_free(&c);
}

/* ---- ONFH vs healthy (end-stage disease: SMD about -1, the design target) ---- */

typedef struct { double rom, mflex_range, abd_peak; } cycle_summary;

static cycle_summary summarize(const gf_dataset *d, int64_t i)
{
    double lo = INFINITY, hi = -INFINITY, mlo = INFINITY, mhi = -INFINITY, alo = INFINITY;
    double kg = d->meta[i].weight_kg;
    for (int t = 0; t < GF_T; t++) {
        double h = d->x[i * FRAME + t * GF_DIN + 0];
        const float *m = d->ym + (i * GF_T + t) * GF_NM;
        lo = fmin(lo, h), hi = fmax(hi, h);
        mlo = fmin(mlo, m[0] / kg), mhi = fmax(mhi, m[0] / kg);
        alo = fmin(alo, m[1] / kg);
    }
    return (cycle_summary){hi - lo, mhi - mlo, -alo};
}

Test(synth_cohort, onfh_smaller_rom_and_moments_than_healthy)
{
    gf_synth_cohort c;
    build_or_fail(8, 4, &c);
    double hs[3] = {0}, hss[3] = {0}, os[3] = {0};
    int64_t nh = 0;
    for (int64_t i = 0; i < c.healthy.n; i++) {
        if (strcmp(c.healthy.meta[i].speed, "med")) continue; /* healthy self-selected is near med */
        cycle_summary s = summarize(&c.healthy, i);
        double v[3] = {s.rom, s.mflex_range, s.abd_peak};
        for (int k = 0; k < 3; k++) hs[k] += v[k], hss[k] += v[k] * v[k];
        nh++;
    }
    for (int64_t i = 0; i < c.onfh.n; i++) {
        cycle_summary s = summarize(&c.onfh, i);
        os[0] += s.rom, os[1] += s.mflex_range, os[2] += s.abd_peak;
    }
    static const char *what[3] = {"hip flexion ROM (deg)", "hip flexion moment range (N.m/kg)",
                                  "abductor moment peak (N.m/kg)"};
    for (int k = 0; k < 3; k++) {
        double hm = hs[k] / nh, hsd = sqrt(fmax(hss[k] / nh - hm * hm, 0)), om = os[k] / c.onfh.n;
        cr_assert_gt(hm, 0, "%s: healthy mean %g", what[k], hm);
        cr_log_info("%s: ONFH %.3f, healthy med %.3f (SD %.3f)", what[k], om, hm, hsd);
        cr_assert_lt(om, hm - 0.5 * hsd, "%s: ONFH %.3f vs healthy %.3f (SD %.3f)", what[k], om, hm, hsd);
    }
    gf_synth_free(&c);
}

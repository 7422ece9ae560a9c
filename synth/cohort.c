/* The synthetic cohort: who walks, at which cadences, how many trials, which
 * subjects each hospital site holds and with which capture system, and the
 * ONFH patients. The physics of one cycle is gf_gait_simulate; the input
 * errors are gf_capture_apply. Parameters and their rationale are in
 * docs/SYNTHETIC.md ("Sites, capture systems and cohorts").
 *
 * Determinism: every random decision draws from its own stream
 * gf_rng_derive(seed, stream(domain, a, b, c)), keyed by what it is about
 * (subject, speed, trial, site), so changing the number of sites changes site
 * membership and site noise but never a subject's body, trials or labels. */
#include "synth/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth/gait.h"

enum { SLOW, MED, FAST, N_SPEEDS };
#define MAX_TRIALS 4
#define POOL (GF_SYNTH_HEALTHY - GF_SYNTH_TEST)
#define MIN_SITE_SUBJECTS 2
#define TRIAL_KEEP_P 0.99 /* a recorded trial survives QC: ~713 of 720, as in Gait2Hip-60 */

static const char *const speed_names[N_SPEEDS] = {"slow", "med", "fast"};
static const double metronome_spm[N_SPEEDS] = {78.0, 115.0, 135.0};

enum {
    D_SUBJECT = 1, D_TRIAL_PLAN, D_TRIAL_SIM, D_SPLIT, D_BENCH_SESSION, D_BENCH_NOISE,
    D_SITE_ASSIGN, D_SITE_KEEP, D_SITE_SESSION, D_SITE_NOISE,
    D_ONFH_SUBJECT, D_ONFH_SIDE, D_ONFH_TRIAL_SIM, D_ONFH_SESSION, D_ONFH_NOISE,
};

static uint64_t stream(unsigned dom, unsigned a, unsigned b, unsigned c)
{
    return ((uint64_t)dom << 48) | ((uint64_t)(a & 0xffffu) << 32) | ((uint64_t)(b & 0xffffu) << 16) |
           (uint64_t)(c & 0xffffu);
}

static gf_rng rng_for(uint64_t seed, unsigned dom, unsigned a, unsigned b, unsigned c)
{
    gf_rng r;
    gf_rng_derive(&r, seed, stream(dom, a, b, c));
    return r;
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- site archetypes ---- */

typedef struct {
    const char *name;
    gf_capture_system capture;
    double weight;           /* relative cohort size */
    double keep[N_SPEEDS];   /* probability a recorded trial is in the site's data */
    int senior;              /* takes the oldest pool subjects */
} archetype;

static const archetype ARCH[4] = {
    {"optical-lab", GF_CAPTURE_OPTICAL, 1.4, {0.55, 1.0, 0.8}, 0},
    {"imu-clinic", GF_CAPTURE_INERTIAL, 1.1, {1.0, 0.85, 0.7}, 0},
    {"video-clinic", GF_CAPTURE_MARKERLESS, 0.9, {0.7, 0.9, 1.0}, 0},
    {"senior-centre", GF_CAPTURE_INERTIAL, 0.6, {1.0, 0.85, 0.3}, 1},
};

static const archetype *site_arch(int k) { return &ARCH[k % 4]; }

/* Senior centres alternate wearables and a small optical lab across copies. */
static gf_capture_system site_capture(int k)
{
    const archetype *a = site_arch(k);
    if (a->senior && (k / 4) % 2 == 1) return GF_CAPTURE_OPTICAL;
    return a->capture;
}

/* ---- plans: every decision before any simulation ---- */

typedef struct {
    char id[GF_ID_MAX];
    gf_gait_subject g;
    double cadence[N_SPEEDS][MAX_TRIALS]; /* recorded trials first; 0 = none */
    int n_trials[N_SPEEDS];
    int test;                             /* held out for the evaluator */
    int site;                             /* pool subject's site, -1 otherwise */
    unsigned char site_keep[N_SPEEDS][MAX_TRIALS];
} subject_plan;

typedef struct {
    subject_plan h[GF_SYNTH_HEALTHY];
    subject_plan p[GF_SYNTH_ONFH];
    int n_sites;
    int size[GF_SYNTH_MAX_SITES];
} cohort_plan;

/* Height, mass and age of a healthy adult: sex-specific stature, BMI rising
 * mildly with age, clamped to the Gait2Hip-60 ranges. Rounded like a lab
 * records them (cm, 0.1 kg). */
static void draw_body(gf_rng *r, gf_gait_subject *g, double p_female, double age_lo, double age_hi,
                      double bmi_mean)
{
    g->female = gf_rng_uniform(r) < p_female;
    g->age_y = round(gf_rng_range(r, age_lo, age_hi));
    double h = g->female ? 1.645 + 0.060 * gf_rng_normal(r) : 1.775 + 0.065 * gf_rng_normal(r);
    h = round(clamp(h, 1.55, 1.92) * 100.0) / 100.0;
    double bmi = clamp(bmi_mean + 0.06 * (g->age_y - 42.0) + 2.4 * gf_rng_normal(r), 18.5, 30.0);
    g->height_m = h;
    g->mass_kg = round(clamp(bmi * h * h, 48.0, 100.0) * 10.0) / 10.0;
    for (int d = 0; d < GF_STYLE_DIMS; d++) g->style[d] = gf_rng_normal(r);
    for (int d = 0; d < GF_ONFH_DIMS; d++) g->onfh_style[d] = gf_rng_normal(r);
}

static void plan_healthy_subject(uint64_t seed, int s, subject_plan *sp)
{
    memset(sp, 0, sizeof *sp);
    snprintf(sp->id, sizeof sp->id, "H%02d", s + 1);
    gf_rng r = rng_for(seed, D_SUBJECT, (unsigned)s, 0, 0);
    draw_body(&r, &sp->g, 0.5, 20.0, 65.0, 23.0);
    sp->site = -1;
    for (int v = 0; v < N_SPEEDS; v++)
        for (int t = 0; t < MAX_TRIALS; t++) {
            gf_rng tr = rng_for(seed, D_TRIAL_PLAN, (unsigned)s, (unsigned)v, (unsigned)t);
            int kept = gf_rng_uniform(&tr) < TRIAL_KEEP_P;
            /* Walkers do not hit a metronome exactly: ~1.2 % SD, within 3 %. */
            double jitter = clamp(0.012 * gf_rng_normal(&tr), -0.03, 0.03);
            if (kept)
                sp->cadence[v][sp->n_trials[v]++] = round(metronome_spm[v] * (1.0 + jitter) * 10.0) / 10.0;
        }
}

/* End-stage ONFH patients: older, mostly men, right hip affected in 7 of 9
 * (outputs are right side), slower self-selected cadence, 2-4 trials. */
static void plan_onfh(uint64_t seed, cohort_plan *P)
{
    int left[GF_SYNTH_ONFH] = {0};
    gf_rng sr = rng_for(seed, D_ONFH_SIDE, 0, 0, 0);
    for (int n = 0; n < 2;) {
        int i = (int)gf_rng_below(&sr, GF_SYNTH_ONFH);
        if (!left[i]) left[i] = 1, n++;
    }
    for (int i = 0; i < GF_SYNTH_ONFH; i++) {
        subject_plan *sp = &P->p[i];
        memset(sp, 0, sizeof *sp);
        snprintf(sp->id, sizeof sp->id, "P%02d", i + 1);
        sp->site = -1;
        gf_rng r = rng_for(seed, D_ONFH_SUBJECT, (unsigned)i, 0, 0);
        draw_body(&r, &sp->g, 0.3, 30.0, 65.0, 24.5);
        sp->g.onfh = left[i] ? 2 : 1;
        sp->g.onfh_severity = round(gf_rng_range(&r, 0.7, 1.0) * 100.0) / 100.0;
        double self_spm = gf_rng_range(&r, 90.0, 105.0);
        int n = 2 + (int)gf_rng_below(&r, 3);
        for (int t = 0; t < n; t++) {
            double jitter = clamp(0.015 * gf_rng_normal(&r), -0.04, 0.04);
            sp->cadence[0][t] = round(self_spm * (1.0 + jitter) * 10.0) / 10.0;
        }
        sp->n_trials[0] = n;
    }
}

/* Seeded subject-wise split: 12 of 60 held out; depends on the seed only. */
static void plan_split(uint64_t seed, cohort_plan *P)
{
    int idx[GF_SYNTH_HEALTHY];
    for (int i = 0; i < GF_SYNTH_HEALTHY; i++) idx[i] = i;
    gf_rng r = rng_for(seed, D_SPLIT, 0, 0, 0);
    for (int i = GF_SYNTH_HEALTHY - 1; i > 0; i--) {
        int j = (int)gf_rng_below(&r, (uint64_t)i + 1), t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    for (int i = 0; i < GF_SYNTH_TEST; i++) P->h[idx[i]].test = 1;
}

/* Unequal cohort sizes: MIN_SITE_SUBJECTS each, the rest by archetype weight
 * (later copies of an archetype a little smaller), largest remainder. */
static void plan_sizes(cohort_plan *P)
{
    int n = P->n_sites, rest = POOL - MIN_SITE_SUBJECTS * n, given = 0;
    double w[GF_SYNTH_MAX_SITES], wsum = 0, frac[GF_SYNTH_MAX_SITES];
    for (int k = 0; k < n; k++) wsum += w[k] = site_arch(k)->weight * (1.0 - 0.1 * (k / 4));
    for (int k = 0; k < n; k++) {
        double share = rest * w[k] / wsum;
        int whole = (int)floor(share);
        P->size[k] = MIN_SITE_SUBJECTS + whole;
        frac[k] = share - whole;
        given += whole;
    }
    while (given < rest) {
        int best = 0;
        for (int k = 1; k < n; k++) if (frac[k] > frac[best]) best = k;
        P->size[best]++, frac[best] = -1.0, given++;
    }
}

/* > 0 when subject b should come before subject a: older first, then by id. */
static int cmp_older_first(int a, int b, const cohort_plan *P)
{
    double da = P->h[a].g.age_y, db = P->h[b].g.age_y;
    if (da != db) return da < db ? 1 : -1;
    return a - b;
}

/* Senior sites take the oldest pool subjects; the others get a seeded
 * shuffle of the rest, in site order. */
static void plan_membership(uint64_t seed, cohort_plan *P)
{
    int pool[POOL], np = 0;
    for (int s = 0; s < GF_SYNTH_HEALTHY; s++) if (!P->h[s].test) pool[np++] = s;
    /* Insertion sort by age (48 items; qsort has no context argument in C11). */
    for (int i = 1; i < np; i++)
        for (int j = i; j > 0 && cmp_older_first(pool[j - 1], pool[j], P) > 0; j--) {
            int t = pool[j]; pool[j] = pool[j - 1], pool[j - 1] = t;
        }
    int next = 0;
    for (int k = 0; k < P->n_sites; k++)
        if (site_arch(k)->senior)
            for (int i = 0; i < P->size[k]; i++) P->h[pool[next++]].site = k;
    gf_rng r = rng_for(seed, D_SITE_ASSIGN, (unsigned)P->n_sites, 0, 0);
    for (int i = np - 1; i > next; i--) {
        int j = next + (int)gf_rng_below(&r, (uint64_t)(i - next) + 1), t = pool[i];
        pool[i] = pool[j], pool[j] = t;
    }
    for (int k = 0; k < P->n_sites; k++)
        if (!site_arch(k)->senior)
            for (int i = 0; i < P->size[k]; i++) P->h[pool[next++]].site = k;
}

/* Which recorded trials each site holds: its cadence mix, and at least one
 * trial per subject so every member contributes data. */
static void plan_site_trials(uint64_t seed, cohort_plan *P)
{
    for (int s = 0; s < GF_SYNTH_HEALTHY; s++) {
        subject_plan *sp = &P->h[s];
        if (sp->site < 0) continue;
        int any = 0;
        for (int v = 0; v < N_SPEEDS; v++)
            for (int t = 0; t < sp->n_trials[v]; t++) {
                gf_rng r = rng_for(seed, D_SITE_KEEP, (unsigned)sp->site, (unsigned)s, (unsigned)(v * MAX_TRIALS + t));
                sp->site_keep[v][t] = gf_rng_uniform(&r) < site_arch(sp->site)->keep[v];
                any |= sp->site_keep[v][t];
            }
        /* Fallback: the first trial of the first recorded speed, med first. */
        static const int order[N_SPEEDS] = {MED, SLOW, FAST};
        for (int i = 0; !any && i < N_SPEEDS; i++)
            if (sp->n_trials[order[i]]) sp->site_keep[order[i]][0] = 1, any = 1;
    }
}

/* ---- simulation ---- */

typedef struct {
    float x[GF_T * GF_DIN];
    float ym[GF_T * GF_NM];
    float yf[GF_T * GF_NF];
    gf_cycle_meta meta;
    double cycle_s;
} true_cycle;

static gf_err simulate(const subject_plan *sp, const char *speed, int v, int t, gf_rng *trial_rng, true_cycle *c)
{
    double cad = sp->cadence[v][t];
    gf_err e = gf_gait_simulate(&sp->g, cad, trial_rng, c->x, c->ym, c->yf);
    if (e != GF_OK) {
        char why[256]; /* gf_fail overwrites the message it would read */
        snprintf(why, sizeof why, "%s", gf_errmsg());
        return gf_fail(e, "simulating %s %s trial %d: %s", sp->id, speed, t + 1, why);
    }
    for (int i = 0; i < GF_T * GF_NM; i++)
        if (!isfinite(c->ym[i])) return gf_fail(GF_ENUMERIC, "%s %s trial %d: non-finite moment", sp->id, speed, t + 1);
    for (int i = 0; i < GF_T * GF_NF; i++)
        if (!isfinite(c->yf[i])) return gf_fail(GF_ENUMERIC, "%s %s trial %d: non-finite force", sp->id, speed, t + 1);
    memset(&c->meta, 0, sizeof c->meta);
    snprintf(c->meta.subject_id, sizeof c->meta.subject_id, "%s", sp->id);
    snprintf(c->meta.speed, sizeof c->meta.speed, "%s", speed);
    c->meta.height_m = sp->g.height_m; /* as a lab records them (cm, 0.1 kg) */
    c->meta.weight_kg = sp->g.mass_kg;
    c->meta.cadence_spm = (float)cad;
    c->meta.trial = t + 1;
    c->cycle_s = 120.0 / cad; /* a stride is two steps */
    return GF_OK;
}

/* Stores cycle c at row i of d with inputs as seen by capture profile p. */
static void store(gf_dataset *d, int64_t i, const true_cycle *c, const gf_capture_profile *p, gf_rng *session,
                  gf_rng *noise)
{
    gf_capture_apply(p, c->cycle_s, session, noise, c->x, d->x + (size_t)i * GF_T * GF_DIN);
    memcpy(d->ym + (size_t)i * GF_T * GF_NM, c->ym, sizeof c->ym);
    memcpy(d->yf + (size_t)i * GF_T * GF_NF, c->yf, sizeof c->yf);
    d->meta[i] = c->meta;
}

static void copy_row(gf_dataset *dst, int64_t j, const gf_dataset *src, int64_t i)
{
    memcpy(dst->x + (size_t)j * GF_T * GF_DIN, src->x + (size_t)i * GF_T * GF_DIN, sizeof(float) * GF_T * GF_DIN);
    memcpy(dst->ym + (size_t)j * GF_T * GF_NM, src->ym + (size_t)i * GF_T * GF_NM, sizeof(float) * GF_T * GF_NM);
    memcpy(dst->yf + (size_t)j * GF_T * GF_NF, src->yf + (size_t)i * GF_T * GF_NF, sizeof(float) * GF_T * GF_NF);
    dst->meta[j] = src->meta[i];
}

static gf_err alloc_all(const cohort_plan *P, gf_synth_cohort *out)
{
    int64_t nh = 0, nt = 0, nsite[GF_SYNTH_MAX_SITES] = {0}, no = 0;
    for (int s = 0; s < GF_SYNTH_HEALTHY; s++) {
        const subject_plan *sp = &P->h[s];
        for (int v = 0; v < N_SPEEDS; v++)
            for (int t = 0; t < sp->n_trials[v]; t++) {
                nh++;
                nt += sp->test;
                if (sp->site >= 0) nsite[sp->site] += sp->site_keep[v][t];
            }
    }
    for (int i = 0; i < GF_SYNTH_ONFH; i++) no += P->p[i].n_trials[0];
    GF_TRY(gf_dataset_alloc(&out->healthy, nh, 1, 1));
    GF_TRY(gf_dataset_alloc(&out->healthy_test, nt, 1, 1));
    GF_TRY(gf_dataset_alloc(&out->onfh, no, 1, 1));
    for (int k = 0; k < P->n_sites; k++) GF_TRY(gf_dataset_alloc(&out->sites[k].data, nsite[k], 1, 1));
    return GF_OK;
}

static void name_sites(const cohort_plan *P, gf_synth_cohort *out)
{
    out->n_sites = P->n_sites;
    for (int k = 0; k < P->n_sites; k++) {
        gf_synth_site *st = &out->sites[k];
        if (k < 4) snprintf(st->name, sizeof st->name, "%s", site_arch(k)->name);
        else snprintf(st->name, sizeof st->name, "%s-%d", site_arch(k)->name, k / 4 + 1);
        st->capture = gf_capture_default(site_capture(k));
    }
}

static gf_err build_healthy(uint64_t seed, const cohort_plan *P, gf_synth_cohort *out)
{
    const gf_capture_profile bench = gf_capture_default(GF_CAPTURE_OPTICAL);
    int64_t ih = 0, it = 0, isite[GF_SYNTH_MAX_SITES] = {0};
    true_cycle c;
    for (int s = 0; s < GF_SYNTH_HEALTHY; s++) {
        const subject_plan *sp = &P->h[s];
        for (int v = 0; v < N_SPEEDS; v++) {
            for (int t = 0; t < sp->n_trials[v]; t++) {
                gf_rng tr = rng_for(seed, D_TRIAL_SIM, (unsigned)s, (unsigned)v, (unsigned)t);
                GF_TRY(simulate(sp, speed_names[v], v, t, &tr, &c));
                /* Session rngs are re-derived per cycle: one session, one offset. */
                gf_rng ses = rng_for(seed, D_BENCH_SESSION, (unsigned)s, (unsigned)v, 0);
                gf_rng noi = rng_for(seed, D_BENCH_NOISE, (unsigned)s, (unsigned)v, (unsigned)t);
                store(&out->healthy, ih, &c, &bench, &ses, &noi);
                if (sp->test) copy_row(&out->healthy_test, it++, &out->healthy, ih);
                ih++;
                int k = sp->site;
                if (k < 0 || !sp->site_keep[v][t]) continue;
                ses = rng_for(seed, D_SITE_SESSION, (unsigned)k, (unsigned)s, (unsigned)v);
                noi = rng_for(seed, D_SITE_NOISE, (unsigned)k, (unsigned)s, (unsigned)(v * MAX_TRIALS + t));
                store(&out->sites[k].data, isite[k]++, &c, &out->sites[k].capture, &ses, &noi);
            }
        }
    }
    return GF_OK;
}

static gf_err build_onfh(uint64_t seed, const cohort_plan *P, gf_synth_cohort *out)
{
    const gf_capture_profile lab = gf_capture_default(GF_CAPTURE_OPTICAL);
    int64_t io = 0;
    true_cycle c;
    for (int i = 0; i < GF_SYNTH_ONFH; i++) {
        const subject_plan *sp = &P->p[i];
        for (int t = 0; t < sp->n_trials[0]; t++) {
            gf_rng tr = rng_for(seed, D_ONFH_TRIAL_SIM, (unsigned)i, (unsigned)t, 0);
            GF_TRY(simulate(sp, "self", 0, t, &tr, &c));
            gf_rng ses = rng_for(seed, D_ONFH_SESSION, (unsigned)i, 0, 0);
            gf_rng noi = rng_for(seed, D_ONFH_NOISE, (unsigned)i, (unsigned)t, 0);
            store(&out->onfh, io++, &c, &lab, &ses, &noi);
        }
    }
    return GF_OK;
}

static gf_err build(uint64_t seed, cohort_plan *P, gf_synth_cohort *out)
{
    for (int s = 0; s < GF_SYNTH_HEALTHY; s++) plan_healthy_subject(seed, s, &P->h[s]);
    plan_split(seed, P);
    plan_sizes(P);
    plan_membership(seed, P);
    plan_site_trials(seed, P);
    plan_onfh(seed, P);
    name_sites(P, out);
    GF_TRY(alloc_all(P, out));
    GF_TRY(build_healthy(seed, P, out));
    return build_onfh(seed, P, out);
}

/* out is overwritten, not freed: pass a zeroed or already freed cohort. On
 * failure out holds nothing (everything allocated is released). */
gf_err gf_synth_build(uint64_t seed, int n_sites, gf_synth_cohort *out)
{
    if (!out) return gf_fail(GF_EINVAL, "gf_synth_build: no output cohort");
    memset(out, 0, sizeof *out);
    /* 48 pool subjects and at least 2 per site would allow 24 sites; the
     * cohort struct holds GF_SYNTH_MAX_SITES, so more are refused, not capped. */
    if (n_sites < 1 || n_sites > GF_SYNTH_MAX_SITES)
        return gf_fail(GF_ERANGE, "sites: %d outside [1, %d] (%d pool subjects, at least %d per site)", n_sites,
                       GF_SYNTH_MAX_SITES, POOL, MIN_SITE_SUBJECTS);
    cohort_plan *P = calloc(1, sizeof *P);
    if (!P) return gf_fail(GF_ENOMEM, "out of memory planning the synthetic cohort");
    P->n_sites = n_sites;
    gf_err e = build(seed, P, out);
    free(P);
    if (e != GF_OK) gf_synth_free(out);
    return e;
}

void gf_synth_free(gf_synth_cohort *c)
{
    if (!c) return;
    gf_dataset_free(&c->healthy);
    gf_dataset_free(&c->healthy_test);
    gf_dataset_free(&c->onfh);
    for (int k = 0; k < GF_SYNTH_MAX_SITES; k++) gf_dataset_free(&c->sites[k].data);
    memset(c, 0, sizeof *c);
}

/* gaitfed bench secagg: one simulated secure-aggregation round (a throw-away
 * consortium CA and N site identities in a temporary directory, random float
 * updates weighted by random sample counts, fixed-point encoding, every
 * protocol phase in process, a fraction of the sites dropping after the share
 * phase). Checks the unmasked sum against the plain sum of the survivors'
 * encoded updates and prints client time per party (per phase), server time,
 * bytes uploaded per party, a plain float sum of the same updates and the
 * ratio; `sum_exact=1` only after the check passed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/rng.h"
#include "crypto/fixpoint.h"
#include "crypto/identity.h"
#include "crypto/pki.h"
#include "crypto/secagg.h"

static const char *USAGE =
    "gaitfed bench secagg --sites N --params P [--dropout F (0)] [--neighbours K] [--threshold T]\n"
    "                     [--threads T (2)] [--seed S] [--clip C (1.0)]";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

int bench_secagg(int argc, char **argv)
{
    const char *sites_s = NULL, *params_s = NULL, *drop_s = "0", *k_s = NULL, *t_s = NULL, *thr_s = "2",
               *seed_s = "1", *clip_s = "1.0";
    cli_opt opts[] = {{"--sites", 1, &sites_s},  {"--params", 1, &params_s}, {"--dropout", 1, &drop_s},
                      {"--neighbours", 1, &k_s}, {"--threshold", 1, &t_s},   {"--threads", 1, &thr_s},
                      {"--seed", 1, &seed_s},    {"--clip", 1, &clip_s}};
    int rc = cli_parse("bench secagg", USAGE, argc, argv, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    if (!sites_s || !params_s) return cli_usage("bench secagg", USAGE, "--sites and --params are required");
    long N, P, K = 0, T = 0, threads, seed;
    double F, clip;
    if ((rc = cli_long("bench secagg", USAGE, "--sites", sites_s, 2, GF_SECAGG_MAX_PARTIES, &N))) return rc;
    if ((rc = cli_long("bench secagg", USAGE, "--params", params_s, 1, (long)GF_SECAGG_MAX_LEN, &P))) return rc;
    if ((rc = cli_double("bench secagg", USAGE, "--dropout", drop_s, 0, 0.9, &F))) return rc;
    if (k_s && (rc = cli_long("bench secagg", USAGE, "--neighbours", k_s, 2, N - 1, &K))) return rc;
    if (t_s && (rc = cli_long("bench secagg", USAGE, "--threshold", t_s, 1, N, &T))) return rc;
    if ((rc = cli_long("bench secagg", USAGE, "--threads", thr_s, 1, 64, &threads))) return rc;
    if ((rc = cli_long("bench secagg", USAGE, "--seed", seed_s, 0, 0x7fffffffL, &seed))) return rc;
    if ((rc = cli_double("bench secagg", USAGE, "--clip", clip_s, 1e-6, 1e6, &clip))) return rc;

    gf_secagg_params p;
    gf_err e = gf_secagg_params_default(1, (uint32_t)N, (uint32_t)P, clip, &p);
    if (e) return cli_fail(e);
    if (K) {
        p.k = (uint32_t)K;
        p.t = p.k == p.n - 1 ? (p.k + 1) / 2 + 1 : 2 * (p.k + 1) / 3 + 1;
    }
    if (T) p.t = (uint32_t)T;
    if ((e = gf_secagg_params_check(&p))) return cli_usage("bench secagg", USAGE, "%s", gf_errmsg());
    gf_fixpoint fp;
    if ((e = gf_fixpoint_plan(p.n, p.clip, p.scale, &fp))) return cli_fail(e);

    /* Throw-away consortium. */
    const char *tmp = getenv("TMPDIR");
    char dir[1024], ca[1100], path[1300];
    snprintf(dir, sizeof dir, "%s/gaitfed-bench-secagg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return cli_fail(gf_fail(GF_EIO, "bench secagg: cannot create a temporary directory"));
    snprintf(ca, sizeof ca, "%s/ca", dir);
    gf_identity **ids = calloc((size_t)N, sizeof *ids);
    gf_trust *trust = NULL;
    float **x = calloc((size_t)N, sizeof *x);
    uint32_t **q = calloc((size_t)N, sizeof *q);
    uint32_t *sum = calloc((size_t)P, 4), *want = calloc((size_t)P, 4);
    double *cnt = calloc((size_t)N, sizeof *cnt);
    gf_secagg_drop *drops = calloc((size_t)N, sizeof *drops);
    float *fsum = calloc((size_t)P, sizeof *fsum), *dec = calloc((size_t)P, sizeof *dec);
    if (!ids || !x || !q || !sum || !want || !cnt || !drops || !fsum || !dec) e = gf_fail(GF_ENOMEM, "bench secagg: out of memory");
    double t_pki = now_s();
    if (!e) e = gf_pki_init(ca, "bench", 60);
    for (long i = 0; !e && i < N; i++) {
        char name[32], kit[1400];
        snprintf(name, sizeof name, "site%04ld", i + 1);
        gf_pki_issue_opts o = {.name = name, .role = GF_ROLE_HOSPITAL, .days = 20};
        e = gf_pki_issue(ca, &o, NULL);
        snprintf(kit, sizeof kit, "%s/kits/%s", ca, name);
        if (!e) e = gf_identity_load_kit(kit, &ids[i]);
    }
    snprintf(path, sizeof path, "%s/ca.pem", ca);
    if (!e) e = gf_trust_load(path, NULL, &trust);
    t_pki = now_s() - t_pki;

    /* Updates, weights, encoding (timed per party: it is client work). */
    gf_rng r;
    gf_rng_seed(&r, (uint64_t)seed);
    double tot = 0, t_enc = 0, t_enc_max = 0;
    for (long i = 0; i < N; i++) tot += cnt[i] = 50 + (double)gf_rng_below(&r, 451);
    for (long i = 0; !e && i < N; i++) {
        x[i] = malloc((size_t)P * sizeof **x);
        q[i] = malloc((size_t)P * 4);
        if (!x[i] || !q[i]) { e = gf_fail(GF_ENOMEM, "bench secagg: out of memory"); break; }
        for (long j = 0; j < P; j++) x[i][j] = (float)(0.05 * gf_rng_normal(&r));
        double t0 = now_s();
        e = gf_fixpoint_encode(&fp, x[i], (size_t)P, cnt[i] / tot, q[i]);
        double dt = now_s() - t0;
        t_enc += dt;
        if (dt > t_enc_max) t_enc_max = dt;
    }
    t_enc /= (double)N;
    /* Dropouts: floor(F·N) sites chosen at random never send a masked input. */
    long n_drop = (long)floor(F * (double)N + 1e-9);
    for (long d = 0; d < n_drop; d++) {
        long i;
        do i = (long)gf_rng_below(&r, (uint64_t)N); while (drops[i]);
        drops[i] = GF_SA_DROP_MASK;
    }
    gf_secagg_sim_stats st;
    if (!e) e = gf_secagg_sim_run(&p, (const gf_identity *const *)ids, trust, (const uint32_t *const *)q, drops,
                                  (int)threads, sum, &st);
    int exact = 0;
    double plain_s = 0, max_err = 0, wsum = 0;
    if (!e) {
        for (long i = 0; i < N; i++)
            if (!drops[i])
                for (long j = 0; j < P; j++) want[j] += q[i][j];
        exact = !memcmp(sum, want, (size_t)P * 4);
        /* Baseline: the plain weighted float sum of the same survivors' updates. */
        double t0 = now_s();
        for (long i = 0; i < N; i++) {
            if (drops[i]) continue;
            float w = (float)(cnt[i] / tot);
            const float *xi = x[i];
            for (long j = 0; j < P; j++) fsum[j] += w * xi[j];
        }
        plain_s = now_s() - t0;
        for (long i = 0; i < N; i++) wsum += drops[i] ? 0 : cnt[i] / tot;
        gf_fixpoint_decode(&fp, sum, (size_t)P, dec);
        for (long j = 0; j < P; j++) {
            double d = fabs((double)dec[j] - fsum[j]);
            if (d > max_err) max_err = d;
        }
    }
    if (!e) {
        static const char *ph[GF_SA_PHASES] = {"advertise", "share", "mask", "consistency", "unmask"};
        double round_s = st.client_total_mean * st.u1 + t_enc * N + st.server_collect + st.server_sum + st.server_unmask;
        printf("bench secagg: %ld sites, %ld parameters, k=%u neighbours (%s), threshold t=%u of %u holders, "
               "dropout %.2f (%ld sites after sharing), %ld server threads\n",
               N, P, p.k, p.k == p.n - 1 ? "full graph" : "SecAgg+ ring", p.t, p.k + 1, F, n_drop, threads);
        printf("fixpoint: clip %g scale 2^%d (max |q| %lld, n*max %.0f < 2^31)\n", p.clip, (int)log2(p.scale),
               (long long)fp.max_q, (double)fp.max_q * N);
        printf("setup_pki_s=%.3f (CA + %ld identities, not part of the round)\n", t_pki, N);
        printf("client_encode_s mean=%.4f max=%.4f\n", t_enc, t_enc_max);
        for (int i = 0; i < GF_SA_PHASES; i++)
            printf("client_%s_s mean=%.4f max=%.4f up_bytes=%.0f\n", ph[i], st.client_mean[i], st.client_max[i],
                   st.up_bytes_mean[i]);
        printf("client_per_party_s mean=%.4f max=%.4f (protocol phases; plus encoding: mean %.4f)\n",
               st.client_total_mean, st.client_total_max, st.client_total_mean + t_enc);
        printf("server_s route+collect=%.4f sum=%.4f unmask=%.4f total=%.4f\n", st.server_collect, st.server_sum,
               st.server_unmask, st.server_collect + st.server_sum + st.server_unmask);
        double k = p.k ? p.k : 1;
        printf("upload_per_party_bytes=%.0f masked_vector=%.0f (= 4*%ld + 28) overhead_per_peer=%.1f "
               "(shares %.0f + unmask %.0f over %u peers; advert %.0f, consistency %.0f once)\n",
               st.up_total_mean, st.up_bytes_mean[2], P, (st.up_bytes_mean[1] + st.up_bytes_mean[4]) / k,
               st.up_bytes_mean[1], st.up_bytes_mean[4], p.k, st.up_bytes_mean[0], st.up_bytes_mean[3]);
        printf("survivors U1=%u U2=%u U3=%u\n", st.u1, st.u2, st.u3);
        printf("decoded_vs_float_max_abs_err=%.3g (bound %u*0.5/scale = %.3g; survivors' weight %.3f)\n", max_err,
               st.u3, st.u3 * 0.5 / p.scale, wsum);
        printf("plain_float_sum_s=%.5f secure_round_s=%.4f (all clients + server, one core each) ratio=%.1f\n", plain_s,
               round_s, plain_s > 0 ? round_s / plain_s : 0);
        printf("sum_exact=%d\n", exact);
    }
    for (long i = 0; i < N; i++) {
        if (ids) gf_identity_free(ids[i]);
        if (x) free(x[i]);
        if (q) free(q[i]);
    }
    gf_trust_free(trust);
    free(ids), free(x), free(q), free(sum), free(want), free(cnt), free(drops), free(fsum), free(dec);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (e) return cli_fail(e);
    if (!exact) {
        fprintf(stderr, "gaitfed: bench secagg: the unmasked sum differs from the plain sum\n");
        return 1;
    }
    return 0;
}

#include <stdio.h>
#include <time.h>

#include "cli/cli.h"
#include "common/log.h"
#include "synth/synth.h"

static const char *USAGE = "gaitfed synth --out DIR [--seed N] [--sites N]";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_synth(int argc, char **argv)
{
    const char *out = NULL, *seed_s = "1", *sites_s = "4";
    cli_opt opts[] = {{"--out", 1, &out}, {"--seed", 1, &seed_s}, {"--sites", 1, &sites_s}};
    int rc = cli_parse("synth", USAGE, argc, argv, opts, 3, NULL, 0, NULL);
    if (rc) return rc;
    if (!out) return cli_usage("synth", USAGE, "--out is required");
    long seed, n_sites;
    if ((rc = cli_long("synth", USAGE, "--seed", seed_s, 0, 2147483647L, &seed))) return rc;
    if ((rc = cli_long("synth", USAGE, "--sites", sites_s, 1, GF_SYNTH_MAX_SITES, &n_sites))) return rc;

    double t0 = now_s();
    gf_synth_cohort c;
    gf_progress("synth: simulating %d healthy subjects, %d patients, %ld sites", GF_SYNTH_HEALTHY, GF_SYNTH_ONFH,
                n_sites);
    gf_err e = gf_synth_build((uint64_t)seed, (int)n_sites, &c);
    if (e) { gf_progress_done(); return cli_fail(e); }
    double t1 = now_s();
    e = gf_synth_write(&c, out);
    double t2 = now_s();
    if (e) { gf_synth_free(&c); return cli_fail(e); }
    printf("synth: seed %ld -> %s (built in %.2f s, written in %.2f s)\n", seed, out, t1 - t0, t2 - t1);
    printf("  Gait2Hip_MF60.npz / Gait2Hip_JM60.npz  %lld cycles, %d subjects\n", (long long)c.healthy.n,
           GF_SYNTH_HEALTHY);
    printf("  ONFH_MF9.npz / ONFH_JM9.npz            %lld cycles, %d patients\n", (long long)c.onfh.n, GF_SYNTH_ONFH);
    printf("  cohorts/healthy-test.db                %lld cycles, %d subjects\n", (long long)c.healthy_test.n,
           GF_SYNTH_TEST);
    printf("  cohorts/onfh.db                        %lld cycles\n", (long long)c.onfh.n);
    for (int i = 0; i < c.n_sites; i++)
        printf("  sites/%-32s %lld cycles, %s capture\n", c.sites[i].name, (long long)c.sites[i].data.n,
               gf_capture_name(c.sites[i].capture.system));
    gf_synth_free(&c);
    return 0;
}

/* The synthetic healthy cohort's inputs against the real Gait2Hip-60 pool
 * (docs/SYNTHETIC.md "the lab's conventions"): the committed real statistics
 * are what tools/real_input_stats.py extracts from the published checkpoint,
 * and `gaitfed synth` for seeds 1-3 matches them on every channel (mean within
 * 0.3 real SD, SD ratio 0.75-1.25; numpy, tests/py/check_input_stats.py). The
 * negative controls show the check fails on the same files with the left
 * convention undone or every channel shifted by 0.5 real SD. */
#include <criterion/criterion.h>

#include "tests/unit/testutil.h"

#define REAL "tests/data/gait2hip-published/real_input_stats.json"

Test(synth_inputs, real_input_stats_regenerate_from_the_checkpoint)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    int rc = tu_sh("cd '%s' && '%s' tools/real_input_stats.py --out '%s/r.json' && cmp -s '%s/r.json' " REAL,
                   tu_root(), tu_python(), d, d);
    cr_assert_eq(rc, 0, "regenerated statistics differ from " REAL " (or the tool failed)");
}

Test(synth_inputs, healthy_cohort_matches_the_real_pool_on_seeds_1_to_3)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    for (int seed = 1; seed <= 3; seed++)
        cr_assert_eq(tu_sh("'%s' synth --out '%s/s%d' --seed %d > '%s/synth%d.log' 2>&1", tu_bin(), d, seed, seed, d,
                           seed),
                     0, "gaitfed synth --seed %d failed (see %s/synth%d.log)", seed, d, seed);
    const char *files = "'%s/s1/Gait2Hip_MF60.npz' '%s/s2/Gait2Hip_MF60.npz' '%s/s3/Gait2Hip_MF60.npz'";
    char list[3 * 1100];
    snprintf(list, sizeof list, files, d, d, d);
    int rc = tu_sh("cd '%s' && '%s' tests/py/check_input_stats.py " REAL " %s >&2", tu_root(), tu_python(), list);
    cr_assert_eq(rc, 0, "the synthetic inputs miss the real pool's statistics (table above)");
    /* negative controls: the same files, altered, must fail */
    const char *bad[] = {"flip-left", "shift-half-sd"};
    for (int k = 0; k < 2; k++) {
        rc = tu_sh("cd '%s' && '%s' tests/py/check_input_stats.py " REAL " %s --perturb %s > '%s/neg%d.log' 2>&1",
                   tu_root(), tu_python(), list, bad[k], d, k);
        cr_assert_eq(rc, 1, "check_input_stats.py accepted the cohort with --perturb %s (exit %d)", bad[k], rc);
    }
}

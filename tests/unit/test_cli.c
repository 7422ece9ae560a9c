/* The CLI as a user drives it: synth -> info -> export -> import, checked by
 * numpy/sqlite3 and by byte comparison; bad input gives one line and no write. */
#include <criterion/criterion.h>

#include "tests/unit/testutil.h"

static char g_synth[1024];

/* One synthetic cohort shared by the tests of this file (seed 3). */
static const char *synth_dir(void)
{
    if (g_synth[0]) return g_synth;
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    snprintf(g_synth, sizeof g_synth, "%s", d);
    cr_assert_eq(tu_sh("%s synth --out %s --seed 3 > %s/synth.log 2>&1", tu_bin(), g_synth, g_synth), 0,
                 "gaitfed synth failed, see %s/synth.log", g_synth);
    return g_synth;
}

Test(cli, synth_layout_checked_by_numpy)
{
    const char *d = synth_dir();
    cr_assert_eq(tu_sh("%s %s/tests/py/check_synth_files.py %s", tu_python(), tu_root(), d), 0);
    for (const char *f = "optical-lab\0imu-clinic\0video-clinic\0senior-centre\0"; *f; f += strlen(f) + 1)
        cr_assert_eq(tu_sh("test -s %s/sites/%s.db", d, f), 0, "sites/%s.db missing", f);
    cr_assert_eq(tu_sh("test -s %s/cohorts/onfh.db", d), 0);
}

Test(cli, synth_same_seed_same_bytes)
{
    const char *d = synth_dir();
    const char *e = tu_tmpdir();
    cr_assert_eq(tu_sh("%s synth --out %s --seed 3 >/dev/null 2>&1", tu_bin(), e), 0);
    cr_assert_eq(tu_sh("cd %s && for f in *.npz sites/*.db cohorts/*.db; do cmp -s $f %s/$f || exit 1; done", d, e), 0,
                 "same seed gave different bytes");
    const char *g = tu_tmpdir();
    cr_assert_eq(tu_sh("%s synth --out %s --seed 4 --sites 2 >/dev/null 2>&1", tu_bin(), g), 0);
    cr_assert_neq(tu_sh("cmp -s %s/Gait2Hip_MF60.npz %s/Gait2Hip_MF60.npz", d, g), 0, "seed did not matter");
    cr_assert_eq(tu_sh("test $(ls %s/sites | wc -l) -eq 2", g), 0, "--sites 2 should give two site stores");
}

Test(cli, export_import_round_trip_is_byte_exact)
{
    const char *d = synth_dir();
    const char *t = tu_tmpdir();
    cr_assert_eq(tu_sh("%s export --db %s/sites/optical-lab.db --npz %s/mf.npz --task forces >/dev/null", tu_bin(), d, t), 0);
    cr_assert_eq(tu_sh("%s export --db %s/sites/optical-lab.db --npz %s/jm.npz --task moments >/dev/null", tu_bin(), d, t), 0);
    cr_assert_eq(tu_sh("%s import --db %s/copy.db --npz %s/mf.npz --npz %s/jm.npz >/dev/null", tu_bin(), t, t, t), 0);
    cr_assert_eq(tu_sh("%s export --db %s/copy.db --npz %s/mf2.npz >/dev/null", tu_bin(), t, t), 0);
    cr_assert_eq(tu_sh("cmp %s/mf.npz %s/mf2.npz", t, t), 0, "export after import differs");
    cr_assert_eq(tu_sh("%s info %s/copy.db | grep -q 'cycles: '", tu_bin(), t), 0);
    cr_assert_eq(tu_sh("%s info %s/mf.npz | grep -q 'task forces'", tu_bin(), t), 0);
}

Test(cli, bad_input_one_line_error_and_no_write)
{
    const char *d = synth_dir();
    const char *t = tu_tmpdir();
    cr_assert_eq(tu_sh("%s import --db %s/s.db --npz %s/ONFH_MF9.npz >/dev/null", tu_bin(), t, d), 0);
    /* A truncated NPZ: non-zero exit, one line on stderr naming the file, the store unchanged. */
    cr_assert_eq(tu_sh("head -c 5000 %s/Gait2Hip_MF60.npz > %s/trunc.npz", d, t), 0);
    cr_assert_eq(tu_sh("sqlite3 %s/s.db 'SELECT count(*) FROM cycles' > %s/before", t, t), 0);
    cr_assert_eq(tu_sh("%s import --db %s/s.db --npz %s/trunc.npz 2> %s/err", tu_bin(), t, t, t), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && grep -q trunc.npz %s/err", t, t), 0, "expected one line naming the file");
    cr_assert_eq(tu_sh("sqlite3 %s/s.db 'SELECT count(*) FROM cycles' | cmp -s - %s/before", t, t), 0, "store changed");
    /* Importing the same trials again is refused, nothing duplicated. */
    cr_assert_eq(tu_sh("%s import --db %s/s.db --npz %s/ONFH_MF9.npz 2>/dev/null", tu_bin(), t, d), 1);
    cr_assert_eq(tu_sh("sqlite3 %s/s.db 'SELECT count(*) FROM cycles' | cmp -s - %s/before", t, t), 0, "store changed");
    /* Usage errors exit 2. */
    cr_assert_eq(tu_sh("%s synth --out %s/x --sites 0 2>/dev/null", tu_bin(), t), 2);
    cr_assert_eq(tu_sh("%s export --db %s/nope.db --npz %s/o.npz 2>/dev/null", tu_bin(), t, t), 1);
    cr_assert_eq(tu_sh("test ! -e %s/o.npz", t), 0);
    cr_assert_eq(tu_sh("%s frobnicate 2>/dev/null", tu_bin()), 2);
}

Test(cli, opensim_import_of_real_walk)
{
    const char *t = tu_tmpdir();
    const char *o = tu_opensim_dir();
    /* The ID file covers 0.4-1.6 s, shorter than any right stride: refused, nothing written. */
    cr_assert_eq(tu_sh("%s import --db %s/s01.db --opensim %s/subject01_walk1_ik.mot --grf %s/subject01_walk1_grf.mot "
                       "--id %s/std_subject01_InverseDynamics.sto --mass 72.6 --subject S01 2> %s/err",
                       tu_bin(), t, o, o, o, t),
                 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && test ! -e %s/s01.db", t, t), 0);
    /* Inputs only: the two right strides between 0.62 and 3.08 s. */
    cr_assert_eq(tu_sh("%s import --db %s/s01.db --opensim %s/subject01_walk1_ik.mot --grf %s/subject01_walk1_grf.mot "
                       "--mass 72.6 --subject S01 > %s/out 2>&1", tu_bin(), t, o, o, t), 0);
    cr_assert_eq(tu_sh("%s info %s/s01.db | grep -q 'cycles: 2 (1 subjects'", tu_bin(), t), 0);
    /* The same recording again is refused; as trial 2 it is taken. */
    cr_assert_eq(tu_sh("%s import --db %s/s01.db --opensim %s/subject01_walk1_ik.mot --grf %s/subject01_walk1_grf.mot "
                       "--mass 72.6 --subject S01 2>/dev/null", tu_bin(), t, o, o), 1);
    cr_assert_eq(tu_sh("%s import --db %s/s01.db --opensim %s/subject01_walk1_ik.mot --grf %s/subject01_walk1_grf.mot "
                       "--mass 72.6 --subject S01 --trial 2 >/dev/null", tu_bin(), t, o, o), 0);
    cr_assert_eq(tu_sh("%s info %s/s01.db | grep -q 'cycles: 4 (1 subjects'", tu_bin(), t), 0);
    cr_assert_eq(tu_sh("%s info %s/subject01_walk1_ik.mot | grep -q 'hip_flexion_r'", tu_bin(), o), 0);
}

/* gaitfed bench train: figures printed, train_seq_per_s last, FLOPs by the
 * documented formula (LSTM, B 2, T 8: 3 * 6512640 - 163840), usage errors
 * exit 2. Runs without OPENBLAS_NUM_THREADS to cover the re-exec. No timing
 * is asserted. */
Test(cli, bench_train_reports)
{
    const char *t = tu_tmpdir();
    cr_assert_eq(tu_sh("env -u OPENBLAS_NUM_THREADS %s bench train --model lstm --batch 2 --len 8 --steps 2 --warmup 1 "
                       "--no-peak > %s/b.txt", tu_bin(), t), 0);
    cr_assert_eq(tu_sh("tail -n 1 %s/b.txt | grep -Eq '^train_seq_per_s=[0-9]+[.][0-9]+$'", t), 0, "last line");
    cr_assert_eq(tu_sh("grep -q '^flops_per_step=1.937e+07 ' %s/b.txt", t), 0, "LSTM FLOPs per step");
    cr_assert_eq(tu_sh("grep -q '^peak_rss_mib=.*activations' %s/b.txt", t), 0, "peak RSS and arenas");
    cr_assert_eq(tu_sh("%s bench train --model transformer --batch 2 --len 8 --steps 1 --warmup 0 --no-peak "
                       "| grep -q '^flops_per_step='", tu_bin()), 0);
    cr_assert_eq(tu_sh("%s bench secagg 2>/dev/null", tu_bin()), 2);
    cr_assert_eq(tu_sh("%s bench train --model nope 2>/dev/null", tu_bin()), 2);
    cr_assert_eq(tu_sh("%s bench train --model lstm --steps 0 2>/dev/null", tu_bin()), 2);
}

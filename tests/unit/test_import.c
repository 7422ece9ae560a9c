/* gaitfed import / export as a hospital holding the public Gait2Hip-60 files
 * or other labs' OpenSim files drives them. Fixtures are written by numpy
 * (tests/py/g2h_public.py) or made from the repository's real OpenSim files
 * (tests/unit/osim_oracle.py); results are checked by numpy, sqlite3 and
 * sha256sum. */
#include <criterion/criterion.h>

#include "tests/unit/testutil.h"

#define PUB "%s %s/tests/py/g2h_public.py"
#define ORACLE "%s %s/tests/unit/osim_oracle.py"
#define OSIM_IK "%s/subject01_walk1_ik.mot"
#define OSIM_GRF "%s/subject01_walk1_grf.mot"

static void pub(const char *args_fmt, const char *d, const char *arg)
{
    char args[1024];
    snprintf(args, sizeof args, args_fmt, d, arg);
    cr_assert_eq(tu_sh(PUB " %s", tu_python(), tu_root(), args), 0, "g2h_public.py %s failed", args);
}

/* The store's files (with any -wal/-shm/-journal) and its sha256, to compare before and after. */
static void snapshot(const char *d, const char *db, const char *out)
{
    cr_assert_eq(tu_sh("cd %s && (ls -a | grep -F %s; sha256sum %s) > %s", d, db, db, out), 0);
}

/* numpy-written public files (forces and moments, float64 heights/weights
 * float32 cannot hold) -> import --site --capture -> export both tasks ->
 * numpy: the eight public arrays are equal, trials numbered per subject and
 * cadence in file order, cadence unknown (0). */
Test(import, public_layout_round_trip_equal_arrays)
{
    char d[1024]; /* tu_dir() reuses its buffer */
    snprintf(d, sizeof d, "%s", tu_dir());
    const char *B = tu_bin();
    pub("write %s%s", d, "");
    cr_assert_eq(tu_sh("cd %s && %s import --db site.db --site north --capture inertial --npz mf.npz --npz jm.npz > out 2> err",
                       d, B), 0, "import failed: see %s/err", d);
    cr_assert_eq(tu_sh("grep -q 'import: 30 cycles (forces+moments) -> site.db (now 5 subjects, 30 cycles)' %s/out", d), 0);
    cr_assert_eq(tu_sh("cd %s && %s info site.db > info", d, B), 0);
    cr_assert_eq(tu_sh("cd %s && grep -qx 'site: north' info && grep -qx 'capture: {\"system\":\"inertial\"}' info && "
                       "grep -q 'cycles: 30 (5 subjects, 30 trials; 30 with forces, 30 with moments)' info", d), 0,
                 "info: see %s/info", d);
    cr_assert_eq(tu_sh("cd %s && %s export --db site.db --npz mf_out.npz --task forces > /dev/null && "
                       "%s export --db site.db --npz jm_out.npz --task moments > /dev/null", d, B, B), 0);
    cr_assert_eq(tu_sh(PUB " compare %s/mf.npz %s/mf_out.npz", tu_python(), tu_root(), d, d), 0, "forces differ");
    cr_assert_eq(tu_sh(PUB " compare %s/jm.npz %s/jm_out.npz", tu_python(), tu_root(), d, d), 0, "moments differ");
    /* Negative control: the comparison sees a change of one height by one ulp. */
    cr_assert_eq(tu_sh("cd %s && %s -c \"import numpy as np; z = dict(np.load('jm.npz')); "
                       "z['height_m'] = np.nextafter(z['height_m'], 9); np.savez('jm_ulp.npz', **z)\"", d, tu_python()), 0);
    cr_assert_neq(tu_sh(PUB " compare %s/jm_ulp.npz %s/jm_out.npz 2>/dev/null", tu_python(), tu_root(), d, d), 0);

    /* float32 heights and weights, one file, no --capture: values equal too,
     * and the capture profile is recorded as unknown. */
    const char *e = tu_dir();
    pub("write %s%s", e, " --f32-meta");
    cr_assert_eq(tu_sh("cd %s && %s import --db s.db --site south --npz jm.npz > /dev/null && "
                       "%s export --db s.db --npz jm_out.npz --task moments > /dev/null", e, B, B), 0);
    cr_assert_eq(tu_sh(PUB " compare %s/jm.npz %s/jm_out.npz", tu_python(), tu_root(), e, e), 0);
    cr_assert_eq(tu_sh("%s info %s/s.db | grep -qx 'capture: {\"system\":\"unknown\"}'", B, e), 0);
    /* --site again without --capture renames the site and keeps its profile. */
    cr_assert_eq(tu_sh("cd %s && %s import --db site.db --site north-2 --opensim " OSIM_IK " --grf " OSIM_GRF
                       " --mass 72.6 --subject S01 > /dev/null 2>&1", d, B, tu_opensim_dir(), tu_opensim_dir()), 0);
    cr_assert_eq(tu_sh("cd %s && %s info site.db > info && grep -qx 'site: north-2' info && "
                       "grep -qx 'capture: {\"system\":\"inertial\"}' info", d, B), 0, "see %s/info", d);
}

/* The reader numbers the trials, so `gaitfed train` and `info` see them as
 * the store does: sqlite3's trial table equals numpy's numbering. */
Test(import, trials_in_the_store_are_numbered_like_numpy)
{
    const char *d = tu_dir();
    pub("write %s%s", d, "");
    cr_assert_eq(tu_sh("cd %s && %s import --db s.db --site x --npz jm.npz > /dev/null", d, tu_bin()), 0);
    cr_assert_eq(tu_sh("cd %s && " PUB " trials jm.npz > want && sqlite3 s.db 'SELECT t.trial FROM cycles c JOIN trials t "
                       "ON c.trial = t.id ORDER BY c.id' > got && cmp -s want got", d, tu_python(), tu_root()), 0,
                 "trial numbers differ: %s/want vs %s/got", d, d);
    cr_assert_eq(tu_sh("test $(sort -u %s/want | wc -l) -ge 3", d), 0, "the fixture must repeat trials");
}

/* A failing import into a path that did not exist leaves nothing there
 * (nor -wal/-shm/-journal), for --npz and --opensim alike. Each failure comes
 * from the store layer ("new.db: import: ..."), i.e. after the store file
 * was created. */
Test(import, failed_import_leaves_no_file)
{
    const char *d = tu_dir(), *B = tu_bin(), *o = tu_opensim_dir();
    pub("write %s%s", d, "");
    pub("bad %s %s", d, "speed");
    pub("bad %s %s", d, "trial0");
    struct { const char *args, *msg; } cases[] = {
        {"--site h --npz bad_speed.npz", "new.db: import: cycle 29 (subject "},
        {"--site h --npz bad_trial0.npz", "new.db: import: cycle 0 (subject "},
        {"--npz bad_trial0.npz --npz mf.npz", "new.db: import: cycle 0 (subject "},
        {"--site h --opensim " OSIM_IK " --grf " OSIM_GRF " --mass 72.6 --subject S01 --speed walk", "new.db: import: cycle 0 (subject S01): speed 'walk'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[2048];
        snprintf(args, sizeof args, cases[i].args, o, o);
        cr_assert_eq(tu_sh("cd %s && %s import --db new.db %s > /dev/null 2> err", d, B, args), 1, "%s", args);
        cr_assert_eq(tu_sh("cd %s && test $(grep -c '^gaitfed: ' err) -eq 1 && tail -n 1 err | grep -qF \"%s\"", d,
                           cases[i].msg), 0, "%s: expected one error line with '%s' (see %s/err)", args, cases[i].msg, d);
        cr_assert_eq(tu_sh("cd %s && test -z \"$(ls -a | grep '^new[.]db')\"", d), 0, "%s left files behind", args);
    }
    /* Control: the same import that succeeds does leave the store. */
    cr_assert_eq(tu_sh("cd %s && %s import --db new.db --site h --npz jm.npz > /dev/null && test -s new.db", d, B), 0);
}

/* A failing import into an existing store leaves it byte for byte as it was,
 * the site identity included (written in the import's transaction). */
Test(import, failed_import_keeps_existing_store_bytes)
{
    const char *d = tu_dir(), *B = tu_bin(), *o = tu_opensim_dir();
    pub("write %s%s", d, "");
    pub("bad %s %s", d, "speed");
    pub("bad %s %s", d, "nan");
    cr_assert_eq(tu_sh("cd %s && %s import --db s.db --site north --capture optical --npz mf.npz > /dev/null", d, B), 0);
    cr_assert_eq(tu_sh("cd %s && %s import --db s.db --opensim " OSIM_IK " --grf " OSIM_GRF
                       " --mass 72.6 --subject S01 > /dev/null 2>&1", d, B, o, o), 0);
    snapshot(d, "s.db", "before");
    const char *bad[] = {
        "--site south --capture markerless --npz mf.npz",                 /* trials already there: fails in the transaction */
        "--npz jm.npz --npz bad_speed.npz",                                /* second file: moments of other cycles */
        "--npz bad_speed.npz",                                             /* refused by the store's validation */
        "--npz mf.npz --npz bad_nan.npz",                                  /* a NaN in the second file */
        "--site south --opensim " OSIM_IK " --grf " OSIM_GRF " --mass 72.6 --subject S01", /* trial 1 of S01 again */
        "--opensim " OSIM_IK " --grf " OSIM_GRF " --mass 72.6 --subject S01 --trial 2 --speed walk",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[2048];
        snprintf(args, sizeof args, bad[i], o, o);
        cr_assert_eq(tu_sh("cd %s && %s import --db s.db %s > /dev/null 2> err", d, B, args), 1, "%s", args);
        cr_assert_eq(tu_sh("test $(grep -c '^gaitfed: ' %s/err) -eq 1", d), 0, "%s: not one error line (%s/err)", args, d);
        snapshot(d, "s.db", "after");
        cr_assert_eq(tu_sh("cmp -s %s/before %s/after", d, d), 0, "%s changed the store or left files (%s/after)", args, d);
    }
    cr_assert_eq(tu_sh("%s info %s/s.db | grep -qx 'site: north'", B, d), 0);
    /* Control: a successful import changes the bytes the check compares. */
    cr_assert_eq(tu_sh("cd %s && %s import --db s.db --opensim " OSIM_IK " --grf " OSIM_GRF
                       " --mass 72.6 --subject S01 --trial 2 > /dev/null 2>&1", d, B, o, o), 0);
    snapshot(d, "s.db", "after");
    cr_assert_neq(tu_sh("cmp -s %s/before %s/after", d, d), 0);
}

Test(import, usage_errors)
{
    const char *d = tu_dir(), *B = tu_bin(), *o = tu_opensim_dir();
    pub("write %s%s", d, "");
    const char *args[] = {
        "--site h --capture lidar --npz jm.npz",
        "--capture optical --npz jm.npz",
        "--site '' --npz jm.npz",
        "--npz jm.npz --grf-columns a,b",
        "--opensim " OSIM_IK " --grf " OSIM_GRF " --mass 72.6 --subject S01 --grf-columns ,l",
        "--opensim " OSIM_IK " --grf " OSIM_GRF " --mass 72.6 --subject S01 --grf-columns r,l,x",
    };
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
        char a[2048];
        snprintf(a, sizeof a, args[i], o, o);
        cr_assert_eq(tu_sh("cd %s && %s import --db u.db %s > /dev/null 2>&1", d, B, a), 2, "%s", a);
    }
    cr_assert_eq(tu_sh("test ! -e %s/u.db", d), 0);
}

/* OpenSim GRF files of other labs: the joint-reaction tutorial's labels
 * import as they are; unknown plate names fail with the columns listed and
 * import with --grf-columns; a wrong name lists the columns too. */
Test(import, opensim_grf_labels_of_other_labs)
{
    const char *d = tu_dir(), *B = tu_bin(), *o = tu_opensim_dir();
    cr_assert_eq(tu_sh("cd %s && " ORACLE " relabel " OSIM_GRF " tutorial.mot 'ground_force_{}=right_foot_force_{}' "
                       "'l_ground_force_{}=left_foot_force_{}' && " ORACLE " relabel " OSIM_GRF " plates.mot "
                       "'ground_force_{}=FP1_{}' 'l_ground_force_{}=FP2_{}'", d, tu_python(), tu_root(), o, tu_python(),
                       tu_root(), o), 0);
    const char *common = "--opensim %s/subject01_walk1_ik.mot --mass 72.6 --subject S01";
    char c[8192];
    snprintf(c, sizeof c, common, o);
    cr_assert_eq(tu_sh("cd %s && %s import --db a.db --site x %s --grf tutorial.mot > out 2> err", d, B, c), 0, "see %s/err", d);
    cr_assert_eq(tu_sh("grep -q 'right heel strikes (right_foot_force_vy; left left_foot_force_vy), 2 cycles' %s/err && "
                       "grep -q '2 cycles (inputs only)' %s/out", d, d), 0, "see %s/err", d);
    cr_assert_eq(tu_sh("cd %s && %s import --db b.db %s --grf plates.mot 2> err", d, B, c), 1);
    cr_assert_eq(tu_sh("cd %s && test $(wc -l < err) -eq 1 && grep -q 'vertical-force-like columns: FP1_vy, FP2_vy' err "
                       "&& test ! -e b.db", d), 0, "see %s/err", d);
    cr_assert_eq(tu_sh("cd %s && %s import --db b.db %s --grf plates.mot --grf-columns FP1_vy,FP2_vy > /dev/null 2> err && "
                       "grep -q '(FP1_vy; left FP2_vy), 2 cycles' err", d, B, c), 0, "see %s/err", d);
    /* The same cycles as the tutorial-labelled file (and so the original). */
    cr_assert_eq(tu_sh("cd %s && for t in a b; do sqlite3 $t.db 'SELECT hex(x) FROM cycles ORDER BY id' > $t.x; done && "
                       "cmp -s a.x b.x", d), 0);
    cr_assert_eq(tu_sh("cd %s && %s import --db c.db %s --grf plates.mot --grf-columns FP3_vy 2> err", d, B, c), 1);
    cr_assert_eq(tu_sh("cd %s && test $(wc -l < err) -eq 1 && grep -q \"no column 'FP3_vy'\" err && "
                       "grep -q 'FP1_vy, FP2_vy' err && test ! -e c.db", d), 0, "see %s/err", d);
}

/* export names the field that is wrong: an OpenSim walk imported without
 * --height has height 0 ("height missing"); a cadence a hand edit put out of
 * range is named with its value. Nothing is written. */
Test(import, export_names_the_wrong_field)
{
    const char *d = tu_dir(), *B = tu_bin(), *o = tu_opensim_dir();
    cr_assert_eq(tu_sh("cd %s && " ORACLE " shift %s/grf_walk.mot grf_shift.mot 0.3", d, tu_python(), tu_root(), o), 0);
    cr_assert_eq(tu_sh("cd %s && %s import --db w.db --site x --opensim %s/coordinates.sto --grf grf_shift.mot "
                       "--id %s/id_walk.sto --mass 75 --subject W2 > /dev/null 2>&1", d, B, o, o), 0);
    cr_assert_eq(tu_sh("cd %s && %s export --db w.db --npz w.npz --task moments 2> err", d, B), 1);
    cr_assert_eq(tu_sh("cd %s && test $(wc -l < err) -eq 1 && grep -q 'w.npz: cycle 0 (subject W2): height missing' err "
                       "&& test ! -e w.npz", d), 0, "see %s/err", d);
    /* With --height the same walk exports; a cadence of 450 is then named. */
    cr_assert_eq(tu_sh("cd %s && %s import --db h.db --opensim %s/coordinates.sto --grf grf_shift.mot --id %s/id_walk.sto "
                       "--mass 75 --height 1.8 --subject W2 > /dev/null 2>&1 && %s export --db h.db --npz h.npz --task "
                       "moments > /dev/null", d, B, o, o, B), 0);
    cr_assert_eq(tu_sh("cd %s && rm h.npz && sqlite3 h.db 'UPDATE cycles SET cadence_spm = 450' && "
                       "%s export --db h.db --npz h.npz --task moments 2> err", d, B), 1);
    cr_assert_eq(tu_sh("cd %s && grep -q 'cycle 0 (subject W2): cadence 450 steps/min out of range \\[0, 400\\]' err "
                       "&& test ! -e h.npz", d), 0, "see %s/err", d);
}

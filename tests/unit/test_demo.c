/* `gaitfed demo` end to end (small: 2 rounds, LSTM): every process started
 * and stopped, a line per round, summary.json as documented (checked by an
 * independent Python reading), the audit chain intact, and a second run
 * replacing the first while a foreign directory is never touched. */
#include "testutil.h"

static int count_lines(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += !strncmp(line, prefix, strlen(prefix));
    if (f) fclose(f);
    return n;
}

Test(demo, federation_from_nothing)
{
    const char *d = tu_dir();
    char out[1100], log[1200];
    snprintf(out, sizeof out, "%s/demo", d);
    snprintf(log, sizeof log, "%s/demo.log", d);
    cr_assert_eq(tu_sh("%s demo --out %s --rounds 2 --model lstm > %s 2>&1", tu_bin(), out, log), 0,
                 "demo failed; see %s", log);
    cr_assert_eq(count_lines(log, "round  1  sites 4"), 1, "a line for round 1 with 4 sites (%s)", log);
    cr_assert_eq(count_lines(log, "round  2  sites 4"), 1, "a line for round 2 (%s)", log);
    cr_assert_eq(count_lines(log, "gaitfed demo: 2 rounds with secure aggregation"), 1, "%s", log);
    /* every process it started is gone */
    cr_assert_neq(tu_sh("pgrep -f -- '[-]-config %s/kits' > /dev/null", out), 0, "a demo process outlived the demo");
    cr_assert_eq(tu_sh("%s audit verify --db %s/coordinator.db > /dev/null", tu_bin(), out), 0);
    cr_assert_eq(tu_sh("test ! -e %s/coordinator.db-wal || test ! -s %s/coordinator.db-wal", out, out), 0,
                 "the database stands alone");
    cr_assert_eq(tu_sh("%s -c \"\nimport json, sqlite3, sys\n"
                       "s = json.load(open('%s/summary.json'))\n"
                       "assert s['rounds_completed'] == 2 and s['secure_aggregation'] is True, s\n"
                       "assert s['normalization'] == 'own' and s['model'] == 'lstm'\n"
                       "assert len(s['rounds']) == 2\n"
                       "for r in s['rounds']:\n"
                       "    assert r['survivors'] == 4 and len(r['sites']) == 4, r\n"
                       "    for site, v in r['sites'].items():\n"
                       "        assert v['n_samples'] > 0 and v['validation']['train_loss'] > 0, (site, v)\n"
                       "    for c in ('healthy-test', 'onfh'):\n"
                       "        m = r['cohorts'][c]['own']['subject_mean']\n"
                       "        assert m['rmse'] > 0 and m['r2'] <= 1, m\n"
                       "db = sqlite3.connect('%s/coordinator.db')\n"
                       "v = db.execute('select max(version) from models').fetchone()[0]\n"
                       "assert v == 2 and s['rounds'][-1]['model_version'] == 2\n"
                       "assert s['final'] == s['rounds'][-1]['cohorts']\n\"",
                       tu_python(), out, out),
                 0, "summary.json does not hold what the README says");
    /* A second run replaces the first; a foreign directory is refused and left alone. */
    cr_assert_eq(tu_sh("%s demo --out %s --rounds 1 --model lstm > %s 2>&1", tu_bin(), out, log), 0, "rerun: %s", log);
    cr_assert_eq(count_lines(log, "gaitfed demo: 1 rounds"), 1, "%s", log);
    char foreign[1100];
    snprintf(foreign, sizeof foreign, "%s/mine", d);
    cr_assert_eq(tu_sh("mkdir -p %s && echo keep > %s/file", foreign, foreign), 0);
    cr_assert_eq(tu_sh("%s demo --out %s > %s 2>&1", tu_bin(), foreign, log), 1);
    cr_assert_eq(count_lines(log, "gaitfed demo: "), 1, "one line: %s", log);
    cr_assert_eq(tu_sh("grep -q keep %s/file", foreign), 0, "the foreign directory was touched");
}

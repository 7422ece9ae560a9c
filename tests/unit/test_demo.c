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
    /* The demo ends with the report: the audit status and the 5 × 4 cross-site matrix in it. */
    cr_assert_eq(tu_sh("test -s %s/report/index.html && test -s %s/report/summary.md", out, out), 0, "no report in %s", out);
    cr_assert_eq(tu_sh("%s -c \"\nimport json\ns = json.load(open('%s/report/summary.json'))\n"
                       "cs = json.dumps(s.get('cross_site'))\n"
                       "assert s['audit']['intact'] is True, s['audit']\n"
                       "assert len(s['cross_site']['rows']) == 5 and all(len(r['cells']) == 4 for r in s['cross_site']['rows']), cs[:300]\n\"", tu_python(), out),
                 0, "the demo's report lacks the audit status or the cross-site matrix");
    /* The real federation's report, like the fixture's in test_report.c: summary.json
     * recomputed from the database, and the page rendered by headless Chromium with
     * every chart of a run with an evaluator and a cross-site matrix. */
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py numbers %s/coordinator.db %s/report", tu_python(), tu_root(), out,
                       out),
                 0, "the demo's summary.json disagrees with its database");
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py render %s/report audit-status table-verdict chart-cohort-rmse "
                       "chart-site-rmse chart-site-spread chart-cadence chart-cross-site table-cross-site sec-curves",
                       tu_python(), tu_root(), out),
                 0, "the demo's report does not render in Chromium with every chart");
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

/* Pooled normalization: the first round secure-sums the four sites' frame
 * counts, Σx and Σx²; the statistics the model then carries must equal, bit
 * for bit, what the same sums computed here in one process give (each site's
 * training cycles: its validation subjects excluded exactly as the node does). */
#include <sqlite3.h>

#include "model/safetensors.h"
#include "node/local.h"
#include "sites/store.h"

#define NODE_SPLIT_SEED 20170101u /* node/node.c SPLIT_SEED */

Test(demo, pooled_statistics_are_exact_through_secure_aggregation)
{
    const char *d = tu_dir();
    char out[1100], log[1200], path[1300];
    snprintf(out, sizeof out, "%s/demo", d);
    snprintf(log, sizeof log, "%s/demo.log", d);
    cr_assert_eq(tu_sh("%s demo --out %s --rounds 1 --model lstm --normalization global > %s 2>&1", tu_bin(), out, log), 0,
                 "demo failed; see %s", log);
    cr_assert_eq(count_lines(log, "round  2  sites 4"), 1, "round 1 pools the statistics, round 2 trains (%s)", log);
    /* the same sums, here */
    const char *sites[] = {"imu-clinic", "optical-lab", "senior-centre", "video-clinic"};
    int64_t frames = 0, sx[GF_DIN] = {0}, sx2[GF_DIN] = {0};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/data/sites/%s.db", out, sites[i]);
        gf_store *st = NULL;
        gf_dataset ds;
        cr_assert_eq(gf_store_open(path, 0, &st), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_store_load(st, GF_STORE_NEED_FORCES, &ds), GF_OK, "%s", gf_errmsg());
        gf_store_close(st);
        unsigned char *is_val = malloc((size_t)ds.n);
        int nvs = 0;
        gf_local_moments m;
        cr_assert_eq(gf_local_split(&ds, GF_LOCAL_VAL_FRAC, NODE_SPLIT_SEED, is_val, &nvs), GF_OK);
        cr_assert_eq(gf_local_stats(&ds, is_val, &m), GF_OK);
        frames += m.n_frames;
        for (int c = 0; c < GF_DIN; c++) sx[c] += m.sum_x[c], sx2[c] += m.sum_x2[c];
        free(is_val);
        gf_dataset_free(&ds);
    }
    float mean[GF_DIN], sd[GF_DIN];
    cr_assert_eq(gf_local_pooled_norm(frames, sx, sx2, mean, sd), GF_OK);
    /* what the coordinator stored as model version 1 */
    snprintf(path, sizeof path, "%s/coordinator.db", out);
    sqlite3 *db;
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT weights FROM models WHERE version = 1", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    gf_safetensors sf;
    cr_assert_eq(gf_safetensors_parse("v1", sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), &sf), GF_OK,
                 "%s", gf_errmsg());
    const gf_st_tensor *mu = gf_safetensors_get(&sf, "x_mean"), *sg = gf_safetensors_get(&sf, "x_std");
    cr_assert(mu && sg && mu->numel == GF_DIN && sg->numel == GF_DIN, "version 1 carries x_mean and x_std");
    cr_assert_arr_eq(mu->data, mean, sizeof mean, "pooled mean differs from the sums computed in one process");
    cr_assert_arr_eq(sg->data, sd, sizeof sd, "pooled SD differs");
    gf_safetensors_free(&sf);
    sqlite3_finalize(q);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM rounds WHERE round = 1 AND outcome = 'statistics'", -1, &q,
                                    NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_eq(tu_sh("sqlite3 %s \"select count(*) from audit where event = 'pooled_statistics'\" | grep -qx 1", path), 0);
    cr_assert_eq(tu_sh("%s -c \"import json; s = json.load(open('%s/summary.json')); "
                       "assert s['normalization'] == 'global'; r = s['rounds'][0]['cohorts']; "
                       "assert all('pooled' in r[c] and 'own' in r[c] for c in ('healthy-test', 'onfh')), r\"",
                       tu_python(), out),
                 0, "the evaluator reports both normalizations");
}

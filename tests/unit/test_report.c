/* `gaitfed report` on coordinator databases built here with the
 * gf_coord_db API and realistic metrics (gf_metrics_compute on synthetic
 * predictions): a self-contained page with every chart, summary.json numbers
 * recomputed independently from the database by tests/py/report_check.py,
 * hostile site and cohort names escaped in HTML and markdown, a tampered
 * audit chain shown as broken, an empty federation reported as such, bad
 * input refused with one line, and the page rendered in headless Chromium
 * (non-blank, no console errors, every chart in the DOM). */
#include <math.h>
#include <sqlite3.h>

#include <jansson.h>

#include "coordinator/db.h"
#include "model/metrics.h"
#include "sites/dataset.h"
#include "testutil.h"

#define NH 4
#define CERT "ab00000000000000000000000000000000000000000000000000000000000000"

static const char *const PLAIN[NH] = {"optical-lab", "imu-clinic", "video-clinic", "senior-centre"};
static const char *const HOSTILE[NH] = {"<script>alert(1)</script>", "o'brien \"clinic\" & co", "video-clinic",
                                        "a|b*c_d"};

static uint64_t rng_state;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Metrics JSON of a prediction with error scale `noise` on n_subj subjects
 * (one cycle per cadence each); with curves when asked. Caller frees. */
static char *metrics(int n_subj, double noise, int with_curves, const char *norm)
{
    enum { T = 24, D = GF_NF };
    int n = n_subj * 3;
    float *ref = malloc(sizeof(float) * (size_t)(n * T * D)), *pred = malloc(sizeof(float) * (size_t)(n * T * D));
    const char **ids = calloc((size_t)n, sizeof *ids), **spd = calloc((size_t)n, sizeof *spd);
    static const char *const SPEEDS[3] = {"slow", "med", "fast"};
    static char idbuf[64][16];
    cr_assert(ref && pred && ids && spd && n_subj <= 20);
    for (int c = 0; c < n; c++) {
        snprintf(idbuf[c / 3], sizeof idbuf[0], "S%02d", c / 3);
        ids[c] = idbuf[c / 3], spd[c] = SPEEDS[c % 3];
        double subj = urand();
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) {
                double r = 5 * sin(6.283 * t / T + d) + d * 0.3 + subj;
                ref[(c * T + t) * D + d] = (float)r;
                pred[(c * T + t) * D + d] = (float)(r + noise * (urand() - 0.5) * (1 + (c % 3)));
            }
    }
    gf_metrics m;
    cr_assert_eq(gf_metrics_compute(&m, pred, ref, n, T, D, ids, spd), GF_OK, "%s", gf_errmsg());
    json_t *j = gf_metrics_to_json(&m, gf_force_cols);
    cr_assert_not_null(j);
    json_object_set_new(j, "task", json_string("forces"));
    json_object_set_new(j, "units", json_string("N/kg"));
    json_object_set_new(j, "normalization", json_string(norm));
    if (with_curves) {
        /* Only four key muscles, at 5 digits: the evaluation's audit row
         * carries the whole metrics JSON and is capped at 64 KiB
         * (GF_AUDIT_DETAIL_MAX); 14 channels at full precision are ~200 KB. */
        static const char *const KEY[4] = {"glmed_r", "iliopsoas_r", "recfem_r", "glmax_r"};
        json_t *chs = json_object();
        for (int d = 0; d < 4; d++) {
            json_t *ch = json_object();
            static const char *const K[4] = {"ref_mean", "ref_sd", "pred_mean", "pred_sd"};
            for (int k = 0; k < 4; k++) {
                json_t *a = json_array();
                for (int t = 0; t < 180; t++) {
                    double ph = 6.283 * t / 179, v = k % 2 ? 0.5 + 0.2 * sin(ph) : 8 * sin(ph + d) + d;
                    json_array_append_new(a, json_real(k == 2 ? v + noise * sin(3 * ph) : v));
                }
                json_object_set_new(ch, K[k], a);
            }
            json_object_set_new(chs, KEY[d], ch);
        }
        json_object_set_new(j, "curves", json_pack("{s:i,s:o}", "frames", 180, "channels", chs));
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(with_curves ? 5 : 17));
    cr_assert_not_null(s);
    json_decref(j);
    gf_metrics_free(&m);
    free(ref), free(pred), free(ids), free(spd);
    return s;
}

static char *sub_json(const char *metrics_json, const char *key)
{
    json_t *j = json_loads(metrics_json, 0, NULL);
    char *s = json_dumps(json_object_get(j, key), JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    return s;
}

/* zero_shot - in_federation of subject_mean.key */
static double gap(const json_t *zs, const json_t *in, const char *key)
{
    return json_number_value(json_object_get(json_object_get(zs, "subject_mean"), key)) -
           json_number_value(json_object_get(json_object_get(in, "subject_mean"), key));
}

/* A federation of 4 hospitals and an evaluator over 3 rounds: models,
 * per-round validation, evaluator cohorts (own and pooled), and, when full,
 * the cross-site matrix, leave-one-site-out results and mean curves. */
static void fixture(const char *path, const char *const *hosp, const char *cohort, int full)
{
    gf_coord_db d;
    rng_state = 12345;
    cr_assert_eq(gf_coord_db_open(path, &d), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_begin(&d), GF_OK);
    int is_new;
    for (int h = 0; h < NH; h++)
        cr_assert_eq(gf_coord_db_site_seen(&d, hosp[h], "hospital", CERT, 1000, &is_new), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_coord_db_site_seen(&d, "evaluator", "evaluator", CERT, 1000, &is_new), GF_OK);
    static const char META[] = "{\"__metadata__\":{\"model\":\"transformer\",\"strategy\":\"fedavg\","
                               "\"normalization\":\"own\",\"task\":\"forces\",\"units\":\"N/kg\"}}";
    uint8_t blob[256] = {0};
    size_t ml = strlen(META);
    blob[0] = (uint8_t)ml;
    memcpy(blob + 8, META, ml);
    for (int v = 0; v <= 3; v++)
        cr_assert_eq(gf_coord_db_put_model(&d, v, v, blob, sizeof blob, NULL, 0, 2000 + v), GF_OK, "%s", gf_errmsg());
    for (int v = 0; v < 3; v++) {
        int r = v + 1;
        cr_assert_eq(gf_coord_db_open_round(&d, r, v, "{\"sites\":4,\"attempt\":1,\"secure\":true,\"statistics\":false,"
                                                      "\"k\":3,\"t\":3}", 3000 + r), GF_OK, "%s", gf_errmsg());
        for (int h = 0; h < NH; h++) {
            char *g = metrics(2 + h, 2.0 / r + 0.3 * h, 0, "own"), *l = metrics(2 + h, 1.5 / r, 0, "own");
            char *gs = sub_json(g, "subject_mean"), *ls = sub_json(l, "subject_mean");
            char val[1024];
            snprintf(val, sizeof val, "{\"train_loss\":%.3f,\"n_cycles\":%d,\"n_subjects\":%d,\"global\":{\"subject_mean\":%s},"
                     "\"local\":{\"subject_mean\":%s}}", 3.0 / r, 3 * (2 + h), 2 + h, gs, ls);
            cr_assert_eq(gf_coord_db_round_site(&d, r, hosp[h], h + 1, 40 + 17 * h, val), GF_OK, "%s", gf_errmsg());
            free(g), free(l), free(gs), free(ls);
        }
        cr_assert_eq(gf_coord_db_close_round(&d, r, "aggregated", NH, 1.0 / r, 4000 + r), GF_OK);
        static const char *const NORMS[2] = {"own", "pooled"};
        for (int k = 0; k < 2; k++) {
            char *a = metrics(12, 2.5 / r, full && r == 3, NORMS[k]), *o = metrics(9, 3.0 / r + k, full && r == 3, NORMS[k]);
            cr_assert_eq(gf_coord_db_put_eval(&d, r, "evaluator", cohort, NORMS[k], a, 5000 + r), GF_OK, "%s", gf_errmsg());
            cr_assert_eq(gf_coord_db_put_eval(&d, r, "evaluator", "onfh", NORMS[k], o, 5000 + r), GF_OK, "%s", gf_errmsg());
            free(a), free(o);
        }
    }
    if (full) {
        for (int r = 2; r <= 3; r++)
            for (int mdl = -1; mdl < NH; mdl++)
                for (int h = 0; h < NH; h++) {
                    char *m = metrics(2 + h, (mdl == h ? 0.6 : 1.2) + 0.2 * h + (mdl < 0 ? 0 : 0.4) + (h == 3) * 9.0 + (h == 2) * 2.2, 0, "own");
                    cr_assert_eq(gf_coord_db_put_cross(&d, r, mdl < 0 ? "global" : hosp[mdl], hosp[h], m, 6000), GF_OK,
                                 "%s", gf_errmsg());
                    free(m);
                }
        for (int h = 0; h < NH; h++) {
            char *in = metrics(2 + h, 1.0, 0, "own"), *zs = metrics(2 + h, 1.6 + 0.3 * h, 0, "own");
            json_t *ji = json_loads(in, 0, NULL), *jz = json_loads(zs, 0, NULL);
            double gr = gap(jz, ji, "rmse"), g2 = gap(jz, ji, "r2");
            json_t *res = json_pack("{s:s,s:s,s:i,s:O,s:O,s:{s:f,s:f}}", "site", hosp[h], "normalization", "own",
                                    "n_val_subjects", 2 + h, "in_federation", ji, "zero_shot", jz, "gap", "rmse", gr, "r2", g2);
            if (h % 2) json_object_set_new(res, "onfh", json_pack("{s:O,s:O}", "in_federation", ji, "zero_shot", jz));
            char *s = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(17));
            cr_assert_eq(gf_coord_db_put_loso(&d, hosp[h], s, 7000 + h), GF_OK, "%s", gf_errmsg());
            free(s), free(in), free(zs);
            json_decref(ji), json_decref(jz), json_decref(res);
        }
    }
    cr_assert_eq(gf_coord_db_commit(&d), GF_OK, "%s", gf_errmsg());
    gf_coord_db_close(&d);
}

static char *slurp(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(gf_read_file(p, 1 << 26, &buf, &len), GF_OK, "%s", gf_errmsg());
    free(p);
    char *s = realloc(buf, len + 1);
    cr_assert_not_null(s);
    s[len] = 0;
    return s;
}

static json_t *load_summary(const char *dir)
{
    char *p = tu_path(dir, "summary.json");
    json_t *s = json_load_file(p, 0, NULL);
    free(p);
    return s;
}

static int has_id(const char *html, const char *id)
{
    char pat[128];
    snprintf(pat, sizeof pat, "id=\"%s\"", id);
    return strstr(html, pat) != NULL;
}

static const char *const FULL_IDS[] = {"sec-settings", "table-settings", "audit-status", "sec-verdict", "table-verdict",
                                       "chart-cohort-rmse", "chart-cohort-r2", "chart-site-rmse", "chart-site-spread",
                                       "table-rounds", "chart-cadence", "chart-subjects-0", "chart-subjects-3",
                                       "chart-curves-0-0", "chart-curves-3-3", "chart-cross-site", "table-cross-site",
                                       "table-loso"};
#define NFULL (int)(sizeof FULL_IDS / sizeof *FULL_IDS)

static int render_ok(const char *out, const char *const *ids, int n)
{
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s %s/tests/py/report_check.py render %s", tu_python(), tu_root(), out);
    for (int i = 0; i < n; i++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", ids[i]);
    return tu_sh("%s", cmd);
}

Test(report, full_federation_hostile_names)
{
    const char *d = tu_dir();
    char *db = tu_path(d, "coord.db"), *out = tu_path(d, "rep");
    fixture(db, HOSTILE, "healthy&test<i>", 1);
    cr_assert_eq(tu_sh("sha256sum < %s > %s/before", db, d), 0);
    cr_assert_eq(tu_sh("%s report --db %s --out %s > %s/log 2>&1", tu_bin(), db, out, d), 0, "see %s/log", d);
    cr_assert_eq(tu_sh("sha256sum < %s | cmp -s - %s/before", db, d), 0, "the report changed the database");
    char *html = slurp(out, "index.html"), *md = slurp(out, "summary.md");
    cr_assert_null(strstr(html, "http://"), "the page references the network");
    char *verdict = strstr(html, "id=\"sec-verdict\""), *settings = strstr(html, "id=\"sec-settings\"");
    cr_assert(verdict && settings && verdict < settings && verdict < strstr(html, "<svg"), "the verdict comes first");
    cr_assert_null(strstr(html, "https://"), "the page references the network");
    cr_assert_null(strstr(html, "<script"), "a raw <script> reached the page");
    cr_assert_null(strstr(html, "<i>"), "a raw cohort name reached the page");
    cr_assert_null(strstr(html, "<link"), "no external stylesheets");
    cr_assert_not_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    cr_assert_not_null(strstr(html, "o&#39;brien &quot;clinic&quot; &amp; co"));
    cr_assert_not_null(strstr(html, "healthy&amp;test&lt;i&gt;"));
    for (int i = 0; i < NFULL; i++) cr_assert(has_id(html, FULL_IDS[i]), "chart %s missing", FULL_IDS[i]);
    cr_assert_not_null(strstr(html, "<span class=\"ok\">OK</span>"), "audit chain shown intact");
    cr_assert_null(strstr(html, "carry no mean curves"));
    cr_assert_null(strstr(md, "<script"), "a raw <script> reached the markdown");
    cr_assert_not_null(strstr(md, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    cr_assert_not_null(strstr(md, "a\\|b\\*c\\_d"), "a | in a name would split a markdown cell");
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py numbers %s %s", tu_python(), tu_root(), db, out), 0,
                 "summary.json disagrees with the database");
    /* verdicts: one per hospital and per cohort x norm, from the cross-site matrix */
    json_t *s = load_summary(out);
    cr_assert_not_null(s);
    cr_assert_eq(json_array_size(json_object_get(s, "verdict")), NH + 4);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(s, "verdict"), 0), "source")),
                     "cross-site matrix, round 3");
    int levels[3] = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "verdict"), i, v) {
        const char *l = json_string_value(json_object_get(v, "level"));
        levels[0] += !strcmp(l, "green"), levels[1] += !strcmp(l, "amber"), levels[2] += !strcmp(l, "red");
    }
    cr_assert(levels[0] && levels[1] && levels[2], "the fixture shows every verdict (%d/%d/%d)", levels[0], levels[1], levels[2]);
    json_decref(s);
    cr_assert_not_null(strstr(html, "<td class=\"red\">red</td>"));
    cr_assert_eq(render_ok(out, FULL_IDS, NFULL), 0, "headless Chromium rendering failed");
    free(html), free(md), free(db), free(out);
}

Test(report, tampered_audit_chain_and_missing_curves)
{
    const char *d = tu_dir();
    char *db = tu_path(d, "coord.db"), *out = tu_path(d, "rep");
    fixture(db, PLAIN, "healthy-test", 0);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "UPDATE audit SET detail = '{\"forged\":1}' WHERE seq = 5", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    cr_assert_eq(tu_sh("%s report --db %s --out %s > %s/log 2>&1", tu_bin(), db, out, d), 0, "see %s/log", d);
    char *html = slurp(out, "index.html"), *md = slurp(out, "summary.md");
    cr_assert_not_null(strstr(html, "<span class=\"bad\">BROKEN</span> at row 5"), "tampering not shown");
    cr_assert_not_null(strstr(md, "**BROKEN** at row 5"));
    cr_assert_not_null(strstr(html, "carry no mean curves"), "absent curves are said so");
    cr_assert_not_null(strstr(html, "Not run: the database holds no cross-site evaluations"));
    cr_assert_not_null(strstr(html, "Not run: the database holds no leave-one-site-out results"));
    cr_assert(has_id(html, "chart-cohort-rmse") && has_id(html, "chart-site-spread") && has_id(html, "chart-cadence"));
    json_t *s = load_summary(out);
    cr_assert_not_null(s);
    json_t *a = json_object_get(s, "audit");
    cr_assert(json_is_false(json_object_get(a, "intact")));
    cr_assert_eq(json_integer_value(json_object_get(a, "first_bad")), 5);
    cr_assert(json_is_null(json_object_get(s, "cross_site")));
    /* without a cross-site matrix the verdict falls back to round validation */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(s, "verdict"), 0), "source")),
                     "site validation, round 3");
    json_decref(s);
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py numbers %s %s", tu_python(), tu_root(), db, out), 0);
    free(html), free(md), free(db), free(out);
}

Test(report, empty_federation)
{
    const char *d = tu_dir();
    char *db = tu_path(d, "coord.db"), *out = tu_path(d, "rep");
    gf_coord_db c;
    cr_assert_eq(gf_coord_db_open(db, &c), GF_OK, "%s", gf_errmsg());
    gf_coord_db_close(&c);
    cr_assert_eq(tu_sh("%s report --db %s --out %s > %s/log 2>&1", tu_bin(), db, out, d), 0, "see %s/log", d);
    char *html = slurp(out, "index.html");
    cr_assert(has_id(html, "no-rounds"), "an empty federation says so");
    cr_assert_not_null(strstr(html, "no data"));
    json_t *s = load_summary(out);
    cr_assert_not_null(s);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "federation"), "rounds")), 0);
    cr_assert(json_is_true(json_object_get(json_object_get(s, "audit"), "intact")));
    json_decref(s);
    static const char *const IDS[] = {"no-rounds", "audit-status", "chart-cohort-rmse", "chart-site-rmse", "chart-cadence"};
    cr_assert_eq(render_ok(out, IDS, 5), 0);
    free(html), free(db), free(out);
}

/* A schema-v1 database (before the cross-site and leave-one-site-out
 * tables) is read as it is: those sections say "not run". */
Test(report, schema_v1_database)
{
    const char *d = tu_dir();
    char *db = tu_path(d, "coord.db"), *out = tu_path(d, "rep");
    fixture(db, PLAIN, "healthy-test", 0);
    cr_assert_eq(tu_sh("sqlite3 %s 'DROP TABLE cross_site; DROP TABLE loso; PRAGMA user_version = 1'", db), 0);
    cr_assert_eq(tu_sh("%s report --db %s --out %s > %s/log 2>&1", tu_bin(), db, out, d), 0, "see %s/log", d);
    char *html = slurp(out, "index.html");
    cr_assert_not_null(strstr(html, "Not run: the database holds no cross-site evaluations"));
    cr_assert_not_null(strstr(html, "Not run: the database holds no leave-one-site-out results"));
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py numbers %s %s", tu_python(), tu_root(), db, out), 0);
    free(html), free(db), free(out);
}

Test(report, bad_input_one_line)
{
    const char *d = tu_dir();
    cr_assert_eq(tu_sh("%s report --db %s/none.db --out %s/r 2> %s/err", tu_bin(), d, d, d), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && grep -q 'no such database' %s/err", d, d), 0);
    cr_assert_eq(tu_sh("test ! -e %s/none.db && test ! -e %s/r", d, d), 0, "nothing created for a missing database");
    cr_assert_eq(tu_sh("echo 'not a database at all, just text in a file' > %s/text.db", d), 0);
    cr_assert_eq(tu_sh("%s report --db %s/text.db --out %s/r 2> %s/err", tu_bin(), d, d, d), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && grep -q 'not a gaitfed coordinator database' %s/err", d, d), 0);
    cr_assert_eq(tu_sh("sqlite3 %s/other.db 'CREATE TABLE t(x); INSERT INTO t VALUES (1)'", d), 0);
    cr_assert_eq(tu_sh("%s report --db %s/other.db --out %s/r 2> %s/err", tu_bin(), d, d, d), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/err) -eq 1 && grep -q 'not a gaitfed coordinator database' %s/err", d, d), 0);
    cr_assert_eq(tu_sh("%s report --db %s/other.db 2> /dev/null", tu_bin(), d), 2, "--out is required");
}

Test(report, checker_detects_console_errors_and_blank_pages)
{
    cr_assert_eq(tu_sh("%s %s/tests/py/report_check.py selftest", tu_python(), tu_root()), 0);
}

/* `gaitfed audit loso` end to end on a small synthetic cohort (3 hospitals,
 * a tiny LSTM, 2 rounds of 1 local epoch: 4 federations as real processes):
 * one loso row per site in the full federation's database with the audit
 * chain intact after they were appended, loso.json's gaps equal zero-shot −
 * in-federation, and one site's zero-shot numbers recomputed independently —
 * the validation subjects split here, their training statistics computed by
 * numpy and put into the model file, and `gaitfed eval --norm model` run on
 * the exported validation cycles. Bad configs: one line, non-zero, no output. */
#include <sqlite3.h>
#include <sys/stat.h>

#include "node/local.h"
#include "sites/npz.h"
#include "sites/store.h"
#include "testutil.h"

#define NODE_SPLIT_SEED 20170101u /* node/node.c: the seed a hospital node splits with */

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n++;
    if (f) fclose(f);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static const char *const HOSP[] = {"imu-clinic", "optical-lab", "video-clinic"};

/* Site `site`'s validation cycles and training cycles as Gait2Hip NPZ files
 * (forces), split as the node splits. */
static void export_split(const char *data, const char *site, const char *val_npz, const char *train_npz)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/sites/%s.db", data, site);
    gf_store *st = NULL;
    gf_dataset ds;
    cr_assert_eq(gf_store_open(path, 0, &st), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_store_load(st, GF_STORE_NEED_FORCES, &ds), GF_OK, "%s", gf_errmsg());
    gf_store_close(st);
    unsigned char *is_val = malloc((size_t)ds.n);
    int nvs = 0;
    cr_assert_eq(gf_local_split(&ds, GF_LOCAL_VAL_FRAC, NODE_SPLIT_SEED, is_val, &nvs), GF_OK);
    for (int part = 0; part < 2; part++) {
        int64_t n = 0;
        for (int64_t i = 0; i < ds.n; i++) n += is_val[i] == (part == 0);
        gf_dataset sub;
        cr_assert_eq(gf_dataset_alloc(&sub, n, 1, 1), GF_OK);
        for (int64_t i = 0, j = 0; i < ds.n; i++) {
            if (is_val[i] != (part == 0)) continue;
            memcpy(sub.x + j * GF_T * GF_DIN, ds.x + i * GF_T * GF_DIN, sizeof(float) * GF_T * GF_DIN);
            memcpy(sub.yf + j * GF_T * GF_NF, ds.yf + i * GF_T * GF_NF, sizeof(float) * GF_T * GF_NF);
            memcpy(sub.ym + j * GF_T * GF_NM, ds.ym + i * GF_T * GF_NM, sizeof(float) * GF_T * GF_NM);
            sub.meta[j++] = ds.meta[i];
        }
        cr_assert_eq(gf_g2h_write(part == 0 ? val_npz : train_npz, &sub, GF_TASK_FORCES), GF_OK, "%s", gf_errmsg());
        gf_dataset_free(&sub);
    }
    free(is_val);
    gf_dataset_free(&ds);
}

/* The latest model version of a coordinator database, to a file. */
static void export_model(const char *db_path, const char *out)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db_path);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT weights FROM models ORDER BY version DESC LIMIT 1", -1, &q, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(gf_write_file_atomic(out, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0)), GF_OK);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

Test(loso, small_real_run_agrees_with_an_independent_evaluation)
{
    const char *d = tu_dir();
    char data[1100], out[1100], cfg[1100], log[1100];
    snprintf(data, sizeof data, "%s/data", d);
    snprintf(out, sizeof out, "%s/out", d);
    snprintf(cfg, sizeof cfg, "%s/loso.json", d);
    snprintf(log, sizeof log, "%s/loso.log", d);
    cr_assert_eq(tu_sh("%s synth --out %s --sites 3 --seed 5 > %s/synth.log 2>&1", tu_bin(), data, d), 0);
    write_text(cfg, "{\"data\": \"data\", \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
                    " \"rounds\": 2, \"local_epochs\": 1, \"batch\": 32, \"lr\": 1e-3, \"strategy\": \"fedavg\",\n"
                    " \"normalization\": \"own\", \"secure_aggregation\": true}\n");
    cr_assert_eq(tu_sh("%s audit loso --config %s --out %s > %s 2>&1", tu_bin(), cfg, out, log), 0, "loso failed; see %s",
                 log);
    /* progress lines and the table */
    cr_assert_eq(tu_sh("test $(grep -c '^loso: federation .* started' %s) -eq 4", log), 0, "%s", log);
    cr_assert_eq(tu_sh("test $(grep -c '^loso: federation .* finished: 2 rounds' %s) -eq 4", log), 0, "%s", log);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tu_sh("grep -q '^%s  *| ' %s && test -s %s/without-%s/coordinator.db", HOSP[i], log, out, HOSP[i]),
                     0, "a table row and a federation without %s (%s)", HOSP[i], log);
    /* the loso table: one row per site, hash-chained */
    char full_db[1200];
    snprintf(full_db, sizeof full_db, "%s/full/coordinator.db", out);
    sqlite3 *db;
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_open_v2(full_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT site FROM loso ORDER BY site", -1, &q, NULL), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "row %d", i);
        cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), HOSP[i]);
    }
    cr_assert_eq(sqlite3_step(q), SQLITE_DONE, "one row per site");
    sqlite3_finalize(q);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE event = 'loso_result'", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), 3, "an audit row per loso result");
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_eq(tu_sh("%s audit verify --db %s > /dev/null", tu_bin(), full_db), 0,
                 "the audit chain breaks after the loso rows");
    /* loso.json: gaps are zero-shot − in-federation; the database holds the same results */
    cr_assert_eq(tu_sh("%s -c \"\nimport json, sqlite3, math\n"
                       "d = json.load(open('%s/loso.json'))\n"
                       "assert d['sites'] == ['imu-clinic', 'optical-lab', 'video-clinic'], d['sites']\n"
                       "rs = d['results']; assert len(rs) == 3\n"
                       "db = dict(sqlite3.connect('%s').execute('select site, result from loso'))\n"
                       "gaps = []\n"
                       "for r in rs:\n"
                       "    i, z = r['in_federation']['subject_mean'], r['zero_shot']['subject_mean']\n"
                       "    assert abs(r['gap']['rmse'] - (z['rmse'] - i['rmse'])) < 1e-12, r['gap']\n"
                       "    assert abs(r['gap']['r2'] - (z['r2'] - i['r2'])) < 1e-12, r['gap']\n"
                       "    assert r['normalization'] == 'own' and r['n_val_subjects'] >= 1\n"
                       "    assert r['in_federation']['normalization'] == 'own' and i['rmse'] > 0 and z['rmse'] > 0\n"
                       "    assert 'curves' not in json.dumps(r), 'curves are stripped'\n"
                       "    assert 'per_subject' not in r['zero_shot'], 'no hospital subject ids'\n"
                       "    o = r['onfh']; assert o['in_federation']['subject_mean']['rmse'] > 0\n"
                       "    assert o['zero_shot']['subject_mean']['rmse'] > 0 and 'zero_shot_pooled' not in o\n"
                       "    assert json.loads(db[r['site']]) == r, r['site']\n"
                       "    gaps.append((r['gap']['rmse'], r['site']))\n"
                       "s = d['summary']\n"
                       "assert abs(s['mean_gap']['rmse'] - sum(g for g, _ in gaps) / 3) < 1e-12, s\n"
                       "assert s['worst_gap_site'] == max(gaps)[1], s\n\"",
                       tu_python(), out, full_db),
                 0, "loso.json does not hold what the README says");
    /* one site's zero-shot metrics, independently */
    char val[1200], train[1200], model[1200], model2[1200], evj[1200], without[1200];
    snprintf(val, sizeof val, "%s/val.npz", d);
    snprintf(train, sizeof train, "%s/train.npz", d);
    snprintf(model, sizeof model, "%s/zero-shot.safetensors", d);
    snprintf(model2, sizeof model2, "%s/zero-shot-site-norm.safetensors", d);
    snprintf(evj, sizeof evj, "%s/eval.json", d);
    snprintf(without, sizeof without, "%s/without-optical-lab/coordinator.db", out);
    export_split(data, "optical-lab", val, train);
    export_model(without, model);
    /* numpy: the site's own statistics over its training frames (population SD,
     * SD 0 -> 1), written into the model file as x_mean/x_std */
    cr_assert_eq(tu_sh("%s -c \"\nimport json, struct, numpy as np\n"
                       "x = np.load('%s')['X'].astype(np.float64).reshape(-1, 10)\n"
                       "mu = x.mean(0); sd = np.sqrt(((x - mu) ** 2).mean(0)); sd[sd == 0] = 1\n"
                       "b = open('%s', 'rb').read(); n = struct.unpack('<Q', b[:8])[0]\n"
                       "h = json.loads(b[8:8 + n]); body = b[8 + n:]\n"
                       "meta = h.pop('__metadata__', None)\n"
                       "parts = []; off = 0; nh = {}\n"
                       "for k, v in sorted(h.items(), key=lambda kv: kv[1]['data_offsets'][0]):\n"
                       "    raw = body[v['data_offsets'][0]:v['data_offsets'][1]]\n"
                       "    nh[k] = dict(v, data_offsets=[off, off + len(raw)]); parts.append(raw); off += len(raw)\n"
                       "for k, a in (('x_mean', mu), ('x_std', sd)):\n"
                       "    raw = a.astype('<f4').tobytes()\n"
                       "    nh[k] = {'dtype': 'F32', 'shape': [10], 'data_offsets': [off, off + len(raw)]}\n"
                       "    parts.append(raw); off += len(raw)\n"
                       "if meta is not None: nh['__metadata__'] = meta\n"
                       "hj = json.dumps(nh).encode(); hj += b' ' * (-len(hj) %% 8)\n"
                       "open('%s', 'wb').write(struct.pack('<Q', len(hj)) + hj + b''.join(parts))\n\"",
                       tu_python(), train, model, model2),
                 0, "could not write the model with the site's statistics");
    cr_assert_eq(tu_sh("%s eval --model %s --data %s --norm model > %s 2> %s.err", tu_bin(), model2, val, evj, evj), 0,
                 "gaitfed eval failed (%s.err)", evj);
    cr_assert_eq(tu_sh("%s -c \"\nimport json\n"
                       "e = json.load(open('%s'))['subject_mean']\n"
                       "r = [r for r in json.load(open('%s/loso.json'))['results'] if r['site'] == 'optical-lab'][0]\n"
                       "z = r['zero_shot']['subject_mean']\n"
                       "for k in ('rmse', 'mae', 'r2'):\n"
                       "    assert abs(e[k] - z[k]) <= 1e-5 * max(1.0, abs(e[k])), (k, e[k], z[k])\n"
                       "assert json.load(open('%s'))['n_subjects'] == r['n_val_subjects'] == r['zero_shot']['n_subjects']\n\"",
                       tu_python(), evj, out, evj),
                 0, "the zero-shot metrics of optical-lab differ from gaitfed eval's on its validation subjects");
}

/* Pooled normalization: each model carries the statistics its federation
 * pooled, so `gaitfed eval --norm model` with the stored model itself must give
 * the site's in-federation and zero-shot numbers; ONFH is reported both ways. */
Test(loso, pooled_normalization_uses_the_statistics_each_model_carries)
{
    const char *d = tu_dir();
    char data[1100], out[1100], cfg[1100], log[1100];
    snprintf(data, sizeof data, "%s/data", d);
    snprintf(out, sizeof out, "%s/out", d);
    snprintf(cfg, sizeof cfg, "%s/loso.json", d);
    snprintf(log, sizeof log, "%s/loso.log", d);
    cr_assert_eq(tu_sh("%s synth --out %s --sites 3 --seed 5 > %s/synth.log 2>&1", tu_bin(), data, d), 0);
    write_text(cfg, "{\"data\": \"data\", \"model\": {\"arch\": \"lstm\", \"d_model\": 16, \"layers\": 1, \"dropout\": 0},\n"
                    " \"rounds\": 1, \"local_epochs\": 1, \"batch\": 32, \"normalization\": \"global\"}\n");
    cr_assert_eq(tu_sh("%s audit loso --config %s --out %s > %s 2>&1", tu_bin(), cfg, out, log), 0, "loso failed; see %s",
                 log);
    char val[1200], train[1200], m_in[1200], m_out[1200], db[1200];
    snprintf(val, sizeof val, "%s/val.npz", d);
    snprintf(train, sizeof train, "%s/train.npz", d);
    snprintf(m_in, sizeof m_in, "%s/in.safetensors", d);
    snprintf(m_out, sizeof m_out, "%s/zero-shot.safetensors", d);
    export_split(data, "video-clinic", val, train);
    snprintf(db, sizeof db, "%s/full/coordinator.db", out);
    export_model(db, m_in);
    snprintf(db, sizeof db, "%s/without-video-clinic/coordinator.db", out);
    export_model(db, m_out);
    cr_assert_eq(tu_sh("%s eval --model %s --data %s --norm model > %s/in.json 2> /dev/null && "
                       "%s eval --model %s --data %s --norm model > %s/zs.json 2> /dev/null",
                       tu_bin(), m_in, val, d, tu_bin(), m_out, val, d),
                 0, "gaitfed eval failed");
    cr_assert_eq(tu_sh("%s -c \"\nimport json\n"
                       "d = json.load(open('%s/loso.json'))\n"
                       "for r in d['results']:\n"
                       "    assert r['normalization'] == 'global' and r['zero_shot']['normalization'] == 'pooled', r\n"
                       "    assert set(r['onfh']) == {'in_federation', 'zero_shot', 'in_federation_pooled', 'zero_shot_pooled'}\n"
                       "    assert r['onfh']['zero_shot_pooled']['normalization'] == 'pooled'\n"
                       "r = [r for r in d['results'] if r['site'] == 'video-clinic'][0]\n"
                       "for key, f in (('in_federation', 'in.json'), ('zero_shot', 'zs.json')):\n"
                       "    e = json.load(open('%s/' + f))['subject_mean']; z = r[key]['subject_mean']\n"
                       "    for k in ('rmse', 'mae', 'r2'):\n"
                       "        assert abs(e[k] - z[k]) <= 1e-9 * max(1.0, abs(e[k])), (key, k, e[k], z[k])\n\"",
                       tu_python(), out, d),
                 0, "pooled loso metrics differ from gaitfed eval --norm model");
}

/* A bad config or input: one line on stderr, a non-zero exit, no output directory. */
static void refused(const char *d, const char *text, const char *needle)
{
    char cfg[1100], out[1100], log[1100];
    snprintf(cfg, sizeof cfg, "%s/bad.json", d);
    snprintf(out, sizeof out, "%s/bad-out", d);
    snprintf(log, sizeof log, "%s/bad.log", d);
    write_text(cfg, text);
    int rc = tu_sh("%s audit loso --config %s --out %s > %s 2>&1", tu_bin(), cfg, out, log);
    cr_assert(rc != 0 && rc != -1, "accepted: %s", text);
    cr_assert_eq(count_lines(log), 1, "one line for %s (%s)", text, log);
    cr_assert_eq(tu_sh("grep -q -- \"%s\" %s", needle, log), 0, "the message should name '%s' (%s)", needle, log);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "nothing written for %s", text);
}

Test(loso, bad_configs_are_refused_in_one_line)
{
    const char *d = tu_dir();
    cr_assert_eq(tu_sh("%s synth --out %s/data --sites 3 --seed 5 > /dev/null 2>&1 && "
                       "%s synth --out %s/data2 --sites 2 --seed 5 > /dev/null 2>&1",
                       tu_bin(), d, tu_bin(), d),
                 0);
    refused(d, "{\"data\": \"data\", \"roundz\": 2}\n", "roundz");
    refused(d, "{\"data\": \"data\", \"rounds\": 2,\n", "bad.json");
    refused(d, "{\"data\": \"data\", \"rounds\": 0}\n", "rounds");
    refused(d, "{\"data\": \"data\", \"model\": \"mamba\"}\n", "model");
    refused(d, "{\"data\": \"data\", \"model\": {\"arch\": \"lstm\", \"width\": 3}}\n", "model.width");
    refused(d, "{\"data\": \"data\", \"normalization\": \"site\"}\n", "normalization");
    refused(d, "{\"data\": \"data\", \"normalization\": \"global\", \"secure_aggregation\": false}\n", "secure_aggregation");
    refused(d, "{\"data\": \"nowhere\"}\n", "nowhere");
    refused(d, "{\"data\": \"data2\"}\n", "at least 3 hospitals");
    refused(d, "{\"data\": \"data\", \"sites\": [\"imu-clinic\", \"optical-lab\"]}\n", "at least 3 hospitals");
    refused(d, "{\"data\": \"data\", \"sites\": [\"imu-clinic\", \"optical-lab\", \"mars-base\"]}\n", "mars-base");
    refused(d, "{\"data\": \"data\", \"sites\": [\"imu-clinic\", \"imu-clinic\", \"optical-lab\"]}\n", "twice");
    /* a directory that is not an earlier loso run is never replaced */
    char foreign[1100], log[1100], cfg[1100];
    snprintf(foreign, sizeof foreign, "%s/mine", d);
    snprintf(log, sizeof log, "%s/foreign.log", d);
    snprintf(cfg, sizeof cfg, "%s/ok.json", d);
    write_text(cfg, "{\"data\": \"data\", \"rounds\": 1}\n");
    cr_assert_eq(tu_sh("mkdir -p %s && echo keep > %s/file", foreign, foreign), 0);
    cr_assert_eq(tu_sh("%s audit loso --config %s --out %s > %s 2>&1", tu_bin(), cfg, foreign, log), 1);
    cr_assert_eq(count_lines(log), 1, "%s", log);
    cr_assert_eq(tu_sh("grep -q keep %s/file", foreign), 0, "the foreign directory was touched");
    /* usage */
    cr_assert_eq(tu_sh("%s audit loso > /dev/null 2>&1", tu_bin()), 2);
    cr_assert_eq(tu_sh("%s audit --help | grep -q 'audit loso --config'", tu_bin()), 0);
}

/* gaitfed audit loso --config F [--out DIR]: leave-one-site-out.
 *
 * Runs the federation of all K hospitals (DIR/full/) and, for each hospital k,
 * the federation of the other K−1 (DIR/without-<k>/), each as real processes
 * (cli/fedrun.h). Then, for each k, site k's own validation subjects (the
 * split and the normalization a hospital node computes: gf_local_split with
 * GF_LOCAL_VAL_FRAC and GF_LOCAL_SPLIT_SEED, gf_local_stats over its training
 * cycles; or, under "normalization": "global", the pooled statistics each
 * model carries) are evaluated under the final global model of the full
 * federation (in_federation) and of without-k (zero_shot), as is the ONFH
 * cohort. One result per site goes into DIR/full/coordinator.db (table loso,
 * one transaction, hash-chained audit rows) and DIR/loso.json (written
 * atomically); a table goes to stdout. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/fedrun.h"
#include "common/config.h"
#include "common/fileio.h"
#include "coordinator/db.h"
#include "coordinator/report.h"
#include "node/local.h"
#include "sites/store.h"

static const char *USAGE = "gaitfed audit loso --config F [--out DIR (./loso-out)]";
#define CMD "gaitfed audit loso"

static int fail1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail1(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, CMD ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the config ---- */

typedef struct {
    gf_cfg cfg;
    char *data;                 /* NULL: synthesize into OUT/data */
    const char *arch;
    json_t *model;              /* the coordinator's "model" object */
    long rounds, local_epochs, batch;
    double lr, server_lr;
    const char *strategy, *norm;
    int secure;
    const char *sites[GF_FEDRUN_MAX_SITES];
    int n_sites;                /* 0: all */
} loso_cfg;

static void loso_cfg_free(loso_cfg *c)
{
    free(c->data);
    json_decref(c->model);
    gf_cfg_free(&c->cfg);
}

static gf_err loso_cfg_load(const char *path, loso_cfg *o)
{
    static const char *const keys[] = {"data", "model", "rounds", "local_epochs", "batch", "lr", "strategy", "server_lr",
                                       "normalization", "secure_aggregation", "sites", NULL};
    static const char *const model_keys[] = {"arch", "task", "d_model", "layers", "heads", "ff", "dropout", "kernel",
                                             "prenorm", "gelu", NULL};
    static const char *const archs[] = {"transformer", "lstm", "gru", "tcn", NULL};
    static const char *const strategies[] = {"fedavg", "fedprox", "fedadam", "fedyogi", "fedadagrad", NULL};
    static const char *const norms[] = {"own", "global", NULL};
    memset(o, 0, sizeof *o);
    GF_TRY(gf_cfg_load(path, &o->cfg));
    const gf_cfg *c = &o->cfg;
    const json_t *r = c->root;
    GF_TRY(gf_cfg_only(c, r, "", keys));
    GF_TRY(gf_cfg_path(c, r, "", "data", 0, NULL, &o->data));
    const json_t *m = json_object_get(r, "model");
    int a = 0;
    if (!m || json_is_string(m)) {
        GF_TRY(gf_cfg_enum(c, r, "", "model", archs, 0, &a));
        o->model = json_pack("{s:s}", "arch", archs[a]);
    } else if (json_is_object(m)) { /* a model size for the coordinator's config (checked there too) */
        GF_TRY(gf_cfg_only(c, m, "model", model_keys));
        GF_TRY(gf_cfg_enum(c, m, "model", "arch", archs, 0, &a));
        o->model = json_deep_copy(m);
        json_object_set_new(o->model, "arch", json_string(archs[a]));
    } else {
        return gf_fail(GF_EINVAL, "%s: field 'model': expected an architecture name or a model object", c->path);
    }
    if (!o->model) return gf_fail(GF_ENOMEM, "out of memory");
    o->arch = archs[a];
    GF_TRY(gf_cfg_int(c, r, "", "rounds", 1, 1000, 15, 0, &o->rounds));
    GF_TRY(gf_cfg_int(c, r, "", "local_epochs", 1, 1000, 2, 0, &o->local_epochs));
    GF_TRY(gf_cfg_int(c, r, "", "batch", 1, 4096, 16, 0, &o->batch));
    GF_TRY(gf_cfg_num(c, r, "", "lr", 1e-9, 10, 1e-3, 0, &o->lr));
    int s = 0, n = 0;
    GF_TRY(gf_cfg_enum(c, r, "", "strategy", strategies, 0, &s));
    o->strategy = strategies[s];
    /* FedAvg with a server step of 1.5, as the demo (README); 0: the strategy's default */
    double slr_def = s <= 1 ? 1.5 : 0;
    GF_TRY(gf_cfg_num(c, r, "", "server_lr", 1e-9, 100, slr_def, 0, &o->server_lr));
    GF_TRY(gf_cfg_enum(c, r, "", "normalization", norms, 0, &n));
    o->norm = norms[n];
    GF_TRY(gf_cfg_bool(c, r, "", "secure_aggregation", 1, &o->secure));
    if (n == 1 && !o->secure)
        return gf_fail(GF_EINVAL,
                       "%s: field 'normalization': \"global\" pools statistics through secure aggregation; "
                       "set \"secure_aggregation\": true",
                       c->path);
    const json_t *sites = json_object_get(r, "sites");
    if (sites) {
        if (!json_is_array(sites) || json_array_size(sites) > GF_FEDRUN_MAX_SITES)
            return gf_fail(GF_EINVAL, "%s: field 'sites': expected an array of at most %d hospital names", c->path,
                           GF_FEDRUN_MAX_SITES);
        size_t i;
        const json_t *v;
        json_array_foreach(sites, i, v) {
            const char *nm = json_string_value(v);
            if (!nm || !*nm || strlen(nm) >= GF_FEDRUN_NAME_MAX - 8)
                return gf_fail(GF_EINVAL, "%s: field 'sites[%zu]': expected a hospital name", c->path, i);
            for (int j = 0; j < o->n_sites; j++)
                if (!strcmp(o->sites[j], nm))
                    return gf_fail(GF_EINVAL, "%s: field 'sites': '%s' is listed twice", c->path, nm);
            o->sites[o->n_sites++] = nm;
        }
    }
    return GF_OK;
}

/* ---- evaluation ---- */

static gf_err load_store(const char *path, gf_task task, gf_dataset *ds)
{
    gf_store *st = NULL;
    GF_TRY(gf_store_open(path, 0, &st));
    gf_err e = gf_store_load(st, task == GF_TASK_FORCES ? GF_STORE_NEED_FORCES : GF_STORE_NEED_MOMENTS, ds);
    gf_store_close(st);
    if (!e && ds->n < 1) e = gf_fail(GF_ENOTFOUND, "%s: no cycles with %s targets", path, gf_task_name(task));
    return e;
}

/* The final global model of a federation: the latest version in its database. */
static gf_err final_model(const char *db_path, gf_model **m, gf_task *task, int64_t *version)
{
    gf_coord_db d;
    GF_TRY(gf_coord_db_open(db_path, &d));
    uint8_t *blob = NULL, *state = NULL;
    size_t len = 0, slen = 0;
    char sha[65];
    gf_err e = gf_coord_db_latest_model(&d, version);
    if (!e && *version < 0) e = gf_fail(GF_ENOTFOUND, "%s: no model version", db_path);
    if (!e) e = gf_coord_db_get_model(&d, *version, &blob, &len, &state, &slen, sha);
    if (!e) e = gf_local_model_from_blob(blob, len, sha, m, task);
    free(blob), free(state);
    gf_coord_db_close(&d);
    return e;
}

/* One site's validation cycles and its own normalization, exactly as its node
 * computes them (node/node.c hospital_data). */
typedef struct {
    gf_dataset val;
    int n_val_subjects;
    gf_local_moments mom;
} site_eval;

static gf_err site_prepare(const char *store, gf_task task, site_eval *s)
{
    memset(s, 0, sizeof *s);
    gf_dataset ds;
    GF_TRY(load_store(store, task, &ds));
    unsigned char *is_val = malloc((size_t)ds.n);
    gf_err e = is_val ? GF_OK : gf_fail(GF_ENOMEM, "out of memory");
    if (!e) e = gf_local_split(&ds, GF_LOCAL_VAL_FRAC, GF_LOCAL_SPLIT_SEED, is_val, &s->n_val_subjects);
    if (!e) e = gf_local_stats(&ds, is_val, &s->mom);
    int64_t nv = 0;
    for (int64_t i = 0; !e && i < ds.n; i++) nv += is_val[i] != 0;
    if (!e && nv < 1) e = gf_fail(GF_EINVAL, "%s: no validation subjects", store);
    if (!e) e = gf_dataset_alloc(&s->val, nv, ds.yf != NULL, ds.ym != NULL);
    for (int64_t i = 0, j = 0; !e && i < ds.n; i++) {
        if (!is_val[i]) continue;
        const size_t X = (size_t)GF_T * GF_DIN, F = (size_t)GF_T * GF_NF, M = (size_t)GF_T * GF_NM;
        memcpy(s->val.x + j * X, ds.x + i * X, X * sizeof(float));
        if (ds.yf) memcpy(s->val.yf + j * F, ds.yf + i * F, F * sizeof(float));
        if (ds.ym) memcpy(s->val.ym + j * M, ds.ym + i * M, M * sizeof(float));
        s->val.meta[j++] = ds.meta[i];
    }
    free(is_val);
    gf_dataset_free(&ds);
    if (e) gf_dataset_free(&s->val);
    return e;
}

static json_t *strip(json_t *m)
{
    json_object_del(m, "curves"); /* per-frame curves stay out of the stored results */
    return m;
}

static double sm(const json_t *m, const char *k)
{
    const json_t *v = json_object_get(json_object_get(m, "subject_mean"), k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Metrics of m on site s under the federation's normalization. */
static gf_err eval_site(gf_model *m, const site_eval *s, gf_task task, int pooled, json_t **out)
{
    gf_local_norm nm = {.own = 0, .label = pooled ? "pooled" : "own"};
    if (pooled) {
        if (!m->has_norm) return gf_fail(GF_EFORMAT, "pooled normalization, but the model carries no x_mean/x_std");
        memcpy(nm.mean, m->x_mean, sizeof nm.mean);
        memcpy(nm.sd, m->x_std, sizeof nm.sd);
    } else {
        memcpy(nm.mean, s->mom.mean, sizeof nm.mean);
        memcpy(nm.sd, s->mom.sd, sizeof nm.sd);
    }
    GF_TRY(gf_local_evaluate(m, &s->val, task, &nm, out));
    strip(*out);
    /* a hospital's subject ids stay at the hospital (as in its validation
     * reports): no per-subject breakdown of its validation subjects */
    json_object_del(*out, "per_subject");
    return GF_OK;
}

/* ONFH under the cohort's own statistics and, when the model carries them, the pooled ones. */
static gf_err eval_onfh(gf_model *m, const gf_dataset *onfh, gf_task task, json_t *into, const char *key)
{
    gf_local_norm own = {.own = 1, .label = "own"};
    json_t *j = NULL;
    GF_TRY(gf_local_evaluate(m, onfh, task, &own, &j));
    json_object_set_new(into, key, strip(j));
    if (m->has_norm) {
        gf_local_norm p = {.own = 0, .label = "pooled"};
        memcpy(p.mean, m->x_mean, sizeof p.mean);
        memcpy(p.sd, m->x_std, sizeof p.sd);
        GF_TRY(gf_local_evaluate(m, onfh, task, &p, &j));
        char k2[64];
        snprintf(k2, sizeof k2, "%s_pooled", key);
        json_object_set_new(into, k2, strip(j));
    }
    return GF_OK;
}

/* ---- the command ---- */

static int run_federation(const loso_cfg *c, const char *out, const char *data, const char *label,
                          const char *const *sites, int n, double t_start)
{
    printf("loso: federation %s (%d hospitals) started at %.0f s\n", label, n, wall_s() - t_start);
    fflush(stdout);
    gf_fedrun_opts o = {.out = out,
                        .data = data,
                        .sites = sites,
                        .n_sites = n,
                        .rounds = c->rounds,
                        .local_epochs = c->local_epochs,
                        .batch = c->batch,
                        .lr = c->lr,
                        .strategy = c->strategy,
                        .server_lr = c->server_lr,
                        .normalization = c->norm,
                        .secure = c->secure,
                        .arch = c->arch,
                        .model = c->model,
                        .consortium = "gaitfed-loso",
                        .prefix = CMD,
                        .progress = 0};
    gf_fedrun_result r;
    if (gf_fedrun(&o, &r)) return 1;
    if (r.rounds_completed < 1) return fail1("federation %s completed no round (see %s/logs)", label, out);
    printf("loso: federation %s finished: %lld rounds in %.0f s (elapsed %.0f s)\n", label, r.rounds_completed,
           r.seconds, wall_s() - t_start);
    fflush(stdout);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The hospitals of the run: every store in DATA/sites, or those named in
 * "sites" (each must exist); at least 3. 0, or 1 after one line on stderr. */
static int pick_sites(const char *cfg_path, const loso_cfg *c, const char *data,
                      char all[][GF_FEDRUN_NAME_MAX], const char **sites, int *K)
{
    int na = gf_fedrun_hospitals(data, all, GF_FEDRUN_MAX_SITES + 1);
    if (na < 0) return fail1("%s/sites: cannot read the site stores", data);
    if (na > GF_FEDRUN_MAX_SITES)
        return fail1("%s/sites: more than %d site stores; name at most %d in 'sites'", data, GF_FEDRUN_MAX_SITES,
                     GF_FEDRUN_MAX_SITES);
    for (int i = 0; i < c->n_sites; i++) {
        int found = 0;
        for (int j = 0; j < na && !found; j++) found = !strcmp(all[j], c->sites[i]);
        if (!found)
            return fail1("%s: field 'sites': unknown site '%s' (no %s/sites/%s.db)", cfg_path, c->sites[i], data,
                         c->sites[i]);
    }
    *K = 0;
    for (int j = 0; j < na; j++) {
        int use = !c->n_sites;
        for (int i = 0; i < c->n_sites && !use; i++) use = !strcmp(c->sites[i], all[j]);
        if (use) sites[(*K)++] = all[j];
    }
    if (*K < 3)
        return fail1("leave-one-site-out needs at least 3 hospitals (2 remaining when one is left out); %s has %d%s",
                     data, *K, c->n_sites ? " among those named in 'sites'" : "");
    return 0;
}

int audit_loso(int argc, char **argv)
{
    const char *cfg_path = NULL, *out = "loso-out";
    cli_opt opts[] = {{"--config", 1, &cfg_path}, {"--out", 1, &out}};
    int rc = cli_parse("audit loso", USAGE, argc, argv, opts, 2, NULL, 0, NULL);
    if (rc) return rc;
    if (!cfg_path) return cli_usage("audit loso", USAGE, "--config is required");
    if (!*out || strchr(out, '\'')) return cli_usage("audit loso", USAGE, "--out: unusable directory name '%s'", out);
    loso_cfg c;
    if (loso_cfg_load(cfg_path, &c)) {
        fail1("%s", gf_errmsg());
        loso_cfg_free(&c);
        return 1;
    }
    rc = 1;
    char data_buf[4200], path[8400], marker[4200];
    const char *data = c.data;
    char all[GF_FEDRUN_MAX_SITES + 1][GF_FEDRUN_NAME_MAX];
    const char *sites[GF_FEDRUN_MAX_SITES];
    int K = 0;
    json_t *results = NULL, *doc = NULL;
    gf_model *m_in = NULL, *m_out = NULL;
    gf_dataset onfh = {0};
    int have_onfh = 0;
    /* Everything that can be checked before a directory is created. */
    if (data) {
        snprintf(path, sizeof path, "%s/sites", data);
        if (!is_dir(data)) {
            fail1("%s: field 'data': %s: no such directory", cfg_path, data);
            goto done;
        }
        if (!is_dir(path)) {
            fail1("%s: field 'data': %s is not a gaitfed synth output (no sites/ directory)", cfg_path, data);
            goto done;
        }
        snprintf(path, sizeof path, "%s/cohorts/onfh.db", data);
        struct stat st;
        if (stat(path, &st) != 0) {
            fail1("%s: field 'data': %s: missing", cfg_path, path);
            goto done;
        }
    }
    snprintf(marker, sizeof marker, "%s/.gaitfed-loso", out);
    struct stat st;
    if (stat(out, &st) == 0) { /* re-running replaces an earlier loso run, never anything else */
        if (stat(marker, &st) != 0) {
            fail1("%s exists and is not a gaitfed audit loso directory; choose another --out", out);
            goto done;
        }
        char ro[4200], rd[4200];
        if (data && realpath(out, ro) && realpath(data, rd) && !strncmp(rd, ro, strlen(ro)) &&
            (rd[strlen(ro)] == '/' || rd[strlen(ro)] == 0)) {
            fail1("%s: field 'data' lies inside --out %s, which a new run replaces", cfg_path, out);
            goto done;
        }
    }
    if (data && pick_sites(cfg_path, &c, data, all, sites, &K)) goto done;
    if (stat(out, &st) == 0) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", out);
        if (system(cmd) != 0) {
            fail1("cannot remove the earlier run in %s", out);
            goto done;
        }
    }
    if (gf_mkdirs(out, 0) || gf_write_file_atomic(marker, "gaitfed audit loso\n", 19)) {
        fail1("cannot create %s", out);
        goto done;
    }
    double t0 = wall_s();
    if (!data) {
        snprintf(data_buf, sizeof data_buf, "%s/data", out);
        data = data_buf;
        snprintf(path, sizeof path, "%s/synth.log", out);
        printf("loso: synthesizing the cohort (seed 1) into %s\n", data);
        fflush(stdout);
        if (gf_fedrun_synth(data, 1, path)) {
            fail1("gaitfed synth failed (see %s)", path);
            goto done;
        }
    }
    if (!c.data && pick_sites(cfg_path, &c, data, all, sites, &K)) goto done;
    /* (1) all K, (2) each K−1 */
    char full[4300];
    snprintf(full, sizeof full, "%s/full", out);
    if (run_federation(&c, full, data, "full", sites, K, t0)) goto done;
    for (int k = 0; k < K; k++) {
        const char *rest[GF_FEDRUN_MAX_SITES];
        int nr = 0;
        for (int j = 0; j < K; j++)
            if (j != k) rest[nr++] = sites[j];
        char dir[4300], label[96];
        snprintf(dir, sizeof dir, "%s/without-%s", out, sites[k]);
        snprintf(label, sizeof label, "without-%s", sites[k]);
        if (run_federation(&c, dir, data, label, rest, nr, t0)) goto done;
    }
    /* evaluations */
    const int pooled = !strcmp(c.norm, "global");
    gf_task task, t2;
    int64_t v_in, v_out;
    char full_db[4400];
    snprintf(full_db, sizeof full_db, "%s/coordinator.db", full);
    gf_err e = final_model(full_db, &m_in, &task, &v_in);
    if (e) {
        fail1("%s", gf_errmsg());
        goto done;
    }
    snprintf(path, sizeof path, "%s/cohorts/onfh.db", data);
    if (load_store(path, task, &onfh)) {
        fail1("%s", gf_errmsg());
        goto done;
    }
    have_onfh = 1;
    json_t *onfh_in = json_object(); /* the full federation's model on ONFH: the same for every k */
    e = onfh_in ? eval_onfh(m_in, &onfh, task, onfh_in, "in_federation") : gf_fail(GF_ENOMEM, "out of memory");
    if (e) {
        json_decref(onfh_in);
        fail1("%s", gf_errmsg());
        goto done;
    }
    results = json_array();
    double sum_gap = 0, sum_gap_r2 = 0, worst = -INFINITY;
    int n_gap = 0, n_gap_r2 = 0;
    const char *worst_site = NULL;
    for (int k = 0; k < K; k++) {
        char dbp[4400], store[4400];
        snprintf(dbp, sizeof dbp, "%s/without-%s/coordinator.db", out, sites[k]);
        snprintf(store, sizeof store, "%s/sites/%s.db", data, sites[k]);
        if ((e = final_model(dbp, &m_out, &t2, &v_out))) break;
        if (t2 != task) {
            e = gf_fail(GF_EFORMAT, "%s: the model predicts %s, the full federation's %s", dbp, gf_task_name(t2),
                        gf_task_name(task));
            break;
        }
        site_eval s;
        if ((e = site_prepare(store, task, &s))) break;
        json_t *in = NULL, *zs = NULL, *on = json_object();
        e = eval_site(m_in, &s, task, pooled, &in);
        if (!e) e = eval_site(m_out, &s, task, pooled, &zs);
        if (!e) e = json_object_update(on, onfh_in) ? gf_fail(GF_ENOMEM, "out of memory") : GF_OK;
        if (!e) e = eval_onfh(m_out, &onfh, task, on, "zero_shot");
        gf_dataset_free(&s.val);
        gf_model_free(m_out);
        m_out = NULL;
        if (e) {
            json_decref(in), json_decref(zs), json_decref(on);
            break;
        }
        double g = sm(zs, "rmse") - sm(in, "rmse"), g2 = sm(zs, "r2") - sm(in, "r2");
        json_t *res = json_pack("{s:s,s:s,s:i,s:I,s:I,s:o,s:o,s:{s:o,s:o},s:o}", "site", sites[k], "normalization",
                                c.norm, "n_val_subjects", s.n_val_subjects, "in_federation_model_version",
                                (json_int_t)v_in, "zero_shot_model_version", (json_int_t)v_out, "in_federation", in,
                                "zero_shot", zs, "gap", "rmse", num_or_null(g), "r2", num_or_null(g2), "onfh", on);
        if (!res) {
            e = gf_fail(GF_ENOMEM, "out of memory");
            break;
        }
        json_array_append_new(results, res);
        if (isfinite(g)) {
            sum_gap += g, n_gap++;
            if (g > worst) worst = g, worst_site = sites[k];
        }
        if (isfinite(g2)) sum_gap_r2 += g2, n_gap_r2++;
    }
    json_decref(onfh_in);
    if (e) {
        fail1("%s", gf_errmsg());
        goto done;
    }
    /* the coordinator database of the full federation: all rows or none */
    {
        char dbp[4400];
        snprintf(dbp, sizeof dbp, "%s/coordinator.db", full);
        gf_coord_db d;
        if ((e = gf_coord_db_open(dbp, &d))) {
            fail1("%s", gf_errmsg());
            goto done;
        }
        e = gf_coord_db_begin(&d);
        for (size_t i = 0; !e && i < json_array_size(results); i++) {
            json_t *r = json_array_get(results, i);
            char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
            e = s ? gf_coord_db_put_loso(&d, json_string_value(json_object_get(r, "site")), s, now_ms())
                  : gf_fail(GF_ENOMEM, "out of memory");
            free(s);
        }
        if (!e) e = gf_coord_db_commit(&d);
        else gf_coord_db_rollback(&d);
        if (!e) sqlite3_exec(d.db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        gf_coord_db_close(&d);
        if (e) {
            fail1("%s", gf_errmsg());
            goto done;
        }
    }
    json_t *names = json_array();
    for (int k = 0; k < K; k++) json_array_append_new(names, json_string(sites[k]));
    doc = json_pack("{s:s,s:o,s:{s:s,s:I,s:I,s:I,s:f,s:s,s:f,s:s,s:b,s:O},s:o}", "data", data, "sites", names,
                    "config", "model", c.arch, "rounds", (json_int_t)c.rounds, "local_epochs",
                    (json_int_t)c.local_epochs, "batch", (json_int_t)c.batch, "lr", c.lr, "strategy", c.strategy,
                    "server_lr", c.server_lr, "normalization", c.norm, "secure_aggregation", c.secure, "model_config",
                    c.model, "results", json_incref(results));
    json_t *summ = json_object();
    json_object_set_new(summ, "mean_gap", json_pack("{s:o,s:o}", "rmse", num_or_null(n_gap ? sum_gap / n_gap : NAN),
                                                    "r2", num_or_null(n_gap_r2 ? sum_gap_r2 / n_gap_r2 : NAN)));
    json_object_set_new(summ, "worst_gap_site", worst_site ? json_string(worst_site) : json_null());
    json_object_set_new(summ, "worst_gap_rmse", num_or_null(worst_site ? worst : NAN));
    json_object_set_new(summ, "coordinator_db", json_string("full/coordinator.db"));
    json_object_set_new(doc, "summary", summ);
    {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        snprintf(path, sizeof path, "%s/loso.json", out);
        e = s ? gf_write_file_atomic(path, s, strlen(s)) : gf_fail(GF_ENOMEM, "out of memory");
        free(s);
        if (e) {
            fail1("%s", gf_errmsg());
            goto done;
        }
    }
    /* the table */
    printf("\nleave-one-site-out, %s, normalization %s, %ld rounds (subject-level mean, %s; ONFH with %s statistics)\n",
           c.arch, c.norm, c.rounds, gf_task_units(task), pooled ? "pooled" : "its own");
    printf("%-16s | %8s | %11s | %11s | %8s | %15s | %17s\n", "site", "val subj", "RMSE in-fed", "RMSE 0-shot",
           "gap", "R2 in / 0-shot", "ONFH RMSE in/0-s");
    for (size_t i = 0; i < json_array_size(results); i++) {
        const json_t *r = json_array_get(results, i), *on = json_object_get(r, "onfh");
        const json_t *in = json_object_get(r, "in_federation"), *zs = json_object_get(r, "zero_shot");
        char r2[32], ox[32];
        snprintf(r2, sizeof r2, "%.3f / %.3f", sm(in, "r2"), sm(zs, "r2"));
        snprintf(ox, sizeof ox, "%.3f / %.3f", sm(json_object_get(on, pooled ? "in_federation_pooled" : "in_federation"), "rmse"),
                 sm(json_object_get(on, pooled ? "zero_shot_pooled" : "zero_shot"), "rmse"));
        printf("%-16s | %8d | %11.4f | %11.4f | %+8.4f | %15s | %17s\n", json_string_value(json_object_get(r, "site")),
               (int)json_integer_value(json_object_get(r, "n_val_subjects")), sm(in, "rmse"), sm(zs, "rmse"),
               sm(zs, "rmse") - sm(in, "rmse"), r2, ox);
    }
    printf("mean gap: RMSE %+.4f, R2 %+.4f; worst gap: %s (%+.4f)\n", n_gap ? sum_gap / n_gap : NAN,
           n_gap_r2 ? sum_gap_r2 / n_gap_r2 : NAN, worst_site ? worst_site : "-", worst_site ? worst : NAN);
    snprintf(path, sizeof path, "%s/report", out);
    if (gf_report_write(full_db, path)) {
        fail1("report: %s", gf_errmsg());
        goto done;
    }
    printf("loso: %d+1 federations in %.0f s; %s/loso.json, %s/coordinator.db (table loso) and the report %s/index.html\n",
           K, wall_s() - t0, out, full, path);
    rc = 0;
done:
    if (have_onfh) gf_dataset_free(&onfh);
    gf_model_free(m_in);
    gf_model_free(m_out);
    json_decref(results);
    json_decref(doc);
    loso_cfg_free(&c);
    return rc;
}

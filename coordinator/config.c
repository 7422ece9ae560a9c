#include "coordinator/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "crypto/hash.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

static const char *const strategies[] = {"fedavg", "fedprox", "fedadam", "fedyogi", "fedadagrad", NULL};
static const char *const phases[] = {"train", "advert", "shares", "masked", "consistency", "unmask", "evaluate", "cross_eval", NULL};
static const char *const norms[] = {"own", "global", "model", NULL};
static const char *const weightings[] = {"equal", "samples_capped", NULL};
static const char *const aggregators[] = {"mean", "trimmed_mean", "median", NULL};
static const char *const archs[] = {"transformer", "lstm", "gru", "tcn", NULL};
static const char *const tasks[] = {"forces", "moments", NULL};
/* Default deadlines (s): training dominates; key phases are messages only. */
static const double default_timeout[GF_PH_COUNT] = {900, 60, 60, 120, 60, 60, 900, 600};

const char *gf_fed_strategy_name(gf_fed_strategy s) { return s <= GF_FED_FEDADAGRAD ? strategies[s] : "?"; }
const char *gf_phase_name(gf_phase p) { return p < GF_PH_COUNT ? phases[p] : "?"; }
const char *gf_norm_name(gf_norm_policy n) { return n <= GF_NORM_MODEL ? norms[n] : "?"; }
const char *gf_weighting_name(gf_weighting w) { return w <= GF_WEIGHT_SAMPLES_CAPPED ? weightings[w] : "?"; }
const char *gf_aggregator_name(gf_aggregator a) { return a <= GF_AGG_MEDIAN ? aggregators[a] : "?"; }

static gf_err parse_listen(const gf_cfg *c, const char *s, gf_coord_config *o)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (!colon || !hl || hl >= sizeof o->host || !end || *end || end == colon + 1 || port < 0 || port > 65535)
        return gf_fail(GF_EINVAL, "%s: field 'listen': expected HOST:PORT (port 0..65535)", c->path);
    memcpy(o->host, s, hl);
    o->host[hl] = 0;
    o->port = (int)port;
    return GF_OK;
}

/* "sites": names, or {"name": N, "max_samples": M} (the cap on the sample
 * count the site may claim: what the consortium knows of its cohort). */
static gf_err parse_sites(const gf_cfg *c, gf_coord_config *o)
{
    static const char *const keys[] = {"name", "max_samples", NULL};
    const json_t *a = json_object_get(c->root, "sites");
    if (!a || json_is_null(a)) return GF_OK;
    if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > 4096)
        return gf_fail(GF_EINVAL, "%s: field 'sites': expected a list of 1..4096 site names", c->path);
    o->n_sites = json_array_size(a);
    o->sites = calloc(o->n_sites, sizeof *o->sites);
    o->max_samples = calloc(o->n_sites, sizeof *o->max_samples);
    if (!o->sites || !o->max_samples) return gf_fail(GF_ENOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < o->n_sites; i++) {
        const json_t *it = json_array_get(a, i);
        const char *s = json_string_value(it);
        char at[32];
        snprintf(at, sizeof at, "sites[%zu]", i);
        if (json_is_object(it)) {
            GF_TRY(gf_cfg_only(c, it, at, keys));
            GF_TRY(gf_cfg_str(c, it, at, "name", 1, NULL, &s));
            GF_TRY(gf_cfg_int(c, it, at, "max_samples", 1, 100000000, 0, 0, &o->max_samples[i]));
        }
        if (!s || !gf_name_valid(s))
            return gf_fail(GF_EINVAL, "%s: field '%s': expected a site name ([A-Za-z0-9._-], 1..%d chars) or "
                                      "{\"name\": NAME, \"max_samples\": N}", c->path, at, GF_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->sites[j], s)) return gf_fail(GF_EINVAL, "%s: field '%s': '%s' listed twice", c->path, at, s);
        o->sites[i] = s;
    }
    return GF_OK;
}

/* Weighting, aggregator and the pause rule (README "`gaitfed coordinator`"). */
static gf_err parse_influence(const gf_cfg *c, gf_coord_config *o)
{
    const json_t *r = c->root;
    int v;
    GF_TRY(gf_cfg_enum(c, r, "", "weighting", weightings, GF_WEIGHT_EQUAL, &v));
    o->weighting = (gf_weighting)v;
    GF_TRY(gf_cfg_enum(c, r, "", "aggregator", aggregators, GF_AGG_MEAN, &v));
    o->aggregator = (gf_aggregator)v;
    GF_TRY(gf_cfg_num(c, r, "", "trim_fraction", 0, 0.49, 0.2, 0, &o->trim_fraction));
    GF_TRY(gf_cfg_int(c, r, "", "max_attempt_failures", 1, 1000, 3, 0, &o->max_attempt_failures));
    if (o->weighting == GF_WEIGHT_SAMPLES_CAPPED) {
        if (!o->n_sites)
            return gf_fail(GF_EINVAL, "%s: field 'weighting': \"samples_capped\" needs 'sites' with a \"max_samples\" "
                                      "for each site (a claimed count is capped by what the consortium knows)", c->path);
        for (size_t i = 0; i < o->n_sites; i++)
            if (!o->max_samples[i])
                return gf_fail(GF_EINVAL, "%s: field 'sites[%zu]': '%s' has no \"max_samples\", which \"weighting\": "
                                          "\"samples_capped\" needs for every site", c->path, i, o->sites[i]);
    }
    if (o->aggregator != GF_AGG_MEAN && o->secure)
        return gf_fail(GF_EINVAL, "%s: field 'aggregator': \"%s\" needs each site's update, but secure aggregation "
                                  "unmasks only their sum: use \"mean\" or \"secure_aggregation\": false", c->path,
                        aggregators[o->aggregator]);
    if (o->aggregator != GF_AGG_MEAN && o->weighting != GF_WEIGHT_EQUAL)
        return gf_fail(GF_EINVAL, "%s: field 'weighting': \"%s\" counts every site once; weights apply to \"mean\" "
                                  "only", c->path, aggregators[o->aggregator]);
    if (json_object_get(r, "trim_fraction") && o->aggregator != GF_AGG_TRIMMED_MEAN)
        return gf_fail(GF_EINVAL, "%s: field 'trim_fraction': only used with \"aggregator\": \"trimmed_mean\"", c->path);
    return GF_OK;
}

static gf_err parse_model(const gf_cfg *c, gf_coord_config *o)
{
    static const char *const keys[] = {"arch", "task", "d_model", "layers", "heads", "ff", "dropout", "kernel",
                                       "prenorm", "gelu", NULL};
    const json_t *m;
    GF_TRY(gf_cfg_obj(c, c->root, "", "model", 0, &m));
    json_t *empty = NULL;
    if (!m) m = empty = json_object();
    gf_err e = gf_cfg_only(c, m, "model", keys);
    int arch = 0, task = 0;
    if (!e) e = gf_cfg_enum(c, m, "model", "arch", archs, 0, &arch);
    if (!e) e = gf_cfg_enum(c, m, "model", "task", tasks, 0, &task);
    if (!e) {
        o->task_moments = task;
        o->model = gf_model_config_default((gf_arch)arch, 10, task ? 3 : 14);
        long v;
        double d;
        int b;
        gf_model_config *mc = &o->model;
        if (!e && !(e = gf_cfg_int(c, m, "model", "d_model", 4, 4096, mc->d_model, 0, &v))) mc->d_model = (int)v;
        if (!e && !(e = gf_cfg_int(c, m, "model", "layers", 1, 64, mc->n_layers, 0, &v))) mc->n_layers = (int)v;
        if (!e && !(e = gf_cfg_int(c, m, "model", "heads", 1, 64, mc->n_heads, 0, &v))) mc->n_heads = (int)v;
        if (!e && !(e = gf_cfg_int(c, m, "model", "ff", 1, 65536, mc->d_ff, 0, &v))) mc->d_ff = (int)v;
        if (!e && !(e = gf_cfg_int(c, m, "model", "kernel", 1, 63, mc->kernel, 0, &v))) mc->kernel = (int)v;
        if (!e && !(e = gf_cfg_num(c, m, "model", "dropout", 0, 0.9, mc->dropout, 0, &d))) mc->dropout = (float)d;
        if (!e && !(e = gf_cfg_bool(c, m, "model", "prenorm", mc->prenorm, &b))) mc->prenorm = b;
        if (!e && !(e = gf_cfg_bool(c, m, "model", "gelu", mc->gelu, &b))) mc->gelu = b;
        if (!e && mc->arch == GF_ARCH_TRANSFORMER && mc->d_model % mc->n_heads)
            e = gf_fail(GF_EINVAL, "%s: field 'model.heads': %d does not divide d_model %d", c->path, mc->n_heads,
                        mc->d_model);
    }
    json_decref(empty);
    return e;
}

/* One line for a problem with the initial model: "F: field 'initial_model': NAME: what". */
static gf_err initial_fail(const gf_cfg *c, gf_err e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static gf_err initial_fail(const gf_cfg *c, gf_err e, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return gf_fail(e, "%s: field 'initial_model': %s", c->path, what);
}

/* Each field "model" gives must be the checkpoint's: a federation cannot
 * start from parameters of another shape or another task. */
static gf_err initial_agrees(const gf_cfg *c, const gf_coord_config *o, const char *name, gf_task task)
{
    const json_t *m = json_object_get(c->root, "model");
    const gf_model_config *k = &o->initial->cfg, *g = &o->model;
    if (json_object_get(m, "task") && (int)task != o->task_moments)
        return initial_fail(c, GF_EINVAL, "%s: task %s but the federation's task is %s", name, gf_task_name(task),
                            o->task_moments ? "moments" : "forces");
    if (json_object_get(m, "arch") && k->arch != g->arch)
        return initial_fail(c, GF_EINVAL, "%s: model %s but \"model.arch\" is %s", name, gf_arch_name(k->arch),
                            gf_arch_name(g->arch));
    struct { const char *key; int ck, cg; } f[] = {
        {"d_model", k->d_model, g->d_model}, {"layers", k->n_layers, g->n_layers}, {"heads", k->n_heads, g->n_heads},
        {"ff", k->d_ff, g->d_ff},            {"kernel", k->kernel, g->kernel},     {"prenorm", k->prenorm, g->prenorm},
        {"gelu", k->gelu, g->gelu}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (json_object_get(m, f[i].key) && f[i].ck != f[i].cg)
            return initial_fail(c, GF_EINVAL, "%s: %s %d but \"model.%s\" is %d", name, f[i].key, f[i].ck, f[i].key,
                                f[i].cg);
    return GF_OK;
}

/* Reads the initial model (a regular file, capped), builds it as every
 * checkpoint reader does (gf_checkpoint_model: metadata, channels, strict
 * tensors), checks it against "model" and takes its configuration. */
static gf_err parse_initial(const gf_cfg *c, gf_coord_config *o)
{
    if (!o->initial_model) return GF_OK;
    const char *name = json_string_value(json_object_get(c->root, "initial_model")); /* as written */
    struct stat sb;
    if (stat(o->initial_model, &sb)) return initial_fail(c, GF_ENOTFOUND, "%s: %s", name, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return initial_fail(c, GF_EINVAL, "%s: not a regular file", name);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (gf_read_file(o->initial_model, GF_ST_MAX_FILE, &buf, &len))
        return initial_fail(c, GF_EIO, "%s: cannot read (%s)", name, gf_errmsg());
    uint8_t h[32];
    gf_safetensors st;
    gf_task task = GF_TASK_FORCES;
    gf_err e = gf_sha256(buf, len, h);
    if (!e) e = gf_safetensors_parse(name, buf, len, &st);
    free(buf);
    if (e) return initial_fail(c, e, "%s", gf_errmsg());
    e = gf_checkpoint_model(&st, name, &o->initial, &task);
    if (!e) o->initial_meta = json_incref(st.meta);
    gf_safetensors_free(&st);
    if (e) return initial_fail(c, e, "%s", gf_errmsg());
    gf_hex(h, 32, o->initial_sha256);
    o->initial_bytes = len;
    GF_TRY(initial_agrees(c, o, name, task));
    const json_t *dropout = json_object_get(json_object_get(c->root, "model"), "dropout");
    float d = o->model.dropout;
    o->model = o->initial->cfg; /* every structural field, max_len included */
    if (dropout) o->model.dropout = d; /* a training setting, not the parameters' shape */
    o->task_moments = task == GF_TASK_MOMENTS;
    return GF_OK;
}

static gf_err parse_timeouts(const gf_cfg *c, gf_coord_config *o)
{
    const json_t *t;
    GF_TRY(gf_cfg_obj(c, c->root, "", "timeouts_s", 0, &t));
    for (int p = 0; p < GF_PH_COUNT; p++) o->timeout_s[p] = default_timeout[p];
    if (!t) return GF_OK;
    GF_TRY(gf_cfg_only(c, t, "timeouts_s", phases));
    for (int p = 0; p < GF_PH_COUNT; p++)
        GF_TRY(gf_cfg_num(c, t, "timeouts_s", phases[p], 0.1, 86400, default_timeout[p], 0, &o->timeout_s[p]));
    return GF_OK;
}

static gf_err parse(gf_coord_config *o)
{
    static const char *const keys[] = {
        "name", "listen", "key", "cert", "ca", "crl", "db", "sites", "secure_aggregation", "strategy", "rounds",
        "min_sites", "threshold", "neighbours", "sample_fraction", "local_epochs", "batch", "lr", "weight_decay",
        "grad_clip", "update_clip", "mu", "server_lr", "beta1", "beta2", "tau", "normalization", "model", "seed",
        "timeouts_s", "cross_site_eval", "initial_model", "weighting", "aggregator", "trim_fraction",
        "max_attempt_failures", NULL};
    const gf_cfg *c = &o->src;
    const json_t *r = c->root;
    const char *listen;
    int v;
    GF_TRY(gf_cfg_only(c, r, "", keys));
    GF_TRY(gf_cfg_str(c, r, "", "name", 1, NULL, &o->name));
    if (!gf_name_valid(o->name)) return gf_fail(GF_EINVAL, "%s: field 'name': not a valid name", c->path);
    GF_TRY(gf_cfg_str(c, r, "", "listen", 0, "127.0.0.1:8443", &listen));
    GF_TRY(parse_listen(c, listen, o));
    GF_TRY(gf_cfg_path(c, r, "", "key", 1, NULL, &o->key));
    GF_TRY(gf_cfg_path(c, r, "", "cert", 1, NULL, &o->cert));
    GF_TRY(gf_cfg_path(c, r, "", "ca", 1, NULL, &o->ca));
    GF_TRY(gf_cfg_path(c, r, "", "crl", 0, NULL, &o->crl));
    GF_TRY(gf_cfg_path(c, r, "", "db", 0, "coordinator.db", &o->db));
    GF_TRY(parse_sites(c, o));
    GF_TRY(gf_cfg_bool(c, r, "", "secure_aggregation", 1, &o->secure));
    GF_TRY(gf_cfg_bool(c, r, "", "cross_site_eval", 1, &o->cross_site_eval));
    GF_TRY(gf_cfg_enum(c, r, "", "strategy", strategies, GF_FED_FEDAVG, &v));
    o->strategy = (gf_fed_strategy)v;
    GF_TRY(gf_cfg_int(c, r, "", "rounds", 1, 1000000, 20, 0, &o->rounds));
    GF_TRY(gf_cfg_int(c, r, "", "min_sites", 1, 4096, 2, 0, &o->min_sites));
    GF_TRY(gf_cfg_int(c, r, "", "threshold", 0, 4096, 0, 0, &o->threshold));
    GF_TRY(gf_cfg_int(c, r, "", "neighbours", 0, 4095, 0, 0, &o->neighbours));
    GF_TRY(gf_cfg_num(c, r, "", "sample_fraction", 1e-6, 1, 1, 0, &o->sample_fraction));
    GF_TRY(gf_cfg_int(c, r, "", "local_epochs", 1, 10000, 1, 0, &o->local_epochs));
    GF_TRY(gf_cfg_int(c, r, "", "batch", 1, 65536, 64, 0, &o->batch));
    GF_TRY(gf_cfg_num(c, r, "", "lr", 1e-12, 10, 1e-3, 0, &o->lr));
    GF_TRY(gf_cfg_num(c, r, "", "weight_decay", 0, 10, 1e-5, 0, &o->weight_decay));
    GF_TRY(gf_cfg_num(c, r, "", "grad_clip", 0, 1e6, 0.5, 0, &o->grad_clip));
    GF_TRY(gf_cfg_num(c, r, "", "update_clip", 1e-9, 1e6, 10.0, 0, &o->update_clip));
    GF_TRY(gf_cfg_num(c, r, "", "mu", 0, 1e6, o->strategy == GF_FED_FEDPROX ? 0.01 : 0, 0, &o->mu));
    int adaptive = o->strategy >= GF_FED_FEDADAM;
    GF_TRY(gf_cfg_num(c, r, "", "server_lr", 1e-9, 100, adaptive ? 1e-2 : 1.0, 0, &o->server_lr));
    GF_TRY(gf_cfg_num(c, r, "", "beta1", 0, 0.999999, 0.9, 0, &o->beta1));
    GF_TRY(gf_cfg_num(c, r, "", "beta2", 0, 0.999999, 0.99, 0, &o->beta2));
    GF_TRY(gf_cfg_num(c, r, "", "tau", 1e-12, 1, 1e-3, 0, &o->tau));
    if (o->mu > 0 && o->strategy != GF_FED_FEDPROX)
        return gf_fail(GF_EINVAL, "%s: field 'mu': only used with \"strategy\": \"fedprox\"", c->path);
    GF_TRY(gf_cfg_enum(c, r, "", "normalization", norms, GF_NORM_OWN, &v));
    o->normalization = (gf_norm_policy)v;
    GF_TRY(parse_model(c, o));
    GF_TRY(gf_cfg_path(c, r, "", "initial_model", 0, NULL, &o->initial_model));
    GF_TRY(parse_initial(c, o));
    GF_TRY(gf_cfg_int(c, r, "", "seed", 0, 0x7fffffff, 1, 0, &o->seed));
    GF_TRY(parse_timeouts(c, o));
    GF_TRY(parse_influence(c, o));
    if (o->normalization == GF_NORM_GLOBAL && !o->secure)
        return gf_fail(GF_EINVAL, "%s: field 'normalization': \"global\" pools the sites' statistics through secure "
                                  "aggregation, which this config turns off", c->path);
    if (o->normalization == GF_NORM_MODEL && !(o->initial && o->initial->has_norm))
        return gf_fail(GF_EINVAL, "%s: field 'normalization': \"model\" z-scores with the initial model's x_mean/x_std, "
                                  "but %s", c->path, o->initial ? "the initial model carries none" : "there is no initial_model");
    if (o->threshold && o->threshold > o->min_sites)
        return gf_fail(GF_EINVAL, "%s: field 'threshold': %ld is more than min_sites %ld (no round could finish)",
                       c->path, o->threshold, o->min_sites);
    if (o->n_sites && (size_t)o->min_sites > o->n_sites)
        return gf_fail(GF_EINVAL, "%s: field 'min_sites': %ld but only %zu sites are registered", c->path,
                       o->min_sites, o->n_sites);
    return GF_OK;
}

gf_err gf_coord_config_parse(const char *name, const char *text, size_t len, gf_coord_config *out)
{
    memset(out, 0, sizeof *out);
    GF_TRY(gf_cfg_parse(name, text, len, &out->src));
    gf_err e = parse(out);
    if (e) gf_coord_config_free(out);
    return e;
}

gf_err gf_coord_config_load(const char *path, gf_coord_config *out)
{
    memset(out, 0, sizeof *out);
    GF_TRY(gf_cfg_load(path, &out->src));
    gf_err e = parse(out);
    if (e) gf_coord_config_free(out);
    return e;
}

void gf_coord_config_free(gf_coord_config *c)
{
    if (!c) return;
    free(c->key), free(c->cert), free(c->ca), free(c->crl), free(c->db), free(c->initial_model);
    gf_model_free(c->initial);
    json_decref(c->initial_meta);
    free(c->sites);
    free(c->max_samples);
    gf_cfg_free(&c->src);
    memset(c, 0, sizeof *c);
}

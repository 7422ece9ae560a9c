#include "node/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"

static const char *const norms[] = {"own", "global", NULL};
static const char *const roles[] = {"hospital", "evaluator", NULL};

static gf_err parse_cohorts(const gf_cfg *c, gf_node_config *o)
{
    static const char *const keys[] = {"name", "db", NULL};
    const json_t *a = json_object_get(c->root, "cohorts");
    if (!a || json_is_null(a)) return GF_OK;
    if (!json_is_array(a) || json_array_size(a) > GF_NODE_MAX_COHORTS)
        return gf_fail(GF_EINVAL, "%s: field 'cohorts': expected a list of at most %d {\"name\", \"db\"} objects",
                       c->path, GF_NODE_MAX_COHORTS);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *it = json_array_get(a, i);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "cohorts[%zu]", i);
        if (!json_is_object(it)) return gf_fail(GF_EINVAL, "%s: field '%s': expected an object", c->path, prefix);
        GF_TRY(gf_cfg_only(c, it, prefix, keys));
        gf_node_cohort *h = &o->cohorts[o->n_cohorts];
        GF_TRY(gf_cfg_str(c, it, prefix, "name", 1, NULL, &h->name));
        if (!gf_name_valid(h->name))
            return gf_fail(GF_EINVAL, "%s: field '%s.name': expected [A-Za-z0-9._-], 1..%d chars", c->path, prefix,
                           GF_NAME_MAX);
        for (size_t j = 0; j < o->n_cohorts; j++)
            if (!strcmp(o->cohorts[j].name, h->name))
                return gf_fail(GF_EINVAL, "%s: field '%s.name': '%s' listed twice", c->path, prefix, h->name);
        GF_TRY(gf_cfg_path(c, it, prefix, "db", 1, NULL, &h->db));
        o->n_cohorts++;
    }
    return GF_OK;
}

static gf_err parse(gf_node_config *o)
{
    static const char *const keys[] = {"name", "role", "coordinator_url", "key", "cert", "ca", "crl", "site_db",
                                       "state_dir", "normalization", "threads", "poll_ms", "backoff_max_ms",
                                       "http_timeout_s", "cohorts", "share_local_model", NULL};
    const gf_cfg *c = &o->src;
    const json_t *r = c->root;
    int v;
    GF_TRY(gf_cfg_only(c, r, "", keys));
    GF_TRY(gf_cfg_str(c, r, "", "name", 1, NULL, &o->name));
    if (!gf_name_valid(o->name)) return gf_fail(GF_EINVAL, "%s: field 'name': not a valid name", c->path);
    GF_TRY(gf_cfg_enum(c, r, "", "role", roles, -1, &v));
    if (v < 0) return gf_fail(GF_EINVAL, "%s: field 'role': required (hospital or evaluator)", c->path);
    o->role = v == 0 ? GF_ROLE_HOSPITAL : GF_ROLE_EVALUATOR;
    GF_TRY(gf_cfg_str(c, r, "", "coordinator_url", 1, NULL, &o->coordinator_url));
    if (strncmp(o->coordinator_url, "https://", 8) || !o->coordinator_url[8])
        return gf_fail(GF_EINVAL, "%s: field 'coordinator_url': expected https://HOST:PORT", c->path);
    GF_TRY(gf_cfg_path(c, r, "", "key", 1, NULL, &o->key));
    GF_TRY(gf_cfg_path(c, r, "", "cert", 1, NULL, &o->cert));
    GF_TRY(gf_cfg_path(c, r, "", "ca", 1, NULL, &o->ca));
    GF_TRY(gf_cfg_path(c, r, "", "crl", 0, NULL, &o->crl));
    if (!o->crl) { /* a kit carries its CRL next to the config: use it unless told otherwise */
        char *p = gf_path_join(c->dir, "crl.pem");
        if (p && access(p, R_OK) == 0) o->crl = p;
        else free(p);
    }
    GF_TRY(gf_cfg_path(c, r, "", "site_db", 0, NULL, &o->site_db));
    GF_TRY(gf_cfg_path(c, r, "", "state_dir", 0, "state", &o->state_dir));
    GF_TRY(gf_cfg_enum(c, r, "", "normalization", norms, 0, &o->norm_global));
    GF_TRY(gf_cfg_int(c, r, "", "threads", 1, 256, 1, 0, &o->threads));
    GF_TRY(gf_cfg_int(c, r, "", "poll_ms", 10, 600000, 5000, 0, &o->poll_ms));
    GF_TRY(gf_cfg_int(c, r, "", "backoff_max_ms", 10, 3600000, 30000, 0, &o->backoff_max_ms));
    GF_TRY(gf_cfg_num(c, r, "", "http_timeout_s", 1, 86400, 300, 0, &o->http_timeout_s));
    GF_TRY(parse_cohorts(c, o));
    GF_TRY(gf_cfg_bool(c, r, "", "share_local_model", 0, &o->share_local));
    if (o->role == GF_ROLE_HOSPITAL && !o->site_db)
        return gf_fail(GF_EINVAL, "%s: field 'site_db': required for a hospital", c->path);
    if (o->role == GF_ROLE_EVALUATOR && !o->n_cohorts)
        return gf_fail(GF_EINVAL, "%s: field 'cohorts': an evaluator needs at least one {\"name\", \"db\"}", c->path);
    if (o->role == GF_ROLE_HOSPITAL && o->n_cohorts)
        return gf_fail(GF_EINVAL, "%s: field 'cohorts': only evaluators benchmark cohorts", c->path);
    return GF_OK;
}

gf_err gf_node_config_parse(const char *name, const char *text, size_t len, gf_node_config *out)
{
    memset(out, 0, sizeof *out);
    GF_TRY(gf_cfg_parse(name, text, len, &out->src));
    gf_err e = parse(out);
    if (e) gf_node_config_free(out);
    return e;
}

gf_err gf_node_config_load(const char *path, gf_node_config *out)
{
    memset(out, 0, sizeof *out);
    GF_TRY(gf_cfg_load(path, &out->src));
    gf_err e = parse(out);
    if (e) gf_node_config_free(out);
    return e;
}

void gf_node_config_free(gf_node_config *c)
{
    if (!c) return;
    free(c->key), free(c->cert), free(c->ca), free(c->crl), free(c->site_db), free(c->state_dir);
    for (size_t i = 0; i < c->n_cohorts; i++) free(c->cohorts[i].db);
    gf_cfg_free(&c->src);
    memset(c, 0, sizeof *c);
}

/* summary.md of the report: the same numbers as summary.json as markdown
 * tables; every name escaped for a table cell (gf_rb_md). */
#include "coordinator/report_internal.h"

#include <stdlib.h>
#include <string.h>

#include "coordinator/report.h"

static void cell(gf_rbuf *b, const char *s)
{
    gf_rb_raw(b, " ");
    gf_rb_md(b, s);
    gf_rb_raw(b, " |");
}

static void ncell(gf_rbuf *b, double v, int digits)
{
    gf_rb_raw(b, " ");
    gf_rb_num(b, v, digits);
    gf_rb_raw(b, " |");
}

gf_err gf_report_md(const json_t *m, char **out, size_t *len)
{
    gf_rbuf b = {0};
    const json_t *fed = json_object_get(m, "federation"), *a = json_object_get(m, "audit"), *it, *s;
    size_t i, j;
    gf_rb_raw(&b, "# gaitfed federation report\n\nDatabase: ");
    gf_rb_md(&b, gf_rj_str(m, "database"));
    gf_rb_put(&b, "; %lld rounds (%lld aggregated).\n\n", (long long)json_integer_value(json_object_get(fed, "rounds")),
              (long long)json_integer_value(json_object_get(fed, "rounds_aggregated")));
    if (!json_integer_value(json_object_get(fed, "rounds"))) gf_rb_raw(&b, "**This federation has not run any rounds yet.**\n\n");
    if (json_is_true(json_object_get(a, "intact")))
    {
        gf_rb_put(&b, "Audit chain: OK (%lld rows, head ", (long long)json_integer_value(json_object_get(a, "rows")));
        gf_rb_md(&b, *gf_rj_str(a, "head") ? gf_rj_str(a, "head") : "empty");
        gf_rb_raw(&b, ")\n\n");
    }
    else {
        gf_rb_raw(&b, "Audit chain: **BROKEN** at row ");
        gf_rb_num(&b, gf_rj_num(a, "first_bad"), 0);
        gf_rb_raw(&b, ": ");
        gf_rb_md(&b, gf_rj_str(a, "problem"));
        gf_rb_raw(&b, "\n\n");
    }
    gf_rb_raw(&b, "## Federation settings\n\n| setting | value |\n|---|---|\n");
    const char *k;
    json_object_foreach(json_object_get(fed, "settings"), k, s) {
        if (!strcmp(k, "round_params") || !strcmp(k, "model_metadata")) continue;
        gf_rb_raw(&b, "|");
        cell(&b, k);
        char *v = json_is_null(s) || json_is_string(s) ? NULL
                  : json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        cell(&b, json_is_string(s) ? json_string_value(s) : v ? v : "not recorded");
        free(v);
        gf_rb_raw(&b, "\n");
    }
    gf_rb_put(&b, "\n## Fitness (subject-mean R2 of the global model: green >= %.2f, amber >= %.2f, red below)\n\n"
                  "| kind | name | verdict | R2 | RMSE | source |\n|---|---|---|---|---|---|\n",
              GF_REPORT_GREEN_R2, GF_REPORT_AMBER_R2);
    json_array_foreach(json_object_get(m, "verdict"), i, it) {
        gf_rb_raw(&b, "|");
        cell(&b, gf_rj_str(it, "kind"));
        cell(&b, gf_rj_str(it, "name"));
        cell(&b, gf_rj_str(it, "level"));
        ncell(&b, gf_rj_num(it, "r2"), 3);
        ncell(&b, gf_rj_num(it, "rmse"), 3);
        cell(&b, gf_rj_str(it, "source"));
        gf_rb_raw(&b, "\n");
    }
    gf_rb_raw(&b, "\n## Cohorts (evaluator), subject-mean per model version\n\n"
                  "| cohort | norm | evaluator | version | RMSE | R2 |\n|---|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(m, "cohorts"), i, it) json_array_foreach(json_object_get(it, "versions"), j, s) {
        gf_rb_raw(&b, "|");
        cell(&b, gf_rj_str(it, "cohort"));
        cell(&b, gf_rj_str(it, "norm"));
        cell(&b, gf_rj_str(it, "site"));
        ncell(&b, gf_rj_num(s, "version"), 0);
        ncell(&b, gf_rj_num(s, "rmse"), 4);
        ncell(&b, gf_rj_num(s, "r2"), 4);
        gf_rb_raw(&b, "\n");
    }
    gf_rb_raw(&b, "\n## Final version per cadence and per subject\n\n| cohort | norm | cadence or subject | RMSE | R2 |\n"
                  "|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(m, "cohorts"), i, it) {
        const json_t *f = json_object_get(it, "final");
        json_object_foreach(json_object_get(f, "per_cadence"), k, s) {
            gf_rb_raw(&b, "|");
            cell(&b, gf_rj_str(it, "cohort"));
            cell(&b, gf_rj_str(it, "norm"));
            cell(&b, k);
            ncell(&b, gf_rj_num(s, "rmse"), 4);
            ncell(&b, gf_rj_num(s, "r2"), 4);
            gf_rb_raw(&b, "\n");
        }
        json_array_foreach(json_object_get(f, "per_subject"), j, s) {
            gf_rb_raw(&b, "|");
            cell(&b, gf_rj_str(it, "cohort"));
            cell(&b, gf_rj_str(it, "norm"));
            cell(&b, gf_rj_str(s, "id"));
            ncell(&b, gf_rj_num(s, "rmse"), 4);
            ncell(&b, gf_rj_num(s, "r2"), 4);
            gf_rb_raw(&b, "\n");
        }
    }
    gf_rb_raw(&b, "\n## Rounds: global model on each site's validation subjects\n\n"
                  "| round | worst site | worst RMSE | spread | weighted mean RMSE | sites |\n|---|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(m, "rounds"), i, it) {
        gf_rb_raw(&b, "|");
        ncell(&b, gf_rj_num(it, "round"), 0);
        cell(&b, gf_rj_str(it, "worst_site"));
        ncell(&b, gf_rj_num(it, "worst_rmse"), 4);
        ncell(&b, gf_rj_num(it, "spread_rmse"), 4);
        ncell(&b, gf_rj_num(it, "weighted_mean_rmse"), 4);
        ncell(&b, (double)json_array_size(json_object_get(it, "sites")), 0);
        gf_rb_raw(&b, "\n");
    }
    const json_t *x = json_object_get(m, "cross_site");
    gf_rb_raw(&b, "\n## Cross-site matrix\n\n");
    if (!json_is_object(x)) gf_rb_raw(&b, "Not run.\n");
    else {
        gf_rb_put(&b, "Round %lld, subject-mean RMSE.\n\n| model | at site | RMSE | R2 |\n|---|---|---|---|\n",
                  (long long)gf_rj_num(x, "round"));
        json_array_foreach(json_object_get(x, "rows"), i, it) json_array_foreach(json_object_get(it, "cells"), j, s) {
            gf_rb_raw(&b, "|");
            cell(&b, gf_rj_str(it, "model"));
            cell(&b, gf_rj_str(s, "at_site"));
            ncell(&b, gf_rj_num(s, "rmse"), 4);
            ncell(&b, gf_rj_num(s, "r2"), 4);
            gf_rb_raw(&b, "\n");
        }
        gf_rb_raw(&b, "\n| model | worst site | worst RMSE | spread | weighted mean RMSE |\n|---|---|---|---|---|\n");
        json_array_foreach(json_object_get(x, "rows"), i, it) {
            gf_rb_raw(&b, "|");
            cell(&b, gf_rj_str(it, "model"));
            cell(&b, gf_rj_str(it, "worst_site"));
            ncell(&b, gf_rj_num(it, "worst_rmse"), 4);
            ncell(&b, gf_rj_num(it, "spread_rmse"), 4);
            ncell(&b, gf_rj_num(it, "weighted_mean_rmse"), 4);
            gf_rb_raw(&b, "\n");
        }
    }
    gf_rb_raw(&b, "\n## Leave one site out\n\n");
    if (!json_array_size(json_object_get(m, "loso"))) gf_rb_raw(&b, "Not run.\n");
    else {
        gf_rb_raw(&b, "| site | norm | RMSE in federation | RMSE zero-shot | RMSE gap | R2 in federation | R2 zero-shot | R2 gap |\n"
                      "|---|---|---|---|---|---|---|---|\n");
        json_array_foreach(json_object_get(m, "loso"), i, it) {
            gf_rb_raw(&b, "|");
            cell(&b, gf_rj_str(it, "site"));
            cell(&b, gf_rj_str(it, "normalization"));
            ncell(&b, gf_rj_num(it, "in_federation.rmse"), 4);
            ncell(&b, gf_rj_num(it, "zero_shot.rmse"), 4);
            ncell(&b, gf_rj_num(it, "gap.rmse"), 4);
            ncell(&b, gf_rj_num(it, "in_federation.r2"), 4);
            ncell(&b, gf_rj_num(it, "zero_shot.r2"), 4);
            ncell(&b, gf_rj_num(it, "gap.r2"), 4);
            gf_rb_raw(&b, "\n");
        }
    }
    if (b.oom) { gf_rb_free(&b); return gf_fail(GF_ENOMEM, "report: out of memory"); }
    *out = b.buf, *len = b.len;
    return GF_OK;
}

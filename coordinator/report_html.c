/* index.html of the report: one self-contained page (inline CSS and SVG, no
 * script, no fonts, no links). Sections and charts carry fixed ids
 * (sec-…, chart-…) so tests can find them in the rendered DOM. */
#include "coordinator/report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/report.h"

#define MAXS 64 /* series drawn per chart */

static const char CSS[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".green{background:#b7e1b0}.amber{background:#ffd98a}.red{background:#f4a6a6}.none{background:#e6e6e6}"
    ".note{color:#555;font-style:italic}.bad{color:#b00000;font-weight:bold}.ok{color:#1a7f1a;font-weight:bold}"
    "svg.chart{display:block;margin:10px 0;font-size:11px}svg .ct{font-size:13px;font-weight:bold}"
    "svg .ax line{stroke:#444}svg .ax line.gr{stroke:#e4e4e4}svg .nd{fill:#888;font-size:14px}"
    "svg .bv{font-size:9px}svg .hv{font-size:12px}.grid{display:flex;flex-wrap:wrap;gap:8px}";

static void h(gf_rbuf *b, const char *s) { gf_rb_html(b, s); }

static void note(gf_rbuf *b, const char *msg)
{
    gf_rb_raw(b, "<p class=\"note\">");
    h(b, msg);
    gf_rb_raw(b, "</p>");
}

static void td_num(gf_rbuf *b, double v, int digits)
{
    gf_rb_raw(b, "<td class=\"n\">");
    gf_rb_num(b, v, digits);
    gf_rb_raw(b, "</td>");
}

static void td_str(gf_rbuf *b, const char *s)
{
    gf_rb_raw(b, "<td>");
    h(b, s);
    gf_rb_raw(b, "</td>");
}

/* A JSON value as text: strings as they are, null as "not recorded". */
static void td_json(gf_rbuf *b, const json_t *v)
{
    gf_rb_raw(b, "<td>");
    if (!v || json_is_null(v)) gf_rb_raw(b, "<span class=\"note\">not recorded</span>");
    else if (json_is_string(v)) h(b, json_string_value(v));
    else if (json_is_true(v)) gf_rb_raw(b, "on");
    else if (json_is_false(v)) gf_rb_raw(b, "off");
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        h(b, s ? s : "");
        free(s);
    }
    gf_rb_raw(b, "</td>");
}

/* "cohort (norm)" plus " @ evaluator" when several evaluators report. */
static void series_label(const json_t *m, const json_t *co, char *out, size_t cap)
{
    size_t i;
    const json_t *it;
    int many = 0;
    json_array_foreach(json_object_get(m, "cohorts"), i, it) many |= strcmp(gf_rj_str(it, "site"), gf_rj_str(co, "site")) != 0;
    snprintf(out, cap, "%s (%s)%s%s", gf_rj_str(co, "cohort"), gf_rj_str(co, "norm"), many ? " @ " : "",
             many ? gf_rj_str(co, "site") : "");
}

static void header(gf_rbuf *b, const json_t *m)
{
    const json_t *fed = json_object_get(m, "federation");
    const json_t *a = json_object_get(m, "audit");
    gf_rb_raw(b, "<h1>gaitfed federation report</h1><p>Database: <code>");
    h(b, gf_rj_str(m, "database"));
    gf_rb_put(b, "</code>; %lld rounds (%lld aggregated), latest model version ",
              (long long)json_integer_value(json_object_get(fed, "rounds")),
              (long long)json_integer_value(json_object_get(fed, "rounds_aggregated")));
    gf_rb_num(b, gf_rj_num(fed, "model_version"), 0);
    gf_rb_raw(b, ".</p>");
    if (!json_integer_value(json_object_get(fed, "rounds")))
        gf_rb_raw(b, "<p class=\"bad\" id=\"no-rounds\">This federation has not run any rounds yet: nothing to report "
                     "beyond its sites and audit chain.</p>");
    gf_rb_raw(b, "<p id=\"audit-status\">Audit chain: ");
    if (json_is_true(json_object_get(a, "intact")))
        gf_rb_put(b, "<span class=\"ok\">OK</span> (%lld rows, head <code>", (long long)json_integer_value(json_object_get(a, "rows")));
    else {
        gf_rb_raw(b, "<span class=\"bad\">BROKEN</span> at row ");
        gf_rb_num(b, gf_rj_num(a, "first_bad"), 0);
        gf_rb_raw(b, ": ");
        h(b, gf_rj_str(a, "problem"));
        gf_rb_raw(b, " (head <code>");
    }
    h(b, *gf_rj_str(a, "head") ? gf_rj_str(a, "head") : "empty");
    gf_rb_raw(b, "</code>)</p>");
}

static void settings(gf_rbuf *b, const json_t *m)
{
    const json_t *fed = json_object_get(m, "federation"), *s = json_object_get(fed, "settings");
    gf_rb_raw(b, "<section id=\"sec-settings\"><h2>Federation settings</h2><table id=\"table-settings\">");
    static const char *const KEYS[][2] = {
        {"secure_aggregation", "secure aggregation"}, {"normalization", "normalization (own = per site, global = pooled, model = the initial model's)"},
        {"initial_model_sha256", "initial model (SHA-256; none: seeded initialization)"},
        {"strategy", "strategy"}, {"model", "model architecture"}, {"task", "task"}, {"units", "units"},
        {"local_epochs", "local epochs"}, {"sites_per_round", "sites per round"}, {"secagg_threshold", "secure-aggregation threshold t"}};
    gf_rb_put(b, "<tr><th>rounds</th><td>%lld</td></tr>", (long long)json_integer_value(json_object_get(fed, "rounds")));
    for (size_t i = 0; i < sizeof KEYS / sizeof *KEYS; i++) {
        gf_rb_raw(b, "<tr><th>");
        h(b, KEYS[i][1]);
        gf_rb_raw(b, "</th>");
        td_json(b, json_object_get(s, KEYS[i][0]));
        gf_rb_raw(b, "</tr>");
    }
    gf_rb_raw(b, "<tr><th>sites</th><td>");
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(fed, "sites"), i, it) {
        if (i) gf_rb_raw(b, ", ");
        h(b, gf_rj_str(it, "name"));
        gf_rb_raw(b, " (");
        h(b, gf_rj_str(it, "role"));
        gf_rb_raw(b, ")");
    }
    gf_rb_raw(b, "</td></tr></table></section>");
}

static void verdict(gf_rbuf *b, const json_t *m)
{
    gf_rb_put(b, "<section id=\"sec-verdict\"><h2>Fitness per site and cohort</h2><p>Subject-mean R&#178; of the global "
                 "model: <span class=\"green\">&#160;green&#160;</span> &#8805; %.2f, <span class=\"amber\">&#160;amber"
                 "&#160;</span> &#8805; %.2f, <span class=\"red\">&#160;red&#160;</span> below, <span class=\"none\">"
                 "&#160;grey&#160;</span> no result. A hospital is judged on the cross-site matrix (global model on its "
                 "validation subjects) when it was run, otherwise on its own validation of the newest global model it "
                 "received; a cohort on the evaluator's result for the final model version. (Gait2Hip-60 reference: "
                 "0.82&#8211;0.86 healthy, 0.54&#8211;0.57 ONFH zero-shot.)</p><table id=\"table-verdict\"><tr><th>"
                 "</th><th>site / cohort</th><th>verdict</th><th>R&#178;</th><th>RMSE</th><th>source</th></tr>",
              GF_REPORT_GREEN_R2, GF_REPORT_AMBER_R2);
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(m, "verdict"), i, it) {
        gf_rb_raw(b, "<tr>");
        td_str(b, gf_rj_str(it, "kind"));
        td_str(b, gf_rj_str(it, "name"));
        gf_rb_raw(b, "<td class=\"");
        h(b, gf_rj_str(it, "level"));
        gf_rb_raw(b, "\">");
        h(b, gf_rj_str(it, "level"));
        gf_rb_raw(b, "</td>");
        td_num(b, gf_rj_num(it, "r2"), 3);
        td_num(b, gf_rj_num(it, "rmse"), 3);
        td_str(b, gf_rj_str(it, "source"));
        gf_rb_raw(b, "</tr>");
    }
    gf_rb_raw(b, "</table>");
    if (!json_array_size(json_object_get(m, "verdict"))) note(b, "No hospitals or cohorts to judge yet.");
    gf_rb_raw(b, "</section>");
}

/* One line per cohort x norm: key "rmse" or "r2" of each version. */
static void cohort_curves(gf_rbuf *b, const json_t *m)
{
    const json_t *co = json_object_get(m, "cohorts");
    int ns = (int)json_array_size(co);
    if (ns > MAXS) ns = MAXS;
    gf_svg_series s[MAXS];
    char labels[MAXS][160];
    double *xs[MAXS] = {0}, *ys[2][MAXS] = {{0}};
    for (int k = 0; k < ns; k++) {
        const json_t *c = json_array_get(co, (size_t)k), *v = json_object_get(c, "versions");
        int n = (int)json_array_size(v);
        series_label(m, c, labels[k], sizeof labels[k]);
        xs[k] = calloc((size_t)n + 1, sizeof(double));
        ys[0][k] = calloc((size_t)n + 1, sizeof(double));
        ys[1][k] = calloc((size_t)n + 1, sizeof(double));
        if (!xs[k] || !ys[0][k] || !ys[1][k]) n = 0, b->oom = 1;
        for (int i = 0; i < n; i++) {
            const json_t *p = json_array_get(v, (size_t)i);
            xs[k][i] = gf_rj_num(p, "version"), ys[0][k][i] = gf_rj_num(p, "rmse"), ys[1][k][i] = gf_rj_num(p, "r2");
        }
        s[k] = (gf_svg_series){labels[k], n, xs[k], NULL, strcmp(gf_rj_str(c, "norm"), "own") != 0};
    }
    gf_rb_raw(b, "<section id=\"sec-cohort-curves\"><h2>Learning curves per cohort (evaluator)</h2>"
                 "<p>Subject-mean RMSE and R&#178; of each model version on the evaluator's held-out cohorts; solid: "
                 "the cohort's own normalization statistics, dashed: the statistics the model carries (pooled, or the "
                 "initial model's).</p><div class=\"grid\">");
    for (int k = 0; k < ns; k++) s[k].y = ys[0][k];
    gf_svg_lines(b, "chart-cohort-rmse", "Subject-mean RMSE per model version", "model version", "RMSE", s, ns);
    for (int k = 0; k < ns; k++) s[k].y = ys[1][k];
    gf_svg_lines(b, "chart-cohort-r2", "Subject-mean R\xc2\xb2 per model version", "model version", "R\xc2\xb2", s, ns);
    gf_rb_raw(b, "</div>");
    if (!ns) note(b, "No evaluator results yet.");
    gf_rb_raw(b, "</section>");
    for (int k = 0; k < ns; k++) free(xs[k]), free(ys[0][k]), free(ys[1][k]);
}

static void site_curves(gf_rbuf *b, const json_t *m)
{
    const json_t *rounds = json_object_get(m, "rounds");
    int nr = (int)json_array_size(rounds);
    const char *names[MAXS];
    int ns = 0;
    size_t i, j;
    const json_t *rd, *st;
    json_array_foreach(rounds, i, rd) json_array_foreach(json_object_get(rd, "sites"), j, st) {
        int k = 0;
        while (k < ns && strcmp(names[k], gf_rj_str(st, "site"))) k++;
        if (k == ns && ns < MAXS) names[ns++] = gf_rj_str(st, "site");
    }
    double *x = calloc((size_t)nr + 1, sizeof(double)), *y = calloc((size_t)(nr + 1) * (MAXS + 3), sizeof(double));
    gf_svg_series s[MAXS];
    if (!x || !y) nr = 0, b->oom = 1;
    for (int k = 0; k < ns + 3; k++)
        for (int r = 0; r < nr; r++) y[k * nr + r] = NAN;
    for (int r = 0; r < nr; r++) {
        rd = json_array_get(rounds, (size_t)r);
        x[r] = gf_rj_num(rd, "round");
        json_array_foreach(json_object_get(rd, "sites"), j, st) for (int k = 0; k < ns; k++)
            if (!strcmp(names[k], gf_rj_str(st, "site"))) y[k * nr + r] = gf_rj_num(st, "rmse");
        y[(ns + 0) * nr + r] = gf_rj_num(rd, "worst_rmse");
        y[(ns + 1) * nr + r] = gf_rj_num(rd, "spread_rmse");
        y[(ns + 2) * nr + r] = gf_rj_num(rd, "weighted_mean_rmse");
    }
    for (int k = 0; k < ns; k++) s[k] = (gf_svg_series){names[k], nr, x, y ? y + k * nr : NULL, 0};
    gf_rb_raw(b, "<section id=\"sec-site-curves\"><h2>Learning curves per site</h2><p>Each round's incoming global model "
                 "on each hospital's validation subjects (subject-mean RMSE), and per round the worst site, the "
                 "spread (max &#8722; min) and the mean weighted by the sites' training samples.</p><div class=\"grid\">");
    gf_svg_lines(b, "chart-site-rmse", "Global model validation RMSE per site", "round", "RMSE", s, ns);
    static const char *const AGG[] = {"worst site", "spread (max \xe2\x88\x92 min)", "weighted mean"};
    for (int k = 0; k < 3; k++) s[k] = (gf_svg_series){AGG[k], nr, x, y ? y + (ns + k) * nr : NULL, k == 1};
    gf_svg_lines(b, "chart-site-spread", "Worst site, spread and weighted mean RMSE", "round", "RMSE", s, 3);
    gf_rb_raw(b, "</div><table id=\"table-rounds\"><tr><th>round</th><th>worst site</th><th>worst RMSE</th>"
                 "<th>spread</th><th>weighted mean RMSE</th><th>sites</th></tr>");
    json_array_foreach(rounds, i, rd) {
        gf_rb_raw(b, "<tr>");
        td_num(b, gf_rj_num(rd, "round"), 0);
        td_str(b, gf_rj_str(rd, "worst_site"));
        td_num(b, gf_rj_num(rd, "worst_rmse"), 3);
        td_num(b, gf_rj_num(rd, "spread_rmse"), 3);
        td_num(b, gf_rj_num(rd, "weighted_mean_rmse"), 3);
        td_num(b, (double)json_array_size(json_object_get(rd, "sites")), 0);
        gf_rb_raw(b, "</tr>");
    }
    gf_rb_raw(b, "</table>");
    if (!nr) note(b, "No round has reported site validation yet.");
    gf_rb_raw(b, "</section>");
    free(x), free(y);
}

static void cadence(gf_rbuf *b, const json_t *m)
{
    const json_t *co = json_object_get(m, "cohorts");
    int ns = (int)json_array_size(co);
    if (ns > MAXS) ns = MAXS;
    const char *groups[MAXS];
    int ng = 0;
    static const char *const ORDER[] = {"slow", "med", "fast"};
    for (int g = 0; g < 3; g++) {
        int seen = 0;
        for (int k = 0; k < ns; k++)
            seen |= json_object_get(json_object_get(json_object_get(json_array_get(co, (size_t)k), "final"), "per_cadence"),
                                    ORDER[g]) != NULL;
        if (seen) groups[ng++] = ORDER[g];
    }
    for (int k = 0; k < ns; k++) {
        const char *lab;
        const json_t *v;
        json_object_foreach(json_object_get(json_object_get(json_array_get(co, (size_t)k), "final"), "per_cadence"), lab, v) {
            int g = 0;
            while (g < ng && strcmp(groups[g], lab)) g++;
            if (g == ng && ng < MAXS) groups[ng++] = lab;
        }
    }
    char labels[MAXS][160];
    const char *sl[MAXS];
    double *v = calloc((size_t)(ng * ns) + 1, sizeof(double));
    if (!v) ng = 0, b->oom = 1;
    for (int k = 0; k < ns; k++) {
        const json_t *c = json_array_get(co, (size_t)k);
        series_label(m, c, labels[k], sizeof labels[k]);
        sl[k] = labels[k];
        for (int g = 0; g < ng; g++)
            v[g * ns + k] = gf_rj_num(json_object_get(json_object_get(json_object_get(c, "final"), "per_cadence"), groups[g]),
                                      "rmse");
    }
    gf_rb_raw(b, "<section id=\"sec-cadence\"><h2>Per cadence (final model version)</h2>");
    gf_svg_bars(b, "chart-cadence", "Subject-mean RMSE per cadence, final version", "RMSE", groups, ng, sl, ns, v);
    if (!ns) note(b, "No evaluator results yet.");
    gf_rb_raw(b, "</section>");
    free(v);
}

static void subjects(gf_rbuf *b, const json_t *m)
{
    gf_rb_raw(b, "<section id=\"sec-subjects\"><h2>Per subject (final model version)</h2><div class=\"grid\">");
    size_t i, j;
    const json_t *c, *s;
    json_array_foreach(json_object_get(m, "cohorts"), i, c) {
        const json_t *f = json_object_get(c, "final"), *ps = json_object_get(f, "per_subject");
        int n = (int)json_array_size(ps);
        const char **ids = calloc((size_t)n + 1, sizeof *ids);
        double *v = calloc((size_t)n + 1, sizeof *v);
        if (!ids || !v) n = 0, b->oom = 1;
        json_array_foreach(ps, j, s) if ((int)j < n) ids[j] = gf_rj_str(s, "id"), v[j] = gf_rj_num(s, "rmse");
        char label[160], title[256], id[64];
        series_label(m, c, label, sizeof label);
        snprintf(title, sizeof title, "%s: RMSE per subject, version %lld", label, (long long)gf_rj_num(f, "version"));
        snprintf(id, sizeof id, "chart-subjects-%zu", i);
        const char *rmse = "RMSE";
        gf_rb_raw(b, "<div>");
        gf_svg_bars(b, id, title, gf_rj_str(c, "units"), ids, n, &rmse, 1, v);
        gf_rb_raw(b, "<details><summary>table</summary><table><tr><th>subject</th><th>cycles</th><th>RMSE</th><th>R&#178;"
                     "</th></tr>");
        json_array_foreach(ps, j, s) {
            gf_rb_raw(b, "<tr>");
            td_str(b, gf_rj_str(s, "id"));
            td_num(b, gf_rj_num(s, "n_cycles"), 0);
            td_num(b, gf_rj_num(s, "rmse"), 3);
            td_num(b, gf_rj_num(s, "r2"), 3);
            gf_rb_raw(b, "</tr>");
        }
        gf_rb_raw(b, "</table></details></div>");
        free(ids), free(v);
    }
    gf_rb_raw(b, "</div>");
    if (!json_array_size(json_object_get(m, "cohorts"))) note(b, "No evaluator results yet.");
    gf_rb_raw(b, "</section>");
}

/* Readable names of the output channels (sites/dataset.h). */
static const char *channel_title(const char *name)
{
    static const char *const N[][2] = {
        {"addbrev_r", "adductor brevis"}, {"addlong_r", "adductor longus"}, {"addmag_r", "adductor magnus"},
        {"grac_r", "gracilis"}, {"iliopsoas_r", "iliopsoas"}, {"recfem_r", "rectus femoris"}, {"sart_r", "sartorius"},
        {"glmax_r", "gluteus maximus"}, {"bflh_r", "biceps femoris long head"}, {"hamstring_r", "hamstrings"},
        {"glmed_r", "gluteus medius"}, {"glmin_r", "gluteus minimus"}, {"tfl_r", "tensor fasciae latae"},
        {"piri_r", "piriformis"}, {"hip_flexion_r_moment", "hip flexion moment"},
        {"hip_adduction_r_moment", "hip adduction moment"}, {"hip_rotation_r_moment", "hip rotation moment"}};
    for (size_t i = 0; i < sizeof N / sizeof *N; i++)
        if (!strcmp(N[i][0], name)) return N[i][1];
    return "";
}

static double *arr(const json_t *a, int T)
{
    double *v = malloc(sizeof(double) * (size_t)T);
    for (int i = 0; v && i < T; i++) v[i] = json_number_value(json_array_get(a, (size_t)i));
    return v;
}

static void curves(gf_rbuf *b, const json_t *m)
{
    gf_rb_raw(b, "<section id=\"sec-curves\"><h2>Predicted versus reference over the gait cycle (final version)</h2>"
                 "<p>Mean &#177; SD over the cohort's cycles of the key hip muscles (forces) or the three hip moments.</p>");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(m, "cohorts"), i, c) {
        const json_t *f = json_object_get(c, "final"), *cv = json_object_get(f, "curves");
        char label[160], msg[300];
        series_label(m, c, label, sizeof label);
        if (!json_is_object(cv)) {
            snprintf(msg, sizeof msg, "%s: the evaluator's metrics for version %lld carry no mean curves (\"curves\" absent).",
                     label, (long long)gf_rj_num(f, "version"));
            note(b, msg);
            continue;
        }
        int T = (int)json_integer_value(json_object_get(cv, "frames")), k = 0;
        gf_rb_raw(b, "<div class=\"grid\">");
        const char *name;
        const json_t *ch;
        json_object_foreach(json_object_get(cv, "channels"), name, ch) {
            double *rm = arr(json_object_get(ch, "ref_mean"), T), *rs = arr(json_object_get(ch, "ref_sd"), T);
            double *pm = arr(json_object_get(ch, "pred_mean"), T), *ps = arr(json_object_get(ch, "pred_sd"), T);
            char title[300], id[64];
            const char *t = channel_title(name);
            snprintf(title, sizeof title, "%s: %s%s%s%s", label, name, *t ? " (" : "", t, *t ? ")" : "");
            snprintf(id, sizeof id, "chart-curves-%zu-%d", i, k++);
            if (rm && rs && pm && ps) gf_svg_band(b, id, title, gf_rj_str(c, "units"), T, rm, rs, pm, ps);
            else b->oom = 1;
            free(rm), free(rs), free(pm), free(ps);
        }
        gf_rb_raw(b, "</div>");
    }
    if (!json_array_size(json_object_get(m, "cohorts"))) note(b, "No evaluator results yet.");
    gf_rb_raw(b, "</section>");
}

static void cross(gf_rbuf *b, const json_t *m)
{
    const json_t *x = json_object_get(m, "cross_site");
    gf_rb_raw(b, "<section id=\"sec-cross-site\"><h2>Cross-site matrix</h2>");
    if (!json_is_object(x)) {
        note(b, "Not run: the database holds no cross-site evaluations.");
        gf_rb_raw(b, "</section>");
        return;
    }
    const json_t *cols = json_object_get(x, "sites"), *rows = json_object_get(x, "rows");
    int nc = (int)json_array_size(cols), nr = (int)json_array_size(rows);
    if (nc > MAXS) nc = MAXS;
    if (nr > MAXS) nr = MAXS;
    const char *cn[MAXS], *rn[MAXS];
    double *v = calloc((size_t)(nr * nc) + 1, sizeof(double));
    if (!v) nr = 0, b->oom = 1;
    for (int c = 0; c < nc; c++) cn[c] = json_string_value(json_array_get(cols, (size_t)c));
    for (int r = 0; r < nr; r++) {
        const json_t *row = json_array_get(rows, (size_t)r);
        rn[r] = gf_rj_str(row, "model");
        for (int c = 0; c < nc; c++) {
            v[r * nc + c] = NAN;
            size_t j;
            const json_t *cell;
            json_array_foreach(json_object_get(row, "cells"), j, cell) if (!strcmp(gf_rj_str(cell, "at_site"), cn[c]))
                v[r * nc + c] = gf_rj_num(cell, "rmse");
        }
    }
    gf_rb_put(b, "<p>Round %lld. Rows: the global model and each hospital's locally trained model; columns: the hospital "
                 "whose validation subjects were used; cell: subject-mean RMSE.</p>", (long long)gf_rj_num(x, "round"));
    gf_svg_heat(b, "chart-cross-site", "Subject-mean RMSE: model (row) at site (column)", rn, nr, cn, nc, v);
    gf_rb_raw(b, "<table id=\"table-cross-site\"><tr><th>model</th><th>worst site</th><th>worst RMSE</th><th>spread</th>"
                 "<th>mean RMSE weighted by validation subjects</th></tr>");
    for (int r = 0; r < nr; r++) {
        const json_t *row = json_array_get(rows, (size_t)r);
        gf_rb_raw(b, "<tr>");
        td_str(b, gf_rj_str(row, "model"));
        td_str(b, gf_rj_str(row, "worst_site"));
        td_num(b, gf_rj_num(row, "worst_rmse"), 3);
        td_num(b, gf_rj_num(row, "spread_rmse"), 3);
        td_num(b, gf_rj_num(row, "weighted_mean_rmse"), 3);
        gf_rb_raw(b, "</tr>");
    }
    gf_rb_raw(b, "</table></section>");
    free(v);
}

static void loso(gf_rbuf *b, const json_t *m)
{
    const json_t *l = json_object_get(m, "loso");
    gf_rb_raw(b, "<section id=\"sec-loso\"><h2>Leave one site out</h2>");
    if (!json_array_size(l)) {
        note(b, "Not run: the database holds no leave-one-site-out results (gaitfed audit loso).");
        gf_rb_raw(b, "</section>");
        return;
    }
    gf_rb_raw(b, "<table id=\"table-loso\"><tr><th>held-out site</th><th>normalization</th><th>val subjects</th>"
                 "<th>RMSE in federation</th><th>RMSE zero-shot</th><th>RMSE gap</th><th>R&#178; in federation</th>"
                 "<th>R&#178; zero-shot</th><th>R&#178; gap</th><th>ONFH RMSE in fed. / zero-shot</th></tr>");
    size_t i;
    const json_t *it;
    json_array_foreach(l, i, it) {
        gf_rb_raw(b, "<tr>");
        td_str(b, gf_rj_str(it, "site"));
        td_str(b, gf_rj_str(it, "normalization"));
        td_num(b, gf_rj_num(it, "n_val_subjects"), 0);
        td_num(b, gf_rj_num(it, "in_federation.rmse"), 3);
        td_num(b, gf_rj_num(it, "zero_shot.rmse"), 3);
        td_num(b, gf_rj_num(it, "gap.rmse"), 3);
        td_num(b, gf_rj_num(it, "in_federation.r2"), 3);
        td_num(b, gf_rj_num(it, "zero_shot.r2"), 3);
        td_num(b, gf_rj_num(it, "gap.r2"), 3);
        gf_rb_raw(b, "<td class=\"n\">");
        gf_rb_num(b, gf_rj_num(it, "onfh.in_federation.rmse"), 3);
        gf_rb_raw(b, " / ");
        gf_rb_num(b, gf_rj_num(it, "onfh.zero_shot.rmse"), 3);
        gf_rb_raw(b, "</td></tr>");
    }
    gf_rb_raw(b, "</table></section>");
}

gf_err gf_report_html(const json_t *m, char **out, size_t *len)
{
    gf_rbuf b = {0};
    gf_rb_raw(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gaitfed federation report"
                  "</title><style>");
    gf_rb_raw(&b, CSS);
    gf_rb_raw(&b, "</style></head><body>\n");
    header(&b, m);
    verdict(&b, m);
    settings(&b, m);
    cohort_curves(&b, m);
    site_curves(&b, m);
    cadence(&b, m);
    subjects(&b, m);
    curves(&b, m);
    cross(&b, m);
    loso(&b, m);
    gf_rb_raw(&b, "\n<p class=\"note\">Written by gaitfed report; numbers also in summary.json and summary.md.</p>"
                  "</body></html>\n");
    if (b.oom) { gf_rb_free(&b); return gf_fail(GF_ENOMEM, "report: out of memory"); }
    *out = b.buf, *len = b.len;
    return GF_OK;
}

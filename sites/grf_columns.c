#include "sites/grf_columns.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Right label and the left labels that go with it, in order of preference. */
typedef struct {
    const char *right;
    const char *left[2];
} grf_pair;

static const grf_pair k_pairs[] = {
    {"ground_force_r_vy", {"ground_force_l_vy"}},
    {"r_ground_force_vy", {"l_ground_force_vy"}},
    {"right_ground_force_vy", {"left_ground_force_vy"}},
    {"right_foot_force_vy", {"left_foot_force_vy"}},
    {"calcn_r_ground_force_vy", {"calcn_l_ground_force_vy"}},
    {"calcn_r_force_vy", {"calcn_l_force_vy"}},
    /* With an unprefixed column, "1_" is the left foot (Gait2354), so "1_" as
     * right comes only after it. */
    {"ground_force_vy", {"1_ground_force_vy", "l_ground_force_vy"}},
    {"1_ground_force_vy", {"2_ground_force_vy"}},
    {"ground_force_1_vy", {"ground_force_2_vy"}},
};

/* Column whose short or raw label equals name ignoring case (never time), or -1. */
static int col_nocase(const gf_osim_table *g, const char *name)
{
    for (int i = 1; i < g->n_cols; i++)
        if (!strcasecmp(g->labels[i], name)) return i;
    for (int i = 1; i < g->n_cols; i++)
        if (!strcasecmp(g->raw_labels[i], name)) return i;
    return -1;
}

static int ends_with_nocase(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* A label a person would take for a vertical force: "..vy", "..Fy", or
 * "..force.._y" (not a centre of pressure "..py" nor a torque). */
static int vertical_like(const char *s)
{
    if (ends_with_nocase(s, "vy") || ends_with_nocase(s, "fy")) return 1;
    if (!ends_with_nocase(s, "_y")) return 0;
    for (const char *p = s; *p; p++)
        if (!strncasecmp(p, "force", 5)) return 1;
    return 0;
}

/* "a, b, c, ... (N more)": the vertical-force-like labels, or every label but
 * time when there is none, cut so the message stays one short line. */
static void list_columns(const gf_osim_table *g, char *buf, size_t cap, const char **kind)
{
    int any = 0;
    for (int i = 1; i < g->n_cols; i++) any |= vertical_like(g->raw_labels[i]);
    *kind = any ? "vertical-force-like columns" : "columns";
    size_t used = 0;
    int shown = 0, total = 0;
    buf[0] = 0;
    for (int i = 1; i < g->n_cols; i++) {
        const char *l = g->raw_labels[i];
        if (any && !vertical_like(l)) continue;
        total++;
        if (shown >= 8 || used + strlen(l) + 3 > cap - 24) continue;
        int w = snprintf(buf + used, cap - used, "%s%.60s", shown ? ", " : "", l);
        if (w > 0) used += (size_t)w;
        shown++;
    }
    if (total == 0) snprintf(buf, cap, "none");
    else if (shown < total) snprintf(buf + used, cap - used, ", ... (%d more)", total - shown);
}

static gf_err not_found(const gf_osim_table *g, const char *file, const char *what)
{
    char cols[400];
    const char *kind;
    list_columns(g, cols, sizeof cols, &kind);
    return gf_fail(GF_ENOTFOUND, "%s: %s; %s: %s", file, what, kind, cols);
}

static gf_err named(const gf_osim_table *g, const char *file, const char *name, const char *side, int *col)
{
    *col = name ? gf_osim_col(g, name) : -1;
    if (*col == 0) *col = -1; /* time is never a force */
    if (*col < 0) {
        char what[160];
        snprintf(what, sizeof what, "no column '%.60s' (given as the %s vertical force)", name, side);
        return not_found(g, file, what);
    }
    return GF_OK;
}

gf_err gf_grf_columns(const gf_osim_table *g, const char *file, const char *right, const char *left, int *rcol,
                      int *lcol)
{
    *rcol = *lcol = -1;
    if (right) {
        GF_TRY(named(g, file, right, "right", rcol));
        if (left) GF_TRY(named(g, file, left, "left", lcol));
        if (*lcol == *rcol)
            return gf_fail(GF_EINVAL, "%s: the right and left vertical forces are the same column '%s'", file, right);
        return GF_OK;
    }
    for (size_t k = 0; k < sizeof k_pairs / sizeof *k_pairs; k++) {
        int r = col_nocase(g, k_pairs[k].right);
        if (r < 0) continue;
        *rcol = r;
        for (int j = 0; j < 2 && k_pairs[k].left[j] && *lcol < 0; j++) *lcol = col_nocase(g, k_pairs[k].left[j]);
        return GF_OK;
    }
    return not_found(g, file,
                     "no right vertical force column (ground_force_r_vy, r_ground_force_vy, ground_force_vy, "
                     "calcn_r_ground_force_vy, ...; name it with --grf-columns)");
}

/* gaitfed import: NPZ (one Gait2Hip file, or a forces file and a moments file
 * of the same cycles) or one OpenSim trial into a site store, in one
 * transaction: everything is read and checked before anything is written, and
 * a store this import created is removed again when the import fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/fileio.h"
#include "sites/gaitcycle.h"
#include "sites/npz.h"
#include "sites/store.h"

static const char *USAGE =
    "gaitfed import --db SITE.db [--site NAME [--capture optical|inertial|markerless|unknown]] (--npz F [--npz F2] | "
    "--opensim IK.mot --grf GRF.mot [--grf-columns RIGHT_VY[,LEFT_VY]] [--id ID.sto] [--so SO.sto] --mass KG "
    "--subject ID [--height M] [--speed slow|med|fast|self] [--trial N] [--knee-sign auto|pos|neg])";

/* --capture NAME as the capture profile JSON (the "system" key of the
 * profiles `gaitfed synth` writes; an import knows no noise figures). */
static int capture_json(const char *name, char *buf, size_t cap)
{
    static const char *const systems[] = {"optical", "inertial", "markerless", "unknown"};
    for (size_t i = 0; i < sizeof systems / sizeof *systems; i++)
        if (!strcmp(name, systems[i])) {
            snprintf(buf, cap, "{\"system\":\"%s\"}", systems[i]);
            return 0;
        }
    return -1;
}

/* Removes a store this import created, with SQLite's side files. */
static void remove_store(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        char p[4096];
        if ((size_t)snprintf(p, sizeof p, "%s%s", path, sfx[i]) < sizeof p) unlink(p);
    }
}

/* Writes ds (and the site identity when site != NULL) into db in one transaction. */
static gf_err store_write(const char *db, const gf_dataset *ds, const char *prov, const char *site, const char *capture)
{
    int created; /* O_EXCL, so it is certain this run made it (mode 0600) */
    GF_TRY(gf_create_private(db, &created));
    gf_store *st = NULL;
    gf_err e = gf_store_open(db, 1, &st);
    if (!e) e = gf_store_add_site(st, ds, prov, site, capture);
    if (!e) {
        gf_store_counts c;
        e = gf_store_counts_get(st, &c);
        if (!e)
            printf("import: %lld cycles (%s%s%s) -> %s (now %lld subjects, %lld cycles)\n", (long long)ds->n,
                   ds->yf ? "forces" : "", ds->yf && ds->ym ? "+" : "", ds->ym ? "moments" : (ds->yf ? "" : "inputs only"),
                   db, c.subjects, c.cycles);
    }
    if (st) gf_store_close(st);
    if (e && created) remove_store(db);
    return e;
}

/* "RIGHT[,LEFT]" into right/left (left "" when absent). */
static int split_grf_columns(const char *s, char *right, char *left, size_t cap)
{
    const char *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    if (n == 0 || n >= cap || (comma && (!comma[1] || strlen(comma + 1) >= cap || strchr(comma + 1, ','))))
        return -1;
    memcpy(right, s, n);
    right[n] = 0;
    snprintf(left, cap, "%s", comma ? comma + 1 : "");
    return 0;
}

/* Joins a forces file and a moments file of the same cycles into a. */
static gf_err merge_tasks(gf_dataset *a, gf_dataset *b, const char *fa, const char *fb)
{
    if ((a->yf && b->yf) || (a->ym && b->ym))
        return gf_fail(GF_EINVAL, "%s and %s hold the same targets; give one forces and one moments file", fa, fb);
    if (a->n != b->n) return gf_fail(GF_EINVAL, "%s has %lld cycles but %s has %lld", fa, (long long)a->n, fb, (long long)b->n);
    if (memcmp(a->x, b->x, (size_t)a->n * GF_T * GF_DIN * sizeof(float)) != 0)
        return gf_fail(GF_EINVAL, "%s and %s: key 'X' differs, they are not the same cycles", fa, fb);
    for (int64_t i = 0; i < a->n; i++)
        if (strcmp(a->meta[i].subject_id, b->meta[i].subject_id))
            return gf_fail(GF_EINVAL, "%s and %s: subject_id differs at cycle %lld", fa, fb, (long long)i);
    if (b->yf) { a->yf = b->yf; b->yf = NULL; }
    if (b->ym) { a->ym = b->ym; b->ym = NULL; }
    return GF_OK;
}

static gf_err read_npz(const char **files, int n, gf_dataset *out)
{
    int task;
    GF_TRY(gf_g2h_read(files[0], out, &task));
    if (n == 2) {
        gf_dataset b;
        gf_err e = gf_g2h_read(files[1], &b, &task); /* on failure b is left empty */
        if (!e) e = merge_tasks(out, &b, files[0], files[1]);
        gf_dataset_free(&b); /* what merge_tasks did not take over */
        if (e) { gf_dataset_free(out); return e; }
    }
    return GF_OK;
}

int cmd_import(int argc, char **argv)
{
    /* --npz may be repeated: collect it before the generic parser. */
    const char *npz[2];
    int n_npz = 0;
    char *rest[64];
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--npz")) {
            if (i + 1 >= argc) return cli_usage("import", USAGE, "--npz needs a value");
            if (n_npz == 2) return cli_usage("import", USAGE, "at most two --npz files (forces and moments)");
            npz[n_npz++] = argv[++i];
        } else {
            if (nrest == 64) return cli_usage("import", USAGE, "too many arguments");
            rest[nrest++] = argv[i];
        }
    }
    const char *db = NULL, *site = NULL, *ik = NULL, *grf = NULL, *id = NULL, *so = NULL, *mass_s = NULL,
               *subject = NULL, *height_s = NULL, *speed = NULL, *knee = "auto", *trial_s = "1", *capture_s = NULL,
               *grf_cols = NULL;
    cli_opt opts[] = {{"--db", 1, &db},         {"--site", 1, &site},       {"--opensim", 1, &ik},
                      {"--grf", 1, &grf},       {"--id", 1, &id},           {"--so", 1, &so},
                      {"--mass", 1, &mass_s},   {"--subject", 1, &subject}, {"--height", 1, &height_s},
                      {"--speed", 1, &speed},   {"--knee-sign", 1, &knee},     {"--trial", 1, &trial_s},
                      {"--capture", 1, &capture_s}, {"--grf-columns", 1, &grf_cols}};
    int rc = cli_parse("import", USAGE, nrest, rest, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    if (!db) return cli_usage("import", USAGE, "--db is required");
    if (!n_npz == !ik) return cli_usage("import", USAGE, "give either --npz or --opensim");
    if (site && !*site) return cli_usage("import", USAGE, "--site: empty name");
    char capture[64];
    if (capture_s && !site) return cli_usage("import", USAGE, "--capture needs --site");
    if (capture_s && capture_json(capture_s, capture, sizeof capture))
        return cli_usage("import", USAGE, "--capture: optical, inertial, markerless or unknown");
    char grf_right[128] = "", grf_left[128] = "";
    if (grf_cols && !ik) return cli_usage("import", USAGE, "--grf-columns goes with --opensim");
    if (grf_cols && split_grf_columns(grf_cols, grf_right, grf_left, sizeof grf_right))
        return cli_usage("import", USAGE, "--grf-columns: RIGHT_VY or RIGHT_VY,LEFT_VY (column names)");

    gf_dataset ds;
    gf_err e;
    const char *prov;
    char provbuf[1024];
    if (n_npz) {
        e = read_npz(npz, n_npz, &ds);
        snprintf(provbuf, sizeof provbuf, "npz:%s%s%s", npz[0], n_npz == 2 ? "," : "", n_npz == 2 ? npz[1] : "");
    } else {
        if (!grf || !mass_s || !subject) return cli_usage("import", USAGE, "--opensim needs --grf, --mass and --subject");
        double mass, height = 0;
        if ((rc = cli_double("import", USAGE, "--mass", mass_s, 1, 500, &mass))) return rc;
        if (height_s && (rc = cli_double("import", USAGE, "--height", height_s, 0.5, 2.5, &height))) return rc;
        if (strlen(subject) >= GF_ID_MAX) return cli_usage("import", USAGE, "--subject: at most %d characters", GF_ID_MAX - 1);
        long trial;
        if ((rc = cli_long("import", USAGE, "--trial", trial_s, 1, 1000000, &trial))) return rc;
        int ks = 0;
        if (!strcmp(knee, "pos")) ks = 1;
        else if (!strcmp(knee, "neg")) ks = -1;
        else if (strcmp(knee, "auto")) return cli_usage("import", USAGE, "--knee-sign: auto, pos or neg");
        gf_osim_trial tr = {.ik = ik, .id = id, .so = so, .grf = grf, .mass_kg = mass, .height_m = height,
                            .subject_id = subject, .speed = speed, .knee_sign = ks,
                            .trial = (int)trial, .grf_right = grf_right[0] ? grf_right : NULL,
                            .grf_left = grf_left[0] ? grf_left : NULL};
        gf_osim_report rep;
        e = gf_osim_import_ex(&tr, &ds, &rep);
        if (!e) {
            fprintf(stderr, "import: %s: %d right heel strikes (%s%s%s), %d cycles, %d skipped%s%s\n", grf, rep.n_hs,
                    rep.grf_col, rep.grf_left_col[0] ? "; left " : "", rep.grf_left_col, rep.n_cycles, rep.n_skipped,
                    rep.ik_radians ? ", angles converted from radians" : "",
                    rep.knee_flipped ? ", knee sign flipped to flexion-positive" : "");
            if (rep.warning[0]) fprintf(stderr, "import: warning: %s\n", rep.warning);
        }
        gf_osim_report_free(&rep);
        snprintf(provbuf, sizeof provbuf, "opensim:%s", ik);
    }
    if (e) return cli_fail(e);
    prov = provbuf;
    if (ds.n == 0) {
        gf_dataset_free(&ds);
        fprintf(stderr, "gaitfed import: no complete gait cycle found; nothing imported\n");
        return 1;
    }
    e = store_write(db, &ds, prov, site, capture_s ? capture : NULL);
    gf_dataset_free(&ds);
    return e ? cli_fail(e) : 0;
}

/* Writes a built synthetic cohort to disk in the layouts hospitals use:
 * Gait2Hip NPZ benchmark files and one SQLite site store per site/cohort.
 * Each file goes to a temporary name and is renamed when complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "sites/npz.h"
#include "sites/store.h"
#include "synth/synth.h"

static gf_err write_npz_pair(const char *dir, const char *mf, const char *jm, const gf_dataset *ds)
{
    char *p = gf_path_join(dir, mf);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory");
    gf_err e = gf_g2h_write(p, ds, GF_TASK_FORCES);
    free(p);
    if (e) return e;
    p = gf_path_join(dir, jm);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory");
    e = gf_g2h_write(p, ds, GF_TASK_MOMENTS);
    free(p);
    return e;
}

/* A site store built under a temporary name and renamed once closed, so a
 * crash never leaves a half-filled store behind under the final name. */
static gf_err write_store(const char *dir, const char *name, const char *capture_json, const gf_dataset *ds,
                          const char *provenance)
{
    char file[96];
    snprintf(file, sizeof file, "%s.db", name);
    char *path = gf_path_join(dir, file);
    if (!path) return gf_fail(GF_ENOMEM, "out of memory");
    char *tmp = NULL;
    int fd = -1;
    gf_err e = gf_temp_create(path, &tmp, &fd); /* 0600, a name nobody planted */
    if (e) { free(path); return e; }
    close(fd);
    gf_store *st = NULL;
    e = gf_store_open(tmp, 1, &st);
    /* Same seed, same bytes: a synthetic store carries no wall-clock time. */
    if (!e) e = gf_store_set_import_time(st, "2000-01-01T00:00:00Z");
    if (!e) e = gf_store_set_site(st, name, capture_json);
    if (!e) e = gf_store_add(st, ds, provenance);
    if (st) gf_store_close(st);
    if (!e && rename(tmp, path) != 0) e = gf_fail(GF_EIO, "%s: rename failed", path);
    if (e) unlink(tmp);
    free(tmp);
    free(path);
    return e;
}

gf_err gf_synth_write(const gf_synth_cohort *c, const char *dir)
{
    char *sites_dir = gf_path_join(dir, "sites"), *cohorts_dir = gf_path_join(dir, "cohorts");
    gf_err e = (!sites_dir || !cohorts_dir) ? gf_fail(GF_ENOMEM, "out of memory") : GF_OK;
    if (!e) e = gf_mkdirs(sites_dir, 0);
    if (!e) e = gf_mkdirs(cohorts_dir, 0);
    if (!e) { gf_progress("synth: writing benchmark NPZ files"); e = write_npz_pair(dir, "Gait2Hip_MF60.npz", "Gait2Hip_JM60.npz", &c->healthy); }
    if (!e) e = write_npz_pair(dir, "ONFH_MF9.npz", "ONFH_JM9.npz", &c->onfh);
    for (int i = 0; !e && i < c->n_sites; i++) {
        const gf_synth_site *s = &c->sites[i];
        gf_progress("synth: writing site store %s", s->name);
        char *cap = gf_capture_json(&s->capture);
        if (!cap) { e = gf_fail(GF_ENOMEM, "out of memory"); break; }
        e = write_store(sites_dir, s->name, cap, &s->data, "gaitfed synth");
        free(cap);
    }
    if (!e) {
        gf_capture_profile optical = gf_capture_default(GF_CAPTURE_OPTICAL);
        char *cap = gf_capture_json(&optical);
        if (!cap) e = gf_fail(GF_ENOMEM, "out of memory");
        if (!e) e = write_store(cohorts_dir, "healthy-test", cap, &c->healthy_test, "gaitfed synth: held-out healthy");
        if (!e) e = write_store(cohorts_dir, "onfh", cap, &c->onfh, "gaitfed synth: ONFH patients");
        free(cap);
    }
    gf_progress_done();
    free(sites_dir);
    free(cohorts_dir);
    return e;
}

/* gaitfed info FILE: what a site store, Gait2Hip NPZ, OpenSim table or model
 * checkpoint holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sites/npz.h"
#include "sites/opensim.h"
#include "sites/store.h"

static const char *USAGE = "gaitfed info FILE   (.db site store, .npz, .sto/.mot, .safetensors)";

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Cycles, subjects and per-speed counts of a data set. */
static void print_cycles(const gf_dataset *ds)
{
    static const char *speeds[] = {"slow", "med", "fast", "self"};
    long long per[5] = {0}, subjects = 0;
    const char **ids = malloc((size_t)(ds->n ? ds->n : 1) * sizeof *ids);
    for (int64_t i = 0; i < ds->n; i++) {
        int k = 4;
        for (int s = 0; s < 4; s++) if (!strcmp(ds->meta[i].speed, speeds[s])) k = s;
        per[k]++;
        if (ids) ids[i] = ds->meta[i].subject_id;
    }
    if (ids) {
        qsort(ids, (size_t)ds->n, sizeof *ids, cmp_id);
        for (int64_t i = 0; i < ds->n; i++) subjects += i == 0 || strcmp(ids[i], ids[i - 1]);
        free(ids);
    }
    printf("cycles: %lld (%lld subjects; slow %lld, med %lld, fast %lld, self %lld, other %lld)\n", (long long)ds->n,
           subjects, per[0], per[1], per[2], per[3], per[4]);
    printf("targets: %s%s%s\n", ds->yf ? "14 hip muscle forces (N)" : "", ds->yf && ds->ym ? ", " : "",
           ds->ym ? "3 hip moments (N·m)" : (ds->yf ? "" : "none"));
}

static int info_store(const char *path)
{
    gf_store *st;
    gf_err e = gf_store_open(path, 0, &st);
    if (e) return cli_fail(e);
    char *name = NULL, *cap = NULL;
    gf_store_counts c;
    gf_store_speed_count *sp = NULL;
    int nsp = 0;
    e = gf_store_get_site(st, &name, &cap);
    if (!e) e = gf_store_counts_get(st, &c);
    if (!e) e = gf_store_speed_counts(st, &sp, &nsp);
    gf_store_close(st);
    if (!e) {
        printf("%s: gaitfed site store\nsite: %s\ncapture: %s\n", path, name ? name : "(unnamed)",
               cap ? cap : "(unknown)");
        printf("cycles: %lld (%lld subjects, %lld trials; %lld with forces, %lld with moments)\n", c.cycles,
               c.subjects, c.trials, c.with_forces, c.with_moments);
        for (int i = 0; i < nsp; i++)
            printf("  %-5s %6lld cycles, %4lld trials, %3lld subjects\n", sp[i].speed, sp[i].cycles, sp[i].trials,
                   sp[i].subjects);
    }
    free(sp);
    free(name);
    free(cap);
    return e ? cli_fail(e) : 0;
}

static int info_npz(const char *path)
{
    gf_npz z;
    gf_err e = gf_npz_read(path, &z);
    if (e) return cli_fail(e);
    printf("%s: npz, %d arrays\n", path, z.n);
    for (int i = 0; i < z.n; i++) {
        const gf_array *a = &z.arrays[i];
        printf("  %-14s %-8s (", a->name, gf_dtype_name(a->dtype));
        for (int d = 0; d < a->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)a->shape[d]);
        printf(a->ndim == 1 ? ",)\n" : ")\n");
    }
    int gait2hip = gf_npz_get(&z, "X") && gf_npz_get(&z, "Y");
    gf_npz_free(&z);
    if (!gait2hip) return 0;
    gf_dataset ds;
    int task;
    e = gf_g2h_read(path, &ds, &task);
    if (e) return cli_fail(e);
    printf("Gait2Hip layout, task %s\n", task < 0 ? "none" : gf_task_name((gf_task)task));
    print_cycles(&ds);
    gf_dataset_free(&ds);
    return 0;
}

static int info_opensim(const char *path)
{
    gf_osim_table t;
    gf_err e = gf_osim_read(path, &t);
    if (e) return cli_fail(e);
    printf("%s: OpenSim table '%s', version %d, inDegrees %s\n", path, t.name ? t.name : "",
           t.version, t.in_degrees < 0 ? "not declared" : t.in_degrees ? "yes" : "no");
    printf("rows: %d, columns: %d, time %.4f .. %.4f s\n", t.n_rows, t.n_cols, t.data[0],
           t.data[(size_t)(t.n_rows - 1) * t.n_cols]);
    printf("columns:");
    for (int c = 1; c < t.n_cols; c++) printf(" %s", t.labels[c]);
    printf("\n");
    gf_osim_free(&t);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    const char *pos[1];
    int np;
    int rc = cli_parse("info", USAGE, argc, argv, NULL, 0, pos, 1, &np);
    if (rc) return rc;
    if (np != 1) return cli_usage("info", USAGE, "give one file");
    const char *f = pos[0];
    /* The content decides, the name only breaks ties. */
    char magic[16] = {0};
    FILE *fp = fopen(f, "rb");
    if (!fp) { fprintf(stderr, "gaitfed info: %s: %s\n", f, strerror(errno)); return 1; }
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    if (got == 16 && !memcmp(magic, "SQLite format 3", 16)) return info_store(f);
    if (got >= 4 && !memcmp(magic, "PK\x03\x04", 4)) return info_npz(f);
    if (ends_with(f, ".npz")) return info_npz(f);
    if (ends_with(f, ".sto") || ends_with(f, ".mot")) return info_opensim(f);
    if (ends_with(f, ".safetensors")) return info_model(f);
    fprintf(stderr, "gaitfed info: %s: unknown file kind (expected a site store, .npz, .sto, .mot or .safetensors)\n", f);
    return 1;
}

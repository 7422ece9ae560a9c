#include "sites/dataset.h"

#include <stdlib.h>
#include <string.h>

const char *const gf_in_cols[GF_DIN] = {
    "hip_flexion_r", "hip_adduction_r", "hip_rotation_r",
    "hip_flexion_l", "hip_adduction_l", "hip_rotation_l",
    "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l",
};

const char *const gf_force_cols[GF_NF] = {
    "addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r",
    "glmax_r", "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r",
};

const char *const gf_moment_cols[GF_NM] = {
    "hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment",
};

gf_err gf_dataset_alloc(gf_dataset *ds, int64_t n, int with_forces, int with_moments)
{
    memset(ds, 0, sizeof *ds);
    if (n < 0 || n > GF_MAX_CYCLES) return gf_fail(GF_ERANGE, "cycle count %lld outside [0, %d]", (long long)n, GF_MAX_CYCLES);
    size_t m = n ? (size_t)n : 1;
    ds->n = n;
    ds->x = calloc(m * GF_T * GF_DIN, sizeof(float));
    ds->meta = calloc(m, sizeof(gf_cycle_meta));
    if (with_forces) ds->yf = calloc(m * GF_T * GF_NF, sizeof(float));
    if (with_moments) ds->ym = calloc(m * GF_T * GF_NM, sizeof(float));
    if (!ds->x || !ds->meta || (with_forces && !ds->yf) || (with_moments && !ds->ym)) {
        gf_dataset_free(ds);
        return gf_fail(GF_ENOMEM, "out of memory for %lld cycles", (long long)n);
    }
    return GF_OK;
}

void gf_dataset_free(gf_dataset *ds)
{
    free(ds->x); free(ds->yf); free(ds->ym); free(ds->meta);
    memset(ds, 0, sizeof *ds);
}

static gf_err grow(float **p, int64_t old_n, int64_t add, const float *src, int dim)
{
    size_t per = (size_t)GF_T * dim;
    float *np = realloc(*p, ((size_t)(old_n + add) ? (size_t)(old_n + add) : 1) * per * sizeof(float));
    if (!np) return gf_fail(GF_ENOMEM, "out of memory appending cycles");
    *p = np;
    if (add) memcpy(np + (size_t)old_n * per, src, (size_t)add * per * sizeof(float));
    return GF_OK;
}

gf_err gf_dataset_append(gf_dataset *dst, const gf_dataset *src)
{
    if ((!dst->yf) != (!src->yf) || (!dst->ym) != (!src->ym)) {
        if (dst->n != 0) return gf_fail(GF_EINVAL, "cannot append cycles with different target kinds");
    }
    if (dst->n + src->n > GF_MAX_CYCLES) return gf_fail(GF_ERANGE, "more than %d cycles", GF_MAX_CYCLES);
    GF_TRY(grow(&dst->x, dst->n, src->n, src->x, GF_DIN));
    if (src->yf) GF_TRY(grow(&dst->yf, dst->n, src->n, src->yf, GF_NF));
    if (src->ym) GF_TRY(grow(&dst->ym, dst->n, src->n, src->ym, GF_NM));
    gf_cycle_meta *nm = realloc(dst->meta, (size_t)(dst->n + src->n ? dst->n + src->n : 1) * sizeof *nm);
    if (!nm) return gf_fail(GF_ENOMEM, "out of memory appending cycles");
    dst->meta = nm;
    if (src->n) memcpy(nm + dst->n, src->meta, (size_t)src->n * sizeof *nm);
    dst->n += src->n;
    return GF_OK;
}

const char *gf_task_name(gf_task t) { return t == GF_TASK_FORCES ? "forces" : "moments"; }

const char *gf_task_units(gf_task t) { return t == GF_TASK_FORCES ? "N/kg" : "N\xc2\xb7m/kg"; }

gf_err gf_dataset_targets(const gf_dataset *ds, gf_task task, float *y)
{
    const float *ya = task == GF_TASK_FORCES ? ds->yf : ds->ym;
    if (!ya) return gf_fail(GF_ENOTFOUND, "no %s targets", gf_task_name(task));
    const size_t row = (size_t)GF_T * gf_task_dim(task);
    for (int64_t i = 0; i < ds->n; i++) {
        double w = ds->meta[i].weight_kg;
        if (!(w > 0)) return gf_fail(GF_EINVAL, "cycle %lld has no body mass", (long long)i);
        for (size_t k = 0; k < row; k++) y[(size_t)i * row + k] = (float)(ya[(size_t)i * row + k] / w);
    }
    return GF_OK;
}

gf_err gf_task_parse(const char *s, gf_task *out)
{
    if (!strcmp(s, "forces")) { *out = GF_TASK_FORCES; return GF_OK; }
    if (!strcmp(s, "moments")) { *out = GF_TASK_MOMENTS; return GF_OK; }
    return gf_fail(GF_EINVAL, "--task: expected forces or moments, got '%s'", s);
}

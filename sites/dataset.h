/* A set of gait cycles in the Gait2Hip-60 layout, the one in-memory type that
 * readers, the site store, the synthetic generator and writers exchange.
 *
 * x  [n][GF_T][GF_DIN]  joint angles, degrees, channel order gf_in_cols, in
 *                       the Gait2Hip files' convention: flexion, knee flexion
 *                       and ankle dorsiflexion positive on both sides; right
 *                       hip adduction and internal rotation positive, the
 *                       left hip's negated (abduction / external rotation
 *                       positive: OpenSim's left axes unmirrored)
 * yf [n][GF_T][GF_NF]   14 right hip muscle forces, N (absolute), or NULL
 * ym [n][GF_T][GF_NM]   3 right hip moments, N·m (absolute), or NULL
 * Targets are stored absolute; dividing by meta[i].weight_kg gives N/kg. */
#ifndef GF_DATASET_H
#define GF_DATASET_H
#include <stdint.h>
#include "common/err.h"

#define GF_T 180
#define GF_DIN 10
#define GF_NF 14
#define GF_NM 3
#define GF_ID_MAX 32
#define GF_MAX_CYCLES 10000000 /* cap for any reader: 10 M cycles */

extern const char *const gf_in_cols[GF_DIN];
extern const char *const gf_force_cols[GF_NF];
extern const char *const gf_moment_cols[GF_NM];

typedef enum { GF_TASK_FORCES = 0, GF_TASK_MOMENTS = 1 } gf_task;

typedef struct {
    char subject_id[GF_ID_MAX]; /* e.g. "H01", "P03" */
    char speed[8];              /* "slow", "med", "fast", or "self" (self-selected) */
    double height_m;            /* m, as read (0 when unknown); double so a float64 file round-trips */
    double weight_kg;           /* kg, as read */
    float cadence_spm;          /* steps/min; 0 when unknown */
    int32_t trial;              /* trial number within subject and speed, from 1 */
} gf_cycle_meta;

typedef struct {
    int64_t n;
    float *x;
    float *yf;
    float *ym;
    gf_cycle_meta *meta;
} gf_dataset;

/* Allocates n cycles (x and meta zeroed; yf/ym only when asked). */
gf_err gf_dataset_alloc(gf_dataset *ds, int64_t n, int with_forces, int with_moments);
void gf_dataset_free(gf_dataset *ds);
/* Appends src to dst (both must carry the same target kinds). */
gf_err gf_dataset_append(gf_dataset *dst, const gf_dataset *src);

static inline int gf_task_dim(gf_task t) { return t == GF_TASK_FORCES ? GF_NF : GF_NM; }
static inline const char *const *gf_task_cols(gf_task t) { return t == GF_TASK_FORCES ? gf_force_cols : gf_moment_cols; }
const char *gf_task_name(gf_task t); /* "forces" / "moments" */
const char *gf_task_units(gf_task t); /* "N/kg" / "N·m/kg" (UTF-8) */
/* Training targets of a task: y [n][GF_T][gf_task_dim] = the absolute targets
 * divided by each cycle's body mass (N/kg, N·m/kg), computed in double and
 * rounded to float once. GF_ENOTFOUND without targets of that task,
 * GF_EINVAL naming the cycle when a body mass is not > 0. */
gf_err gf_dataset_targets(const gf_dataset *ds, gf_task task, float *y);
gf_err gf_task_parse(const char *s, gf_task *out);

#endif

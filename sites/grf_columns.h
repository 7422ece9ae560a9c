/* Which columns of a ground-reaction-force table are the right and left
 * vertical forces. Labs name them differently; the import cuts gait cycles on
 * the right one. */
#ifndef GF_GRF_COLUMNS_H
#define GF_GRF_COLUMNS_H
#include "common/err.h"
#include "sites/opensim.h"

/* right / left: explicit column names (short or raw label, exact), or NULL to
 * detect. Detection (labels compared case-insensitively), first match wins:
 *   ground_force_r_vy        / ground_force_l_vy        (OpenSim 4 examples)
 *   r_ground_force_vy        / l_ground_force_vy        (also R_ / L_)
 *   right_ground_force_vy    / left_ground_force_vy
 *   right_foot_force_vy      / left_foot_force_vy       (opensim-models joint-reaction tutorial)
 *   calcn_r_ground_force_vy  / calcn_l_ground_force_vy
 *   calcn_r_force_vy         / calcn_l_force_vy         (AddBiomechanics)
 *   ground_force_vy          / 1_ground_force_vy or l_ground_force_vy
 *                              (Gait2354/2392 examples: unprefixed is the right foot)
 *   1_ground_force_vy        / 2_ground_force_vy        (plate-numbered: plate 1 taken as right)
 *   ground_force_1_vy        / ground_force_2_vy        (same)
 * *rcol is the right column; *lcol the left one or -1 when the file has none.
 * GF_ENOTFOUND naming the file and listing the vertical-force-like columns
 * it has (capped to one line) when a given name is absent or nothing matches. */
gf_err gf_grf_columns(const gf_osim_table *g, const char *file, const char *right, const char *left, int *rcol,
                      int *lcol);

#endif

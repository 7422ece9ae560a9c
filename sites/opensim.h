/* OpenSim .mot/.sto tables (IK, ID, static optimization, GRF), every header
 * variant: legacy (version=1 or none) and version=3, inDegrees yes/no/missing,
 * "name"/"datacolumns"/"datarows"/"range" legacy keys, trailing tabs, CRLF,
 * scientific notation, negative times, very long lines, component-path labels.
 * Columns are found by name, never by position. */
#ifndef GF_OPENSIM_H
#define GF_OPENSIM_H
#include <stddef.h>
#include "common/err.h"

#define GF_OSIM_MAX_FILE (256u << 20) /* 256 MiB */
#define GF_OSIM_MAX_COLS 4096
#define GF_OSIM_MAX_ROWS 10000000

typedef struct {
    char *name;          /* first header line (table name); "" when the file has none */
    int version;         /* 0 when absent */
    int in_degrees;      /* 1 yes, 0 no, -1 not declared */
    int text_degrees;    /* free-text "Angles are in degrees"/"...radians": 1/0, -1 neither */
    int n_rows, n_cols;  /* n_cols includes column 0, time */
    char **labels;       /* [n_cols] short names: "/jointset/hip_r/hip_flexion_r/value" -> "hip_flexion_r" */
    char **raw_labels;   /* [n_cols] as written in the file */
    double *data;        /* [n_rows][n_cols], row-major; column 0 is time */
} gf_osim_table;

/* Parses a whole file image; `what` names it in error messages. On success the
 * table owns every pointer in it (release with gf_osim_free); on failure *out is
 * zeroed and nothing needs freeing.
 * Rules: column 0 is time, finite and strictly increasing; cells are parsed
 * strictly (the whole token must be a decimal number; "nan" is kept as NaN so a
 * consumer can reject it only in the columns it uses; infinities are refused).
 * Declared nRows/datarows must match the data. Declared nColumns/datacolumns
 * must match in legacy tables (version absent or 1); OpenSim 4 tables
 * (version >= 2) carry nColumns as informational metadata that OpenSim itself
 * does not check, and real files disagree (coordinates.sto declares 40 columns
 * and holds 32), so there the label row is authoritative.
 * Short labels: the last path component, except that a trailing state-variable
 * name is folded in: ".../hip_flexion_r/value" -> "hip_flexion_r",
 * ".../hip_flexion_r/speed" -> "hip_flexion_r_speed" (a speed is not an angle),
 * "/forceset/soleus_r/activation" -> "soleus_r_activation". Duplicate raw or
 * short labels are an error, so gf_osim_col() is never ambiguous. */
gf_err gf_osim_parse(const char *what, const unsigned char *buf, size_t len, gf_osim_table *out);
gf_err gf_osim_read(const char *path, gf_osim_table *out);
void gf_osim_free(gf_osim_table *t);
/* Index of the column whose short or raw label equals `label`, or -1. */
int gf_osim_col(const gf_osim_table *t, const char *label);

#endif

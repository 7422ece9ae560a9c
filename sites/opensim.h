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
    char *name;          /* first header line (table name) */
    int version;         /* 0 when absent */
    int in_degrees;      /* 1 yes, 0 no, -1 not declared */
    int n_rows, n_cols;  /* n_cols includes column 0, time */
    char **labels;       /* [n_cols] short names: "/jointset/hip_r/hip_flexion_r/value" -> "hip_flexion_r" */
    char **raw_labels;   /* [n_cols] as written in the file */
    double *data;        /* [n_rows][n_cols], row-major; column 0 is time */
} gf_osim_table;

/* Parses a whole file image; `what` names it in error messages. */
gf_err gf_osim_parse(const char *what, const unsigned char *buf, size_t len, gf_osim_table *out);
gf_err gf_osim_read(const char *path, gf_osim_table *out);
void gf_osim_free(gf_osim_table *t);
/* Index of the column whose short or raw label equals `label`, or -1. */
int gf_osim_col(const gf_osim_table *t, const char *label);

#endif

/* The site store: one SQLite database per site. Subjects (height, mass),
 * trials (cadence, provenance), cycles (X/Y as float32 blobs), channel names
 * and units, the site's capture profile. Every import is one transaction. */
#ifndef GF_STORE_H
#define GF_STORE_H
#include "common/err.h"
#include "sites/dataset.h"

typedef struct gf_store gf_store;

#define GF_STORE_NEED_FORCES 1u
#define GF_STORE_NEED_MOMENTS 2u

/* Opens (create != 0: creates and initializes the schema if absent). */
gf_err gf_store_open(const char *path, int create, gf_store **out);
void gf_store_close(gf_store *s);

/* Site identity and capture profile (JSON object text, e.g.
 * {"system":"optical","noise_deg":0.5}); replaces any earlier value. */
gf_err gf_store_set_site(gf_store *s, const char *name, const char *capture_json);
/* *name and *capture_json are malloc'd (NULL when unset). */
gf_err gf_store_get_site(gf_store *s, char **name, char **capture_json);

/* Adds all cycles of ds in one transaction. Subjects are created or must agree
 * with the stored height and mass; trials are keyed by (subject, speed, trial). */
gf_err gf_store_add(gf_store *s, const gf_dataset *ds, const char *provenance);

/* Loads the cycles that carry every target in `need` (in insertion order);
 * out->yf / out->ym are filled when every loaded cycle has them. */
gf_err gf_store_load(gf_store *s, unsigned need, gf_dataset *out);

typedef struct {
    long long subjects, trials, cycles, with_forces, with_moments;
} gf_store_counts;
gf_err gf_store_counts_get(gf_store *s, gf_store_counts *c);

#endif

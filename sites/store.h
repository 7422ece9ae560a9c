/* The site store: one SQLite database per site. Subjects (height, mass),
 * trials (cadence, provenance), cycles (X/Y as float32 blobs), channel names
 * and units, the site's capture profile. Every import is one transaction.
 *
 * The file is identified by PRAGMA application_id (GF_STORE_APP_ID) and its
 * schema version by PRAGMA user_version (GF_STORE_SCHEMA); any other SQLite
 * file, a newer schema or a channel layout that differs from this build's is
 * refused on open. Journal: WAL; foreign keys on; 5 s busy timeout.
 * A gf_store is one connection: use it from one thread at a time. */
#ifndef GF_STORE_H
#define GF_STORE_H
#include "common/err.h"
#include "sites/dataset.h"
#include "sites/stats.h"

#define GF_STORE_APP_ID 0x47616974 /* "Gait" */
#define GF_STORE_SCHEMA 1

typedef struct gf_store gf_store;

#define GF_STORE_NEED_FORCES 1u
#define GF_STORE_NEED_MOMENTS 2u

/* Opens (create != 0: creates and initializes the schema if absent, or in an
 * existing empty SQLite file). *out is owned by the caller: gf_store_close(). */
gf_err gf_store_open(const char *path, int create, gf_store **out);
void gf_store_close(gf_store *s); /* NULL is a no-op */
const char *gf_store_path(const gf_store *s); /* borrowed, valid until close */

/* Site identity and capture profile (JSON object text, e.g.
 * {"system":"optical","noise_deg":0.5}); replaces any earlier value.
 * capture_json NULL keeps the stored profile, or records {"system":"unknown"}
 * when the store has none. */
gf_err gf_store_set_site(gf_store *s, const char *name, const char *capture_json);
/* *name and *capture_json are malloc'd (NULL when unset). */
gf_err gf_store_get_site(gf_store *s, char **name, char **capture_json);

/* Adds all cycles of ds in one transaction; on any failure nothing is written.
 * Every value is validated first (finite floats, speed slow|med|fast|self,
 * trial >= 1, weight > 0). Subjects are created or must agree with the stored
 * height and mass; trials are keyed by (subject, speed, trial) and a trial
 * already in the store is refused. Cycles of ds that share a trial key become
 * cycles 0, 1, ... of one trial. provenance may be NULL. */
/* Fixes the imported_at of later imports (UTC "YYYY-MM-DDTHH:MM:SSZ"; NULL =
 * the current time, the default), so generated stores are byte-reproducible. */
gf_err gf_store_set_import_time(gf_store *s, const char *iso8601);

gf_err gf_store_add(gf_store *s, const gf_dataset *ds, const char *provenance);
/* gf_store_add and, in the same transaction, gf_store_set_site(site_name,
 * capture_json) when site_name is not NULL: on any failure neither is written. */
gf_err gf_store_add_site(gf_store *s, const gf_dataset *ds, const char *provenance, const char *site_name,
                         const char *capture_json);

/* Loads the cycles that carry every target in `need` (in insertion order);
 * out->yf / out->ym are set when requested or when every loaded cycle has
 * them. *out is overwritten (caller frees with gf_dataset_free); on failure it
 * is left empty. Blob sizes and values are checked on the way back. */
gf_err gf_store_load(gf_store *s, unsigned need, gf_dataset *out);

typedef struct {
    long long subjects, trials, cycles, with_forces, with_moments;
} gf_store_counts;
gf_err gf_store_counts_get(gf_store *s, gf_store_counts *c);

/* Per-speed summary (for `gaitfed info`), ordered slow, med, fast, self;
 * speeds without cycles are omitted. *out is malloc'd (caller frees). */
typedef struct {
    char speed[8];
    long long subjects, trials, cycles, with_forces, with_moments;
} gf_store_speed_count;
gf_err gf_store_speed_counts(gf_store *s, gf_store_speed_count **out, int *n);

/* Subjects ordered by subject_id. *out is malloc'd (caller frees). */
typedef struct {
    char subject_id[GF_ID_MAX];
    double height_m, weight_kg;
    long long trials, cycles;
} gf_store_subject;
gf_err gf_store_subjects(gf_store *s, gf_store_subject **out, int *n);

/* The site's own input normalization statistics (never leave the site);
 * set replaces earlier ones. get: GF_ENOTFOUND when none are stored. */
gf_err gf_store_set_xstats(gf_store *s, const gf_xstats *st);
gf_err gf_store_get_xstats(gf_store *s, gf_xstats *st);

#endif

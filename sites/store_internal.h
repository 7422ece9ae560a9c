/* Shared internals of the site store (store.c, store_import.c, store_read.c).
 * Not part of the public API. */
#ifndef GF_STORE_INTERNAL_H
#define GF_STORE_INTERNAL_H
#include <sqlite3.h>
#include <stddef.h>

#include "sites/store.h"

struct gf_store {
    sqlite3 *db;
    char *path;
    char import_time[24]; /* fixed imported_at for reproducible stores; "" = now */
};

/* A foreign or damaged file is malformed input (GF_EFORMAT), not a database failure. */
gf_err st_db_fail(const gf_store *s, const char *what);
gf_err st_prep(const gf_store *s, const char *sql, sqlite3_stmt **st);
gf_err st_exec(const gf_store *s, const char *sql, const char *what);
/* Rolls back an open transaction; keeps the message of the failure that caused it. */
void st_rollback(const gf_store *s);
/* One integer from a query without parameters. */
gf_err st_query_i64(const gf_store *s, const char *sql, const char *what, long long *v);
/* float32 <-> little-endian bytes, independent of the host. */
void st_put_le32(const float *src, size_t n, unsigned char *dst);
void st_get_le32(const unsigned char *src, size_t n, float *dst);
int st_speed_ok(const char *sp);
/* The site identity (gf_store_set_site's rules): check refuses an empty name or
 * a capture profile that is not a JSON object; write inserts or replaces it in
 * the caller's transaction (capture_json NULL: the stored profile is kept, or
 * {"system":"unknown"} recorded when there is none). */
gf_err st_site_check(const gf_store *s, const char *name, const char *capture_json);
gf_err st_site_write(const gf_store *s, const char *name, const char *capture_json);

#endif

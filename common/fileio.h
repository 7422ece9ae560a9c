/* Capped whole-file reads and crash-safe writes (temp file, fsync, rename). */
#ifndef GF_FILEIO_H
#define GF_FILEIO_H
#include <stddef.h>
#include <stdio.h>
#include "common/err.h"

/* Reads all of path into *out (caller frees). Refuses files larger than cap. */
gf_err gf_read_file(const char *path, size_t cap, unsigned char **out, size_t *len);

/* Writes a file atomically: *tmp_path receives "<path>.tmp.<pid>" opened as *fp.
 * Call gf_atomic_commit() to fsync+rename, or gf_atomic_abort() to delete. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp;
} gf_atomic_file;

gf_err gf_atomic_open(gf_atomic_file *af, const char *path);
gf_err gf_atomic_commit(gf_atomic_file *af);
void gf_atomic_abort(gf_atomic_file *af);

/* Convenience: write a buffer atomically. */
gf_err gf_write_file_atomic(const char *path, const void *buf, size_t len);

/* mkdir -p with mode 0755 (0700 when private != 0). */
gf_err gf_mkdirs(const char *path, int private_);

/* Joins a directory and a name into a newly allocated string (NULL on ENOMEM). */
char *gf_path_join(const char *dir, const char *name);

#endif

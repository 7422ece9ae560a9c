/* Capped whole-file reads and crash-safe writes (temp file, fsync, rename). */
#ifndef GF_FILEIO_H
#define GF_FILEIO_H
#include <stddef.h>
#include <stdio.h>
#include "common/err.h"

/* Reads all of path into *out (caller frees). Refuses files larger than cap. */
gf_err gf_read_file(const char *path, size_t cap, unsigned char **out, size_t *len);

/* Creates "<path>.tmp.<16 random characters>" next to path, mode 0600, with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or link is never opened; up to 64
 * names are tried). *tmp (caller frees) and *fd (caller closes) on success. */
gf_err gf_temp_create(const char *path, char **tmp, int *fd);

/* Creates path empty with mode 0600 unless it exists (*created 1 / 0). A new
 * name is made with O_EXCL|O_NOFOLLOW; an existing one must be a regular file
 * (a link to one is the operator's choice); a link to nothing is refused. */
gf_err gf_create_private(const char *path, int *created);

/* Writes a file atomically: af->tmp is a gf_temp_create() name opened as af->fp
 * (mode 0600). gf_atomic_commit() flushes, fsyncs, renames over path (a link at
 * path is replaced, never followed) and fsyncs the folder; gf_atomic_abort()
 * deletes the temporary. */
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

/* mkdir -p; every folder it creates is 0700. With private_ != 0 the last one
 * must also be a real folder (not a symbolic link) owned by this user, and is
 * tightened to 0700 when group or others have access (refused if not ours). */
gf_err gf_mkdirs(const char *path, int private_);

/* Drops trailing slashes ("kit/" -> "kit"; "/" stays): "link/" would resolve
 * the link even with O_NOFOLLOW. */
void gf_path_trim(char *path);

/* Joins a directory and a name into a newly allocated string (NULL on ENOMEM). */
char *gf_path_join(const char *dir, const char *name);

#endif

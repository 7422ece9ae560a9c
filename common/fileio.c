#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

gf_err gf_read_file(const char *path, size_t cap, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gf_fail(errno == ENOENT ? GF_ENOTFOUND : GF_EIO, "%s: %s", path, strerror(errno));
    size_t size = 0, alloc = 0;
    unsigned char *buf = NULL;
    for (;;) {
        if (size == alloc) {
            if (alloc > cap) break;
            size_t na = alloc ? alloc * 2 : 65536;
            if (na > cap + 1) na = cap + 1;
            unsigned char *nb = realloc(buf, na ? na : 1);
            if (!nb) { free(buf); fclose(f); return gf_fail(GF_ENOMEM, "%s: out of memory", path); }
            buf = nb;
            alloc = na;
        }
        size_t got = fread(buf + size, 1, alloc - size, f);
        size += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return gf_fail(GF_EIO, "%s: read error", path); }
    if (size > cap) {
        free(buf);
        return gf_fail(GF_ERANGE, "%s: file larger than the %zu-byte cap", path, cap);
    }
    *out = buf;
    *len = size;
    return GF_OK;
}

gf_err gf_atomic_open(gf_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = strdup(path);
    af->tmp = malloc(n);
    if (!af->path || !af->tmp) { gf_atomic_abort(af); return gf_fail(GF_ENOMEM, "%s: out of memory", path); }
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) {
        gf_err e = gf_fail(GF_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(af->path); free(af->tmp);
        memset(af, 0, sizeof *af);
        return e;
    }
    return GF_OK;
}

static void fsync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(copy);
}

gf_err gf_atomic_commit(gf_atomic_file *af)
{
    gf_err e = GF_OK;
    if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0)
        e = gf_fail(GF_EIO, "%s: write failed: %s", af->path, strerror(errno));
    if (fclose(af->fp) != 0 && e == GF_OK)
        e = gf_fail(GF_EIO, "%s: close failed: %s", af->path, strerror(errno));
    af->fp = NULL;
    if (e == GF_OK && rename(af->tmp, af->path) != 0)
        e = gf_fail(GF_EIO, "%s: rename failed: %s", af->path, strerror(errno));
    if (e != GF_OK) unlink(af->tmp);
    else fsync_dir(af->path);
    free(af->path); free(af->tmp);
    memset(af, 0, sizeof *af);
    return e;
}

void gf_atomic_abort(gf_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp) unlink(af->tmp);
    free(af->path); free(af->tmp);
    memset(af, 0, sizeof *af);
}

gf_err gf_write_file_atomic(const char *path, const void *buf, size_t len)
{
    gf_atomic_file af;
    GF_TRY(gf_atomic_open(&af, path));
    if (len && fwrite(buf, 1, len, af.fp) != len) {
        gf_err e = gf_fail(GF_EIO, "%s: write failed: %s", path, strerror(errno));
        gf_atomic_abort(&af);
        return e;
    }
    return gf_atomic_commit(&af);
}

gf_err gf_mkdirs(const char *path, int private_)
{
    char *p = strdup(path);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory");
    mode_t mode = private_ ? 0700 : 0755;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                gf_err e = gf_fail(GF_EIO, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return e;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return GF_OK;
}

char *gf_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] == '/') ? "" : "/", name);
    return s;
}

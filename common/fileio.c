#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* Suffix letters of temporary names: 16 of them carry 96 random bits. */
static const char TMP_ALPHABET[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
#define TMP_SUFFIX 16
#define TMP_TRIES 64

gf_err gf_temp_create(const char *path, char **tmp_out, int *fd_out)
{
    *tmp_out = NULL;
    *fd_out = -1;
    size_t n = strlen(path) + sizeof ".tmp." + TMP_SUFFIX;
    char *tmp = malloc(n);
    if (!tmp) return gf_fail(GF_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < TMP_TRIES; i++) {
        unsigned char r[TMP_SUFFIX];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            free(tmp);
            return gf_fail(GF_EIO, "%s: no randomness for a temporary name: %s", path, strerror(errno));
        }
        int k = snprintf(tmp, n, "%s.tmp.", path);
        for (int j = 0; j < TMP_SUFFIX; j++) tmp[k + j] = TMP_ALPHABET[r[j] & 63];
        tmp[k + TMP_SUFFIX] = 0;
        /* O_EXCL|O_NOFOLLOW: a name someone planted (file or link) is never opened. */
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *tmp_out = tmp;
            *fd_out = fd;
            return GF_OK;
        }
        if (errno != EEXIST) break;
    }
    gf_err e = gf_fail(GF_EIO, "%s: cannot create a temporary file: %s", path,
                       errno == EEXIST ? "every random name tried already exists" : strerror(errno));
    free(tmp);
    return e;
}

gf_err gf_create_private(const char *path, int *created)
{
    *created = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        *created = 1;
        return GF_OK;
    }
    if (errno != EEXIST) return gf_fail(GF_EIO, "%s: cannot create: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0)
        return gf_fail(GF_EINVAL, "%s: a symbolic link to nothing; refusing to create its target", path);
    if (!S_ISREG(st.st_mode)) return gf_fail(GF_EINVAL, "%s: not a regular file", path);
    return GF_OK;
}

gf_err gf_atomic_open(gf_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    int fd = -1;
    af->path = strdup(path);
    if (!af->path) return gf_fail(GF_ENOMEM, "%s: out of memory", path);
    gf_err e = gf_temp_create(path, &af->tmp, &fd);
    if (!e && !(af->fp = fdopen(fd, "wb"))) {
        e = gf_fail(GF_EIO, "%s: cannot create: %s", path, strerror(errno));
        close(fd);
    }
    if (e) gf_atomic_abort(af); /* removes the temporary, keeps the message */
    return e;
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

/* A folder gaitfed keeps private data in: a real folder (not a link),
 * ours, and 0700 (tightened when group or others have access). Checked on
 * the open folder, so a swap after the check changes nothing. */
static gf_err private_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        struct stat ls;
        if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode))
            return gf_fail(GF_ESTATE, "%s: a symbolic link; refusing to keep private files through it", path);
        return gf_fail(GF_EIO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    gf_err e = GF_OK;
    if (fstat(fd, &st) != 0) e = gf_fail(GF_EIO, "%s: %s", path, strerror(errno));
    else if ((st.st_mode & 077) && st.st_uid != geteuid())
        e = gf_fail(GF_ESTATE, "%s: open to group or others (mode %04o) and owned by another user; refusing", path,
                    (unsigned)(st.st_mode & 07777));
    else if ((st.st_mode & 077) && fchmod(fd, 0700) != 0)
        e = gf_fail(GF_EIO, "%s: chmod 0700: %s", path, strerror(errno));
    close(fd);
    return e;
}

gf_err gf_mkdirs(const char *path, int private_)
{
    char *p = strdup(path);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory");
    gf_path_trim(p);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                gf_err e = gf_fail(GF_EIO, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return e;
            }
            *s = c;
            if (!c) break;
        }
    }
    gf_err e = private_ ? private_dir(p) : GF_OK;
    free(p);
    return e;
}

void gf_path_trim(char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') path[--n] = 0;
}

char *gf_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] == '/') ? "" : "/", name);
    return s;
}

/* The node's instance id, sent as X-Gaitfed-Instance with every request: the
 * coordinator lets one instance per site take part at a time (docs/PROTOCOL.md,
 * "One live node per identity"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/fileio.h"
#include "crypto/hash.h"
#include "node/node_internal.h"

static int id_valid(const unsigned char *b, size_t n)
{
    if (n != INSTANCE_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f'))) return 0;
    return 1;
}

gf_err nd_instance_open(const gf_node_config *c, char id[INSTANCE_LEN + 1], int *lock_fd)
{
    *lock_fd = -1;
    char *lock = NULL, *path = NULL;
    if (c->role == GF_ROLE_HOSPITAL && c->state_dir) {
        lock = gf_path_join(c->state_dir, "node.lock");
        path = gf_path_join(c->state_dir, "instance");
        if (!lock || !path) {
            free(lock), free(path);
            return gf_fail(GF_ENOMEM, "out of memory");
        }
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            gf_err e = gf_fail(GF_EIO, "%s: %s", lock, strerror(errno));
            free(lock), free(path);
            return e;
        }
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            int busy = errno == EWOULDBLOCK;
            gf_err e = gf_fail(GF_ESTATE, "%s: %s", lock,
                               busy ? "another node is running with this state folder; this one exits" : strerror(errno));
            close(fd);
            free(lock), free(path);
            return e;
        }
        *lock_fd = fd;
        unsigned char *b = NULL;
        size_t n = 0;
        if (gf_read_file(path, 256, &b, &n) == GF_OK && id_valid(b, n)) { /* a restart: the same instance */
            memcpy(id, b, INSTANCE_LEN);
            id[INSTANCE_LEN] = 0;
            free(b), free(lock), free(path);
            return GF_OK;
        }
        free(b);
    }
    uint8_t r[INSTANCE_LEN / 2];
    gf_err e = RAND_bytes(r, sizeof r) == 1 ? GF_OK : gf_fail(GF_ECRYPTO, "instance id: no randomness");
    if (!e) gf_hex(r, sizeof r, id);
    if (!e && path) e = gf_write_file_atomic(path, id, INSTANCE_LEN);
    free(lock), free(path);
    return e;
}

/* Files on disk (issue 13, finding 10): everything gaitfed creates is 0600
 * in 0700 folders whatever the umask, temporary files are created
 * O_EXCL|O_NOFOLLOW under unpredictable names, and a link planted where
 * gaitfed writes never redirects the write. Library paths are checked in
 * process under umask 022; the CLI with real `gaitfed` processes, also
 * started under umask 022. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fileio.h"
#include "coordinator/db.h"
#include "crypto/pki.h"
#include "sites/store.h"
#include "tests/unit/testutil.h"

#define VICTIM "victim: must stay as it is\n"

static unsigned mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
    cr_assert(!S_ISLNK(st.st_mode), "%s is a symbolic link", path);
    return st.st_mode & 07777;
}

/* A file holding VICTIM (what a planted link points at). */
static char *make_victim(const char *dir, const char *name)
{
    char *v = tu_path(dir, name);
    cr_assert_eq(gf_write_file_atomic(v, VICTIM, strlen(VICTIM)), GF_OK);
    return v;
}

static void assert_victim(const char *v)
{
    unsigned char *b = NULL;
    size_t n = 0;
    cr_assert_eq(gf_read_file(v, 4096, &b, &n), GF_OK, "%s: %s", v, gf_errmsg());
    cr_assert(n == strlen(VICTIM) && !memcmp(b, VICTIM, n), "%s was overwritten through a planted link (%zu bytes)", v, n);
    free(b);
}

static void assert_file_is(const char *path, const char *text)
{
    unsigned char *b = NULL;
    size_t n = 0;
    cr_assert_eq(gf_read_file(path, 4096, &b, &n), GF_OK, "%s: %s", path, gf_errmsg());
    cr_assert(n == strlen(text) && !memcmp(b, text, n), "%s does not hold what was written", path);
    free(b);
}

/* ---- every file 0600, every folder 0700, under a tree ---------------- */

static int n_files, n_dirs;
static char bad[4200];

static int visit(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    unsigned m = st->st_mode & 07777;
    if (type == FTW_SL || type == FTW_SLN) snprintf(bad, sizeof bad, "%s: a symbolic link", p);
    else if (S_ISDIR(st->st_mode) && m != 0700) snprintf(bad, sizeof bad, "%s: folder mode %04o, want 0700", p, m);
    else if (S_ISREG(st->st_mode) && m != 0600) snprintf(bad, sizeof bad, "%s: file mode %04o, want 0600", p, m);
    n_dirs += S_ISDIR(st->st_mode), n_files += S_ISREG(st->st_mode);
    return bad[0] != 0;
}

static void assert_private_tree(const char *root, int min_files)
{
    n_files = n_dirs = 0;
    bad[0] = 0;
    cr_assert_geq(nftw(root, visit, 16, FTW_PHYS), 0, "%s: %s", root, strerror(errno));
    cr_assert(!bad[0], "%s", bad);
    cr_assert_geq(n_files, min_files, "%s: only %d files checked", root, n_files);
}

/* ---- temporary files: library, in process ---------------------------- */

/* The old temporary name <path>.tmp.<pid> planted as a link to a victim: the
 * write goes to the target, the victim and the planted link stay as they were. */
Test(files, atomic_write_never_follows_a_planted_temporary_link)
{
    umask(022);
    const char *d = tu_dir();
    char *victim = make_victim(d, "victim"), *out = tu_path(d, "out.bin"), planted[1200];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", out, (long)getpid());
    cr_assert_eq(symlink(victim, planted), 0);
    cr_assert_eq(gf_write_file_atomic(out, "secret", 6), GF_OK, "%s", gf_errmsg());
    assert_victim(victim);
    assert_file_is(out, "secret");
    cr_assert_eq(mode_of(out), 0600);
    char target[1200] = "";
    cr_assert_gt(readlink(planted, target, sizeof target - 1), 0, "the planted link was replaced or removed");
    cr_assert_str_eq(target, victim);
    free(victim), free(out);
}

/* Two writes of one path at once get two different temporary names in the
 * target's folder, neither derived from the pid, each a new 0600 file; the
 * committed one wins and nothing is left behind. */
Test(files, temporary_names_are_unpredictable_private_and_distinct)
{
    umask(022);
    const char *d = tu_dir();
    char *out = tu_path(d, "model.safetensors"), old[1200], prefix[1200];
    snprintf(old, sizeof old, "%s.tmp.%ld", out, (long)getpid());
    snprintf(prefix, sizeof prefix, "%s.tmp.", out);
    gf_atomic_file a, b;
    cr_assert_eq(gf_atomic_open(&a, out), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_atomic_open(&b, out), GF_OK, "%s", gf_errmsg());
    cr_assert_str_neq(a.tmp, b.tmp, "two writers share the temporary %s", a.tmp);
    for (const char *t = a.tmp; t; t = t == a.tmp ? b.tmp : NULL) {
        cr_assert_str_neq(t, old, "the temporary name is the predictable %s", old);
        cr_assert(!strncmp(t, prefix, strlen(prefix)) && !strchr(t + strlen(prefix), '/'), "%s not next to %s", t, out);
        cr_assert_geq(strlen(t + strlen(prefix)), 16, "%s: a short suffix", t);
        cr_assert_eq(mode_of(t), 0600, "%s", t);
    }
    fputs("first", a.fp), fputs("second", b.fp);
    cr_assert_eq(gf_atomic_commit(&a), GF_OK);
    gf_atomic_abort(&b);
    assert_file_is(out, "first");
    cr_assert_eq(mode_of(out), 0600);
    cr_assert_eq(tu_sh("test $(ls -A %s | wc -l) -eq 1", d), 0, "a temporary was left in %s", d);
    free(out);
}

/* getrandom as this binary sees it (a definition here wins over libc's at
 * link time): the kernel's bytes, except that while `replay` is set every
 * call returns the bytes of the first call after it was set, and `replays`
 * of them in a row — so a test can learn the next temporary name, plant a
 * link there, and have the writer draw that very name again. */
static int replay, replays;
static unsigned char replay_buf[64];
static size_t replay_len;

ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
    if (!replay || n > sizeof replay_buf) return syscall(SYS_getrandom, buf, n, flags);
    if (replay_len != n) {
        if (syscall(SYS_getrandom, replay_buf, n, flags) != (long)n) return -1;
        replay_len = n;
    }
    if (replays == 0) return syscall(SYS_getrandom, buf, n, flags);
    replays--;
    memcpy(buf, replay_buf, n);
    return (ssize_t)n;
}

/* The writer draws the exact name where a link to a victim was planted:
 * the exclusive, no-follow create refuses it, the next name is used, the
 * victim and the link are untouched. (The old code never drew a name: its
 * temporary was <path>.tmp.<pid>, which the same learning plants at.) */
Test(files, a_link_planted_at_the_drawn_temporary_name_is_skipped)
{
    umask(022);
    const char *d = tu_dir();
    char *victim = make_victim(d, "victim"), *out = tu_path(d, "report.html");
    replay = 1, replay_len = 0, replays = 1;
    gf_atomic_file af;
    cr_assert_eq(gf_atomic_open(&af, out), GF_OK, "%s", gf_errmsg());
    char planted[1200];
    snprintf(planted, sizeof planted, "%s", af.tmp);
    gf_atomic_abort(&af);
    cr_assert_eq(symlink(victim, planted), 0, "%s: %s", planted, strerror(errno));
    replays = 1; /* the next draw repeats the learned name, later ones are fresh */
    gf_err e = gf_write_file_atomic(out, "<html>", 6);
    replay = 0;
    cr_assert_eq(e, GF_OK, "%s", gf_errmsg());
    assert_victim(victim);
    assert_file_is(out, "<html>");
    cr_assert_eq(mode_of(out), 0600);
    char target[1200] = "";
    cr_assert_gt(readlink(planted, target, sizeof target - 1), 0, "the planted link was replaced or removed");
    cr_assert_str_eq(target, victim);
    /* Every draw the planted name: refused in one line after the bounded retries. */
    replay = 1, replays = 1000;
    e = gf_write_file_atomic(out, "again", 5);
    replay = 0;
    cr_assert_eq(e, GF_EIO);
    cr_assert(strstr(gf_errmsg(), out) && strstr(gf_errmsg(), "already exists"), "%s", gf_errmsg());
    assert_victim(victim);
    assert_file_is(out, "<html>");
    free(victim), free(out);
}

/* ---- folders ---------------------------------------------------------- */

Test(files, folders_are_created_0700_and_private_ones_checked)
{
    umask(022);
    const char *d = tu_dir();
    char *deep = tu_path(d, "a/b/c"), *a = tu_path(d, "a"), *ab = tu_path(d, "a/b");
    cr_assert_eq(gf_mkdirs(deep, 0), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(mode_of(a), 0700);
    cr_assert_eq(mode_of(ab), 0700);
    cr_assert_eq(mode_of(deep), 0700);
    /* An existing open folder: left alone for ordinary output, tightened when private. */
    char *open_ = tu_path(d, "open");
    cr_assert_eq(mkdir(open_, 0755), 0);
    cr_assert_eq(gf_mkdirs(open_, 0), GF_OK);
    cr_assert_eq(mode_of(open_), 0755, "an ordinary output folder of the operator's was changed");
    cr_assert_eq(gf_mkdirs(open_, 1), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(mode_of(open_), 0700);
    /* A private folder reached through a link is refused, its target untouched. */
    char *real = tu_path(d, "real"), *link = tu_path(d, "link");
    cr_assert_eq(mkdir(real, 0755), 0);
    cr_assert_eq(symlink(real, link), 0);
    cr_assert_eq(gf_mkdirs(link, 1), GF_ESTATE);
    cr_assert(strstr(gf_errmsg(), link) && strstr(gf_errmsg(), "symbolic link"), "%s", gf_errmsg());
    char slash[1200]; /* "link/" resolves the link even with O_NOFOLLOW */
    snprintf(slash, sizeof slash, "%s//", link);
    cr_assert_eq(gf_mkdirs(slash, 1), GF_ESTATE, "%s", slash);
    cr_assert_eq(mode_of(real), 0755);
    /* Someone else's open folder is refused, not taken over (needs root to chown). */
    if (geteuid() == 0) {
        char *foreign = tu_path(d, "foreign");
        cr_assert_eq(mkdir(foreign, 0777), 0);
        cr_assert_eq(chmod(foreign, 0777), 0);
        cr_assert_eq(chown(foreign, 65534, 65534), 0);
        cr_assert_eq(gf_mkdirs(foreign, 1), GF_ESTATE);
        cr_assert(strstr(gf_errmsg(), foreign) && strstr(gf_errmsg(), "another user"), "%s", gf_errmsg());
        cr_assert_eq(mode_of(foreign), 0777);
        free(foreign);
    }
    free(deep), free(a), free(ab), free(open_), free(real), free(link);
}

/* ---- SQLite: site stores and the coordinator database ------------------ */

/* path, path-wal, path-shm while the database is open are all 0600 (SQLite
 * gives its side files the database's mode). */
static void assert_sqlite_private(const char *path)
{
    char side[1200];
    cr_assert_eq(mode_of(path), 0600, "%s", path);
    int n = 0;
    for (const char *s = "-wal\0-shm\0-journal\0"; *s; s += strlen(s) + 1) {
        snprintf(side, sizeof side, "%s%s", path, s);
        if (access(side, F_OK) != 0) continue;
        cr_assert_eq(mode_of(side), 0600, "%s", side);
        n++;
    }
    cr_assert_geq(n, 2, "%s: expected the -wal and -shm of an open WAL database", path);
}

Test(files, site_store_and_coordinator_database_are_created_0600)
{
    umask(022);
    const char *d = tu_dir();
    char *sp = tu_path(d, "site.db"), *cp = tu_path(d, "coordinator.db");
    gf_store *st = NULL;
    cr_assert_eq(gf_store_open(sp, 1, &st), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_store_set_site(st, "h1", NULL), GF_OK, "%s", gf_errmsg());
    assert_sqlite_private(sp);
    gf_store_close(st);
    gf_coord_db d0;
    cr_assert_eq(gf_coord_db_open(cp, &d0), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(sqlite3_exec(d0.db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL), SQLITE_OK); /* -wal, -shm */
    assert_sqlite_private(cp);
    gf_coord_db_close(&d0);
    free(sp), free(cp);
}

/* A database path that is a link to nothing: refused, and the link's target
 * is not created (SQLite alone would create it). */
Test(files, a_dangling_link_as_database_path_is_refused)
{
    umask(022);
    const char *d = tu_dir();
    char *target = tu_path(d, "elsewhere.db"), *sp = tu_path(d, "site.db"), *cp = tu_path(d, "coordinator.db");
    cr_assert_eq(symlink(target, sp), 0);
    cr_assert_eq(symlink(target, cp), 0);
    gf_store *st = NULL;
    cr_assert_neq(gf_store_open(sp, 1, &st), GF_OK, "a store was opened through a link to nothing");
    cr_assert(strstr(gf_errmsg(), sp) && strstr(gf_errmsg(), "symbolic link"), "%s", gf_errmsg());
    cr_assert_neq(access(target, F_OK), 0, "the site store's link target was created");
    gf_coord_db d0;
    cr_assert_neq(gf_coord_db_open(cp, &d0), GF_OK, "a coordinator database was opened through a link to nothing");
    cr_assert(strstr(gf_errmsg(), cp) && strstr(gf_errmsg(), "symbolic link"), "%s", gf_errmsg());
    cr_assert_neq(access(target, F_OK), 0, "the coordinator database's link target was created");
    free(target), free(sp), free(cp);
}

/* ---- PKI: the CA and kits ----------------------------------------------- */

Test(files, ca_and_kits_are_private_and_kit_links_refused)
{
    umask(022);
    const char *d = tu_dir();
    char *ca = tu_path(d, "ca"), *kit = tu_path(d, "kit-open");
    cr_assert_eq(gf_pki_init(ca, "files", 0), GF_OK, "%s", gf_errmsg());
    gf_pki_issue_opts o = {.name = "h1", .role = GF_ROLE_HOSPITAL};
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    o.name = "coord", o.role = GF_ROLE_COORDINATOR;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    /* --out into an existing folder open to everyone: tightened to 0700. */
    cr_assert_eq(mkdir(kit, 0777), 0);
    cr_assert_eq(chmod(kit, 0777), 0);
    o.name = "h2", o.role = GF_ROLE_HOSPITAL, o.kit_dir = kit;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_OK, "%s", gf_errmsg());
    assert_private_tree(ca, 4 + 2 * 5);
    assert_private_tree(kit, 5);
    /* A kit path that is a link to a folder: refused, nothing written there. */
    char *real = tu_path(d, "real"), *link = tu_path(d, "kit-link");
    cr_assert_eq(mkdir(real, 0700), 0);
    cr_assert_eq(symlink(real, link), 0);
    o.name = "h3", o.kit_dir = link;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_ESTATE, "a kit was written through the link %s", link);
    cr_assert(strstr(gf_errmsg(), link) && strstr(gf_errmsg(), "symbolic link"), "%s", gf_errmsg());
    char slash[1200];
    snprintf(slash, sizeof slash, "%s/", link);
    o.kit_dir = slash;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_ESTATE, "a kit was written through %s", slash);
    cr_assert_eq(tu_sh("test -z \"$(ls -A %s)\"", real), 0, "files appeared in the link's target %s", real);
    /* A kit folder holding a link at a kit file's name (even to nothing): refused. */
    char *kit2 = tu_path(d, "kit-planted"), *plant = tu_path(d, "kit-planted/cert.pem"), *gone = tu_path(d, "gone.pem");
    cr_assert_eq(mkdir(kit2, 0700), 0);
    cr_assert_eq(symlink(gone, plant), 0);
    o.kit_dir = kit2;
    cr_assert_eq(gf_pki_issue(ca, &o, NULL), GF_ESTATE, "a kit was written next to the planted %s", plant);
    cr_assert(strstr(gf_errmsg(), plant) && strstr(gf_errmsg(), "symbolic link"), "%s", gf_errmsg());
    cr_assert_neq(access(gone, F_OK), 0);
    cr_assert_eq(tu_sh("test $(ls -A %s | wc -l) -eq 1", kit2), 0, "files appeared in %s", kit2);
    free(ca), free(kit), free(real), free(link), free(kit2), free(plant), free(gone);
}

/* ---- the CLI: real processes under umask 022 ----------------------------- */

/* A whole plain federation (`gaitfed demo`: synth, pki init/issue/kits,
 * coordinator database, nodes' cached updates, logs, report), then import,
 * export, train --out, predict, report and a default-location kit: every
 * file 0600, every folder 0700. */
Test(files, cli_outputs_are_private_under_umask_022)
{
    const char *t = tu_dir();
    char D[1100];
    snprintf(D, sizeof D, "%s/demo", t);
    const char *B = tu_bin();
    cr_assert_eq(tu_sh("umask 022 && %s demo --out %s --rounds 1 --model lstm --plain > %s/demo.log 2>&1", B, D, t), 0,
                 "demo failed: %s/demo.log", t);
    cr_assert_eq(tu_sh("umask 022 && cd %s && { %s import --db imported.db --site h9 --npz data/Gait2Hip_MF60.npz && "
                       "%s export --db imported.db --npz exported.npz && "
                       "%s train --data data/Gait2Hip_MF60.npz --model lstm --d-model 8 --layers 1 --epochs 1 --folds 0 "
                       "--out m.safetensors && "
                       "%s predict --model m.safetensors --in data/ONFH_MF9.npz --out pred.npz && "
                       "%s report --db coordinator.db --out report2 && "
                       "%s pki issue --dir pki --name extra --role hospital && "
                       "%s audit verify --db coordinator.db; } > %s/cli.log 2>&1",
                       D, B, B, B, B, B, B, B, t),
                 0, "a command failed: %s/cli.log", t);
    /* What must be there, so the walk below cannot pass on an empty tree. */
    cr_assert_eq(tu_sh("cd %s && test -s coordinator.db && test -s data/sites/imu-clinic.db && test -s imported.db && "
                       "test -s kits/imu-clinic/key.pem && test -s kits/coordinator/coordinator.json && "
                       "ls kits/imu-clinic/state/update-r1-v*.bin > /dev/null && test -s m.safetensors && "
                       "test -s m.metrics.json && test -s pred.npz && test -s exported.npz && "
                       "test -s report2/index.html && test -s pki/kits/extra/key.pem && test -s logs/coordinator.log",
                       D),
                 0, "an expected output is missing under %s", D);
    assert_private_tree(D, 60);
}

/* Links planted where the old code's temporary names would be
 * (<path>.tmp.<pid> for the next pids: a local attacker's guess) and at
 * the output names themselves: the CLI never writes through them. */
static void plant_pid_links(const char *path, const char *victim, int n)
{
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
    long last = 0, max = 32768;
    cr_assert(f && fscanf(f, "%ld", &last) == 1, "cannot read the last pid");
    fclose(f);
    if ((f = fopen("/proc/sys/kernel/pid_max", "r"))) {
        if (fscanf(f, "%ld", &max) != 1) max = 32768;
        fclose(f);
    }
    for (long i = 1; i <= n; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s.tmp.%ld", path, (last + i) % max);
        cr_assert(symlink(victim, p) == 0 || errno == EEXIST, "%s: %s", p, strerror(errno));
    }
}

Test(files, cli_never_writes_through_planted_links)
{
    const char *t = tu_dir(), *B = tu_bin();
    char *victim = make_victim(t, "victim"), *kit = tu_path(t, "kit"), *link = tu_path(t, "kit-link"),
         *elsewhere = tu_path(t, "elsewhere");
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium files > /dev/null && %s synth --out %s/D --seed 2 > /dev/null 2>&1",
                       B, t, B, t),
                 0);
    /* (1) A kit folder others can write, links at every guessable temporary name. */
    cr_assert_eq(mkdir(kit, 0777), 0);
    cr_assert_eq(chmod(kit, 0777), 0);
    for (const char *f = "key.pem\0cert.pem\0ca.pem\0crl.pem\0node.json\0"; *f; f += strlen(f) + 1) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", kit, f);
        plant_pid_links(p, victim, 1500);
    }
    cr_assert_eq(tu_sh("umask 022 && %s pki issue --dir %s/ca --name h1 --role hospital --out %s > %s/issue.log 2>&1", B, t,
                       kit, t),
                 0, "issue failed: %s/issue.log", t);
    assert_victim(victim);
    char p[1200];
    cr_assert_eq(mode_of(kit), 0700, "the open kit folder was not tightened");
    snprintf(p, sizeof p, "%s/key.pem", kit);
    cr_assert_eq(mode_of(p), 0600);
    /* (2) A kit path that is a link: refused in one line naming it, nothing written. */
    cr_assert_eq(mkdir(elsewhere, 0700), 0);
    cr_assert_eq(symlink(elsewhere, link), 0);
    cr_assert_eq(tu_sh("%s pki issue --dir %s/ca --name h2 --role hospital --out %s > %s/link.log 2>&1", B, t, link, t), 1);
    cr_assert_eq(tu_sh("test $(wc -l < %s/link.log) -eq 1 && grep -q '%s' %s/link.log", t, link, t), 0,
                 "not one line naming %s: %s/link.log", link, t);
    cr_assert_eq(tu_sh("test -z \"$(ls -A %s)\"", elsewhere), 0, "a kit was written through %s", link);
    /* (3) train --out: guessable temporaries planted, and the output name itself a link. */
    char out[1200], metrics[1200];
    snprintf(out, sizeof out, "%s/D/m.safetensors", t);
    snprintf(metrics, sizeof metrics, "%s/D/m.metrics.json", t);
    plant_pid_links(out, victim, 1500);
    plant_pid_links(metrics, victim, 1500);
    cr_assert_eq(symlink(victim, out), 0);
    cr_assert_eq(tu_sh("umask 022 && %s train --data %s/D/Gait2Hip_MF60.npz --model lstm --d-model 8 --layers 1 --epochs 1 "
                       "--folds 0 --out %s > %s/train.log 2>&1",
                       B, t, out, t),
                 0, "train failed: %s/train.log", t);
    assert_victim(victim);
    cr_assert_eq(mode_of(out), 0600, "%s is not a new private file", out);
    cr_assert_eq(mode_of(metrics), 0600);
    free(victim), free(kit), free(link), free(elsewhere);
}

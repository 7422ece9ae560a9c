/* Consent to pooled statistics (issue 13, finding 6), against a HOSTILE
 * COORDINATOR: tests/py/hostile_coordinator.py holds a real coordinator kit of
 * the consortium (`gaitfed pki`), so the node's TLS checks pass, serves the
 * work item a real coordinator serves in the statistics round of a "global"
 * federation and records every request. A `gaitfed node` whose own config
 * says "normalization": "own" must post nothing, exit 1 and say why in one
 * line — whether the item's train.normalization says "global" (the real
 * shape) or the lie "own"; a node configured "global" refuses a statistics
 * item claiming "own" the same way. Negative control: a consenting node
 * asked the honest way posts its statistics advert to the same server, so
 * the recorder does see posts. Second test: a consenting site whose data are
 * implausible (angles in radians) sends nothing either and names the channel
 * (finding 5, node side). */
#include <criterion/criterion.h>

#include <signal.h>

#include "tests/unit/proc_testutil.h"
#include "tests/unit/testutil.h"

typedef struct {
    pid_t pid;
    int port;
    char log[1200];
} hostile;

/* The hostile coordinator with coordinator kit root/ca/kits/coord, serving
 * train.normalization = norm; its request log is dir/requests-<tag>.log. */
static void hostile_start(hostile *h, const char *root, const char *norm, const char *tag)
{
    char script[1200], cert[1200], key[1200], ca[1200], portf[1200], out[1200];
    snprintf(script, sizeof script, "%s/tests/py/hostile_coordinator.py", tu_root());
    snprintf(cert, sizeof cert, "%s/ca/kits/coord/cert.pem", root);
    snprintf(key, sizeof key, "%s/ca/kits/coord/key.pem", root);
    snprintf(ca, sizeof ca, "%s/ca/ca.pem", root);
    snprintf(portf, sizeof portf, "%s/port-%s", root, tag);
    snprintf(h->log, sizeof h->log, "%s/requests-%s.log", root, tag);
    snprintf(out, sizeof out, "%s/hostile-%s.out", root, tag);
    const char *args[] = {script, "--cert", cert, "--key", key, "--ca", ca, "--port-file", portf,
                          "--log", h->log, "--normalization", norm, NULL};
    h->pid = tu_spawn(out, tu_python(), args);
    h->port = 0;
    for (int i = 0; i < 600 && !h->port; i++) {
        FILE *f = fopen(portf, "r");
        if (f) {
            if (fscanf(f, "%d", &h->port) != 1) h->port = 0;
            fclose(f);
        }
        if (!h->port) sleep_ms(50);
    }
    cr_assert_gt(h->port, 0, "the hostile coordinator did not start (see %s)", out);
}

static void hostile_stop(hostile *h)
{
    kill(h->pid, SIGKILL);
    wait_exit(h->pid, 10);
}

/* Lines of path that start with prefix (0 when the file is absent). */
static int count_lines(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += !strncmp(line, prefix, strlen(prefix));
    fclose(f);
    return n;
}

/* Node config root/<name>-<tag>.json: the hospital kit `name`, site store db
 * (NULL: one of the shared synthetic cohort), the node's own normalization. */
static void node_config_db(const char *root, const char *name, const char *tag, int port, const char *norm,
                           const char *db, char *path, size_t cap)
{
    char text[4096];
    snprintf(path, cap, "%s/%s-%s.json", root, name, tag);
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"role\": \"hospital\", \"coordinator_url\": \"https://localhost:%d\",\n"
             " \"key\": \"%s/ca/kits/%s/key.pem\", \"cert\": \"%s/ca/kits/%s/cert.pem\", \"ca\": \"%s/ca/ca.pem\",\n"
             " \"site_db\": \"%s%s\", \"state_dir\": \"state-%s-%s\", \"normalization\": \"%s\",\n"
             " \"threads\": 1, \"poll_ms\": 100, \"backoff_max_ms\": 400}\n",
             name, port, root, name, root, name, root, db ? db : fed_data(), db ? "" : "/sites/imu-clinic.db", name, tag,
             norm);
    write_text(path, text);
}

static void node_config(const char *root, const char *name, const char *tag, int port, const char *norm, char *path,
                        size_t cap)
{
    node_config_db(root, name, tag, port, norm, NULL, path, cap);
}

/* The node at cfg until it exits or posts to h (then it is stopped): its exit status, -1 if stopped. */
static int run_node(const hostile *h, const char *cfg, const char *err)
{
    const char *args[] = {"node", "--config", cfg, NULL};
    pid_t node = tu_spawn(err, tu_bin(), args);
    int rc = -1;
    for (double t0 = now_s(); rc < 0 && now_s() - t0 < 120 && !count_lines(h->log, "POST "); sleep_ms(50)) {
        int st;
        if (waitpid(node, &st, WNOHANG) == node) rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    if (rc < 0) kill(node, SIGKILL), wait_exit(node, 10);
    return rc;
}

static void make_pki(const char *root)
{
    cr_assert_eq(tu_sh("%s pki init --dir %s/ca --consortium consent > /dev/null && "
                       "%s pki issue --dir %s/ca --name coord --role coordinator > /dev/null && "
                       "%s pki issue --dir %s/ca --name own-clinic --role hospital > /dev/null && "
                       "%s pki issue --dir %s/ca --name pooling-clinic --role hospital > /dev/null",
                       tu_bin(), root, tu_bin(), root, tu_bin(), root, tu_bin(), root),
                 0);
}

Test(consent, own_node_sends_no_statistics_to_a_hostile_coordinator)
{
    const char *root = tu_dir();
    make_pki(root);
    /* The node, its own setting, the work item's train.normalization, and
     * the last line it must leave with (NULL: it consents and must post). */
    static const struct {
        const char *node, *own, *claim, *why;
    } cases[] = {
        {"own-clinic", "own", "global", "input statistics.*\"normalization\": \"own\""}, /* the real shape */
        {"own-clinic", "own", "own", "input statistics.*\"normalization\": \"own\""},    /* the lie */
        {"pooling-clinic", "global", "own", "statistics session.*normalization is .own., not \"global\""},
        {"pooling-clinic", "global", "global", NULL}, /* negative control: the recorder sees posts */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char tag[64], cfg[1300], err[1300];
        snprintf(tag, sizeof tag, "%s-claims-%s", cases[k].node, cases[k].claim);
        hostile h;
        hostile_start(&h, root, cases[k].claim, tag);
        node_config(root, cases[k].node, tag, h.port, cases[k].own, cfg, sizeof cfg);
        snprintf(err, sizeof err, "%s/%s.err", root, tag);
        int rc = run_node(&h, cfg, err);
        hostile_stop(&h);
        tu_sh("echo '== %s: node exit %d; requests:' >&2; sort %s | uniq -c >&2; tail -n 1 %s >&2", tag, rc, h.log, err);
        cr_assert_gt(count_lines(h.log, "GET /v1/work"), 0, "%s: the node never asked for work", tag);
        if (!cases[k].why) {
            cr_assert_eq(count_lines(h.log, "POST /v1/rounds/1/advert"), 1, "%s: the consenting node did not post", tag);
            continue;
        }
        cr_assert_eq(count_lines(h.log, "POST "), 0, "%s: the node posted to the hostile coordinator", tag);
        cr_assert_eq(rc, 1, "%s: the node should leave with exit 1, got %d", tag, rc);
        cr_assert_eq(tu_sh("tail -n 1 %s | grep -q '^gaitfed: .*%s'", err, cases[k].why), 0,
                     "%s: the last line should say why (see %s)", tag, err);
    }
}

/* Plausibility before sending (issue 13, finding 5, the node's side): a
 * consenting site whose store holds the synthetic cohort's angles in radians
 * (a unit mix-up) is asked the honest way for its statistics; it posts
 * nothing, exits 1 and names the channel and why (hip flexion SD ~17 deg is
 * ~0.3 rad). The same cohort in degrees
 * is the control: it posts. */
Test(consent, implausible_site_statistics_are_not_sent)
{
    const char *root = tu_dir();
    make_pki(root);
    const char *data = fed_data();
    cr_assert_eq(tu_sh("cd %s && %s -c \"import numpy as np, sys\n"
                       "for f in ('JM60', 'MF60'):\n"
                       "    z = dict(np.load('%s/Gait2Hip_' + f + '.npz'))\n"
                       "    z['X'] = (z['X'] * (np.pi / 180)).astype(np.float32)\n"
                       "    np.savez('rad_' + f + '.npz', **z)\n\" && "
                       "%s import --db rad.db --site radians --npz rad_MF60.npz --npz rad_JM60.npz > import.log 2>&1",
                       root, tu_python(), data, tu_bin()),
                 0, "making the store in radians failed (see %s/import.log)", root);
    const char *stores[] = {"rad.db", NULL};
    for (int k = 0; k < 2; k++) {
        char db[1200], tag[32], cfg[1300], err[1300];
        snprintf(db, sizeof db, "%s/rad.db", root);
        snprintf(tag, sizeof tag, "%s", stores[k] ? "radians" : "degrees");
        hostile h;
        hostile_start(&h, root, "global", tag);
        node_config_db(root, "pooling-clinic", tag, h.port, "global", stores[k] ? db : NULL, cfg, sizeof cfg);
        snprintf(err, sizeof err, "%s/%s.err", root, tag);
        int rc = run_node(&h, cfg, err);
        hostile_stop(&h);
        tu_sh("echo '== %s: node exit %d; requests:' >&2; sort %s | uniq -c >&2; tail -n 1 %s >&2", tag, rc, h.log, err);
        if (!stores[k]) {
            cr_assert_eq(count_lines(h.log, "POST /v1/rounds/1/advert"), 1, "control: the node in degrees did not post");
            continue;
        }
        cr_assert_eq(count_lines(h.log, "POST "), 0, "the node posted implausible statistics");
        cr_assert_eq(rc, 1, "exit %d", rc);
        cr_assert_eq(tu_sh("tail -n 1 %s | grep -q \"^gaitfed: pooling-clinic's input statistics (not sent): channel "
                           "hip_flexion_r: SD 0.[23].* deg is outside 0.5..85 deg (.*not degrees)\"", err),
                     0, "the last line should name the channel and why (see %s)", err);
    }
}

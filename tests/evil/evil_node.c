/* evil_node: a hospital node running modified code, for red-team tests of
 * what the coordinator and the other sites must withstand (issue 13). It is
 * `gaitfed node` with gf_node_tamper callbacks set from --attack:
 *
 *   evil_node --attack SPEC[,SPEC...] --config NODE.json [--max-rounds N] [--verbose]
 *
 *   none            honest (a control)
 *   scale:K         update *= K
 *   set:V           every update value = V (V may be nan, inf, 3e38)
 *   samples:N       claims N samples
 *   words:V         secure mode: every encoded word = round(V·scale), unclipped (saturated to int32)
 *   stats_x2:K      statistics session: every Σx² *= K
 *   forge_unmask:D  adds D (mod p) to chunk 0 of every self-mask-seed (b) share it reveals
 *
 * Built by `make test` as $(BUILD)/tests/evil_node; tests find it through
 * GF_EVIL. Never installed: the release binary has no such switches. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secagg_msg.h"
#include "crypto/shamir.h"
#include "node/node.h"

typedef struct {
    int scale_set, value_set, samples_set, words_set, stats_set, forge_set;
    double scale, value, words, stats_x2;
    long long samples;
    uint64_t forge;
} attack;

static void on_update(void *ctx, float *d, size_t L, int64_t *ns)
{
    const attack *a = ctx;
    for (size_t i = 0; i < L; i++) {
        if (a->scale_set) d[i] = (float)(d[i] * a->scale);
        if (a->value_set) d[i] = (float)a->value;
    }
    if (a->samples_set) *ns = a->samples;
}

static void on_statistics(void *ctx, int64_t *v, size_t n)
{
    const attack *a = ctx;
    size_t din = (n - 1) / 2;
    if (a->stats_set)
        for (size_t c = 0; c < din; c++) v[1 + din + c] = (int64_t)llround((double)v[1 + din + c] * a->stats_x2);
}

static void on_words(void *ctx, uint32_t *x, size_t L, double scale)
{
    const attack *a = ctx;
    if (!a->words_set) return;
    double q = fmax(-2147483647.0, fmin(2147483647.0, round(a->words * scale))); /* saturate: no wrap-around */
    uint32_t w = (uint32_t)(int32_t)q;
    for (size_t i = 0; i < L; i++) x[i] = w;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* UNMASK body: from u32 | count u32 | count × (about u32 | kind u8 | y[5] u64 LE). */
static void on_post(void *ctx, const char *path, uint8_t **body, size_t *len)
{
    const attack *a = ctx;
    if (!a->forge_set || !ends_with(path, "/unmask") || *len < GF_SA_HDR + 8) return;
    uint8_t *b = *body + GF_SA_HDR;
    uint32_t count = gf_sa_u32(b + 4);
    if (GF_SA_HDR + 8 + (size_t)count * GF_SA_UNMASK_ENTRY != *len) return;
    int forged = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = b + 8 + (size_t)i * GF_SA_UNMASK_ENTRY;
        if (e[4] != GF_SA_KIND_B) continue;
        uint64_t y = 0;
        for (int k = 0; k < 8; k++) y |= (uint64_t)e[5 + k] << (8 * k);
        y = (y + a->forge) % GF_SHAMIR_P;
        for (int k = 0; k < 8; k++) e[5 + k] = (uint8_t)(y >> (8 * k));
        forged++;
    }
    fprintf(stderr, "evil_node: forged %d self-mask-seed share(s) in %s\n", forged, path);
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static int parse_attack(const char *spec, attack *a)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        const char *arg = colon ? colon + 1 : "";
        if (colon) *colon = 0;
        char *end = NULL;
        double v = strtod(arg, &end);
        int num = *arg && !*end;
        if (!strcmp(t, "none")) continue;
        if (!num) return fprintf(stderr, "evil_node: attack '%s' needs a number\n", t), -1;
        if (!strcmp(t, "scale")) a->scale_set = 1, a->scale = v;
        else if (!strcmp(t, "set")) a->value_set = 1, a->value = v;
        else if (!strcmp(t, "samples")) a->samples_set = 1, a->samples = (long long)v;
        else if (!strcmp(t, "words")) a->words_set = 1, a->words = v;
        else if (!strcmp(t, "stats_x2")) a->stats_set = 1, a->stats_x2 = v;
        else if (!strcmp(t, "forge_unmask")) a->forge_set = 1, a->forge = (uint64_t)v;
        else return fprintf(stderr, "evil_node: unknown attack '%s'\n", t), -1;
    }
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

int main(int argc, char **argv)
{
    const char *spec = NULL, *config = NULL;
    long max_rounds = 0;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--attack") && i + 1 < argc) spec = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--max-rounds") && i + 1 < argc) max_rounds = atol(argv[++i]);
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else return fprintf(stderr, "usage: evil_node --attack SPEC --config F [--max-rounds N] [--verbose]\n"), 2;
    }
    attack a = {0};
    if (!spec || !config) return fprintf(stderr, "evil_node: --attack and --config are required\n"), 2;
    if (parse_attack(spec, &a)) return 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    gf_node_config cfg;
    gf_err e = gf_node_config_load(config, &cfg);
    if (e) return fprintf(stderr, "evil_node: %s\n", gf_errmsg()), 1;
    gf_node_tamper t = {.ctx = &a, .update = on_update, .statistics = on_statistics, .words = on_words, .post = on_post};
    gf_node_opts o = {.max_rounds = max_rounds, .verbose = verbose, .stop = &g_stop, .log = log_line, .tamper = &t};
    fprintf(stderr, "evil_node: attack %s\n", spec);
    e = gf_node_run(&cfg, &o);
    gf_node_config_free(&cfg);
    if (e) return fprintf(stderr, "node: %s\n", gf_errmsg()), 1;
    return 0;
}

/* libFuzzer target for the CA's index.json parser and, on the same bytes,
 * gf_trust_check_cert against a fixed CA created at start-up. Anything the
 * index parser accepts must dump and parse back to the same entries; a
 * certificate check must never crash and, if it passes, must name a known
 * role and a valid name (it cannot pass on fuzzed bytes without the CA key,
 * except on the seed certificate's own bytes, so that is all we assert). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/pki.h"
#include "crypto/pki_index.h"

static gf_trust *g_trust;
static char g_dir[64];

/* Removes the throw-away CA made at start-up. */
static void cleanup(void)
{
    static const char *const files[] = {"ca/ca.key", "ca/ca.pem", "ca/crl.pem", "ca/index.json", "ca/.lock", "ca", ""};
    char p[128];
    gf_trust_free(g_trust);
    for (int i = 0; i < 7; i++) { /* files first, then ca/, then the temporary directory */
        snprintf(p, sizeof p, "%s/%s", g_dir, files[i]);
        (void)remove(p);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char tmpl[] = "/tmp/fuzz-pki-XXXXXX";
    const char *d = mkdtemp(tmpl);
    char ca[256], pem[256];
    if (!d) abort();
    snprintf(g_dir, sizeof g_dir, "%s", d);
    atexit(cleanup);
    snprintf(ca, sizeof ca, "%s/ca", d);
    snprintf(pem, sizeof pem, "%s/ca/ca.pem", d);
    if (gf_pki_init(ca, "fuzznet", 0) || gf_trust_load(pem, NULL, &g_trust)) {
        fprintf(stderr, "fuzz_pki_index: setup: %s\n", gf_errmsg());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_pki_index a, b;
    if (gf_pki_index_parse("fuzz.json", data, size, &a) == GF_OK) {
        char *s;
        size_t n;
        if (gf_pki_index_dump(&a, &s, &n) != GF_OK) abort();
        if (gf_pki_index_parse("dump.json", (const uint8_t *)s, n, &b) != GF_OK) abort();
        if (b.n != a.n || b.crl_number != a.crl_number || strcmp(a.consortium, b.consortium) ||
            (a.n && memcmp(a.certs, b.certs, a.n * sizeof *a.certs)))
            abort();
        free(s);
        gf_pki_index_free(&a);
        gf_pki_index_free(&b);
    }
    gf_peer p;
    if (gf_trust_check_cert(g_trust, data, size, &p) == GF_OK) {
        if (p.role == GF_ROLE_NONE || !gf_name_valid(p.name)) abort();
    } else if (p.role != GF_ROLE_NONE || p.name[0]) {
        abort(); /* a rejected certificate leaves *out cleared */
    }
    return 0;
}

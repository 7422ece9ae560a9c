/* The repository stands alone: a clone with nothing beside it builds and
 * passes its tests, so no tracked file may point outside it at the reference
 * folder the project was started from. */
#include "tests/unit/testutil.h"

/* Spelled in two pieces so that this file does not match itself. */
#define OUTSIDE_DIR "../" "shared"

Test(repo, no_tracked_file_mentions_the_reference_folder)
{
    const char *d = tu_tmpdir();
    cr_assert(d);
    char out[2048];
    snprintf(out, sizeof out, "%s/hits", d);
    /* git grep: tracked files only; -I skips binaries (the .pt pickles). */
    int rc = tu_sh("cd '%s' && git ls-files --error-unmatch Makefile >/dev/null 2>&1", tu_root());
    if (rc != 0) cr_skip_test("not a git checkout (a source tarball): nothing tracked to check");
    rc = tu_sh("cd '%s' && git grep -n -I -F '%s' -- . > '%s'", tu_root(), OUTSIDE_DIR, out);
    char *hits = NULL;
    size_t n = 0;
    gf_read_file(out, 1 << 20, (unsigned char **)&hits, &n);
    cr_assert_eq(rc, 1, "tracked files mention %s (a fresh clone does not have it):\n%.*s", OUTSIDE_DIR, (int)n,
                 hits ? hits : "");
    free(hits);
    /* The same grep finds a file that does mention it (the check can fail). */
    char f[2048];
    snprintf(f, sizeof f, "%s/doc.md", d);
    FILE *fp = fopen(f, "w");
    cr_assert(fp);
    fprintf(fp, "see %s/DESIGN.md\n", OUTSIDE_DIR);
    fclose(fp);
    rc = tu_sh("cd '%s' && git grep --no-index -n -I -F '%s' -- . >/dev/null", d, OUTSIDE_DIR);
    cr_assert_eq(rc, 0, "git grep did not find the reference folder in a file that names it");
}

/* Includes that reach upward in docs/ARCHITECTURE.md's order (common → sites,
 * crypto → model → node → coordinator → cli; synth on sites, included only by
 * cli and tests), for a folder `dir`: the grep's
 * hits go to out; returns grep's status (1: none). */
static int upward_includes(const char *root, const char *dir, const char *forbidden, const char *out)
{
    return tu_sh("cd '%s' && grep -nE '#include \"(%s)/' %s/*.c %s/*.h > '%s'", root, forbidden, dir, dir, out);
}

Test(repo, no_include_reaches_upward)
{
    static const struct { const char *dir, *forbidden; } rules[] = {
        {"common", "sites|synth|crypto|model|node|coordinator|cli|tests"},
        {"sites", "synth|crypto|model|node|coordinator|cli|tests"},
        {"synth", "crypto|model|node|coordinator|cli|tests"},
        {"crypto", "synth|sites|model|node|coordinator|cli|tests"},
        {"model", "synth|crypto|node|coordinator|cli|tests"},
        {"node", "synth|coordinator|cli|tests"},
        {"coordinator", "synth|cli|tests"},
    };
    const char *d = tu_tmpdir();
    cr_assert(d);
    char out[2048];
    snprintf(out, sizeof out, "%s/hits", d);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int rc = upward_includes(tu_root(), rules[i].dir, rules[i].forbidden, out);
        char *hits = NULL;
        size_t n = 0;
        gf_read_file(out, 1 << 20, (unsigned char **)&hits, &n);
        cr_assert_eq(rc, 1, "%s/ includes a layer above it:\n%.*s", rules[i].dir, (int)n, hits ? hits : "");
        free(hits);
    }
    /* The check can fail: a node file that includes the coordinator is found. */
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/node", d);
    cr_assert_eq(tu_sh("mkdir -p '%s' && printf '#include \"coordinator/robust.h\"\\n' > '%s/x.c' && touch '%s/x.h'", dir,
                       dir, dir), 0);
    cr_assert_eq(upward_includes(d, "node", "coordinator|cli|tests", out), 0, "grep missed an upward include");
}

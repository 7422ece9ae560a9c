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

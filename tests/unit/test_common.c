#include <criterion/criterion.h>
#include <math.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rng.h"
#include "sites/dataset.h"
#include "sites/stats.h"
#include "tests/unit/testutil.h"

Test(rng, deterministic_and_derived_streams_differ)
{
    gf_rng a, b, c;
    gf_rng_seed(&a, 42);
    gf_rng_seed(&b, 42);
    gf_rng_derive(&c, 42, 1);
    for (int i = 0; i < 100; i++) cr_assert_eq(gf_rng_u64(&a), gf_rng_u64(&b));
    gf_rng_seed(&a, 42);
    int same = 0;
    for (int i = 0; i < 100; i++) same += gf_rng_u64(&a) == gf_rng_u64(&c);
    cr_assert_eq(same, 0);
}

Test(rng, normal_moments)
{
    gf_rng r;
    gf_rng_seed(&r, 7);
    double s = 0, ss = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) { double v = gf_rng_normal(&r); s += v; ss += v * v; }
    double m = s / n, var = ss / n - m * m;
    cr_assert(fabs(m) < 0.01, "mean %g", m);
    cr_assert(fabs(var - 1) < 0.02, "var %g", var);
    for (int i = 0; i < 1000; i++) cr_assert_lt(gf_rng_below(&r, 7), 7u);
}

Test(fileio, atomic_write_and_capped_read)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    char *p = gf_path_join(d, "a/b/c.bin");
    char *dir = gf_path_join(d, "a/b");
    cr_assert_eq(gf_mkdirs(dir, 0), GF_OK);
    cr_assert_eq(gf_write_file_atomic(p, "hello", 5), GF_OK);
    unsigned char *buf;
    size_t len;
    cr_assert_eq(gf_read_file(p, 5, &buf, &len), GF_OK);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    free(buf);
    cr_assert_eq(gf_read_file(p, 4, &buf, &len), GF_ERANGE);
    cr_assert(strstr(gf_errmsg(), "c.bin") != NULL, "message names the file: %s", gf_errmsg());
    char *missing = gf_path_join(d, "nope");
    cr_assert_eq(gf_read_file(missing, 10, &buf, &len), GF_ENOTFOUND);
    /* An aborted write leaves the old file intact and no temporary behind. */
    gf_atomic_file af;
    cr_assert_eq(gf_atomic_open(&af, p), GF_OK);
    fputs("partial", af.fp);
    gf_atomic_abort(&af);
    cr_assert_eq(gf_read_file(p, 100, &buf, &len), GF_OK);
    cr_assert_eq(len, 5);
    free(buf);
    cr_assert_eq(tu_sh("test $(ls %s | wc -l) -eq 1", dir), 0);
    /* A target in a missing directory: the message names the target, not the temporary. */
    char *nodir = gf_path_join(d, "missing/out.bin");
    cr_assert_eq(gf_atomic_open(&af, nodir), GF_EIO);
    cr_assert(strstr(gf_errmsg(), "missing/out.bin: cannot create") != NULL, "%s", gf_errmsg());
    free(nodir);
    free(p); free(dir); free(missing);
}

Test(stats, mean_and_population_sd)
{
    gf_dataset ds;
    cr_assert_eq(gf_dataset_alloc(&ds, 2, 0, 0), GF_OK);
    for (int i = 0; i < 2 * GF_T; i++)
        for (int c = 0; c < GF_DIN; c++) ds.x[i * GF_DIN + c] = (float)((i % 2) ? c + 1 : -(c + 1));
    gf_xstats st;
    cr_assert_eq(gf_xstats_compute(&ds, &st), GF_OK);
    for (int c = 0; c < GF_DIN; c++) {
        cr_assert(fabs(st.mean[c]) < 1e-12);
        cr_assert(fabs(st.sd[c] - (c + 1)) < 1e-9);
    }
    ds.x[3] = NAN;
    cr_assert_eq(gf_xstats_compute(&ds, &st), GF_ENUMERIC);
    gf_dataset_free(&ds);
}

/* A message quotes names from outside (a JSON "a\nb" is a newline): it stays
 * one line without control characters (the fuzz_config crash of session 6). */
Test(err, messages_are_one_line_without_control_characters)
{
    cr_assert_eq(gf_fail(GF_EIO, "%s: No such file or directory", "warm.safet\nsors\r\x1b[31mred\x7f"), GF_EIO);
    cr_assert_str_eq(gf_errmsg(), "warm.safet?sors??[31mred?: No such file or directory");
    gf_fail(GF_EINVAL, "plain %d", 7);
    cr_assert_str_eq(gf_errmsg(), "plain 7");
}

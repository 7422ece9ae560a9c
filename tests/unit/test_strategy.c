/* Server strategies against a numpy float64 recomputation of Reddi et al.'s
 * Algorithm 2, and the optimizer state surviving a save/restore (restart). */
#include <math.h>

#include "common/rng.h"
#include "coordinator/strategy.h"
#include "testutil.h"

#define N 4096
#define STEPS 6

static void run_kind(gf_fed_strategy kind, double lr)
{
    const char *d = tu_dir();
    char *in = tu_path(d, "in.f32"), *out = tu_path(d, "out.f32");
    static float theta[N], deltas[STEPS][N], restarted[N];
    gf_rng r;
    gf_rng_seed(&r, 7 + kind);
    for (int i = 0; i < N; i++) theta[i] = (float)(gf_rng_normal(&r) * 0.1);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++) /* a drifting mean plus noise, some exact zeros */
            deltas[s][i] = i % 97 == 0 ? 0.0f : (float)(0.01 * gf_rng_normal(&r) + 0.002 * (s + 1));
    FILE *f = fopen(in, "wb");
    cr_assert(f && fwrite(theta, 4, N, f) == N && fwrite(deltas, 4, (size_t)N * STEPS, f) == (size_t)N * STEPS);
    fclose(f);
    const double b1 = 0.9, b2 = 0.99, tau = 1e-3;
    gf_strategy s, s2;
    cr_assert_eq(gf_strategy_init(&s, kind, lr, b1, b2, tau, N), GF_OK, "%s", gf_errmsg());
    memcpy(restarted, theta, sizeof theta);
    for (int k = 0; k < STEPS; k++) cr_assert_eq(gf_strategy_step(&s, theta, deltas[k]), GF_OK);
    /* Same run with a save/restore after 3 steps, as a coordinator restart would. */
    cr_assert_eq(gf_strategy_init(&s2, kind, lr, b1, b2, tau, N), GF_OK);
    for (int k = 0; k < 3; k++) gf_strategy_step(&s2, restarted, deltas[k]);
    size_t sz = gf_strategy_state_size(&s2);
    uint8_t *blob = malloc(sz);
    gf_strategy_state_write(&s2, blob);
    gf_strategy_free(&s2);
    cr_assert_eq(gf_strategy_init(&s2, kind, lr, b1, b2, tau, N), GF_OK);
    cr_assert_eq(gf_strategy_state_read(&s2, blob, sz), GF_OK, "%s", gf_errmsg());
    for (int k = 3; k < STEPS; k++) gf_strategy_step(&s2, restarted, deltas[k]);
    cr_assert_eq(s2.step, STEPS);
    cr_assert_arr_eq(restarted, theta, sizeof theta, "restored state must continue bit-identically");
    free(blob);
    gf_strategy_free(&s2);
    gf_strategy_free(&s);

    cr_assert_eq(tu_sh("%s %s/tests/py/strategy_ref.py %s %d %d %g %g %g %g %s %s", tu_python(), tu_root(),
                       gf_fed_strategy_name(kind), N, STEPS, lr, b1, b2, tau, in, out),
                 0);
    float want[N];
    f = fopen(out, "rb");
    cr_assert(f && fread(want, 4, N, f) == N);
    fclose(f);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double err = fabs((double)theta[i] - want[i]) / (1e-3 + fabs(want[i]));
        if (err > worst) worst = err;
    }
    cr_assert_lt(worst, 1e-4, "%s: worst relative error %g", gf_fed_strategy_name(kind), worst);
    free(in);
    free(out);
}

Test(strategy, fedavg) { run_kind(GF_FED_FEDAVG, 1.0); }
Test(strategy, fedprox_server_lr) { run_kind(GF_FED_FEDPROX, 0.7); }
Test(strategy, fedadam) { run_kind(GF_FED_FEDADAM, 1e-2); }
Test(strategy, fedyogi) { run_kind(GF_FED_FEDYOGI, 1e-2); }
Test(strategy, fedadagrad) { run_kind(GF_FED_FEDADAGRAD, 1e-2); }

Test(strategy, refuses_bad_input)
{
    gf_strategy s;
    float theta[4] = {1, 2, 3, 4}, d[4] = {0, NAN, 0, 0}, before[4];
    memcpy(before, theta, sizeof theta);
    cr_assert_eq(gf_strategy_init(&s, GF_FED_FEDADAM, 0.01, 0.9, 0.99, 1e-3, 4), GF_OK);
    cr_assert_eq(gf_strategy_step(&s, theta, d), GF_ENUMERIC);
    cr_assert_arr_eq(theta, before, sizeof theta, "nothing changes on a non-finite update");
    cr_assert_eq(s.step, 0);
    uint8_t blob[64];
    gf_strategy_state_write(&s, blob);
    gf_strategy t;
    cr_assert_eq(gf_strategy_init(&t, GF_FED_FEDYOGI, 0.01, 0.9, 0.99, 1e-3, 4), GF_OK);
    cr_assert_eq(gf_strategy_state_read(&t, blob, gf_strategy_state_size(&s)), GF_EFORMAT, "another strategy's state");
    gf_strategy_free(&t);
    cr_assert_eq(gf_strategy_state_read(&s, blob, 20), GF_EFORMAT, "truncated");
    gf_strategy_free(&s);
    cr_assert_eq(gf_strategy_init(&s, GF_FED_FEDADAM, 0, 0.9, 0.99, 1e-3, 4), GF_EINVAL);
    cr_assert_eq(gf_strategy_init(&s, GF_FED_FEDADAM, 0.1, 1.0, 0.99, 1e-3, 4), GF_EINVAL);
}

/* FedProx in gf_train against PyTorch (tests/py/oracle_prox.py): 10 steps of
 * AdamW + clip_grad_norm_(0.5) on one batch with the proximal term
 * mu/2·‖θ − center‖² added to the loss before backward (mu 0.1, center = the
 * initial weights perturbed by N(0, 0.2²)); the MSE trajectory and every
 * final parameter tensor within rel 1e-4 (oracle_testutil.h's rel). Also:
 * the term changes the result (it matters at this mu), mu = 0 never reads the
 * center and is bit-identical to a config without FedProx, bad mu/center are
 * refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/trainer.h"
#include "oracle_testutil.h"

#define STEPS 10
#define NB 4
#define TT 20
#define TOL 1e-4

static const float HYPER[7] = {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, 0.5f, 0.1f}; /* lr b1 b2 eps wd clip mu */

static gf_model_config prox_cfg(void)
{
    gf_model_config c = gf_model_config_default(GF_ARCH_TRANSFORMER, 10, 3);
    c.d_model = 16; c.n_heads = 2; c.n_layers = 1; c.d_ff = 32; c.max_len = 32; c.dropout = 0;
    return c;
}

static gf_model *fresh(void)
{
    gf_model_config c = prox_cfg();
    gf_model *m;
    cr_assert_eq(gf_model_create(&c, &m), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_model_init(m, 31), GF_OK);
    m->threads = 1;
    return m;
}

static gf_train_config tcfg(float mu, const float *center)
{
    gf_train_config c = gf_train_defaults();
    c.max_epochs = STEPS; c.patience = 0; c.batch = NB; c.clip = HYPER[5]; c.seed = 3;
    c.opt.lr = HYPER[0]; c.opt.beta1 = HYPER[1]; c.opt.beta2 = HYPER[2]; c.opt.eps = HYPER[3];
    c.opt.weight_decay = HYPER[4];
    c.prox_mu = mu;
    c.prox_center = center;
    return c;
}

/* Trains a fresh model; traj[STEPS + 1] gets the epoch losses and the loss after. */
static gf_model *run(const float *x, const float *t, float mu, const float *center, double *traj)
{
    gf_model *m = fresh();
    gf_train_config c = tcfg(mu, center);
    gf_train_result r;
    cr_assert_eq(gf_train(m, x, t, NB, TT, NULL, NULL, 0, &c, &r), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(r.n_epochs, STEPS);
    for (int s = 0; s < STEPS; s++) traj[s] = r.train_loss[s]; /* one batch per epoch: the loss before step s */
    cr_assert_eq(gf_eval_loss(m, x, t, NB, TT, NB, &traj[STEPS]), GF_OK);
    gf_train_result_free(&r);
    return m;
}

Test(prox, fedprox_trajectory_matches_pytorch)
{
    float *x, *t;
    gf_model_config c = prox_cfg();
    ot_data(41, (size_t)NB * TT * c.d_in, (size_t)NB * TT * c.d_out, &x, &t);
    gf_model *m0 = fresh();
    size_t np = gf_arena_numel(&m0->params);
    float *center = malloc(np * sizeof *center);
    cr_assert(center);
    gf_arena_pack(&m0->params, center);
    gf_rng r;
    gf_rng_seed(&r, 43);
    for (size_t i = 0; i < np; i++) center[i] += (float)(0.2 * gf_rng_normal(&r));

    /* oracle input: initial weights, centre tensors, data, config */
    gf_arena cen;
    cr_assert_eq(gf_arena_clone_layout(&cen, &m0->params), GF_OK);
    gf_arena_unpack(&cen, center);
    int n_extra = cen.n + 4;
    gf_array *extra = calloc((size_t)n_extra, sizeof *extra);
    cr_assert(extra);
    for (int i = 0; i < cen.n; i++) {
        char name[160];
        snprintf(name, sizeof name, "center.%s", cen.t[i].name);
        extra[i] = ot_f32(name, cen.t[i].ndim, cen.t[i].shape, gf_arena_ptr(&cen, i));
    }
    int64_t sx[3] = {NB, TT, c.d_in}, sy[3] = {NB, TT, c.d_out}, s7[1] = {7};
    int64_t cv[8] = {c.d_in, c.d_out, c.d_model, c.n_heads, c.n_layers, c.d_ff, c.max_len, STEPS};
    extra[cen.n] = ot_f32("x", 3, sx, x);
    extra[cen.n + 1] = ot_f32("t", 3, sy, t);
    extra[cen.n + 2] = ot_i64("cfg", 8, cv);
    extra[cen.n + 3] = ot_f32("hyper", 1, s7, HYPER);
    gf_npz ref;
    ot_run_oracle("oracle_prox.py", &m0->params, extra, n_extra, &ref);
    free(extra);

    double traj[STEPS + 1], traj0[STEPS + 1];
    gf_model *m = run(x, t, HYPER[6], center, traj);
    const double *rl = ot_ref(&ref, "traj_loss", STEPS + 1)->data;
    double worst = 0;
    for (int s = 0; s <= STEPS; s++) {
        double e = fabs(traj[s] - rl[s]) / fabs(rl[s]);
        cr_expect(e <= TOL, "step %d: MSE %.9g, torch %.9g (rel %.3g)", s, traj[s], rl[s], e);
        worst = fmax(worst, e);
    }
    double wp = 0;
    for (int i = 0; i < m->params.n; i++) {
        char key[160];
        snprintf(key, sizeof key, "final.%s", m->params.t[i].name);
        size_t n = m->params.t[i].numel;
        double e = ot_rel_err(gf_arena_ptr(&m->params, i), ot_ref(&ref, key, (int64_t)n)->data, n);
        cr_expect(e <= TOL, "final %s rel %.3g > %g", m->params.t[i].name, e, TOL);
        wp = fmax(wp, e);
    }
    /* the term matters: it changes the update θ_final − θ_init by a large
     * fraction (not float noise) and pulls the parameters toward the center */
    gf_model *p = run(x, t, 0, NULL, traj0);
    float *fm = malloc(np * sizeof *fm), *fp = malloc(np * sizeof *fp), *f0 = malloc(np * sizeof *f0);
    cr_assert(fm && fp && f0);
    gf_arena_pack(&m->params, fm);
    gf_arena_pack(&p->params, fp);
    gf_arena_pack(&m0->params, f0);
    double dd = 0, d0 = 0, cm = 0, cp = 0;
    for (size_t k = 0; k < np; k++) {
        dd += pow((double)fm[k] - fp[k], 2);
        d0 += pow((double)fp[k] - f0[k], 2);
        cm += pow((double)fm[k] - center[k], 2);
        cp += pow((double)fp[k] - center[k], 2);
    }
    cr_expect(sqrt(dd) > 0.1 * sqrt(d0), "FedProx changed the update by only %g of its norm %g", sqrt(dd), sqrt(d0));
    cr_expect(cm < cp, "FedProx did not pull toward the center: %g vs %g without", sqrt(cm), sqrt(cp));
    cr_log_info("FedProx mu %g vs torch: MSE %.6g -> %.6g, worst loss rel %.2e, worst final param rel %.2e; "
                "update changed by %.3g of its norm; distance to center %.4g (mu 0: %.4g)", HYPER[6], traj[0],
                traj[STEPS], worst, wp, sqrt(dd / d0), sqrt(cm), sqrt(cp));
    free(fm); free(fp); free(f0);
    gf_model_free(p);
    gf_model_free(m);
    gf_model_free(m0);
    gf_arena_free(&cen);
    gf_npz_free(&ref);
    free(center); free(x); free(t);
}

Test(prox, mu_zero_is_bit_identical_and_ignores_the_center)
{
    float *x, *t;
    gf_model_config c = prox_cfg();
    ot_data(42, (size_t)NB * TT * c.d_in, (size_t)NB * TT * c.d_out, &x, &t);
    gf_model *a = fresh();
    size_t np = gf_arena_numel(&a->params);
    float *nan_center = malloc(np * sizeof *nan_center);
    cr_assert(nan_center);
    for (size_t i = 0; i < np; i++) nan_center[i] = NAN;
    double ta[STEPS + 1], tb[STEPS + 1];
    gf_model_free(a);
    a = run(x, t, 0, NULL, ta);
    gf_model *b = run(x, t, 0, nan_center, tb);
    cr_assert(!memcmp(a->params.data, b->params.data, a->params.size * sizeof(float)), "mu 0 changed the parameters");
    cr_assert(!memcmp(ta, tb, sizeof ta), "mu 0 changed the losses");
    /* argument errors */
    gf_train_config bad = tcfg(-0.1f, nan_center);
    gf_train_result r;
    cr_assert_eq(gf_train(b, x, t, NB, TT, NULL, NULL, 0, &bad, &r), GF_EINVAL);
    gf_train_result_free(&r);
    bad = tcfg(0.1f, NULL);
    cr_assert_eq(gf_train(b, x, t, NB, TT, NULL, NULL, 0, &bad, &r), GF_EINVAL);
    cr_assert(strstr(gf_errmsg(), "center"), "%s", gf_errmsg());
    gf_train_result_free(&r);
    bad = tcfg(NAN, nan_center);
    cr_assert_eq(gf_train(b, x, t, NB, TT, NULL, NULL, 0, &bad, &r), GF_EINVAL);
    gf_train_result_free(&r);
    gf_model_free(a); gf_model_free(b);
    free(nan_center); free(x); free(t);
}

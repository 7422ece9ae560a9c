/* 10-step training trajectory of LSTM and GRU against PyTorch: zero_grad,
 * forward (training mode, dropout 0), MSELoss, backward, clip_grad_norm_(0.5),
 * AdamW(lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-5) step, from the
 * same seeded weights and the same batch every step; then the loss after the
 * last step. Every one of the 11 losses must match tests/py/oracle_rnn.py's
 * to rel <= 1e-4 (|c - r| / |r|), against both its float64 and float32 runs.
 * Uses model/optim.h and model/loss.h. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/loss.h"
#include "model/optim.h"
#include "rnn_testutil.h"

#define TRAJ_TOL 1e-4
#define STEPS 10

static void traj_case(const rnn_case *c)
{
    gf_model *m = rnn_make(c);
    float *x, *t;
    rnn_data(c, &x, &t);
    const double optv[6] = {1e-3, 0.9, 0.999, 1e-8, 1e-5, 0.5};
    gf_npz ref;
    rnn_oracle(c, m, x, t, STEPS, optv, &ref); /* writes the initial weights */
    size_t ny = (size_t)c->B * c->T * c->d_out;
    float *y = malloc(ny * 4), *dy = malloc(ny * 4);
    cr_assert(y && dy);
    gf_adamw_config oc = gf_adamw_defaults();
    oc.lr = 1e-3f; oc.beta1 = 0.9f; oc.beta2 = 0.999f; oc.eps = 1e-8f; oc.weight_decay = 1e-5f;
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &m->params, &oc), GF_OK, "%s", gf_errmsg());
    double traj[STEPS + 1];
    for (int s = 0; s <= STEPS; s++) {
        gf_model_zero_grad(m);
        cr_assert_eq(gf_model_forward(m, x, y, s < STEPS, NULL), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_mse_forward(&traj[s], y, t, ny), GF_OK, "%s", gf_errmsg());
        if (s == STEPS) break;
        gf_mse_backward(dy, y, t, ny);
        cr_assert_eq(gf_model_backward(m, dy), GF_OK, "%s", gf_errmsg());
        float norm;
        cr_assert_eq(gf_clip_grad_norm(&m->grads, 0.5f, &norm), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(gf_adamw_step(&opt, &m->params, &m->grads), GF_OK, "%s", gf_errmsg());
    }
    const char *tags[2] = {"f64", "f32"};
    for (int p = 0; p < 2; p++) {
        char key[32];
        snprintf(key, sizeof key, "traj_%s", tags[p]);
        const double *r = rnn_ref(&ref, key, STEPS + 1)->data;
        double worst = 0;
        for (int s = 0; s <= STEPS; s++) {
            double e = fabs(traj[s] - r[s]) / fabs(r[s]);
            cr_expect(e <= TRAJ_TOL, "%s H%d vs %s: step %d loss %.8g, torch %.8g (rel %.3g)", gf_arch_name(c->arch),
                      c->H, tags[p], s, traj[s], r[s], e);
            if (e > worst) worst = e;
        }
        fprintf(stderr, "rnn trajectory %s H%d T%d B%d vs torch %s: loss %.6g -> %.6g, max rel %.2e\n",
                gf_arch_name(c->arch), c->H, c->T, c->B, tags[p], traj[0], traj[STEPS], worst);
    }
    cr_assert(traj[STEPS] < traj[0], "10 AdamW steps on one batch did not lower the loss");
    gf_adamw_free(&opt);
    gf_npz_free(&ref);
    free(x); free(t); free(y); free(dy);
    gf_model_free(m);
}

Test(rnn_traj, lstm_small) { rnn_case c = {GF_ARCH_LSTM, 10, 14, 16, 2, 3, 25, 0.0f, 21, 1}; traj_case(&c); }
Test(rnn_traj, gru_small) { rnn_case c = {GF_ARCH_GRU, 10, 14, 16, 2, 3, 25, 0.0f, 22, 1}; traj_case(&c); }
Test(rnn_traj, lstm_reference) { rnn_case c = {GF_ARCH_LSTM, 10, 14, 128, 2, 4, 180, 0.0f, 23, 2}; traj_case(&c); }
Test(rnn_traj, gru_reference) { rnn_case c = {GF_ARCH_GRU, 10, 3, 128, 2, 4, 180, 0.0f, 24, 2}; traj_case(&c); }

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
    double traj[STEPS + 1];
    ot_trajectory(m, x, t, (size_t)c->B * c->T * c->d_out, STEPS, traj);
    char what[64], desc[96];
    snprintf(what, sizeof what, "%s H%d", gf_arch_name(c->arch), c->H);
    snprintf(desc, sizeof desc, "rnn trajectory %s H%d T%d B%d", gf_arch_name(c->arch), c->H, c->T, c->B);
    ot_check_traj(&ref, traj, STEPS, TRAJ_TOL, what, desc);
    gf_npz_free(&ref);
    free(x); free(t);
    gf_model_free(m);
}

Test(rnn_traj, lstm_small) { rnn_case c = {GF_ARCH_LSTM, 10, 14, 16, 2, 3, 25, 0.0f, 21, 1}; traj_case(&c); }
Test(rnn_traj, gru_small) { rnn_case c = {GF_ARCH_GRU, 10, 14, 16, 2, 3, 25, 0.0f, 22, 1}; traj_case(&c); }
Test(rnn_traj, lstm_reference) { rnn_case c = {GF_ARCH_LSTM, 10, 14, 128, 2, 4, 180, 0.0f, 23, 2}; traj_case(&c); }
Test(rnn_traj, gru_reference) { rnn_case c = {GF_ARCH_GRU, 10, 3, 128, 2, 4, 180, 0.0f, 24, 2}; traj_case(&c); }

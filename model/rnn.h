/* Shared engine of the recurrent models: nn.LSTM / nn.GRU (batch_first,
 * num_layers, dropout between layers in training only) followed by a per-step
 * nn.Linear(hidden, d_out) named `fc`. model/lstm.c and model/gru.c hold the
 * two vtables; the architecture (m->cfg.arch) picks the cell. Parameters in
 * PyTorch state_dict order and names:
 *   {lstm|gru}.weight_ih_l{k} [G*H][in], .weight_hh_l{k} [G*H][H],
 *   .bias_ih_l{k} [G*H], .bias_hh_l{k} [G*H], fc.weight [d_out][H], fc.bias,
 * with G = 4 (i, f, g, o) for LSTM and 3 (r, z, n) for GRU. */
#ifndef GF_RNN_H
#define GF_RNN_H
#include "model/model.h"

gf_err gf_rnn_declare(gf_model *m);
gf_err gf_rnn_init(gf_model *m, gf_rng *rng);
gf_err gf_rnn_prepare(gf_model *m, int B, int T);
gf_err gf_rnn_forward(gf_model *m, const float *x, float *y, int train, gf_rng *rng);
gf_err gf_rnn_backward(gf_model *m, const float *dy);
void gf_rnn_release(gf_model *m);
size_t gf_rnn_act_bytes(const gf_model *m);

/* The vtable of both recurrent architectures (model/lstm.c, model/gru.c). */
#define GF_RNN_VT                           \
    {                                       \
        .declare = gf_rnn_declare,          \
        .init = gf_rnn_init,                \
        .prepare = gf_rnn_prepare,          \
        .forward = gf_rnn_forward,          \
        .backward = gf_rnn_backward,        \
        .release = gf_rnn_release,          \
        .act_bytes = gf_rnn_act_bytes,      \
    }

#endif

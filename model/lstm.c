/* nn.LSTM(d_in, hidden, num_layers, batch_first=True, dropout) + per-step
 * nn.Linear: the engine is model/rnn.c, the kernels model/ops_rnn.c. */
#include "model/rnn.h"

const gf_model_vt gf_lstm_vt = {
    .declare = gf_rnn_declare,
    .init = gf_rnn_init,
    .prepare = gf_rnn_prepare,
    .forward = gf_rnn_forward,
    .backward = gf_rnn_backward,
    .release = gf_rnn_release,
    .act_bytes = gf_rnn_act_bytes,
};

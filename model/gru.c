/* nn.GRU(d_in, hidden, num_layers, batch_first=True, dropout) + per-step
 * nn.Linear: the engine is model/rnn.c, the kernels model/ops_rnn.c. */
#include "model/rnn.h"

const gf_model_vt gf_gru_vt = GF_RNN_VT;

/* Which architectures are built in. Each arch file defines its table. */
#include "model/model.h"

extern const gf_model_vt gf_transformer_vt; /* model/transformer.c */
extern const gf_model_vt gf_lstm_vt;        /* model/lstm.c */
extern const gf_model_vt gf_gru_vt;         /* model/gru.c */
extern const gf_model_vt gf_tcn_vt;         /* model/tcn.c */

const gf_model_vt *gf_model_vt_for(gf_arch a)
{
    switch (a) {
    case GF_ARCH_TRANSFORMER:
        return &gf_transformer_vt;
    case GF_ARCH_LSTM:
        return &gf_lstm_vt;
    case GF_ARCH_GRU:
        return &gf_gru_vt;
    case GF_ARCH_TCN:
        return &gf_tcn_vt;
    default:
        return NULL;
    }
}

/* Which architectures are built in. Each arch file defines its table. */
#include "model/model.h"

extern const gf_model_vt gf_transformer_vt;

const gf_model_vt *gf_model_vt_for(gf_arch a)
{
    switch (a) {
    case GF_ARCH_TRANSFORMER:
        return &gf_transformer_vt;
    default:
        return NULL;
    }
}

/* Which architectures are built in. Each arch file defines its table. */
#include "model/model.h"

const gf_model_vt *gf_model_vt_for(gf_arch a)
{
    switch (a) {
    default:
        return NULL;
    }
}

/* AdamW with decoupled weight decay (torch.optim.AdamW semantics) and global
 * gradient-norm clipping (torch.nn.utils.clip_grad_norm_), as flat loops over
 * arenas of the parameter layout. */
#ifndef GF_OPTIM_H
#define GF_OPTIM_H
#include "common/err.h"
#include "model/arena.h"

typedef struct {
    float lr;            /* 1e-4 */
    float beta1, beta2;  /* 0.9, 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* 1e-5 */
} gf_adamw_config;

typedef struct {
    gf_adamw_config cfg;
    gf_arena m, v;       /* owned; layout of the parameters */
    long step;
} gf_adamw;

gf_adamw_config gf_adamw_defaults(void);
gf_err gf_adamw_init(gf_adamw *opt, const gf_arena *params, const gf_adamw_config *cfg);
/* One step: params -= update(grads). Fails (GF_ENUMERIC) on a non-finite gradient. */
gf_err gf_adamw_step(gf_adamw *opt, gf_arena *params, const gf_arena *grads);
void gf_adamw_free(gf_adamw *opt);

/* Scales grads so their global L2 norm is at most max_norm; *norm_out gets the
 * norm before clipping. Non-finite norm -> GF_ENUMERIC, grads untouched. */
gf_err gf_clip_grad_norm(gf_arena *grads, float max_norm, float *norm_out);

#endif

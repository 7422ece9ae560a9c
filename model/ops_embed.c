/* Learned position embedding: out[b,t,:] = inp[b,t,:] + pos[t,:]. */
#include "model/ops.h"

typedef struct {
    float *out, *dinp, *dpos;
    const float *inp, *pos, *dout;
    int B, T, C;
} pe_ctx;

static void pe_fwd(void *vc, int i0, int i1, int tid)
{
    (void)tid;
    pe_ctx *c = vc;
    for (int r = i0; r < i1; r++) {
        const float *x = c->inp + (size_t)r * c->C, *p = c->pos + (size_t)(r % c->T) * c->C;
        float *y = c->out + (size_t)r * c->C;
        for (int i = 0; i < c->C; i++) y[i] = x[i] + p[i];
    }
}

static void pe_bwd(void *vc, int t0, int t1, int tid)
{
    (void)tid;
    pe_ctx *c = vc;
    for (int t = t0; t < t1; t++) {
        float *dp = c->dpos + (size_t)t * c->C;
        for (int b = 0; b < c->B; b++) {
            size_t r = (size_t)b * c->T + t;
            const float *d = c->dout + r * c->C;
            for (int i = 0; i < c->C; i++) dp[i] += d[i];
            if (c->dinp) {
                float *dx = c->dinp + r * c->C;
                for (int i = 0; i < c->C; i++) dx[i] += d[i];
            }
        }
    }
}

void op_posembed_forward(float *out, const float *inp, const float *pos, int B, int T, int C,
                         gf_pool *pool)
{
    pe_ctx c = {.out = out, .inp = inp, .pos = pos, .B = B, .T = T, .C = C};
    gf_parallel_for(pool, B * T, pe_fwd, &c);
}

void op_posembed_backward(float *dinp, float *dpos, const float *dout, int B, int T, int C,
                          gf_pool *pool)
{
    pe_ctx c = {.dinp = dinp, .dpos = dpos, .dout = dout, .B = B, .T = T, .C = C};
    gf_parallel_for(pool, T, pe_bwd, &c);
}

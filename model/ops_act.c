/* Elementwise ops: ReLU, GELU (exact erf), residual add, inverted dropout.
 * Work is split in blocks of GF_DROP_BLOCK elements over the pool. */
#include <math.h>

#include "model/ops.h"
#include "model/vmath.h"

typedef struct {
    float *out, *dinp, *db;
    const float *a, *b, *dout, *mask;
    size_t n;
    float p;
    uint64_t seed;
    int kind;
} ew_ctx;

enum { RELU_F, RELU_B, GELU_F, GELU_B, RES_F, RES_B, DROP_F, DROP_B, DROP_M, DROP_MF, RES_DROP_B, RELU_DROP_B };

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/* mask[0..n) of elements base.. (n <= GF_DROP_BLOCK; a block never crosses
 * a multiple of 2^32, so the high counter bits are constant in it). */
GF_VEC static void drop_block(float *mask, int n, uint64_t seed, size_t base, float p)
{
    const uint64_t key = gf_drop_key(seed);
    const uint32_t klo = (uint32_t)key, khi = (uint32_t)(key >> 32) ^ ((uint32_t)((uint64_t)base >> 32) * 0x9e3779b9u);
    const uint32_t thr = gf_drop_threshold(p), lo = (uint32_t)base;
    const float scale = 1.0f / (1.0f - p);
    for (int j = 0; j < n; j++) mask[j] = gf_drop_bits2(klo, khi, lo + (uint32_t)j) < thr ? 0.0f : scale;
}

/* Elementwise kernels: restrict pointers and GF_VEC so each loop is
 * vectorized (AVX-512 / AVX2 / baseline clones). */
GF_VEC static void k_relu_f(float *restrict out, const float *restrict a, size_t n)
{
    /* NaN propagates, as in torch.relu, so a bad weight cannot hide behind a ReLU. */
    for (size_t i = 0; i < n; i++) out[i] = a[i] <= 0 ? 0.0f : a[i];
}
GF_VEC static void k_relu_b(float *restrict dinp, const float *restrict dout, const float *restrict a, size_t n)
{
    for (size_t i = 0; i < n; i++) dinp[i] += a[i] > 0 ? dout[i] : 0.0f;
}
GF_VEC static void k_acc_mul_acc(float *restrict da, float *restrict db, const float *restrict d,
                                  const float *restrict m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        da[i] += d[i];
        db[i] += d[i] * m[i];
    }
}
GF_VEC static void k_relu_drop_b(float *restrict dinp, const float *restrict dout, const float *restrict a,
                                  const float *restrict m, size_t n)
{
    for (size_t i = 0; i < n; i++) dinp[i] += a[i] > 0 ? dout[i] * m[i] : 0.0f;
}
GF_VEC static void k_add(float *restrict out, const float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
GF_VEC static void k_acc(float *restrict d, const float *restrict s, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] += s[i];
}
GF_VEC static void k_mul(float *restrict out, const float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
GF_VEC static void k_mul_acc(float *restrict d, const float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] += a[i] * b[i];
}

static void ew(void *vc, int k0, int k1, int tid)
{
    (void)tid;
    ew_ctx *c = vc;
    size_t i0 = (size_t)k0 * GF_DROP_BLOCK, i1 = (size_t)k1 * GF_DROP_BLOCK;
    if (i1 > c->n) i1 = c->n;
    size_t n = i1 - i0;
    switch (c->kind) {
    case RELU_F:
        k_relu_f(c->out + i0, c->a + i0, n);
        break;
    case RELU_B:
        k_relu_b(c->dinp + i0, c->dout + i0, c->a + i0, n);
        break;
    case GELU_F:
        for (size_t i = i0; i < i1; i++) {
            float x = c->a[i];
            c->out[i] = 0.5f * x * (1.0f + erff(x * (float)INV_SQRT2));
        }
        break;
    case GELU_B:
        for (size_t i = i0; i < i1; i++) {
            float x = c->a[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)INV_SQRT2));
            float pdf = (float)INV_SQRT_2PI * expf(-0.5f * x * x);
            c->dinp[i] += c->dout[i] * (cdf + x * pdf);
        }
        break;
    case RES_F:
        k_add(c->out + i0, c->a + i0, c->b + i0, n);
        break;
    case RES_B:
        /* da and db may be the same buffer (both branches of a residual). */
        if (c->dinp == c->db) {
            k_acc(c->dinp + i0, c->dout + i0, n);
            k_acc(c->dinp + i0, c->dout + i0, n);
        } else {
            k_acc(c->dinp + i0, c->dout + i0, n);
            k_acc(c->db + i0, c->dout + i0, n);
        }
        break;
    case DROP_F:
        k_mul(c->out + i0, c->a + i0, c->mask + i0, n);
        break;
    case DROP_B:
        k_mul_acc(c->dinp + i0, c->dout + i0, c->mask + i0, n);
        break;
    case DROP_M:
        for (size_t i = i0; i < i1; i += GF_DROP_BLOCK) {
            size_t j1 = i + GF_DROP_BLOCK < i1 ? i + GF_DROP_BLOCK : i1;
            drop_block(c->out + i, (int)(j1 - i), c->seed, i, c->p);
        }
        break;
    case DROP_MF: /* mask into c->db, then out = a * mask while the block is in cache */
        for (size_t i = i0; i < i1; i += GF_DROP_BLOCK) {
            size_t j1 = i + GF_DROP_BLOCK < i1 ? i + GF_DROP_BLOCK : i1;
            drop_block(c->db + i, (int)(j1 - i), c->seed, i, c->p);
            k_mul(c->out + i, c->a + i, c->db + i, j1 - i);
        }
        break;
    case RELU_DROP_B:
        k_relu_drop_b(c->dinp + i0, c->dout + i0, c->a + i0, c->mask + i0, n);
        break;
    case RES_DROP_B:
        k_acc_mul_acc(c->dinp + i0, c->db + i0, c->dout + i0, c->mask + i0, n);
        break;
    }
}

static void run(ew_ctx *c, gf_pool *pool)
{
    size_t blocks = (c->n + GF_DROP_BLOCK - 1) / GF_DROP_BLOCK;
    gf_parallel_for(pool, (int)blocks, ew, c);
}

void op_relu_forward(float *out, const float *inp, size_t n, gf_pool *pool)
{
    ew_ctx c = {.out = out, .a = inp, .n = n, .kind = RELU_F};
    run(&c, pool);
}

void op_relu_backward(float *dinp, const float *dout, const float *inp, size_t n, gf_pool *pool)
{
    ew_ctx c = {.dinp = dinp, .dout = dout, .a = inp, .n = n, .kind = RELU_B};
    run(&c, pool);
}

void op_gelu_forward(float *out, const float *inp, size_t n, gf_pool *pool)
{
    ew_ctx c = {.out = out, .a = inp, .n = n, .kind = GELU_F};
    run(&c, pool);
}

void op_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n, gf_pool *pool)
{
    ew_ctx c = {.dinp = dinp, .dout = dout, .a = inp, .n = n, .kind = GELU_B};
    run(&c, pool);
}

void op_residual_forward(float *out, const float *a, const float *b, size_t n, gf_pool *pool)
{
    ew_ctx c = {.out = out, .a = a, .b = b, .n = n, .kind = RES_F};
    run(&c, pool);
}

void op_residual_backward(float *da, float *db, const float *dout, size_t n, gf_pool *pool)
{
    ew_ctx c = {.dinp = da, .db = db, .dout = dout, .n = n, .kind = RES_B};
    run(&c, pool);
}

void op_dropout_mask(float *mask, size_t n, float p, uint64_t seed, gf_pool *pool)
{
    ew_ctx c = {.out = mask, .n = n, .p = p, .seed = seed, .kind = DROP_M};
    run(&c, pool);
}

void op_dropout_forward(float *out, const float *inp, const float *mask, size_t n, gf_pool *pool)
{
    ew_ctx c = {.out = out, .a = inp, .mask = mask, .n = n, .kind = DROP_F};
    run(&c, pool);
}

void op_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n, gf_pool *pool)
{
    ew_ctx c = {.dinp = dinp, .dout = dout, .mask = mask, .n = n, .kind = DROP_B};
    run(&c, pool);
}

void op_dropout_mask_forward(float *out, float *mask, const float *inp, size_t n, float p, uint64_t seed,
                             gf_pool *pool)
{
    ew_ctx c = {.out = out, .db = mask, .a = inp, .n = n, .p = p, .seed = seed, .kind = DROP_MF};
    run(&c, pool);
}

void op_residual_dropout_backward(float *da, float *db, const float *dout, const float *mask, size_t n,
                                  gf_pool *pool)
{
    ew_ctx c = {.dinp = da, .db = db, .dout = dout, .mask = mask, .n = n, .kind = RES_DROP_B};
    run(&c, pool);
}

void op_relu_dropout_backward(float *dinp, const float *dout, const float *inp, const float *mask, size_t n,
                              gf_pool *pool)
{
    ew_ctx c = {.dinp = dinp, .dout = dout, .a = inp, .mask = mask, .n = n, .kind = RELU_DROP_B};
    run(&c, pool);
}

int op_all_finite(const float *x, size_t n)
{
    /* A NaN or Inf makes the sum of x*0 NaN: one cheap pass, no branches. */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += x[i] * 0.0f;
    return acc == 0.0f;
}

/* AdamW and gradient-norm clipping matching PyTorch 1.13 (torch/optim/adamw.py,
 * _single_tensor_adamw; torch/nn/utils/clip_grad.py) in float32 arithmetic:
 *   p   <- p * (1 - lr*wd)                     scalar formed in double, cast to float
 *   m   <- m*beta1 + (1-beta1)*g
 *   v   <- v*beta2 + (1-beta2)*g*g
 *   step_size = lr / (1 - beta1^t)             double, as in Python
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p   <- p - step_size * m / denom
 * Every scalar torch computes in Python double is computed here in double
 * and rounded to float once, as torch does when it hands a Python number to
 * a float32 kernel. Padding floats of the arenas are zero in p, g, m and v
 * and stay zero (0 * x = 0; 0 / (0 + eps) = 0). */
#include "model/optim.h"

#include <math.h>
#include <string.h>

#include "model/vmath.h"

gf_adamw_config gf_adamw_defaults(void)
{
    gf_adamw_config c = {.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-5f};
    return c;
}

static gf_err check_config(const gf_adamw_config *c)
{
    if (!(c->lr >= 0 && isfinite(c->lr))) return gf_fail(GF_EINVAL, "AdamW: learning rate %g is not a finite value >= 0", c->lr);
    if (!(c->beta1 >= 0 && c->beta1 < 1)) return gf_fail(GF_EINVAL, "AdamW: beta1 %g outside [0, 1)", c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1)) return gf_fail(GF_EINVAL, "AdamW: beta2 %g outside [0, 1)", c->beta2);
    if (!(c->eps > 0 && isfinite(c->eps))) return gf_fail(GF_EINVAL, "AdamW: eps %g is not a finite value > 0", c->eps);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return gf_fail(GF_EINVAL, "AdamW: weight decay %g is not a finite value >= 0", c->weight_decay);
    return GF_OK;
}

gf_err gf_adamw_init(gf_adamw *opt, const gf_arena *params, const gf_adamw_config *cfg)
{
    memset(opt, 0, sizeof *opt);
    gf_adamw_config c = cfg ? *cfg : gf_adamw_defaults();
    GF_TRY(check_config(&c));
    if (!params->data) return gf_fail(GF_ESTATE, "AdamW: parameter arena not allocated");
    opt->cfg = c;
    gf_err e = gf_arena_clone_layout(&opt->m, params);
    if (!e) e = gf_arena_clone_layout(&opt->v, params);
    if (e) gf_adamw_free(opt);
    return e;
}

void gf_adamw_free(gf_adamw *opt)
{
    gf_arena_free(&opt->m);
    gf_arena_free(&opt->v);
    opt->step = 0;
}

/* Index of the tensor whose storage holds float index i (offsets ascend). */
static int tensor_at(const gf_arena *a, size_t i)
{
    for (int k = 0; k < a->n; k++)
        if (i >= a->t[k].offset && i < a->t[k].offset + a->t[k].numel) return k;
    return -1;
}

static gf_err nonfinite(const gf_arena *g, size_t i, const char *what)
{
    int k = tensor_at(g, i);
    if (k < 0) return gf_fail(GF_ENUMERIC, "%s: non-finite value %g in arena padding (float %zu)", what, g->data[i], i);
    return gf_fail(GF_ENUMERIC, "%s: gradient of %s is not finite (%g at element %zu)", what, g->t[k].name,
                   g->data[i], i - g->t[k].offset);
}

static gf_err same_layout(const gf_arena *a, const gf_arena *b, const char *what)
{
    if (!a->data || !b->data) return gf_fail(GF_ESTATE, "%s: arena not allocated", what);
    if (a->size != b->size || a->n != b->n) return gf_fail(GF_EINVAL, "%s: arenas of different layouts", what);
    return GF_OK;
}

/* The update, one flat vectorized loop (the same float operations in the
 * same order as torch's _single_tensor_adamw; no reassociation). sqrtf of
 * v >= 0 never sets errno, hence no-math-errno (which only lets the
 * compiler use the vector sqrt instruction). */
GF_VEC_NOERRNO static void adamw_loop(float *restrict p, float *restrict m, float *restrict v, const float *restrict g,
                                      size_t n, float decay, float fb1, float ob1, float fb2, float ob2, float bc2_sqrt,
                                      float eps, float neg_step)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] * fb1 + ob1 * gi;
        float vi = v[i] * fb2 + ob2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * (mi / denom);
    }
}

/* Sum of squares in double over 16 partial lanes (vectorized); also
 * returns whether every value is finite (x*0 == 0). */
GF_VEC static double sumsq_lanes(const float *restrict g, size_t n, int *finite)
{
    double acc[16] = {0};
    float fin[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) {
            double x = g[i + k];
            acc[k] += x * x;
            fin[k] += g[i + k] * 0.0f;
        }
    double s = 0;
    float f = 0;
    for (; i < n; i++) { s += (double)g[i] * g[i]; f += g[i] * 0.0f; }
    for (int k = 0; k < 16; k++) { s += acc[k]; f += fin[k]; }
    *finite = f == 0.0f;
    return s;
}

GF_VEC static void scale_loop(float *restrict g, size_t n, float coef)
{
    for (size_t i = 0; i < n; i++) g[i] *= coef;
}

gf_err gf_adamw_step(gf_adamw *opt, gf_arena *params, const gf_arena *grads)
{
    GF_TRY(same_layout(params, grads, "AdamW"));
    GF_TRY(same_layout(params, &opt->m, "AdamW"));
    const size_t n = params->size;
    const float *g = grads->data;
    int finite;
    (void)sumsq_lanes(g, n, &finite);
    if (!finite)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(g[i])) return nonfinite(grads, i, "AdamW");

    const long t = opt->step + 1;
    const double lr = opt->cfg.lr, wd = opt->cfg.weight_decay;
    const double b1 = opt->cfg.beta1, b2 = opt->cfg.beta2;
    const float decay = (float)(1.0 - lr * wd);
    const float fb1 = (float)b1, fb2 = (float)b2;
    const float ob1 = (float)(1.0 - b1), ob2 = (float)(1.0 - b2);
    const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    const float neg_step = (float)(-(lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = opt->cfg.eps;

    adamw_loop(params->data, opt->m.data, opt->v.data, g, n, decay, fb1, ob1, fb2, ob2, bc2_sqrt, eps, neg_step);
    opt->step = t;
    return GF_OK;
}

gf_err gf_clip_grad_norm(gf_arena *grads, float max_norm, float *norm_out)
{
    if (!grads->data) return gf_fail(GF_ESTATE, "clip_grad_norm: arena not allocated");
    if (!(max_norm > 0 && isfinite(max_norm))) return gf_fail(GF_EINVAL, "clip_grad_norm: max_norm %g is not a finite value > 0", max_norm);
    float *g = grads->data;
    const size_t n = grads->size;
    int finite;
    double ss = sumsq_lanes(g, n, &finite);
    if (!finite || !isfinite(ss)) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(g[i])) return nonfinite(grads, i, "clip_grad_norm");
        return gf_fail(GF_ENUMERIC, "clip_grad_norm: gradient norm is not finite");
    }
    const float norm = (float)sqrt(ss);
    if (!isfinite(norm)) return gf_fail(GF_ENUMERIC, "clip_grad_norm: gradient norm %g overflows float", sqrt(ss));
    if (norm_out) *norm_out = norm;
    const float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f) scale_loop(g, n, coef);
    return GF_OK;
}

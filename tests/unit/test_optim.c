/* AdamW, gradient clipping and MSE against Debian's python3-torch 1.13
 * (tests/py/optim_ref.py run by tu_python()). Tensors travel as .npz files
 * through sites/npz.h; only this test links both layers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rng.h"
#include "model/arena.h"
#include "model/loss.h"
#include "model/optim.h"
#include "sites/npz.h"
#include "tests/unit/testutil.h"

static void f32_array(gf_array *a, const char *name, int ndim, const int64_t *shape, const float *src)
{
    cr_assert_eq(gf_array_alloc(a, name, GF_DT_F32, 4, ndim, shape), GF_OK, "%s", gf_errmsg());
    memcpy(a->data, src, (size_t)a->count * sizeof(float));
}

static int run_ref(const char *mode, const char *in, const char *out)
{
    return tu_sh("%s %s/tests/py/optim_ref.py %s %s %s", tu_python(), tu_root(), mode, in, out);
}

/* Four tensors with different sizes (none a multiple of 16, so every one has
 * padding after it). */
static void make_arena(gf_arena *a)
{
    memset(a, 0, sizeof *a);
    static const struct { const char *name; int ndim; int64_t shape[4]; } T[] = {
        {"input_proj.weight", 2, {7, 5}},
        {"input_proj.bias", 1, {7}},
        {"encoder.layers.0.linear1.weight", 3, {3, 4, 2}},
        {"output_proj.bias", 1, {1}},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        cr_assert_eq(gf_arena_add(a, T[i].name, T[i].ndim, T[i].shape, NULL), GF_OK, "%s", gf_errmsg());
    cr_assert_eq(gf_arena_commit(a), GF_OK);
}

static void fill_normal(gf_arena *a, gf_rng *r, double scale)
{
    for (int k = 0; k < a->n; k++) {
        float *p = gf_arena_ptr(a, k);
        for (size_t i = 0; i < a->t[k].numel; i++) p[i] = (float)(scale * gf_rng_normal(r));
    }
}

static int padding_zero(const gf_arena *a)
{
    size_t next = 0;
    for (int k = 0; k <= a->n; k++) {
        size_t end = k < a->n ? a->t[k].offset : a->size;
        for (size_t i = next; i < end; i++)
            if (a->data[i] != 0.0f) return 0;
        if (k < a->n) next = a->t[k].offset + a->t[k].numel;
    }
    return 1;
}

#define STEPS 10

/* Runs STEPS of clip + AdamW in C and in torch from the same parameters and
 * gradients; every parameter after every step must agree. */
static void adamw_vs_torch(float lr, float wd, uint64_t seed)
{
    const char *dir = tu_dir();
    gf_arena p, g;
    make_arena(&p);
    cr_assert_eq(gf_arena_clone_layout(&g, &p), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, seed);
    fill_normal(&p, &r, 1.0);

    /* Gradient scales: some steps clip (norm > 0.5), some do not. */
    static const double gscale[STEPS] = {1.0, 0.01, 0.3, 0.002, 2.0, 0.05, 0.08, 1e-4, 0.5, 0.02};
    float *grads[STEPS];
    gf_array arr[4 * (STEPS + 1) + 1];
    int na = 0;
    char key[160];
    for (int k = 0; k < p.n; k++) {
        snprintf(key, sizeof key, "p__%s", p.t[k].name);
        f32_array(&arr[na++], key, p.t[k].ndim, p.t[k].shape, gf_arena_ptr(&p, k));
    }
    for (int s = 0; s < STEPS; s++) {
        fill_normal(&g, &r, gscale[s]);
        grads[s] = malloc(g.size * sizeof(float));
        cr_assert_not_null(grads[s]);
        memcpy(grads[s], g.data, g.size * sizeof(float));
        for (int k = 0; k < g.n; k++) {
            snprintf(key, sizeof key, "g%d__%s", s, g.t[k].name);
            f32_array(&arr[na++], key, g.t[k].ndim, g.t[k].shape, gf_arena_ptr(&g, k));
        }
    }
    /* Hyper-parameters as float32 values: gf_adamw_config stores floats, and
     * torch gets exactly the same numbers. */
    gf_adamw_config cfg = gf_adamw_defaults();
    cfg.lr = lr;
    cfg.weight_decay = wd;
    const float max_norm = 0.5f;
    float hp[7] = {cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, max_norm, STEPS};
    f32_array(&arr[na++], "hp", 1, (int64_t[]){7}, hp);
    char *in = tu_path(dir, "in.npz"), *out = tu_path(dir, "out.npz");
    cr_assert_eq(gf_npz_write(in, arr, na, 0), GF_OK, "%s", gf_errmsg());
    for (int i = 0; i < na; i++) gf_array_free(&arr[i]);
    cr_assert_eq(run_ref("adamw", in, out), 0, "torch reference failed");
    gf_npz ref;
    cr_assert_eq(gf_npz_read(out, &ref), GF_OK, "%s", gf_errmsg());

    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &p, &cfg), GF_OK, "%s", gf_errmsg());
    const gf_array *norms = gf_npz_get(&ref, "norm");
    cr_assert_not_null(norms);
    double max_rel = 0, max_norm_rel = 0;
    int clipped = 0;
    for (int s = 0; s < STEPS; s++) {
        memcpy(g.data, grads[s], g.size * sizeof(float));
        float norm;
        cr_assert_eq(gf_clip_grad_norm(&g, max_norm, &norm), GF_OK, "%s", gf_errmsg());
        double tn = ((const float *)norms->data)[s];
        double nrel = fabs(norm - tn) / tn;
        if (nrel > max_norm_rel) max_norm_rel = nrel;
        cr_assert(nrel <= 1e-6, "step %d: norm %.9g vs torch %.9g", s, norm, tn);
        clipped += norm > max_norm;
        cr_assert_eq(gf_adamw_step(&opt, &p, &g), GF_OK, "%s", gf_errmsg());
        cr_assert_eq(opt.step, s + 1);
        for (int k = 0; k < p.n; k++) {
            snprintf(key, sizeof key, "s%d__%s", s, p.t[k].name);
            const gf_array *a = gf_npz_get(&ref, key);
            cr_assert_not_null(a, "%s missing", key);
            cr_assert_eq((size_t)a->count, p.t[k].numel);
            const float *c = gf_arena_ptr(&p, k), *t = a->data;
            for (size_t i = 0; i < p.t[k].numel; i++) {
                /* Relative to |t|, floored at 1e-2 so values crossing zero do
                 * not divide by ~0 (parameters are N(0, 1)). */
                double rel = fabs((double)c[i] - t[i]) / fmax(fabs(t[i]), 1e-2);
                if (rel > max_rel) max_rel = rel;
                cr_assert(rel <= 1e-6, "step %d %s[%zu]: %.9g vs torch %.9g", s, p.t[k].name, i, c[i], t[i]);
            }
        }
        cr_assert(padding_zero(&p) && padding_zero(&opt.m) && padding_zero(&opt.v), "padding changed at step %d", s);
    }
    cr_assert(clipped >= 2 && clipped <= STEPS - 2, "clipping exercised on %d of %d steps", clipped, STEPS);
    fprintf(stderr, "optim: AdamW(lr %g, wd %g)+clip vs torch over %d steps: max rel error params %.3g, norms %.3g (%d steps clipped)\n",
            lr, wd, STEPS, max_rel, max_norm_rel, clipped);
    gf_npz_free(&ref);
    gf_adamw_free(&opt);
    for (int s = 0; s < STEPS; s++) free(grads[s]);
    gf_arena_free(&p);
    gf_arena_free(&g);
    free(in);
    free(out);
}

Test(optim, adamw_and_clip_match_torch) { adamw_vs_torch(1e-3f, 1e-5f, 1234); }
/* lr * wd = 1e-8 rounds 1 - lr*wd to 1.0f: in float32 (torch's too) that
 * weight decay is a no-op. A larger product makes the decay term observable. */
Test(optim, adamw_strong_decay_matches_torch) { adamw_vs_torch(1e-2f, 0.05f, 4321); }

/* First step by hand: m_hat = g, v_hat = g^2, so p1 = p0 (1 - lr wd) - lr g / (|g| + eps). */
Test(optim, adamw_first_step_by_hand)
{
    gf_arena p, g;
    memset(&p, 0, sizeof p);
    cr_assert_eq(gf_arena_add(&p, "w", 1, (int64_t[]){3}, NULL), GF_OK);
    cr_assert_eq(gf_arena_commit(&p), GF_OK);
    cr_assert_eq(gf_arena_clone_layout(&g, &p), GF_OK);
    p.data[0] = 1.0f; p.data[1] = -2.0f; p.data[2] = 0.5f;
    g.data[0] = 0.25f; g.data[1] = -4.0f; g.data[2] = 0.0f;
    gf_adamw_config cfg = gf_adamw_defaults();
    cfg.lr = 0.01f;
    cfg.weight_decay = 0.1f;
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &p, &cfg), GF_OK);
    cr_assert_eq(gf_adamw_step(&opt, &p, &g), GF_OK);
    double lr = cfg.lr, wd = cfg.weight_decay;
    double e0 = 1.0 * (1 - lr * wd) - lr * 0.25 / (0.25 + 1e-8);
    double e1 = -2.0 * (1 - lr * wd) + lr * 4.0 / (4.0 + 1e-8);
    double e2 = 0.5 * (1 - lr * wd);
    cr_assert_float_eq(p.data[0], e0, 1e-6);
    cr_assert_float_eq(p.data[1], e1, 1e-6);
    cr_assert_float_eq(p.data[2], e2, 1e-6);
    gf_adamw_free(&opt);
    gf_arena_free(&p);
    gf_arena_free(&g);
}

Test(optim, nonfinite_gradient_refused_arena_unchanged)
{
    gf_arena p, g;
    make_arena(&p);
    cr_assert_eq(gf_arena_clone_layout(&g, &p), GF_OK);
    gf_rng r;
    gf_rng_seed(&r, 99);
    fill_normal(&p, &r, 1.0);
    fill_normal(&g, &r, 0.1);
    gf_adamw opt;
    cr_assert_eq(gf_adamw_init(&opt, &p, NULL), GF_OK);
    cr_assert_eq(gf_adamw_step(&opt, &p, &g), GF_OK); /* m, v non-zero */

    size_t bytes = p.size * sizeof(float);
    float *p0 = malloc(bytes), *m0 = malloc(bytes), *v0 = malloc(bytes), *g0 = malloc(bytes);
    cr_assert(p0 && m0 && v0 && g0);
    int k = gf_arena_find(&g, "encoder.layers.0.linear1.weight");
    cr_assert_geq(k, 0);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        gf_arena_ptr(&g, k)[5] = bad[b];
        memcpy(p0, p.data, bytes); memcpy(m0, opt.m.data, bytes); memcpy(v0, opt.v.data, bytes);
        memcpy(g0, g.data, bytes);
        gf_errclear();
        cr_assert_eq(gf_adamw_step(&opt, &p, &g), GF_ENUMERIC);
        cr_assert(strstr(gf_errmsg(), "encoder.layers.0.linear1.weight"), "message: %s", gf_errmsg());
        cr_assert(strstr(gf_errmsg(), "element 5"), "message: %s", gf_errmsg());
        cr_assert_eq(opt.step, 1);
        cr_assert(!memcmp(p0, p.data, bytes) && !memcmp(m0, opt.m.data, bytes) && !memcmp(v0, opt.v.data, bytes));

        float norm = -1;
        gf_errclear();
        cr_assert_eq(gf_clip_grad_norm(&g, 0.5f, &norm), GF_ENUMERIC);
        cr_assert(strstr(gf_errmsg(), "encoder.layers.0.linear1.weight"), "message: %s", gf_errmsg());
        cr_assert_eq(norm, -1.0f);
        cr_assert(!memcmp(g0, g.data, bytes), "grads touched by a refused clip");
    }
    /* The first non-finite tensor is named when there are several. */
    gf_arena_ptr(&g, gf_arena_find(&g, "input_proj.bias"))[0] = NAN;
    cr_assert_eq(gf_clip_grad_norm(&g, 0.5f, NULL), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "input_proj.bias"), "message: %s", gf_errmsg());
    free(p0); free(m0); free(v0); free(g0);
    gf_adamw_free(&opt);
    gf_arena_free(&p);
    gf_arena_free(&g);
}

Test(optim, clip_below_max_norm_leaves_grads)
{
    gf_arena g;
    memset(&g, 0, sizeof g);
    cr_assert_eq(gf_arena_add(&g, "a", 1, (int64_t[]){2}, NULL), GF_OK);
    cr_assert_eq(gf_arena_add(&g, "b", 1, (int64_t[]){1}, NULL), GF_OK);
    cr_assert_eq(gf_arena_commit(&g), GF_OK);
    gf_arena_ptr(&g, 0)[0] = 3; gf_arena_ptr(&g, 0)[1] = 0; gf_arena_ptr(&g, 1)[0] = 4;
    float norm;
    cr_assert_eq(gf_clip_grad_norm(&g, 10.0f, &norm), GF_OK);
    cr_assert_eq(norm, 5.0f);
    cr_assert_eq(gf_arena_ptr(&g, 0)[0], 3.0f);
    cr_assert_eq(gf_arena_ptr(&g, 1)[0], 4.0f);
    cr_assert_eq(gf_clip_grad_norm(&g, 1.0f, &norm), GF_OK);
    cr_assert_eq(norm, 5.0f);
    cr_assert_float_eq(gf_arena_ptr(&g, 0)[0], 3.0 / (5 + 1e-6), 1e-7);
    cr_assert_float_eq(gf_arena_ptr(&g, 1)[0], 4.0 / (5 + 1e-6), 1e-7);
    cr_assert_eq(gf_clip_grad_norm(&g, 0.0f, &norm), GF_EINVAL);
    gf_arena_free(&g);
}

Test(optim, mse_matches_torch)
{
    const char *dir = tu_dir();
    enum { N = 3 * 180 * 14 + 7 };
    float *y = malloc(N * sizeof(float)), *t = malloc(N * sizeof(float)), *dy = malloc(N * sizeof(float));
    cr_assert(y && t && dy);
    gf_rng r;
    gf_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        t[i] = (float)(5 * gf_rng_normal(&r));
        y[i] = t[i] + (float)(1.3 * gf_rng_normal(&r) + 0.2);
    }
    gf_array arr[2];
    f32_array(&arr[0], "y", 1, (int64_t[]){N}, y);
    f32_array(&arr[1], "t", 1, (int64_t[]){N}, t);
    char *in = tu_path(dir, "mse_in.npz"), *out = tu_path(dir, "mse_out.npz");
    cr_assert_eq(gf_npz_write(in, arr, 2, 0), GF_OK, "%s", gf_errmsg());
    gf_array_free(&arr[0]);
    gf_array_free(&arr[1]);
    cr_assert_eq(run_ref("mse", in, out), 0, "torch reference failed");
    gf_npz ref;
    cr_assert_eq(gf_npz_read(out, &ref), GF_OK, "%s", gf_errmsg());
    const gf_array *rl = gf_npz_get(&ref, "loss"), *rdy = gf_npz_get(&ref, "dy");
    cr_assert(rl && rdy && rdy->count == N);

    double loss;
    cr_assert_eq(gf_mse_forward(&loss, y, t, N), GF_OK);
    double tl = ((const double *)rl->data)[0];
    double lrel = fabs(loss - tl) / tl;
    cr_assert(lrel <= 1e-6, "loss %.10g vs torch %.10g", loss, tl);
    gf_mse_backward(dy, y, t, N);
    double grel = 0;
    for (int i = 0; i < N; i++) {
        float e = ((const float *)rdy->data)[i];
        double rel = fabs((double)dy[i] - e) / fmax(fabs(e), 1e-12);
        if (rel > grel) grel = rel;
        cr_assert(rel <= 1e-6, "dy[%d] %.9g vs torch %.9g", i, dy[i], e);
    }
    fprintf(stderr, "optim: MSE vs torch: loss rel error %.3g, gradient max rel error %.3g\n", lrel, grel);

    y[17] = NAN;
    cr_assert_eq(gf_mse_forward(&loss, y, t, N), GF_ENUMERIC);
    cr_assert(strstr(gf_errmsg(), "17"), "message: %s", gf_errmsg());
    y[17] = 0;
    t[3] = INFINITY;
    cr_assert_eq(gf_mse_forward(&loss, y, t, N), GF_ENUMERIC);
    cr_assert_eq(gf_mse_forward(&loss, y, t, 0), GF_EINVAL);
    gf_npz_free(&ref);
    free(y); free(t); free(dy); free(in); free(out);
}

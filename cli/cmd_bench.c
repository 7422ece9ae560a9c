/* gaitfed bench: benchmarks that print figures measured in this run (no
 * thresholds here; the bench/ scripts compare against baselines measured in the same
 * run and print ratios).
 *
 * gaitfed bench train: full training steps (forward in train mode with the
 * configured dropout, MSE, backward, global-norm clip 0.5, AdamW lr 1e-4 wd
 * 1e-5) of a reference model (gf_model_config_default, d_in 10, d_out 14) on
 * random data of shape (batch, T, 10) -> (batch, T, 14). Warm-up steps are not
 * timed. Prints the time per step and its phases, the model FLOPs per step
 * (analytic, see model_flops), the single-precision GEMM peak of this machine
 * measured with the same thread count, the fraction of it the step reaches,
 * peak RSS against the arena sizes, and last `train_seq_per_s=<float>`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "cli/cli.h"
#include "common/rng.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optim.h"
#include "model/parallel.h"

static const char *USAGE =
    "gaitfed bench train --model transformer|lstm|gru|tcn [--batch 64] [--steps N (20)] [--warmup N (2)]\n"
    "                    [--threads T] [--len T (180)] [--seed N] [--no-peak]";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Model FLOPs of one training step (forward + backward), counting matrix
 * products only (2 M N K each; elementwise work, softmax, LayerNorm and the
 * optimizer are not counted). Every forward product Y = X Wᵀ has two backward
 * products of the same size (dX = dY W, dW = dYᵀ X), so a step is 3× the
 * forward products, minus the dX of the first layer (the input needs no
 * gradient). With N = B·T rows:
 *   Transformer: forward = 2N(d_in D + d_out D) + L [2N(3D² + D² + 2 D F)
 *                + 2·2 B T² D (QKᵀ and P V over all heads)]; backward of the
 *                attention core is 4 products (dV, dP, dQ, dK) = 2× forward.
 *   LSTM/GRU:    forward = Σ_l 2N G H (in_l + H) + 2N H d_out, G = 4 or 3
 *                (input and recurrent projections of every step).
 *   TCN:         forward = Σ_blocks 2N k (C_in C + C C) (+ 2N d_in C for the
 *                1×1 downsample of the first block) + 2N C d_out.
 * Returns the step FLOPs; *fwd gets the forward part. */
static double model_flops(const gf_model_config *c, int B, int T, double *fwd)
{
    double N = (double)B * T, D = c->d_model, din = c->d_in, dout = c->d_out, f = 0, first_dx = 0;
    switch (c->arch) {
    case GF_ARCH_TRANSFORMER:
        f = 2 * N * (din * D + dout * D) +
            c->n_layers * (2 * N * (4 * D * D + 2 * D * c->d_ff) + 4.0 * B * (double)T * T * D);
        first_dx = 2 * N * din * D;
        break;
    case GF_ARCH_LSTM:
    case GF_ARCH_GRU: {
        double G = c->arch == GF_ARCH_LSTM ? 4 : 3;
        for (int l = 0; l < c->n_layers; l++) f += 2 * N * G * D * ((l ? D : din) + D);
        f += 2 * N * D * dout;
        first_dx = 2 * N * G * D * din;
        break;
    }
    case GF_ARCH_TCN:
        for (int l = 0; l < c->n_layers; l++) f += 2 * N * c->kernel * ((l ? D : din) * D + D * D);
        f += 2 * N * din * D + 2 * N * D * dout;
        first_dx = 2 * N * c->kernel * din * D + 2 * N * din * D;
        break;
    }
    *fwd = f;
    return 3 * f - first_dx;
}

/* ---- single-precision GEMM peak: C = A B, n×n, rows split over the pool,
 * one single-threaded sgemm per worker (the engine's own threading). ---- */
typedef struct { const float *a, *b; float *c; int n; } gemm_job;

static void gemm_rows(void *vc, int r0, int r1, int tid)
{
    (void)tid;
    const gemm_job *j = vc;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, j->n, j->n, 1.0f, j->a + (size_t)r0 * j->n, j->n,
                j->b, j->n, 0.0f, j->c + (size_t)r0 * j->n, j->n);
}

static gf_err gemm_peak(int threads, int n, int reps, double *gflops)
{
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    gf_pool *pool = NULL;
    gf_err e = (!a || !b || !c) ? gf_fail(GF_ENOMEM, "bench: out of memory for the GEMM peak") : GF_OK;
    if (!e) e = gf_pool_create(threads, &pool);
    if (!e) {
        gf_blas_set_threads(1);
        gf_rng r;
        gf_rng_seed(&r, 1);
        for (size_t i = 0; i < nn; i++) { a[i] = (float)gf_rng_uniform(&r) - 0.5f; b[i] = (float)gf_rng_uniform(&r) - 0.5f; }
        gemm_job j = {a, b, c, n};
        gf_parallel_for(pool, n, gemm_rows, &j); /* warm-up */
        double best = 1e30;
        for (int k = 0; k < reps; k++) {
            double t0 = now_s();
            gf_parallel_for(pool, n, gemm_rows, &j);
            double dt = now_s() - t0;
            best = dt < best ? dt : best;
        }
        *gflops = 2.0 * n * (double)n * n / best * 1e-9;
    }
    gf_pool_free(pool);
    free(a);
    free(b);
    free(c);
    return e;
}

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static int bench_train(int argc, char **argv)
{
    const char *model_s = NULL, *batch_s = "64", *steps_s = "20", *warm_s = "2", *threads_s = NULL, *len_s = "180",
               *seed_s = "0", *nopeak = NULL;
    cli_opt opts[] = {{"--model", 1, &model_s}, {"--batch", 1, &batch_s}, {"--steps", 1, &steps_s},
                      {"--warmup", 1, &warm_s}, {"--threads", 1, &threads_s}, {"--len", 1, &len_s},
                      {"--seed", 1, &seed_s},   {"--no-peak", 0, &nopeak}};
    int rc = cli_parse("bench train", USAGE, argc, argv, opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL);
    if (rc) return rc;
    if (!model_s) return cli_usage("bench train", USAGE, "--model is required");
    gf_arch arch;
    if (gf_arch_parse(model_s, &arch)) return cli_usage("bench train", USAGE, "%s", gf_errmsg());
    long B, steps, warm, threads = 1, T, seed;
    if ((rc = cli_long("bench train", USAGE, "--batch", batch_s, 1, 4096, &B))) return rc;
    if ((rc = cli_long("bench train", USAGE, "--steps", steps_s, 1, 1000000, &steps))) return rc;
    if ((rc = cli_long("bench train", USAGE, "--warmup", warm_s, 0, 1000, &warm))) return rc;
    if (threads_s && (rc = cli_long("bench train", USAGE, "--threads", threads_s, 1, 256, &threads))) return rc;
    if ((rc = cli_long("bench train", USAGE, "--len", len_s, 1, 500, &T))) return rc;
    if ((rc = cli_long("bench train", USAGE, "--seed", seed_s, 0, 0x7fffffffL, &seed))) return rc;

    const int din = 10, dout = 14;
    gf_model_config cfg = gf_model_config_default(arch, din, dout);
    gf_model *m = NULL;
    gf_adamw opt;
    memset(&opt, 0, sizeof opt);
    int opt_ok = 0;
    size_t nx = (size_t)B * T * din, ny = (size_t)B * T * dout;
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *p = malloc(ny * sizeof *p),
          *dy = malloc(ny * sizeof *dy);
    gf_err e = (!x || !y || !p || !dy) ? gf_fail(GF_ENOMEM, "bench: out of memory") : GF_OK;
    if (!e) e = gf_model_create(&cfg, &m);
    if (!e) {
        m->threads = (int)threads;
        e = gf_model_init(m, (uint64_t)seed);
    }
    if (!e) e = gf_model_prepare(m, (int)B, (int)T);
    if (!e) e = gf_adamw_init(&opt, &m->params, NULL);
    opt_ok = !e;
    gf_rng r, drop;
    gf_rng_seed(&r, (uint64_t)seed + 1);
    gf_rng_derive(&drop, (uint64_t)seed, 0x64726f70ull);
    for (size_t i = 0; !e && i < nx; i++) x[i] = (float)gf_rng_normal(&r);
    for (size_t i = 0; !e && i < ny; i++) y[i] = (float)gf_rng_normal(&r);

    double t_fwd = 0, t_bwd = 0, t_opt = 0, t_total = 0, best = 1e30, loss = 0;
    for (long s = 0; !e && s < warm + steps; s++) {
        double t0 = now_s();
        gf_model_zero_grad(m);
        e = gf_model_forward(m, x, p, 1, &drop);
        if (!e) e = gf_mse_forward(&loss, p, y, ny);
        double t1 = now_s();
        if (!e) {
            gf_mse_backward(dy, p, y, ny);
            e = gf_model_backward(m, dy);
        }
        double t2 = now_s();
        float norm;
        if (!e) e = gf_clip_grad_norm(&m->grads, 0.5f, &norm);
        if (!e) e = gf_adamw_step(&opt, &m->params, &m->grads);
        double t3 = now_s();
        if (s >= warm) {
            t_fwd += t1 - t0;
            t_bwd += t2 - t1;
            t_opt += t3 - t2;
            t_total += t3 - t0;
            best = t3 - t0 < best ? t3 - t0 : best;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_rss = ru.ru_maxrss / 1024.0; /* KiB on Linux */
    size_t pbytes = m ? m->params.size * sizeof(float) : 0, gbytes = m ? m->grads.size * sizeof(float) : 0;
    size_t obytes = opt_ok ? (opt.m.size + opt.v.size) * sizeof(float) : 0, abytes = m ? gf_model_act_bytes(m) : 0;
    double peak = 0;
    if (!e && !nopeak) e = gemm_peak((int)threads, 2048, 3, &peak);
    if (!e) {
        double ff, flops = model_flops(&cfg, (int)B, (int)T, &ff);
        double per = t_total / steps, sps = B * steps / t_total, gfs = flops / per * 1e-9;
        printf("bench train: %s (d_model %d, %d layers, dropout %g), batch %ld, length %ld, %ld threads, "
               "%ld warm-up + %ld timed steps\n",
               gf_arch_name(arch), cfg.d_model, cfg.n_layers, (double)cfg.dropout, B, T, threads, warm, steps);
        printf("steps=%ld seconds=%.4f\n", steps, t_total);
        printf("ms_per_step=%.2f best_ms=%.2f (forward+loss %.2f, backward %.2f, clip+AdamW %.2f)\n", per * 1e3,
               best * 1e3, t_fwd / steps * 1e3, t_bwd / steps * 1e3, t_opt / steps * 1e3);
        printf("flops_per_step=%.4g (forward %.4g; GEMM FLOPs: 3x forward minus the input gradient)\n", flops, ff);
        printf("achieved_gflops=%.2f\n", gfs);
        if (!nopeak)
            printf("gemm_peak_gflops=%.2f (sgemm 2048^3, %ld threads) peak_fraction=%.3f\n", peak, threads,
                   gfs / peak);
        printf("peak_rss_mib=%.1f arenas_mib: params %.2f, grads %.2f, adamw_mv %.2f, activations %.2f, total %.2f\n",
               peak_rss, mib(pbytes), mib(gbytes), mib(obytes), mib(abytes), mib(pbytes + gbytes + obytes + abytes));
        printf("final_loss=%.6g\n", loss);
        printf("train_seq_per_s=%.2f\n", sps);
    }
    if (opt_ok) gf_adamw_free(&opt);
    gf_model_free(m);
    free(x);
    free(y);
    free(p);
    free(dy);
    return e ? cli_fail(e) : 0;
}

int cmd_bench(int argc, char **argv)
{
    static const char *TOP = "gaitfed bench train|secagg|federation ...   (gaitfed bench train --help)";
    if (argc < 2) return cli_usage("bench", TOP, "expected a benchmark: train, secagg, federation");
    if (!strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "secagg")) return bench_secagg(argc - 1, argv + 1);
    if (!strcmp(argv[1], "federation")) return bench_federation(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: %s\n", TOP);
        return 0;
    }
    return cli_usage("bench", TOP, "unknown benchmark '%s' (available: train, secagg, federation)", argv[1]);
}

#include "model/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

struct gf_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;   /* incremented per dispatch */
    int pending;         /* workers still running the current dispatch */
    int quit;
    gf_par_fn fn;
    void *ctx;
    int n;
};

typedef struct { gf_pool *p; int k; } worker_arg;

static void run_chunk(gf_pool *p, int k)
{
    long n = p->n, P = p->threads;
    int i0 = (int)(n * k / P), i1 = (int)(n * (k + 1) / P);
    if (i1 > i0) p->fn(p->ctx, i0, i1, k);
}

static void *worker(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    gf_pool *p = wa.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        run_chunk(p, wa.k);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

gf_err gf_pool_create(int threads, gf_pool **out)
{
    *out = NULL;
    if (threads < 1 || threads > 256) return gf_fail(GF_EINVAL, "thread pool: %d threads outside [1, 256]", threads);
    gf_pool *p = calloc(1, sizeof *p);
    if (!p) return gf_fail(GF_ENOMEM, "out of memory creating a thread pool");
    p->threads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->tids = calloc((size_t)threads, sizeof *p->tids);
        if (!p->tids) { gf_pool_free(p); return gf_fail(GF_ENOMEM, "out of memory creating a thread pool"); }
        for (int k = 1; k < threads; k++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) { gf_pool_free(p); return gf_fail(GF_ENOMEM, "out of memory creating a thread pool"); }
            wa->p = p;
            wa->k = k;
            if (pthread_create(&p->tids[k], NULL, worker, wa)) {
                free(wa);
                gf_pool_free(p);
                return gf_fail(GF_ENOMEM, "thread pool: cannot start thread %d of %d", k, threads);
            }
            p->threads = k + 1;
        }
    }
    *out = p;
    return GF_OK;
}

void gf_pool_free(gf_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int k = 1; k < p->threads; k++) pthread_join(p->tids[k], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p->tids);
    free(p);
}

int gf_pool_threads(const gf_pool *p) { return p ? p->threads : 1; }

void gf_parallel_for(gf_pool *p, int n, gf_par_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (!p || p->threads == 1 || n < 2) { fn(ctx, 0, n, 0); return; }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->pending = p->threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void gf_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

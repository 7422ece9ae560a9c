/* A small pthread pool for the model engine's own parallel loops, and the
 * OpenBLAS thread setting.
 *
 * Threading policy: OpenBLAS is kept at ONE thread and the
 * engine splits every large GEMM into row (or column) blocks over this pool,
 * each block a single-threaded cblas_sgemm. OpenBLAS's own threads (which
 * busy-wait after each call) therefore never compete with the pool's. */
#ifndef GF_PARALLEL_H
#define GF_PARALLEL_H
#include "common/err.h"

/* Runs items [i0, i1) on worker tid (0 <= tid < threads; 0 is the caller). */
typedef void (*gf_par_fn)(void *ctx, int i0, int i1, int tid);

typedef struct gf_pool gf_pool;

/* threads >= 1; threads - 1 pthreads are started (none for 1). */
gf_err gf_pool_create(int threads, gf_pool **out);
void gf_pool_free(gf_pool *p);
/* 1 for a NULL pool. */
int gf_pool_threads(const gf_pool *p);
/* Splits [0, n) into gf_pool_threads(p) contiguous static chunks (chunk k is
 * [n*k/P, n*(k+1)/P) and runs on worker k); returns when all are done. A NULL
 * pool, or n < 2, runs fn(ctx, 0, n, 0) on the caller. Not reentrant: fn must
 * not call gf_parallel_for on the same pool. */
void gf_parallel_for(gf_pool *p, int n, gf_par_fn fn, void *ctx);

/* openblas_set_num_threads(n) (n >= 1). */
void gf_blas_set_threads(int n);

#endif

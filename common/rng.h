/* Deterministic PRNG for synthetic data and seeded splits (not for secrets:
 * crypto/ uses RAND_bytes). xoshiro256** seeded through splitmix64. */
#ifndef GF_RNG_H
#define GF_RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } gf_rng;

void gf_rng_seed(gf_rng *r, uint64_t seed);
/* Independent stream derived from (seed, stream id): same inputs, same stream. */
void gf_rng_derive(gf_rng *r, uint64_t seed, uint64_t stream);
uint64_t gf_rng_u64(gf_rng *r);
double gf_rng_uniform(gf_rng *r);              /* [0, 1) */
double gf_rng_normal(gf_rng *r);               /* N(0, 1) */
double gf_rng_range(gf_rng *r, double lo, double hi);
uint64_t gf_rng_below(gf_rng *r, uint64_t n);  /* [0, n), unbiased */

#endif

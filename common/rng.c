#include "common/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gf_rng_seed(gf_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

void gf_rng_derive(gf_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    gf_rng_seed(r, splitmix64(&x));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gf_rng_u64(gf_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gf_rng_uniform(gf_rng *r) { return (gf_rng_u64(r) >> 11) * 0x1.0p-53; }

double gf_rng_normal(gf_rng *r)
{
    /* Box-Muller, one value per call: simple and reproducible. */
    double u1 = gf_rng_uniform(r), u2 = gf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

double gf_rng_range(gf_rng *r, double lo, double hi) { return lo + (hi - lo) * gf_rng_uniform(r); }

uint64_t gf_rng_below(gf_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, v;
    do v = gf_rng_u64(r); while (v >= lim);
    return v % n;
}

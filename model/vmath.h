/* Vectorizable float math shared by the model kernels (header-only).
 *
 * GF_VEC marks a hot loop function: GCC builds it for AVX-512, AVX2 and
 * baseline x86-64 and picks one at load time (target_clones), with the loop
 * vectorizer on even at -O2. No -ffast-math anywhere: fexp's rounding trick
 * relies on strict IEEE evaluation.
 *
 * fexp: exp by Cody-Waite reduction and the Cephes degree-6 polynomial,
 * branch-free, accurate to a few float32 ulps over [-87, 88] (clamped
 * outside; NaN passes through). Compared with libm in the ops tests and,
 * through whole models, with PyTorch in the oracle tests.
 *
 * gf_drop_bits: counter-based dropout randomness. Element i of a mask with
 * 64-bit key k draws the 32-bit value gf_drop_bits(k, i) (two keyed rounds
 * of MurmurHash3's fmix32 finalizer) and is dropped iff it is below
 * p * 2^32. Pure function of (key, i): any split of the elements over
 * threads gives the same mask, and a mask can be regenerated instead of
 * stored. Not for secrets. */
#ifndef GF_VMATH_H
#define GF_VMATH_H
#include <math.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GF_VEC __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#define GF_VEC_NOERRNO \
    __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize", "no-math-errno")))
#else
#define GF_VEC
#define GF_VEC_NOERRNO
#endif

static inline float fexp(float x0)
{
    /* Clamped so that the integer conversion below is always defined (a NaN
     * becomes -87 here and is restored at the end). */
    float x = x0 > -87.0f ? x0 : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    union { uint32_t i; float f; } u;
    u.i = (uint32_t)((int32_t)n + 127) << 23;
    return x0 != x0 ? x0 : e * u.f;
}

static inline uint32_t gf_fmix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

/* lo = low 32 bits of i; hi_key = (uint32_t)(key >> 32) ^ (high 32 bits of i) * odd constant. */
static inline uint32_t gf_drop_bits2(uint32_t key_lo, uint32_t hi_key, uint32_t lo)
{
    return gf_fmix32(gf_fmix32(lo + key_lo) ^ hi_key);
}

static inline uint32_t gf_drop_bits(uint64_t key, uint64_t i)
{
    return gf_drop_bits2((uint32_t)key, (uint32_t)(key >> 32) ^ ((uint32_t)(i >> 32) * 0x9e3779b9u), (uint32_t)i);
}

/* Threshold for drop probability p in [0, 1): dropped iff bits < threshold. */
static inline uint32_t gf_drop_threshold(float p)
{
    double t = (double)p * 4294967296.0;
    return t >= 4294967295.0 ? 0xffffffffu : (uint32_t)t;
}

/* The key of a mask from a 64-bit seed (seeds that differ in any bit give
 * unrelated keys). */
static inline uint64_t gf_drop_key(uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif

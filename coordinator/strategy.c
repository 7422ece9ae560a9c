#include "coordinator/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int adaptive(gf_fed_strategy k) { return k == GF_FED_FEDADAM || k == GF_FED_FEDYOGI || k == GF_FED_FEDADAGRAD; }

gf_err gf_strategy_init(gf_strategy *s, gf_fed_strategy kind, double server_lr, double beta1, double beta2,
                        double tau, size_t n)
{
    memset(s, 0, sizeof *s);
    if (kind > GF_FED_FEDADAGRAD || !(server_lr > 0) || !(tau > 0) || beta1 < 0 || beta1 >= 1 || beta2 < 0 ||
        beta2 >= 1 || !n)
        return gf_fail(GF_EINVAL, "strategy: bad parameters (server_lr %g, beta1 %g, beta2 %g, tau %g, n %zu)",
                       server_lr, beta1, beta2, tau, n);
    *s = (gf_strategy){.kind = kind, .server_lr = server_lr, .beta1 = beta1, .beta2 = beta2, .tau = tau, .n = n};
    if (adaptive(kind)) {
        s->m = calloc(n, sizeof *s->m);
        s->v = malloc(n * sizeof *s->v);
        if (!s->m || !s->v) {
            gf_strategy_free(s);
            return gf_fail(GF_ENOMEM, "strategy: out of memory for %zu parameters", n);
        }
        for (size_t i = 0; i < n; i++) s->v[i] = (float)(tau * tau);
    }
    return GF_OK;
}

void gf_strategy_free(gf_strategy *s)
{
    if (!s) return;
    free(s->m);
    free(s->v);
    s->m = s->v = NULL;
}

gf_err gf_strategy_step(gf_strategy *s, float *theta, const float *delta)
{
    for (size_t i = 0; i < s->n; i++)
        if (!isfinite(delta[i])) return gf_fail(GF_ENUMERIC, "strategy: aggregated update[%zu] is not finite", i);
    const float eta = (float)s->server_lr;
    if (!adaptive(s->kind)) {
        for (size_t i = 0; i < s->n; i++) theta[i] += eta * delta[i];
    } else {
        const float b1 = (float)s->beta1, b2 = (float)s->beta2, tau = (float)s->tau;
        for (size_t i = 0; i < s->n; i++) {
            float d = delta[i], d2 = d * d, v = s->v[i];
            switch (s->kind) {
            case GF_FED_FEDADAGRAD: v = v + d2; break;
            case GF_FED_FEDADAM: v = b2 * v + (1 - b2) * d2; break;
            default: v = v - (1 - b2) * d2 * (float)((v > d2) - (v < d2)); break; /* Yogi */
            }
            s->v[i] = v;
            s->m[i] = b1 * s->m[i] + (1 - b1) * d;
            theta[i] += eta * s->m[i] / (sqrtf(v) + tau);
        }
    }
    s->step++;
    return GF_OK;
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint32_t get32(const uint8_t *p) { uint32_t v = 0; for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << 8 * i; return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << 8 * i; return v; }

#define HDR 28

size_t gf_strategy_state_size(const gf_strategy *s) { return HDR + (adaptive(s->kind) ? 8 * s->n : 0); }

void gf_strategy_state_write(const gf_strategy *s, uint8_t *out)
{
    memcpy(out, "GFST", 4);
    put32(out + 4, 1);
    put32(out + 8, (uint32_t)s->kind);
    put64(out + 12, s->n);
    put64(out + 20, s->step);
    if (adaptive(s->kind)) { /* float32 LE: the hosts we build for are little-endian (see crypto/maskgen.c) */
        memcpy(out + HDR, s->m, 4 * s->n);
        memcpy(out + HDR + 4 * s->n, s->v, 4 * s->n);
    }
}

gf_err gf_strategy_state_read(gf_strategy *s, const uint8_t *b, size_t len)
{
    if (len < HDR || memcmp(b, "GFST", 4) || get32(b + 4) != 1)
        return gf_fail(GF_EFORMAT, "strategy state: bad header");
    if (get32(b + 8) != (uint32_t)s->kind || get64(b + 12) != s->n)
        return gf_fail(GF_EFORMAT, "strategy state: written for another strategy or model size");
    if (len != gf_strategy_state_size(s)) return gf_fail(GF_EFORMAT, "strategy state: %zu bytes, expected %zu", len,
                                                         gf_strategy_state_size(s));
    if (adaptive(s->kind)) {
        memcpy(s->m, b + HDR, 4 * s->n);
        memcpy(s->v, b + HDR + 4 * s->n, 4 * s->n);
        for (size_t i = 0; i < s->n; i++)
            if (!isfinite(s->m[i]) || !isfinite(s->v[i]) || s->v[i] < 0)
                return gf_fail(GF_EFORMAT, "strategy state: value %zu is not valid", i);
    }
    s->step = get64(b + 20);
    return GF_OK;
}

/* The recurrent-model cases of test_rnn.c and test_rnn_traj.c on top of
 * oracle_testutil.h (which defines rel(c, r)): seeded models and data, and
 * tests/py/oracle_rnn.py. */
#ifndef GF_RNN_TESTUTIL_H
#define GF_RNN_TESTUTIL_H
#include "oracle_testutil.h"

typedef struct {
    gf_arch arch;
    int d_in, d_out, H, L, B, T;
    float dropout;
    uint64_t seed;
    int threads; /* engine workers (0 means 1) */
} rnn_case;

static inline gf_model *rnn_make(const rnn_case *c)
{
    gf_model_config cfg = gf_model_config_default(c->arch, c->d_in, c->d_out);
    cfg.d_model = c->H;
    cfg.n_layers = c->L;
    cfg.dropout = c->dropout;
    return ot_make(&cfg, c->seed, c->threads, c->B, c->T);
}

static inline void rnn_data(const rnn_case *c, float **x, float **t)
{
    ot_data(c->seed, (size_t)c->B * c->T * c->d_in, (size_t)c->B * c->T * c->d_out, x, t);
}

/* Writes the oracle input (see tests/py/oracle_rnn.py) and runs the oracle;
 * the reference npz is left in *ref. */
static inline void rnn_oracle(const rnn_case *c, const gf_model *m, const float *x, const float *t, int steps,
                              const double opt[6], gf_npz *ref)
{
    int64_t sx[3] = {c->B, c->T, c->d_in}, sy[3] = {c->B, c->T, c->d_out};
    int64_t cfgv[6] = {c->arch == GF_ARCH_GRU, c->d_in, c->d_out, c->H, c->L, steps};
    gf_array extra[4] = {ot_f32("x", 3, sx, x), ot_f32("t", 3, sy, t), ot_i64("cfg", 6, cfgv), ot_f64("opt", 6, opt)};
    ot_run_oracle("oracle_rnn.py", &m->params, extra, 4, ref);
}

#endif

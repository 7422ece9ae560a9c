/* Temporal convolution network (model/tcn.c; the vtable is gf_tcn_vt). */
#ifndef GF_TCN_H
#define GF_TCN_H
#include <stdint.h>
#include "model/model.h"

/* Test hook: a 64-bit hash (FNV-1a) of the ReLU activity pattern (which
 * conv outputs were > 0) of the last forward of a TCN, 0 for another
 * architecture or before any forward. The model is piecewise smooth in its
 * parameters with kinks exactly where this pattern changes, so
 * finite-difference tests use it to discard steps that cross a kink
 * (tests/unit/test_tcn_fd.c). */
uint64_t gf_tcn_relu_signature(const gf_model *m);

#endif

/* The Gait2Hip-60 split protocol (README `gaitfed train`) on plain
 * per-cycle subject-id strings: a seeded subject-wise hold-out and k-fold
 * group-by-subject cross-validation. Every cycle of a subject lands on the
 * same side of every split. Subjects are first sorted by id (strcmp), then
 * permuted with the seeded PRNG, so the result depends on the set of ids and
 * the seed only, never on the order of the cycles. */
#ifndef GF_PROTOCOL_H
#define GF_PROTOCOL_H
#include <stdint.h>
#include "common/err.h"

/* Hold-out: n_test = round(frac * S) subjects of the S distinct ids (at least
 * 1 and at most S - 1; S >= 2 and 0 < frac < 1 required) are test subjects.
 * is_test[n] receives 1 for the cycles of test subjects, 0 otherwise.
 * *n_test_subjects (may be NULL) receives n_test. 60 subjects, 0.2 -> 12. */
gf_err gf_split_holdout(const char *const *ids, int n, double frac, uint64_t seed, unsigned char *is_test,
                        int *n_test_subjects);

/* Hold-out of named subjects: is_test[i] = 1 for the cycles whose id is one
 * of names[0..n_names). Every name must occur in ids (GF_ENOTFOUND naming the
 * first that does not), no name twice, and at least one subject must remain
 * in the pool. *n_test_subjects (may be NULL) receives n_names. */
gf_err gf_split_named(const char *const *ids, int n, const char *const *names, int n_names, unsigned char *is_test,
                      int *n_test_subjects);

/* k-fold by subject over the cycles with use[i] != 0 (use NULL: all cycles):
 * the S distinct ids among them are permuted and subject j of the permutation
 * goes to fold j % k, so fold sizes (in subjects) differ by at most one.
 * fold[n] receives the fold (0..k-1) of used cycles and -1 for the others.
 * 2 <= k <= S required. */
gf_err gf_split_kfold(const char *const *ids, int n, const unsigned char *use, int k, uint64_t seed, int *fold);

/* Median of n >= 1 integers (the two middle values of an even count are
 * averaged and rounded half up); sorts v in place. 0 when n < 1. */
int gf_median_int(int *v, int n);

#endif

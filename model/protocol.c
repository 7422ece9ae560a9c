#include "model/protocol.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

typedef struct {
    const char *id;
    int group;  /* assigned group of the subject */
} subj;

static int cmp_subj(const void *a, const void *b) { return strcmp(((const subj *)a)->id, ((const subj *)b)->id); }
static int cmp_idp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Distinct ids among the used cycles, sorted, then permuted with rng (NULL:
 * left sorted). *out malloc'd (borrowed strings). */
static gf_err distinct_shuffled(const char *const *ids, int n, const unsigned char *use, gf_rng *rng, subj **out,
                                int *ns)
{
    *out = NULL;
    *ns = 0;
    if (n < 0) return gf_fail(GF_EINVAL, "split: %d cycles", n);
    const char **tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    subj *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!tmp || !s) { free(tmp); free(s); return gf_fail(GF_ENOMEM, "split: out of memory"); }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (use && !use[i]) continue;
        if (!ids[i] || !ids[i][0]) { free(tmp); free(s); return gf_fail(GF_EINVAL, "split: cycle %d has no subject id", i); }
        tmp[m++] = ids[i];
    }
    qsort(tmp, (size_t)m, sizeof *tmp, cmp_idp);
    int k = 0;
    for (int i = 0; i < m; i++)
        if (!k || strcmp(s[k - 1].id, tmp[i])) s[k++] = (subj){tmp[i], -1};
    free(tmp);
    for (int i = k - 1; rng && i > 0; i--) { /* Fisher-Yates */
        int j = (int)gf_rng_below(rng, (uint64_t)i + 1);
        subj t = s[i]; s[i] = s[j]; s[j] = t;
    }
    *out = s;
    *ns = k;
    return GF_OK;
}

/* Group of cycle id via binary search on a copy sorted by id. */
static int group_of(const subj *sorted, int ns, const char *id)
{
    subj key = {id, 0};
    const subj *f = bsearch(&key, sorted, (size_t)ns, sizeof *sorted, cmp_subj);
    return f ? f->group : -1;
}

gf_err gf_split_holdout(const char *const *ids, int n, double frac, uint64_t seed, unsigned char *is_test,
                        int *n_test_subjects)
{
    if (!(frac > 0 && frac < 1)) return gf_fail(GF_EINVAL, "hold-out: fraction %g outside (0, 1)", frac);
    gf_rng r;
    gf_rng_derive(&r, seed, 0x686f6c646f7574ull); /* "holdout" */
    subj *s;
    int ns;
    GF_TRY(distinct_shuffled(ids, n, NULL, &r, &s, &ns));
    if (ns < 2) { free(s); return gf_fail(GF_EINVAL, "hold-out: needs at least 2 subjects, the data has %d", ns); }
    int nt = (int)floor(frac * ns + 0.5);
    if (nt < 1) nt = 1;
    if (nt > ns - 1) nt = ns - 1;
    for (int j = 0; j < ns; j++) s[j].group = j < nt;
    qsort(s, (size_t)ns, sizeof *s, cmp_subj);
    for (int i = 0; i < n; i++) is_test[i] = (unsigned char)group_of(s, ns, ids[i]);
    free(s);
    if (n_test_subjects) *n_test_subjects = nt;
    return GF_OK;
}

gf_err gf_split_named(const char *const *ids, int n, const char *const *names, int n_names, unsigned char *is_test,
                      int *n_test_subjects)
{
    if (n_names < 1) return gf_fail(GF_EINVAL, "no subject named");
    subj *s;
    int ns;
    GF_TRY(distinct_shuffled(ids, n, NULL, NULL, &s, &ns)); /* sorted by id */
    gf_err e = GF_OK;
    for (int k = 0; k < n_names && !e; k++) {
        subj key = {names[k], 0};
        subj *f = names[k] ? bsearch(&key, s, (size_t)ns, sizeof *s, cmp_subj) : NULL;
        if (!f) e = gf_fail(GF_ENOTFOUND, "subject '%s' is not in the data", names[k] ? names[k] : "");
        else if (f->group == 1) e = gf_fail(GF_EINVAL, "subject '%s' named twice", names[k]);
        else f->group = 1;
    }
    if (!e && n_names >= ns)
        e = gf_fail(GF_EINVAL, "all %d subjects of the data are named; none is left to train on", ns);
    for (int i = 0; !e && i < n; i++) is_test[i] = group_of(s, ns, ids[i]) == 1;
    free(s);
    if (!e && n_test_subjects) *n_test_subjects = n_names;
    return e;
}

gf_err gf_split_kfold(const char *const *ids, int n, const unsigned char *use, int k, uint64_t seed, int *fold)
{
    if (k < 2) return gf_fail(GF_EINVAL, "cross-validation: %d folds (at least 2)", k);
    gf_rng r;
    gf_rng_derive(&r, seed, 0x6b666f6c64ull); /* "kfold" */
    subj *s;
    int ns;
    GF_TRY(distinct_shuffled(ids, n, use, &r, &s, &ns));
    if (k > ns) { free(s); return gf_fail(GF_EINVAL, "cross-validation: %d folds but only %d subjects", k, ns); }
    for (int j = 0; j < ns; j++) s[j].group = j % k;
    qsort(s, (size_t)ns, sizeof *s, cmp_subj);
    for (int i = 0; i < n; i++) fold[i] = (use && !use[i]) ? -1 : group_of(s, ns, ids[i]);
    free(s);
    return GF_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int gf_median_int(int *v, int n)
{
    if (n < 1) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    return n % 2 ? v[n / 2] : (int)(((long)v[n / 2 - 1] + v[n / 2] + 1) / 2);
}

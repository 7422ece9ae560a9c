/* The synthetic world against the real one: the published Gait2Hip-60
 * Transformers (model/pretrained, trained by the benchmark's authors on the
 * real 60 subjects) must recognise the synthetic healthy cohort. They are a
 * check only: nothing in synth/ reads them (docs/SYNTHETIC.md "Calibration"). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/testutil.h"

/* Subject-level mean R² of `gaitfed eval --norm model` of a published model on
 * a file; NAN when eval fails. */
static double published_r2(const char *dir, const char *model, const char *file)
{
    char out[1200];
    snprintf(out, sizeof out, "%s/eval-%s.json", dir, model);
    if (tu_sh("'%s' eval --model '%s/model/pretrained/%s.safetensors' --data '%s/%s' --norm model > '%s' 2>&1",
              tu_bin(), tu_root(), model, dir, file, out) != 0)
        return NAN;
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    json_t *r2 = j ? json_object_get(json_object_get(j, "subject_mean"), "r2") : NULL;
    double v = json_is_real(r2) ? json_real_value(r2) : NAN;
    json_decref(j);
    return v;
}

/* The thresholds (forces R² >= 0.5, moments >= 0.7) on seeds 1-3.
 * Negative control: the same cohort with every cycle's inputs reversed in
 * time (numpy) is not recognised, so the check can fail. */
Test(synth_real, published_transformers_recognise_the_healthy_cohort, .timeout = 600)
{
    for (int seed = 1; seed <= 3; seed++) {
        const char *d = tu_dir();
        cr_assert_eq(tu_sh("'%s' synth --out '%s' --seed %d > /dev/null", tu_bin(), d, seed), 0);
        double mf = published_r2(d, "Transformer_MF60", "Gait2Hip_MF60.npz");
        double jm = published_r2(d, "Transformer_JM60", "Gait2Hip_JM60.npz");
        fprintf(stderr, "  seed %d: published Transformer R2 forces %.3f, moments %.3f\n", seed, mf, jm);
        cr_assert(mf >= 0.5, "seed %d: published MF60 R2 %.3f < 0.5 on the synthetic healthy cohort", seed, mf);
        cr_assert(jm >= 0.7, "seed %d: published JM60 R2 %.3f < 0.7 on the synthetic healthy cohort", seed, jm);
        if (seed == 1) {
            cr_assert_eq(tu_sh("cd '%s' && '%s' -c \"import numpy as np; z = dict(np.load('Gait2Hip_MF60.npz')); "
                               "z['X'] = z['X'][:, ::-1].copy(); np.savez('reversed.npz', **z)\"",
                               d, tu_python()), 0);
            double rev = published_r2(d, "Transformer_MF60", "reversed.npz");
            cr_assert(rev < 0.5, "time-reversed inputs still give R2 %.3f: the check cannot fail", rev);
        }
    }
}

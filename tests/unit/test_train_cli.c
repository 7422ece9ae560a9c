/* gaitfed train / predict / eval as a user drives them, checked by PyTorch:
 * a checkpoint written by `gaitfed train` loads into the reference module
 * with load_state_dict(strict=True) and gives the predictions of
 * `gaitfed predict` (tests/py/check_checkpoint.py), for the Transformer,
 * LSTM, GRU and TCN. Bad input: one line on
 * stderr, a non-zero status, no output file. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/fileio.h"
#include "model/safetensors.h"
#include "sites/npz.h"
#include "tests/unit/testutil.h"

/* Small Transformer, 2 epochs: seconds. */
#define SMALL "--model transformer --d-model 32 --layers 1 --heads 2 --ff 64 --threads 2"

/* 1 if the file holds text s. */
static int file_has(const char *path, const char *s)
{
    unsigned char *b;
    size_t n;
    if (gf_read_file(path, 1 << 24, &b, &n)) return 0;
    char *t = malloc(n + 1);
    memcpy(t, b, n);
    t[n] = 0;
    int r = strstr(t, s) != NULL;
    free(t);
    free(b);
    return r;
}

Test(train_cli, train_predict_eval_match_pytorch)
{
    const char *d = tu_tmpdir();
    cr_assert_not_null(d);
    const char *B = tu_bin(), *py = tu_python(), *root = tu_root();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 1 > %s/synth.log 2>&1", B, d, d), 0, "synth failed (%s/synth.log)", d);
    /* stdout and stderr apart: stderr is not a terminal, so no progress lines */
    cr_assert_eq(tu_sh("cd %s && %s train --data D/Gait2Hip_JM60.npz " SMALL " --epochs 2 --folds 0 --seed 3 "
                       "--out M.safetensors > train.out 2> train.err", d, B), 0, "train failed: see %s/train.err", d);
    cr_assert_eq(tu_sh("test ! -s %s/train.err", d), 0, "train wrote to stderr in a pipe (%s/train.err)", d);
    char p[512];
    snprintf(p, sizeof p, "%s/train.out", d);
    cr_assert(file_has(p, "subjects") && file_has(p, "slow") && file_has(p, "fast") && file_has(p, "hip_rotation_r_moment"),
              "no per-cadence / per-channel table in %s", p);
    cr_assert_eq(tu_sh("test -s %s/M.safetensors && test -s %s/M.metrics.json", d, d), 0);
    /* the report: protocol pieces and test metrics */
    cr_assert_eq(tu_sh("%s -c \"import json,sys; j=json.load(open('%s/M.metrics.json')); t=j['test'];"
                       "assert j['chosen_epochs']==2 and j['cross_validation']['folds']==0, j['chosen_epochs'];"
                       "assert j['split']['test_subjects']==12 and j['split']['pool_subjects']==48, j['split'];"
                       "assert set(t['per_cadence'])=={'slow','med','fast'}, t['per_cadence'].keys();"
                       "assert t['n_subjects']==12 and len(t['per_subject'])==12;"
                       "assert set(t['per_channel'])=={'hip_flexion_r_moment','hip_adduction_r_moment','hip_rotation_r_moment'};"
                       "assert all(k in t['subject_mean'] for k in ('rmse','mae','r2'));"
                       "assert len(j['final_train_loss'])==2 and j['units']=='N\\u00b7m/kg'\"", py, d), 0,
                 "metrics report incomplete");

    /* predict with the checkpoint's statistics and with the input's own */
    cr_assert_eq(tu_sh("cd %s && %s predict --model M.safetensors --in D/ONFH_JM9.npz --out Y.npz --norm model 2>/dev/null", d, B), 0);
    cr_assert_eq(tu_sh("cd %s && %s predict --model M.safetensors --in D/ONFH_JM9.npz --out Yown.npz --norm own 2>/dev/null", d, B), 0);
    cr_assert_eq(tu_sh("cd %s && %s %s/tests/py/check_checkpoint.py M.safetensors D/ONFH_JM9.npz Y.npz model", d, py, root), 0,
                 "PyTorch disagrees with gaitfed predict --norm model");
    cr_assert_eq(tu_sh("cd %s && %s %s/tests/py/check_checkpoint.py M.safetensors D/ONFH_JM9.npz Yown.npz own", d, py, root), 0,
                 "PyTorch disagrees with gaitfed predict --norm own");
    /* the checker tells the two normalizations apart (it can fail) */
    cr_assert_neq(tu_sh("cd %s && %s %s/tests/py/check_checkpoint.py M.safetensors D/ONFH_JM9.npz Yown.npz model >/dev/null 2>&1", d, py, root), 0,
                  "check_checkpoint.py accepted predictions made with other statistics");

    /* the recurrent models and the TCN load into their PyTorch references too */
    for (const char *k = "lstm\0gru\0tcn\0"; *k; k += strlen(k) + 1) {
        const char *extra = strcmp(k, "tcn") ? "" : " --kernel 5"; /* 'same' padding 2*dil per side */
        cr_assert_eq(tu_sh("cd %s && %s train --data D/Gait2Hip_JM60.npz --model %s --d-model 16 --layers 2%s --epochs 1 "
                           "--folds 0 --threads 2 --out %s.safetensors > %s.out 2>&1", d, B, k, extra, k, k), 0, "train --model %s failed", k);
        cr_assert_eq(tu_sh("cd %s && %s predict --model %s.safetensors --in D/ONFH_JM9.npz --out Y%s.npz 2>/dev/null", d, B, k, k), 0);
        cr_assert_eq(tu_sh("cd %s && %s %s/tests/py/check_checkpoint.py %s.safetensors D/ONFH_JM9.npz Y%s.npz model", d, py, root, k, k), 0,
                     "PyTorch disagrees with gaitfed predict for %s", k);
    }

    /* eval: JSON with the metrics on an NPZ and on a site store */
    cr_assert_eq(tu_sh("cd %s && %s eval --model M.safetensors --data D/ONFH_JM9.npz --norm model > eval.json", d, B), 0);
    cr_assert_eq(tu_sh("%s -c \"import json; j=json.load(open('%s/eval.json'));"
                       "assert j['n_cycles']==24 and j['n_subjects']==9 and j['task']=='moments' and j['normalization']=='model';"
                       "assert all(k in j for k in ('subject_mean','pooled','per_cadence','per_subject','per_channel'));"
                       "assert 0 < j['subject_mean']['rmse'] < 10\"", py, d), 0, "eval JSON incomplete (%s/eval.json)", d);
    cr_assert_eq(tu_sh("cd %s && %s eval --model M.safetensors --data D/cohorts/healthy-test.db --norm own > eval_db.json", d, B), 0);
    cr_assert_eq(tu_sh("%s -c \"import json; j=json.load(open('%s/eval_db.json')); assert j['n_cycles']==142 and j['n_subjects']==12\"",
                       py, d), 0);

    /* eval on the forces file of a moments model: wrong task */
    cr_assert_eq(tu_sh("cd %s && %s eval --model M.safetensors --data D/ONFH_MF9.npz > e.out 2> e.err", d, B), 1);
    snprintf(p, sizeof p, "%s/e.err", d);
    cr_assert(file_has(p, "wrong task"), "no 'wrong task' message");
    cr_assert_eq(tu_sh("test $(wc -l < %s/e.err) -eq 1", d), 0, "error message is not one line");

    /* channel mismatch: the same checkpoint with two input channels swapped in its metadata */
    gf_safetensors st;
    snprintf(p, sizeof p, "%s/M.safetensors", d);
    cr_assert_eq(gf_safetensors_read(p, &st), GF_OK, "%s", gf_errmsg());
    const char *in = gf_safetensors_meta(&st, "in_cols");
    cr_assert_not_null(in);
    char *sw = strdup(in), *a = strstr(sw, "hip_flexion_r"), *b = strstr(sw, "hip_flexion_l");
    cr_assert(a && b);
    a[12] = 'l';
    b[12] = 'r';
    json_object_set_new(st.meta, "in_cols", json_string(sw));
    free(sw);
    snprintf(p, sizeof p, "%s/Mswap.safetensors", d);
    cr_assert_eq(gf_safetensors_write(p, NULL, st.t, st.n, st.meta), GF_OK, "%s", gf_errmsg());
    json_object_del(st.meta, "model");
    snprintf(p, sizeof p, "%s/Mnometa.safetensors", d);
    cr_assert_eq(gf_safetensors_write(p, NULL, st.t, st.n, st.meta), GF_OK, "%s", gf_errmsg());
    gf_safetensors_free(&st);
    cr_assert_eq(tu_sh("cd %s && %s predict --model Mswap.safetensors --in D/ONFH_JM9.npz --out Ys.npz 2> s.err", d, B), 1);
    snprintf(p, sizeof p, "%s/s.err", d);
    cr_assert(file_has(p, "channel mismatch"), "no 'channel mismatch' message");
    cr_assert_eq(tu_sh("test ! -e %s/Ys.npz", d), 0, "output written despite the error");
    cr_assert_eq(tu_sh("cd %s && %s predict --model Mnometa.safetensors --in D/ONFH_JM9.npz --out Ys.npz 2> n.err", d, B), 1);
    snprintf(p, sizeof p, "%s/n.err", d);
    cr_assert(file_has(p, "not a checkpoint written by gaitfed train"));

    /* T != 180 */
    cr_assert_eq(tu_sh("cd %s && %s -c \"import numpy as np; np.savez('x100.npz', X=np.zeros((2,100,10),np.float32))\"", d, py), 0);
    cr_assert_eq(tu_sh("cd %s && %s predict --model M.safetensors --in x100.npz --out Yt.npz 2> t.err", d, B), 1);
    snprintf(p, sizeof p, "%s/t.err", d);
    cr_assert(file_has(p, "180"), "the T != 180 message does not say 180");
    cr_assert_eq(tu_sh("test ! -e %s/Yt.npz", d), 0);
}

/* Cross-validation with early stopping on a site store (moments). */
Test(train_cli, cross_validation_on_a_site_store)
{
    const char *d = tu_tmpdir();
    const char *B = tu_bin(), *py = tu_python();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 2 --sites 1 > %s/synth.log 2>&1", B, d, d), 0);
    cr_assert_eq(tu_sh("cd %s && db=$(ls D/sites/*.db | head -1) && %s train --data $db --task moments " SMALL
                       " --epochs 3 --folds 2 --patience 1 --out CV.safetensors > cv.out 2> cv.err", d, B), 0,
                 "train with cross-validation failed (%s/cv.err)", d);
    cr_assert_eq(tu_sh("%s -c \"import json; j=json.load(open('%s/CV.metrics.json')); cv=j['cross_validation'];"
                       "assert cv['folds']==2 and len(cv['per_fold'])==2;"
                       "b=sorted(f['best_epoch'] for f in cv['per_fold']);"
                       "assert all(1<=f['best_epoch']<=f['epochs_run']<=3 for f in cv['per_fold']);"
                       "assert cv['median_best_epoch']==(b[0]+b[1]+1)//2==j['chosen_epochs'];"
                       "assert len(j['final_train_loss'])==j['chosen_epochs'];"
                       "assert j['task']=='moments' and j['test']['n_cycles']>0\"", py, d), 0,
                 "cross-validation report wrong (%s/CV.metrics.json)", d);
    cr_assert_eq(tu_sh("%s -c \"import json,struct; b=open('%s/CV.safetensors','rb').read(); n=struct.unpack('<Q',b[:8])[0];"
                       "m=json.loads(b[8:8+n])['__metadata__']; assert m['folds']=='2' and m['task']=='moments' and m['normalization']=='own'\"",
                       py, d), 0);
}

Test(train_cli, bad_input_one_line_nonzero_no_output)
{
    const char *d = tu_tmpdir();
    const char *B = tu_bin();
    /* a tiny moments NPZ (4 subjects) */
    gf_dataset ds;
    cr_assert_eq(gf_dataset_alloc(&ds, 8, 0, 1), GF_OK);
    for (int i = 0; i < 8; i++) {
        snprintf(ds.meta[i].subject_id, sizeof ds.meta[i].subject_id, "H%02d", i / 2 + 1);
        strcpy(ds.meta[i].speed, i % 2 ? "fast" : "slow");
        ds.meta[i].height_m = 1.7f;
        ds.meta[i].weight_kg = 70;
        ds.meta[i].trial = 1;
        for (int k = 0; k < GF_T * GF_DIN; k++) ds.x[(size_t)i * GF_T * GF_DIN + k] = (float)((k * 7 + i) % 13);
        for (int k = 0; k < GF_T * GF_NM; k++) ds.ym[(size_t)i * GF_T * GF_NM + k] = (float)((k * 3 + i) % 5);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/tiny.npz", d);
    cr_assert_eq(gf_g2h_write(p, &ds, GF_TASK_MOMENTS), GF_OK, "%s", gf_errmsg());
    gf_dataset_free(&ds);

    struct { const char *args; int rc; const char *msg; } cases[] = {
        {"train --data missing.npz --out M.safetensors", 1, "No such file"},
        {"train --data tiny.npz --task forces --out M.safetensors", 1, "wrong task"},
        {"train --data tiny.npz --epochs 0 --out M.safetensors", 2, "--epochs"},
        {"train --data tiny.npz --folds 1 --out M.safetensors", 2, "--folds"},
        {"train --data tiny.npz --model nope --out M.safetensors", 2, "--model"},
        {"train --data tiny.npz --heads 3 --d-model 32 --epochs 1 --folds 0 --out M.safetensors", 1, "multiple"},
        {"train --data tiny.npz --out nodir/M.safetensors", 1, "not writable"},
        {"train --data tiny.npz --folds 5 --epochs 1 --out M.safetensors", 1, "folds"},
        {"eval --model missing.safetensors --data tiny.npz", 1, "missing.safetensors"},
        {"eval --model tiny.npz --data tiny.npz --norm bad", 2, "--norm"},
        {"predict --model tiny.npz --in tiny.npz --out Y.npz", 1, "tiny.npz"},
        {"predict --model M.safetensors --in tiny.npz", 2, "required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = tu_sh("cd %s && %s %s > out.txt 2> err.txt", d, B, cases[i].args);
        cr_assert_eq(rc, cases[i].rc, "'%s': status %d, expected %d", cases[i].args, rc, cases[i].rc);
        snprintf(p, sizeof p, "%s/err.txt", d);
        cr_assert(file_has(p, cases[i].msg), "'%s': stderr does not mention '%s'", cases[i].args, cases[i].msg);
        if (cases[i].rc == 1) cr_assert_eq(tu_sh("test $(wc -l < %s/err.txt) -eq 1", d), 0, "'%s': not one line", cases[i].args);
        cr_assert_eq(tu_sh("test ! -e %s/M.safetensors && test ! -e %s/Y.npz", d, d), 0, "'%s' wrote output", cases[i].args);
    }
}

/* --test-subjects holds out exactly the named subjects (the published
 * Gait2Hip-60 test split), from a list or a file; the metrics file and the
 * checkpoint record them, and so does the seeded default. numpy counts the
 * named subjects' cycles in the NPZ independently. */
#define PUBLISHED_TEST "H06,H08,H18,H19,H25,H28,H29,H40,H45,H51,H56,H60"
Test(train_cli, named_test_subjects_are_held_out_exactly)
{
    const char *d = tu_dir(), *B = tu_bin(), *py = tu_python();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 1 > %s/synth.log 2>&1", B, d, d), 0, "synth failed");
    cr_assert_eq(tu_sh("cd %s && %s train --data D/Gait2Hip_MF60.npz " SMALL " --epochs 1 --folds 2 --seed 4 "
                       "--test-subjects " PUBLISHED_TEST " --out A.safetensors > A.out 2>&1", d, B), 0,
                 "train --test-subjects failed: %s/A.out", d);
    /* the same list from a file: comments, newlines and spaces; in another order */
    cr_assert_eq(tu_sh("cd %s && printf '# published split\\nH60 H56, H51\\nH45,H40,H29,H28 # two\\nH25 H19 H18 H08 H06\\n' > t.txt && "
                       "%s train --data D/Gait2Hip_MF60.npz " SMALL " --epochs 1 --folds 2 --seed 4 --test-subjects @t.txt "
                       "--out B.safetensors > B.out 2>&1", d, B), 0, "train --test-subjects @FILE failed: %s/B.out", d);
    cr_assert_eq(tu_sh("cd %s && %s train --data D/Gait2Hip_MF60.npz " SMALL " --epochs 1 --folds 0 --seed 4 "
                       "--out C.safetensors > C.out 2>&1", d, B), 0, "seeded train failed: %s/C.out", d);
    cr_assert_eq(tu_sh("cd %s && %s -c \"\n"
                       "import json, numpy as np\n"
                       "z = np.load('D/Gait2Hip_MF60.npz')\n"
                       "ids = [str(s) for s in z['subject_id']]\n"
                       "want = sorted('" PUBLISHED_TEST "'.split(','))\n"
                       "a, b, c = (json.load(open(f + '.metrics.json')) for f in 'ABC')\n"
                       "for j in (a, b):\n"
                       "    s = j['split']\n"
                       "    assert s['test_selection'] == 'named' and s['test_fraction'] is None, s\n"
                       "    assert s['test_subject_ids'] == want, s['test_subject_ids']\n"
                       "    assert s['test_cycles'] == sum(i in want for i in ids), (s['test_cycles'], sum(i in want for i in ids))\n"
                       "    assert s['pool_subjects'] == len(set(ids)) - 12 and s['pool_cycles'] == len(ids) - s['test_cycles']\n"
                       "    assert sorted(j['test']['per_subject']) == want, sorted(j['test']['per_subject'])\n"
                       "assert a['test'] == b['test'], 'the list and the file gave different test metrics'\n"
                       "s = c['split']\n"
                       "assert s['test_selection'] == 'seeded' and s['test_fraction'] == 0.2 and len(s['test_subject_ids']) == 12, s\n"
                       "assert s['test_subject_ids'] == sorted(c['test']['per_subject'])\n"
                       "assert s['test_cycles'] == sum(i in s['test_subject_ids'] for i in ids)\n"
                       "for f, w in (('A', want), ('C', s['test_subject_ids'])):\n"
                       "    h = open(f + '.safetensors', 'rb').read()\n"
                       "    n = int.from_bytes(h[:8], 'little')\n"
                       "    meta = json.loads(h[8:8 + n])['__metadata__']\n"
                       "    assert json.loads(meta['test_subjects']) == w, meta['test_subjects']\n"
                       "\"", d, py), 0, "the named split is not what was asked (see above)");

    /* Refused, one line, no checkpoint: an unknown subject, a repeated one, all of them, an empty list, no file. */
    const char *bad[][2] = {{"H06,X99", "'X99' is not in the data"}, {"H06,H08,H06", "'H06' named twice"},
                            {",", "names no id"}, {"@missing.txt", "missing.txt"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(tu_sh("cd %s && %s train --data D/Gait2Hip_MF60.npz " SMALL " --epochs 1 --folds 0 --test-subjects '%s' "
                           "--out X.safetensors > x.out 2> x.err", d, B, bad[i][0]), 1, "--test-subjects %s not refused", bad[i][0]);
        cr_assert_eq(tu_sh("cd %s && test $(wc -l < x.err) -eq 1 && grep -q -- \"--test-subjects: .*%s\" x.err && "
                           "test ! -e X.safetensors", d, bad[i][1]), 0, "--test-subjects %s: not one line naming the problem", bad[i][0]);
    }
    cr_assert_eq(tu_sh("cd %s && %s -c \"import numpy as np; print(','.join(sorted(set(str(s) for s in np.load('D/Gait2Hip_MF60.npz')['subject_id']))))\" > all.txt && "
                       "%s train --data D/Gait2Hip_MF60.npz " SMALL " --epochs 1 --folds 0 --test-subjects @all.txt --out X.safetensors 2> x.err; "
                       "test $? -eq 1 && grep -q 'none is left to train on' x.err", d, py, B), 0, "every subject held out was not refused");
}

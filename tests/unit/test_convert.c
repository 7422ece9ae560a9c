/* tools/convert_gait2hip.py and the shipped pretrained models, checked by
 * PyTorch (tests/py/convert_check.py): a converted checkpoint gives, under
 * `gaitfed predict --norm model`, what PyTorch computes from the ORIGINAL
 * .pt (max relative error <= 1e-5) for the two published Transformers and
 * for torch-made files in the published format; model/pretrained/ holds
 * exactly what the converter makes today; `gaitfed info` shows the
 * checkpoint; malformed, foreign and hostile files are refused with one line,
 * exit 1 and no output. */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/unit/testutil.h"

#define CONVERT "%s %s/tools/convert_gait2hip.py"
#define CHECK "%s %s/tests/py/convert_check.py"
#define PUBLISHED "tests/data/gait2hip-published"

/* X.npz in d: 6 gait-like cycles made by numpy. */
static void make_inputs(const char *d)
{
    cr_assert_eq(tu_sh("cd %s && " CHECK " inputs X.npz 6 1", d, tu_python(), tu_root()), 0, "inputs failed");
}

/* Converts src (relative to d) into out, predicts X.npz with --norm model and
 * compares with PyTorch on src. */
static void convert_predict_compare(const char *d, const char *src, const char *out)
{
    const char *py = tu_python(), *root = tu_root();
    cr_assert_eq(tu_sh("cd %s && " CONVERT " %s %s.safetensors > %s.conv.out 2> %s.conv.err", d, py, root, src, out, out,
                       out),
                 0, "converting %s failed (%s/%s.conv.err)", src, d, out);
    cr_assert_eq(tu_sh("test ! -s %s/%s.conv.err", d, out), 0, "the converter wrote to stderr on success");
    cr_assert_eq(tu_sh("cd %s && %s predict --model %s.safetensors --in X.npz --out Y_%s.npz --norm model 2>/dev/null", d,
                       tu_bin(), out, out),
                 0, "gaitfed predict refused %s.safetensors", out);
    cr_assert_eq(tu_sh("cd %s && " CHECK " compare %s X.npz Y_%s.npz", d, py, root, src, out), 0,
                 "gaitfed predict and PyTorch on %s differ", src);
}

Test(convert, published_transformers_match_pytorch_and_the_shipped_files)
{
    const char *d = tu_dir(), *py = tu_python(), *root = tu_root(), *B = tu_bin();
    make_inputs(d);
    for (const char *k = "MF\0JM\0"; *k; k += 3) {
        char src[1024], out[64], shipped[1024];
        snprintf(src, sizeof src, "%s/" PUBLISHED "/Transformer_%s60.pt", root, k);
        snprintf(out, sizeof out, "T_%s", k);
        snprintf(shipped, sizeof shipped, "%s/model/pretrained/Transformer_%s60.safetensors", root, k);
        convert_predict_compare(d, src, out);
        /* what ships is what the converter makes today, byte for byte */
        cr_assert_eq(tu_sh("cmp %s %s/%s.safetensors", shipped, d, out), 0, "%s differs from the converter's output",
                     shipped);
        /* the shipped file itself, without Python: predict, and the existing checkpoint oracle */
        cr_assert_eq(tu_sh("cd %s && %s predict --model %s --in X.npz --out Ys_%s.npz 2>/dev/null", d, B, shipped, k), 0);
        cr_assert_eq(tu_sh("cd %s && " CHECK " compare %s X.npz Ys_%s.npz", d, py, root, src, k), 0,
                     "the shipped %s model and PyTorch differ", k);
        cr_assert_eq(tu_sh("cd %s && %s %s/tests/py/check_checkpoint.py %s X.npz Ys_%s.npz model", d, py, root, shipped, k),
                     0, "check_checkpoint.py refuses the shipped %s", k);
        /* negative control: other statistics (--norm own) are caught */
        cr_assert_eq(tu_sh("cd %s && %s predict --model %s --in X.npz --out Yown_%s.npz --norm own 2>/dev/null", d, B,
                           shipped, k),
                     0);
        cr_assert_neq(tu_sh("cd %s && " CHECK " compare %s X.npz Yown_%s.npz 2>/dev/null", d, py, root, src, k), 0,
                      "compare accepted predictions made with other statistics");
        /* gaitfed info: kind, parameter count, provenance, statistics equal to mu_x/sd_x */
        cr_assert_eq(tu_sh("%s info %s > %s/info_%s.txt", B, shipped, d, k), 0, "gaitfed info failed on %s", shipped);
        cr_assert_eq(tu_sh("cd %s && " CHECK " info %s info_%s.txt", d, py, root, src, k), 0, "gaitfed info of %s", shipped);
        cr_assert_eq(tu_sh("grep -qx '  license: MIT (Gait2Hip-60 authors)' %s/info_%s.txt && "
                           "grep -q '^  published_test_subject_mean: {\"RMSE\":' %s/info_%s.txt",
                           d, k, d, k),
                     0, "gaitfed info lacks the license or the published metrics");
        /* negative control: one channel's statistics swapped in the text */
        cr_assert_eq(tu_sh("sed -E 's/^(  hip_flexion_r +)([^ ]+) +([^ ]+)$/\\1\\3 \\2/' %s/info_%s.txt > %s/bad_%s.txt", d,
                           k, d, k),
                     0);
        cr_assert_neq(tu_sh("cd %s && " CHECK " info %s bad_%s.txt 2>/dev/null", d, py, root, src, k), 0,
                      "the info check accepted swapped statistics");
    }
}

Test(convert, torch_made_published_files_match_pytorch)
{
    const char *d = tu_dir(), *py = tu_python(), *root = tu_root();
    make_inputs(d);
    static const char *const cases[][4] = {
        {"transformer", "forces", "T1", "{}"},
        {"lstm", "moments", "L1", "{}"},
        {"transformer", "moments", "T2",
         "{\"d_model\":48,\"nhead\":6,\"num_layers\":3,\"dim_feedforward\":80,\"max_len\":200,\"dropout\":0.25}"},
        {"lstm", "forces", "L2", "{\"hidden\":20,\"layers\":1,\"dropout\":0.0}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *const *c = cases[i];
        /* the last one with float64 statistics (cast to float32 as the authors' predict.py does) */
        cr_assert_eq(tu_sh("cd %s && " CHECK " make %s %s %s.pt '%s'%s", d, py, root, c[0], c[1], c[2], c[3],
                           i == 3 ? " f64" : ""),
                     0, "making %s.pt failed", c[2]);
        char src[64];
        snprintf(src, sizeof src, "%s.pt", c[2]);
        convert_predict_compare(d, src, c[2]);
    }
    /* same input, same bytes */
    cr_assert_eq(tu_sh("cd %s && " CONVERT " L1.pt again.safetensors >/dev/null && cmp again.safetensors L1.safetensors", d,
                       py, root),
                 0, "two conversions of L1.pt differ");
    /* info on the LSTM: its parameter count and statistics */
    cr_assert_eq(tu_sh("cd %s && %s info L1.safetensors > info.txt && " CHECK " info L1.pt info.txt", d, tu_bin(), py, root),
                 0);
    cr_assert_eq(tu_sh("grep -q '^model: lstm, hidden 128, 2 layers' %s/info.txt", d), 0);
}

/* Runs the converter on dir/in with out dir/out.safetensors: exit 1, one line on
 * stderr naming in and holding expect, no output, no temporary left behind. */
static void refused(const char *d, const char *in, const char *expect)
{
    const char *py = tu_python(), *root = tu_root();
    int rc = tu_sh("cd %s && " CONVERT " %s out.safetensors > r.out 2> r.err", d, py, root, in);
    cr_assert_eq(rc, 1, "%s: exit %d, expected 1", in, rc);
    /* the strings go through files: they hold quotes */
    char p[1024];
    snprintf(p, sizeof p, "%s/r.want", d);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n%s\n", in, expect);
    fclose(f);
    cr_assert_eq(tu_sh("cd %s && test $(wc -l < r.err) -eq 1 && grep -qF \"$(sed -n 1p r.want)\" r.err && "
                       "grep -qF \"$(sed -n 2p r.want)\" r.err", d),
                 0, "%s: stderr is not one line naming the file with \"%s\"", in, expect);
    cr_assert_eq(tu_sh("test ! -e %s/out.safetensors && ! ls -A %s | grep -q '\\.tmp$'", d, d), 0,
                 "%s: an output or temporary file was left", in);
}

Test(convert, refuses_malformed_foreign_and_hostile_files)
{
    const char *d = tu_dir(), *py = tu_python(), *root = tu_root();
    cr_assert_eq(tu_sh("cd %s && " CHECK " hostile .", d, py, root), 0, "making the hostile files failed");
    /* control: the well-formed sibling they are made from converts */
    cr_assert_eq(tu_sh("cd %s && " CONVERT " good.pt good.safetensors >/dev/null && test -s good.safetensors", d, py, root),
                 0, "good.pt was refused");
    static const char *const cases[][2] = {
        {"truncated.pt", "not a readable zip file"},
        {"random.pt", "not a torch.save zip file"},
        {"nodata.pt", "no archive/data.pkl record"},
        {"torchscript.pt", "TorchScript"},
        {"bare_state_dict.pt", "bare state_dict"},
        {"missing_key.pt", "key 'sd_x' is missing"},
        {"wrong_shape.pt", "fc.weight has shape [3, 9], expected [3, 8]"},
        {"wrong_hparams.pt", "lstm.weight_ih_l0 has shape [32, 10], expected [64, 10]"},
        {"float64.pt", "is float64, expected float32"},
        {"permuted_in_cols.pt", "in_cols[0] is 'ankle_angle_l'"},
        {"zero_sd.pt", "sd_x has a value <= 0"},
        {"control_chars.pt", "protocol is not one line of text"},
        {"unknown_key.pt", "unexpected key 'extra_key'"},
        {"mamba.pt", "model_type 'mamba' is not supported by this version of gaitfed"},
        {"overread.pt", "holds 16 bytes, the pickle declares 1048576 elements"},
        {"outside.pt", "a tensor reaches element 7 of a storage of 4"},
        {"evil.pt", "references os.system, which is not on the allow-list"},
        {"no-such-file.pt", "No such file"},
        {"/dev/zero", "not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) refused(d, cases[i][0], cases[i][1]);
    char mamba[1024];
    snprintf(mamba, sizeof mamba, "%s/" PUBLISHED "/Mamba_MF60.pt", root);
    refused(d, mamba, "model_type 'mamba' is not supported by this version of gaitfed");

    /* the payload never ran; unpickled without restriction it does (the control) */
    cr_assert_eq(tu_sh("test ! -e %s/pwned", d), 0, "the converter executed the pickle's os.system");
    cr_assert_eq(tu_sh("cd %s && " CHECK " unpickle-control evil.pt && test -e pwned", d, py, root), 0,
                 "the evil pickle does not run even unrestricted: the refusal above proves nothing");

    /* a failed conversion leaves an existing OUT as it was */
    cr_assert_eq(tu_sh("cd %s && echo keep > kept.safetensors && " CONVERT " mamba.pt kept.safetensors 2>/dev/null; "
                       "test $? -eq 1 && test \"$(cat kept.safetensors)\" = keep",
                       d, py, root),
                 0, "a refused conversion changed the existing output");
    /* an OUT that cannot be written: one line, exit 1 */
    cr_assert_eq(tu_sh("cd %s && " CONVERT " good.pt no/such/dir/o.safetensors > w.out 2> w.err; test $? -eq 1 && "
                       "test $(wc -l < w.err) -eq 1 && grep -q 'no/such/dir' w.err",
                       d, py, root),
                 0, "an unwritable output was not one line and exit 1");
    /* argument count: exactly IN and OUT */
    static const char *const args[] = {"", "good.pt", "good.pt a.safetensors b.safetensors"};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
        cr_assert_eq(tu_sh("cd %s && " CONVERT " %s > a.out 2> a.err; test $? -eq 1 && test $(wc -l < a.err) -eq 1 && "
                           "grep -q 'usage: tools/convert_gait2hip.py IN.pt OUT.safetensors' a.err && "
                           "test ! -e a.safetensors",
                           d, py, root, args[i]),
                     0, "arguments '%s': not one usage line and exit 1", args[i]);
    }
}

/* Random damage to the pickle of a good file and of a published one (the zip
 * rebuilt so its CRCs hold, so the damage reaches the unpickler): every mutant
 * converts or is refused with the converter's one-line error, and the process
 * stays under 1 GiB. (Seed 7 of good.pt includes a memo index of 1.8e8: without
 * the reader's memo check the C unpickler grows to 2.9 GiB and this fails.) */
Test(convert, damaged_pickles_are_converted_or_refused_in_one_line)
{
    const char *d = tu_dir(), *py = tu_python(), *root = tu_root();
    cr_assert_eq(tu_sh("cd %s && " CHECK " hostile . && cp %s/" PUBLISHED "/Transformer_MF60.pt .", d, py, root, root), 0);
    cr_assert_eq(tu_sh("cd %s && " CHECK " mutants good.pt 3000 7", d, py, root), 0, "a damaged good.pt escaped");
    cr_assert_eq(tu_sh("cd %s && " CHECK " mutants Transformer_MF60.pt 300 2", d, py, root), 0,
                 "a damaged Transformer_MF60.pt escaped");
}

/* `gaitfed eval` and `predict` on the shipped models and labelled synthetic cohorts. */
Test(convert, shipped_models_evaluate_without_python)
{
    const char *d = tu_dir(), *B = tu_bin(), *root = tu_root(), *py = tu_python();
    cr_assert_eq(tu_sh("%s synth --out %s/D --seed 1 > %s/synth.log 2>&1", B, d, d), 0, "synth failed");
    static const char *const cases[][3] = {{"MF", "ONFH_MF9", "forces"}, {"JM", "ONFH_JM9", "moments"}};
    for (int i = 0; i < 2; i++) {
        const char *const *c = cases[i];
        cr_assert_eq(tu_sh("cd %s && %s eval --model %s/model/pretrained/Transformer_%s60.safetensors --data D/%s.npz "
                           "--norm model > eval_%s.json",
                           d, B, root, c[0], c[1], c[0]),
                     0, "eval of the shipped %s model failed", c[0]);
        cr_assert_eq(tu_sh("%s -c \"import json,math; j=json.load(open('%s/eval_%s.json'));"
                           "assert j['task']=='%s' and j['normalization']=='model' and j['n_subjects']==9, j;"
                           "assert math.isfinite(j['subject_mean']['rmse']) and j['subject_mean']['rmse'] > 0;"
                           "print('shipped %s on synthetic %s: subject-mean RMSE %%.3f, R2 %%.3f' %% "
                           "(j['subject_mean']['rmse'], j['subject_mean']['r2']))\"",
                           py, d, c[0], c[2], c[0], c[1]),
                     0, "eval JSON of the shipped %s model", c[0]);
        cr_assert_eq(tu_sh("cd %s && %s predict --model %s/model/pretrained/Transformer_%s60.safetensors --in D/%s.npz "
                           "--out Y%s.npz 2>/dev/null",
                           d, B, root, c[0], c[1], c[0]),
                     0);
    }
}

/* info refuses what is not a gaitfed checkpoint, with one line. */
Test(convert, info_refuses_a_foreign_safetensors)
{
    const char *d = tu_dir();
    cr_assert_eq(tu_sh("cd %s && %s -c \"import json,struct; h=json.dumps({'w':{'dtype':'F32','shape':[1],"
                       "'data_offsets':[0,4]}}).encode(); h+=b' '*(-len(h)%%8);"
                       "open('f.safetensors','wb').write(struct.pack('<Q',len(h))+h+bytes(4))\"",
                       d, tu_python()),
                 0);
    cr_assert_eq(tu_sh("cd %s && %s info f.safetensors > o 2> e", d, tu_bin()), 1);
    cr_assert_eq(tu_sh("cd %s && test $(wc -l < e) -eq 1 && grep -q 'f.safetensors' e && test ! -s o", d), 0,
                 "info on a foreign safetensors is not one line naming it");
}

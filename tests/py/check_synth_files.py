"""Independent check of `gaitfed synth` output with numpy and sqlite3:
the benchmark layout (keys, shapes, dtypes, column names, ids) and that each
site store holds exactly the cycles the files say. Exits non-zero on mismatch."""
import sqlite3
import sys

import numpy as np

IN = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "hip_flexion_l", "hip_adduction_l",
      "hip_rotation_l", "knee_angle_r", "ankle_angle_r", "knee_angle_l", "ankle_angle_l"]
MF = ["addbrev_r", "addlong_r", "addmag_r", "grac_r", "iliopsoas_r", "recfem_r", "sart_r", "glmax_r",
      "bflh_r", "hamstring_r", "glmed_r", "glmin_r", "tfl_r", "piri_r"]
JM = ["hip_flexion_r_moment", "hip_adduction_r_moment", "hip_rotation_r_moment"]
KEYS = {"X", "Y", "subject_id", "height_m", "weight_kg", "speed_label", "in_cols", "out_cols"}


def fail(msg):
    print("check_synth_files: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path, cols, n_subj, prefix, speeds):
    z = np.load(path, allow_pickle=False)
    if not KEYS <= set(z.files):
        fail(f"{path}: keys {sorted(z.files)} lack {sorted(KEYS - set(z.files))}")
    X, Y = z["X"], z["Y"]
    n = X.shape[0]
    if X.shape != (n, 180, 10) or Y.shape != (n, 180, len(cols)):
        fail(f"{path}: shapes X {X.shape} Y {Y.shape}")
    if list(z["in_cols"]) != IN or list(z["out_cols"]) != cols:
        fail(f"{path}: column names {list(z['in_cols'])} {list(z['out_cols'])}")
    for k in ("subject_id", "height_m", "weight_kg", "speed_label"):
        if z[k].shape != (n,):
            fail(f"{path}: {k} shape {z[k].shape}")
    ids = sorted(set(z["subject_id"]))
    want = [f"{prefix}{i:02d}" for i in range(1, n_subj + 1)]
    if ids != want:
        fail(f"{path}: subject ids {ids[:5]}... expected {want[:5]}...")
    if set(z["speed_label"]) != speeds:
        fail(f"{path}: speed labels {set(z['speed_label'])}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        fail(f"{path}: non-finite values")
    return z


# Plausibility at med cadence: (output, sign, reference peak, % of cycle, window).
PEAKS = [("JM", "hip_flexion_r_moment", -1, 0.80, 12, (0, 30)),
         # the two real walks (tests/unit/test_synth_gait.c, refs[]): 0.516..1.02 at 48.5..60.5 %
         ("JM", "hip_flexion_r_moment", +1, (0.516, 1.02), (48.5, 60.5), (40, 70)),
         ("JM", "hip_adduction_r_moment", -1, 0.56, 45, (30, 60)),
         ("MF", "glmed_r", +1, 10.0, 45, (30, 60)),
         # up to the real subject01 static optimization's 27.1 N/kg @ 51.5 % (test_synth_gait.c refs[])
         ("MF", "iliopsoas_r", +1, (16.0, 27.1), (46, 58), (40, 70)),
         ("MF", "glmax_r", +1, 4.0, 12, (0, 30))]


def mean_curve(z, col, speed):
    Y = z["Y"] / z["weight_kg"][:, None, None]
    return Y[z["speed_label"] == speed][:, :, list(z["out_cols"]).index(col)].mean(0)


def plausibility(files):
    """Cohort-mean peaks of the written files, recomputed here from the NPZ alone."""
    pct = np.arange(180) / 179 * 100
    amp = {}
    for f, col, sign, ref, at, (lo, hi) in PEAKS:
        for sp in ("slow", "med", "fast"):
            c = sign * mean_curve(files[f], col, sp)
            w = (pct >= lo) & (pct <= hi)
            k = np.argmax(np.where(w, c, -np.inf))
            amp[(col, sign, sp)] = c[k]
            if sp == "med":
                print(f"  med {col:24s} {sign * c[k]:+7.3f} at {pct[k]:4.1f} % (reference {ref} at {at} %)")
                alo, ahi = ref if isinstance(ref, tuple) else (0.8 * ref, 1.2 * ref)
                plo, phi = at if isinstance(at, tuple) else (at - 6, at + 6)
                if not (alo <= c[k] <= ahi and plo <= pct[k] <= phi):
                    fail(f"{col}: med-cadence peak {sign * c[k]:.3f} at {pct[k]:.1f} % is not about {sign * ref} at {at} %")
        if not amp[(col, sign, "slow")] < amp[(col, sign, "med")] < amp[(col, sign, "fast")]:
            fail(f"{col}: peak does not grow slow < med < fast")


def onfh_smaller(h, p):
    """Patients: smaller hip flexion range and sagittal/frontal moment peaks."""
    def stats(z):
        Y = z["Y"] / z["weight_kg"][:, None, None]
        X = z["X"]
        return {"hip flexion ROM": X[:, :, 0].max(1) - X[:, :, 0].min(1),
                "extensor peak": -Y[:, :, 0].min(1), "flexor peak": Y[:, :, 0].max(1),
                "abductor peak": -Y[:, :90, 1].min(1)}
    a, b = stats(h), stats(p)
    for k in a:
        sd = np.sqrt((a[k].var(ddof=1) + b[k].var(ddof=1)) / 2)
        smd = (b[k].mean() - a[k].mean()) / sd
        print(f"  ONFH {k:16s} healthy {a[k].mean():7.3f} patients {b[k].mean():7.3f} SMD {smd:+.2f}")
        if not smd < -0.5:
            fail(f"ONFH {k}: SMD {smd:.2f}, expected clearly smaller than healthy (about -1)")


def main(d):
    mf = load(f"{d}/Gait2Hip_MF60.npz", MF, 60, "H", {"slow", "med", "fast"})
    jm = load(f"{d}/Gait2Hip_JM60.npz", JM, 60, "H", {"slow", "med", "fast"})
    if not np.array_equal(mf["X"], jm["X"]):
        fail("MF60 and JM60 inputs differ")
    n = mf["X"].shape[0]
    if not 600 <= n <= 720:
        fail(f"{n} healthy cycles, expected about 700")
    load(f"{d}/ONFH_MF9.npz", MF, 9, "P", {"self"})
    ojm = load(f"{d}/ONFH_JM9.npz", JM, 9, "P", {"self"})
    plausibility({"MF": mf, "JM": jm})
    onfh_smaller(jm, ojm)
    # Forces are non-negative; moments carry both signs.
    if (mf["Y"] < -1e-3).any():
        fail("negative muscle force")
    # The held-out cohort store: 12 subjects, blobs decode to the benchmark cycles.
    db = sqlite3.connect(f"file:{d}/cohorts/healthy-test.db?immutable=1", uri=True)
    subj = [r[0] for r in db.execute("SELECT subject_id FROM subjects ORDER BY subject_id")]
    db.close()
    if len(subj) != 12 or not all(s.startswith("H") for s in subj):
        fail(f"healthy-test.db subjects {subj}")
    print(f"ok: {n} healthy cycles, {len(subj)} held-out subjects")


if __name__ == "__main__":
    main(sys.argv[1])

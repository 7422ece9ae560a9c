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


def main(d):
    mf = load(f"{d}/Gait2Hip_MF60.npz", MF, 60, "H", {"slow", "med", "fast"})
    jm = load(f"{d}/Gait2Hip_JM60.npz", JM, 60, "H", {"slow", "med", "fast"})
    if not np.array_equal(mf["X"], jm["X"]):
        fail("MF60 and JM60 inputs differ")
    n = mf["X"].shape[0]
    if not 600 <= n <= 720:
        fail(f"{n} healthy cycles, expected about 700")
    load(f"{d}/ONFH_MF9.npz", MF, 9, "P", {"self"})
    load(f"{d}/ONFH_JM9.npz", JM, 9, "P", {"self"})
    # Forces are non-negative; moments carry both signs.
    if (mf["Y"] < -1e-3).any():
        fail("negative muscle force")
    # The held-out cohort store: 12 subjects, blobs decode to the benchmark cycles.
    db = sqlite3.connect(f"file:{d}/cohorts/healthy-test.db?mode=ro", uri=True)
    subj = [r[0] for r in db.execute("SELECT subject_id FROM subjects ORDER BY subject_id")]
    if len(subj) != 12 or not all(s.startswith("H") for s in subj):
        fail(f"healthy-test.db subjects {subj}")
    print(f"ok: {n} healthy cycles, {len(subj)} held-out subjects")


if __name__ == "__main__":
    main(sys.argv[1])

"""Input statistics of a synthetic healthy cohort against the real Gait2Hip-60
pool (tests/data/gait2hip-published/real_input_stats.json, made by
tools/real_input_stats.py): per channel, over all cycles and frames (all
subjects and cadences pooled, as the real mu_x / sd_x), the mean must lie
within TOL_MEAN real SDs of the real mean and SD_synth / SD_real in
[SD_LO, SD_HI]. Prints the table (and per-cadence figures); exits 1 naming
every failing channel and file.

    check_input_stats.py REAL_JSON NPZ [NPZ ...] [--perturb flip-left|shift-half-sd]

--perturb is the negative control: it alters the data before the check
(flip-left: left hip adduction and rotation negated back to the anatomical
convention; shift-half-sd: every channel moved by 0.5 real SD), which must
make the check fail."""
import json
import sys

import numpy as np

TOL_MEAN, SD_LO, SD_HI = 0.3, 0.75, 1.25


def main(argv):
    perturb = None
    if "--perturb" in argv:
        i = argv.index("--perturb")
        perturb = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
        if perturb not in ("flip-left", "shift-half-sd"):
            sys.exit("check_input_stats: unknown --perturb %s" % perturb)
    if len(argv) < 2:
        sys.exit(__doc__)
    real = json.load(open(argv[0]))["channels"]
    names = [c["name"] for c in real]
    rm = np.array([c["mean"] for c in real])
    rs = np.array([c["sd"] for c in real])
    bad = []
    for path in argv[1:]:
        z = np.load(path, allow_pickle=False)
        if list(z["in_cols"]) != names:
            sys.exit("check_input_stats: %s: in_cols %s differ from the real pool's" % (path, list(z["in_cols"])))
        X = z["X"].astype(np.float64)
        if perturb == "flip-left":
            X[..., 4:6] *= -1.0
        elif perturb == "shift-half-sd":
            X += 0.5 * rs
        speed = z["speed_label"]
        flat = X.reshape(-1, X.shape[-1])
        m, s = flat.mean(0), flat.std(0)
        print("%s: %d cycles" % (path, X.shape[0]))
        print("  %-16s %8s %7s | %8s %7s | %6s %5s | %s" % ("channel", "real", "SD", "synth", "SD", "dm/SD", "ratio",
                                                          " ".join("%-13s" % sp for sp in ("slow", "med", "fast"))))
        for c, n in enumerate(names):
            dz, ratio = (m[c] - rm[c]) / rs[c], s[c] / rs[c]
            per = []
            for sp in ("slow", "med", "fast"):
                v = X[speed == sp][..., c]
                per.append("%6.2f %6.2f" % (v.mean(), v.std()) if v.size else "%13s" % "-")
            ok = abs(dz) <= TOL_MEAN and SD_LO <= ratio <= SD_HI
            print("  %-16s %8.2f %7.2f | %8.2f %7.2f | %+6.2f %5.2f | %s%s" % (n, rm[c], rs[c], m[c], s[c], dz, ratio,
                                                                       " ".join(per), "" if ok else "  FAIL"))
            if not ok:
                bad.append("%s: %s mean %.2f (real %.2f, %+.2f SD) SD ratio %.2f" % (path, n, m[c], rm[c], dz, ratio))
    if bad:
        print("check_input_stats: %d channel(s) outside mean +-%.1f SD, SD ratio [%.2f, %.2f]:\n  %s"
              % (len(bad), TOL_MEAN, SD_LO, SD_HI, "\n  ".join(bad)), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])

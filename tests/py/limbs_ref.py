"""Reference for tests/unit/test_limbs.c: exact sums of 64-bit values.

usage: limbs_ref.py IN.bin P N OUT.bin
IN holds P*N little-endian int64 (party-major: party p's N values); OUT gets N
int64: for each index, the sum over the parties in Python integers (no
overflow), reduced mod 2^64 and read as signed.
"""
import sys

import numpy as np

src, p, n, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
v = np.fromfile(src, dtype="<i8").reshape(p, n)
out = []
for j in range(n):
    s = sum(int(a) for a in v[:, j]) % (1 << 64)
    out.append(s - (1 << 64) if s >= (1 << 63) else s)
np.array(out, dtype="<i8").tofile(dst)

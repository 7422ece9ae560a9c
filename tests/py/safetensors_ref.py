"""Independent safetensors oracle for tests/unit/test_safetensors.c, run under
Debian's /usr/bin/python3 (struct + json + numpy; torch for load_state_dict).
No safetensors package: the format is parsed by hand from its specification.

safetensors_ref.py check FILE EXPECT.npz META.json
    Parses FILE, checks the layout rules (u64 LE header length, header a JSON
    object padded with spaces to a multiple of 8, F32 entries whose byte
    ranges tile the data in order), that names/shapes/values equal EXPECT.npz
    bit for bit and that __metadata__ equals META.json. Then pops x_mean and
    x_std and loads the rest into a reference torch module with
    load_state_dict(strict=True), comparing every parameter.
safetensors_ref.py write OUT EXPECT.npz
    Writes a safetensors file by hand with tensors in an order of data that
    differs from the header order, a scalar, an empty tensor and metadata;
    EXPECT.npz gets the same arrays for the C side to compare.
"""
import json
import struct
import sys

import numpy as np


def fail(msg):
    print("MISMATCH:", msg)
    sys.exit(1)


def parse(path):
    raw = open(path, "rb").read()
    if len(raw) < 8:
        fail("short file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n % 8 != 0:
        fail("header length %d not a multiple of 8" % n)
    hdr_bytes = raw[8:8 + n]
    if hdr_bytes.rstrip(b" ") != hdr_bytes.rstrip():
        fail("header padding is not spaces")
    hdr = json.loads(hdr_bytes.decode("utf-8"))
    data = raw[8 + n:]
    meta = hdr.pop("__metadata__", None)
    out = {}
    at = 0
    for name, ent in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if set(ent) != {"dtype", "shape", "data_offsets"}:
            fail("%s: fields %s" % (name, sorted(ent)))
        if ent["dtype"] != "F32":
            fail("%s: dtype %s" % (name, ent["dtype"]))
        b, e = ent["data_offsets"]
        if b != at:
            fail("%s: begins at %d, expected %d" % (name, b, at))
        count = int(np.prod(ent["shape"], dtype=np.int64))
        if e - b != 4 * count:
            fail("%s: %d bytes for shape %s" % (name, e - b, ent["shape"]))
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(ent["shape"])
        at = e
    if at != len(data):
        fail("%d data bytes after the last tensor" % (len(data) - at))
    return list(hdr), out, meta


def reference_module():
    import torch
    import torch.nn as nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_proj = nn.Linear(5, 7)
            self.lstm = nn.LSTM(7, 4, num_layers=1, batch_first=True)
            self.fc = nn.Linear(4, 3)

    return torch, M()


def check(path, expect_path, meta_path):
    names, got, meta = parse(path)
    exp = np.load(expect_path)
    if sorted(got) != sorted(exp.files):
        fail("names %s vs %s" % (sorted(got), sorted(exp.files)))
    for k in exp.files:
        a, b = got[k], exp[k]
        if a.shape != b.shape:
            fail("%s: shape %s vs %s" % (k, a.shape, b.shape))
        if a.astype("<f4").tobytes() != b.astype("<f4").tobytes():
            fail("%s: values differ" % k)
    want_meta = json.load(open(meta_path))
    if (meta or {}) != want_meta:
        fail("metadata %r vs %r" % (meta, want_meta))
    torch, m = reference_module()
    sd = {k: torch.from_numpy(v.copy()) for k, v in got.items()}
    sd.pop("x_mean", None)
    sd.pop("x_std", None)
    m.load_state_dict(sd, strict=True)
    for k, v in m.state_dict().items():
        if not np.array_equal(v.numpy(), got[k]):
            fail("%s: differs after load_state_dict" % k)
    print("ok: %d tensors, header order %s" % (len(got), names[:3]))


def write(path, expect_path):
    rng = np.random.default_rng(5)
    arrays = {
        "fc.weight": rng.standard_normal((3, 4)).astype("<f4"),
        "fc.bias": rng.standard_normal(3).astype("<f4"),
        "a.scalar": np.array(2.5, "<f4"),
        "empty": np.zeros((0, 3), "<f4"),
        "conv.weight": rng.standard_normal((2, 3, 4, 5)).astype("<f4"),
        "x_mean": np.linspace(-1, 1, 10).astype("<f4"),
    }
    arrays["fc.weight"][0, 0] = np.float32(1e-40)  # a subnormal survives
    arrays["fc.weight"][0, 1] = -0.0
    data_order = ["x_mean", "conv.weight", "empty", "fc.bias", "a.scalar", "fc.weight"]
    hdr = {"__metadata__": {"format": "pt", "kind": "lstm", "unit": "N\u00b7m/kg"}}
    blob = b""
    for k in data_order:
        b = arrays[k].tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(arrays[k].shape), "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
    # header key order differs from data order: sort by name
    hdr = dict(sorted(hdr.items()))
    h = json.dumps(hdr, ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)
    np.savez(expect_path, **arrays)


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(*sys.argv[2:5])
    else:
        write(*sys.argv[2:4])

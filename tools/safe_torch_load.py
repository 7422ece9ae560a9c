"""Reads a torch.save checkpoint (the zip format of PyTorch >= 1.6) without
running any code from it: a restricted unpickler, numpy only (no torch).

    obj = load(path)    # dicts, lists, str, numbers, None, numpy arrays, Tensor

Why not torch.load: plain torch.load unpickles arbitrary globals (a pickle
may call os.system). torch.load(pickle_module=...) can restrict the globals,
but torch 1.13 still (a) hands a zip holding constants.pkl to torch.jit.load,
(b) resolves every global whose name contains "Storage" before the
restriction sees it, and (c) trusts the element count the pickle gives for
a storage: a 16-byte record declared as 2**20 floats becomes a tensor that
reads 4 MiB past its buffer (measured). So this module reads the zip itself.

What unpickling may construct (everything else is refused, naming the global,
before anything is called):
  - the containers pickle builds from opcodes alone: dict, list, tuple, str,
    bytes, int, float, bool, None;
  - collections.OrderedDict (state_dict);
  - torch.{Float,Double,Half,Long,Int,Short,Char,Byte,Bool}Storage: a marker
    holding the element type, nothing else;
  - torch._utils._rebuild_tensor_v2: a Tensor (below) viewing a storage with
    a checked offset, non-negative sizes and strides that stay inside it, no
    backward hooks;
  - numpy arrays the way numpy pickles them: numpy.core.multiarray._reconstruct
    (or numpy 2's numpy._core.multiarray._reconstruct, the same call) only as
    _reconstruct(numpy.ndarray, (0,), b'b'), numpy.ndarray, numpy.dtype only
    for 'f2', 'f4', 'f8' (so no object arrays), and _codecs.encode only as
    encode(str, 'latin1') (how protocol 2 spells bytes).
Storages come from persistent ids ('storage', <Storage marker>, key, location,
numel) that this module resolves: key must be digits, the record
<archive>/data/<key> must hold exactly numel elements (little-endian; a
'byteorder' record must say 'little'). Caps: file 512 MiB, data.pkl 16 MiB,
4096 records, 512 MiB of records in all.
Errors raise Refused with a one-line message.
"""
import collections
import io
import math
import pickle
import re
import zipfile

import numpy as np

MAX_FILE = 512 << 20
MAX_PICKLE = 16 << 20
MAX_RECORDS = 4096
MAX_TOTAL = 512 << 20


class Refused(pickle.UnpicklingError):
    """A one-line reason why a file is not read."""


class _Frozen:
    """Attributes fixed at construction: a pickle's BUILD opcode cannot change them."""
    __slots__ = ()

    def __setattr__(self, k, v):
        raise Refused("a pickle tried to set attribute %r of a %s" % (k, type(self).__name__))


class StorageType(_Frozen):
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        object.__setattr__(self, "dtype", np.dtype(dtype))


class Storage(_Frozen):
    __slots__ = ("data",)  # 1-D read-only numpy array

    def __init__(self, data):
        object.__setattr__(self, "data", data)


class Tensor(_Frozen):
    """A tensor of the checkpoint: .array (numpy, C-contiguous copy), .dtype_name ('float32', ...)."""
    __slots__ = ("array",)

    def __init__(self, array):
        object.__setattr__(self, "array", array)

    @property
    def dtype_name(self):
        return self.array.dtype.name


_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
             "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
             "BoolStorage": "?"}


def _is_int(v):
    return type(v) is int


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *rest):
    if rest or type(storage) is not Storage or not _is_int(offset) or type(requires_grad) is not bool:
        raise Refused("malformed tensor record")
    if type(size) is not tuple or type(stride) is not tuple or len(size) != len(stride) or len(size) > 8:
        raise Refused("malformed tensor record (size/stride)")
    if not all(_is_int(v) and 0 <= v < 1 << 40 for v in size + stride) or not 0 <= offset < 1 << 40:
        raise Refused("malformed tensor record (negative or huge size, stride or offset)")
    if not isinstance(hooks, collections.OrderedDict) or hooks:
        raise Refused("a tensor record carries backward hooks")
    data = storage.data
    n = math.prod(size)
    if n > MAX_TOTAL // data.dtype.itemsize:
        raise Refused("a tensor of %d elements (more than the file may hold)" % n)
    if n:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= data.size:
            raise Refused("a tensor reaches element %d of a storage of %d" % (last, data.size))
    item = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(data[offset:] if n else data[:0], shape=size,
                                           strides=tuple(st * item for st in stride), writeable=False)
    return Tensor(np.ascontiguousarray(view).copy())


def _ndarray_reconstruct(subtype, shape, typecode):
    # numpy's __reduce__: _reconstruct(ndarray, (0,), b'b'), then BUILD sets the real state
    if subtype is not np.ndarray or shape != (0,) or typecode != b"b":
        raise Refused("numpy _reconstruct called with unexpected arguments")
    return np.ndarray(shape=(0,), dtype="b")


def _np_dtype(name, align=False, copy=False, *rest):
    if rest or name not in ("f2", "f4", "f8") or align is not False:
        raise Refused("numpy dtype %r is not allowed (floating point only)" % (name,))
    return np.dtype(name, False, True)


def _latin1(s, encoding):
    if type(s) is not str or encoding != "latin1":
        raise Refused("_codecs.encode is only allowed as encode(str, 'latin1')")
    return s.encode("latin1")


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _ndarray_reconstruct,  # numpy 2's module path
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _np_dtype,
    ("_codecs", "encode"): _latin1,
}
ALLOWED.update({("torch", k): StorageType(v) for k, v in _STORAGES.items()})


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, zf, prefix):
        super().__init__(f, encoding="utf-8")
        self._zf, self._prefix, self._storages = zf, prefix, {}

    def find_class(self, module, name):
        f = ALLOWED.get((module, name))
        if f is None:
            raise Refused("the pickle references %.80s.%.80s, which is not on the allow-list" % (module, name))
        return f

    def persistent_load(self, pid):
        if (type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage" or type(pid[1]) is not StorageType
                or type(pid[2]) is not str or not re.fullmatch(r"[0-9]{1,9}", pid[2]) or not _is_int(pid[4])):
            raise Refused("malformed storage reference in the pickle")
        st, key, numel = pid[1], pid[2], pid[4]
        if key in self._storages:
            s = self._storages[key]
            if s.data.dtype != st.dtype or s.data.size != numel:
                raise Refused("storage %s is referenced with two types or sizes" % key)
            return s
        name = "%s/data/%s" % (self._prefix, key)
        try:
            info = self._zf.getinfo(name)
        except KeyError:
            raise Refused("storage record %s is missing" % name) from None
        if not 0 <= numel <= MAX_TOTAL or info.file_size != numel * st.dtype.itemsize:
            raise Refused("storage record %s holds %d bytes, the pickle declares %d elements of %d bytes"
                          % (name, info.file_size, numel, st.dtype.itemsize))
        raw = _read(self._zf, info, MAX_TOTAL)
        s = Storage(np.frombuffer(raw, dtype=st.dtype))
        self._storages[key] = s
        return s


def _read(zf, info, cap):
    with zf.open(info) as f:
        b = f.read(cap + 1)
    if len(b) > cap:
        raise Refused("record %s is larger than %d bytes" % (info.filename, cap))
    return b


def load(path):
    """The object a torch.save zip at path holds (see the module docstring)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as e:
        raise Refused(e.strerror or str(e)) from None
    if len(raw) > MAX_FILE:
        raise Refused("larger than %d MiB" % (MAX_FILE >> 20))
    if raw[:4] != b"PK\x03\x04":
        raise Refused("not a torch.save zip file (the legacy non-zip format is not read)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise Refused("not a readable zip file (%s)" % str(e).split("\n")[0]) from None
    if not infos or len(infos) > MAX_RECORDS:
        raise Refused("%d zip records (expected 1 to %d)" % (len(infos), MAX_RECORDS))
    if sum(i.file_size for i in infos) > MAX_TOTAL:
        raise Refused("zip records larger than %d MiB in all" % (MAX_TOTAL >> 20))
    prefix = infos[0].filename.split("/")[0]
    names = set()
    for i in infos:
        head, _, rest = i.filename.partition("/")
        if head != prefix or not rest:
            raise Refused("zip record %.100r is outside the archive folder %r" % (i.filename, prefix))
        names.add(rest)
    if "constants.pkl" in names or any(n.startswith("code/") for n in names):
        raise Refused("a TorchScript archive, not a torch.save checkpoint")
    if "data.pkl" not in names:
        raise Refused("no %s/data.pkl record (not a torch.save checkpoint)" % prefix)
    try:
        if "byteorder" in names and _read(zf, zf.getinfo(prefix + "/byteorder"), 16) != b"little":
            raise Refused("tensors are not stored little-endian")
        pk = _read(zf, zf.getinfo(prefix + "/data.pkl"), MAX_PICKLE)
        return _Unpickler(io.BytesIO(pk), zf, prefix).load()
    except Refused:
        raise
    except Exception as e:  # damaged zip data, or whatever pickle and numpy raise on hostile bytes
        raise Refused("unreadable checkpoint (%s: %s)" % (type(e).__name__, str(e).split("\n")[0][:200])) from None

"""Reads a torch.save checkpoint (the zip format of PyTorch >= 1.6) without
running any code from it: a restricted unpickler, numpy only (no torch).

    obj = load(path)    # dicts, lists, str, numbers, None, numpy arrays, Tensor

Why not torch.load: plain torch.load unpickles arbitrary globals (a pickle
may call os.system). Its pickle_module argument does not help with Debian's
torch 1.13: torch.load replaces any pickle_module by the standard pickle
unless weights_only=True (serialization.py: `else: pickle_module = pickle`),
so a restricted Unpickler passed there is never used and os.system runs
(measured). torch 1.13 also hands a zip holding constants.pkl to
torch.jit.load, and trusts the element count a pickle gives for a storage: a
16-byte record declared as 2**20 floats becomes a tensor reading 4 MiB past
its buffer (measured). So this module reads the zip itself.

Before unpickling, the whole data.pkl is walked with pickletools (nothing is
built): every opcode must be one that torch.save's pickles use (no INST,
OBJ, NEWOBJ, EXT*, buffers, bytearrays, 8-byte lengths ...), every argument
complete, memo indices 0, 1, 2 ... in order (the C unpickler's memo is an
array as long as the largest index), STOP the last byte; so no opcode can ask
for more memory than the data holds.

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
4096 records, 512 MiB of records in all; the tensors together at most 4 times
the bytes of the storage records (a hostile pickle cannot make the reader
allocate much more than the file holds).
Errors raise Refused with a one-line message.
"""
import collections
import io
import math
import os
import pickle
import pickletools
import re
import stat
import zipfile

import numpy as np

MAX_FILE = 512 << 20
MAX_PICKLE = 16 << 20
MAX_RECORDS = 4096
MAX_TOTAL = 512 << 20
VIEWS_PER_BYTE = 4  # tensors may show each stored byte this often in all (tied weights share storage)


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


def _shown(s):
    """A name from the file, printable and short, for a message."""
    return re.sub(r"[^\x21-\x7e]", "?", str(s))[:80]


def _is_int(v):
    return type(v) is int


def _rebuild_tensor_v2(budget, storage, offset, size, stride, requires_grad, hooks, *rest):
    """A Tensor copied out of storage; budget: the bytes it may take at most."""
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
    if n * data.dtype.itemsize > budget:
        raise Refused("tensors larger in all than %d times the stored data" % VIEWS_PER_BYTE)
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
    ("torch._utils", "_rebuild_tensor_v2"): None,  # the unpickler's _tensor (it keeps the budget)
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _ndarray_reconstruct,  # numpy 2's module path
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _np_dtype,
    ("_codecs", "encode"): _latin1,
}
ALLOWED.update({("torch", k): StorageType(v) for k, v in _STORAGES.items()})


# The opcodes of torch.save's pickles (protocol 2, and the protocol 3-5 spellings of the same).
OPCODES = {"PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE",
           "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "SETITEM", "SETITEMS", "APPEND", "APPENDS", "BINPUT",
           "LONG_BINPUT", "MEMOIZE", "BINGET", "LONG_BINGET", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT",
           "NONE", "NEWTRUE", "NEWFALSE", "BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES", "GLOBAL",
           "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID"}


def check_opcodes(pk):
    """Walks the pickle without building anything (see the module docstring)."""
    last, puts = None, 0
    try:
        for op, arg, pos in pickletools.genops(pk):
            if op.name not in OPCODES:
                raise Refused("the pickle uses opcode %s at byte %d, which torch.save does not write" % (op.name, pos))
            # the C unpickler's memo is an array as long as the largest index: indices must be
            # what pickle writes (0, 1, 2 ... in order), or a 4-byte index could ask for GiBs
            if op.name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
                if op.name != "MEMOIZE" and arg != puts:
                    raise Refused("malformed pickle (memo index %d at byte %d, expected %d)" % (arg, pos, puts))
                puts += 1
            elif op.name in ("BINGET", "LONG_BINGET") and arg >= puts:
                raise Refused("malformed pickle (memo index %d at byte %d was never set)" % (arg, pos))
            last = (op.name, pos)
    except ValueError as e:
        raise Refused("malformed pickle (%s)" % str(e).split("\n")[0][:200]) from None
    if last != ("STOP", len(pk) - 1):
        raise Refused("malformed pickle (bytes after STOP)")


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, zf, prefix):
        super().__init__(f, encoding="utf-8")
        stored = sum(i.file_size for i in zf.infolist() if i.filename.startswith(prefix + "/data/"))
        self._zf, self._prefix, self._storages = zf, prefix, {}
        self._budget = VIEWS_PER_BYTE * stored

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._tensor
        f = ALLOWED.get((module, name))
        if f is None:
            raise Refused("the pickle references %s.%s, which is not on the allow-list" % (_shown(module), _shown(name)))
        return f

    def _tensor(self, *args):
        t = _rebuild_tensor_v2(self._budget, *args)
        self._budget -= t.array.nbytes
        return t

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


def read_file(path):
    """The bytes of a regular file of at most MAX_FILE bytes."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise Refused("not a regular file")
            if st.st_size > MAX_FILE:
                raise Refused("larger than %d MiB" % (MAX_FILE >> 20))
            raw = f.read(st.st_size + 1)
    except OSError as e:
        raise Refused(e.strerror or str(e)) from None
    if len(raw) > MAX_FILE:
        raise Refused("larger than %d MiB" % (MAX_FILE >> 20))
    return raw


def load(path):
    """The object a torch.save zip at path holds (see the module docstring)."""
    return loads(read_file(path))


def loads(raw):
    """The object a torch.save zip held in the bytes raw holds."""
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
        check_opcodes(pk)
        return _Unpickler(io.BytesIO(pk), zf, prefix).load()
    except Refused:
        raise
    except Exception as e:  # damaged zip data, or whatever pickle and numpy raise on hostile bytes
        raise Refused("unreadable checkpoint (%s: %s)" % (type(e).__name__, str(e).split("\n")[0][:200])) from None

"""Writes tiny safetensors seeds for fuzz_safetensors (run with /usr/bin/python3)."""
import json, os, struct
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seeds', 'safetensors')
os.makedirs(out, exist_ok=True)

def st(name, tensors, meta=None, pad=True, order=None):
    hdr, blob = {}, b''
    for k in (order or list(tensors)):
        b = np.asarray(tensors[k], '<f4').tobytes()
        hdr[k] = {'dtype': 'F32', 'shape': list(np.shape(tensors[k])), 'data_offsets': [len(blob), len(blob) + len(b)]}
        blob += b
    if meta is not None:
        hdr['__metadata__'] = meta
    h = json.dumps(hdr, separators=(',', ':')).encode()
    if pad:
        h += b' ' * (-len(h) % 8)
    open(os.path.join(out, name + '.safetensors'), 'wb').write(struct.pack('<Q', len(h)) + h + blob)

abc = {'a': [1.0, 2.0], 'b': [-3.0, 0.5], 'c': [[7.0]]}
st('abc', abc, {'kind': 'lstm', 'format': 'pt'})
st('abc_reordered', abc, order=['c', 'a', 'b'])
st('norm', dict(abc, x_mean=[0.0, 1.0], x_std=[1.0, 2.0]), {'unit': 'N/kg'})
st('scalar_empty', {'s': np.float32(2.5), 'e': np.zeros((0, 3))}, pad=False)
st('four_dims', {'w': np.ones((1, 2, 1, 2))})
st('empty_header', {})

# 'J' mode of fuzz_safetensors: J<header>\xff<data>, header length implied.
def j(name, tensors, meta=None):
    hdr, blob = {}, b''
    for k, v in tensors.items():
        b = np.asarray(v, '<f4').tobytes()
        hdr[k] = {'dtype': 'F32', 'shape': list(np.shape(v)), 'data_offsets': [len(blob), len(blob) + len(b)]}
        blob += b
    if meta is not None:
        hdr['__metadata__'] = meta
    open(os.path.join(out, name + '.j'), 'wb').write(b'J' + json.dumps(hdr, separators=(',', ':')).encode() + b'\xff' + blob)

j('j_abc', abc, {'kind': 'gru'})
j('j_norm', dict(abc, x_mean=[0.0], x_std=[1.0]))
j('j_scalar', {'s': np.float32(1.0), 'e': np.zeros((2, 0))})

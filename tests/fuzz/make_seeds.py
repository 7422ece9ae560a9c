"""Regenerates the fuzz seeds with numpy (run with Debian's /usr/bin/python3).
Each seed stays under 8 KB."""
import io, os, sys, zipfile
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
npy_dir, npz_dir = os.path.join(here, 'seeds', 'npy'), os.path.join(here, 'seeds', 'npz')

def npy(name, arr, version=None):
    with open(os.path.join(npy_dir, name + '.npy'), 'wb') as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)

npy('f4', np.arange(6, dtype='<f4') / 3)
npy('f8_fortran', np.asfortranarray(np.arange(12, dtype='<f8').reshape(3, 4)))
npy('i4_big_fortran', np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)))
npy('u8', np.array([0, 2**64 - 1], 'u8'))
npy('bool', np.array([True, False]))
npy('unicode', np.array(['H01', 'Zo\u00eb', '\U0001F600']))
npy('bytes', np.array([b'ab', b'c']))
npy('scalar', np.float64(2.5))
npy('empty', np.zeros((0, 3), 'f4'))
npy('v2', np.arange(4, dtype='<i2'), (2, 0))
npy('v3', np.array(['med', 'fast']), (3, 0))

IN = ['hip_flexion_r', 'hip_adduction_r', 'hip_rotation_r', 'hip_flexion_l', 'hip_adduction_l',
      'hip_rotation_l', 'knee_angle_r', 'ankle_angle_r', 'knee_angle_l', 'ankle_angle_l']
FO = ['addbrev_r', 'addlong_r', 'addmag_r', 'grac_r', 'iliopsoas_r', 'recfem_r', 'sart_r', 'glmax_r',
      'bflh_r', 'hamstring_r', 'glmed_r', 'glmin_r', 'tfl_r', 'piri_r']
MO = ['hip_flexion_r_moment', 'hip_adduction_r_moment', 'hip_rotation_r_moment']

def g2h(name, oc, n=1, **extra):
    x = np.zeros((n, 180, 10), 'f4'); x[:, ::30, :] = 1.5
    y = np.zeros((n, 180, len(oc)), 'f4'); y[:, ::45, :] = 2.0
    np.savez_compressed(os.path.join(npz_dir, name), X=x, Y=y, in_cols=np.array(IN[::-1]), out_cols=np.array(oc[::-1]),
                        subject_id=np.array(['H%02d' % (i + 1) for i in range(n)]), height_m=np.full(n, 1.7),
                        weight_kg=np.full(n, 70.0), speed_label=np.array(['med'] * n), **extra)

g2h('g2h_forces', FO)
g2h('g2h_moments', MO, n=2, cadence_spm=np.array([115.0, 78.0]), trial=np.array([1, 2], 'i4'))
# The public Gait2Hip-60 layout: no trial, no cadence_spm; float64 height/weight.
np.savez_compressed(os.path.join(npz_dir, 'g2h_public'), X=np.zeros((3, 180, 10), 'f4'), Y=np.ones((3, 180, 3), 'f4'),
                    subject_id=np.array(['H01', 'H02', 'H01']), height_m=np.array([1.72, 1.65, 1.72]),
                    weight_kg=np.array([70.3, 58.1, 70.3]), speed_label=np.array(['slow', 'slow', 'slow']),
                    in_cols=np.array(IN), out_cols=np.array(MO))
np.savez_compressed(os.path.join(npz_dir, 'x_only'), X=np.zeros((1, 180, 10)))
np.savez(os.path.join(npz_dir, 'stored_mixed'), a=np.arange(3, dtype='>f8'), s=np.array(['x', 'yz']),
         i=np.array([7, 8], 'i8'), b=np.array([b'q']))
with zipfile.ZipFile(os.path.join(npz_dir, 'v3_member.npz'), 'w', zipfile.ZIP_DEFLATED) as z:
    b = io.BytesIO(); np.lib.format.write_array(b, np.array(['\u65e5']), version=(3, 0)); z.writestr('u.npy', b.getvalue())

# Record-mode seeds for fuzz_npz: b'R' + (u8 name length, name, u32 length, npy)*.
def records(name, arrays, header_only=()):
    out = bytearray(b'R')
    for k, v in arrays.items():
        b = io.BytesIO(); np.lib.format.write_array(b, v, allow_pickle=False); raw = b.getvalue()
        full = len(raw)
        if k in header_only:  # the harness zero-pads up to the declared length; must be last
            raw = raw[:full - v.nbytes]
        out += bytes([len(k)]) + k.encode() + full.to_bytes(4, 'little') + raw
    open(os.path.join(npz_dir, name + '.rec'), 'wb').write(out)

x1 = np.zeros((1, 180, 10), 'f4'); x1[0, ::40] = 3.0
records('rec_x_only', dict(X=x1, in_cols=np.array(IN[::-1])))
# N = 0 keeps a labelled record under 8 KB; mutations grow the shapes.
records('rec_moments', dict(X=np.zeros((0, 180, 10), 'f4'), Y=np.ones((0, 180, 3), 'f4'), out_cols=np.array(MO),
                            subject_id=np.array([], 'i8'), height_m=np.array([]), weight_kg=np.array([], 'i2'),
                            speed_label=np.array([], 'S4'), trial=np.array([], 'u1'), in_cols=np.array(IN)))
records('rec_forces', dict(X=np.zeros((0, 180, 10), 'f8'), Y=np.ones((0, 180, 14), 'f8'), out_cols=np.array(FO[::-1]),
                           subject_id=np.array([], 'U3'), height_m=np.array([]), weight_kg=np.array([]),
                           speed_label=np.array([], 'U4'), cadence_spm=np.array([])))
# N = 1 labelled, X zero-padded by the harness (X last, header only).
records('rec_n1_padded', dict(Y=np.ones((1, 180, 3), 'f4'), out_cols=np.array(MO[::-1]), subject_id=np.array(['P03']),
                              height_m=np.array([1.8]), weight_kg=np.array([80], 'i2'), speed_label=np.array(['self']),
                              trial=np.array([2], 'u1'), cadence_spm=np.float32([100]), in_cols=np.array(IN),
                              X=np.zeros((1, 180, 10), 'f4')), header_only=('X',))
# Public layout (no trial: numbered per subject and speed), N = 2, X zero-padded.
records('rec_public_padded', dict(Y=np.ones((2, 180, 3), 'f4'), out_cols=np.array(MO), subject_id=np.array(['H01', 'H01']),
                                  height_m=np.array([1.72, 1.72]), weight_kg=np.array([70.3, 70.3]),
                                  speed_label=np.array(['med', 'med']), in_cols=np.array(IN),
                                  X=np.zeros((2, 180, 10), 'f4')), header_only=('X',))

for d in (npy_dir, npz_dir):
    for f in os.listdir(d):
        assert os.path.getsize(os.path.join(d, f)) < 8192, f

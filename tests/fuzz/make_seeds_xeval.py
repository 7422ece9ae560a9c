"""Writes fuzz seeds for the cross-site evaluation body parser
(crypto/xeval.h): well-formed bodies with 0, 1 and 3 recipients and random
key material (the parser checks structure, not cryptography)."""
import os, random, struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'seeds', 'xeval_msg')
os.makedirs(out, exist_ok=True)
rnd = random.Random(1)
def rb(n): return bytes(rnd.randrange(256) for _ in range(n))
def name(s): return bytes([len(s)]) + s.encode()
def body(sender, recipients, L):
    b = b'GFXE' + struct.pack('<IQ', 1, 7) + name(sender) + struct.pack('<I', len(recipients))
    for r in recipients:
        b += name(r) + rb(60)
    return b + struct.pack('<Q', 28 + 4 * L) + rb(28 + 4 * L)
seeds = {'none': body('alpha', [], 1), 'one': body('alpha', ['beta'], 16),
         'three': body('imu-clinic', ['optical-lab', 'senior-centre', 'video-clinic'], 64)}
for n, data in seeds.items():
    with open(os.path.join(out, n + '.bin'), 'wb') as f:
        f.write(data)

"""Writes fuzz seeds for the secure-aggregation message parsers: one valid
message of every type (round 1, parties 1..5, random key material and a
fake certificate; the parsers check structure, not cryptography)."""
import os, random, struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'seeds', 'secagg_msg')
os.makedirs(out, exist_ok=True)
rnd = random.Random(1)
def rb(n): return bytes(rnd.randrange(256) for _ in range(n))
def msg(t, body): return b'GFSA' + bytes([2, t, 0, 0]) + struct.pack('<QI', 1, len(body)) + body
def advert(u, cert_len=300): return struct.pack('<I', u) + rb(64) + struct.pack('<H', cert_len) + rb(cert_len) + rb(64)
ENTRY_CT = 12 + 88 + 16 + 2 * 32  # GCM nonce, ciphertext, tag, commitments to the s and b shares
seeds = {
    'advert': msg(1, advert(2)),
    'advert_list': msg(2, struct.pack('<I', 3) + advert(1) + advert(2, 200) + advert(5, 1)),
    'shares': msg(3, struct.pack('<II', 1, 2) + rb(3 * 32) + b''.join(struct.pack('<I', v) + rb(ENTRY_CT) for v in (2, 4))),
    'routed': msg(4, struct.pack('<II', 3, 2) + b''.join(struct.pack('<I', v) + rb(ENTRY_CT) for v in (1, 5))),
    'masked': msg(5, struct.pack('<II', 4, 16) + rb(64)),
    'survivors': msg(6, struct.pack('<I', 3) + struct.pack('<III', 1, 2, 4)),
    'consist': msg(7, struct.pack('<I', 2) + rb(64)),
    'unmask_req': msg(8, struct.pack('<I', 3) + struct.pack('<III', 1, 2, 4) + struct.pack('<I', 2)
                      + struct.pack('<I', 1) + rb(64) + struct.pack('<I', 4) + rb(64)),
    'unmask': msg(9, struct.pack('<II', 2, 2) + struct.pack('<IB', 1, 0) + rb(40) + struct.pack('<IB', 3, 1) + rb(40)),
}
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)

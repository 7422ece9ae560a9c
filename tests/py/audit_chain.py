"""Independent recomputation of the coordinator's audit chain (coordinator/audit.h).

usage: audit_chain.py DB check          -> prints "ok N HEAD" or "bad SEQ"
       audit_chain.py DB rehash SEQ     -> recomputes row SEQ's sha256 from its stored
                                           fields and prev (an attacker who edits a row
                                           and fixes its own hash)
"""
import hashlib
import sqlite3
import struct
import sys


def row_hash(seq, t, event, detail, prev):
    ev, de = event.encode(), detail.encode()
    m = hashlib.sha256()
    m.update(b"gaitfed-audit-v1\0")
    m.update(struct.pack("<QqI", seq, t, len(ev)))
    m.update(ev)
    m.update(struct.pack("<I", len(de)))
    m.update(de)
    m.update(prev)
    return m.digest()


def main():
    db = sqlite3.connect(sys.argv[1])
    if sys.argv[2] == "rehash":
        seq = int(sys.argv[3])
        t, ev, de, prev = db.execute(
            "SELECT time_ms, event, detail, prev_sha256 FROM audit WHERE seq=?", (seq,)).fetchone()
        h = row_hash(seq, t, ev, de, bytes.fromhex(prev)).hex()
        db.execute("UPDATE audit SET sha256=? WHERE seq=?", (h, seq))
        db.commit()
        return
    prev = bytes(32)
    n = 0
    for seq, t, ev, de, ph, hh in db.execute(
            "SELECT seq, time_ms, event, detail, prev_sha256, sha256 FROM audit ORDER BY seq"):
        h = row_hash(seq, t, ev, de, prev)
        if seq != n + 1 or bytes.fromhex(ph) != prev or h.hex() != hh:
            print("bad", seq)
            return
        prev = h
        n += 1
    print("ok", n, prev.hex() if n else "")


main()

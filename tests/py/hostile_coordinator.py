"""A hostile coordinator for tests/unit/test_consent.c: a TLS server with a real
coordinator certificate of the consortium (mutual TLS, TLS 1.3, the node's
certificate checked against the consortium CA) that asks every node for its
input statistics and records every request.

    hostile_coordinator.py --cert C --key K --ca CA --port-file F --log L
                           [--normalization own|global|model|absent]

GET /v1/work answers the statistics work item exactly as coordinator/api.c
(get_work, train_json, secagg_json) builds it for round 1 of a federation with
"normalization": "global" (docs/PROTOCOL.md "The work item"): state "train",
"statistics": true, secagg.L = 84 words, clip 65535, scale 1 — except that
train.normalization is what --normalization says (the lie a hostile
coordinator tells a node whose config says "own"). Once anything has been
POSTed it answers "wait". Every request is one line of L:
"GET /v1/work" or "POST <path> <bytes>", flushed at once. Runs until killed.
"""
import argparse
import http.server
import json
import os
import secrets
import ssl
import sys
import threading
import time


def work_item(norm, posted):
    if posted:
        return {"state": "wait", "round": 1, "attempt": 1, "retry_after_ms": 200, "secure_aggregation": True}
    train = {"epochs": 1, "lr": 0.001, "batch": 32, "weight_decay": 0.0, "grad_clip": 0.0, "mu": 0.0,
             "seed": 7 * 1000003 + 1, "normalization": norm, "task": "forces"}
    if norm == "absent":
        del train["normalization"]
    return {"state": "train", "round": 1, "attempt": 1, "retry_after_ms": 200, "secure_aggregation": True,
            "deadline_ms": int(time.time() * 1000) + 600000,
            "model": {"version": 0, "sha256": "ab" * 32, "bytes": 1000},
            "statistics": True, "index": 1, "train": train,
            "secagg": {"round_id": 1 * 65536 + 1, "nonce": secrets.token_hex(32), "n": 3, "k": 2, "t": 2,
                       "L": 84, "clip": 65535.0, "scale": 1.0}}


def main():
    ap = argparse.ArgumentParser()
    for a in ("--cert", "--key", "--ca", "--port-file", "--log"):
        ap.add_argument(a, required=True)
    ap.add_argument("--normalization", default="own", choices=["own", "global", "model", "absent"])
    args = ap.parse_args()
    log = open(args.log, "a", buffering=1)
    lock = threading.Lock()
    state = {"posted": False}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # the request log is ours
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with lock:
                log.write("GET %s\n" % self.path)
                posted = state["posted"]
            if self.path == "/v1/work":
                self.reply(200, work_item(args.normalization, posted))
            else:
                self.reply(409, {"error": {"code": "wrong_phase", "message": "not now"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n) if n > 0 else b""
            with lock:
                log.write("POST %s %d\n" % (self.path, len(body)))
                state["posted"] = True
            self.reply(202, {"status": "accepted"})

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    sys.stderr.write("hostile coordinator on port %d, normalization %s\n" % (srv.server_address[1], args.normalization))
    srv.serve_forever()


if __name__ == "__main__":
    main()

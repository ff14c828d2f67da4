#!/usr/bin/env python3
"""A webhook receiver for the hook tests: python3's http.server.

hook_receiver.py DIR [PORT]
  Listens on 127.0.0.1:PORT (0: any free port) and writes the port to
  DIR/port. Each POST is recorded as one JSON line in DIR/received.jsonl
  when it arrives (before answering): delivery id, event type header, the
  body's seq and type, and whether X-Modelfs-Signature is the HMAC-SHA256
  of the body under the key in DIR/secret. Answers 401 to a bad signature;
  503 while DIR/fail exists; waits while DIR/slow exists (at most 30 s)
  before answering 200.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        sig = self.headers.get("X-Modelfs-Signature", "")
        key = open(os.path.join(DIR, "secret"), "rb").read()
        want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(sig, want)
        try:
            ev = json.loads(body)
        except ValueError:
            ev = {}
        rec = {"id": self.headers.get("X-Modelfs-Delivery"), "event": self.headers.get("X-Modelfs-Event"),
               "seq": ev.get("seq"), "type": ev.get("type"), "sig_ok": ok, "path": self.path,
               "content_type": self.headers.get("Content-Type"), "t_ns": time.time_ns()}
        with open(os.path.join(DIR, "received.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
        if not ok:
            self.send_response(401)
        elif os.path.exists(os.path.join(DIR, "fail")):
            self.send_response(503)
        else:
            deadline = time.time() + 30
            while os.path.exists(os.path.join(DIR, "slow")) and time.time() < deadline:
                time.sleep(0.05)
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = HTTPServer(("127.0.0.1", PORT), Handler)
tmp = os.path.join(DIR, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, os.path.join(DIR, "port"))
srv.serve_forever()

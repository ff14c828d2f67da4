#!/usr/bin/env python3
"""A TCP proxy for the multi-host fault tests: forwards 127.0.0.1:PORT to
127.0.0.1:UPSTREAM, and can slow either direction, log requests and count
bytes, so that a test can cut the object store's connection mid-transfer by
killing this process (the shared store itself is never stopped).

  tcp_proxy.py PORT UPSTREAM [--log FILE] [--up-rate BYTES] [--count FILE]
                             [--down-delay SECONDS]

--log FILE         each connection's first request line (and its Range
                   header, if any), one line per connection
--up-rate BYTES    client-to-server bytes at most BYTES a second
--count FILE       the total forwarded client-to-server, rewritten as it grows
--down-delay SECS  sleep after each chunk (up to 64 KiB) the server sends
"""
import argparse
import socket
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("upstream", type=int)
p.add_argument("--log")
p.add_argument("--up-rate", type=int, default=0)
p.add_argument("--count")
p.add_argument("--down-delay", type=float, default=0.0)
a = p.parse_args()

log = open(a.log, "a", buffering=1) if a.log else None
total = [0]
lock = threading.Lock()


def log_request(data):
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    rng = [h for h in head if h.lower().startswith("range:")]
    log.write(head[0] + (" " + rng[0] if rng else "") + "\n")


def pump(src, dst, upward):
    first = True
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if upward and first and log:
                log_request(data)
            first = False
            dst.sendall(data)
            if upward:
                if a.count:
                    with lock:
                        total[0] += len(data)
                        with open(a.count, "w") as f:
                            f.write(str(total[0]))
                if a.up_rate:
                    time.sleep(len(data) / a.up_rate)
            elif a.down_delay:
                time.sleep(a.down_delay)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", a.port))
srv.listen(64)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", a.upstream))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()

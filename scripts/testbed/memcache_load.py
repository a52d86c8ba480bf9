#!/usr/bin/python3
"""A closed-loop memcached load generator: N connections, one request in flight on each, for a
fixed time; prints requests/s and latency percentiles as JSON.

Why not libmemcached-tools' memcslap: it runs a fixed number of operations per thread and prints
only the total time, with no latency percentiles and no time bound, so it cannot report what the
testbed reports for redis (redis-benchmark) and nginx (wrk): requests/s with p50/p99. This does
what redis-benchmark does (one event loop, every client with one outstanding request, text
protocol), timing every request.

    memcache_load.py --server 198.19.0.2 --port 19162 --op get --clients 50 --duration 5

The keys (key:000000 .. key:N-1, --keys) are set before a get run, so every get hits. Values
are --value-size bytes. Exit status 0 with JSON on stdout, or 1 with {"error": ...}.
Only the standard library.
"""

from __future__ import annotations

import argparse
import json
import math
import selectors
import socket
import sys
import time


def percentile(sorted_vals: list[int], p: float) -> float:
    """Nearest-rank percentile of an ascending list (the definition wrk and redis-benchmark
    report, to their resolution)."""
    if not sorted_vals:
        return 0.0
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return float(sorted_vals[k])


class Client:
    """One connection: the request it sends next, what ends a reply, the bytes read so far."""

    __slots__ = ("sock", "sent_ns", "buf", "n")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.sent_ns, self.buf, self.n = sock, 0, b"", 0


def request(op: str, key: int, value: bytes) -> bytes:
    k = b"key:%06d" % key
    if op == "get":
        return b"get " + k + b"\r\n"
    return b"set " + k + b" 0 0 %d\r\n" % len(value) + value + b"\r\n"


def reply_done(op: str, buf: bytes) -> bool:
    """A get reply ends with END (after the value, if any); a set reply is one line."""
    if op == "get":
        return buf.endswith(b"END\r\n")
    return buf.endswith(b"\r\n")


def reply_ok(op: str, buf: bytes) -> bool:
    return buf.startswith(b"VALUE ") if op == "get" else buf == b"STORED\r\n"


def preload(server: str, port: int, keys: int, value: bytes, timeout: float) -> None:
    """Sets every key once over one connection (pipelined in chunks), so gets hit."""
    with socket.create_connection((server, port), timeout=timeout) as s:
        for first in range(0, keys, 100):
            batch = b"".join(request("set", k, value) for k in range(first, min(keys, first + 100)))
            s.sendall(batch)
            want = min(keys, first + 100) - first
            got = b""
            while got.count(b"\r\n") < want:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("server closed the connection during preload")
                got += chunk
            if got.count(b"STORED\r\n") != want:
                raise OSError(f"preload: unexpected reply {got[:80]!r}")


def run(args) -> dict:
    value = b"x" * args.value_size
    if args.op == "get":
        preload(args.server, args.port, args.keys, value, args.connect_timeout)
    sel = selectors.DefaultSelector()
    clients = []
    for _ in range(args.clients):
        s = socket.create_connection((args.server, args.port), timeout=args.connect_timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = Client(s)
        clients.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    lat: list[int] = []
    errors = 0
    key = 0
    now = time.perf_counter_ns
    t0 = now()
    deadline = t0 + int(args.duration * 1e9)
    for c in clients:
        c.sent_ns = now()
        c.sock.send(request(args.op, key % args.keys, value))
        key += 1
    stopping = False
    in_flight = len(clients)
    hard_deadline = deadline + int(args.connect_timeout * 1e9)
    while in_flight:
        events = sel.select(timeout=0.5)
        t = now()
        if t > hard_deadline:
            raise OSError(f"{in_flight} requests unanswered {args.connect_timeout} s after the end")
        stopping = stopping or t >= deadline
        for sk, _ in events:
            c = sk.data
            chunk = c.sock.recv(65536)
            if not chunk:
                raise OSError("server closed a connection")
            c.buf += chunk
            if not reply_done(args.op, c.buf):
                continue
            t = now()
            lat.append(t - c.sent_ns)
            if not reply_ok(args.op, c.buf):
                errors += 1
            c.buf = b""
            if stopping:
                in_flight -= 1
                sel.unregister(c.sock)
                continue
            c.sent_ns = t
            c.sock.send(request(args.op, key % args.keys, value))
            key += 1
    wall = (now() - t0) / 1e9
    for c in clients:
        c.sock.close()
    lat.sort()
    return {"op": args.op, "clients": args.clients, "requests": len(lat), "errors": errors,
            "seconds": round(wall, 4), "rps": round(len(lat) / wall, 1),
            "p50_us": round(percentile(lat, 50) / 1e3, 1),
            "p99_us": round(percentile(lat, 99) / 1e3, 1),
            "avg_us": round(sum(lat) / len(lat) / 1e3, 1) if lat else None,
            "max_us": round(lat[-1] / 1e3, 1) if lat else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=11211)
    ap.add_argument("--op", choices=("get", "set"), default="get")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of load (5)")
    ap.add_argument("--keys", type=int, default=1000, help="key space (1000)")
    ap.add_argument("--value-size", type=int, default=32, help="bytes per value (32)")
    ap.add_argument("--connect-timeout", type=float, default=5.0)
    args = ap.parse_args()
    if args.clients < 1 or args.duration <= 0 or args.keys < 1 or args.value_size < 1:
        print(json.dumps({"error": "--clients, --duration, --keys, --value-size must be > 0"}))
        return 1
    try:
        res = run(args)
    except OSError as e:
        print(json.dumps({"error": str(e)}))
        return 1
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

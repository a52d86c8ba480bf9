#!/usr/bin/python3
"""Integrity traffic for the e2e test; run inside a namespace with `ip netns exec NS`.

  xfer.py tcp-server --bind ADDR --port P [--timeout S]
      accepts one connection, reads to EOF, prints {"bytes": N, "sha256": H}
  xfer.py tcp-client --connect ADDR --port P --bytes N [--timeout S]
      sends N random bytes, prints {"bytes": N, "sha256": H}
  xfer.py udp-server --bind ADDR --port P --count N [--timeout S] [--idle S]
      receives numbered datagrams until N arrived or the sender went quiet; checks each one's
      length and payload and that sequence numbers strictly increase; prints the counts
  xfer.py udp-client --connect ADDR --port P --count N [--rate PPS] [--sizes 12,64,...] [--gso G]
      sends N numbered datagrams of the given sizes in turn, paced at PPS (0: unpaced); with
      --gso G (> 0) up to G same-size datagrams at a time go out as one UDP_SEGMENT (USO)
      sendmsg that the kernel splits, each batch taking the next size; a kernel refusing
      UDP_SEGMENT is an error (exit 1), never a silent fall back to plain sends

Every result is one JSON line on stdout; the exit status is 0 when the transfer ran (the caller
judges the figures), 1 with an "error" key when it could not. Standard library only.
"""

import argparse
import errno
import hashlib
import json
import os
import socket
import struct
import sys
import time

MAGIC = b"MFBU"
HDR = struct.Struct("!4sIH")  # magic, sequence number, datagram length
PATTERN = bytes(range(256)) * 260  # > 64 KiB + 256: payload = PATTERN[seq % 251:][:n]
SOL_UDP = 17            # socket.SOL_UDP
UDP_SEGMENT = 103       # linux/udp.h; Python may not define socket.UDP_SEGMENT
UDP_MAX_SEGMENTS = 64   # kernel limit of segments in one UDP_SEGMENT send
UDP_MAX_PAYLOAD = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header): one super-datagram at most
IP_MTU = 14             # linux/in.h: path MTU of a connected socket (for error messages)


def payload(seq: int, size: int) -> bytes:
    body = size - HDR.size
    off = seq % 251
    return HDR.pack(MAGIC, seq, size) + PATTERN[off:off + body]


def tcp_server(a) -> dict:
    s = socket.socket(socket.AF_INET6 if ":" in a.bind else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(1)
    s.settimeout(a.timeout)
    c, peer = s.accept()
    c.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    dt = time.monotonic() - t0
    c.close()
    s.close()
    return {"bytes": n, "sha256": h.hexdigest(), "peer": peer[0], "seconds": round(dt, 3)}


def tcp_client(a) -> dict:
    data = os.urandom(a.bytes)
    c = socket.create_connection((a.connect, a.port), timeout=a.timeout)
    c.settimeout(a.timeout)
    t0 = time.monotonic()
    view = memoryview(data)
    for i in range(0, len(data), 1 << 20):
        c.sendall(view[i:i + (1 << 20)])
    c.shutdown(socket.SHUT_WR)
    # wait for the server to close: everything was read
    while c.recv(4096):
        pass
    dt = time.monotonic() - t0
    c.close()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "seconds": round(dt, 3)}


def udp_server(a) -> dict:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((a.bind, a.port))
    received = out_of_order = duplicates = corrupted = bad_len = 0
    last = -1
    first_bad = None
    seen = set()
    deadline = time.monotonic() + a.timeout
    started = False
    while received < a.count:
        now = time.monotonic()
        if now >= deadline:
            break
        s.settimeout(min(a.idle if started else a.timeout, deadline - now))
        try:
            b, _ = s.recvfrom(65535)
        except socket.timeout:
            break
        started = True
        if len(b) < HDR.size:
            corrupted += 1
            continue
        magic, seq, size = HDR.unpack_from(b)
        if magic != MAGIC:
            corrupted += 1
            first_bad = first_bad or f"bad magic {magic!r}"
            continue
        if size != len(b):
            bad_len += 1
            first_bad = first_bad or f"seq {seq}: length {len(b)} != {size}"
            continue
        if b != payload(seq, size):
            corrupted += 1
            first_bad = first_bad or f"seq {seq}: payload differs"
            continue
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        received += 1
        if seq <= last:
            out_of_order += 1
            first_bad = first_bad or f"seq {seq} after {last}"
        last = max(last, seq)
    s.close()
    lost = a.count - received
    return {"expected": a.count, "received": received, "lost": lost, "out_of_order": out_of_order,
            "duplicates": duplicates, "corrupted": corrupted, "bad_length": bad_len,
            "first_problem": first_bad}


def udp_client(a) -> dict:
    sizes = [int(x) for x in a.sizes.split(",")]
    if min(sizes) < HDR.size:
        raise SystemExit(f"sizes must be >= {HDR.size}")
    if a.gso < 0:
        raise SystemExit("--gso must be >= 0")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.connect, a.port))
    if a.gso > 0:
        try:
            return udp_client_gso(a, s, sizes)
        finally:
            s.close()
    t0 = time.monotonic()
    sent = nbytes = 0
    for seq in range(a.count):
        if a.rate > 0:
            due = t0 + seq / a.rate
            delay = due - time.monotonic()
            if delay > 0.001:
                time.sleep(delay)
        size = sizes[seq % len(sizes)]
        try:
            s.send(payload(seq, size))
        except (BlockingIOError, ConnectionRefusedError):
            continue  # unpaced bursts may hit a full queue / an ICMP error: counted as lost
        sent += 1
        nbytes += size
    s.close()
    return {"sent": sent, "bytes": nbytes, "seconds": round(time.monotonic() - t0, 3),
            "gso": 0, "sends": sent}


def _gso_refused(s: socket.socket, e: OSError, what: str) -> str:
    """One line naming the errno, what was attempted and the likely cause."""
    name = errno.errorcode.get(e.errno, str(e.errno))
    hint = {errno.EINVAL: "segment + 28 B of headers must fit the path MTU (and at most "
                          f"{UDP_MAX_SEGMENTS} segments, no SO_NO_CHECK)",
            errno.EIO: "no checksum offload on the egress device, or an xfrm route",
            errno.ENOPROTOOPT: "kernel without UDP_SEGMENT (needs Linux >= 4.18)"}.get(e.errno, "")
    try:
        mtu = f", path MTU {s.getsockopt(socket.IPPROTO_IP, IP_MTU)}"
    except OSError:
        mtu = ""
    return (f"UDP_SEGMENT refused by the kernel ({name}: {os.strerror(e.errno)}) {what}{mtu}"
            + (f"; {hint}" if hint else ""))


def udp_client_gso(a, s: socket.socket, sizes: list[int]) -> dict:
    """Batch k: n datagrams of sizes[k % len(sizes)] (n = --gso, clamped to UDP_MAX_SEGMENTS,
    to UDP_MAX_PAYLOAD in total and to what is left of --count) in one buffer, sent by ONE
    sendmsg with a (SOL_UDP, UDP_SEGMENT, u16 size) cmsg; the kernel cuts it into n datagrams.
    Count, rate and loss stay per datagram: a batch is due when its first datagram is."""
    res = {"sent": 0, "bytes": 0, "seconds": 0.0, "gso": a.gso, "sends": 0, "max_batch": 0}
    try:  # a kernel that does not know the option could ignore the cmsg: ask first
        s.getsockopt(SOL_UDP, UDP_SEGMENT)
    except OSError as e:
        return {"error": _gso_refused(s, e, "on getsockopt"), **res}
    t0 = time.monotonic()
    seq = batch = 0
    while seq < a.count:
        size = sizes[batch % len(sizes)]
        n = max(1, min(a.gso, UDP_MAX_SEGMENTS, UDP_MAX_PAYLOAD // size, a.count - seq))
        if a.rate > 0:
            due = t0 + seq / a.rate
            delay = due - time.monotonic()
            if delay > 0.001:
                time.sleep(delay)
        buf = b"".join(payload(i, size) for i in range(seq, seq + n))
        try:
            s.sendmsg([buf], [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))])
        except (BlockingIOError, ConnectionRefusedError):
            pass  # as unsegmented: the whole batch is not sent and counts as lost
        except OSError as e:
            if e.errno not in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT):
                raise
            res["seconds"] = round(time.monotonic() - t0, 3)
            return {"error": _gso_refused(s, e, f"sending {n} x {size} B from seq {seq}"),
                    **res}
        else:
            res["sent"] += n
            res["bytes"] += n * size
            res["sends"] += 1
            res["max_batch"] = max(res["max_batch"], n)
        seq += n
        batch += 1
    res["seconds"] = round(time.monotonic() - t0, 3)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("tcp-server", "tcp-client", "udp-server", "udp-client"))
    ap.add_argument("--bind")
    ap.add_argument("--connect")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=20_000_000)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=4000.0)
    ap.add_argument("--sizes", default="12,64,200,512,1000,1400,1422,3000")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--gso", type=int, default=0, metavar="N",
                    help="udp-client: send up to N same-size datagrams per sendmsg with "
                         f"UDP_SEGMENT (USO); clamped to {UDP_MAX_SEGMENTS} (kernel "
                         f"UDP_MAX_SEGMENTS) and to {UDP_MAX_PAYLOAD} B per send; each size "
                         "of --sizes must fit the path MTU (no IP fragments with GSO). "
                         "0 (default): one send per datagram")
    a = ap.parse_args()
    fn = {"tcp-server": tcp_server, "tcp-client": tcp_client, "udp-server": udp_server,
          "udp-client": udp_client}[a.role]
    try:
        res = fn(a)
    except (OSError, socket.timeout) as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return 1
    print(json.dumps(res), flush=True)
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())

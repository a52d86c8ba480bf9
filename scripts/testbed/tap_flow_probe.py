"""Does this kernel's TAP push back on a sender, or drop? A probe, not a benchmark.

Creates a namespace (PREFIX + "probe"), a TAP in it that is held open and never read, and sends
UDP datagrams unpaced from a non-blocking socket in that namespace through the TAP. Reports, for
each qdisc / txqueuelen variant, where the datagrams went:
  eagain      sendto() failed with EAGAIN/ENOBUFS: the sender was pushed back (flow control)
  qdisc       the qdisc's sent/dropped/backlog/requeues counters (tc -s qdisc)
  tx_dropped  the TAP dropped them (ip -s link: tun's full ptr_ring, no backpressure)
  queued      frames waiting in the TAP for its reader (read out at the end)

Linux 3.8 to at least 6.18 (without the 2025 "netdev queue flow control" patches to tun): tun
orphans each skb and drops it at a full ring, so sendto never fails, the qdisc never holds a
backlog, and everything beyond the ring's size (the device's txqueuelen) is tx_dropped. A kernel
with flow control stops the device's queue instead: the qdisc holds a backlog and the socket's
send buffer fills (EAGAIN).

Run as root with /usr/bin/python3: python3 scripts/testbed/tap_flow_probe.py [--prefix bp-]
[--count N] [--json]. Removes its namespace on exit, also on failure.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import platform
import re
import signal
import socket
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ADDR = "198.19.40.1"
PEER = "198.19.40.2"
PEER_MAC = "02:00:00:00:40:02"
PORT = 19400
DEV = "bpt0"


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def inner(args) -> dict:
    """Runs inside the namespace (ip netns exec): one variant."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH", DEV.encode(), IFF_TAP | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    if args.txqlen:  # after attach: tun resizes its ring to the new length
        sh("ip", "link", "set", DEV, "txqueuelen", str(args.txqlen))
    if args.qdisc:
        sh("tc", "qdisc", "replace", "dev", DEV, "root", *args.qdisc.split())
    sh("ip", "link", "set", DEV, "up")
    sh("ip", "addr", "add", f"{ADDR}/24", "dev", DEV)
    # A permanent neighbour: no ARP, the datagrams go straight to the device.
    sh("ip", "neigh", "replace", PEER, "lladdr", PEER_MAC, "dev", DEV, "nud", "permanent")
    before_q = qdisc_stats_local()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    payload = b"x" * args.size
    sent = eagain = other = 0
    # No sampling inside the loop: a tc call takes milliseconds and would pace the sender.
    for _ in range(args.count):
        try:
            s.sendto(payload, (PEER, PORT))
            sent += 1
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.ENOBUFS):
                eagain += 1
            else:
                other += 1
    q = qdisc_stats_local()  # the backlog right after the last send
    for k in ("sent", "dropped", "requeues"):
        q[k] -= before_q[k]
    link = link_stats_local()
    queued = 0
    while True:  # what the reader would still find
        try:
            os.read(fd, 65536)
            queued += 1
        except BlockingIOError:
            break
    os.close(fd)
    return {"count": args.count, "size": args.size, "send_ok": sent, "eagain": eagain,
            "send_other_errors": other, "qdisc": q, "tx_dropped": link["tx_dropped"],
            "txqlen": link["txqlen"], "queued_in_tap": queued}


def qdisc_stats_local() -> dict:
    out = sh("tc", "-s", "qdisc", "show", "dev", DEV)
    kind = out.split()[1] if out.split()[:1] == ["qdisc"] else "?"
    m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)",
                  out)
    b = re.search(r"backlog (\S+) (\d+)p", out)
    return {"kind": kind, "sent": int(m.group(2)) if m else 0,
            "dropped": int(m.group(3)) if m else 0, "requeues": int(m.group(5)) if m else 0,
            "backlog": 0 if b is None else int(b.group(2))}


def link_stats_local() -> dict:
    j = json.loads(sh("ip", "-s", "-j", "link", "show", DEV))[0]
    return {"tx_dropped": j["stats64"]["tx"]["dropped"], "txqlen": j.get("txqlen")}


VARIANTS = [  # (label, qdisc or "" for the default, txqueuelen or 0 for the default)
    ("default", "", 0),
    ("default txqlen 64", "", 64),
    ("default txqlen 4096", "", 4096),
    ("pfifo_fast", "pfifo_fast", 0),
    ("pfifo limit 100", "pfifo limit 100", 0),
    ("fq_codel", "fq_codel", 0),  # a module some kernels lack: then reported as unavailable
    # A shaper holds skbs in the qdisc whatever the device does: the one kind of push-back a
    # kernel without tun flow control still gives (the sender's socket buffer fills).
    ("tbf 5mbit", "tbf rate 5mbit burst 16k limit 1m", 0),
    ("noqueue", "noqueue", 0),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", default="bp-")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--qdisc", default="", help=argparse.SUPPRESS)
    ap.add_argument("--txqlen", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        print(json.dumps(inner(args)))
        return 0
    if os.geteuid() != 0:
        print("tap_flow_probe: needs root (namespaces, TAP)", file=sys.stderr)
        return 2
    ns = args.prefix + "probe"
    results = []
    # SIGTERM as well as Ctrl-C: unwind through the finally below, which removes the namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for label, qdisc, txqlen in VARIANTS:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            cp = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                                 os.path.abspath(__file__), "--inner", "--count", str(args.count),
                                 "--size", str(args.size), "--qdisc", qdisc, "--txqlen",
                                 str(txqlen)], capture_output=True, text=True)
            if cp.returncode != 0:
                print(f"{label}: unavailable on this kernel ({cp.stderr.strip().splitlines()[-1:]})",
                      file=sys.stderr)
                continue
            r = json.loads(cp.stdout)
            r["variant"] = label
            results.append(r)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    # Flow control: the sender was pushed back (EAGAIN) or the qdisc held a backlog, and the TAP
    # itself dropped nothing.
    # Judged on the variants without a shaper (a shaper's backlog is its own, not the device's).
    plain = [r for r in results if not r["variant"].startswith("tbf")]
    flow_control = any(r["eagain"] > 0 or r["qdisc"]["backlog"] > 0 for r in plain) and \
        all(r["tx_dropped"] == 0 for r in plain)
    summary = {"kernel": platform.release(), "tun_flow_control": flow_control, "variants": results}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"kernel {summary['kernel']}: {args.count} datagrams of {args.size} B per variant, "
          f"TAP never read")
    print(f"{'variant':22} {'qdisc':10} {'txqlen':>6} {'send_ok':>8} {'eagain':>7} "
          f"{'q_backlog':>9} {'q_requeue':>9} {'q_drop':>7} {'tx_dropped':>10} {'queued':>7}")
    for r in results:
        q = r["qdisc"]
        print(f"{r['variant']:22} {q['kind']:10} {r['txqlen']:>6} {r['send_ok']:>8} "
              f"{r['eagain']:>7} {q['backlog']:>9} {q['requeues']:>9} {q['dropped']:>7} "
              f"{r['tx_dropped']:>10} {r['queued_in_tap']:>7}")
    print("tun flow control (sender pushed back, TAP drops nothing):",
          "yes" if flow_control else "no")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Does MSG_ZEROCOPY save mflowd's underlay send copy on this testbed? Measured, side by side.

    python3 scripts/testbed/zerocopy_probe.py [--rounds 4] [--seconds 2]

Two namespaces joined by a veth (offloads on, as the testbed's `on`), a UDP socket in each: the
sender sends 64 KiB UDP_SEGMENT datagrams (gso_size 1400, as mflowd's underlay port sends a
container's super-frame), the receiver reads them with UDP_GRO. Rounds alternate plain sends and
MSG_ZEROCOPY sends; for each it prints what arrived, the whole machine's busy CPU-seconds per GB
received, and how many zero-copy completions the kernel flagged SO_EE_CODE_ZEROCOPY_COPIED (it
copied the pages after all). Then median [min..max] of each and their ratio.

Why it matters: a veth hands the skb to the other namespace's socket, and a socket may not hold
user pages the sender will reuse, so the kernel copies them on delivery (skb_orphan_frags_rx).
The copy mflowd would save in sendmmsg comes back on the receive side, with page pinning and the
completion reads on top. On a physical NIC the pages go to the device and the copy is saved.

Standard library only; runs as root; its own namespaces (mfz-*), removed on every exit.
"""

import argparse
import ctypes
import os
import socket
import statistics
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402

PREFIX = "mfz-"
SO_ZEROCOPY = 60
MSG_ZEROCOPY = 0x4000000
UDP_SEGMENT = 103
UDP_GRO = 104
SO_EE_ORIGIN_ZEROCOPY = 5
SO_EE_CODE_ZEROCOPY_COPIED = 1
GSO_SIZE = 1400
SEGMENTS = 46  # 64,400 bytes: one UDP GSO send of mflowd's underlay port
PORT = 4789
ADDR = {"a": "198.18.9.1", "b": "198.18.9.2"}

_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(ns: str) -> None:
    """Moves the calling thread into ns; sockets it creates afterwards belong to ns."""
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, 0) != 0:
            raise topo.TestbedError(f"setns {ns}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def busy_seconds() -> float:
    return sum(b for b, _ in topo.proc_stat_cpus()) / os.sysconf("SC_CLK_TCK")


class Receiver(threading.Thread):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.bytes = 0
        self.stop = False

    def run(self) -> None:
        buf = bytearray(65536)
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                self.bytes += self.sock.recv_into(buf)
            except socket.timeout:
                pass


def drain_completions(s: socket.socket) -> tuple[int, int]:
    """Reads the error queue: (sends completed, of them copied by the kernel)."""
    done = copied = 0
    while True:
        try:
            _, anc, _, _ = s.recvmsg(0, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return done, copied
        for _, _, data in anc:
            _errno, origin, _type, code, _pad, lo, hi = struct.unpack("IBBBBII", data[:16])
            if origin != SO_EE_ORIGIN_ZEROCOPY:
                continue
            n = (hi - lo + 1) & 0xffffffff
            done += n
            if code == SO_EE_CODE_ZEROCOPY_COPIED:
                copied += n


def one_round(s: socket.socket, rx: Receiver, zerocopy: bool, seconds: float) -> dict:
    payload = bytearray(GSO_SIZE * SEGMENTS)
    flags = MSG_ZEROCOPY if zerocopy else 0
    got0, cpu0, t0 = rx.bytes, busy_seconds(), time.monotonic()
    sent = done = copied = 0
    while time.monotonic() - t0 < seconds:
        for _ in range(32):
            try:
                sent += s.send(payload, flags)
            except OSError:  # ENOBUFS: too many zero-copy sends in flight; completions free them
                break
        if zerocopy:
            d, c = drain_completions(s)
            done, copied = done + d, copied + c
    time.sleep(0.3)  # let the receiver drain its queue into this round
    if zerocopy:
        d, c = drain_completions(s)
        done, copied = done + d, copied + c
    got = rx.bytes - got0
    cpu = busy_seconds() - cpu0
    return {"zerocopy": zerocopy, "sent_gb": sent / 1e9, "received_gb": got / 1e9,
            "gbps": got * 8 / 1e9 / (time.monotonic() - t0), "cpu_s_per_gb": cpu / (got / 1e9),
            "completions": done, "copied": copied}


def probe(args) -> int:
    for h in ("a", "b"):
        topo.run(["ip", "netns", "add", f"{PREFIX}{h}"])
    topo.run(["ip", "link", "add", "zva", "netns", f"{PREFIX}a", "type", "veth",
              "peer", "name", "zvb", "netns", f"{PREFIX}b"])
    for h, dev in (("a", "zva"), ("b", "zvb")):
        topo.run(["ip", "addr", "add", f"{ADDR[h]}/24", "dev", dev], ns=f"{PREFIX}{h}")
        topo.run(["ip", "link", "set", dev, "up"], ns=f"{PREFIX}{h}")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        enter_netns(f"{PREFIX}b")
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        r.setsockopt(socket.IPPROTO_UDP, UDP_GRO, 1)
        r.bind((ADDR["b"], PORT))
        enter_netns(f"{PREFIX}a")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
        s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, GSO_SIZE)
        s.bind((ADDR["a"], 0))
        s.connect((ADDR["b"], PORT))
    finally:
        _libc.setns(home, 0)
        os.close(home)
    rx = Receiver(r)
    rx.start()
    rows = []
    try:
        for i in range(args.rounds):
            for zc in (False, True):
                row = one_round(s, rx, zc, args.seconds)
                rows.append(row)
                print(f"round {i + 1} {'MSG_ZEROCOPY' if zc else 'copy        '}: "
                      f"{row['gbps']:6.2f} Gbit/s received, {row['cpu_s_per_gb']:.3f} CPU s/GB "
                      f"(machine), sent {row['sent_gb']:.2f} GB, received {row['received_gb']:.2f}"
                      f" GB, zero-copy completions {row['completions']}, copied by the kernel "
                      f"{row['copied']}", flush=True)
    finally:
        rx.stop = True
        rx.join()
        s.close()
        r.close()

    def stat(zc: bool, key: str) -> tuple[float, float, float]:
        v = [r[key] for r in rows if r["zerocopy"] == zc]
        return statistics.median(v), min(v), max(v)

    print()
    for key, what in (("gbps", "Gbit/s received"), ("cpu_s_per_gb", "CPU s/GB (machine)")):
        c, z = stat(False, key), stat(True, key)
        print(f"{what:20} copy {c[0]:.3f} [{c[1]:.3f}..{c[2]:.3f}]  MSG_ZEROCOPY {z[0]:.3f} "
              f"[{z[1]:.3f}..{z[2]:.3f}]  ratio {z[0] / c[0]:.2f}")
    done = sum(r["completions"] for r in rows)
    copied = sum(r["copied"] for r in rows)
    print(f"zero-copy sends the kernel copied anyway: {copied} of {done} completed")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="pairs of rounds, interleaved (4)")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds per round (2)")
    args = ap.parse_args()
    if args.rounds < 1 or not 0 < args.seconds <= 60:
        raise SystemExit("zerocopy_probe: --rounds must be >= 1 and --seconds in (0, 60]")
    if os.geteuid() != 0:
        raise SystemExit("zerocopy_probe: needs root (network namespaces)")
    topo.set_prefix(PREFIX)

    def body() -> int:
        try:
            return probe(args)
        finally:
            topo.block_signals_during_cleanup()
            topo.delete_netns(topo.list_our_netns())

    return topo.run_guarded("zerocopy_probe", body)


if __name__ == "__main__":
    sys.exit(main())

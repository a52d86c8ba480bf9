#!/usr/bin/python3
"""mflowd's system calls per 64 KiB delivered, by kind, during a single-flow TCP run.

    python3 scripts/testbed/syscall_census.py [--topology mflow-microflow] [--offloads on]
                                              [--seconds 4] [--rounds 2] [--build-dir build]
                                              [--mflowd-arg=--idle-poll-us=200 ...]

Builds one testbed topology (scripts/testbed/topo.py, its own mfc-* namespaces), runs iperf3
single-flow TCP, and counts both daemons' system calls with `perf stat` (syscall tracepoints;
needs the linux-perf package) while it runs: each kind per 64 KiB received, and how many of the
reads found nothing (an empty poll of a port: EAGAIN, no TAP ready, or a poll() of the ports
that returned nothing: the engine's readiness round, or a blocking wait that timed out). Then the cost of a bare system call on
this machine (`perf bench syscall basic`), so the entry/exit share of mflowd's CPU, the most a
batching interface such as io_uring could save in entries, is a measured bound.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402
from topo import TestbedError  # noqa: E402

PREFIX = "mfc-"
PORT = 7300
KINDS = ("readv", "writev", "recvmmsg", "sendmmsg", "epoll_wait", "poll", "futex", "sched_yield")
# Port reads that found nothing: EAGAIN from a read, 0 from the TAP set's epoll_wait (timeout 0)
# or from a poll() of the ports (the engine's readiness round, timeout 0; a wait that timed out).
EMPTY = {"readv": "ret == -11", "recvmmsg": "ret == -11", "epoll_wait": "ret == 0", "poll": "ret == 0"}
WARMUP_S = 2.0


def perf_stat(pids: list[int], seconds: float) -> dict[str, int]:
    argv = ["perf", "stat", "-x", ",", "-p", ",".join(map(str, pids))]
    for k in KINDS:
        argv += ["-e", f"syscalls:sys_enter_{k}"]
    for k, cond in EMPTY.items():
        argv += ["-e", f"syscalls:sys_exit_{k}", "--filter", cond]
    argv += ["--", "sleep", str(seconds)]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    counts: dict[str, int] = {}
    for line in cp.stderr.splitlines():
        f = line.split(",")
        if len(f) < 3 or not f[0].strip().isdigit():
            continue
        m = re.match(r"syscalls:sys_(enter|exit)_(\w+)", f[2])
        if m:
            counts[("" if m.group(1) == "enter" else "empty_") + m.group(2)] = int(f[0])
    if not counts:
        raise TestbedError(f"perf stat counted nothing: {cp.stderr.strip()[-300:]}")
    return counts


def bare_syscall_ns() -> float:
    cp = subprocess.run(["perf", "bench", "syscall", "basic"], capture_output=True, text=True,
                        timeout=60)
    m = re.search(r"([\d.]+) usecs/op", cp.stdout)
    if not m:
        raise TestbedError(f"perf bench syscall basic: no figure in {cp.stdout[-200:]!r}")
    return float(m.group(1)) * 1000


def one_round(args) -> dict:
    tb = topo.Testbed(args.topology, build_dir=args.build_dir, log_dir=args.log_dir,
                      workers=args.workers,
                      mflowd_args=args.mflowd_args)
    try:
        tb.up()
        tb.set_offloads(args.offloads)
        ep = tb.endpoints()
        srv = topo.spawn(["iperf3", "-s", "-1", "-B", ep.server_addr, "-p", str(PORT)],
                         ns=ep.server_ns)
        topo.wait_listening(ep.server_ns, PORT, "tcp", 5, srv)
        dur = WARMUP_S + args.seconds + 1
        cli = topo.spawn(["iperf3", "-c", ep.server_addr, "-p", str(PORT), "-t", str(dur),
                          "-J", "-i", "0.5"], ns=ep.client_ns)
        time.sleep(WARMUP_S)
        cpu0, t0 = tb.daemons_cpu_seconds(), time.monotonic()
        counts = perf_stat(tb.daemon_pids(), args.seconds)
        cpu1, t1 = tb.daemons_cpu_seconds(), time.monotonic()
        rc, out, err = topo.finish(cli, dur + 30)
        topo.stop(srv)
        res = json.loads(out)
        if "error" in res:
            raise TestbedError(f"iperf3: {res['error']}")
        # The received bytes of the intervals that overlap the counting window.
        got = sum(iv["sum"]["bytes"] for iv in res["intervals"]
                  if WARMUP_S <= iv["sum"]["start"] < WARMUP_S + args.seconds)
        span = sum(iv["sum"]["seconds"] for iv in res["intervals"]
                   if WARMUP_S <= iv["sum"]["start"] < WARMUP_S + args.seconds)
        return {"counts": counts, "bytes": got, "gbps": got * 8 / span / 1e9 if span else 0.0,
                "mflowd_cores": (cpu1 - cpu0) / (t1 - t0) if cpu0 is not None else None}
    finally:
        topo.block_signals_during_cleanup()
        topo.stop_all_started()
        tb.down()


def census(args) -> int:
    rounds = []
    for i in range(args.rounds):
        r = one_round(args)
        rounds.append(r)
        topo.log(f"round {i + 1}: {r['gbps']:.2f} Gbit/s, mflowd {r['mflowd_cores']:.2f} cores")
    per64k = {}
    for r in rounds:
        units = r["bytes"] / 65536
        for k, v in r["counts"].items():
            per64k.setdefault(k, []).append(v / units)
    med = {k: statistics.median(v) for k, v in per64k.items()}
    total = sum(med.get(k, 0) for k in KINDS)
    empty = sum(med.get(f"empty_{k}", 0) for k in EMPTY)
    gbps = statistics.median(r["gbps"] for r in rounds)
    cores = statistics.median(r["mflowd_cores"] for r in rounds)
    ns = bare_syscall_ns()
    print(f"\n{args.topology}, offloads {args.offloads}, TCP: {gbps:.2f} Gbit/s, both mflowd "
          f"{cores:.2f} cores (medians of {args.rounds} rounds of {args.seconds:g} s)")
    print(f"system calls per 64 KiB received, both daemons (median [min..max]):")
    for k in KINDS:
        if k not in per64k:
            continue
        v = per64k[k]
        line = f"  {k:12} {med[k]:7.2f} [{min(v):6.2f}..{max(v):6.2f}]"
        if k in EMPTY:
            line += f"   of them empty {med.get('empty_' + k, 0):.2f}"
        print(line)
    print(f"  {'all':12} {total:7.2f}")
    print(f"empty polls of the ports: {empty:.2f} per 64 KiB ({100 * empty / total:.0f} % of all "
          f"calls)")
    per64k_us = cores / (gbps * 1e9 / 8 / 65536) * 1e6
    entry_us = total * ns / 1000
    print(f"a bare system call here: {ns:.0f} ns (perf bench syscall basic); entries and exits "
          f"{entry_us:.1f} us of mflowd's {per64k_us:.1f} us per 64 KiB "
          f"({100 * entry_us / per64k_us:.1f} %)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topology", default="mflow-microflow",
                    choices=[t for t in topo.TOPOLOGIES if t.startswith("mflow") or t == "mixed"])
    ap.add_argument("--offloads", default="on", choices=("on", "off"))
    ap.add_argument("--seconds", type=float, default=4.0, help="counting window per round (4)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds; medians (2)")
    ap.add_argument("--workers", type=int, default=2, help="mflowd --workers (2)")
    ap.add_argument("--build-dir", default="build", help="where mflowd/mflowctl are (./build)")
    ap.add_argument("--log-dir", default="out/census", help="mflowd logs (out/census)")
    ap.add_argument("--mflowd-arg", action="append", default=[],
                    help="extra mflowd argument(s), as testbed.py's (repeatable)")
    args = ap.parse_args()
    args.mflowd_args = topo.mflowd_args_of(args.mflowd_arg)
    if args.rounds < 1 or not 1 <= args.seconds <= 60:
        raise SystemExit("syscall_census: --rounds must be >= 1 and --seconds in [1, 60]")
    if os.geteuid() != 0:
        raise SystemExit("syscall_census: needs root (network namespaces)")
    if shutil.which("perf") is None:
        raise SystemExit("syscall_census: needs perf (apt-get install linux-perf)")
    if not os.path.exists(os.path.join(args.build_dir, "src/daemon/mflowd")):
        raise SystemExit(f"syscall_census: no mflowd in {args.build_dir}; build first "
                         f"(bash scripts/setup.sh, or cmake --build {args.build_dir})")
    os.makedirs(args.log_dir, exist_ok=True)
    topo.set_prefix(PREFIX)
    return topo.run_guarded("syscall_census", lambda: census(args))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Where a round trip's time goes: the CPU time of every task per sockperf round trip.

    python3 scripts/testbed/rtt_breakdown.py [--topologies kernel,mflow-flow,mflow-microflow]
                                             [--seconds 3] [--rounds 2] [--build-dir build[,DIR2...]]
                                             [--latency-cpu 0] [--mflowd-arg=--idle-poll-us=0 ...]

For each topology (scripts/testbed/topo.py, its own mfr-* namespaces, offloads on) it runs the
testbed's latency test, sockperf ping-pong with 64 B messages (client and server pinned like the
testbed's, `--latency-cpu`), and records the scheduler system-wide with `perf sched record` (needs
the linux-perf package) in the middle of it. From `perf sched timehist` it then accounts the
machine's CPU time per round trip: each task's running time, how many times it was switched in
(each a wake-up or a preemption that ended), and how long it waited on a run queue once woken
(the scheduling delay). The tasks are grouped as the sockperf client and server, each host's
mflowd, the kernel's own threads and idle; the groups add up to (CPUs x round trip).

A round trip through the kernel overlay wakes two tasks (the server, then the client). Through
mflowd it also passes each daemon twice, and every pass that finds the daemon asleep pays a
wake-up and its run-queue wait; the table shows how many it paid and how long they took.
Scheduling on a shared VM is noisy: rounds are side by side and the medians printed. Several
build directories (`--build-dir build,/tmp/old`) are measured side by side too, each topology
through mflowd once per build in every round.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402
from topo import TestbedError  # noqa: E402

PREFIX = "mfr-"
PORT = 11311
WARMUP_S = 1.5
GROUPS = ("client", "server", "mflowd-a", "mflowd-b", "kernel", "other", "idle")
# perf sched timehist: time [cpu] task wait sch-delay run (all in ms).
ROW = re.compile(r"^\s*[\d.]+\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")
TASK = re.compile(r"^(.*)\[(\d+)(?:/(\d+))?\]$")
KERNEL_COMMS = ("ksoftirqd", "kworker", "rcu_", "migration", "kcompactd", "kswapd", "watchdog")


def timehist(data: str) -> list[tuple[int, str, int, float, float]]:
    """(cpu, comm, pid, sched delay us, run us) per time slice."""
    cp = subprocess.run(["perf", "sched", "timehist", "-i", data], capture_output=True, text=True,
                        timeout=300)
    rows = []
    for line in cp.stdout.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        cpu, task, _wait, delay, run = m.groups()
        t = TASK.match(task)
        if t:
            comm, pid = t.group(1), int(t.group(3) or t.group(2))  # [tid/pid], or [pid]
        else:
            comm, pid = task, 0
        rows.append((int(cpu), comm, pid, float(delay) * 1000, float(run) * 1000))
    if not rows:
        raise TestbedError(f"perf sched timehist gave no rows: {cp.stderr.strip()[-300:]}")
    return rows


def group_of(comm: str, pid: int, pids: dict[int, str]) -> str:
    if comm == "<idle>":
        return "idle"
    if pid in pids:
        return pids[pid]
    if comm.startswith(KERNEL_COMMS):
        return "kernel"
    return "other"


def sockperf_rate(text: str) -> tuple[float, float, float]:
    """(round trips per second, p50 us, avg us) from sockperf pp's summary."""
    run = re.search(r"RunTime=([\d.]+) sec.*?ReceivedMessages=(\d+)", text, re.S)
    p50 = re.search(r"percentile 50.000 =\s*([\d.]+)", text)
    avg = re.search(r"avg-rtt=([\d.]+)", text)
    if not (run and p50 and avg):
        raise TestbedError(f"sockperf: no summary in {text.strip()[-300:]!r}")
    return int(run.group(2)) / float(run.group(1)), float(p50.group(1)), float(avg.group(1))


def one_round(args, topology: str, build_dir: str, pin: list[str]) -> dict:
    tb = topo.Testbed(topology, build_dir=build_dir, log_dir=args.log_dir,
                      mflowd_args=args.mflowd_args)
    data = tempfile.NamedTemporaryFile(prefix="mfr-sched-", suffix=".data", delete=False).name
    try:
        tb.up()
        tb.set_offloads("on")
        ep = tb.endpoints()
        srv = topo.spawn(pin + ["sockperf", "sr", "-i", ep.server_addr, "-p", str(PORT)],
                         ns=ep.server_ns)
        topo.wait_listening(ep.server_ns, PORT, "udp", 5, srv)
        dur = int(WARMUP_S + args.seconds + 2)
        cli = topo.spawn(pin + ["sockperf", "pp", "-i", ep.server_addr, "-p", str(PORT), "-t",
                                str(dur), "-m", "64", "--full-rtt"], ns=ep.client_ns)
        time.sleep(WARMUP_S)
        rec = subprocess.run(["perf", "sched", "record", "-a", "-o", data, "--", "sleep",
                              str(args.seconds)], capture_output=True, text=True,
                             timeout=args.seconds + 60)
        if rec.returncode != 0:
            raise TestbedError(f"perf sched record failed: {rec.stderr.strip()[-300:]}")
        rc, out, err = topo.finish(cli, dur + 30)
        topo.stop(srv)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out + err)
        if rc != 0:
            raise TestbedError(f"sockperf pp failed ({rc}): {text.strip()[-300:]}")
        rate, p50, avg = sockperf_rate(text)
        pids = {cli.pid: "client", srv.pid: "server"}
        for h, d in tb.daemons.items():
            pids[d.proc.pid] = f"mflowd-{h}"
        acc = {g: {"run": 0.0, "delay": 0.0, "slices": 0} for g in GROUPS}
        for _cpu, comm, pid, delay, run in timehist(data):
            a = acc[group_of(comm, pid, pids)]
            a["run"] += run
            a["delay"] += delay
            a["slices"] += 1
        trips = rate * args.seconds
        return {"p50": p50, "avg": avg, "rate": rate,
                "per_trip": {g: {k: v / trips for k, v in a.items()} for g, a in acc.items()}}
    finally:
        topo.block_signals_during_cleanup()
        topo.stop_all_started()
        tb.down()
        os.unlink(data)


def report(label: str, rounds: list[dict]) -> None:
    med = lambda f: statistics.median(f(r) for r in rounds)  # noqa: E731
    print(f"\n{label}: sockperf p50 {med(lambda r: r['p50']):.1f} us, avg "
          f"{med(lambda r: r['avg']):.1f} us, {med(lambda r: r['rate']):,.0f} round trips/s "
          f"(medians of {len(rounds)} rounds)")
    print(f"  per round trip     {'run us':>8} {'switch-ins':>10} {'run-queue wait us':>18}")
    for g in GROUPS:
        run = med(lambda r: r["per_trip"][g]["run"])
        sl = med(lambda r: r["per_trip"][g]["slices"])
        de = med(lambda r: r["per_trip"][g]["delay"])
        if run < 0.05 and sl < 0.005:
            continue
        wait = "" if g == "idle" else f"{de:18.1f}"
        print(f"  {g:18} {run:8.1f} {sl:10.2f} {wait}")
    total = med(lambda r: sum(v["run"] for v in r["per_trip"].values()))
    print(f"  {'all (CPUs x RTT)':18} {total:8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topologies", default="kernel,mflow-flow,mflow-microflow")
    ap.add_argument("--seconds", type=float, default=3.0, help="recording window per round (3)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per topology; medians (2)")
    ap.add_argument("--build-dir", default="build",
                    help="where mflowd/mflowctl are (./build); a comma-separated list compares "
                         "builds side by side")
    ap.add_argument("--log-dir", default="out/rtt", help="mflowd logs (out/rtt)")
    ap.add_argument("--latency-cpu", default="0",
                    help="pin sockperf client and server to these CPUs, as the testbed (0; none)")
    ap.add_argument("--mflowd-arg", action="append", default=[],
                    help="extra mflowd argument(s), as testbed.py's (repeatable)")
    args = ap.parse_args()
    args.mflowd_args = topo.mflowd_args_of(args.mflowd_arg)
    tops = [t for t in args.topologies.split(",") if t]
    bad = [t for t in tops if t not in topo.PLAIN_TOPOLOGIES + topo.ESP_TOPOLOGIES]
    if bad or not tops:
        raise SystemExit(f"rtt_breakdown: unknown topology {bad}; choose from "
                         f"{','.join(topo.PLAIN_TOPOLOGIES + topo.ESP_TOPOLOGIES)}")
    if args.rounds < 1 or not 1 <= args.seconds <= 30:
        raise SystemExit("rtt_breakdown: --rounds must be >= 1 and --seconds in [1, 30]")
    if os.geteuid() != 0:
        raise SystemExit("rtt_breakdown: needs root (network namespaces)")
    for tool, pkg in (("perf", "linux-perf"), ("sockperf", "sockperf"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            raise SystemExit(f"rtt_breakdown: needs {tool} (apt-get install {pkg})")
    builds = [b for b in args.build_dir.split(",") if b]
    uses_mflowd = lambda t: t.startswith("mflow") or t == "mixed"  # noqa: E731
    for b in builds if any(uses_mflowd(t) for t in tops) else []:
        if not os.path.exists(os.path.join(b, "src/daemon/mflowd")):
            raise SystemExit(f"rtt_breakdown: no mflowd in {b}; build first "
                             f"(bash scripts/setup.sh, or cmake --build {b})")
    # (label, topology, build): a topology without mflowd once, the others once per build.
    configs = [(t if not uses_mflowd(t) or len(builds) == 1 else f"{t} ({b})", t, b)
               for t in tops for b in (builds if uses_mflowd(t) else builds[:1])]
    pin = [] if args.latency_cpu == "none" else ["taskset", "-c", args.latency_cpu]
    os.makedirs(args.log_dir, exist_ok=True)
    topo.set_prefix(PREFIX)

    def body() -> int:
        results = {label: [] for label, _, _ in configs}
        for i in range(args.rounds):  # topologies and builds side by side within each round
            for label, t, b in configs:
                r = one_round(args, t, b, pin)
                results[label].append(r)
                topo.log(f"round {i + 1} {label}: p50 {r['p50']:.1f} us, "
                         f"{r['rate']:,.0f} trips/s")
        for label, _, _ in configs:
            report(label, results[label])
        return 0

    return topo.run_guarded("rtt_breakdown", body)


if __name__ == "__main__":
    sys.exit(main())

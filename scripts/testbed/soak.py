#!/usr/bin/python3
"""A bounded soak run of mflowd under AddressSanitizer + LeakSanitizer on the namespace testbed.

Run through scripts/soak.sh, or directly as root:
    /usr/bin/python3 scripts/testbed/soak.py [--minutes 3] [--topology mflow-microflow] ...

What it does:
  build    reuses (and brings up to date with ninja) an AddressSanitizer build of mflowd and
           mflowctl (--build-dir, default build-asan); builds it with `scripts/setup.sh
           build-asan:address` when mflowd is missing there (--no-build: use it as it is)
  testbed  two hosts and a container on each (topo.py, prefix mfk-), mflowd on both hosts
           (--topology, default mflow-microflow; `mixed` has it on host B only), offloads on;
           mflowd runs with ASAN_OPTIONS=detect_leaks=1:log_path=<log dir>/mfk-asan-<host>-<stamp>
           (and UBSAN_OPTIONS likewise), so the sanitizers' reports land in files
  traffic  for --minutes M, all bounded by count and time, all inside the namespaces:
           one TCP flow A -> B (iperf3 -t), numbered UDP datagrams B -> A at a paced rate
           (xfer.py: loss, order, integrity), ping A -> B every 0.2 s
  churn    every --cycle-interval seconds, on the mflowd hosts in turn: a fresh namespace
           mfk-<host>-c2, `mflowctl port add mf1` into it, one ping across it to the other
           host's container, `mflowctl port del mf1`, namespace deleted; once (the second
           cycle) the TAP is deleted under mflowd instead (`ip link del` in the container) and
           mflowd must drop the port by itself (it logs "port gone")
  memory   VmRSS of each mflowd after --warmup seconds of traffic (start), every second (max)
           and after the traffic (end); a WARNING (not a failure) when end > start by more than
           --rss-margin-pct % + --rss-margin-mib MiB. Figures are those of the ASan build.
  end      mflowd's out_of_order (mflowctl), then SIGTERM to both daemons, a bounded wait,
           and the sanitizer reports parsed: "LeakSanitizer: 0 leaks" or the leak summaries

Exit status 1 if a sanitizer reported anything, a daemon died or did not exit 0 on SIGTERM,
out_of_order is not 0, a port cycle failed (port add/del, the ping across the new port, or the
deleted TAP not dropped), a traffic tool failed, or the UDP datagrams arrived corrupted,
duplicated or out of order (loss is reported, not judged); 2 for a setup error; 130 if
interrupted. Progress goes to stderr every --progress-interval seconds, the summary to stdout.

Creates: network namespaces mfk-a, mfk-b, mfk-a-c1, mfk-b-c1 and (for one cycle at a time)
mfk-a-c2 / mfk-b-c2, control sockets /run/mflow/mfk-*.sock, the lock /run/lock/mfk-testbed.lock;
all removed on every exit (also Ctrl-C). Keeps: mflowd logs and sanitizer reports in --log-dir
(out/soak). Runs beside the benchmark and the e2e test (they use mfb-). Standard library only.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402
from topo import TestbedError, log, run, spawn, finish, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XFER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xfer.py")
PY = "/usr/bin/python3"
PREFIX = "mfk-"
SOAK_TOPOLOGIES = ("mflow-microflow", "mflow-flow", "mflow-stage", "mixed")
TCP_PORT = 5301
UDP_PORT = 7101
PING_INTERVAL = 0.2
CYCLE_PORT = "mf1"
CYCLE_ADDR = {"a": "198.19.0.11", "b": "198.19.0.12"}
TAP_DELETE_CYCLE = 2  # the cycle whose TAP is deleted under mflowd instead of `port del`
MIB = 1024  # VmRSS is in kB
START = time.monotonic()


# --------------------------------------------------------------------------------------------
# records


@dataclass
class Cycle:
    """One port add / ping / port del (or TAP deleted under mflowd) on one host."""
    n: int
    host: str
    how: str  # "port del" | "tap deleted"
    ok: bool = False
    ping_ok: bool = False
    seconds: float = 0.0
    error: str = ""


@dataclass
class Rss:
    """VmRSS samples of one mflowd, in kB."""
    pid: int
    start: int | None = None
    end: int | None = None
    max: int = 0
    samples: int = 0

    def add(self, kb: int | None) -> None:
        if kb is None:
            return
        self.samples += 1
        self.max = max(self.max, kb)
        self.end = kb

    @property
    def growth(self) -> int | None:
        return None if self.start is None or self.end is None else self.end - self.start


@dataclass
class Traffic:
    """The background tools; each one bounded by its own count and time."""
    tcp_server: subprocess.Popen
    tcp_client: subprocess.Popen
    udp_server: subprocess.Popen
    udp_client: subprocess.Popen
    ping: subprocess.Popen
    udp_count: int
    ping_count: int

    def all(self) -> list[subprocess.Popen]:
        return [self.tcp_client, self.udp_client, self.ping, self.tcp_server, self.udp_server]


@dataclass
class Sanitizer:
    """What the ASan/LSan/UBSan runtime of one mflowd reported."""
    host: str
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)     # ERROR: / runtime error: lines
    summaries: list[str] = field(default_factory=list)  # SUMMARY: lines
    leaks: int = 0                                      # Direct/Indirect leak records

    @property
    def clean(self) -> bool:
        return not self.files and not self.errors and not self.summaries and self.leaks == 0


# --------------------------------------------------------------------------------------------
# build


def is_asan_binary(path: str) -> bool:
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def ensure_build(build_dir: str, no_build: bool) -> None:
    """Builds build_dir with setup.sh when mflowd is missing, else brings mflowd and mflowctl up
    to date with ninja (a no-op when nothing changed); checks that it is an ASan build."""
    mflowd = os.path.join(build_dir, "src", "daemon", "mflowd")
    if not no_build:
        if not os.access(mflowd, os.X_OK) or not os.path.exists(os.path.join(build_dir,
                                                                             "build.ninja")):
            argv = ["bash", os.path.join(ROOT, "scripts", "setup.sh"), f"{build_dir}:address"]
        else:
            argv = ["ninja", "-C", build_dir, f"-j{os.cpu_count() or 1}", "mflowd", "mflowctl"]
        log(f"soak: building: {shlex.join(argv)}")
        try:
            cp = subprocess.run(argv, timeout=3600)
        except subprocess.TimeoutExpired:
            raise TestbedError(f"build did not finish within an hour: {shlex.join(argv)}")
        if cp.returncode != 0:
            raise TestbedError(f"build failed ({cp.returncode}): {shlex.join(argv)} "
                               "(--no-build runs the binaries as they are)")
    for b in (mflowd, os.path.join(build_dir, "src", "control", "mflowctl")):
        if not os.access(b, os.X_OK):
            raise TestbedError(f"{b} not built (scripts/setup.sh {build_dir}:address builds it)")
    if not is_asan_binary(mflowd):
        raise TestbedError(f"{mflowd} is not an AddressSanitizer build: LeakSanitizer would "
                           f"find nothing (scripts/setup.sh build-asan:address)")


# --------------------------------------------------------------------------------------------
# memory, sanitizer reports


def vm_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def mib(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / MIB:.1f} MiB"


def sanitizer_env(log_dir: str, stamp: str, hosts: list[str]) -> tuple[dict, dict]:
    """Per host: the environment for mflowd, and the report path prefixes (the runtime appends
    .PID; a file appears only when there is something to report)."""
    env, prefixes = {}, {}
    for h in hosts:
        asan = os.path.abspath(os.path.join(log_dir, f"{PREFIX}asan-{h}-{stamp}"))
        ubsan = os.path.abspath(os.path.join(log_dir, f"{PREFIX}ubsan-{h}-{stamp}"))
        env[h] = {"ASAN_OPTIONS": f"detect_leaks=1:halt_on_error=1:log_path={asan}",
                  "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path={ubsan}"}
        prefixes[h] = [asan, ubsan]
    return env, prefixes


REPORT_ERROR = re.compile(r"(ERROR: \w+Sanitizer.*|runtime error: .*|"
                          r"\w+Sanitizer has encountered a fatal error.*)")


def scan_report(text: str, s: Sanitizer) -> None:
    for line in text.splitlines():
        m = REPORT_ERROR.search(line)
        if m:
            s.errors.append(m.group(1).strip())
        elif line.startswith("SUMMARY: "):
            s.summaries.append(line.strip())
        elif re.match(r"(Direct|Indirect) leak of ", line):
            s.leaks += 1


def read_sanitizer_reports(tb: topo.Testbed, prefixes: dict) -> dict[str, Sanitizer]:
    """The report files of this run, and (in case the runtime could not open them) any report
    that went to mflowd's own log."""
    out = {}
    for h, pfx in prefixes.items():
        s = Sanitizer(h)
        for p in pfx:
            for f in sorted(glob.glob(glob.escape(p) + ".*")):
                s.files.append(os.path.relpath(f))
                with open(f, errors="replace") as fh:
                    scan_report(fh.read(), s)
        d = tb.daemons.get(h)
        if d is not None:
            try:
                with open(d.log_path, errors="replace") as fh:
                    scan_report(fh.read(), s)
            except OSError:
                pass
        out[h] = s
    return out


# --------------------------------------------------------------------------------------------
# traffic


def start_traffic(tb: topo.Testbed, seconds: int, args) -> Traffic:
    """iperf3 TCP A -> B, xfer.py UDP B -> A, ping A -> B; servers first, each bounded."""
    ab, ba = tb.endpoints(), tb.endpoints(reverse=True)
    # The server's per-second lines are not read while the run lasts: not into a pipe.
    tcp_server = spawn(["iperf3", "-s", "-1", "-B", ab.server_addr, "-p", str(TCP_PORT)],
                       ns=ab.server_ns, stdout=subprocess.DEVNULL)
    udp_count = max(1, int(args.udp_rate * seconds))
    udp_server = spawn([PY, XFER, "udp-server", "--bind", ba.server_addr, "--port", str(UDP_PORT),
                        "--count", str(udp_count), "--timeout", str(seconds + 60),
                        "--idle", "10"], ns=ba.server_ns)
    topo.wait_listening(ab.server_ns, TCP_PORT, "tcp", timeout=5, proc=tcp_server)
    topo.wait_listening(ba.server_ns, UDP_PORT, "udp", timeout=5, proc=udp_server)
    tcp = ["iperf3", "-c", ab.server_addr, "-p", str(TCP_PORT), "-t", str(seconds), "-J",
           "-i", "10", "--connect-timeout", "3000"]
    if args.tcp_bitrate:
        tcp += ["-b", args.tcp_bitrate]
    tcp_client = spawn(tcp, ns=ab.client_ns)
    udp_client = spawn([PY, XFER, "udp-client", "--connect", ba.server_addr, "--port",
                        str(UDP_PORT), "--count", str(udp_count), "--rate", str(args.udp_rate),
                        "--sizes", args.udp_sizes], ns=ba.client_ns)
    ping_count = max(1, int(seconds / PING_INTERVAL))
    ping = spawn(["ping", "-q", "-i", str(PING_INTERVAL), "-W", "2", "-c", str(ping_count),
                  "-w", str(seconds + 5), ab.server_addr], ns=ab.client_ns)
    return Traffic(tcp_server, tcp_client, udp_server, udp_client, ping, udp_count, ping_count)


def _json(out: str, err: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {"error": (err or out).strip()[-300:] or "no output"}


def tcp_result(rc: int | None, out: str, err: str) -> dict:
    try:
        res = json.loads(out)
    except ValueError:
        return {"error": f"iperf3 exited {rc}: {(err or out).strip()[-300:] or 'no output'}"}
    if "error" in res:
        return {"error": f"iperf3: {res['error']}"}
    recv, sent = res["end"]["sum_received"], res["end"]["sum_sent"]
    return {"gbps": recv["bits_per_second"] / 1e9, "bytes": recv["bytes"],
            "seconds": recv["seconds"], "retransmits": sent.get("retransmits")}


def ping_result(rc: int | None, out: str, err: str) -> dict:
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m:
        return {"error": f"ping exited {rc}: {(err or out).strip()[-300:] or 'no output'}"}
    sent, got = int(m.group(1)), int(m.group(2))
    rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    return {"sent": sent, "received": got,
            "loss_pct": 100.0 * (sent - got) / sent if sent else None,
            "rtt_avg_ms": float(rtt.group(2)) if rtt else None,
            "rtt_max_ms": float(rtt.group(3)) if rtt else None}


def finish_traffic(t: Traffic, seconds_left: float) -> dict:
    """Waits (bounded) for every tool to end by itself and collects its figures."""
    wait = seconds_left + 30
    tcp = tcp_result(*finish(t.tcp_client, wait))
    udp_cli = _json(*finish(t.udp_client, wait)[1:])
    ping = ping_result(*finish(t.ping, wait))
    udp_srv = _json(*finish(t.udp_server, 30)[1:])  # its --idle ends it 10 s after the last one
    finish(t.tcp_server, 10)
    return {"tcp": tcp, "udp_client": udp_cli, "udp_server": udp_srv, "ping": ping}


def stop_traffic(t: Traffic) -> None:
    for p in t.all():
        stop(p, grace=3)


# --------------------------------------------------------------------------------------------
# port churn


def port_names(tb: topo.Testbed, h: str) -> set[str]:
    cp = run([tb.mflowctl, "--socket", tb.sock(h), "--json", "ports"], timeout=10)
    return {p["name"] for p in json.loads(cp.stdout)["ports"]}


def count_in_log(tb: topo.Testbed, h: str, text: str) -> int:
    try:
        with open(tb.daemons[h].log_path, errors="replace") as f:
            return sum(1 for line in f if text in line)
    except OSError:
        return 0


def wait_dropped(tb: topo.Testbed, h: str, gone_before: int, timeout: float = 10.0) -> str:
    """After the TAP was deleted under mflowd: '' once mflowd no longer lists the port and has
    logged it, else what is missing."""
    deadline = time.monotonic() + timeout
    listed, logged = True, False
    while time.monotonic() < deadline:
        listed = CYCLE_PORT in port_names(tb, h)
        logged = count_in_log(tb, h, "port gone") > gone_before
        if not listed and logged:
            return ""
        time.sleep(0.2)
    return (f"{CYCLE_PORT} still listed by mflowctl ports {timeout:g} s after its TAP was "
            f"deleted" if listed else f"mflowd dropped {CYCLE_PORT} but logged no 'port gone'")


def run_cycle(tb: topo.Testbed, n: int, h: str, delete_tap: bool) -> Cycle:
    """Fresh namespace, port add, one ping across to the other host's container, port del (or
    the TAP deleted under mflowd), namespace deleted."""
    c = Cycle(n, h, "tap deleted" if delete_tap else "port del")
    ns = topo.container_ns(h, 2)
    ctl = [tb.mflowctl, "--socket", tb.sock(h)]
    t0 = time.monotonic()
    leftover = False  # a port mflowd may still hold: deleted again before the namespace goes
    try:
        tb._add_ns(ns)
        run(ctl + ["port", "add", CYCLE_PORT, "--netns", f"/var/run/netns/{ns}", "--vni",
                   str(topo.VNI), "--address", f"{CYCLE_ADDR[h]}/{topo.PREFIXLEN}"], timeout=15)
        leftover = True
        # One ping across: resolved and answered within 5 s (-w), however many tries it takes.
        peer = topo.CONTAINER_ADDR[topo.other(h)]
        cp = run(["ping", "-q", "-c", "1", "-i", "0.2", "-w", "5", peer], ns=ns, timeout=15,
                 check=False)
        c.ping_ok = cp.returncode == 0
        if delete_tap:
            gone_before = count_in_log(tb, h, "port gone")
            run(["ip", "link", "del", CYCLE_PORT], ns=ns, timeout=10)
            c.error = wait_dropped(tb, h, gone_before)
        else:
            run(ctl + ["port", "del", CYCLE_PORT], timeout=15)
            if run(["ip", "link", "show", CYCLE_PORT], ns=ns, timeout=5,
                   check=False).returncode == 0:
                c.error = f"{CYCLE_PORT} still in {ns} after mflowctl port del"
        leftover = bool(c.error)
        if not c.ping_ok and not c.error:
            c.error = f"no ping reply across the new port to {peer}"
        c.ok = not c.error
    except (TestbedError, KeyError, ValueError) as e:
        c.error = str(e).replace("\n", " ")
    finally:
        if leftover:  # leave no port behind for the next cycle (best effort)
            run(ctl + ["port", "del", CYCLE_PORT], timeout=15, check=False)
        if ns in tb.namespaces:
            topo.delete_netns([ns])
            tb.namespaces.remove(ns)
        c.seconds = round(time.monotonic() - t0, 2)
    return c


# --------------------------------------------------------------------------------------------
# the run


def elapsed() -> str:
    return f"{time.monotonic() - START:6.1f}s"


def dead_daemons(tb: topo.Testbed) -> dict[str, int]:
    return {h: d.proc.returncode for h, d in tb.daemons.items() if d.proc.poll() is not None}


def soak(tb: topo.Testbed, args, seconds: int, rss: dict[str, Rss], cycles: list[Cycle],
         t: Traffic) -> dict[str, int]:
    """The timed part: RSS samples, port cycles, progress lines, until the traffic's time is up
    or a daemon dies. Returns the daemons that died."""
    t0 = time.monotonic()
    end = t0 + seconds
    warm = t0 + min(args.warmup, seconds / 2)
    next_sample, next_cycle = warm, warm + 1
    next_progress = t0 + args.progress_interval
    hosts = list(tb.daemons)
    while True:
        now = time.monotonic()
        if now >= end:
            return {}
        died = dead_daemons(tb)
        if died:
            return died
        if now >= next_sample:
            for h, r in rss.items():
                kb = vm_rss_kb(r.pid)
                if r.start is None:
                    r.start = kb
                r.add(kb)
            next_sample += 1.0
        # No cycle in the last 3 s: the end sample should not catch a port half made.
        if now >= next_cycle and now < end - 3:
            n = len(cycles) + 1
            c = run_cycle(tb, n, hosts[(n - 1) % len(hosts)], n == TAP_DELETE_CYCLE)
            cycles.append(c)
            if not c.ok:
                log(f"[{elapsed()}] port cycle {n} on host {c.host} ({c.how}) FAILED: {c.error}")
            elif c.how == "tap deleted":
                log(f"[{elapsed()}] port cycle {n} on host {c.host}: TAP deleted under mflowd, "
                    f"port dropped by mflowd ({c.seconds} s)")
            next_cycle = max(time.monotonic(), next_cycle + args.cycle_interval)
        if now >= next_progress:
            failed = sum(1 for c in cycles if not c.ok)
            tools = " ".join(f"{name} {'running' if p.poll() is None else f'ended({p.returncode})'}"
                             for name, p in (("tcp", t.tcp_client), ("udp", t.udp_client),
                                             ("ping", t.ping)))
            log(f"[{elapsed()}] {now - t0:4.0f}/{seconds} s  port cycles {len(cycles)} "
                f"({failed} failed)  RSS " + ", ".join(f"{h} {mib(r.end)}" for h, r in rss.items())
                + f"  {tools}")
            next_progress += args.progress_interval
        time.sleep(0.1)


def udp_line(srv: dict, cli: dict) -> tuple[str, bool]:
    if "error" in srv or "error" in cli:
        return f"FAILED: server {srv.get('error', 'ok')}; client {cli.get('error', 'ok')}", False
    loss = 100.0 * srv["lost"] / srv["expected"] if srv.get("expected") else 0.0
    ok = srv["out_of_order"] == 0 and srv["corrupted"] == 0 and srv["duplicates"] == 0 \
        and srv["bad_length"] == 0
    prob = f", first problem: {srv['first_problem']}" if srv.get("first_problem") else ""
    return (f"{srv['received']:,}/{cli['sent']:,} received (loss {loss:.2f} %), out of order "
            f"{srv['out_of_order']}, corrupted {srv['corrupted']}, duplicates "
            f"{srv['duplicates']}{prob}"), ok


def report(args, seconds: int, res: dict, cycles: list[Cycle], rss: dict[str, Rss],
           counters: dict, codes: dict, died: dict, stop_s: dict, san: dict[str, Sanitizer],
           logs: dict) -> list[str]:
    """Prints the summary; returns the failures."""
    fails: list[str] = []
    out = [f"soak: {args.topology}, offloads on, {seconds} s of traffic, mflowd from "
           f"{args.build_dir} (ASan + LSan + UBSan)"]

    tcp = res.get("tcp", {"error": "not run"})
    if "error" in tcp:
        out.append(f"  TCP A->B (iperf3)     FAILED: {tcp['error']}")
        fails.append("iperf3 TCP flow failed")
    else:
        out.append(f"  TCP A->B (iperf3)     {tcp['gbps']:.2f} Gbit/s received, "
                   f"{tcp['bytes'] / 1e9:.1f} GB in {tcp['seconds']:.0f} s, retransmits "
                   f"{tcp['retransmits']}")
    line, ok = udp_line(res.get("udp_server", {"error": "not run"}),
                        res.get("udp_client", {"error": "not run"}))
    out.append(f"  UDP B->A (xfer.py)    {line} ({args.udp_rate:g}/s paced, sizes "
               f"{args.udp_sizes})")
    if not ok:
        fails.append("UDP datagrams failed, corrupted, duplicated or out of order")
    ping = res.get("ping", {"error": "not run"})
    if "error" in ping:
        out.append(f"  ping A->B             FAILED: {ping['error']}")
        fails.append("ping failed")
    else:
        out.append(f"  ping A->B             {ping['received']}/{ping['sent']} replies (loss "
                   f"{ping['loss_pct']:.1f} %), rtt avg {ping['rtt_avg_ms']} ms, max "
                   f"{ping['rtt_max_ms']} ms")

    bad = [c for c in cycles if not c.ok]
    tap = [c for c in cycles if c.how == "tap deleted"]
    out.append(f"  port cycles           {len(cycles)} ({len(cycles) - len(tap)} port add/del, "
               f"{len(tap)} TAP deleted under mflowd), {len(bad)} failed, pings across "
               f"{sum(c.ping_ok for c in cycles)}/{len(cycles)}, longest "
               f"{max((c.seconds for c in cycles), default=0):.2f} s")
    for c in bad:
        out.append(f"    cycle {c.n} host {c.host} ({c.how}): {c.error}")
    if bad:
        fails.append(f"{len(bad)} port cycle(s) failed")
    if not tap and not died:
        out.append("    (no cycle deleted a TAP under mflowd: the run was too short)")

    if counters:
        total = sum(v["out_of_order"] for v in counters.values() if v)
        out.append(f"  mflowd out_of_order   {total} (" + ", ".join(
            f"{h} {v['out_of_order']}" for h, v in counters.items() if v) + "); engine drops "
            + ", ".join(f"{h} {v['drops']}" for h, v in counters.items() if v) + " (not judged)")
        if total:
            fails.append(f"mflowd out_of_order = {total}")
    else:
        out.append("  mflowd out_of_order   not read (a daemon was gone)")
        fails.append("out_of_order not read")

    out.append("  HOST  PID      RSS START    RSS END      RSS MAX      GROWTH")
    for h, r in rss.items():
        g = r.growth
        gs = "-" if g is None else (f"{g / MIB:+.1f} MiB"
                                    + (f" ({100.0 * g / r.start:+.1f} %)" if r.start else ""))
        out.append(f"  {h:<4}  {r.pid:<7}  {mib(r.start):<11}  {mib(r.end):<11}  "
                   f"{mib(r.max):<11}  {gs}")
    for h, r in rss.items():
        if r.start is not None and r.end is not None and \
                r.end > r.start * (1 + args.rss_margin_pct / 100) + args.rss_margin_mib * MIB:
            out.append(f"  WARNING: mflowd on host {h} grew from {mib(r.start)} to {mib(r.end)}, "
                       f"more than {args.rss_margin_pct:g} % + {args.rss_margin_mib:g} MiB "
                       f"(reported, not judged)")

    for h in rss:
        if h in died:
            out.append(f"  mflowd {h}              DIED during the run with exit code {died[h]}; "
                       f"log {logs[h]}")
            fails.append(f"mflowd on host {h} died")
        else:
            rc = codes.get(h)
            out.append(f"  mflowd {h} exit         code {rc}, {stop_s.get(h)} s after SIGTERM"
                       + ("" if rc == 0 else f" (log {logs[h]})"))
            if rc != 0:
                fails.append(f"mflowd on host {h} exited {rc} after SIGTERM")

    for h, s in san.items():
        if s.clean:
            out.append(f"  LeakSanitizer {h}       0 leaks (no ASan/LSan/UBSan report)")
            continue
        out.append(f"  LeakSanitizer {h}       {s.leaks} leak record(s); reports: "
                   f"{' '.join(s.files) or logs[h]}")
        for line in (s.errors + s.summaries)[:12]:
            out.append(f"    {line}")
        fails.append(f"sanitizer report from mflowd on host {h}")
    if san and all(s.clean for s in san.values()):
        out.append("  LeakSanitizer: 0 leaks")
    out.append("  logs: " + " ".join(logs.values()))
    print("\n".join(out), flush=True)
    return fails


def run_soak(args) -> int:
    seconds = max(1, math.ceil(args.minutes * 60))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.log_dir, exist_ok=True)
    hosts = ["b"] if args.topology == "mixed" else list(topo.HOSTS)
    env, prefixes = sanitizer_env(args.log_dir, stamp, hosts)
    tb = topo.Testbed(args.topology, build_dir=args.build_dir, log_dir=args.log_dir,
                      workers=args.workers, mflowd_args=args.mflowd_args,
                      ready_timeout=args.ready_timeout, daemon_env=env)
    traffic = None
    cycles: list[Cycle] = []
    rss: dict[str, Rss] = {}
    res: dict = {}
    died: dict[str, int] = {}
    counters: dict = {}
    try:
        log(f"[{elapsed()}] soak: building the testbed ({args.topology}, offloads on)")
        tb.up()
        tb.set_offloads("on")
        rss = {h: Rss(d.proc.pid) for h, d in tb.daemons.items()}
        log(f"[{elapsed()}] soak: mflowd ready on " + ", ".join(
            f"{h} (pid {d.proc.pid}, RSS {mib(vm_rss_kb(d.proc.pid))})"
            for h, d in tb.daemons.items()) + f"; {seconds} s of traffic, a port cycle every "
            f"{args.cycle_interval:g} s")
        t_start = time.monotonic()
        traffic = start_traffic(tb, seconds, args)
        died = soak(tb, args, seconds, rss, cycles, traffic)
        if died:
            log(f"[{elapsed()}] soak: mflowd died on " + ", ".join(
                f"{h} (exit {rc})" for h, rc in died.items()) + "; stopping the traffic")
            stop_traffic(traffic)
        log(f"[{elapsed()}] soak: waiting for the traffic tools to finish")
        res = finish_traffic(traffic, max(0.0, t_start + seconds - time.monotonic()))
        traffic = None
        died.update(dead_daemons(tb))
        for h, r in rss.items():
            if h not in died:
                r.add(vm_rss_kb(r.pid))
                if r.start is None:
                    r.start = r.end
        for h in tb.daemons:
            if h not in died:
                try:
                    counters[h] = tb.mflow_counters(h)
                except (TestbedError, ValueError) as e:
                    log(f"soak: mflowctl stats on host {h}: {e}")
        if len(counters) != len(tb.daemons):
            counters = {}
        log(f"[{elapsed()}] soak: SIGTERM to mflowd, waiting for exit (LeakSanitizer runs then)")
        codes = tb.stop_daemons(grace=args.stop_timeout)
        stop_s = {h: d.stop_seconds for h, d in tb.daemons.items()}
        logs = {h: os.path.relpath(d.log_path) for h, d in tb.daemons.items()}
        san = read_sanitizer_reports(tb, prefixes)
        fails = report(args, seconds, res, cycles, rss, counters, codes, died, stop_s, san, logs)
    finally:
        if traffic is not None:
            stop_traffic(traffic)
        tb.down()
    if fails:
        print(f"soak: FAIL ({'; '.join(fails)}), {time.monotonic() - START:.0f} s", flush=True)
        return 1
    print(f"soak: PASS, {time.monotonic() - START:.0f} s", flush=True)
    return 0


def preflight() -> None:
    if os.geteuid() != 0:
        raise SystemExit("soak: must run as root (network namespaces)")
    path = os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin", "/usr/bin"]
    missing = [t for t in ("ip", "ping", "ss", "ethtool", "iperf3", "ninja")
               if not any(os.access(os.path.join(d, t), os.X_OK) for d in path)]
    if missing:
        raise SystemExit(f"soak: missing tools {missing} (scripts/setup.sh installs them)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0,
                    help="minutes of traffic (3; fractions allowed, e.g. 0.5)")
    ap.add_argument("--topology", default="mflow-microflow", choices=SOAK_TOPOLOGIES)
    ap.add_argument("--build-dir", default="build-asan",
                    help="an AddressSanitizer build (build-asan; built if mflowd is missing)")
    ap.add_argument("--no-build", action="store_true",
                    help="use the build directory as it is (no ninja run)")
    ap.add_argument("--log-dir", default="out/soak", help="mflowd logs, sanitizer reports")
    ap.add_argument("--workers", type=int, default=2, help="mflowd --workers (2)")
    ap.add_argument("--mflowd-arg", action="append", default=[], metavar="ARG",
                    help="extra mflowd argument(s) (repeatable; split like a shell)")
    ap.add_argument("--warmup", type=float, default=5,
                    help="seconds of traffic before the start RSS sample (5)")
    ap.add_argument("--cycle-interval", type=float, default=5,
                    help="seconds between port add/del cycles (5)")
    ap.add_argument("--progress-interval", type=float, default=10,
                    help="seconds between progress lines (10)")
    ap.add_argument("--udp-rate", type=float, default=1000, help="UDP datagrams per second (1000)")
    ap.add_argument("--udp-sizes", default="64,512,1400", help="UDP datagram sizes in turn")
    ap.add_argument("--tcp-bitrate", default="",
                    help="iperf3 -b for the TCP flow (default: unlimited)")
    ap.add_argument("--rss-margin-pct", type=float, default=20,
                    help="RSS growth warning: more than this %% of the start ... (20)")
    ap.add_argument("--rss-margin-mib", type=float, default=8, help="... plus this many MiB (8)")
    ap.add_argument("--ready-timeout", type=float, default=30,
                    help="seconds for mflowd to answer mflowctl after start (30)")
    ap.add_argument("--stop-timeout", type=float, default=30,
                    help="seconds mflowd may take to exit after SIGTERM, leak check included (30)")
    ap.add_argument("--cleanup", action="store_true",
                    help="remove leftovers of a soak run (mfk- namespaces, processes in them, "
                         "sockets) and exit")
    args = ap.parse_args()
    args.mflowd_args = topo.mflowd_args_of(args.mflowd_arg)
    if args.minutes <= 0 or args.cycle_interval <= 0 or args.progress_interval <= 0 \
            or args.udp_rate <= 0:
        raise SystemExit("soak: --minutes, --cycle-interval, --progress-interval and --udp-rate "
                         "must be > 0")

    topo.set_prefix(PREFIX)  # before anything is created: mfk- namespaces, sockets, lock
    preflight()
    if args.cleanup:
        with topo.Lock():
            names = topo.cleanup_leftovers()
        log(f"soak: cleanup: {'removed ' + ' '.join(names) if names else 'nothing left'}")
        return 0
    try:
        ensure_build(args.build_dir, args.no_build)
    except TestbedError as e:
        print(f"soak: {e}", file=sys.stderr)
        return 2

    return topo.run_guarded("soak", lambda: run_soak(args))


if __name__ == "__main__":
    sys.exit(main())

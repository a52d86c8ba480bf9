#!/usr/bin/python3
"""The namespace testbed benchmark: native vs kernel VXLAN vs mflow, real TCP/UDP traffic.

Run through scripts/testbed.sh (which builds first), or directly as root:
    /usr/bin/python3 scripts/testbed/testbed.py --topologies native,kernel --duration 5

For every topology x offloads x test x repeat it runs one measurement:
  tcp      iperf3, one TCP flow, client in A, server in B: Gbit/s (received), retransmits
           (iperf3), receiver TcpExtTCPOFOQueue and TcpRetransSegs (nstat deltas, per namespace)
  udp64    iperf3 -u -b 0 -l 64: receiver Gbit/s (UDP payload), pps, loss, and where the
           datagrams were lost (sender's devices, host A, host B's socket and devices, mflowd's
           counted drops, the receiver's socket: a second table after the main one)
  udp1400  iperf3 -u -b 0 -l 1400: the same
  udp1400p   (optional) 1400 B datagrams paced at --paced-rate per second, one send each
             (scripts/testbed/xfer.py, every datagram checked for content and order): the
             figure is the CPU per GB, not the rate
  udp1400gso (optional) the same, sent 16 at a time with UDP_SEGMENT: the container's TAP
             hands mflowd one super-frame per send (USO), the kernel overlay one GSO skb
  latency  sockperf ping-pong (UDP, 64 B): round-trip time p50 / p99 in microseconds, client
           and server pinned to CPU 0 (--latency-cpu) so that the figure is the network path's,
           not the VM's cross-core wake-up (20-40 us each way on the project's VMs)
  latency-apart  (optional) the same with the client pinned to one CPU and the server to
           another, as the two hosts' applications would be on two machines: every hand-off
           from one host's side to the other's then crosses cores, in the kernel overlay too
  redis, http, memcached  (optional; apps.py) request/response applications container to
           container: redis-benchmark SET and GET, nginx + wrk, memcached + memcache_load.py;
           requests/s, p50 / p99, CPU per request, a table of their own
and per measurement: /proc/stat busy time of every core, CPU-seconds per GB delivered (whole
machine), the overlay daemons' own CPU-seconds per GB (both mflowd, or both wireguard-go or
nebula processes of tunnels.py's topologies; /proc/PID/stat), the sum of mflowd's
out-of-order counter over engines and hosts, and mflowd's copies per byte received with the copy
floor they set (copies per byte / the memcpy rate of scripts/provenance.sh, in CPU-s per GB).

By default the repeats are interleaved: each round builds every topology once, runs all its
offload settings and tests, and tears it down, so that every topology sees the same machine
noise and the ratio against `kernel` is taken within a round (median [min..max] over rounds).
--order grouped builds each topology once for all its repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apps  # noqa: E402
import topo  # noqa: E402
from topo import TestbedError, log, run, spawn, finish, stop  # noqa: E402

TESTS = ("tcp", "udp64", "udp1400", "latency")  # the default set
OPTIONAL_TESTS = ("udp1400p", "udp1400gso", "latency-apart")
LATENCY_TESTS = ("latency", "latency-apart")  # sockperf; the figure is the p50 RTT
XFER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xfer.py")
XFER_PORT = 5301
PACED_RATE = [50000]  # --paced-rate
IPERF_PORT = 5201
SOCKPERF_PORT = 11111
START = time.monotonic()
LATENCY_PIN: list[str] = []  # e.g. ["taskset", "-c", "0"] (--latency-cpu)
SETTLE_CORES = 0.25  # busy cores (niced excluded) under which a measurement may start
SETTLE_MAX_S = 5.0   # ... waiting at most this long
MEMCPY_GBYTES_PER_S: list = [None]  # from the provenance line (copy_floor)


def elapsed() -> str:
    s = int(time.monotonic() - START)
    return f"{s // 60:3d}m{s % 60:02d}s"


# --------------------------------------------------------------------------------------------
# one measurement


class Sample:
    """Machine-wide and daemon counters around one measurement."""

    def __init__(self, tb: topo.Testbed, ep: topo.Endpoints):
        self.tb, self.ep = tb, ep
        self.rx_host = topo.host_ns("b")

    def __enter__(self):
        # Load on the machine before the measurement (a shared VM: builds, other jobs).
        # Let the tail of the previous run settle first (queues draining, namespace clean-up in
        # kernel workers after a teardown): wait, bounded, until under SETTLE_CORES are busy.
        deadline = time.monotonic() + SETTLE_MAX_S
        while True:
            self.background, self.background_nice = topo.background_load(0.3)
            if self.background < SETTLE_CORES or time.monotonic() >= deadline:
                break
        self.host_a = topo.host_ns("a")
        for ns in (self.ep.client_ns, self.ep.server_ns, self.host_a, self.rx_host):
            topo.nstat_reset(ns)
        self.devs0 = {ns: topo.dev_drops(ns) for ns in
                      (self.ep.client_ns, self.ep.server_ns, self.host_a, self.rx_host)}
        self.m0 = self.tb.mflow_counters()
        self.link0 = topo.link_stats(self.rx_host, topo.UNDERLAY_DEV["b"])
        self.d0 = self.tb.daemons_cpu_seconds()
        self.cpu0 = topo.proc_stat_cpus()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        return False

    def finish(self) -> dict:
        t1 = time.monotonic()
        cpu1 = topo.proc_stat_cpus()
        d1 = self.tb.daemons_cpu_seconds()
        link1 = topo.link_stats(self.rx_host, topo.UNDERLAY_DEV["b"])
        self.tb.check_daemons_alive()
        m1 = self.tb.mflow_counters()
        wall = t1 - self.t0
        busy = [(b1 - b0) / topo.CLK_TCK for (b0, _), (b1, _) in zip(self.cpu0, cpu1)]
        out = {
            "wall_s": wall,
            "background_busy_cores": self.background,
            "background_nice_cores": self.background_nice,
            "cpu_busy_per_core": [round(b / wall, 3) for b in busy],
            "cpu_s": sum(busy),
            "mflowd_cpu_s": None if self.d0 is None or d1 is None else d1 - self.d0,
            "mflow_out_of_order": None if self.m0 is None else
            m1["out_of_order"] - self.m0["out_of_order"],
            "mflow_drops": None if self.m0 is None else m1["drops"] - self.m0["drops"],
            "mflow_elephants": None if self.m0 is None else m1["elephants"] - self.m0["elephants"],
            "mflow_copied_bytes": None if self.m0 is None or self.m0["copied_bytes"] is None
            or m1["copied_bytes"] is None else m1["copied_bytes"] - self.m0["copied_bytes"],
            "nstat_receiver": topo.nstat_read(self.ep.server_ns),
            "nstat_sender": topo.nstat_read(self.ep.client_ns),
            "nstat_host_a": topo.nstat_read(self.host_a),
            "nstat_host_b": topo.nstat_read(self.rx_host),
            "dev_drops": {ns: {k: v - self.devs0[ns][k] for k, v in topo.dev_drops(ns).items()}
                          for ns in self.devs0},
        }
        if self.link0 and link1:
            pk = link1["rx_packets"] - self.link0["rx_packets"]
            by = link1["rx_bytes"] - self.link0["rx_bytes"]
            out["underlay_rx_packets"] = pk
            out["underlay_rx_avg_bytes"] = round(by / pk, 1) if pk else None
        return out


def start_server(ns: str, argv: list[str], port: int, proto: str) -> subprocess.Popen:
    p = spawn(argv, ns=ns)
    try:
        topo.wait_listening(ns, port, proto, timeout=5, proc=p)
    except TestbedError:
        rc, out, err = finish(p, 2)
        raise TestbedError(f"server {shlex.join(argv)} did not start: {err.strip()[-300:]}")
    return p


def iperf3(tb: topo.Testbed, ep: topo.Endpoints, dur: float, extra: list[str]) -> tuple[dict, dict]:
    server = start_server(ep.server_ns, ["iperf3", "-s", "-1", "-B", ep.server_addr,
                                         "-p", str(IPERF_PORT)], IPERF_PORT, "tcp")
    try:
        with Sample(tb, ep) as s:
            cp = run(["iperf3", "-c", ep.server_addr, "-p", str(IPERF_PORT), "-t", str(dur), "-J",
                      "--connect-timeout", "3000"] + extra,
                     ns=ep.client_ns, timeout=dur + 30, check=False)
            sample = s.finish()
        try:
            res = json.loads(cp.stdout)
        except ValueError:
            raise TestbedError(f"iperf3 failed ({cp.returncode}): {cp.stderr.strip()[-300:]}")
        if "error" in res:
            raise TestbedError(f"iperf3: {res['error']}")
        finish(server, 10)
        return res, sample
    finally:
        stop(server)


def gb(nbytes: float) -> float:
    return nbytes / 1e9


def sample_fields(sample: dict, nbytes: float | None) -> dict:
    """The fields every record takes from its sample: CPU (per GB when nbytes is known) and
    mflowd's counters."""
    d = {
        "mflow_out_of_order": sample["mflow_out_of_order"],
        "mflow_drops": sample["mflow_drops"],
        "mflow_elephants": sample["mflow_elephants"],
        "underlay_rx_avg_bytes": sample.get("underlay_rx_avg_bytes"),
        "background_busy_cores": sample["background_busy_cores"],
        "background_nice_cores": sample["background_nice_cores"],
        "cpu_busy_cores": round(sum(sample["cpu_busy_per_core"]), 3),
        "cpu_busy_per_core": sample["cpu_busy_per_core"],
        "cpu_s": round(sample["cpu_s"], 3),
        "mflowd_cpu_s": None if sample["mflowd_cpu_s"] is None else round(sample["mflowd_cpu_s"], 3),
        "cpu_s_per_gb": None, "mflowd_s_per_gb": None,
        "copies_per_byte": None, "copy_floor_s_per_gb": None,
    }
    if nbytes:
        d["cpu_s_per_gb"] = round(sample["cpu_s"] / gb(nbytes), 4)
        if sample["mflowd_cpu_s"] is not None:
            d["mflowd_s_per_gb"] = round(sample["mflowd_cpu_s"] / gb(nbytes), 4)
        d.update(copy_floor(sample.get("mflow_copied_bytes"), nbytes))
    return d


def memcpy_gbytes_per_s(provenance: str) -> float | None:
    """The single-core memcpy rate in GB/s from scripts/provenance.sh's line ("memcpy 217.3
    Gbit/s per core"); None where it was not measured."""
    m = re.search(r"memcpy ([0-9.]+) Gbit/s per core", provenance)
    return float(m.group(1)) / 8 if m and float(m.group(1)) > 0 else None


def copy_floor(copied_bytes: int | None, nbytes: float) -> dict:
    """copies_per_byte: the bytes both mflowd copied (kernel crossings at their ports and their
    own payload memcpy) per byte the receiving container got; copy_floor_s_per_gb: the CPU-seconds
    per GB those copies alone cost at this machine's memcpy rate (MEMCPY_GBYTES_PER_S), the floor
    under mflowd's CPU-s per GB. None without mflowd."""
    if copied_bytes is None or not nbytes:
        return {}
    cpb = copied_bytes / nbytes
    rate = MEMCPY_GBYTES_PER_S[0]
    return {"copies_per_byte": round(cpb, 3),
            "copy_floor_s_per_gb": round(cpb / rate, 4) if rate else None}


def test_tcp(tb, ep, dur) -> dict:
    res, s = iperf3(tb, ep, dur, [])
    recv, sent = res["end"]["sum_received"], res["end"]["sum_sent"]
    nr, ns_ = s["nstat_receiver"], s["nstat_sender"]
    r = {
        "gbps": recv["bits_per_second"] / 1e9,
        "bytes": recv["bytes"],
        "pps": None,
        "retransmits": sent.get("retransmits"),
        "tcp_ofo": nr.get("TcpExtTCPOFOQueue", 0),
        "receiver_retrans_segs": nr.get("TcpRetransSegs", 0),
        "sender_retrans_segs": ns_.get("TcpRetransSegs", 0),
    }
    r.update(sample_fields(s, recv["bytes"]))
    return r


def test_udp(tb, ep, dur, size) -> dict:
    res, s = iperf3(tb, ep, dur, ["-u", "-b", "0", "-l", str(size)])
    recv, sent = res["end"]["sum_received"], res["end"]["sum_sent"]
    got = recv["bytes"] // size
    secs = recv["seconds"] or dur
    nr = s["nstat_receiver"]
    r = {
        "gbps": recv["bytes"] * 8 / secs / 1e9,
        "bytes": recv["bytes"],
        "pps": got / secs,
        "sent_packets": sent["packets"],
        "received_packets": got,
        "loss_pct": round(100.0 * (1 - got / sent["packets"]), 3) if sent["packets"] else None,
        "udp_rcvbuf_errors": nr.get("UdpRcvbufErrors", 0),
        "loss_places": loss_places(s, ep, sent["packets"]),
    }
    r.update(sample_fields(s, recv["bytes"]))
    return r


def loss_places(s: dict, ep: topo.Endpoints, sent: int) -> dict:
    """Where a UDP test's datagrams were counted as lost, along the path from the sender to the
    receiver (host A carries the sender's container, host B the receiver's):
      sender_dev   the sender namespace's devices dropped on the way out (a full TAP or veth
                   queue: for mflowd, the daemon did not read the TAP in time)
      host_a       host A's UDP send buffer errors and device drops (its tunnel socket, veth;
                   for wireguard-go and nebula also the TUN device the daemon did not read
                   in time)
      host_b_sock  host B's UDP receive buffer errors (mflowd's underlay socket overflowing)
      host_b_dev   host B's device drops
      mflowd       packets the daemons dropped, by any counted reason (mflowctl stats)
      receiver     the receiver's UDP receive buffer errors and device drops (its socket full)
    Counts are the kernel's and mflowd's own: a GRO super-datagram that overflows a socket counts
    once, so the places need not add up to the datagrams lost. The sender's device counts
    frames: where a datagram exceeds the container's MTU (1400 B over the encrypted topologies'
    1405) each leaves as two IP fragments, so sender_dev is divided by the frames per datagram
    (a lower bound: a datagram is lost with either of its fragments)."""
    def dev(ns, k):
        return s.get("dev_drops", {}).get(ns, {}).get(k, 0)
    a, b = topo.host_ns("a"), topo.host_ns("b")
    na, nb, nr = s.get("nstat_host_a", {}), s.get("nstat_host_b", {}), s.get("nstat_receiver", {})
    client, server = ep.client_ns, ep.server_ns
    frames = dev(client, "tx_packets") + dev(client, "tx_dropped")
    frames_per_datagram = max(1.0, frames / sent) if sent else 1.0
    if client == a or server == b:  # native: the endpoints are the hosts themselves
        return {"receiver": nr.get("UdpRcvbufErrors", 0) + dev(server, "rx_dropped")}
    return {
        "sender_dev": round(dev(client, "tx_dropped") / frames_per_datagram),
        "host_a": na.get("UdpSndbufErrors", 0) + dev(a, "tx_dropped") + dev(a, "rx_dropped"),
        "host_b_sock": nb.get("UdpRcvbufErrors", 0),
        "host_b_dev": dev(b, "rx_dropped") + dev(b, "tx_dropped"),
        "mflowd": s.get("mflow_drops") or 0,
        "receiver": nr.get("UdpRcvbufErrors", 0) + dev(server, "rx_dropped"),
    }


def test_paced_udp(tb, ep, dur, gso: int) -> dict:
    """Paced 1400 B datagrams through xfer.py: the same load with and without UDP_SEGMENT, so
    that the CPU per GB compares the two ways of sending (USO against one send per datagram)."""
    rate = PACED_RATE[0]
    count = max(1, int(rate * dur))
    size = 1400
    server = start_server(ep.server_ns, [sys.executable, XFER, "udp-server", "--bind",
                                         ep.server_addr, "--port", str(XFER_PORT), "--count",
                                         str(count), "--timeout", str(dur + 20), "--idle", "2"],
                          XFER_PORT, "udp")
    try:
        with Sample(tb, ep) as s:
            cp = run([sys.executable, XFER, "udp-client", "--connect", ep.server_addr, "--port",
                      str(XFER_PORT), "--count", str(count), "--rate", str(rate), "--sizes",
                      str(size), "--gso", str(gso)], ns=ep.client_ns, timeout=dur + 30,
                     check=False)
            rc, out, err = finish(server, dur + 25)
            sample = s.finish()
    finally:
        stop(server)
    try:
        cli, srv = json.loads(cp.stdout), json.loads(out)
    except ValueError:
        raise TestbedError(f"xfer.py failed ({cp.returncode}, {rc}): "
                           f"{(cp.stderr + err).strip()[-300:]}")
    if "error" in cli or "error" in srv:
        raise TestbedError(f"xfer.py: client {cli.get('error', 'ok')}, server "
                           f"{srv.get('error', 'ok')}")
    if srv["corrupted"] or srv["bad_length"] or srv["duplicates"] or srv["out_of_order"]:
        raise TestbedError(f"xfer.py: datagrams damaged or reordered: {srv}")
    got = srv["received"]
    secs = sample["wall_s"]
    r = {
        "gbps": got * size * 8 / secs / 1e9,
        "bytes": got * size,
        "pps": got / secs,
        "sent_packets": cli["sent"],
        "received_packets": got,
        "sends": cli["sends"],
        "loss_pct": round(100.0 * (1 - got / cli["sent"]), 3) if cli["sent"] else None,
    }
    r.update(sample_fields(sample, got * size))
    return r


def apart_pins() -> tuple[list[str], list[str]]:
    """latency-apart: the client on the first CPU this process may use, the server on the
    second."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise TestbedError("latency-apart needs two CPUs")
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


def test_latency(tb, ep, dur, client_pin: list[str], server_pin: list[str]) -> dict:
    server = start_server(ep.server_ns, server_pin + ["sockperf", "sr", "-i", ep.server_addr,
                                                       "-p", str(SOCKPERF_PORT)],
                          SOCKPERF_PORT, "udp")
    try:
        with Sample(tb, ep) as s:
            cp = run(client_pin + ["sockperf", "pp", "-i", ep.server_addr, "-p", str(SOCKPERF_PORT),
                      "-t", str(int(max(1, dur))), "-m", "64", "--full-rtt"],
                     ns=ep.client_ns, timeout=dur + 30, check=False)
            sample = s.finish()
    finally:
        stop(server)
    text = re.sub(r"\x1b\[[0-9;]*m", "", cp.stdout + cp.stderr)

    def pct(p):
        m = re.search(rf"percentile {p} =\s*([\d.]+)", text)
        return float(m.group(1)) if m else None

    p50, p99 = pct("50.000"), pct("99.000")
    if cp.returncode != 0 or p50 is None:
        raise TestbedError(f"sockperf failed ({cp.returncode}): {text.strip()[-300:]}")
    m = re.search(r"avg-rtt=([\d.]+)", text)
    d = re.search(r"# dropped messages = (\d+)", text)
    r = {"gbps": None, "pps": None, "p50_us": p50, "p99_us": p99, "wall_s": sample["wall_s"],
         "avg_us": float(m.group(1)) if m else None, "latency_kind": "rtt",
         "sockperf_dropped": int(d.group(1)) if d else None}
    r.update(sample_fields(sample, None))
    return r


def run_test(tb: topo.Testbed, test: str, dur: float) -> dict:
    ep = tb.endpoints()
    if test == "tcp":
        return test_tcp(tb, ep, dur)
    if test == "udp64":
        return test_udp(tb, ep, dur, 64)
    if test == "udp1400":
        return test_udp(tb, ep, dur, 1400)
    if test == "latency":
        return test_latency(tb, ep, dur, LATENCY_PIN, LATENCY_PIN)
    if test == "latency-apart":
        return test_latency(tb, ep, dur, *apart_pins())
    if test == "udp1400p":
        return test_paced_udp(tb, ep, dur, 0)
    if test == "udp1400gso":
        return test_paced_udp(tb, ep, dur, 16)
    if test in apps.SUBTESTS:
        return apps.run_test(tb, ep, test, dur, Sample, sample_fields)
    raise TestbedError(f"unknown test {test}")


# --------------------------------------------------------------------------------------------
# aggregation


def med_min_max(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def primary(test: str, run_: dict):
    """The figure a ratio is taken of: throughput (requests/s for applications), or p50 RTT
    for latency."""
    if test in apps.SUBTESTS:
        return run_.get("rps")
    return run_.get("p50_us") if test in LATENCY_TESTS else run_.get("gbps")


def aggregate(results: dict, order: list, args, command: list[str]) -> list[dict]:
    """results[(topology, offloads, test)] = list of (round, run dict or {'error':...})."""
    records = []
    for key in order:
        topology, off, test = key
        runs = [r for _, r in results.get(key, []) if "error" not in r]
        errors = [r["error"] for _, r in results.get(key, []) if "error" in r]
        rec = {"topology": topology, "test": test, "offloads": off, "repeats": len(runs),
               "duration_s": args.duration, "command": command}
        for f in ("gbps", "pps", "p50_us", "p99_us", "loss_pct", "cpu_s_per_gb",
                  "mflowd_s_per_gb", "copies_per_byte", "copy_floor_s_per_gb", "cpu_busy_cores", "underlay_rx_avg_bytes", "rps",
                  "cpu_us_per_req", "daemon_us_per_req"):
            m, lo, hi = med_min_max([r.get(f) for r in runs])
            rec[f] = m
            rec[f + "_min"] = lo
            rec[f + "_max"] = hi
        for f in ("retransmits", "tcp_ofo", "sender_retrans_segs", "receiver_retrans_segs"):
            vals = [r.get(f) for r in runs if r.get(f) is not None]
            rec[f] = statistics.median(vals) if vals else None
            rec[f + "_total"] = sum(vals) if vals else None
        ae = [r["request_errors"] for r in runs if r.get("request_errors") is not None]
        rec["app_errors"] = statistics.median(ae) if ae else None
        oo = [r.get("mflow_out_of_order") for r in runs if r.get("mflow_out_of_order") is not None]
        rec["mflow_out_of_order"] = sum(oo) if oo else None
        dr = [r.get("mflow_drops") for r in runs if r.get("mflow_drops") is not None]
        rec["mflow_drops"] = statistics.median(dr) if dr else None
        # Where UDP datagrams were lost: each place's count as a share of those sent (median).
        lp = [(r["loss_places"], r["sent_packets"]) for r in runs
              if r.get("loss_places") is not None and r.get("sent_packets")]
        rec["loss_places_pct"] = ({k: round(statistics.median(100.0 * p.get(k, 0) / n for p, n in lp), 2)
                                   for k in lp[0][0]} if lp else None)
        rec["latency_kind"] = ("rtt" if test in LATENCY_TESTS else
                               "request" if test in apps.SUBTESTS else None)
        # ratio against kernel, taken within each round
        rec["ratio_vs_kernel"] = ratio(results, key, ("kernel", off, test))
        if topology in ("mflow-stage", "mflow-microflow"):
            rec["ratio_vs_mflow_flow"] = ratio(results, key, ("mflow-flow", off, test))
        rec["underlay_features"] = next((r["underlay_features"] for r in runs
                                         if "underlay_features" in r), None)
        rec["runs"] = [dict({k: v for k, v in r.items() if k != "underlay_features"}, round=i)
                       for i, r in results.get(key, [])]
        rec["errors"] = errors
        records.append(rec)
    return records


def ratio(results, key, base_key):
    if key == base_key or base_key not in results:
        return None
    test = key[2]
    base = {i: primary(test, r) for i, r in results[base_key] if "error" not in r}
    vals = []
    for i, r in results.get(key, []):
        if "error" in r or not base.get(i) or primary(test, r) is None:
            continue
        vals.append(primary(test, r) / base[i])
    m, lo, hi = med_min_max(vals)
    if m is None:
        return None
    return {"median": round(m, 3), "min": round(lo, 3), "max": round(hi, 3), "n": len(vals)}


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


LOSS_PLACES = ("sender_dev", "host_a", "host_b_sock", "host_b_dev", "mflowd", "receiver")


def print_loss_table(records: list[dict], out=sys.stdout) -> None:
    """Where the unpaced UDP tests lost their datagrams (loss_places), as % of those sent."""
    rows = [r for r in records if r.get("loss_places_pct")]
    if not rows:
        return
    tw = max([8] + [len(r["test"]) for r in rows])
    nw = max([16] + [len(r["topology"]) for r in rows])
    print(f"\nWhere UDP datagrams were lost, % of those sent (median; see loss_places in "
          f"testbed.py for each place):", file=out)
    hdr = (f"{'topology':<{nw}} {'offl':<4} {'test':<{tw}}| {'loss%':>6} |" +
           "".join(f" {k:>11}" for k in LOSS_PLACES))
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        lp = r["loss_places_pct"]
        print(f"{r['topology']:<{nw}} {r['offloads']:<4} {r['test']:<{tw}}|"
              f" {fmt(r['loss_pct'], '6.2f', ''):>6} |" +
              "".join(f" {fmt(lp.get(k), '11.2f'):>11}" for k in LOSS_PLACES), file=out)


def print_table(records: list[dict], out=sys.stdout) -> None:
    if not records:
        return
    tw = max([8] + [len(r["test"]) for r in records])
    nw = max([16] + [len(r["topology"]) for r in records])  # mflow-esp-microflow is 19
    hdr = (f"{'topology':<{nw}} {'offl':<4} {'test':<{tw}}| {'Gbit/s':>7} {'[min..max]':<16}|"
           f" {'x kernel':>8} {'[min..max]':<12}| {'Mpps':>6} {'loss%':>6} |"
           f" {'p50/p99 us':>13} | {'retr':>6} {'ofo':>6} {'ooo':>5} |"
           f" {'CPU s/GB':>8} {'mflowd':>7} {'copies/B':>8} {'floor s/GB':>10} {'cores':>5}")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in records:
        if not r["repeats"]:
            err = (r["errors"] or ["no result"])[0].splitlines()[0][:90]
            print(f"{r['topology']:<{nw}} {r['offloads']:<4} {r['test']:<{tw}}| FAILED: {err}", file=out)
            continue
        g = ""
        if r["gbps"] is not None:
            g = f"{r['gbps']:7.2f} [{r['gbps_min']:6.2f}..{r['gbps_max']:6.2f}]"
        rk = r.get("ratio_vs_kernel")
        rs = f"{rk['median']:8.2f} [{rk['min']:4.2f}..{rk['max']:4.2f}]" if rk else f"{'':8} {'':12}"
        lat = (f"{r['p50_us']:6.1f}/{r['p99_us']:6.1f}" if r["p50_us"] is not None else "")
        pps = fmt(r["pps"] / 1e6 if r["pps"] is not None else None, "6.3f", "")
        print(f"{r['topology']:<{nw}} {r['offloads']:<4} {r['test']:<{tw}}| {g:<24}|"
              f" {rs:<21}| {pps:>6} {fmt(r['loss_pct'], '6.2f', ''):>6} |"
              f" {lat:>13} | {fmt(r['retransmits'], '6.0f', ''):>6}"
              f" {fmt(r['tcp_ofo'], '6.0f', ''):>6} {fmt(r['mflow_out_of_order'], '5d'):>5} |"
              f" {fmt(r['cpu_s_per_gb'], '8.3f', ''):>8} {fmt(r['mflowd_s_per_gb'], '7.3f', ''):>7}"
              f" {fmt(r.get('copies_per_byte'), '8.2f'):>8} {fmt(r.get('copy_floor_s_per_gb'), '10.3f'):>10}"
              f" {fmt(r['cpu_busy_cores'], '5.2f'):>5}", file=out)
    print("\nGbit/s: received (tcp: TCP payload; udp: UDP payload), median [min..max] over "
          "repeats.\nx kernel: ratio to `kernel` with the same offloads and test, taken within "
          "each round (latency: p50 RTT ratio, lower is better).\np50/p99: sockperf round-trip "
          "time (RTT, 64 B UDP; latency: client and server pinned with --latency-cpu; latency-apart: on two CPUs).\nretr: iperf3 retransmits (median); ofo: receiver "
          "TcpExtTCPOFOQueue (median); ooo: mflowd out_of_order, sum over engines, hosts, "
          "repeats (must be 0).\nCPU s/GB: busy CPU-seconds (niced time excluded) of the whole machine per GB "
          "received; mflowd: both overlay daemons' CPU-seconds per GB (mflowd, or wireguard-go / "
          "nebula); cores: busy cores during the "
          "run.\ncopies/B: bytes the mflowd daemons copied per byte received, by the kernel at "
          "their ports (TAP read and write, UDP receive and send: 2 per byte per host) and by "
          "mflowd itself (mflowctl stats, docs/COPIES.md); floor s/GB: copies/B / the memcpy rate "
          "of the provenance line above, the CPU-seconds per GB the copies alone cost (mflowd's "
          "CPU s/GB cannot go below it without copying less); -: no mflowd.", file=out)
    if any(r["test"] in OPTIONAL_TESTS for r in records):
        print("udp1400p/udp1400gso: paced at the same rate (xfer.py, every datagram checked), so "
              "compare their CPU s/GB, not their Gbit/s.", file=out)
    bg = [x["background_busy_cores"] for r in records for x in r.get("runs", [])
          if x.get("background_busy_cores") is not None]
    if bg and max(bg) > 0.2:
        print(f"\nWARNING: the machine was not idle: up to {max(bg):.2f} cores busy in the 0.3 s "
              f"before a measurement, after waiting up to {SETTLE_MAX_S:g} s for it to settle "
              f"(median {statistics.median(bg):.2f}); figures are noisy.", file=out)
    nice = [x["background_nice_cores"] for r in records for x in r.get("runs", [])
            if x.get("background_nice_cores") is not None]
    if nice and max(nice) > 0.2:
        print(f"\nNote: niced processes (e.g. a build) were running: up to {max(nice):.2f} cores "
              f"before a measurement (median {statistics.median(nice):.2f}); they yield to the "
              "test but still take some CPU time.", file=out)


# --------------------------------------------------------------------------------------------
# chart


# Topologies of the "encrypted" chart panel, in this order, where the run has them (the ESP
# topologies come with mflowd's encrypted underlay; the tunnels from tunnels.py).
ENCRYPTED_TOPOLOGIES = ("mflow-esp-flow", "mflow-esp-stage", "mflow-esp-microflow",
                        "wireguard-go", "nebula")
SERIES_COLORS = ("#3060c0", "#e08030", "#40a040", "#c04040", "#8050b0", "#707070")


def _bar_panel(tmp: str, name: str, groups: list[str], series: list[tuple[str, str]], value,
               title: str, ylabel: str) -> str | None:
    """One gnuplot histogram panel: a group of bars per entry of groups, one bar per series
    (key, legend title); value(group, key) -> (median, min, max) or None. Groups without any
    value are left out; a missing bar is drawn as 0 and its group marked with *. Returns the
    plot commands, or None when nothing is there to draw."""
    groups = [g for g in groups if any(value(g, k) is not None for k, _ in series)]
    if not groups:
        return None
    dat = os.path.join(tmp, f"{name}.dat")
    missing = False
    with open(dat, "w") as f:
        f.write("# group " + " ".join(f"{k} {k}_min {k}_max" for k, _ in series) + "\n")
        for g in groups:
            row, hole = [], False
            for k, _ in series:
                v = value(g, k)
                if v is None:
                    row += ["0", "0", "0"]
                    hole = True
                else:
                    row += [f"{x:.4f}" for x in v]
            missing = missing or hole
            f.write(f'"{g}{"*" if hole else ""}" ' + " ".join(row) + "\n")
    plot = ", ".join(
        (f"'{dat}' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}" + (":xtic(1)" if i == 0 else "")
         + f" title '{label}' lc rgb '{SERIES_COLORS[i % len(SERIES_COLORS)]}'")
        for i, (_, label) in enumerate(series))
    note = " (* = no result)" if missing else ""
    return (f"set title '{title}{note}'\nset ylabel '{ylabel}'\n"
            f"set xrange [-0.6:{len(groups) - 0.4}]\nplot {plot}\n")


def write_chart(records: list[dict], path: str, topologies: list[str]) -> None:
    """Grouped bars (median, error bar min..max): one panel per throughput test with a group per
    topology and a bar per offloads setting; an "encrypted" panel (TCP, the encrypted
    topologies of the run: ENCRYPTED_TOPOLOGIES); an "applications" panel per offloads setting
    (requests/s, a bar per application test). gnuplot, SVG (or PNG if the name ends in .png)."""
    panels = [("tcp", "gbps", 1.0, "TCP, one flow (iperf3)", "Gbit/s received", topologies),
              ("udp1400", "gbps", 1.0, "UDP, 1400 B datagrams, -b 0 (iperf3)", "Gbit/s received",
               topologies),
              ("udp64", "pps", 1e-6, "UDP, 64 B datagrams, -b 0 (iperf3)", "Mpps received",
               topologies),
              ("tcp", "gbps", 1.0, "Encrypted overlays: TCP, one flow (iperf3)",
               "Gbit/s received", [t for t in ENCRYPTED_TOPOLOGIES if t in topologies])]
    by = {(r["topology"], r["offloads"], r["test"]): r for r in records}
    offloads = [o for o in ("on", "off") if any(r["offloads"] == o for r in records)]
    off_series = [(o, f"offloads {o}") for o in offloads]

    def figure(key, field, scale):
        r = by.get(key)
        if not r or r.get(field) is None:
            return None
        return r[field] * scale, r[field + "_min"] * scale, r[field + "_max"] * scale

    tmp = tempfile.mkdtemp(prefix=f"{topo.PREFIX}chart-")
    try:
        plots = []
        for i, (test, field, scale, title, ylabel, tops) in enumerate(panels):
            p = _bar_panel(tmp, f"p{i}", tops, off_series,
                           lambda tp, o: figure((tp, o, test), field, scale), title, ylabel)
            if p:
                plots.append(p)
        app_tests = [x for x in apps.SUBTESTS if any(r["test"] == x for r in records)]
        for o in offloads if app_tests else []:
            p = _bar_panel(tmp, f"apps-{o}", topologies, [(x, x) for x in app_tests],
                           lambda tp, x: figure((tp, o, x), "rps", 1e-3),
                           f"Applications, container to container (offloads {o})",
                           "thousand requests/s")
            if p:
                plots.append(p)
        if not plots:
            log("chart: no throughput results, nothing to draw")
            return
        h = 320 * len(plots)
        if path.endswith(".png"):
            term = f"set terminal pngcairo size 1000,{h} font 'sans,10'\n"
        else:
            term = f"set terminal svg size 1000,{h} dynamic font 'sans,11' background '#ffffff'\n"
        script = (
            term
            + f"set output '{os.path.abspath(path)}'\n"
            "set style data histogram\n"
            "set style histogram errorbars gap 1 lw 1\n"
            "set style fill solid 0.85 border -1\n"
            "set yrange [0:*]\n"
            "set grid ytics\n"
            "set key top right\n"
            "set xtics nomirror\n"
            f"set multiplot layout {len(plots)},1 title 'mflow testbed: median of repeats, "
            "error bars min..max'\n"
            + "".join(plots) + "unset multiplot\n")
        with open(os.path.join(tmp, "chart.gp"), "w") as f:
            f.write(script)
        cp = run(["gnuplot", os.path.join(tmp, "chart.gp")], timeout=30, check=False)
        if cp.returncode != 0:
            raise TestbedError(f"gnuplot failed: {cp.stderr.strip()[-500:]}")
        log(f"chart: {path}")
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


# --------------------------------------------------------------------------------------------
# driver


def parse_list(s: str, allowed, what: str) -> list[str]:
    vals = [v.strip() for v in s.split(",") if v.strip()]
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise SystemExit(f"testbed: unknown {what}: {','.join(bad) or s!r} "
                         f"(choose from {','.join(allowed)})")
    return vals


def preflight(args) -> None:
    if os.geteuid() != 0:
        raise SystemExit("testbed: must run as root (network namespaces)")
    need = ["ip", "ethtool", "ss", "nstat"]
    if {"tcp", "udp64", "udp1400"} & set(args.tests):
        need.append("iperf3")
    if set(LATENCY_TESTS) & set(args.tests):
        need += ["sockperf", "taskset"]
    if args.chart:
        need.append("gnuplot")
    need += apps.tools_needed(args.tests)
    if "wireguard-go" in args.topologies:
        need += ["wireguard-go", "wg"]
    if "nebula" in args.topologies:
        need += ["nebula", "nebula-cert"]
    if set(args.topologies) & set(topo.TUNNEL_TOPOLOGIES):
        need.append("ping")
    missing = [t for t in need if not any(os.access(os.path.join(d, t), os.X_OK)
                                          for d in os.environ.get("PATH", "").split(":")
                                          + ["/usr/sbin", "/sbin"])]
    if missing:
        raise SystemExit(f"testbed: missing tools {missing} (scripts/setup.sh installs them)")


def _provenance(build_dir: str) -> str:
    """Date, commit, CPU, cores, kernel and memcpy (scripts/provenance.sh): the line
    every table of results carries."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "provenance.sh")
    try:
        return subprocess.run(["bash", script, build_dir], capture_output=True, text=True,
                              timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"provenance unknown ({e})"


def write_json(path: str, doc: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topologies", default="plain",
                    help="comma list of " + ",".join(topo.TOPOLOGIES) + ", or the groups "
                         + "; ".join(f"{g} = {','.join(t)}" for g, t in topo.TOPOLOGY_GROUPS.items()
                                     if g != "all") + "; all (default: plain)")
    ap.add_argument("--offloads", default="on,off", help="comma list of on,off (default both)")
    ap.add_argument("--tests", default=",".join(TESTS),
                    help="comma list of " + ",".join(TESTS + OPTIONAL_TESTS + tuple(apps.TESTS))
                         + " (default: " + ",".join(TESTS) + "; the applications: "
                         + ", ".join(f"{k} = {'+'.join(v)}" for k, v in apps.TESTS.items())
                         + ")")
    ap.add_argument("--paced-rate", type=int, default=PACED_RATE[0],
                    help="datagrams per second in udp1400p and udp1400gso (50000)")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measurement (10)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats; median [min..max] (3)")
    ap.add_argument("--order", choices=("interleaved", "grouped"), default="interleaved",
                    help="interleaved: every round builds each topology once (default); "
                         "grouped: each topology built once for all repeats")
    ap.add_argument("--json", metavar="FILE", help="write one record per topology x test x offloads")
    ap.add_argument("--chart", metavar="FILE.svg", help="grouped bar chart of throughput (gnuplot)")
    ap.add_argument("--build-dir", default="build", help="where mflowd/mflowctl are (./build)")
    ap.add_argument("--log-dir", default="out/testbed", help="mflowd logs (out/testbed)")
    ap.add_argument("--workers", type=int, default=2, help="mflowd --workers (2)")
    ap.add_argument("--mflowd-arg", action="append", default=[], metavar="ARG",
                    help="extra mflowd argument(s), e.g. --mflowd-arg=--no-gso (repeatable; "
                         "split like a shell; not the options the testbed sets itself: "
                         + ", ".join(topo.TESTBED_SETS) + ")")
    for h in topo.HOSTS:
        ap.add_argument(f"--mflowd-arg-{h}", action="append", default=[], metavar="ARG",
                        help=f"extra argument(s) for host {h.upper()}'s mflowd only, e.g. "
                             f"--mflowd-arg-{h}='--cpus {topo.HOSTS.index(h)}' (with "
                             "latency-apart: each host's daemon on its application's CPU)")
    ap.add_argument("--mixed-mode", default="microflow", choices=("flow", "stage", "microflow"),
                    help="mflowd mode on host B in `mixed` (microflow)")
    ap.add_argument("--latency-cpu", metavar="CPUS", default="0",
                    help="pin the sockperf client and server to these CPUs (taskset -c; default "
                         "0; 'none' leaves them unpinned: then the RTT on this VM swings between "
                         "~5 and ~85 us with whether the two share a core)")
    ap.add_argument("--keep", action="store_true",
                    help="leave the last topology up (clean later with --cleanup)")
    ap.add_argument("--cleanup", action="store_true",
                    help="remove leftover mfb- namespaces, processes in them and sockets, exit")
    ap.add_argument("--prefix", default=topo.PREFIX,
                    help=f"name prefix of every namespace, socket and temp file ({topo.PREFIX}); "
                         "another prefix lets a second run go on beside this one")
    args = ap.parse_args()
    if not re.fullmatch(r"[a-z][a-z0-9]{1,4}-", args.prefix):
        raise SystemExit("testbed: --prefix is 2-5 lower-case letters/digits and a '-' (mfb-)")
    topo.set_prefix(args.prefix)

    if args.cleanup:
        with topo.Lock():
            names = topo.cleanup_leftovers()
        log(f"cleanup: {'removed ' + str(len(names)) + ' namespaces' if names else 'nothing left'}")
        return 0

    # Groups expand in place; a topology named twice runs once.
    names = parse_list(args.topologies, topo.TOPOLOGIES + tuple(topo.TOPOLOGY_GROUPS), "topology")
    args.topologies = list(dict.fromkeys(t for n in names for t in topo.TOPOLOGY_GROUPS.get(n, (n,))))
    args.offloads = parse_list(args.offloads, ("on", "off"), "offloads")
    args.tests = apps.expand(parse_list(args.tests, TESTS + OPTIONAL_TESTS + tuple(apps.TESTS)
                                        + apps.SUBTESTS, "test"))
    if args.paced_rate < 1:
        raise SystemExit("testbed: --paced-rate >= 1")
    PACED_RATE[0] = args.paced_rate
    if args.repeats < 1 or args.duration <= 0:
        raise SystemExit("testbed: --repeats >= 1 and --duration > 0")
    preflight(args)
    if args.latency_cpu and args.latency_cpu != "none":
        LATENCY_PIN[:] = ["taskset", "-c", args.latency_cpu]
    mflowd_args = topo.mflowd_args_of(args.mflowd_arg)
    host_args = {h: topo.mflowd_args_of(getattr(args, f"mflowd_arg_{h}"), f"--mflowd-arg-{h}")
                 for h in topo.HOSTS}
    command = [sys.argv[0]] + sys.argv[1:]

    topo.install_signal_handlers()
    results: dict = {}
    order = [(t, o, x) for t in args.topologies for o in args.offloads for x in args.tests]
    total = len(order) * args.repeats
    done = 0
    failed_topologies: dict = {}
    meta = {"command": command, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"kernel": platform.release(), "nproc": os.cpu_count(),
                        "cpu": _cpu_model()},
            "duration_s": args.duration, "repeats": args.repeats, "order": args.order,
            "workers": args.workers, "mflowd_args": mflowd_args, "host_args": host_args,
            "latency_cpu": args.latency_cpu, "provenance": _provenance(args.build_dir)}
    MEMCPY_GBYTES_PER_S[0] = memcpy_gbytes_per_s(meta["provenance"])

    if args.order == "interleaved":
        rounds = [(r, args.topologies) for r in range(args.repeats)]
    else:
        rounds = [(None, [t]) for t in args.topologies]

    tb = None
    rc = 0
    exits: list = []
    meta["mflowd_exits"] = exits
    try:
        with topo.Lock():
            left = topo.cleanup_leftovers(verbose=False)
            if left:
                log(f"testbed: removed leftovers of an earlier run: {' '.join(left)}")
            for ri, (r, tops) in enumerate(rounds):
                for ti, t in enumerate(tops):
                    reps = [r] if r is not None else list(range(args.repeats))
                    last = ri == len(rounds) - 1 and ti == len(tops) - 1
                    tb = topo.Testbed(t, build_dir=args.build_dir, log_dir=args.log_dir,
                                      workers=args.workers, mflowd_args=mflowd_args, host_args=host_args,
                                      mixed_mode=args.mixed_mode)
                    try:
                        log(f"[{elapsed()}] build {t}")
                        tb.up()
                    except TestbedError as e:
                        msg = str(e)
                        log(f"[{elapsed()}] {t}: topology failed: {msg}")
                        failed_topologies[t] = msg
                        for rep in reps:
                            for o in args.offloads:
                                for x in args.tests:
                                    results.setdefault((t, o, x), []).append((rep, {"error": msg}))
                                    done += 1
                        tb.down()
                        tb = None
                        continue
                    for o in args.offloads:
                        try:
                            tb.set_offloads(o)
                            feats = tb.underlay_features()
                        except TestbedError as e:
                            log(f"[{elapsed()}] {t} offloads={o}: FAILED {e}")
                            for rep in reps:
                                for x in args.tests:
                                    results.setdefault((t, o, x), []).append(
                                        (rep, {"error": f"offloads {o}: {e}"}))
                                    done += 1
                            continue
                        for rep in reps:
                            for x in args.tests:
                                done += 1
                                tag = (f"[{elapsed()}] {done}/{total} {t} offloads={o} {x} "
                                       f"repeat {rep + 1}/{args.repeats}")
                                try:
                                    res = run_test(tb, x, args.duration)
                                    res["underlay_features"] = feats
                                    log(f"{tag}: {summary(x, res)}")
                                except TestbedError as e:
                                    res = {"error": str(e)}
                                    log(f"{tag}: FAILED {e}")
                                results.setdefault((t, o, x), []).append((rep, res))
                    if args.keep and last:
                        log(f"testbed: --keep: leaving {t} up (namespaces "
                            f"{' '.join(tb.namespaces)}); remove with scripts/testbed.sh --cleanup")
                        topo._procs.clear()  # leave the daemons running
                    else:
                        tb.down()
                        for h, d in tb.daemons.items():
                            exits.append({"topology": t, "host": h, "exit_code": d.exit_code,
                                          "stop_seconds": d.stop_seconds, "log": d.log_path})
                            if d.exit_code != 0:
                                log(f"[{elapsed()}] WARNING: mflowd on host {h} ({t}) exited "
                                    f"with {d.exit_code} {d.stop_seconds} s after SIGTERM; "
                                    f"log {d.log_path}")
                    tb = None
                records = aggregate(results, order, args, command)
                if args.json:
                    write_json(args.json, dict(meta, records=records))
        records = aggregate(results, order, args, command)
        print()
        print(meta["provenance"])
        print("command: " + shlex.join(command))
        print_table([r for r in records if r["test"] not in apps.SUBTESTS])
        print_loss_table(records)
        apps.print_table(records)
        if args.json:
            write_json(args.json, dict(meta, records=records, finished=time.strftime(
                "%Y-%m-%dT%H:%M:%S%z")))
            log(f"json: {args.json}")
        if args.chart:
            write_chart(records, args.chart, args.topologies)
        if any(r["repeats"] == 0 for r in records):
            rc = 1
        if any((r["mflow_out_of_order"] or 0) > 0 for r in records):
            log("testbed: mflowd reported packets out of order (see the ooo column)")
            rc = 2
    except (KeyboardInterrupt, topo.Interrupted):
        rc = 130
        if results:
            partial = aggregate(results, [k for k in order if k in results], args, command)
            print_table([r for r in partial if r["test"] not in apps.SUBTESTS])
            apps.print_table(partial)
    finally:
        topo.block_signals_during_cleanup()
        if tb is not None:
            try:
                tb.down()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log(f"testbed: teardown error: {e}")
        if not args.keep:
            topo.stop_all_started()
    return rc


def summary(test: str, r: dict) -> str:
    ooo = ("" if r.get("mflow_out_of_order") is None else
           f", mflow ooo {r['mflow_out_of_order']} drops {r.get('mflow_drops')}")
    cpu = f", {r['cpu_busy_cores']:.2f} cores busy"
    if (r.get("background_busy_cores") or 0) > 0.2:
        cpu += f" (WARNING: {r['background_busy_cores']} cores busy before the run)"
    elif (r.get("background_nice_cores") or 0) > 0.2:
        cpu += f" (niced load before the run: {r['background_nice_cores']} cores)"
    if test in apps.SUBTESTS:
        return (f"{r['rps'] / 1e3:.1f} k req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
                f"{r['request_errors']} failed{cpu}{ooo}")
    if test == "tcp":
        return (f"{r['gbps']:.2f} Gbit/s, retr {r['retransmits']}, ofo {r['tcp_ofo']}, "
                f"underlay avg frame {r.get('underlay_rx_avg_bytes')} B{cpu}{ooo}")
    if test.startswith("udp"):
        return (f"{r['gbps']:.3f} Gbit/s, {r['pps'] / 1e6:.3f} Mpps, loss {r['loss_pct']}%"
                f"{cpu}{ooo}")
    return f"RTT p50 {r['p50_us']} us, p99 {r['p99_us']} us{cpu}{ooo}"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""mflowd's Prometheus metrics, end to end (behaviour, not speed; about 30 s).

Run through scripts/metrics-test.sh, or directly as root:
    /usr/bin/python3 scripts/testbed/metrics_test.py [--build-dir build]

Builds the namespace testbed (topo.py) with its own prefix, "mfp-" unless $MFLOW_METRICS_PREFIX
gives another: two hosts with mflowd in microflow mode, each started with --metrics
127.0.0.1:19090 (inside its own namespace), and a container on each. Then:
  endpoint   /metrics answers 200 with the text format; an unknown path gets 404
  idle       a client that connects and sends nothing stays connected while a scrape answers
             and while ping crosses the overlay (the data plane does not wait on it)
  promtool   `promtool check metrics` accepts a scrape
  prometheus a real Prometheus (in host A's namespace, 127.0.0.1:19091, scrape_interval 1s)
             scrapes host A; after traffic (ping, 2 s of TCP, and VXLAN datagrams with an
             unconfigured VNI from host B, each dropped by host A as
             vxlan_decap/unknown_vni) has stopped and a scrape newer than the traffic is in,
             its query API reports the same drop counter and the same container-port packet
             counter as `mflowctl --json stats` / `ports`, and its micro-flow latency histogram
             counts the micro-flows mflowctl says were released with packets; its copied and
             delivered bytes of the rx path are mflowctl's (docs/COPIES.md)
  version    mflowd --version, mflowctl --version and `mflowctl status` name the commit in
             BUILD_DIR/COMMIT
The micro-flow latency histogram of host A is printed at the end (figures, not judged).
One PASS/FAIL line per check; exit status 1 if any failed, 2 if the testbed could not be built.
Creates only namespaces named PREFIX* and a temporary directory, removed on every exit; processes
it started are stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topo  # noqa: E402
from topo import TestbedError, log, run, spawn, stop  # noqa: E402

# Namespaces, sockets, temp dir: "mfp-" unless scripts/metrics-test.sh was given another one.
PREFIX = os.environ.get("MFLOW_METRICS_PREFIX", "mfp-")
METRICS_PORT = 19090      # mflowd's /metrics, in each host namespace
PROMETHEUS_PORT = 19091   # Prometheus's web/API, in host A's namespace
BAD_VNI = 999             # not configured on host A: vxlan_decap drops it as unknown_vni
BAD_FRAMES = 25
PY = "/usr/bin/python3"


class Checks:
    def __init__(self):
        self.failed = 0

    def report(self, name: str, ok: bool, figures: str) -> bool:
        self.failed += 0 if ok else 1
        print(f"{'PASS' if ok else 'FAIL'}  metrics  {name:<22} {figures}", flush=True)
        return ok


def http_get(ns: str, port: int, path: str, timeout: float = 5) -> tuple[int, str, str]:
    """GET http://127.0.0.1:port/path from inside namespace ns: (status, content type, body)."""
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        f"url = 'http://127.0.0.1:{port}' + sys.argv[1]\n"
        "try:\n"
        f"    r = urllib.request.urlopen(url, timeout={timeout})\n"
        "    out = (r.status, r.headers.get('Content-Type', ''), r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    out = (e.code, e.headers.get('Content-Type', ''), e.read().decode(errors='replace'))\n"
        "print(json.dumps(out))\n")
    cp = run([PY, "-c", code, path], ns=ns, timeout=timeout + 5, check=False)
    if cp.returncode != 0:
        return 0, "", (cp.stderr or cp.stdout).strip()
    status, ctype, body = json.loads(cp.stdout)
    return status, ctype, body


def ctl(tb: topo.Testbed, h: str, *args: str) -> dict:
    cp = run([tb.mflowctl, "--socket", tb.sock(h), "--json", *args], timeout=10)
    return json.loads(cp.stdout)


def ctl_figures(tb: topo.Testbed) -> tuple[int, int, int]:
    """Host A's rx vxlan_decap_unknown_vni drops, mf0 tx packets and rx micro-flows released
    with packets (released - empty), from mflowctl."""
    st = ctl(tb, "a", "stats")
    rx = next(e for e in st["engines"] if e["name"] == "rx")
    decap = next(s for s in rx["stages"] if s["name"] == "vxlan_decap")
    drops = int(decap["drops"].get("vxlan_decap_unknown_vni", 0))
    mfs = int(rx["released_microflows"]) - int(rx["empty_microflows"])
    ports = ctl(tb, "a", "ports")
    mf0 = next(p for p in ports["ports"] if p["name"] == "mf0")
    return drops, int(mf0["tx_frames"]), mfs


def send_bad_vni(n: int) -> None:
    """From host B (source 198.18.0.2, a configured peer of A), n VXLAN datagrams with a VNI
    host A does not serve: each is one counted drop in A's rx engine."""
    inner = bytes.fromhex("ffffffffffff" "020000000099" "0800") + bytes(46)
    vxlan = bytes([0x08, 0, 0, 0]) + BAD_VNI.to_bytes(3, "big") + b"\0"
    code = ("import socket, sys, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"d = bytes.fromhex('{(vxlan + inner).hex()}')\n"
            f"for _ in range({n}):\n"
            f"    s.sendto(d, ('{topo.UNDERLAY_ADDR['a']}', {topo.VXLAN_PORT}))\n"
            "    time.sleep(0.002)\n")
    run([PY, "-c", code], ns=topo.host_ns("b"), timeout=10)


def quiet_figures(tb: topo.Testbed) -> tuple[int, int, int] | None:
    """ctl_figures when they did not move for half a second, else None."""
    first = ctl_figures(tb)
    time.sleep(0.5)
    return first if ctl_figures(tb) == first else None


def prom_query(query: str) -> list:
    q = urllib.parse.quote(query, safe="")
    status, _, body = http_get(topo.host_ns("a"), PROMETHEUS_PORT, f"/api/v1/query?query={q}")
    if status != 200:
        raise TestbedError(f"Prometheus query {query}: HTTP {status} {body[:200]}")
    reply = json.loads(body)
    if reply.get("status") != "success":
        raise TestbedError(f"Prometheus query {query}: {reply}")
    return reply["data"]["result"]


def prom_value(query: str) -> float | None:
    r = prom_query(query)
    return float(r[0]["value"][1]) if len(r) == 1 else None


def start_prometheus(tmp: str):
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: mflowd\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{METRICS_PORT}']\n")
    logf = open(os.path.join(tmp, "prometheus.log"), "w")
    p = spawn(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
               f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"],
              ns=topo.host_ns("a"), stdout=logf, stderr=logf)
    return p, logf


def wait_until(what: str, pred, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TestbedError(f"timed out after {timeout}s waiting for {what}")


def histogram_lines(body: str) -> str:
    """host A's rx micro-flow latency histogram, as 'le:count' pairs of the non-empty buckets."""
    prev, out = 0, []
    for line in body.splitlines():
        if line.startswith('mflow_engine_microflow_latency_seconds_bucket{engine="rx"'):
            le = line.split('le="')[1].split('"')[0]
            n = int(float(line.rsplit(" ", 1)[1]))
            if n != prev:
                out.append(f"{le}:{n - prev}")
            prev = n
    return " ".join(out)


def version_check(tb: topo.Testbed, build_dir: str) -> tuple[bool, str]:
    """mflowd --version, mflowctl --version and the running mflowd's status name the commit the
    build recorded in BUILD_DIR/COMMIT (scripts/commit-id.sh)."""
    with open(os.path.join(build_dir, "COMMIT")) as f:
        commit = f.read().strip()
    want = f"(commit {commit})"
    outs = [run([b, "--version"], timeout=10).stdout.strip() for b in (tb.mflowd, tb.mflowctl)]
    status = ctl(tb, "a", "status").get("commit")
    ok = all(o.endswith(want) for o in outs) and status == commit
    return ok, f"COMMIT {commit!r}; " + "; ".join(outs) + f"; status commit {status!r}"


def run_test(args) -> int:
    c = Checks()
    tb = topo.Testbed("mflow-microflow", build_dir=args.build_dir, log_dir=args.log_dir,
                      mflowd_args=["--metrics", f"127.0.0.1:{METRICS_PORT}"])
    tmp = tempfile.mkdtemp(prefix=PREFIX)
    prom = idle = None
    logf = None
    try:
        tb.up()
        a, b = topo.host_ns("a"), topo.host_ns("b")
        wait_until("mflowd's metrics endpoint",
                   lambda: http_get(a, METRICS_PORT, "/metrics")[0] == 200, 10)

        c.report("version", *version_check(tb, args.build_dir))
        status, ctype, body = http_get(a, METRICS_PORT, "/metrics")
        c.report("endpoint /metrics", status == 200 and ctype.startswith("text/plain")
                 and "# TYPE mflow_build_info gauge" in body,
                 f"HTTP {status}, {ctype}, {len(body)} bytes")
        status, _, _ = http_get(a, METRICS_PORT, "/nothing-here")
        c.report("endpoint unknown path", status == 404, f"HTTP {status}")

        # A client that connects and sends nothing, held open through the rest of the test.
        idle = spawn([PY, "-c", "import socket, time\n"
                      f"s = socket.create_connection(('127.0.0.1', {METRICS_PORT}))\n"
                      "print('connected', flush=True)\ntime.sleep(60)\n"],
                     ns=a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        t0 = time.monotonic()
        status, _, _ = http_get(a, METRICS_PORT, "/metrics")
        scrape_s = time.monotonic() - t0
        ep = tb.endpoints()
        cp = run(["ping", "-c", "5", "-i", "0.2", "-W", "2", ep.server_addr], ns=ep.client_ns,
                 timeout=15, check=False)
        c.report("idle client", idle.poll() is None and status == 200 and cp.returncode == 0,
                 f"idle connection open; scrape HTTP {status} in {scrape_s:.2f} s; "
                 f"ping over the overlay rc {cp.returncode}")

        with open(os.path.join(tmp, "scrape.txt"), "w") as f:
            f.write(body)
        cp = run(["promtool", "check", "metrics"], input=body, timeout=20, check=False)
        c.report("promtool check", cp.returncode == 0,
                 (cp.stdout + cp.stderr).strip().replace("\n", "; ")[:300] or "no problems")

        prom, logf = start_prometheus(tmp)
        wait_until("Prometheus ready",
                   lambda: prom.poll() is None
                   and http_get(a, PROMETHEUS_PORT, "/-/ready")[0] == 200, 30, 0.5)
        if prom.poll() is not None:
            raise TestbedError("prometheus exited")

        # Traffic: ping, 2 s of TCP, and drops of unknown-VNI datagrams.
        server = spawn(["iperf3", "-s", "-1", "-p", "19095"], ns=ep.server_ns)
        topo.wait_listening(ep.server_ns, 19095, "tcp", timeout=5, proc=server)
        cp = run(["iperf3", "-c", ep.server_addr, "-p", "19095", "-t", "2", "-J"],
                 ns=ep.client_ns, timeout=20, check=False)
        stop(server)
        send_bad_vni(BAD_FRAMES)
        run(["ping", "-c", "3", "-i", "0.2", "-W", "2", ep.server_addr], ns=ep.client_ns,
            timeout=10, check=False)
        # Quiet: the counters stop moving (nothing else sends), then Prometheus scrapes once
        # more and must report what mflowctl does. A stray frame (an ARP refresh) between the
        # two reads moves a counter: then wait for quiet and a newer scrape again (3 tries).
        for attempt in range(3):
            before = wait_until("quiet counters", lambda: quiet_figures(tb), 10, 0)
            quiet_at = time.time()
            wait_until("a scrape after the traffic",
                       lambda: (prom_value("timestamp(mflow_uptime_seconds)") or 0)
                       > quiet_at + 0.1, 15, 0.3)
            drops_prom = prom_value('mflow_engine_drops_total{engine="rx",stage="vxlan_decap",'
                                    'reason="unknown_vni"}')
            pkts_prom = prom_value('mflow_port_packets_total{port="mf0",direction="tx"}')
            mfs_prom = prom_value('mflow_engine_microflow_latency_seconds_count{engine="rx"}')
            drops_ctl, pkts_ctl, mfs_ctl = ctl_figures(tb)
            if (drops_ctl, pkts_ctl, mfs_ctl) == before:
                break
            log(f"metrics: counters moved during the comparison (try {attempt + 1}), again")
        c.report("prometheus drops", drops_prom is not None and drops_prom == drops_ctl
                 == before[0] and drops_ctl >= BAD_FRAMES,
                 f"vxlan_decap/unknown_vni: Prometheus {drops_prom}, mflowctl {drops_ctl} "
                 f"({BAD_FRAMES} sent)")
        c.report("prometheus packets", pkts_prom is not None and pkts_prom == pkts_ctl
                 == before[1] and pkts_ctl > 0,
                 f"port mf0 tx: Prometheus {pkts_prom}, mflowctl {pkts_ctl}")
        # The latency histogram counts every micro-flow released with packets.
        c.report("prometheus histogram", mfs_prom is not None and mfs_prom == mfs_ctl > 0,
                 f"rx micro-flow latency count: Prometheus {mfs_prom}, mflowctl released - empty "
                 f"{mfs_ctl}")
        # Copies (docs/COPIES.md): the same rx figures as mflowctl's; the kernel copied each
        # delivered byte at least twice (received on the socket, written to the TAP).
        rx_copies = next(e for e in ctl(tb, "a", "stats")["engines"] if e["name"] == "rx")["copies"]
        dl_prom = prom_value('mflow_delivered_bytes_total{engine="rx"}')
        kb_prom = prom_value('mflow_copied_bytes_total{engine="rx",kind="kernel"}')
        c.report("prometheus copies", dl_prom is not None and kb_prom is not None
                 and dl_prom == rx_copies["delivered_bytes"] > 0
                 and kb_prom == rx_copies["kernel_bytes"] >= 2 * dl_prom,
                 f"rx delivered: Prometheus {dl_prom}, mflowctl {rx_copies['delivered_bytes']}; "
                 f"kernel copies: Prometheus {kb_prom}, mflowctl {rx_copies['kernel_bytes']}")
        up = prom_value('up{job="mflowd"}')
        c.report("prometheus target up", up == 1.0, f"up = {up}")

        status, _, body = http_get(a, METRICS_PORT, "/metrics")
        log(f"metrics: host A rx micro-flow latency (le seconds:count) {histogram_lines(body)}")
        c.report("idle client still open", idle.poll() is None and status == 200,
                 "the idle connection did not stop the endpoint")
    finally:
        for p in (idle, prom):
            if p is not None:
                stop(p)
        if logf is not None:
            logf.close()
        codes = tb.stop_daemons()
        tb.down()
        shutil.rmtree(tmp, ignore_errors=True)
    c.report("mflowd exit", all(v == 0 for v in codes.values()),
             " ".join(f"{h}:{v}" for h, v in codes.items()))
    return 1 if c.failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--log-dir", default="out/metrics")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("metrics test: needs root (network namespaces)", file=sys.stderr)
        return 2
    for tool in ("prometheus", "promtool", "iperf3", "ping"):
        if shutil.which(tool) is None:
            print(f"metrics test: {tool} not installed (scripts/setup.sh)", file=sys.stderr)
            return 2
    topo.set_prefix(PREFIX)  # before anything is created: namespaces, sockets, lock
    return topo.run_guarded("metrics test", lambda: run_test(args))


if __name__ == "__main__":
    sys.exit(main())

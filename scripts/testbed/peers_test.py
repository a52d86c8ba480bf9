#!/usr/bin/python3
"""A short check of the testbed's peer plumbing (behaviour, not speed), for the test command:

  wireguard-go, nebula  the topology comes up (daemons, keys, certificates, routed containers);
                        ping A -> B and B -> A; a full-MTU datagram (DF set) passes both ways;
                        the packets went through the tunnel device; the daemons' CPU time is
                        readable (it counts in CPU per GB); on teardown both daemons are gone,
                        with their key directory and sockets
  redis, http,          on the kernel topology, each application test runs for one second:
  memcached             the server starts in container B on its own port, the load generator in
                        container A gets answers (requests > 0, no wrong replies), the server is
                        stopped again and nothing of it is left in the namespace

About 30 seconds. Run as root: /usr/bin/python3 scripts/testbed/peers_test.py
Names carry the prefix mfw- (namespaces, devices, temp dirs); everything is removed on exit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apps  # noqa: E402
import testbed  # noqa: E402
import topo  # noqa: E402
import tunnels  # noqa: E402
from topo import TestbedError, run  # noqa: E402

PREFIX = "mfw-"
failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(what)


def dev_packets(ns: str, dev: str) -> tuple[int, int]:
    st = topo.link_stats(ns, dev)
    return st.get("tx_packets", 0), st.get("rx_packets", 0)


def tunnel_case(topology: str, log_dir: str) -> None:
    tb = topo.Testbed(topology, log_dir=log_dir)
    try:
        tb.up()
        check(True, f"{topology}: up (daemons started, path found)")
        devs = {h: tunnels.tunnel_dev(topology, h) for h in topo.HOSTS}
        before = {h: dev_packets(topo.host_ns(h), devs[h]) for h in topo.HOSTS}
        for src in topo.HOSTS:
            dst = topo.other(src)
            cp = run(["ping", "-c", "3", "-i", "0.2", "-W", "2", topo.CONTAINER_ADDR[dst]],
                     ns=topo.container_ns(src), check=False, timeout=15)
            check(cp.returncode == 0 and " 3 received" in cp.stdout,
                  f"{topology}: ping {src} -> {dst}", cp.stdout.strip().splitlines()[-2:-1][0]
                  if cp.stdout.strip() else cp.stderr.strip())
            # DF set, the largest ICMP payload the container's MTU allows: no fragmentation.
            size = tunnels.TUNNEL_MTU - 28
            cp = run(["ping", "-c", "1", "-W", "2", "-M", "do", "-s", str(size),
                      topo.CONTAINER_ADDR[dst]], ns=topo.container_ns(src), check=False,
                     timeout=10)
            check(cp.returncode == 0, f"{topology}: {size} B ping with DF {src} -> {dst} "
                                      f"(MTU {tunnels.TUNNEL_MTU})")
        after = {h: dev_packets(topo.host_ns(h), devs[h]) for h in topo.HOSTS}
        went = all(after[h][0] - before[h][0] >= 4 and after[h][1] - before[h][1] >= 4
                   for h in topo.HOSTS)
        check(went, f"{topology}: the packets crossed the tunnel devices",
              f"tx/rx before {before}, after {after}")
        cpu = tb.daemons_cpu_seconds()
        check(cpu is not None and len(tb.tunnels) == 2,
              f"{topology}: both daemons' CPU time readable", f"{cpu} s")
        procs = [t.proc for t in tb.tunnels]
        key_dir = tb.tunnel_dir
    finally:
        tb.down()
    check(all(p.poll() is not None for p in procs), f"{topology}: daemons stopped",
          ", ".join(f"exit {p.returncode}" for p in procs))
    check(key_dir is not None and not os.path.exists(key_dir), f"{topology}: key directory removed")
    if topology == "wireguard-go":
        left = [f for f in os.listdir(tunnels.WG_SOCKET_DIR) if f.startswith(PREFIX)] \
            if os.path.isdir(tunnels.WG_SOCKET_DIR) else []
        check(not left, f"{topology}: no UAPI socket left", " ".join(left))


def apps_case(log_dir: str) -> None:
    tb = topo.Testbed("kernel", log_dir=log_dir)
    try:
        tb.up()
        ep = tb.endpoints()
        for test in apps.SUBTESTS:
            try:
                r = apps.run_test(tb, ep, test, 1.0, testbed.Sample, testbed.sample_fields)
            except TestbedError as e:
                check(False, f"kernel: {test}", str(e)[:300])
                continue
            ok = r["requests"] > 0 and r["rps"] > 0 and r["p50_us"] <= r["p99_us"]
            if test.startswith(("redis", "memcached")):
                ok = ok and r["request_errors"] == 0
            check(ok, f"kernel: {test}", f"{r['requests']} requests, "
                  f"{r['request_errors']} failed (figures not judged)")
            left = topo.netns_pids(ep.server_ns)
            check(not left, f"kernel: {test}: server stopped", f"left {left}" if left else "")
    finally:
        tb.down()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log-dir", help="daemon logs (default: a temp dir, removed at the end)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("peers_test: must run as root (network namespaces)")
    topo.set_prefix(PREFIX)  # before anything is created: mfw- namespaces, devices, lock
    log_dir = args.log_dir or tempfile.mkdtemp(prefix=f"{PREFIX}peers-logs-")

    def body() -> int:
        for t in topo.TUNNEL_TOPOLOGIES:
            tunnel_case(t, log_dir)
        apps_case(log_dir)
        print(f"peers_test: {len(failures)} failed: {', '.join(failures)}" if failures
              else "peers_test: all passed")
        return 1 if failures else 0

    rc = topo.run_guarded("peers_test", body)
    if rc != 0:
        print(f"peers_test: logs kept in {log_dir}")
    elif not args.log_dir:
        for f in os.listdir(log_dir):
            os.unlink(os.path.join(log_dir, f))
        os.rmdir(log_dir)
    return rc


if __name__ == "__main__":
    sys.exit(main())

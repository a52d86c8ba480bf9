#!/usr/bin/python3
"""End-to-end correctness of mflowd on the namespace testbed (behaviour, not speed).

Run through scripts/e2e-test.sh, or directly as root:
    /usr/bin/python3 scripts/testbed/e2e.py [--build-dir build] [--topologies ...]

For each case (topology x offloads), in both directions (A -> B and B -> A):
  ping     ARP resolves (the sender's neighbour entry has a MAC) and `ping -c 3` gets 3 replies
  tcp      20 MB of random data arrive intact (byte count and sha256 of both ends)
  udp      2000 numbered datagrams of mixed sizes (12 .. 1422 B) at a modest rate: every one
           arrives, intact, in order (loss fails too: the testbed is idle; the counts are printed)
  udp gso  the same, sent 16 at a time with UDP_SEGMENT: intact and in order; where mflowd's
           TAP took USO, they must reach mflowd as super-frames (fewer TAP frames than datagrams)
  udp frag 1000 datagrams, 3000 B ones (IP-fragmented by the sender) between unfragmented ones:
           all arrive, reassembled, intact and in order (fragments carry no ports: mflowd keys
           UDP on addresses, as NICs hash UDP for RSS by default, so a fragmented datagram stays
           in its flow; --lax-frag-order only reports the order, for data planes that do not)
  tcp xN   4 TCP connections at once (8 MB each), each intact
  udp burst 20000 datagrams of 1400 B, unpaced: intact and in order (loss printed, not judged)
The same again over an IPv6 underlay (2001:2::/64, inner MTU 1430) for mflow-microflow and mixed
(mflowd against the kernel's VXLAN over IPv6), offloads on.
Dual stack: in mflow-microflow and mixed with offloads on, over both underlays, the containers
also have inner IPv6 addresses (fd00:198:19::1 and ::2 /64, given to mflowd as a second
address=, set through netlink without DAD): neighbour discovery (the solicitation's 33:33:ff:..
multicast is flooded like an ARP broadcast), `ping -6` and 2 MB over TCP, both directions.
And for mflowd: the sum of out_of_order over engines and hosts is 0, both daemons exit 0 on
SIGTERM, and the TAP they created is gone from the container afterwards. With mflowd on both
hosts (offloads on), a second tenant is added at run time (`mflowctl port add`) in VNI 43 with
the same IP and MAC addresses as the VNI 42 containers: both tenants ping, and no frame of one
VNI reaches the other's ports; `mflowctl port del` removes it again.
Then the daemon faults (faults.py, mflow-microflow): the peer's link down and up, no route to the
peer, the underlay address changed and both configs reloaded, a bad config refused on reload,
mflowd restarted (SIGTERM) and killed (SIGKILL) under load; a TCP flow through each fault must
carry data again, and 20 MB over TCP after all of them arrive intact.
One line per check (PASS/FAIL and figures); exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import topo  # noqa: E402
from topo import TestbedError, log, run, spawn, finish, stop  # noqa: E402

XFER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xfer.py")
PY = "/usr/bin/python3"
TCP_PORT = 7000
UDP_PORT = 7001
DEFAULT_TOPOLOGIES = ("mflow-flow", "mflow-stage", "mflow-microflow", "mixed")
START = time.monotonic()


class Checks:
    def __init__(self):
        self.results = []

    def report(self, case: str, name: str, ok: bool, figures: str) -> bool:
        self.results.append((case, name, ok))
        print(f"{'PASS' if ok else 'FAIL'}  {case:<22} {name:<18} {figures}", flush=True)
        return ok

    @property
    def failed(self) -> int:
        return sum(1 for *_, ok in self.results if not ok)


def xfer_pair(server_ns: str, client_ns: str, server_args: list[str], client_args: list[str],
              port: int, proto: str, timeout: float) -> tuple[dict, dict]:
    server = spawn([PY, XFER] + server_args, ns=server_ns)
    try:
        topo.wait_listening(server_ns, port, proto, timeout=5, proc=server)
        cp = run([PY, XFER] + client_args, ns=client_ns, timeout=timeout, check=False)
        client = _json(cp.stdout, cp.stderr)
        rc, out, err = finish(server, timeout)
        return _json(out, err), client
    finally:
        stop(server)


def _json(out: str, err: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {"error": (err or out).strip()[-300:] or "no output"}


def check_ping(c: Checks, case: str, tb: topo.Testbed, ep: topo.Endpoints, tag: str) -> None:
    """ARP + ping, or for an IPv6 address neighbour discovery (its solicitation goes to a
    33:33:ff:.. multicast MAC, flooded like an ARP broadcast) + ping -6."""
    v6 = ":" in ep.server_addr
    fam = "-6" if v6 else "-4"
    for ns in (ep.client_ns, ep.server_ns):  # both ends resolve afresh in each direction
        run(["ip", fam, "neigh", "flush", "all"], ns=ns, timeout=5, check=False)
    cp = run(["ping", fam, "-c", "3", "-i", "0.2", "-W", "2", "-q", ep.server_addr],
             ns=ep.client_ns, timeout=20, check=False)
    line = next((l for l in cp.stdout.splitlines() if "received" in l), cp.stderr.strip())
    got = 0
    try:
        got = int(line.split(",")[1].split()[0])
    except (IndexError, ValueError):
        pass
    neigh = run(["ip", "-j", "neigh", "show", ep.server_addr], ns=ep.client_ns, timeout=5,
                check=False)
    mac, state = None, None
    try:
        e = json.loads(neigh.stdout or "[]")
        if e:
            mac, state = e[0].get("lladdr"), ",".join(e[0].get("state", []))
    except ValueError:
        pass
    c.report(case, f"{'nd' if v6 else 'arp'} {tag}", bool(mac) and "FAILED" not in (state or ""),
             f"{ep.server_addr} is-at {mac} ({state})")
    rtt = next((l.split("=")[1].strip() for l in cp.stdout.splitlines() if "rtt" in l), "-")
    c.report(case, f"ping {tag}", cp.returncode == 0 and got == 3,
             f"{got}/3 replies, rtt min/avg/max/mdev {rtt}")


def check_tcp(c: Checks, case: str, ep: topo.Endpoints, tag: str, nbytes: int) -> None:
    srv, cli = xfer_pair(ep.server_ns, ep.client_ns,
                         ["tcp-server", "--bind", ep.server_addr, "--port", str(TCP_PORT),
                          "--timeout", "30"],
                         ["tcp-client", "--connect", ep.server_addr, "--port", str(TCP_PORT),
                          "--bytes", str(nbytes), "--timeout", "30"],
                         TCP_PORT, "tcp", 60)
    if "error" in srv or "error" in cli:
        c.report(case, f"tcp {tag}", False, f"server {srv.get('error', 'ok')}; "
                                            f"client {cli.get('error', 'ok')}")
        return
    ok = srv["bytes"] == cli["bytes"] == nbytes and srv["sha256"] == cli["sha256"]
    mbps = nbytes * 8 / cli["seconds"] / 1e6 if cli.get("seconds") else 0
    c.report(case, f"tcp {tag}", ok,
             f"{srv['bytes']}/{nbytes} B, sha256 {'match' if srv['sha256'] == cli['sha256'] else 'DIFFERS'}"
             f" ({srv['sha256'][:12]}), {cli['seconds']} s (~{mbps:.0f} Mbit/s, not judged)")


def check_udp(c: Checks, case: str, ep: topo.Endpoints, tag: str, count: int, rate: float,
              sizes: str, name: str = "udp", judge_order: bool = True, gso: int = 0,
              tb: topo.Testbed | None = None, sender: str = "") -> None:
    """With gso > 0 the client sends with UDP_SEGMENT; when the sending host runs mflowd and its
    TAP took USO, the datagrams must also have reached mflowd as super-frames (fewer frames
    read from the container's TAP than datagrams sent), or the USO path was not exercised."""
    daemon = tb is not None and sender in tb.daemons
    before = _tap_rx_frames(tb, sender) if daemon else 0
    srv, cli = xfer_pair(ep.server_ns, ep.client_ns,
                         ["udp-server", "--bind", ep.server_addr, "--port", str(UDP_PORT),
                          "--count", str(count), "--timeout", "20", "--idle", "2"],
                         ["udp-client", "--connect", ep.server_addr, "--port", str(UDP_PORT),
                          "--count", str(count), "--rate", str(rate), "--sizes", sizes,
                          "--gso", str(gso)],
                         UDP_PORT, "udp", 40)
    if "error" in srv or "error" in cli:
        c.report(case, f"{name} {tag}", False, f"server {srv.get('error', 'ok')}; "
                                               f"client {cli.get('error', 'ok')}")
        return
    ok = (cli["sent"] == count and srv["received"] == count
          and (srv["out_of_order"] == 0 or not judge_order)
          and srv["corrupted"] == 0 and srv["bad_length"] == 0 and srv["duplicates"] == 0)
    prob = f", first problem: {srv['first_problem']}" if srv.get("first_problem") else ""
    note = "" if judge_order else " (order not judged: --lax-frag-order)"
    uso = ""
    if gso > 0:
        uso = f"; {cli['sends']} UDP_SEGMENT sends"
        if daemon:
            frames = _tap_rx_frames(tb, sender) - before
            offloads = ",".join(sorted({p["offloads"] for p in _ports(tb, sender).values()}))
            uso += f", read by mflowd as {frames} frames from TAPs with {offloads}"
            if "uso4" in offloads:
                ok = ok and frames < count
    c.report(case, f"{name} {tag}", ok,
             f"{srv['received']}/{cli['sent']} received, lost {srv['lost']}, out of order "
             f"{srv['out_of_order']}{note}, corrupted {srv['corrupted']}, bad length "
             f"{srv['bad_length']}, duplicates {srv['duplicates']}{prob}{uso}")


def check_tcp_parallel(c: Checks, case: str, ep: topo.Endpoints, tag: str, flows: int,
                       nbytes: int) -> None:
    """Several TCP connections at once, each must arrive intact."""
    servers, clients = [], []
    try:
        for i in range(flows):
            port = TCP_PORT + 10 + i
            servers.append(spawn([PY, XFER, "tcp-server", "--bind", ep.server_addr, "--port",
                                  str(port), "--timeout", "30"], ns=ep.server_ns))
        for i, sp in enumerate(servers):
            topo.wait_listening(ep.server_ns, TCP_PORT + 10 + i, "tcp", timeout=5, proc=sp)
        for i in range(flows):
            clients.append(spawn([PY, XFER, "tcp-client", "--connect", ep.server_addr, "--port",
                                  str(TCP_PORT + 10 + i), "--bytes", str(nbytes),
                                  "--timeout", "30"], ns=ep.client_ns))
        cres = [_json(*finish(p, 60)[1:]) for p in clients]
        sres = [_json(*finish(p, 60)[1:]) for p in servers]
    finally:
        for p in clients + servers:
            stop(p)
    good = sum(1 for cr, sr in zip(cres, sres)
               if "error" not in cr and "error" not in sr and cr["bytes"] == sr["bytes"] == nbytes
               and cr["sha256"] == sr["sha256"])
    errs = [r["error"] for r in cres + sres if "error" in r]
    c.report(case, f"tcp x{flows} {tag}", good == flows,
             f"{good}/{flows} connections of {nbytes} B intact (sha256)"
             + (f"; {errs[0]}" if errs else ""))


def check_udp_burst(c: Checks, case: str, ep: topo.Endpoints, tag: str, count: int) -> None:
    """An unpaced burst of 1400 B datagrams: loss is allowed (the receiver is a Python loop),
    reordering, corruption and duplicates are not."""
    srv, cli = xfer_pair(ep.server_ns, ep.client_ns,
                         ["udp-server", "--bind", ep.server_addr, "--port", str(UDP_PORT + 1),
                          "--count", str(count), "--timeout", "20", "--idle", "1"],
                         ["udp-client", "--connect", ep.server_addr, "--port", str(UDP_PORT + 1),
                          "--count", str(count), "--rate", "0", "--sizes", "1400"],
                         UDP_PORT + 1, "udp", 40)
    if "error" in srv or "error" in cli:
        c.report(case, f"udp burst {tag}", False, f"server {srv.get('error', 'ok')}; "
                                                  f"client {cli.get('error', 'ok')}")
        return
    ok = (srv["received"] > 0 and srv["out_of_order"] == 0 and srv["corrupted"] == 0
          and srv["bad_length"] == 0 and srv["duplicates"] == 0)
    prob = f", first problem: {srv['first_problem']}" if srv.get("first_problem") else ""
    rate = cli["sent"] / cli["seconds"] / 1e3 if cli.get("seconds") else 0
    c.report(case, f"udp burst {tag}", ok,
             f"{srv['received']}/{cli['sent']} received at ~{rate:.0f} kpps sent (loss "
             f"{srv['lost']}, not judged), out of order {srv['out_of_order']}, corrupted "
             f"{srv['corrupted']}, duplicates {srv['duplicates']}{prob}")


def _ports(tb: topo.Testbed, h: str) -> dict[str, dict]:
    cp = run([tb.mflowctl, "--socket", tb.sock(h), "--json", "ports"], timeout=10)
    return {p["name"]: p for p in json.loads(cp.stdout)["ports"]}


def _tap_rx_frames(tb: topo.Testbed, h: str) -> int:
    """Frames mflowd has read from host h's container TAPs (every port)."""
    return sum(p["rx_frames"] for p in _ports(tb, h).values())


def _ping(ns: str, addr: str) -> bool:
    run(["ip", "neigh", "flush", "all"], ns=ns, timeout=5, check=False)
    cp = run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", addr], ns=ns, timeout=20,
             check=False)
    return cp.returncode == 0


def check_vni_isolation(c: Checks, case: str, tb: topo.Testbed) -> None:
    """A second tenant on both hosts, added at run time with `mflowctl port add`: VNI 43, with
    the same IP addresses and the same MACs as the VNI 42 containers. Each tenant's ping works,
    and no frame of one VNI reaches the other's ports (their tx counters do not move)."""
    name = "vni isolation"
    try:
        for h in topo.HOSTS:
            ns2 = topo.container_ns(h, 2)
            tb._add_ns(ns2)
            mac = _ports(tb, h)["mf0"]["mac"]
            run([tb.mflowctl, "--socket", tb.sock(h), "port", "add", "mf1", "--netns",
                 f"/var/run/netns/{ns2}", "--vni", str(topo.ISOLATION_VNI), "--address",
                 f"{topo.CONTAINER_ADDR[h]}/{topo.PREFIXLEN}", "--mac", mac], timeout=15)
        tx = lambda: {h: {n: p["tx_frames"] for n, p in _ports(tb, h).items()}  # noqa: E731
                      for h in topo.HOSTS}
        t0 = tx()
        ok42 = _ping(topo.container_ns("a", 1), topo.CONTAINER_ADDR["b"])
        t1 = tx()
        ok43 = _ping(topo.container_ns("a", 2), topo.CONTAINER_ADDR["b"])
        t2 = tx()
        leak42 = sum(t1[h]["mf1"] - t0[h]["mf1"] for h in topo.HOSTS)  # VNI 42 into VNI 43
        leak43 = sum(t2[h]["mf0"] - t1[h]["mf0"] for h in topo.HOSTS)  # VNI 43 into VNI 42
        got43 = sum(t2[h]["mf1"] - t1[h]["mf1"] for h in topo.HOSTS)
        c.report(case, name, ok42 and ok43 and leak42 == 0 and leak43 == 0 and got43 > 0,
                 f"same IPs and MACs in VNI {topo.VNI} and {topo.ISOLATION_VNI}: ping "
                 f"{'ok' if ok42 else 'FAILED'} / {'ok' if ok43 else 'FAILED'}; frames of VNI "
                 f"{topo.VNI} on VNI {topo.ISOLATION_VNI} ports {leak42}, of VNI "
                 f"{topo.ISOLATION_VNI} on VNI {topo.VNI} ports {leak43} (both must be 0)")
        for h in topo.HOSTS:
            run([tb.mflowctl, "--socket", tb.sock(h), "port", "del", "mf1"], timeout=15)
        gone = all(run(["ip", "link", "show", "mf1"], ns=topo.container_ns(h, 2), timeout=5,
                       check=False).returncode != 0 for h in topo.HOSTS)
        c.report(case, "port del", gone, "mf1 removed at run time from both hosts"
                 if gone else "mf1 still present after mflowctl port del")
    except (TestbedError, KeyError, ValueError) as e:
        c.report(case, name, False, str(e))


def check_daemons_at_end(c: Checks, case: str, tb: topo.Testbed, args) -> None:
    """mflowd still running, out_of_order 0 on every host, exit 0 on SIGTERM, TAP gone."""
    alive = all(d.proc.poll() is None for d in tb.daemons.values())
    if not alive:
        for h, d in tb.daemons.items():
            if d.proc.poll() is not None:
                c.report(case, f"mflowd {h} alive", False,
                         f"exited {d.proc.returncode}; log {d.log_path}:\n"
                         + tb.log_tail(h))
    else:
        try:
            per_host = {h: tb.mflow_counters(h) for h in tb.daemons}
            total = sum(v["out_of_order"] for v in per_host.values())
            c.report(case, "out_of_order", total == 0,
                     f"{total} (" + ", ".join(
                         f"{h}: {v['out_of_order']}" for h, v in per_host.items())
                     + "); not judged: engine drops " + ", ".join(
                         f"{h} {v['drops']}" for h, v in per_host.items())
                     + ", elephants " + ", ".join(
                         f"{h} {v['elephants']}" for h, v in per_host.items())
                     + ", micro-flows released " + ", ".join(
                         f"{h} {v['released_microflows']}" for h, v in per_host.items()))
        except (TestbedError, ValueError) as e:
            c.report(case, "out_of_order", False, f"mflowctl --json stats: {e}")
    codes = tb.stop_daemons(grace=args.stop_timeout)
    for h, rc in codes.items():
        d = tb.daemons[h]
        killed = (f" (SIGKILLed: still running {args.stop_timeout:g} s after SIGTERM)"
                  if rc == -9 else "")
        tail = "" if rc == 0 else f"; log {d.log_path}:\n" + tb.log_tail(h, 30)
        c.report(case, f"sigterm {h}", rc == 0,
                 f"exit code {rc}{killed}, {d.stop_seconds} s after SIGTERM{tail}")
        left = run(["ip", "link", "show", "mf0"], ns=topo.container_ns(h), timeout=5,
                   check=False)
        c.report(case, f"tap removed {h}", left.returncode != 0,
                 "mf0 gone from " + topo.container_ns(h) if left.returncode != 0
                 else "mf0 still present after mflowd exited")


def fit_sizes(sizes: str, tb: topo.Testbed) -> str:
    """Datagram sizes capped at what one inner IPv4 packet carries (1402 B over an IPv6
    underlay): the udp and udp gso checks send unfragmented datagrams."""
    cap = tb.inner_mtu - 28
    return ",".join(str(min(int(s), cap)) for s in sizes.split(","))


def run_case(c: Checks, args, topology: str, offloads: str, underlay: str = "ipv4") -> None:
    case = f"{topology}/{offloads}" + ("/ipv6" if underlay == "ipv6" else "")
    inner6 = offloads == "on" and topology in args.inner_ipv6.split(",")
    tb = topo.Testbed(topology, build_dir=args.build_dir, log_dir=args.log_dir,
                      workers=args.workers, mflowd_args=args.mflowd_args,
                      mixed_mode=args.mixed_mode, ready_timeout=args.ready_timeout,
                      underlay=underlay, inner_ipv6=inner6)
    t0 = time.monotonic()
    try:
        try:
            tb.up()
            tb.set_offloads(offloads)
        except TestbedError as e:
            c.report(case, "start", False, str(e).replace("\n", "\n      "))
            return
        if tb.daemons:
            c.report(case, "start", True, "mflowd ready on " + ", ".join(
                f"{h} (pid {d.proc.pid})" for h, d in tb.daemons.items())
                + f"; underlay {tb.underlay_addr('a')} <-> {tb.underlay_addr('b')}")
        for reverse in (False, True):
            ep = tb.endpoints(reverse=reverse)
            tag = "b->a" if reverse else "a->b"
            try:
                check_ping(c, case, tb, ep, tag)
                check_tcp(c, case, ep, tag, args.tcp_bytes)
                check_udp(c, case, ep, tag, args.udp_count, args.udp_rate,
                          fit_sizes(args.udp_sizes, tb))
                if args.udp_gso > 0:
                    check_udp(c, case, ep, tag, args.udp_count, args.udp_rate,
                              fit_sizes(args.udp_gso_sizes, tb), name="udp gso", gso=args.udp_gso,
                              tb=tb,
                              sender="b" if reverse else "a")
                if args.udp_frag_count > 0:
                    check_udp(c, case, ep, tag, args.udp_frag_count, args.udp_rate,
                              args.udp_frag_sizes, name="udp frag",
                              judge_order=not args.lax_frag_order)
                if args.parallel_flows > 0:
                    check_tcp_parallel(c, case, ep, tag, args.parallel_flows, args.parallel_bytes)
                if args.udp_burst > 0:
                    check_udp_burst(c, case, ep, tag, args.udp_burst)
            except TestbedError as e:
                c.report(case, f"traffic {tag}", False, str(e))
        if inner6:  # dual-stack containers: the inner IPv6 path, briefly, both ways
            for reverse in (False, True):
                ep = tb.endpoints(reverse=reverse, family=6)
                tag = ("b->a" if reverse else "a->b") + " v6"
                try:
                    check_ping(c, case, tb, ep, tag)
                    check_tcp(c, case, ep, tag, args.tcp6_bytes)
                except TestbedError as e:
                    c.report(case, f"traffic {tag}", False, str(e))
        if len(tb.daemons) == len(topo.HOSTS) and offloads == "on" and underlay == "ipv4":
            check_vni_isolation(c, case, tb)
        if tb.daemons:
            check_daemons_at_end(c, case, tb, args)
    finally:
        tb.down()
        log(f"[{time.monotonic() - START:5.1f}s] {case} done in {time.monotonic() - t0:.1f}s")


def run_faults_case(c: Checks, args) -> None:
    """Daemon faults (faults.py) on mflow-microflow with offloads on; mflowd reads config files."""
    case = "faults/mflow-microflow"
    tb = topo.Testbed("mflow-microflow", build_dir=args.build_dir, log_dir=args.log_dir,
                      workers=args.workers, mflowd_args=args.mflowd_args,
                      ready_timeout=args.ready_timeout, config_files=True)
    t0 = time.monotonic()
    try:
        try:
            for h in topo.HOSTS:
                tb.write_config(h, fdb_size=faults.FDB_SIZE)
            tb.up()
            tb.set_offloads("on")
        except TestbedError as e:
            c.report(case, "start", False, str(e).replace("\n", "\n      "))
            return
        faults.run_faults(c, case, tb)
        try:
            check_tcp(c, case, tb.endpoints(), "a->b after", args.tcp_bytes)
        except TestbedError as e:
            c.report(case, "tcp a->b after", False, str(e))
        check_daemons_at_end(c, case, tb, args)
    finally:
        tb.down()
        log(f"[{time.monotonic() - START:5.1f}s] {case} done in {time.monotonic() - t0:.1f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--log-dir", default="out/e2e")
    ap.add_argument("--topologies", default=",".join(DEFAULT_TOPOLOGIES),
                    help="comma list of " + ",".join(topo.TOPOLOGIES)
                         + " (default: the mflow ones and mixed)")
    ap.add_argument("--offloads", default="on", help="offload settings for every topology (on)")
    ap.add_argument("--also-off", default=",".join(DEFAULT_TOPOLOGIES),
                    help="topologies run once more with offloads off (default: all four; "
                         "'' for none)")
    ap.add_argument("--ipv6", default="mflow-microflow,mixed",
                    help="topologies run once more over an IPv6 underlay, offloads on (default: "
                         "mflow-microflow,mixed; '' for none)")
    ap.add_argument("--inner-ipv6", default="mflow-microflow,mixed",
                    help="topologies whose offloads-on cases (both underlays) get dual-stack "
                         "containers (fd00:198:19::/64 beside 198.19.0.0/24) and check ND + "
                         "ping -6 and TCP over the inner IPv6 addresses, both ways (default: "
                         "mflow-microflow,mixed; '' for none)")
    ap.add_argument("--tcp6-bytes", type=int, default=2_000_000,
                    help="bytes of the TCP check over inner IPv6 (2 MB: the path, not the volume)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mflowd-arg", action="append", default=[], metavar="ARG")
    ap.add_argument("--mixed-mode", default="microflow", choices=("flow", "stage", "microflow"))
    ap.add_argument("--tcp-bytes", type=int, default=20_000_000)
    ap.add_argument("--udp-count", type=int, default=2000)
    ap.add_argument("--udp-rate", type=float, default=4000, help="datagrams per second (4000)")
    ap.add_argument("--udp-sizes", default="12,64,200,512,1000,1400,1422",
                    help="datagram sizes in turn, all below the inner MTU")
    ap.add_argument("--udp-gso", type=int, default=16, metavar="N",
                    help="the USO check: the udp check's datagrams sent N at a time with "
                         "UDP_SEGMENT (16; 0 skips it)")
    ap.add_argument("--udp-gso-sizes", default="1400,200,1422,12,1000",
                    help="datagram sizes in the USO check, one size per send")
    ap.add_argument("--udp-frag-count", type=int, default=1000,
                    help="datagrams in the fragment check (1000; 0 skips it)")
    ap.add_argument("--udp-frag-sizes", default="200,3000,1400,3000,64",
                    help="sizes in the fragment check: 3000 B datagrams are IP-fragmented by the "
                         "sender and must stay in order with the unfragmented ones")
    ap.add_argument("--lax-frag-order", action="store_true",
                    help="only report the fragment check's order (by default reordering fails it, "
                         "as do loss, corruption and duplicates)")
    ap.add_argument("--parallel-flows", type=int, default=4,
                    help="TCP connections at once in the parallel check (4; 0 skips it)")
    ap.add_argument("--parallel-bytes", type=int, default=8_000_000)
    ap.add_argument("--udp-burst", type=int, default=20000,
                    help="datagrams in the unpaced burst check (20000; 0 skips it)")
    ap.add_argument("--ready-timeout", type=float, default=10)
    ap.add_argument("--stop-timeout", type=float, default=10,
                    help="seconds mflowd may take to exit after SIGTERM (10)")
    ap.add_argument("--no-faults", action="store_true",
                    help="skip the daemon-fault case (peer down, no route, address change and "
                         "reload, bad reload, restart under load; about 50 s)")
    ap.add_argument("--faults-only", action="store_true", help="run only the daemon-fault case")
    ap.add_argument("--cleanup", action="store_true", help="remove leftovers (mfb-) and exit")
    args = ap.parse_args()
    args.mflowd_args = topo.mflowd_args_of(args.mflowd_arg)

    if os.geteuid() != 0:
        print("e2e: must run as root (network namespaces)", file=sys.stderr)
        return 2
    if args.cleanup:
        with topo.Lock():
            topo.cleanup_leftovers()
        return 0
    tops = [t for t in args.topologies.split(",") if t]
    bad = [t for t in tops if t not in topo.TOPOLOGIES]
    offs = [o for o in args.offloads.split(",") if o]
    if bad or any(o not in ("on", "off") for o in offs):
        print(f"e2e: unknown topology/offloads {bad or offs}", file=sys.stderr)
        return 2
    bad6 = [t for t in (args.ipv6 + "," + args.inner_ipv6).split(",")
            if t and t not in topo.TOPOLOGIES]
    if bad6:
        print(f"e2e: --ipv6/--inner-ipv6: unknown topology {','.join(bad6)}", file=sys.stderr)
        return 2
    cases = [(t, o) for t in tops for o in offs]
    for t in [t for t in args.also_off.split(",") if t]:
        if t in tops and (t, "off") not in cases:
            cases.append((t, "off"))
    for tool in ("ping", "ss", "ethtool"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/bin"]):
            print(f"e2e: missing tool {tool} (ping: apt-get install iputils-ping)", file=sys.stderr)
            return 2

    c = Checks()

    def guarded(case: str, fn) -> None:
        try:
            fn()
        except (TestbedError, OSError, ValueError, KeyError, TypeError) as e:
            import traceback
            c.report(case, "harness", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")

    def body() -> int:
        for t, o in ([] if args.faults_only else cases):
            guarded(f"{t}/{o}", lambda: run_case(c, args, t, o))
        for t in ([] if args.faults_only else [t for t in args.ipv6.split(",") if t]):
            guarded(f"{t}/on/ipv6", lambda: run_case(c, args, t, "on", underlay="ipv6"))
        if not args.no_faults:
            guarded("faults", lambda: run_faults_case(c, args))
        return 0

    rc = topo.run_guarded("e2e", body)
    n = len(c.results)
    print(f"e2e: {n - c.failed}/{n} checks passed, {c.failed} failed, "
          f"{time.monotonic() - START:.0f} s", flush=True)
    if rc:
        return rc
    return 1 if c.failed or not n else 0


if __name__ == "__main__":
    sys.exit(main())

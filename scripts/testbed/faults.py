"""Daemon faults on the namespace testbed, for e2e.py: what mflowd does when the world around it
changes while TCP flows through it. Each check runs one iperf3 TCP flow (container A -> container
B, paced) and breaks something in the middle of it; the flow must carry data again by its end.

  peer link down   host B's underlay link goes down for a while (the peer is unreachable and
                   packets to it vanish), then comes back
  no route         host A has no route to the peer for a while: its sends fail at once (counted
                   as the underlay drop tx_error, never a stall), then the route comes back
  address change   host A's underlay address changes from .1 to .11; both daemons' config files
                   are edited and reloaded (`mflowctl reload`): A rebinds its socket, B accepts
                   the new peer; ping and a sha256-checked TCP transfer work again
  bad reload       a config with a bad value is refused by `mflowctl reload` and by SIGHUP, with
                   a message naming the field; the daemon keeps running on its old config
  fdb flood        container A sends 20000 frames from random (spoofed) source MACs to container
                   B's MAC: both daemons' forwarding tables fill (at least half full: the flood
                   reached them) yet stay within their size (overlay.fdb_size = FDB_SIZE here),
                   the containers' own entries survive, and ping still works
  restart          host B's mflowd is stopped (SIGTERM) and started again under load, then host
                   A's is killed (SIGKILL, as in a crash: its control socket is left behind) and
                   started again; the TCP flow survives both (its container's TAP comes back with
                   the same MAC, derived from the address, so no ARP cache goes stale)

The figures (Gbit/s per second of the flow) are printed, not judged: only "the flow carried data
after the fault", exit codes and counters are.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Callable

import topo
from topo import TestbedError, finish, run, spawn, stop

IPERF_PORT = 7010
NEW_ADDR_A = "198.18.0.11"
FDB_SIZE = 1024  # small, so that the spoofing flood fills it many times over

# Sends `count` Ethernet frames to dst from random locally administered source MACs, on dev.
SPOOFER = r"""
import os, socket, sys
dev, dst, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
body = bytes.fromhex("0800") + bytes(46)
for _ in range(count):
    src = bytes([0x02]) + os.urandom(5)
    s.send(dst + src + body)
"""


def _iperf_under_fault(tb: topo.Testbed, seconds: int, at: float,
                       fault: Callable[[], str]) -> tuple[bool, str, str]:
    """One paced iperf3 TCP flow A -> B for `seconds`; fault() runs `at` seconds in and returns
    a note. Returns (the flow carried data in its last two seconds and ended cleanly, the
    per-second rates, the fault's note)."""
    ep = tb.endpoints()
    server = spawn(["iperf3", "-s", "-1", "-B", ep.server_addr, "-p", str(IPERF_PORT)],
                   ns=ep.server_ns)
    try:
        topo.wait_listening(ep.server_ns, IPERF_PORT, "tcp", timeout=5, proc=server)
        client = spawn(["iperf3", "-c", ep.server_addr, "-p", str(IPERF_PORT), "-t", str(seconds),
                        "-i", "1", "-b", "1G", "-J", "--connect-timeout", "3000"],
                       ns=ep.client_ns)
        time.sleep(at)
        note = fault()
        rc, out, err = finish(client, seconds + 40)
    finally:
        stop(server)
    try:
        res = json.loads(out)
    except ValueError:
        return False, f"iperf3 exit {rc}: {(err or out).strip()[-200:]}", note
    if "error" in res:
        return False, f"iperf3 exit {rc}: {res['error']}", note
    gbps = [iv["sum"]["bits_per_second"] / 1e9 for iv in res.get("intervals", [])]
    rates = " ".join(f"{g:.2f}" for g in gbps) + " Gbit/s per second"
    resumed = rc == 0 and len(gbps) >= 3 and all(g > 0 for g in gbps[-2:])
    return resumed, rates, note


def _underlay_drops(tb: topo.Testbed, h: str) -> dict[str, int]:
    cp = run([tb.mflowctl, "--socket", tb.daemons[h].sock, "--json", "peers"], timeout=10)
    return dict(json.loads(cp.stdout).get("drops", {}))


def _ctl(tb: topo.Testbed, h: str, *args: str, timeout: float = 10):
    return run([tb.mflowctl, "--socket", tb.daemons[h].sock, *args], timeout=timeout, check=False)


def _ping(ep: topo.Endpoints, count: int = 3) -> bool:
    cp = run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", "-q", ep.server_addr],
             ns=ep.client_ns, timeout=30, check=False)
    return cp.returncode == 0


def check_peer_link_down(c, case: str, tb: topo.Testbed, outage: float) -> None:
    def fault() -> str:
        ns = topo.host_ns("b")
        run(["ip", "link", "set", topo.UNDERLAY_DEV["b"], "down"], ns=ns)
        time.sleep(outage)
        run(["ip", "link", "set", topo.UNDERLAY_DEV["b"], "up"], ns=ns)
        return f"host B's underlay down for {outage:g} s"
    ok, rates, note = _iperf_under_fault(tb, 10, 2, fault)
    c.report(case, "peer link down", ok, f"{note}; flow {rates}")


def check_no_route(c, case: str, tb: topo.Testbed, outage: float) -> None:
    before = _underlay_drops(tb, "a").get("tx_error", 0)
    route = f"{topo.UNDERLAY_ADDR['b']}/32"

    def fault() -> str:
        ns = topo.host_ns("a")
        run(["ip", "route", "add", "unreachable", route], ns=ns)
        time.sleep(outage)
        run(["ip", "route", "del", "unreachable", route], ns=ns)
        return f"no route to the peer for {outage:g} s"
    ok, rates, note = _iperf_under_fault(tb, 10, 2, fault)
    failed = _underlay_drops(tb, "a").get("tx_error", 0) - before
    c.report(case, "no route", ok and failed > 0,
             f"{note}: {failed} datagrams refused, counted as tx_error (must be > 0); "
             f"flow {rates}")


def check_address_change(c, case: str, tb: topo.Testbed) -> None:
    old = topo.UNDERLAY_ADDR["a"]
    ns_a = topo.host_ns("a")
    # Old one out, new one in (deleting a primary address first would take the new one, a
    # secondary in the same subnet, with it).
    run(["ip", "addr", "del", f"{old}/{topo.PREFIXLEN}", "dev", topo.UNDERLAY_DEV["a"]], ns=ns_a)
    run(["ip", "addr", "add", f"{NEW_ADDR_A}/{topo.PREFIXLEN}", "dev", topo.UNDERLAY_DEV["a"]],
        ns=ns_a)
    ep = tb.endpoints()
    cut = not _ping(ep, 2)
    tb.write_config("a", local=NEW_ADDR_A, fdb_size=FDB_SIZE)
    ra = _ctl(tb, "a", "reload")
    tb.write_config("b", peers=[NEW_ADDR_A], fdb_size=FDB_SIZE)
    rb = _ctl(tb, "b", "reload")
    reloaded = (ra.returncode == 0 and "underlay.local" in ra.stdout
                and rb.returncode == 0 and "underlay.peers" in rb.stdout)
    status = json.loads(_ctl(tb, "a", "--json", "status").stdout or "{}")
    peers_b = [p.get("address") for p in
               json.loads(_ctl(tb, "b", "--json", "peers").stdout or "{}").get("peers", [])]
    back = _ping(ep, 3)
    c.report(case, "address change", cut and reloaded and back
             and status.get("local") == NEW_ADDR_A and peers_b == [NEW_ADDR_A],
             f"{old} -> {NEW_ADDR_A}: ping cut before reload: {cut}; reload A: "
             f"{(ra.stdout or ra.stderr).strip()!r}; reload B: {(rb.stdout or rb.stderr).strip()!r}; "
             f"A's local {status.get('local')}, B's peers {peers_b}; ping after: {back}")


def check_bad_reload(c, case: str, tb: topo.Testbed) -> None:
    good = open(tb.config_path("a")).read()
    tb.write_config("a", text=good.replace(f'"{NEW_ADDR_A}"', '"198.18.0.300"'))
    r = _ctl(tb, "a", "reload")
    msg = (r.stderr or r.stdout).strip()
    refused = r.returncode != 0 and "underlay.local" in msg
    d = tb.daemons["a"]
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    logged = "reload refused" in tb.log_tail("a", 10)
    status = json.loads(_ctl(tb, "a", "--json", "status").stdout or "{}")
    tb.write_config("a", text=good)
    alive = d.proc.poll() is None
    works = _ping(tb.endpoints(), 3)
    c.report(case, "bad reload", refused and logged and alive and works
             and status.get("local") == NEW_ADDR_A,
             f"mflowctl reload: {msg!r}; SIGHUP logged a refusal: {logged}; still running on "
             f"local {status.get('local')}; ping: {works}")


def _fdb(tb: topo.Testbed, h: str) -> dict:
    return json.loads(_ctl(tb, h, "--json", "fdb").stdout or "{}")


def check_fdb_flood(c, case: str, tb: topo.Testbed, frames: int = 20000) -> None:
    ep = tb.endpoints()
    if not _ping(ep, 2):
        c.report(case, "fdb flood", False, "no ping before the flood")
        return
    macs = {h: json.loads(_ctl(tb, h, "--json", "ports").stdout)["ports"][0]["mac"]
            for h in topo.HOSTS}
    run(["/usr/bin/python3", "-c", SPOOFER, "mf0", macs["b"], str(frames)], ns=ep.client_ns,
        timeout=60)
    time.sleep(0.5)
    report = []
    ok = True
    for h in topo.HOSTS:
        f = _fdb(tb, h)
        entries = f.get("entries", [])
        have = {e["mac"] for e in entries}
        kept = macs["a"] in have and macs["b"] in have
        # A table the flood never reached would stay within its size too: it must have filled.
        filled = len(entries) >= FDB_SIZE // 2
        ok &= filled and len(entries) <= f.get("capacity", 0) == FDB_SIZE and kept
        report.append(f"{h}: {len(entries)}/{f.get('capacity')} entries (at least "
                      f"{FDB_SIZE // 2} after the flood), containers' MACs "
                      f"{'kept' if kept else 'LOST'}")
    works = _ping(ep, 3)
    c.report(case, "fdb flood", ok and works,
             f"{frames} frames from random source MACs; " + "; ".join(report)
             + f"; ping after: {works}")


def check_restart(c, case: str, tb: topo.Testbed) -> None:
    codes: dict[str, int | None] = {}
    errors: list[str] = []

    def restart(h: str, sig: int) -> None:
        try:
            codes[h] = tb.restart_mflowd(h, sig)
        except TestbedError as e:
            errors.append(str(e))

    def fault() -> str:
        restart("b", signal.SIGTERM)
        time.sleep(3)
        restart("a", signal.SIGKILL)
        return "B's mflowd restarted (SIGTERM) at 2 s, A's killed (SIGKILL) and restarted ~3 s later"
    ok, rates, note = _iperf_under_fault(tb, 14, 2, fault)
    ooo = tb.mflow_out_of_order() if not errors else None
    c.report(case, "restart", ok and not errors and codes.get("b") == 0 and ooo == 0,
             f"{note}: exit codes {codes} (B must be 0), out_of_order of the new daemons {ooo}; "
             f"flow {rates}" + (f"; errors: {errors}" if errors else ""))


def run_faults(c, case: str, tb: topo.Testbed, outage: float = 1.5) -> None:
    """All of the above, in order, on a testbed that is up (mflowd on both hosts, config files)."""
    for check in (lambda: check_peer_link_down(c, case, tb, outage),
                  lambda: check_no_route(c, case, tb, outage),
                  lambda: check_address_change(c, case, tb),
                  lambda: check_bad_reload(c, case, tb),
                  lambda: check_fdb_flood(c, case, tb),
                  lambda: check_restart(c, case, tb)):
        try:
            check()
        except (TestbedError, OSError, ValueError, KeyError) as e:
            c.report(case, "fault harness", False, f"{type(e).__name__}: {e}")

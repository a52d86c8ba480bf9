#!/usr/bin/python3
"""End-to-end checks of the encrypted overlay (docs/ESP.md): two mflowd with ESP peers.

Run through scripts/esp-test.sh, or directly as root:
    /usr/bin/python3 scripts/testbed/esp_e2e.py [--build-dir build] [--topologies ...]

For each encrypted topology (mflow-esp-flow, -stage, -microflow: AES-GCM-128, ESN on, keys from a
fresh key file per host given with --encrypt):
  ping     ARP (the flood reaches the encrypted peer as an encrypted copy) and 3 pings, both ways
  tcp      20 MB intact (sha256), both ways
  flood    one UDP_SEGMENT send (8 segments) from container a to a MAC nobody has learned: mflowd
           a reads it as a super-frame and floods it; the encrypted peer's sealed copies of the
           segments reach container b's device, all 8, in order, intact
  esp      the ESP stages carried the traffic: esp_decrypt and esp_encrypt saw packets on both
           hosts, and no ESP drop but the ones named below
  order    mflowd's out_of_order is 0 on both hosts; both exit 0 on SIGTERM
On mflow-esp-microflow also:
  rekey    new SAs by reload (SIGHUP) under a TCP flow, in two steps as docs/ESP.md says (both
           hosts accept the new inbound SA, then both switch the outbound one): the flow's data
           arrives intact and no packet met an unknown SPI
  replay   UDP 4500 datagrams captured on the underlay during a transfer are sent again, 20
           times each, while a second transfer runs: that transfer is intact, and every replayed
           datagram was refused (esp_decrypt_replayed + left_of_window grew by at least as many)
  scapy    then host a's mflowd is stopped and scapy's SecurityAssociation (esp_scapy_peer.py)
           plays host a against mflowd on b, for AES-GCM-128 and -256, ESN on and off (b
           restarted with fresh keys each time): 20 datagrams scapy encrypted arrive in b's
           container, and 20 datagrams from the container, encrypted by mflowd, decrypt in scapy
Uses names prefixed mfe- only (--prefix to change). One line per check; exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import topo  # noqa: E402
from topo import TestbedError, log, run  # noqa: E402

TOPOLOGIES = topo.ESP_TOPOLOGIES


def stage_drops(tb: topo.Testbed, h: str) -> dict[str, int]:
    """Every stage counter of host h's engines: '<stage>_in' and the named drops."""
    st = tb.mflow_stats(h)
    out: dict[str, int] = {}
    for e in st.get("engines", []):
        for s in e.get("stages", []):
            out[s["name"] + "_in"] = out.get(s["name"] + "_in", 0) + int(s.get("in", 0))
            for k, v in (s.get("drops") or {}).items():
                out[k] = out.get(k, 0) + int(v)
    return out


def esp_drops(d: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in d.items() if k.startswith("esp_") and not k.endswith("_in") and v}


FLOOD_IP, FLOOD_MAC, FLOOD_PORT = "198.19.0.77", "02:00:00:00:77:77", 7104
FLOOD_SEGS, FLOOD_SEG_BYTES = 8, 1000

SEGMENT_SEND = r"""
import socket, sys
seg, n = int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, seg)  # UDP_SEGMENT
s.sendto(b"".join(bytes([65 + i]) * seg for i in range(n)), (sys.argv[1], int(sys.argv[2])))
"""

# Frames seen on a device (any destination MAC: a TAP does not filter) for one UDP port:
# [destination MAC, UDP payload length, first payload byte], as JSON on the last line.
SNIFF_UDP = r"""
import json, socket, struct, sys, time
dev, port, want, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((dev, 0))
s.settimeout(0.2)
got, end = [], time.time() + secs
while time.time() < end and len(got) < want:
    try:
        f = s.recv(65535)
    except socket.timeout:
        continue
    if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    l4 = 14 + (f[14] & 15) * 4
    if struct.unpack("!H", f[l4 + 2:l4 + 4])[0] == port:
        got.append([f[0:6].hex(":"), len(f) - l4 - 8, chr(f[l4 + 8])])
print(json.dumps(got))
"""


def check_flood_train(c: e2e.Checks, case: str, tb: topo.Testbed) -> None:
    """A container's super-frame to a MAC no FDB knows is flooded; the encrypted peer must get
    it too, as sealed copies of its segments (esp_encrypt copies a flood per encrypted peer)."""
    ca, cb = topo.container_ns("a"), topo.container_ns("b")
    run(["ip", "neigh", "replace", FLOOD_IP, "lladdr", FLOOD_MAC, "dev", "mf0"], ns=ca)
    try:
        before = stage_drops(tb, "a")
        frames0 = e2e._tap_rx_frames(tb, "a")
        sniff = topo.spawn(["/usr/bin/python3", "-c", SNIFF_UDP, "mf0", str(FLOOD_PORT),
                            str(FLOOD_SEGS), "5"], ns=cb)
        time.sleep(0.5)
        run(["/usr/bin/python3", "-c", SEGMENT_SEND, FLOOD_IP, str(FLOOD_PORT),
             str(FLOOD_SEG_BYTES), str(FLOOD_SEGS)], ns=ca, timeout=10)
        out, _ = sniff.communicate(timeout=15)
        got = json.loads((out if isinstance(out, str) else out.decode()).strip().splitlines()[-1])
        frames = e2e._tap_rx_frames(tb, "a") - frames0
        offloads = ",".join(sorted({p["offloads"] for p in e2e._ports(tb, "a").values()}))
        after = stage_drops(tb, "a")
    finally:
        run(["ip", "neigh", "del", FLOOD_IP, "dev", "mf0"], ns=ca, check=False)
    want = [[FLOOD_MAC, FLOOD_SEG_BYTES, chr(65 + i)] for i in range(FLOOD_SEGS)]
    # Without USO on the TAP the container's kernel segments: the train path is not exercised.
    super_frame = frames < FLOOD_SEGS or "uso4" not in offloads
    delta = {k: after[k] - before.get(k, 0) for k in esp_drops(after)
             if after[k] != before.get(k, 0)}
    c.report(case, "flooded super-frame", got == want and super_frame and not delta,
             f"{len(got)}/{FLOOD_SEGS} segments of one UDP_SEGMENT send to an unlearned MAC "
             f"reached b's container{'' if got == want else f' ({got})'}; mflowd a read "
             f"{frames} frame(s) from TAPs with {offloads}; ESP drops on a: {delta or 'none'}")


def check_esp_used(c: e2e.Checks, case: str, tb: topo.Testbed) -> None:
    for h in topo.HOSTS:
        d = stage_drops(tb, h)
        used = d.get("esp_decrypt_in", 0) > 0 and d.get("esp_encrypt_in", 0) > 0
        c.report(case, f"esp {h}", used and not esp_drops(d),
                 f"esp_decrypt in {d.get('esp_decrypt_in', 0)}, esp_encrypt in "
                 f"{d.get('esp_encrypt_in', 0)}, ESP drops {esp_drops(d) or 'none'}")


def tcp_in_background(ep: topo.Endpoints, nbytes: int, result: dict) -> threading.Thread:
    def body():
        try:
            srv, cli = e2e.xfer_pair(
                ep.server_ns, ep.client_ns,
                ["tcp-server", "--bind", ep.server_addr, "--port", str(e2e.TCP_PORT),
                 "--timeout", "60"],
                ["tcp-client", "--connect", ep.server_addr, "--port", str(e2e.TCP_PORT),
                 "--bytes", str(nbytes), "--timeout", "60"],
                e2e.TCP_PORT, "tcp", 90)
            result["srv"], result["cli"] = srv, cli
        except TestbedError as e:
            result["error"] = str(e)
    t = threading.Thread(target=body)
    t.start()
    return t


def tcp_ok(result: dict, nbytes: int) -> tuple[bool, str]:
    srv, cli = result.get("srv", {}), result.get("cli", {})
    if "error" in result or "error" in srv or "error" in cli or not srv:
        return False, f"{result.get('error', '')} server {srv.get('error', '?')}; " \
                      f"client {cli.get('error', '?')}"
    ok = srv["bytes"] == cli["bytes"] == nbytes and srv["sha256"] == cli["sha256"]
    return ok, f"{srv['bytes']} of {nbytes} bytes, sha256 {'equal' if ok else 'DIFFERS'}"


def check_rekey(c: e2e.Checks, case: str, tb: topo.Testbed) -> None:
    nbytes = 600 * 1000 * 1000  # long enough to span both reload steps
    before = {h: stage_drops(tb, h).get("esp_decrypt_unknown_spi", 0) for h in topo.HOSTS}
    result: dict = {}
    t = tcp_in_background(tb.endpoints(), nbytes, result)
    time.sleep(0.5)
    old = {h: open(tb.esp_keyfile(h)).read() for h in topo.HOSTS}
    tb.write_esp_keys(spi_a=0x1002, spi_b=0x2002)
    new = {h: open(tb.esp_keyfile(h)).read() for h in topo.HOSTS}
    # Step 1: each host accepts its new inbound SA and still sends with the old outbound one.
    for h in topo.HOSTS:
        step1 = new[h].split("\nout")[0] + "\nout" + old[h].split("\nout")[1]
        with open(tb.esp_keyfile(h), "w") as f:
            f.write(step1)
        tb.daemons[h].proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    # Step 2: both switch their outbound SA; the old inbound ones retire 10 s later.
    for h in topo.HOSTS:
        with open(tb.esp_keyfile(h), "w") as f:
            f.write(new[h])
        tb.daemons[h].proc.send_signal(signal.SIGHUP)
    t.join(120)
    ok, figures = tcp_ok(result, nbytes)
    after = {h: stage_drops(tb, h).get("esp_decrypt_unknown_spi", 0) for h in topo.HOSTS}
    unknown = sum(after[h] - before[h] for h in topo.HOSTS)
    c.report(case, "rekey under tcp", ok and unknown == 0 and result.get("late", 0) == 0,
             f"{figures}; unknown_spi during the rekey {unknown}")


def capture_esp(ns: str, dev: str, seconds: float, limit: int) -> list[tuple[bytes, tuple]]:
    """UDP 4500 datagrams seen on dev in ns: (payload, (src, sport, dst, dport))."""
    got: list = []
    fd_reader = topo.spawn(["/usr/bin/python3", "-c", CAPTURE, dev, str(seconds), str(limit)],
                           ns=ns)
    out, _ = fd_reader.communicate(timeout=seconds + 10)
    for line in (out if isinstance(out, str) else out.decode()).splitlines():
        src, dst, hexdata = line.split()
        got.append((bytes.fromhex(hexdata), (src, dst)))
    return got


CAPTURE = r"""
import socket, sys, time, struct
dev, secs, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind((dev, 0x0800))
s.settimeout(0.2)
end = time.time() + secs
n = 0
while time.time() < end and n < limit:
    try:
        pkt = s.recv(65535)
    except socket.timeout:
        continue
    if len(pkt) < 28 or pkt[9] != 17:
        continue
    ihl = (pkt[0] & 15) * 4
    dport = struct.unpack('!H', pkt[ihl + 2:ihl + 4])[0]
    if dport != 4500:
        continue
    print(socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), pkt[ihl + 8:].hex())
    n += 1
"""

REPLAY = r"""
import socket, sys, time
src, dst, times, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((src, 0))
data = [bytes.fromhex(l.strip()) for l in open(path) if l.strip()]
for _ in range(times):
    for d in data:
        s.sendto(d, (dst, 4500))
    time.sleep(0.01)
print(len(data) * times)
"""


def check_replay(c: e2e.Checks, case: str, tb: topo.Testbed, log_dir: str) -> None:
    """Captured ESP datagrams (a -> b) sent again from host a under a second transfer. The
    underlay's segmentation offloads are off first, so that each captured datagram is one ESP
    packet (not a GSO super-datagram of many)."""
    tb.set_offloads("off")
    result: dict = {}
    # A short transfer, all of it inside the receiver's window (8128 packets) afterwards.
    capture = threading.Thread(target=lambda: result.setdefault(
        "cap", capture_esp(topo.host_ns("b"), topo.UNDERLAY_DEV["b"], 2.0, 600)))
    capture.start()
    time.sleep(0.3)
    t = tcp_in_background(tb.endpoints(), 2 * 1000 * 1000, result)
    t.join(120)
    capture.join(30)
    cap = result.get("cap", [])
    path = os.path.abspath(os.path.join(log_dir, f"{topo.PREFIX}replay.hex"))
    with open(path, "w") as f:
        for data, (src, _) in cap:
            if src == tb.underlay_addr("a"):  # what b received (the capture sees both ways)
                f.write(data.hex() + "\n")
    before = stage_drops(tb, "b")
    # The flood (sent from host a's address, from an ephemeral port: the receiver checks the
    # SA, not the port; the ciphertext is exactly what was captured) starts just before a
    # second transfer and goes on under it.
    flood = topo.spawn(["/usr/bin/python3", "-c", REPLAY, tb.underlay_addr("a"),
                        tb.underlay_addr("b"), "20", path], ns=topo.host_ns("a"))
    time.sleep(0.05)
    result2: dict = {}
    t2 = tcp_in_background(tb.endpoints(), 20 * 1000 * 1000, result2)
    out, _ = flood.communicate(timeout=60)
    t2.join(120)
    os.unlink(path)
    sent = int((out if isinstance(out, str) else out.decode()).strip() or 0)
    after = stage_drops(tb, "b")
    # With ESN a packet older than the window reads as one 2^32 ahead and fails its ICV
    # (docs/ESP.md): refused as bad_icv. The first rounds are inside the window: replayed.
    replayed = after.get("esp_decrypt_replayed", 0) - before.get("esp_decrypt_replayed", 0)
    refused = sum(after.get(k, 0) - before.get(k, 0)
                  for k in ("esp_decrypt_replayed", "esp_decrypt_left_of_window",
                            "esp_decrypt_bad_icv"))
    ok, figures = tcp_ok(result2, 20 * 1000 * 1000)
    delta = {k: after[k] - before.get(k, 0) for k in esp_drops(after)
             if after[k] != before.get(k, 0)}
    c.report(case, "replay flood", ok and len(cap) > 0 and sent > 0 and refused >= sent
             and replayed > 0,
             f"{len(cap)} datagrams captured, {sent} replayed, {refused} refused ({replayed} as "
             f"replayed) (ESP drops on b: {delta}); transfer under the flood: {figures}")


SCAPY_PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "esp_scapy_peer.py")


def peers_reply(tb: topo.Testbed, h: str) -> dict:
    cp = run([tb.mflowctl, "--socket", tb.daemons[h].sock, "--json", "peers"], timeout=10,
             check=False)
    try:
        return json.loads(cp.stdout)
    except ValueError:
        return {}


def _sa_lines(path: str) -> dict[str, str]:
    out = {}
    for line in open(path):
        k, _, v = line.partition("=")
        if k.strip() in ("in", "out"):
            out[k.strip()] = v.strip().strip('"')
    return out


def check_scapy_interop(c: e2e.Checks, case: str, tb: topo.Testbed) -> None:
    """Host a's mflowd stopped; scapy plays host a against mflowd on b, per alg and ESN."""
    if tb.daemons.get("a") and tb.daemons["a"].proc.poll() is None:
        topo.stop(tb.daemons["a"].proc)
    a, b = tb.underlay_addr("a"), tb.underlay_addr("b")
    for alg in ("aes-128-gcm", "aes-256-gcm"):
        for esn in (True, False):
            tag = f"{alg} esn {'on' if esn else 'off'}"
            tb.write_esp_keys(alg=alg, esn=esn)
            topo.stop(tb.daemons["b"].proc)
            tb._start_mflowd("b")
            tb._wait_ready("b")
            sas = _sa_lines(tb.esp_keyfile("a"))  # a's out is what b takes in, and back
            cb = topo.container_ns("b")
            mac = json.loads(run(["ip", "-j", "link", "show", "mf0"], ns=cb).stdout)[0]["address"]
            # scapy -> mflowd -> container b
            rcv = topo.spawn(["/usr/bin/python3", "-c", UDP_RECV, "198.19.0.2", "7100", "20"], ns=cb)
            time.sleep(0.3)
            run(["/usr/bin/python3", SCAPY_PEER, "send", "--sa", sas["out"], "--local", a,
                 "--peer", b, "--inner-dst-mac", mac, "--count", "20"], ns=topo.host_ns("a"),
                timeout=60)
            out, _ = rcv.communicate(timeout=15)
            got = json.loads((out if isinstance(out, str) else out.decode()).strip().splitlines()[-1])
            want = [f"mfe-scapy-{i}" for i in range(20)]
            c.report(case, f"scapy->mflowd {tag}", got == want,
                     f"{len(got)}/20 datagrams delivered into the container"
                     + ("" if got == want else
                        f": {got[:3]}...; stage counters on b {stage_drops(tb, 'b')}, "
                        f"ESP peers {peers_reply(tb, 'b').get('esp_peers')}, "
                        f"ESP socket {peers_reply(tb, 'b').get('esp_drops', '?')}"))
            # container b -> mflowd -> scapy
            peer = topo.spawn(["/usr/bin/python3", SCAPY_PEER, "recv", "--sa", sas["in"], "--local",
                               a, "--peer", b, "--count", "20", "--port", "7101"],
                              ns=topo.host_ns("a"))
            time.sleep(1.0)
            run(["ip", "neigh", "replace", "198.19.0.1", "lladdr", "02:00:00:00:00:01", "dev",
                 "mf0"], ns=cb)
            run(["/usr/bin/python3", "-c", UDP_SEND, "198.19.0.1", "7101", "20"], ns=cb)
            out, _ = peer.communicate(timeout=30)
            res = json.loads((out if isinstance(out, str) else out.decode()).strip().splitlines()[-1])
            want = [f"mfe-mflowd-{i}" for i in range(20)]
            c.report(case, f"mflowd->scapy {tag}", res.get("got") == want,
                     f"{len(res.get('got', []))}/20 decrypted by scapy in order, "
                     f"{res.get('undecryptable')} undecryptable")
            # mflowctl peers shows where the outbound SA's numbering stands and,
            # without ESN, how many numbers are left before a rekey is due.
            seq = next((p.get("outbound_seq") for p in peers_reply(tb, "b").get("esp_peers", [])
                        if p.get("address") == a), None) or {}
            ok = (seq.get("esn") is esn and seq.get("next", 0) > 20 and
                  ("left" not in seq if esn else 0 < seq.get("left", 0) < 2**32))
            c.report(case, f"outbound numbering shown {tag}", ok, f"mflowctl peers: {seq}")


def check_plain_beside_esp(c: e2e.Checks, case: str, tb: topo.Testbed) -> None:
    """Plain and encrypted peers in one mflowd: host b's gets a third peer, 198.18.0.3 (an
    address added on host a, played by scapy, no SA). Its plain VXLAN is delivered into b's
    container, while plain VXLAN from the encrypted peer a is refused."""
    a, b, plain = tb.underlay_addr("a"), tb.underlay_addr("b"), "198.18.0.3"
    run(["ip", "addr", "add", f"{plain}/24", "dev", "ua"], ns=topo.host_ns("a"))
    tb.mflowd_args = list(tb.mflowd_args) + ["--peer", plain]
    topo.stop(tb.daemons["b"].proc)
    tb._start_mflowd("b")
    tb._wait_ready("b")
    cb = topo.container_ns("b")
    mac = json.loads(run(["ip", "-j", "link", "show", "mf0"], ns=cb).stdout)[0]["address"]
    for src, port, want in ((plain, 7102, 20), (a, 7103, 0)):
        rcv = topo.spawn(["/usr/bin/python3", "-c", UDP_RECV, "198.19.0.2", str(port), "20", "4"],
                         ns=cb)
        time.sleep(0.3)
        run(["/usr/bin/python3", SCAPY_PEER, "plain", "--local", src, "--peer", b,
             "--inner-dst-mac", mac, "--count", "20", "--port", str(port)],
            ns=topo.host_ns("a"), timeout=60)
        out, _ = rcv.communicate(timeout=15)
        got = json.loads((out if isinstance(out, str) else out.decode()).strip().splitlines()[-1])
        what = "plain peer" if src == plain else "encrypted peer"
        c.report(case, f"plain VXLAN from the {what} {src}", len(got) == want,
                 f"{len(got)}/20 delivered into the container (want {want}); encrypted peers "
                 f"on b: {[p.get('address') for p in peers_reply(tb, 'b').get('esp_peers', [])]}")


UDP_RECV = r"""
import socket, sys, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[4]) if len(sys.argv) > 4 else 15)
got = []
try:
    while len(got) < int(sys.argv[3]):
        got.append(s.recv(2048).decode())
except socket.timeout:
    pass
print(json.dumps(got))
"""

UDP_SEND = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    s.sendto(b"mfe-mflowd-%d" % i, (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.005)
"""


def run_case(c: e2e.Checks, args, topology: str) -> None:
    case = topology
    tb = topo.Testbed(topology, build_dir=args.build_dir, log_dir=args.log_dir,
                      workers=args.workers, ready_timeout=args.ready_timeout)
    t0 = time.monotonic()
    try:
        try:
            tb.up()
        except TestbedError as e:
            c.report(case, "start", False, str(e).replace("\n", "\n      "))
            return
        c.report(case, "start", True, "mflowd ready on both hosts, ESP peers")
        for reverse in (False, True):
            ep = tb.endpoints(reverse=reverse)
            tag = "b->a" if reverse else "a->b"
            try:
                e2e.check_ping(c, case, tb, ep, tag)
                e2e.check_tcp(c, case, ep, tag, args.tcp_bytes)
            except TestbedError as e:
                c.report(case, f"traffic {tag}", False, str(e))
        try:
            check_flood_train(c, case, tb)
        except (TestbedError, ValueError, IndexError) as e:
            c.report(case, "flooded super-frame", False, str(e))
        check_esp_used(c, case, tb)
        if topology == "mflow-esp-microflow":
            check_rekey(c, case, tb)
            check_replay(c, case, tb, args.log_dir)
        e2e.check_daemons_at_end(c, case, tb, args)
        if topology == "mflow-esp-microflow":
            check_scapy_interop(c, case, tb)
            check_plain_beside_esp(c, case, tb)
    finally:
        tb.down()
        for h in topo.HOSTS:
            try:
                os.unlink(tb.esp_keyfile(h))
            except OSError:
                pass
        log(f"{case} done in {time.monotonic() - t0:.1f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--log-dir", default="out/esp-test")
    ap.add_argument("--topologies", default=",".join(TOPOLOGIES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ready-timeout", type=float, default=10.0)
    ap.add_argument("--stop-timeout", type=float, default=10.0)
    ap.add_argument("--tcp-bytes", type=int, default=20 * 1000 * 1000)
    ap.add_argument("--prefix", default="mfe-",
                    help="names of namespaces (and what derives from them): two runs side by side need two")
    args = ap.parse_args()
    topo.set_prefix(args.prefix)
    c = e2e.Checks()

    def body() -> int:
        topo.cleanup_leftovers()
        for t in args.topologies.split(","):
            if t not in TOPOLOGIES:
                raise TestbedError(f"unknown topology {t}")
            run_case(c, args, t)
        print(f"{len(c.results) - c.failed} passed, {c.failed} failed")
        return 1 if c.failed else 0

    return topo.run_guarded("esp-test", body)


if __name__ == "__main__":
    sys.exit(main())

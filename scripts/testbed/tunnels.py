"""The userspace encrypted tunnels people run today, as testbed topologies beside mflow.

    wireguard-go  the WireGuard daemon in Go (Debian wireguard-go), configured with `wg`
                  (wireguard-tools): a TUN device on each host, keys made by `wg genkey`
    nebula        Nebula (Debian nebula): a CA and one certificate per host made by nebula-cert,
                  cipher AES-256-GCM (`cipher: aes`), `routines` = the machine's cores

Both are layer-3 tunnels, so the containers are attached as a routed (Calico-style) network
instead of a bridge: the container keeps the address and /24 every topology gives it
(topo.CONTAINER_ADDR) on a veth; the host end answers ARP for the other container by proxy ARP
and the host routes the other container's /32 into the tunnel (IP forwarding on in the host
namespace). The tools run in the same container namespaces as in every other topology.

MTU: 1440 on the tunnel device and in the container, the underlay's 1500 less what either
tunnel adds over IPv4: outer IPv4 20 + UDP 8 + 32 (WireGuard: 16 B header + 16 B Poly1305 tag;
Nebula: 16 B header + 16 B GCM tag). wg-quick's default of 1420 leaves room for an IPv6 underlay,
Nebula's default of 1300 for unknown paths; here the path is known, and the largest MTU that
does not fragment is what a tuned deployment would use. (The VXLAN topologies' containers have
1450: the TCP payload per packet differs by 0.7 %.)

Keys, certificates and configs are written to a temporary directory named with the testbed's
prefix (mode 0700) and removed on teardown. The daemons are started in their own session and
stopped by PID (topo.spawn / topo.stop); their CPU time counts where mflowd's does (the
testbed's "mflowd" CPU per GB column is the overlay daemons' CPU, whichever they are).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import topo
from topo import HOSTS, TestbedError, run

TUNNEL_TOPOLOGIES = topo.TUNNEL_TOPOLOGIES
TUNNEL_MTU = topo.UNDERLAY_MTU - 60  # outer IPv4 20 + UDP 8 + tunnel header and tag 32
WG_PORT = 19150
NEBULA_PORT = 19151
# Nebula's own overlay addresses (the hosts' addresses inside the tunnel); the containers'
# addresses travel as "unsafe routes" (certificate subnets), outside this range.
NEBULA_ADDR = {"a": "198.19.255.1", "b": "198.19.255.2"}
WG_SOCKET_DIR = "/var/run/wireguard"  # wireguard-go's UAPI sockets, one per interface name


@dataclass
class TunnelDaemon:
    host: str
    name: str  # wireguard-go or nebula
    proc: subprocess.Popen
    log_path: str
    log_file: object
    exit_code: int | None = None


def tunnel_dev(kind: str, h: str) -> str:
    """The TUN device's name: the prefix keeps wireguard-go's socket path
    (/var/run/wireguard/<dev>.sock, shared by all namespaces) apart from anyone else's."""
    return f"{topo.PREFIX}{'wg' if kind == 'wireguard-go' else 'neb'}{h}"


def up(tb) -> None:
    """Builds the tunnel topology tb.topology on tb's hosts (namespaces already made)."""
    tb.tunnel_dir = tempfile.mkdtemp(prefix=f"{topo.PREFIX}tunnel-", dir="/tmp")
    for h in HOSTS:
        _routed_container(tb, h)
    if tb.topology == "wireguard-go":
        _wireguard(tb)
    elif tb.topology == "nebula":
        _nebula(tb)
    else:
        raise TestbedError(f"not a tunnel topology: {tb.topology}")
    _wait_path(tb)


def down(tb) -> None:
    """Stops the tunnel daemons by PID (SIGTERM, then SIGKILL) and removes the key directory."""
    for t in tb.tunnels:
        if t.exit_code is None:
            t.exit_code = topo.stop(t.proc, signal.SIGTERM, 5)
        try:
            t.log_file.close()
        except OSError:
            pass
    if getattr(tb, "tunnel_dir", None):
        shutil.rmtree(tb.tunnel_dir, ignore_errors=True)
        tb.tunnel_dir = None


def cleanup_leftovers() -> list[str]:
    """Stale wireguard-go sockets of an earlier run with this prefix (topo.cleanup_leftovers
    removes the key directories)."""
    gone = []
    if os.path.isdir(WG_SOCKET_DIR):
        for f in os.listdir(WG_SOCKET_DIR):
            if f.startswith(topo.PREFIX):
                try:
                    os.unlink(os.path.join(WG_SOCKET_DIR, f))
                    gone.append(os.path.join(WG_SOCKET_DIR, f))
                except OSError:
                    pass
    return gone


# --------------------------------------------------------------------------------------------


def _routed_container(tb, h: str) -> None:
    """Container eth0 (its usual address and /24) <-> host vc1, proxy ARP and a /32 route."""
    ns, c = topo.host_ns(h), topo.container_ns(h)
    run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns=ns)
    run(["ip", "link", "add", "vc1", "type", "veth", "peer", "name", "eth0", "netns", c], ns=ns)
    run(["ip", "link", "set", "vc1", "mtu", str(TUNNEL_MTU), "up"], ns=ns)
    # The container ARPs for the other container (same /24): the host answers for it, since its
    # route to that address leaves through another device (the tunnel).
    run(["sysctl", "-qw", "net.ipv4.conf.vc1.proxy_arp=1"], ns=ns)
    run(["ip", "route", "add", f"{topo.CONTAINER_ADDR[h]}/32", "dev", "vc1"], ns=ns)
    run(["ip", "link", "set", "eth0", "mtu", str(TUNNEL_MTU)], ns=c)
    run(["ip", "addr", "add", f"{topo.CONTAINER_ADDR[h]}/{topo.PREFIXLEN}", "dev", "eth0"], ns=c)
    run(["ip", "link", "set", "eth0", "up"], ns=c)


def _spawn(tb, h: str, name: str, argv: list[str], env: dict | None = None) -> TunnelDaemon:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = os.path.join(tb.log_dir, f"{topo.PREFIX}{tb.topology}-{h}-{stamp}.log")
    lf = open(log_path, "w")
    lf.write(f"# ip netns exec {topo.host_ns(h)} {' '.join(argv)}\n")
    lf.flush()
    p = topo.spawn(argv, ns=topo.host_ns(h), stdout=lf, stderr=subprocess.STDOUT,
                   env=dict(os.environ, **env) if env else None)
    t = TunnelDaemon(h, name, p, log_path, lf)
    tb.tunnels.append(t)
    return t


def _log_tail(t: TunnelDaemon, lines: int = 15) -> str:
    try:
        t.log_file.flush()
        with open(t.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _wait_dev(tb, t: TunnelDaemon, dev: str, timeout: float = 10.0) -> None:
    """Waits until the daemon has made its TUN device (and, for wireguard-go, its socket)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if t.proc.poll() is not None:
            raise TestbedError(f"{t.name} on host {t.host} exited with {t.proc.returncode} "
                               f"during start-up; log {t.log_path}:\n{_log_tail(t)}")
        cp = run(["ip", "link", "show", "dev", dev], ns=topo.host_ns(t.host), check=False,
                 timeout=5)
        sock_ok = (t.name != "wireguard-go"
                   or os.path.exists(os.path.join(WG_SOCKET_DIR, f"{dev}.sock")))
        if cp.returncode == 0 and sock_ok:
            return
        time.sleep(0.05)
    raise TestbedError(f"{t.name} on host {t.host}: no device {dev} after {timeout}s; "
                       f"log {t.log_path}:\n{_log_tail(t)}")


def _wireguard(tb) -> None:
    d = tb.tunnel_dir
    keys = {}
    for h in HOSTS:
        priv = run(["wg", "genkey"]).stdout.strip()
        pub = run(["wg", "pubkey"], input=priv + "\n").stdout.strip()
        path = os.path.join(d, f"wg-{h}.key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(priv + "\n")
        keys[h] = (path, pub)
    for h in HOSTS:
        dev = tunnel_dev("wireguard-go", h)
        # -f: stay in the foreground, so the PID we hold is the daemon's. The variable silences
        # its advice to use the kernel module, which this machine kind does not have.
        t = _spawn(tb, h, "wireguard-go", ["wireguard-go", "-f", dev],
                   env={"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1",
                        "LOG_LEVEL": "error"})
        _wait_dev(tb, t, dev)
    for h in HOSTS:
        o, ns, dev = topo.other(h), topo.host_ns(h), tunnel_dev("wireguard-go", h)
        run(["wg", "set", dev, "private-key", keys[h][0], "listen-port", str(WG_PORT),
             "peer", keys[o][1], "endpoint", f"{topo.UNDERLAY_ADDR[o]}:{WG_PORT}",
             "allowed-ips", f"{topo.CONTAINER_ADDR[o]}/32"], ns=ns)
        run(["ip", "link", "set", dev, "mtu", str(TUNNEL_MTU), "up"], ns=ns)
        run(["ip", "route", "add", f"{topo.CONTAINER_ADDR[o]}/32", "dev", dev], ns=ns)


def _nebula(tb) -> None:
    d = tb.tunnel_dir
    ca_crt, ca_key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    run(["nebula-cert", "ca", "-name", f"{topo.PREFIX}testbed", "-duration", "24h",
         "-out-crt", ca_crt, "-out-key", ca_key])
    cores = os.cpu_count() or 1
    for h in HOSTS:
        o = topo.other(h)
        crt, key = os.path.join(d, f"{h}.crt"), os.path.join(d, f"{h}.key")
        # The container's /32 as a certificate subnet: Nebula accepts and sends packets of that
        # source only for a peer whose certificate names it (an "unsafe route").
        run(["nebula-cert", "sign", "-ca-crt", ca_crt, "-ca-key", ca_key, "-name", f"host-{h}",
             "-ip", f"{NEBULA_ADDR[h]}/24", "-subnets", f"{topo.CONTAINER_ADDR[h]}/32",
             "-duration", "23h", "-out-crt", crt, "-out-key", key])
        cfg = os.path.join(d, f"nebula-{h}.yaml")
        with open(cfg, "w") as f:
            f.write(_nebula_config(h, o, ca_crt, crt, key, cores))
        dev = tunnel_dev("nebula", h)
        t = _spawn(tb, h, "nebula", ["nebula", "-config", cfg])
        _wait_dev(tb, t, dev)


def _nebula_config(h: str, o: str, ca: str, crt: str, key: str, cores: int) -> str:
    """YAML (JSON-compatible values) for host h talking straight to host o: no lighthouse, the
    peer's underlay address from static_host_map, every packet allowed by the firewall."""
    any_rule = "    - {port: any, proto: any, host: any}\n"
    return (
        f"pki:\n  ca: {ca}\n  cert: {crt}\n  key: {key}\n"
        f"static_host_map:\n  \"{NEBULA_ADDR[o]}\": [\"{topo.UNDERLAY_ADDR[o]}:{NEBULA_PORT}\"]\n"
        "lighthouse:\n  am_lighthouse: false\n  interval: 60\n  hosts: []\n"
        f"listen:\n  host: {topo.UNDERLAY_ADDR[h]}\n  port: {NEBULA_PORT}\n"
        "punchy:\n  punch: false\n"
        "relay:\n  use_relays: false\n"
        # AES-256-GCM (AES-NI; Nebula's advice where the CPU has AES instructions), named
        # explicitly; one reader/writer pair per core (routines up to the number of cores).
        "cipher: aes\n"
        f"routines: {cores}\n"
        f"tun:\n  disabled: false\n  dev: {tunnel_dev('nebula', h)}\n  mtu: {TUNNEL_MTU}\n"
        f"  unsafe_routes:\n    - route: {topo.CONTAINER_ADDR[o]}/32\n"
        f"      via: {NEBULA_ADDR[o]}\n      mtu: {TUNNEL_MTU}\n"
        "logging:\n  level: warning\n  format: text\n"
        "firewall:\n  outbound:\n" + any_rule + "  inbound:\n" + any_rule)


def _wait_path(tb, timeout: float = 15.0) -> None:
    """Pings container to container until the tunnel is up (handshakes done), bounded."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for t in tb.tunnels:
            if t.proc.poll() is not None:
                raise TestbedError(f"{t.name} on host {t.host} exited with {t.proc.returncode}; "
                                   f"log {t.log_path}:\n{_log_tail(t)}")
        cp = run(["ping", "-c", "1", "-W", "1", topo.CONTAINER_ADDR["b"]],
                 ns=topo.container_ns("a"), check=False, timeout=5)
        if cp.returncode == 0:
            return
        lines = (cp.stdout + cp.stderr).strip().splitlines()
        last = lines[-1] if lines else f"ping exited with {cp.returncode}"
    raise TestbedError(f"{tb.topology}: container a cannot reach container b through the "
                       f"tunnel after {timeout}s ({last}); logs: "
                       + ", ".join(t.log_path for t in tb.tunnels))

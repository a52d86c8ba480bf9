"""The namespace testbed: two "hosts" and their "containers" as network namespaces.

Shared by testbed.py (the benchmark) and e2e.py (the correctness test).

    mfb-a  (host A)  ua 198.18.0.1/24 --- veth, MTU 1500 --- ub 198.18.0.2/24  (host B)  mfb-b
      |                                                                             |
    mfb-a-c1 (container) 198.19.0.1/24, MTU 1450           198.19.0.2/24  mfb-b-c1 (container)

Topologies:
  native           no overlay: tools run in mfb-a / mfb-b on 198.18.0.1 <-> 198.18.0.2
  kernel           Linux VXLAN (VNI 42, port 4789) + bridge + veth to the container (Docker/Flannel)
  mflow-flow       mflowd on both hosts, --mode flow
  mflow-stage      mflowd on both hosts, --mode stage
  mflow-microflow  mflowd on both hosts, --mode microflow
  mixed            kernel VXLAN on host A, mflowd (microflow) on host B
  wireguard-go     wireguard-go on both hosts, routed containers (tunnels.py)
  nebula           nebula (AES, one routine per core) on both hosts, routed containers

Everything this module creates carries the prefix "mfb-" (namespaces, log and nstat files, control
sockets /run/mflow/mfb-*.sock); teardown() and cleanup_leftovers() remove it. Processes are started
in their own session (Ctrl-C reaches only the Python driver, which then stops them in order) and are
ended by PID only. Only the standard library is used; run with /usr/bin/python3.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

# Every name this module creates starts with PREFIX. set_prefix() gives a tool its own namespace
# set (the soak run uses "mfk-"), so it can run beside the benchmark or the e2e test.
PREFIX = "mfb-"


def set_prefix(prefix: str) -> None:
    global PREFIX
    PREFIX = prefix
HOSTS = ("a", "b")
UNDERLAY_ADDR = {"a": "198.18.0.1", "b": "198.18.0.2"}
# The IPv6 underlay (Testbed(underlay="ipv6")): the benchmarking range of RFC 5180.
UNDERLAY_ADDR6 = {"a": "2001:2::1", "b": "2001:2::2"}
PREFIXLEN6 = 64
UNDERLAY_DEV = {"a": "ua", "b": "ub"}
CONTAINER_ADDR = {"a": "198.19.0.1", "b": "198.19.0.2"}
PREFIXLEN = 24
# The containers' inner IPv6 addresses (Testbed(inner_ipv6=True): dual-stack containers), ULA.
CONTAINER_ADDR6 = {"a": "fd00:198:19::1", "b": "fd00:198:19::2"}
INNER_PREFIXLEN6 = 64
VNI = 42
ISOLATION_VNI = 43  # a second tenant (e2e: identical addresses and MACs, never mixed with VNI)
VXLAN_PORT = 4789
UNDERLAY_MTU = 1500
CONTROL_DIR = "/run/mflow"

MFLOW_MODES = {"mflow-flow": "flow", "mflow-stage": "stage", "mflow-microflow": "microflow",
               "mflow-esp-flow": "flow", "mflow-esp-stage": "stage",
               "mflow-esp-microflow": "microflow"}
# The encrypted overlay (docs/ESP.md): ESP with AES-GCM-128 between the two mflowd, keys from a
# key file per host (--encrypt), fresh for every testbed.
ESP_TOPOLOGIES = ("mflow-esp-flow", "mflow-esp-stage", "mflow-esp-microflow")
TUNNEL_TOPOLOGIES = ("wireguard-go", "nebula")  # tunnels.py: userspace encrypted tunnels
PLAIN_TOPOLOGIES = ("native", "kernel", "mflow-flow", "mflow-stage", "mflow-microflow", "mixed")
ENCRYPTED_TOPOLOGIES = ESP_TOPOLOGIES + TUNNEL_TOPOLOGIES
TOPOLOGIES = PLAIN_TOPOLOGIES + ENCRYPTED_TOPOLOGIES
# Names that stand for several topologies on the testbed's command line.
TOPOLOGY_GROUPS = {"plain": PLAIN_TOPOLOGIES, "encrypted": ENCRYPTED_TOPOLOGIES, "all": TOPOLOGIES}
ESP_OVERHEAD = 45  # ESP in UDP: UDP 8, ESP header and IV 16, padding and trailer <= 5, ICV 16

# Segmentation / coalescing features switched off on both underlay veth ends for offloads=off, so
# that the receiving host sees MTU-sized frames as from a physical wire. Checksum offload stays on
# (a physical NIC computes checksums in hardware). Features this kernel does not have, or that are
# [fixed], are skipped.
OFFLOAD_OFF_FEATURES = (
    "tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation",
    "tx-tcp6-segmentation", "tx-tcp-accecn-segmentation",
    "generic-segmentation-offload", "generic-receive-offload", "large-receive-offload",
    "tx-udp-segmentation", "tx-udp_tnl-segmentation", "tx-udp_tnl-csum-segmentation",
    "tx-gso-list", "tx-gre-segmentation", "tx-gre-csum-segmentation",
    "tx-ipxip4-segmentation", "tx-ipxip6-segmentation", "tx-sctp-segmentation",
    "tx-gso-partial", "rx-gro-list", "rx-udp-gro-forwarding", "rx-gro-hw",
)


def host_ns(h: str) -> str:
    return f"{PREFIX}{h}"


def container_ns(h: str, i: int = 1) -> str:
    return f"{PREFIX}{h}-c{i}"


def other(h: str) -> str:
    return "b" if h == "a" else "a"


# mflowd options the testbed sets itself (daemon_argv): given again through --mflowd-arg, mflowd
# refuses to start (a repeated option), or the topology would not be what its name says.
TESTBED_SETS = {"--mode": "choose the topology (mflow-flow, mflow-stage, mflow-microflow)",
                "--workers": "the tool's own --workers sets it, where it has one",
                "--local": "", "--peer": "", "--vni": "", "--underlay-mtu": "", "--control": "",
                "--port": "", "--config": "", "--encrypt": ""}


def mflowd_args_of(specs: list[str], option: str = "--mflowd-arg") -> list[str]:
    """The extra mflowd arguments a tool was given (each spec split like a shell), for
    Testbed.mflowd_args; exits naming what to use instead of an option in TESTBED_SETS."""
    argv = [a for s in specs for a in shlex.split(s)]
    for a in argv:
        opt = a.split("=", 1)[0]
        if opt in TESTBED_SETS:
            hint = TESTBED_SETS[opt] or "the testbed builds it from the topology"
            raise SystemExit(f"{os.path.basename(sys.argv[0])}: mflowd option {opt} cannot be "
                             f"given through {option}: {hint}")
    return argv


class TestbedError(RuntimeError):
    pass


class Interrupted(BaseException):
    """Raised from the SIGTERM/SIGHUP handler so that every finally-block runs."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# signals, lock, processes


_signalled = False


def _on_signal(signum, _frame):
    global _signalled
    if _signalled:  # a second signal while cleaning up: ignore, let the cleanup finish
        return
    _signalled = True
    log(f"\n{PREFIX}testbed: caught signal {signum}, cleaning up")
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(f"signal {signum}")


def install_signal_handlers() -> None:
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def block_signals_during_cleanup() -> None:
    """After the first signal, further ones are ignored by _on_signal; make that true right away."""
    global _signalled
    _signalled = True


def run_guarded(tool: str, body) -> int:
    """Runs body() (which returns an exit status) holding the testbed lock, after removing an
    earlier run's leftovers. Ctrl-C/SIGTERM end it with 130, a TestbedError with 2 (said on
    stderr); whatever it started is stopped on every exit."""
    install_signal_handlers()
    try:
        with Lock():
            left = cleanup_leftovers(verbose=False)
            if left:
                log(f"{tool}: removed leftovers of an earlier run: {' '.join(left)}")
            return body()
    except (KeyboardInterrupt, Interrupted):
        print(f"{tool}: interrupted", file=sys.stderr)
        return 130
    except TestbedError as e:
        print(f"{tool}: {e}", file=sys.stderr)
        return 2
    finally:
        block_signals_during_cleanup()
        stop_all_started()


class Lock:
    """One testbed per PREFIX at a time on this machine (namespace names are fixed)."""

    def __init__(self) -> None:
        self.fd = None

    def __enter__(self):
        lock_file = f"/run/lock/{PREFIX}testbed.lock"
        os.makedirs(os.path.dirname(lock_file), exist_ok=True)
        self.fd = open(lock_file, "w")
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TestbedError(f"another testbed run holds {lock_file}; wait for it to finish")
        self.fd.write(f"{os.getpid()}\n")
        self.fd.flush()
        return self

    def __exit__(self, *exc):
        if self.fd:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.fd.close()
        return False


def netns_argv(ns: str | None, argv: list[str]) -> list[str]:
    return (["ip", "netns", "exec", ns] if ns else []) + list(argv)


def run(argv: list[str], ns: str | None = None, timeout: float = 30, check: bool = True,
        env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Runs a command (in a namespace), bounded by timeout, output captured as text."""
    full = netns_argv(ns, argv)
    try:
        cp = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env,
                            input=input, start_new_session=True)
    except subprocess.TimeoutExpired as e:
        raise TestbedError(f"timed out after {timeout}s: {shlex.join(full)}") from e
    if check and cp.returncode != 0:
        raise TestbedError(f"failed ({cp.returncode}): {shlex.join(full)}\n"
                           f"{(cp.stderr or cp.stdout).strip()}")
    return cp


_procs: dict[int, subprocess.Popen] = {}


def spawn(argv: list[str], ns: str | None = None, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
          env: dict | None = None) -> subprocess.Popen:
    """Starts a background process (ip netns exec execs, so the PID is the tool's own)."""
    p = subprocess.Popen(netns_argv(ns, argv), stdout=stdout, stderr=stderr, text=True, env=env,
                         start_new_session=True)
    _procs[p.pid] = p
    return p


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
    """Ends one process we started, by its PID: sig, then SIGKILL after grace seconds."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _procs.pop(p.pid, None)
    return p.returncode


def finish(p: subprocess.Popen, timeout: float) -> tuple[int | None, str, str]:
    """Waits for a process to end by itself (bounded), returns (rc, stdout, stderr)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p, signal.SIGKILL, 2)
        out, err = p.communicate()
        _procs.pop(p.pid, None)
        return None, out or "", (err or "") + f"\n[killed after {timeout}s]"
    _procs.pop(p.pid, None)
    return p.returncode, out or "", err or ""


def stop_all_started() -> None:
    for p in list(_procs.values()):
        stop(p, signal.SIGTERM, 3)


def wait_listening(ns: str | None, port: int, proto: str = "tcp", timeout: float = 5.0,
                   proc: subprocess.Popen | None = None) -> None:
    flag = "-Hltn" if proto == "tcp" else "-Hlun"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise TestbedError(f"server exited ({proc.returncode}) before listening on {port}")
        cp = run(["ss", flag, f"sport = :{port}"], ns=ns, check=False, timeout=5)
        if cp.stdout.strip():
            return
        time.sleep(0.05)
    raise TestbedError(f"nothing listening on {proto}/{port} in {ns} after {timeout}s")


# --------------------------------------------------------------------------------------------
# namespaces


def list_our_netns() -> list[str]:
    cp = run(["ip", "-j", "netns", "list"], check=False)
    try:
        names = [e["name"] for e in json.loads(cp.stdout or "[]")]
    except (ValueError, KeyError):
        names = [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]
    # Only the names this module makes (host_ns, container_ns), not every name that starts
    # with the prefix: a namespace of someone else's that merely shares it (a short --prefix)
    # must not lose its processes to our clean-up.
    ours = re.compile(re.escape(PREFIX) + r"(" + "|".join(map(re.escape, HOSTS)) + r")(-c\d+)?")
    return [n for n in names if ours.fullmatch(n)]


def netns_pids(ns: str) -> list[int]:
    cp = run(["ip", "netns", "pids", ns], check=False, timeout=10)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def delete_netns(names: list[str]) -> None:
    """Kills what still runs inside our namespaces (by PID), then deletes them, containers first."""
    names = sorted(names, key=lambda n: (-n.count("-"), n))
    for ns in names:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = netns_pids(ns)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and netns_pids(ns):
                time.sleep(0.1)
    for ns in names:
        run(["ip", "netns", "del", ns], check=False, timeout=20)


def cleanup_leftovers(verbose: bool = True) -> list[str]:
    """Removes our namespaces (mfb-a, mfb-b, mfb-a-c1, ...: list_our_netns) and what runs in
    them, and stale mfb- control sockets."""
    names = list_our_netns()
    if names:
        if verbose:
            log(f"cleanup: removing namespaces {' '.join(names)}")
        delete_netns(names)
    if os.path.isdir(CONTROL_DIR):
        for f in os.listdir(CONTROL_DIR):
            if f.startswith(PREFIX):
                try:
                    os.unlink(os.path.join(CONTROL_DIR, f))
                    if verbose:
                        log(f"cleanup: removed {CONTROL_DIR}/{f}")
                except OSError:
                    pass
    import tunnels  # here, not at the top: tunnels imports this module
    tunnels.cleanup_leftovers()
    for f in os.listdir("/tmp"):
        if f.startswith((f"{PREFIX}tunnel-", f"{PREFIX}apps-")):  # tunnels.py's, apps.py's
            shutil.rmtree(os.path.join("/tmp", f), ignore_errors=True)
        elif f.startswith(f"{PREFIX}nstat."):
            try:
                os.unlink(os.path.join("/tmp", f))
            except OSError:
                pass
    return names


# --------------------------------------------------------------------------------------------
# counters


def proc_stat_cpus() -> list[tuple[int, int]]:
    """Per core (busy, total) jiffies from /proc/stat. busy = user+system+irq+softirq: niced
    time is left out (the testbed's tools run at normal priority; a niced build beside it does
    not count), and so are idle, iowait and steal."""
    out = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:]]
                user, nice, system, idle, iowait, irq, softirq = v[:7]
                steal = v[7] if len(v) > 7 else 0
                busy = user + system + irq + softirq
                out.append((busy, busy + nice + idle + iowait + steal))
    return out


def background_load(seconds: float = 0.3) -> tuple[float, float]:
    """(busy cores at normal priority, busy cores of niced processes) over a short window."""
    def snap():
        with open("/proc/stat") as f:
            return [[int(x) for x in l.split()[1:9]] for l in f
                    if l.startswith("cpu") and l[3].isdigit()]
    a = snap()
    time.sleep(seconds)
    b = snap()
    d = [sum(y - x for x, y in zip(ca, cb)) for ca, cb in zip(a, b)]
    total = sum(d) or 1
    col = lambda i: sum(cb[i] - ca[i] for ca, cb in zip(a, b))  # noqa: E731
    busy = col(0) + col(2) + col(5) + col(6)
    return round(len(a) * busy / total, 2), round(len(a) * col(1) / total, 2)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_report(pid: int) -> str:
    """Each thread's name, state, CPU time so far, wait channel and kernel stack (for a process
    that hangs: a thread in state R with no kernel stack spins in user space)."""
    lines = []
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return "(gone)\n"
    for tid in tids:
        base = f"/proc/{pid}/task/{tid}"
        try:
            comm = open(f"{base}/comm").read().strip()
            stat = open(f"{base}/stat").read()
            f = stat[stat.rindex(")") + 2:].split()
            state = f[0]
            cpu = (int(f[11]) + int(f[12])) / CLK_TCK
            wchan = open(f"{base}/wchan").read().strip() or "-"
        except OSError:
            continue
        try:
            stack = [l.split()[-1] for l in open(f"{base}/stack").read().splitlines()[:6]]
        except OSError:
            stack = []
        lines.append(f"#   {tid} {comm} {state} cpu {cpu:.2f}s {wchan} / {' < '.join(stack)}")
    out = "\n".join(lines) + "\n"
    gdb = shutil.which("gdb")
    if gdb:  # user-space stacks too, when gdb is installed (bounded)
        try:
            cp = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                                 "-ex", "thread apply all bt 25"], capture_output=True, text=True,
                                timeout=30)
            bt = [l for l in cp.stdout.splitlines()
                  if l.startswith(("Thread ", "#")) and not l.startswith("#   ")]
            out += "# gdb thread apply all bt:\n" + "".join(f"#   {l}\n" for l in bt[:200])
        except (subprocess.TimeoutExpired, OSError) as e:
            out += f"# gdb failed: {e}\n"
    return out


def link_stats(ns: str, dev: str) -> dict:
    cp = run(["ip", "-s", "-j", "link", "show", "dev", dev], ns=ns, check=False, timeout=5)
    try:
        st = json.loads(cp.stdout)[0]["stats64"]
        return {"rx_packets": st["rx"]["packets"], "rx_bytes": st["rx"]["bytes"],
                "tx_packets": st["tx"]["packets"], "tx_bytes": st["tx"]["bytes"]}
    except (ValueError, KeyError, IndexError):
        return {}


def dev_drops(ns: str) -> dict:
    """Packets the namespace's devices (all but lo) dropped, summed: tx_dropped (a full TAP or
    veth queue on the way out) and rx_dropped (on the way in); and tx_packets, the frames they
    sent (a datagram above the MTU leaves as several IP fragments, each a frame)."""
    cp = run(["ip", "-s", "-j", "link", "show"], ns=ns, check=False, timeout=5)
    out = {"tx_dropped": 0, "rx_dropped": 0, "tx_packets": 0}
    try:
        for link in json.loads(cp.stdout):
            if link.get("ifname") == "lo":
                continue
            st = link.get("stats64", {})
            out["tx_dropped"] += st.get("tx", {}).get("dropped", 0)
            out["rx_dropped"] += st.get("rx", {}).get("dropped", 0)
            out["tx_packets"] += st.get("tx", {}).get("packets", 0)
    except (ValueError, AttributeError):
        pass
    return out


def nstat_reset(ns: str) -> None:
    run(["nstat", "-n"], ns=ns, env=_nstat_env(ns), timeout=10)


def nstat_read(ns: str) -> dict[str, int]:
    """Counter deltas since nstat_reset (per-namespace history file)."""
    cp = run(["nstat", "-z", "-j"], ns=ns, env=_nstat_env(ns), timeout=10, check=False)
    try:
        d = json.loads(cp.stdout)
        return {k: int(v) for k, v in d.get("kernel", d).items()}
    except ValueError:
        vals = {}
        for line in cp.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                vals[parts[0]] = int(parts[1])
        return vals


def _nstat_env(ns: str) -> dict:
    env = dict(os.environ)
    env["NSTAT_HISTORY"] = f"/tmp/{PREFIX}nstat.{ns}"
    return env


# --------------------------------------------------------------------------------------------
# the testbed


@dataclass
class Daemon:
    host: str
    proc: subprocess.Popen
    sock: str
    log_path: str
    log_file: object
    argv: list[str]
    exit_code: int | None = None
    stop_seconds: float | None = None
    hang_report: str | None = None


@dataclass
class Endpoints:
    """Where to run the traffic tools: a sender (A side) and a receiver (B side)."""
    client_ns: str
    client_addr: str
    server_ns: str
    server_addr: str


@dataclass
class Testbed:
    topology: str
    build_dir: str = "build"
    log_dir: str = "out/testbed"
    workers: int = 2
    mflowd_args: list[str] = field(default_factory=list)
    # Arguments for one host's mflowd only ({"a": [...], "b": [...]}): e.g. each host's daemon
    # pinned to a CPU of its own, as two machines would have.
    host_args: dict = field(default_factory=dict)
    mixed_mode: str = "microflow"
    ready_timeout: float = 10.0
    underlay: str = "ipv4"  # or "ipv6": the hosts' underlay addresses and VXLAN over IPv6
    # Dual-stack containers: an inner IPv6 address (CONTAINER_ADDR6) beside the IPv4 one, IPv6
    # on in the container namespaces (router solicitations off: no router here).
    inner_ipv6: bool = False
    daemons: dict[str, Daemon] = field(default_factory=dict)
    tunnels: list = field(default_factory=list)  # tunnels.TunnelDaemon (wireguard-go, nebula)
    tunnel_dir: str | None = None  # their keys and configs
    namespaces: list[str] = field(default_factory=list)
    offloads: str = "on"
    # mflowd reads its underlay settings (local, peers, VNIs) from a TOML file per host
    # (config_path) instead of flags, so that a test can change them and reload.
    config_files: bool = False
    # Extra environment variables for mflowd, per host (e.g. ASAN_OPTIONS for the soak run);
    # merged over this process's environment. Empty: mflowd inherits it unchanged.
    daemon_env: dict[str, dict[str, str]] = field(default_factory=dict)
    _default_features: dict = field(default_factory=dict)

    # -- paths
    @property
    def mflowd(self) -> str:
        return os.path.join(self.build_dir, "src", "daemon", "mflowd")

    @property
    def mflowctl(self) -> str:
        return os.path.join(self.build_dir, "src", "control", "mflowctl")

    def underlay_addr(self, h: str) -> str:
        return UNDERLAY_ADDR6[h] if self.underlay == "ipv6" else UNDERLAY_ADDR[h]

    @property
    def inner_mtu(self) -> int:
        """The containers' MTU: the underlay's less VXLAN over IPv4 (50) or IPv6 (70), less
        ESP in UDP on the encrypted topologies."""
        return UNDERLAY_MTU - (70 if self.underlay == "ipv6" else 50) - \
            (ESP_OVERHEAD if self.topology in ESP_TOPOLOGIES else 0)

    def esp_keyfile(self, h: str) -> str:
        return os.path.abspath(os.path.join(self.log_dir, f"{PREFIX}{h}-esp-keys.toml"))

    def write_esp_keys(self, alg: str = "aes-128-gcm", esn: bool = True,
                       spi_a: int = 0x1001, spi_b: int = 0x2001) -> None:
        """Fresh keys for both hosts' key files (mode 600): host a sends with SPI spi_b... as
        host b receives it, and the other way round. Rewriting them and reloading rekeys."""
        import secrets
        klen = 32 if alg == "aes-256-gcm" else 16
        sa = {h: (f"spi={spi} alg={alg} key={secrets.token_hex(klen)} "
                  f"salt={secrets.token_hex(4)} esn={'on' if esn else 'off'}")
              for h, spi in (("a", spi_a), ("b", spi_b))}  # sa[h]: what host h receives
        for h in HOSTS:
            o = other(h)
            text = (f'[[underlay.esp]]\npeer = "{self.underlay_addr(o)}"\n'
                    f'in  = "{sa[h]}"\nout = "{sa[o]}"\n')
            path = self.esp_keyfile(h)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)

    def uses_mflow(self, h: str) -> bool:
        return self.topology in MFLOW_MODES or (self.topology == "mixed" and h == "b")

    def mode_of(self, h: str) -> str | None:
        if self.topology in MFLOW_MODES:
            return MFLOW_MODES[self.topology]
        if self.topology == "mixed" and h == "b":
            return self.mixed_mode
        return None

    def endpoints(self, reverse: bool = False, family: int = 4) -> Endpoints:
        """family 6: the containers' inner IPv6 addresses (needs inner_ipv6)."""
        src, dst = ("b", "a") if reverse else ("a", "b")
        if self.topology == "native":
            return Endpoints(host_ns(src), self.underlay_addr(src), host_ns(dst),
                             self.underlay_addr(dst))
        addr = CONTAINER_ADDR6 if family == 6 else CONTAINER_ADDR
        if family == 6 and not self.inner_ipv6:
            raise TestbedError("IPv6 endpoints need a dual-stack testbed (inner_ipv6)")
        return Endpoints(container_ns(src), addr[src], container_ns(dst), addr[dst])

    # -- build
    def up(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise TestbedError(f"unknown topology {self.topology}")
        if self.underlay not in ("ipv4", "ipv6"):
            raise TestbedError(f"underlay must be ipv4 or ipv6, not {self.underlay}")
        for h in HOSTS:
            if self.uses_mflow(h):
                for b in (self.mflowd, self.mflowctl):
                    if not os.access(b, os.X_OK):
                        raise TestbedError(f"{self.topology}: {b} not built")
        os.makedirs(self.log_dir, exist_ok=True)
        if self.topology in ESP_TOPOLOGIES:
            self.write_esp_keys()
        self._underlay()
        if self.topology != "native":
            for h in HOSTS:
                self._add_ns(container_ns(h), ipv6=self.inner_ipv6)
        if self.topology in TUNNEL_TOPOLOGIES:
            import tunnels  # here, not at the top: tunnels imports this module
            tunnels.up(self)
        for h in HOSTS:
            if self.topology == "native" or self.topology in TUNNEL_TOPOLOGIES:
                continue
            if self.uses_mflow(h):
                self._start_mflowd(h)
            else:
                self._kernel_host(h)
        for h in HOSTS:
            if self.uses_mflow(h):
                self._wait_ready(h)

    def _add_ns(self, ns: str, ipv6: bool = False) -> None:
        run(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        # No IPv6 unless it is the underlay: no router solicitations / MLD / DAD chatter in
        # the measurements.
        for key in ("all", "default"):
            run(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6={0 if ipv6 else 1}"],
                ns=ns, check=False)
            if ipv6:  # there is no router: no solicitations, repeated for ever, to look for one
                run(["sysctl", "-qw", f"net.ipv6.conf.{key}.router_solicitations=0"], ns=ns,
                    check=False)
        run(["ip", "link", "set", "lo", "up"], ns=ns)

    def _underlay(self) -> None:
        v6 = self.underlay == "ipv6"
        for h in HOSTS:
            self._add_ns(host_ns(h), ipv6=v6)
        run(["ip", "link", "add", "ua", "netns", host_ns("a"), "type", "veth",
             "peer", "name", "ub", "netns", host_ns("b")])
        for h in HOSTS:
            ns, dev = host_ns(h), UNDERLAY_DEV[h]
            run(["ip", "link", "set", dev, "mtu", str(UNDERLAY_MTU)], ns=ns)
            if v6:  # nodad: usable at once, not tentative for a second
                run(["ip", "addr", "add", f"{UNDERLAY_ADDR6[h]}/{PREFIXLEN6}", "dev", dev,
                     "nodad"], ns=ns)
            else:
                run(["ip", "addr", "add", f"{UNDERLAY_ADDR[h]}/{PREFIXLEN}", "dev", dev], ns=ns)
            run(["ip", "link", "set", dev, "up"], ns=ns)
            self._default_features[h] = self._features(h)

    def _kernel_host(self, h: str) -> None:
        ns, c = host_ns(h), container_ns(h)
        run(["ip", "link", "add", "vx42", "type", "vxlan", "id", str(VNI),
             "local", self.underlay_addr(h), "remote", self.underlay_addr(other(h)),
             "dstport", str(VXLAN_PORT), "dev", UNDERLAY_DEV[h]], ns=ns)
        run(["ip", "link", "set", "vx42", "mtu", str(self.inner_mtu)], ns=ns)
        run(["ip", "link", "add", "br0", "type", "bridge"], ns=ns)
        run(["ip", "link", "set", "vx42", "master", "br0"], ns=ns)
        run(["ip", "link", "add", "vc1", "type", "veth", "peer", "name", "eth0", "netns", c], ns=ns)
        run(["ip", "link", "set", "vc1", "mtu", str(self.inner_mtu), "master", "br0"], ns=ns)
        for dev in ("vx42", "vc1", "br0"):
            run(["ip", "link", "set", dev, "up"], ns=ns)
        run(["ip", "link", "set", "eth0", "mtu", str(self.inner_mtu)], ns=c)
        run(["ip", "addr", "add", f"{CONTAINER_ADDR[h]}/{PREFIXLEN}", "dev", "eth0"], ns=c)
        if self.inner_ipv6:  # nodad, as mflowd adds its containers' IPv6 addresses
            run(["ip", "addr", "add", f"{CONTAINER_ADDR6[h]}/{INNER_PREFIXLEN6}", "dev", "eth0",
                 "nodad"], ns=c)
        run(["ip", "link", "set", "eth0", "up"], ns=c)

    def config_path(self, h: str) -> str:
        return os.path.abspath(os.path.join(self.log_dir, f"{PREFIX}{h}.toml"))

    def write_config(self, h: str, local: str | None = None, peers: list[str] | None = None,
                     text: str | None = None, fdb_size: int = 0) -> None:
        """Writes host h's config file: the testbed's underlay settings, or `text` as is."""
        if text is None:
            local = local or self.underlay_addr(h)
            peers = peers if peers is not None else [self.underlay_addr(other(h))]
            text = (f'[underlay]\nlocal = "{local}"\n'
                    f'peers = [{", ".join(json.dumps(p) for p in peers)}]\n'
                    f"mtu = {UNDERLAY_MTU}\n[overlay]\nvnis = [{VNI}, {ISOLATION_VNI}]\n"
                    + (f"fdb_size = {fdb_size}\n" if fdb_size else ""))
        with open(self.config_path(h), "w") as f:
            f.write(text)

    def daemon_argv(self, h: str) -> list[str]:
        if self.config_files:
            if not os.path.exists(self.config_path(h)):
                self.write_config(h)
            underlay = ["--config", self.config_path(h)]
        else:
            underlay = ["--local", self.underlay_addr(h), "--peer", self.underlay_addr(other(h)),
                        "--vni", str(VNI), "--vni", str(ISOLATION_VNI),
                        "--underlay-mtu", str(UNDERLAY_MTU)]
        if self.topology in ESP_TOPOLOGIES:
            if not os.path.exists(self.esp_keyfile(h)):
                self.write_esp_keys()
            underlay += ["--encrypt", self.esp_keyfile(h)]
        return [os.path.abspath(self.mflowd), "--mode", self.mode_of(h),
                "--workers", str(self.workers)] + underlay + [
                "--control", self.sock(h),
                "--port", f"name=mf0,netns=/var/run/netns/{container_ns(h)},vni={VNI},"
                          f"address={CONTAINER_ADDR[h]}/{PREFIXLEN}"
                          + (f",address={CONTAINER_ADDR6[h]}/{INNER_PREFIXLEN6}"
                             if self.inner_ipv6 else "")] + [
                *self.mflowd_args, *self.host_args.get(h, [])]

    def sock(self, h: str) -> str:
        return f"{CONTROL_DIR}/{host_ns(h)}.sock"

    def _start_mflowd(self, h: str, keep_socket: bool = False) -> None:
        """Starts mflowd on host h. keep_socket: leave a stale control socket in place (as a
        crashed daemon leaves it), for the new daemon to deal with."""
        os.makedirs(CONTROL_DIR, exist_ok=True)
        try:
            if not keep_socket:
                os.unlink(self.sock(h))
        except FileNotFoundError:
            pass
        argv = self.daemon_argv(h)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = os.path.join(self.log_dir, f"{PREFIX}{self.topology}-{h}-{stamp}.log")
        extra = self.daemon_env.get(h) or {}
        lf = open(log_path, "w")
        lf.write(f"# {''.join(f'{k}={shlex.quote(v)} ' for k, v in extra.items())}"
                 f"ip netns exec {host_ns(h)} {shlex.join(argv)}\n")
        lf.flush()
        p = spawn(argv, ns=host_ns(h), stdout=lf, stderr=subprocess.STDOUT,
                  env=dict(os.environ, **extra) if extra else None)
        self.daemons[h] = Daemon(h, p, self.sock(h), log_path, lf, argv)

    def restart_mflowd(self, h: str, sig: int = signal.SIGTERM) -> int | None:
        """Stops host h's mflowd with sig (SIGKILL: as a crash, leaving its control socket)
        and starts it again with the same settings; returns the old one's exit code."""
        d = self.daemons[h]
        rc = stop(d.proc, sig=sig, grace=10.0)
        if not d.log_file.closed:
            d.log_file.close()
        self._start_mflowd(h, keep_socket=sig == signal.SIGKILL)
        self._wait_ready(h)
        return rc

    def _wait_ready(self, h: str) -> None:
        d = self.daemons[h]
        deadline = time.monotonic() + self.ready_timeout
        last = ""
        while time.monotonic() < deadline:
            if d.proc.poll() is not None:
                raise TestbedError(f"mflowd on host {h} exited with {d.proc.returncode} "
                                   f"during start-up; log {d.log_path}:\n{self.log_tail(h)}")
            cp = run([self.mflowctl, "--socket", d.sock, "status"], check=False, timeout=5)
            if cp.returncode == 0:
                return
            last = (cp.stderr or cp.stdout).strip()
            time.sleep(0.1)
        raise TestbedError(f"mflowd on host {h} not ready after {self.ready_timeout}s "
                           f"(mflowctl status: {last}); log {d.log_path}:\n{self.log_tail(h)}")

    def log_tail(self, h: str, lines: int = 20) -> str:
        d = self.daemons.get(h)
        if not d:
            return ""
        try:
            if not d.log_file.closed:
                d.log_file.flush()
            with open(d.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- offloads
    def _features(self, h: str) -> dict[str, tuple[bool, bool]]:
        """feature -> (on, fixed) of the underlay device of host h."""
        cp = run(["ethtool", "-k", UNDERLAY_DEV[h]], ns=host_ns(h), timeout=10)
        feats = {}
        for line in cp.stdout.splitlines()[1:]:
            m = re.match(r"\s*([\w-]+):\s+(on|off)(\s+\[fixed\])?", line)
            if m:
                feats[m.group(1)] = (m.group(2) == "on", bool(m.group(3)))
        return feats

    def underlay_overrides(self, h: str) -> dict[str, bool]:
        """Features forced on host h's underlay device whatever the offload mode.

        A veth hands a CHECKSUM_PARTIAL packet to its peer without ever computing the checksum
        (the receiving kernel trusts it); a NIC computes it in hardware before the wire. A
        kernel VXLAN host sending to mflowd therefore has to compute its inner checksums in
        software, or mflowd, reading the VXLAN payload from a UDP socket, sees inner TCP/UDP
        checksums that were never filled in (and rightly drops them)."""
        if self.topology == "mixed" and not self.uses_mflow(h):
            return {"tx-checksum-ip-generic": False}
        return {}

    def set_offloads(self, mode: str) -> None:
        """on: the veth defaults; off: no segmentation/coalescing on the underlay (a wire)."""
        if mode not in ("on", "off"):
            raise TestbedError(f"offloads must be on or off, not {mode}")
        for h in HOSTS:
            current = self._features(h)
            default = self._default_features[h]
            forced = self.underlay_overrides(h)
            offs, ons = [], []
            for feat, (on, fixed) in current.items():
                if fixed:
                    continue
                want = default.get(feat, (on, False))[0]
                if mode == "off" and feat in OFFLOAD_OFF_FEATURES:
                    want = False
                want = forced.get(feat, want)
                if want != on:
                    (ons if want else offs).append(feat)
            # One feature per call (some cascade, e.g. no tx checksum -> no TSO; a refused one
            # must not stop the others); switch off first, then on.
            for feat, val in [(f, "off") for f in offs] + [(f, "on") for f in ons]:
                run(["ethtool", "-K", UNDERLAY_DEV[h], feat, val], ns=host_ns(h), check=False,
                    timeout=10)
            after = self._features(h)
            if mode == "off":
                left = [f for f, (on, fixed) in after.items()
                        if on and not fixed and f in OFFLOAD_OFF_FEATURES]
                if left:
                    raise TestbedError(f"could not switch off {left} on {UNDERLAY_DEV[h]}")
            wrong = [f for f, v in forced.items() if f in after and after[f][0] != v]
            if wrong:
                raise TestbedError(f"could not set {wrong} on {UNDERLAY_DEV[h]}")
        self.offloads = mode

    def underlay_features(self) -> dict[str, list[str]]:
        """The segmentation/checksum features that are on, per host (for the records)."""
        keep = set(OFFLOAD_OFF_FEATURES) | {"tx-checksum-ip-generic", "rx-checksumming"}
        return {h: sorted(f for f, (on, fixed) in self._features(h).items()
                          if on and not fixed and f in keep) for h in HOSTS}

    # -- mflow daemons
    def daemon_pids(self) -> list[int]:
        return [d.proc.pid for d in self.daemons.values() if d.proc.poll() is None]

    def daemons_cpu_seconds(self) -> float | None:
        """CPU time of the overlay's daemons: mflowd, or the tunnel daemons."""
        procs = [d.proc for d in self.daemons.values()] + [t.proc for t in self.tunnels]
        if not procs:
            return None
        total = 0.0
        for p in procs:
            s = proc_cpu_seconds(p.pid)
            if s is None:
                return None
            total += s
        return total

    def mflow_stats(self, h: str) -> dict:
        d = self.daemons[h]
        cp = run([self.mflowctl, "--socket", d.sock, "--json", "stats"], timeout=10)
        return json.loads(cp.stdout)

    MFLOW_COUNTERS = ("out_of_order", "drops", "elephants", "released_microflows",
                      "released_packets")

    def mflow_counters(self, host: str | None = None) -> dict[str, int] | None:
        """Sums over engines (and hosts, or one host) of mflowd's order/drop counters from
        `mflowctl --json stats`; None without mflowd. A reply without engines or without an
        out_of_order field is an error, not a zero. copied_bytes: bytes the daemons copied, by
        the kernel at their ports and by themselves (each engine's "copies", docs/COPIES.md);
        None when a daemon does not count them."""
        if not self.daemons:
            return None
        total = dict.fromkeys(self.MFLOW_COUNTERS, 0)
        total["copied_bytes"] = 0
        for h in ([host] if host else list(self.daemons)):
            st = self.mflow_stats(h)
            engines = st.get("engines")
            if not st.get("ok", False) or not engines:
                raise TestbedError(f"mflowctl --json stats on host {h}: unexpected reply {st}")
            for e in engines:
                if "out_of_order" not in e:
                    raise TestbedError(f"mflowctl --json stats on host {h}: engine without "
                                       f"out_of_order: {e}")
                for k in self.MFLOW_COUNTERS:
                    total[k] += int(e.get(k, 0))
                c = e.get("copies")
                total["copied_bytes"] = (None if c is None or total["copied_bytes"] is None else
                                         total["copied_bytes"] + int(c.get("kernel_bytes", 0))
                                         + int(c.get("user_bytes", 0)))
        return total

    def mflow_out_of_order(self) -> int | None:
        """Sum of out_of_order over engines and hosts (None without mflowd)."""
        c = self.mflow_counters()
        return None if c is None else c["out_of_order"]

    def check_daemons_alive(self) -> None:
        for h, d in self.daemons.items():
            if d.proc.poll() is not None:
                raise TestbedError(f"mflowd on host {h} died with {d.proc.returncode}; "
                                   f"log {d.log_path}:\n{self.log_tail(h)}")
        for t in self.tunnels:
            if t.proc.poll() is not None:
                raise TestbedError(f"{t.name} on host {t.host} died with {t.proc.returncode}; "
                                   f"log {t.log_path}")

    def stop_daemons(self, grace: float = 10.0) -> dict[str, int | None]:
        """SIGTERM to each mflowd (by PID), bounded wait (then SIGKILL); returns the exit codes
        (negative: killed by that signal) and sets each Daemon's stop_seconds."""
        t0 = time.monotonic()
        for d in self.daemons.values():
            if d.proc.poll() is None:
                try:
                    os.kill(d.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        pending = [d for d in self.daemons.values() if d.exit_code is None]
        while pending and time.monotonic() - t0 < grace:
            for d in list(pending):
                if d.proc.poll() is not None:
                    d.stop_seconds = round(time.monotonic() - t0, 2)
                    pending.remove(d)
            time.sleep(0.02)
        codes = {}
        for h, d in self.daemons.items():
            if d.exit_code is None:
                if d.stop_seconds is None:
                    d.stop_seconds = round(time.monotonic() - t0, 2)
                if d.proc.poll() is None:
                    d.hang_report = thread_report(d.proc.pid)
                    try:
                        if not d.log_file.closed:
                            d.log_file.write(f"# still running {grace:g} s after SIGTERM; threads "
                                             f"(tid comm state wchan / kernel stack):\n"
                                             + d.hang_report)
                            d.log_file.flush()
                    except OSError:
                        pass
                d.exit_code = stop(d.proc, signal.SIGKILL, 5)
                try:
                    d.log_file.close()
                except OSError:
                    pass
            codes[h] = d.exit_code
        return codes

    # -- teardown
    def down(self) -> None:
        self.stop_daemons()
        if self.tunnels or self.tunnel_dir:
            import tunnels  # here, not at the top: tunnels imports this module
            tunnels.down(self)
        stop_all_started()
        names = [n for n in self.namespaces if n in set(list_our_netns())]
        delete_netns(names)
        for h in HOSTS:
            try:
                os.unlink(self.sock(h))
            except OSError:
                pass
            for ns in (host_ns(h), container_ns(h)):
                try:
                    os.unlink(f"/tmp/{PREFIX}nstat.{ns}")
                except OSError:
                    pass
        self.namespaces = []

"""Application tests of the testbed: request/response servers in container B, their load
generators in container A, on every topology (the same endpoints as iperf3 and sockperf).

    redis      redis-server; redis-benchmark, 50 clients, 32 B values: SET (redis-set) and GET
               of a key set beforehand (redis-get), each its own run: requests/s, p50 / p99
    http       nginx serving a 4 KiB file (its own config, prefix and temp paths, no system
               service); wrk, 64 connections, one thread per core: requests/s, p50 / p99
    memcached  memcached; memcache_load.py (ours: memcslap prints no latency percentiles and
               has no time bound), 50 clients, 32 B values: SET (memcached-set) and GET of keys
               set beforehand (memcached-get): requests/s, p50 / p99

The servers are the Debian packages' binaries started by the testbed in the server's namespace,
on the testbed's own ports (19160-19162) and with configs in a temporary directory named with
the testbed's prefix; they are stopped by PID after each measurement. A Debian service of the
same package (if one runs) lives in the root namespace and is neither used nor touched.

Each measurement counts requests, so the CPU figures are per request: the machine's busy
CPU-microseconds per request and the overlay daemons' (mflowd, wireguard-go, nebula).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import topo
from topo import TestbedError, run, spawn, stop

# What a user names with --tests, and the records each gives.
TESTS = {"redis": ("redis-set", "redis-get"), "http": ("http",),
         "memcached": ("memcached-set", "memcached-get")}
SUBTESTS = tuple(x for xs in TESTS.values() for x in xs)
REDIS_PORT = 19160
HTTP_PORT = 19161
MEMCACHED_PORT = 19162
CLIENTS = 50         # redis-benchmark and memcache_load.py clients (redis-benchmark's default)
HTTP_CONNECTIONS = 64
VALUE_SIZE = 32      # bytes per SET value (redis-benchmark -d, memcache_load.py --value-size)
HTTP_FILE_SIZE = 4096
MEMCACHE_LOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memcache_load.py")
TOOLS = {"redis": ["redis-server", "redis-benchmark", "redis-cli"], "http": ["nginx", "wrk", "curl"],
         "memcached": ["memcached"]}


def expand(tests: list[str]) -> list[str]:
    """--tests with application names replaced by their records (redis -> redis-set, redis-get)."""
    out = []
    for t in tests:
        for x in TESTS.get(t, (t,)):
            if x not in out:
                out.append(x)
    return out


def tools_needed(tests: list[str]) -> list[str]:
    return sorted({tool for app, subs in TESTS.items() if set(subs) & set(tests)
                   for tool in TOOLS[app]})


def run_test(tb, ep, test: str, dur: float, sample_cls, sample_fields) -> dict:
    """One application measurement. sample_cls(tb, ep) is the testbed's counter context (CPU,
    daemons, nstat), sample_fields(sample, nbytes) its per-record fields."""
    work = tempfile.mkdtemp(prefix=f"{topo.PREFIX}apps-", dir="/tmp")
    try:
        os.chmod(work, 0o755)  # nginx's workers (user nobody) read the file served from here
        if test.startswith("redis-"):
            res, sample = _redis(tb, ep, test.split("-")[1], dur, work, sample_cls)
        elif test == "http":
            res, sample = _http(tb, ep, dur, work, sample_cls)
        elif test.startswith("memcached-"):
            res, sample = _memcached(tb, ep, test.split("-")[1], dur, work, sample_cls)
        else:
            raise TestbedError(f"unknown application test {test}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.update(sample_fields(sample, res.get("bytes")))
    n = res.get("requests") or 0
    res["cpu_us_per_req"] = round(sample["cpu_s"] / n * 1e6, 2) if n else None
    res["daemon_us_per_req"] = (round(sample["mflowd_cpu_s"] / n * 1e6, 2)
                                if n and sample["mflowd_cpu_s"] is not None else None)
    res["gbps"] = None
    res["wall_s"] = round(sample["wall_s"], 3)
    return res


def _server(ns: str, argv: list[str], port: int, work: str, name: str) -> subprocess.Popen:
    """Starts a server in ns with its output in a file (a pipe nobody reads could fill)."""
    out = open(os.path.join(work, f"{name}.out"), "w")
    try:
        p = spawn(argv, ns=ns, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()
    try:
        topo.wait_listening(ns, port, "tcp", timeout=10, proc=p)
    except TestbedError as e:
        stop(p)
        try:
            with open(os.path.join(work, f"{name}.out"), errors="replace") as f:
                tail = f.read()[-400:]
        except OSError:
            tail = ""
        raise TestbedError(f"{name} did not start ({e}): {tail.strip()}")
    return p


def _stop_server(p: subprocess.Popen, name: str) -> None:
    rc = stop(p, signal.SIGTERM, 5)
    if rc not in (0, -signal.SIGTERM):
        topo.log(f"apps: {name} exited with {rc} after SIGTERM")


# -- redis


def _redis_bench(ep, op: str, n: int, timeout: float) -> dict:
    cp = run(["redis-benchmark", "-h", ep.server_addr, "-p", str(REDIS_PORT), "-c", str(CLIENTS),
              "-n", str(n), "-d", str(VALUE_SIZE), "-t", op, "--csv"], ns=ep.client_ns,
             timeout=timeout, check=False)
    rows = list(csv.DictReader(io.StringIO(cp.stdout)))
    if cp.returncode != 0 or not rows or "rps" not in rows[0]:
        raise TestbedError(f"redis-benchmark failed ({cp.returncode}): "
                           f"{(cp.stderr or cp.stdout).strip()[-300:]}")
    return rows[0]


def _redis(tb, ep, op: str, dur: float, work: str, sample_cls):
    server = _server(ep.server_ns, ["redis-server", "--bind", ep.server_addr, "--port",
                                    str(REDIS_PORT), "--save", "", "--appendonly", "no",
                                    "--protected-mode", "no", "--daemonize", "no", "--dir", work,
                                    "--logfile", ""], REDIS_PORT, work, "redis-server")
    try:
        if op == "get":  # redis-benchmark GETs the literal key "key:__rand_int__" (no -r)
            run(["redis-cli", "-h", ep.server_addr, "-p", str(REDIS_PORT), "set",
                 "key:__rand_int__", "x" * VALUE_SIZE], ns=ep.client_ns, timeout=10)
        # redis-benchmark counts requests, not seconds: a short run gives the rate, and the
        # measured run asks for about `dur` seconds of it.
        calib = _redis_bench(ep, op, 5000, 60)
        n = max(5000, int(float(calib["rps"]) * dur))
        with sample_cls(tb, ep) as s:
            row = _redis_bench(ep, op, n, dur * 5 + 30)
            sample = s.finish()
    finally:
        _stop_server(server, "redis-server")
    res = {"rps": float(row["rps"]), "requests": n, "request_errors": 0,
           "p50_us": round(float(row["p50_latency_ms"]) * 1e3, 1),
           "p99_us": round(float(row["p99_latency_ms"]) * 1e3, 1),
           "avg_us": round(float(row["avg_latency_ms"]) * 1e3, 1),
           "clients": CLIENTS, "latency_kind": "request"}
    return res, sample


# -- http


NGINX_CONF = """\
# Written by the mflow testbed; everything below {work}.
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen {addr}:{port};
        root {work}/www;
    }}
}}
"""


_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def _wrk_time_us(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise TestbedError(f"wrk: unreadable time {text!r}")
    return round(float(m.group(1)) * _UNIT_US[m.group(2)], 1)


def parse_wrk(text: str) -> dict:
    """requests/s, request count, bytes, latency percentiles (us) and errors from wrk --latency."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+)(B|KB|MB|GB) read", text)
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M))
    if not rps or not total or "50" not in pct or "99" not in pct:
        raise TestbedError(f"wrk: no result in {text.strip()[-300:]!r}")
    scale = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[total.group(4)]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)),
            "bytes": int(float(total.group(3)) * scale),
            "p50_us": _wrk_time_us(pct["50"]), "p90_us": _wrk_time_us(pct.get("90", pct["50"])),
            "p99_us": _wrk_time_us(pct["99"]),
            "request_errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def _http(tb, ep, dur: float, work: str, sample_cls):
    www = os.path.join(work, "www")
    os.makedirs(www)
    os.chmod(www, 0o755)
    with open(os.path.join(www, "4k.bin"), "wb") as f:
        f.write(os.urandom(HTTP_FILE_SIZE))
    os.chmod(os.path.join(www, "4k.bin"), 0o644)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work, addr=ep.server_addr, port=HTTP_PORT))
    # -e: the error log before the config is read (else the system's /var/log/nginx);
    # daemon off: the PID we hold is the master's, which stops its workers on SIGTERM.
    server = _server(ep.server_ns, ["nginx", "-p", work, "-c", conf, "-e", f"{work}/error.log",
                                    "-g", "daemon off;"], HTTP_PORT, work, "nginx")
    url = f"http://{ep.server_addr}:{HTTP_PORT}/4k.bin"
    try:
        cp = run(["curl", "-sf", "-o", "/dev/null", "-w", "%{size_download}", url],
                 ns=ep.client_ns, timeout=10, check=False)
        if cp.stdout.strip() != str(HTTP_FILE_SIZE):
            raise TestbedError(f"nginx: GET {url} gave {cp.stdout.strip() or cp.returncode}, "
                               f"not {HTTP_FILE_SIZE} bytes")
        threads = min(os.cpu_count() or 1, HTTP_CONNECTIONS)
        with sample_cls(tb, ep) as s:
            cp = run(["wrk", "-t", str(threads), "-c", str(HTTP_CONNECTIONS), "-d",
                      f"{max(1, int(round(dur)))}s", "--latency", "--timeout", "5s", url],
                     ns=ep.client_ns, timeout=dur + 30, check=False)
            sample = s.finish()
    finally:
        _stop_server(server, "nginx")
    if cp.returncode != 0:
        raise TestbedError(f"wrk failed ({cp.returncode}): {(cp.stderr or cp.stdout)[-300:]}")
    res = parse_wrk(cp.stdout)
    res.update(connections=HTTP_CONNECTIONS, threads=threads, latency_kind="request")
    return res, sample


# -- memcached


def _memcached(tb, ep, op: str, dur: float, work: str, sample_cls):
    # -U 0: no UDP; -u nobody: memcached refuses to run as root without a user to switch to.
    server = _server(ep.server_ns, ["memcached", "-l", ep.server_addr, "-p", str(MEMCACHED_PORT),
                                    "-U", "0", "-u", "nobody", "-m", "64", "-c", "1024"],
                     MEMCACHED_PORT, work, "memcached")
    try:
        with sample_cls(tb, ep) as s:
            cp = run([sys.executable, MEMCACHE_LOAD, "--server", ep.server_addr, "--port",
                      str(MEMCACHED_PORT), "--op", op, "--clients", str(CLIENTS), "--duration",
                      str(dur), "--value-size", str(VALUE_SIZE)], ns=ep.client_ns,
                     timeout=dur + 60, check=False)
            sample = s.finish()
    finally:
        _stop_server(server, "memcached")
    try:
        out = json.loads(cp.stdout)
    except ValueError:
        raise TestbedError(f"memcache_load.py failed ({cp.returncode}): "
                           f"{(cp.stderr or cp.stdout).strip()[-300:]}")
    if "error" in out:
        raise TestbedError(f"memcache_load.py: {out['error']}")
    res = {k: out[k] for k in ("rps", "requests", "p50_us", "p99_us", "avg_us")}
    res["request_errors"] = out["errors"]
    res.update(clients=CLIENTS, latency_kind="request")
    return res, sample


# -- the table


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def print_table(records: list[dict], out=sys.stdout) -> None:
    """The application records: requests/s, ratio to the kernel overlay, latency, CPU per
    request."""
    rows = [r for r in records if r["test"] in SUBTESTS]
    if not rows:
        return
    print("\nApplications, container A (client) to container B (server):", file=out)
    hdr = (f"{'topology':<20} {'offl':<4} {'test':<13}| {'k req/s':>7} {'[min..max]':<15}|"
           f" {'x kernel':>8} {'[min..max]':<12}| {'p50/p99 us':>15} | {'err':>4} |"
           f" {'CPU us/req':>10} {'daemons':>7}")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        head = f"{r['topology']:<20} {r['offloads']:<4} {r['test']:<13}|"
        if not r["repeats"]:
            err = (r["errors"] or ["no result"])[0].splitlines()[0][:90]
            print(f"{head} FAILED: {err}", file=out)
            continue
        g = (f"{r['rps'] / 1e3:7.1f} [{r['rps_min'] / 1e3:5.1f}..{r['rps_max'] / 1e3:5.1f}]"
             if r.get("rps") is not None else "")
        rk = r.get("ratio_vs_kernel")
        rs = f"{rk['median']:8.2f} [{rk['min']:4.2f}..{rk['max']:4.2f}]" if rk else ""
        lat = (f"{r['p50_us']:7.1f}/{r['p99_us']:7.1f}" if r.get("p50_us") is not None else "")
        print(f"{head} {g:<23}| {rs:<21}| {lat:>15} | {fmt(r.get('app_errors'), '4.0f'):>4} |"
              f" {fmt(r.get('cpu_us_per_req'), '10.1f'):>10}"
              f" {fmt(r.get('daemon_us_per_req'), '7.1f'):>7}", file=out)
    print(f"k req/s: thousand requests/s, median [min..max] over repeats; x kernel: the same "
          f"ratio to `kernel`, taken within each round.\np50/p99: request latency as the load "
          f"generator measures it (redis-benchmark, wrk, memcache_load.py; {CLIENTS} clients, "
          f"{HTTP_CONNECTIONS} for http); err: failed requests (median).\nCPU us/req: busy "
          f"CPU-microseconds of the whole machine per request; daemons: the overlay daemons' "
          f"(mflowd, wireguard-go, nebula).", file=out)

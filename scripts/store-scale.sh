#!/usr/bin/env bash
# Scale of the store, by simulation (a benchmark, not a test): N fake host records in etcd and one
# real mflowd. Measures (1) the time mflowd takes from start to a table holding all N hosts read
# by its first listing, (2) its RSS then, (3) the rate at which it applies watch events: N more
# records are written one by one while mflowd is stopped (SIGSTOP), and the time from SIGCONT
# until its table holds them all is the backlog's (the writer's own rate is printed beside it). Prints one line per N; BENCHMARKS.md has the figures.
#   bash scripts/store-scale.sh [--build-dir DIR] [--hosts 1000,10000]
# Needs root, etcd. Creates only the namespace mfm-scale and a temp dir /tmp/mfm-scale.*;
# everything it started is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
COUNTS=1000,10000
while (($#)); do
  case $1 in
    --build-dir) BUILD=$2; shift 2 ;;
    --hosts) COUNTS=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "store-scale: unknown argument $1" >&2; exit 2 ;;
  esac
done
MFLOWD=$PWD/$BUILD/src/daemon/mflowd
MFLOWCTL=$PWD/$BUILD/src/control/mflowctl
[[ -x $MFLOWD && -x $MFLOWCTL ]] || { echo "store-scale: build mflowd and mflowctl first" >&2; exit 1; }

NS=mfm-scale
TMP=$(mktemp -d /tmp/mfm-scale.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  ip netns del $NS 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add $NS
ip -n $NS link set lo up
ip -n $NS link add ul type veth peer name ul-peer
ip -n $NS addr add 198.18.255.254/16 dev ul
ip -n $NS link set ul up && ip -n $NS link set ul-peer up
EP=http://127.0.0.1:22379

# writer.py PUT|COUNT FIRST N: records for fake hosts FIRST..FIRST+N-1 over one keep-alive
# connection to the JSON gateway; prints the writer's rate.
cat >"$TMP/writer.py" <<'EOF'
import base64, http.client, json, sys, time
first, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", 22379)
b64 = lambda s: base64.b64encode(s.encode()).decode()
t0 = time.monotonic()
for i in range(first, first + n):
    net = "10.%d.%d.0" % (i >> 8, i & 255)
    ul = "198.18.%d.%d" % ((i + 1) >> 8, (i + 1) & 255)  # distinct, never the local .255.254
    rec = {"host_id": "sim-%d" % i, "subnet": net + "/24", "underlay": [ul],
           "vtep_mac": "02:00:00:%02x:%02x:01" % (i >> 8, i & 255), "port": 4789,
           "version": "0.1.0", "mode": "microflow"}
    body = json.dumps({"key": b64("/mflow/network/subnets/%s-24" % net), "value": b64(json.dumps(rec))})
    c.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit("put %d: HTTP %d" % (i, r.status))
print("%.0f" % (n / (time.monotonic() - t0)))
EOF

# A field of status's store section (not `store`: its host list would cost mflowd more than the
# events being measured).
store_field() { "$MFLOWCTL" --socket "$TMP/h.sock" --json status 2>/dev/null |
  python3 -c "import json,sys; j=json.load(sys.stdin)['store']; print($1)" 2>/dev/null || echo -1; }
now() { date +%s.%N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime

printf '%-7s %-14s %-10s %-16s %-14s %-12s %-14s %-14s %s\n' hosts list_converge_s rss_mib watch_events/s writer_puts/s backlog_s cpu_us/event rss_after_mib port_peers
for N in ${COUNTS//,/ }; do
  rm -rf "$TMP/etcd"
  ip netns exec $NS etcd --data-dir "$TMP/etcd" --listen-client-urls $EP --advertise-client-urls $EP \
    --listen-peer-urls http://127.0.0.1:22380 --initial-advertise-peer-urls http://127.0.0.1:22380 \
    --initial-cluster default=http://127.0.0.1:22380 --quota-backend-bytes 2147483648 >"$TMP/etcd.log" 2>&1 &
  etcd_pid=$!
  PIDS+=("$etcd_pid")
  for _ in $(seq 100); do
    ip netns exec $NS env ETCDCTL_API=3 etcdctl --endpoints $EP endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  ip netns exec $NS env ETCDCTL_API=3 etcdctl --endpoints $EP put /mflow/network/config \
    '{"network":"10.0.0.0/8","subnet_len":24,"vni":42}' >/dev/null
  ip netns exec $NS python3 "$TMP/writer.py" 0 "$N" >/dev/null

  # (1) start -> a table of N + 1 hosts from the first listing
  t0=$(now)
  ip netns exec $NS "$MFLOWD" --local 198.18.255.254 --control "$TMP/h.sock" --workers 1 \
    --etcd-endpoints $EP --host-id scale-host --subnet-lease-ttl 300 --log-level warn >"$TMP/mflowd.log" 2>&1 &
  d_pid=$!
  PIDS+=("$d_pid")
  until [[ $(store_field "j['peers']") == $((N + 1)) ]]; do sleep 0.05; done
  t_list=$(python3 -c "print('%.2f' % ($(now) - $t0))")
  rss1=$(rss_kb "$d_pid")

  # (3) N more records through the watch, written while mflowd is stopped (SIGSTOP) so that
  # they reach it as one backlog: the time from SIGCONT to the full table is its own apply rate.
  ev0=$(store_field "j['events']")
  cpu0=$(cpu_ticks "$d_pid")
  kill -STOP "$d_pid"
  w_rate=$(ip netns exec $NS python3 "$TMP/writer.py" "$N" "$N")
  t0=$(now)
  [[ -n ${MFM_PERF:-} ]] && { perf record -g -o "$MFM_PERF.$N" -p "$d_pid" 2>/dev/null & perf_pid=$!; sleep 0.5; }
  kill -CONT "$d_pid"
  until [[ $(store_field "j['peers']") == $((2 * N + 1)) ]]; do sleep 0.05; done
  t1=$(now)
  ev1=$(store_field "j['events']")
  cpu1=$(cpu_ticks "$d_pid")
  [[ -n ${MFM_PERF:-} ]] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; }
  rate=$(python3 -c "print('%.0f' % (($ev1 - $ev0) / ($t1 - $t0)))")
  lag=$(python3 -c "print('%.2f' % ($t1 - $t0))")
  # mflowd's own CPU per event (the status polls included): what the wall-clock rate hides when
  # etcd's delivery of the backlog, not mflowd, sets the pace.
  cpu_us=$(python3 -c "print('%.0f' % (($cpu1 - $cpu0) / $(getconf CLK_TCK) * 1e6 / max(1, $ev1 - $ev0)))")
  rss2=$(rss_kb "$d_pid")
  # The UDP port's live peers once the data path took the table (updates are batched every
  # 20 ms): every host's underlay address, so every host is reachable.
  sleep 0.2
  port_peers=$("$MFLOWCTL" --socket "$TMP/h.sock" --json status 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['peers'])" 2>/dev/null || echo -1)
  printf '%-7s %-14s %-10s %-16s %-14s %-12s %-14s %-14s %s\n' "$N" "$t_list" "$((rss1 / 1024))" "$rate" "$w_rate" "$lag" "$cpu_us" "$((rss2 / 1024))" "$port_peers"
  grep -m1 "UDP port refused" "$TMP/mflowd.log" | sed 's/^/  note: /' || true

  kill "$d_pid"; wait "$d_pid" 2>/dev/null || true
  kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true
done

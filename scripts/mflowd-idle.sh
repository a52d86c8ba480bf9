#!/usr/bin/env bash
# The idle cost of mflowd: one daemon with one container port, no traffic,
# for SECONDS (default 60); prints the CPU it used as a share of one core,
# from /proc/PID/stat (user + system time, the kernel's own accounting), and
# how many times its threads were woken (voluntary context switches).
#   bash scripts/mflowd-idle.sh [SECONDS] [--build-dir DIR] [mflowd flags...]
# Needs root; creates the namespaces mfi-host and mfi-c1 (198.18.0.0/15) and
# removes them, and the daemon, on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=60
build=build
extra=()
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    [0-9]*) secs=$1; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
[[ -x $build/src/daemon/mflowd ]] || { echo "mflowd-idle: no $build/src/daemon/mflowd (build first: scripts/setup.sh $build)" >&2; exit 2; }

pid=""
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  ip netns del mfi-c1 2>/dev/null || true
  ip netns del mfi-host 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
ip netns add mfi-host
ip netns add mfi-c1
ip -n mfi-host link add u0 type veth peer name u1
ip -n mfi-host addr add 198.18.0.1/24 dev u0
ip -n mfi-host link set u0 up
ip -n mfi-host link set u1 up

log=$(mktemp)
ip netns exec mfi-host "$build/src/daemon/mflowd" --local 198.18.0.1 --peer 198.18.0.2 \
  --control /run/mflow/mfi-host.sock \
  --port name=mf0,netns=/var/run/netns/mfi-c1,vni=42,address=198.19.0.1/24 \
  "${extra[@]}" 2>"$log" &
pid=$!
for _ in $(seq 50); do
  "$build/src/control/mflowctl" --socket /run/mflow/mfi-host.sock status >/dev/null 2>&1 && break
  sleep 0.1
done
"$build/src/control/mflowctl" --socket /run/mflow/mfi-host.sock status >/dev/null || { cat "$log"; exit 1; }
# The container's own start-up chatter (IPv6 DAD, router solicitation)
# settles first.
sleep 3

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
wakeups() { cat /proc/"$pid"/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}'; }
hz=$(getconf CLK_TCK)
t0=$(ticks); w0=$(wakeups); s0=$(date +%s%N)
sleep "$secs"
t1=$(ticks); w1=$(wakeups); s1=$(date +%s%N)
awk -v t=$((t1 - t0)) -v hz="$hz" -v ns=$((s1 - s0)) -v w=$((w1 - w0)) 'BEGIN {
  wall = ns / 1e9
  printf "mflowd idle for %.1f s: %.3f CPU-seconds = %.3f %% of one core, %d wake-ups (%.1f/s)\n",
         wall, t / hz, 100 * t / hz / wall, w, w / wall
}'
rm -f "$log"

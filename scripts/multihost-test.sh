#!/usr/bin/env bash
# Many hosts on etcd (issue 18, docs/STORE.md), end to end in network namespaces, a few minutes.
# One underlay segment (a bridge, 198.18.1.0/24); hosts h1..h5 each run mflowd with the store on,
# two containers each (namespaces with ports added over the control socket, addresses from the
# subnet the host claimed); etcd once as a single member, then as a 3-member cluster. Checks:
#   single member: every pair of containers pings and a TCP flow crosses; h5 added at run time
#   becomes reachable from all, and again after a reload moves it to another underlay address
#   (its record in etcd follows); h3 SIGKILLed leaves every peer table once its lease expires and
#   comes back with the same subnet and VTEP MAC; etcd stopped under traffic: traffic goes on and
#   nothing is removed; etcd back: every host's watch resumes (no restart); one host cut from etcd
#   while history is compacted converges by re-listing; malformed records written with etcdctl
#   are refused and counted on every host and working peers stay;
#   3-member cluster: one member SIGKILLed under traffic: no loss, every host stays on the watch.
#   bash scripts/multihost-test.sh [--build-dir DIR]
# Needs root, etcd and etcdctl (etcd-server, etcd-client), iperf3, iptables. Creates only
# namespaces named mfm-mh-* and a temp dir /tmp/mfm-multihost.*; stops every process it started by
# PID and removes all of them on any exit. Uses an existing build (does not build).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
while (($#)); do
  case $1 in
    --build-dir) BUILD=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "multihost-test: unknown argument $1" >&2; exit 2 ;;
  esac
done
MFLOWD=$PWD/$BUILD/src/daemon/mflowd
MFLOWCTL=$PWD/$BUILD/src/control/mflowctl
for b in "$MFLOWD" "$MFLOWCTL"; do
  [[ -x $b ]] || { echo "multihost-test: $b is missing (build it first)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "multihost-test: needs root (network namespaces)" >&2; exit 1; }
for t in etcd etcdctl iperf3 iptables ss; do
  command -v $t >/dev/null || { echo "multihost-test: $t is missing (scripts/setup.sh)" >&2; exit 1; }
done

NS=mfm-mh
UL=$NS-ul                    # the underlay segment: bridge br0, etcdctl runs here (198.18.1.254)
TTL=5                        # subnet lease: a dead host leaves after TTL + the bound below
REMOVAL_LIMIT=$((TTL + 10))  # what the test waits for a removal at most (docs/STORE.md states TTL + 2 s)
TMP=$(mktemp -d /tmp/mfm-multihost.XXXXXX)
declare -A DPID EPID          # mflowd and etcd PIDs by host / member
OTHER_PIDS=()
HOSTS=()

log() { printf '[multihost %s] %s\n' "$(date +%T)" "$*"; }
# To stderr: fail may run inside $(...), whose output is captured.
fail() {
  {
    log "FAIL: $*"
    for h in "${!DPID[@]}"; do
      [[ -f $TMP/$h.log ]] && { echo "--- $h log (tail)"; tail -n 15 "$TMP/$h.log"; }
    done
  } >&2
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  for p in "${OTHER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for h in "${!DPID[@]}"; do kill "${DPID[$h]}" 2>/dev/null; done
  for m in "${!EPID[@]}"; do kill "${EPID[$m]}" 2>/dev/null; done
  for p in "${OTHER_PIDS[@]}" "${DPID[@]}" "${EPID[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for n in $(ip netns list | awk '{print $1}' | grep "^$NS-"); do ip netns del "$n"; done
  # MFM_KEEP_LOGS=DIR keeps the daemons' and etcd's logs for a post-mortem.
  [[ -n ${MFM_KEEP_LOGS:-} ]] && mkdir -p "$MFM_KEEP_LOGS" && cp "$TMP"/*.log "$MFM_KEEP_LOGS"/
  rm -rf "$TMP"
  ((rc == 0)) && log "PASS" || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the underlay --------------------------------------------------------------------------------

ip netns add $UL
ip -n $UL link set lo up
ip -n $UL link add br0 type bridge
ip -n $UL link set br0 up
ip -n $UL addr add 198.18.1.254/24 dev br0

# attach NAME ADDRESS: a namespace on the segment.
attach() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n $UL link add "v-${1#$NS-}" type veth peer name ul netns "$1"
  ip -n $UL link set "v-${1#$NS-}" master br0 up
  ip -n "$1" addr add "$2/24" dev ul
  ip -n "$1" link set ul up
}

# --- etcd ----------------------------------------------------------------------------------------

ETCD_MEMBERS=()
eaddr() { echo "198.18.1.$((250 + $1))"; }
# etcd_start K CLUSTER STATE: member eK (its namespace made once) with the initial cluster string.
etcd_start() {
  local k=$1 a
  a=$(eaddr "$k")
  [[ -e /var/run/netns/$NS-e$k ]] || attach $NS-e$k "$a"
  ip netns exec $NS-e$k etcd --name e$k --data-dir "$TMP/etcd-e$k" \
    --listen-client-urls "http://$a:22379" --advertise-client-urls "http://$a:22379" \
    --listen-peer-urls "http://$a:22380" --initial-advertise-peer-urls "http://$a:22380" \
    --initial-cluster "$2" --initial-cluster-state "$3" --initial-cluster-token mfm-mh \
    --heartbeat-interval 100 --election-timeout 1000 >>"$TMP/etcd-e$k.log" 2>&1 &
  EPID[e$k]=$!
  disown  # stopped by PID (etcd_stop, cleanup); no job-control notice when killed
}
etcd_stop() {  # etcd_stop K [SIGNAL]
  local p=${EPID[e$1]}
  kill -"${2:-TERM}" "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  unset "EPID[e$1]"
}
ENDPOINTS=""
ectl() { ip netns exec $UL env ETCDCTL_API=3 etcdctl --endpoints "$ENDPOINTS" --dial-timeout 2s "$@"; }
etcd_wait() {
  for _ in $(seq 100); do
    ectl endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "etcd did not become healthy"
}
PREFIX=/mflow/network/
CONFIG='{"network":"198.19.0.0/16","subnet_len":24,"vni":42,"port":4789,"underlay":["198.18.1.0/24"]}'

# --- hosts ---------------------------------------------------------------------------------------

hnum() { echo "${1#h}"; }
sock() { echo "$TMP/$1.sock"; }
ctl() { "$MFLOWCTL" --socket "$(sock "$1")" "${@:2}"; }
# jget HOST CMD EXPR: a field of mflowctl's JSON reply (python expression on j).
jget() {
  ctl "$1" --json "$2" 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); print($3)"
}

# host_start H: mflowd in namespace H (made once), store on.
host_start() {
  local h=$1 n
  n=$(hnum "$h")
  [[ -e /var/run/netns/$NS-$h ]] || attach "$NS-$h" "198.18.1.$n"
  cat >"$TMP/$h.toml" <<EOF
[daemon]
control_socket = "$(sock "$h")"
[engine]
mode = "microflow"
workers = 1
[underlay]
local = "198.18.1.$n"
peers = []
[overlay]
vnis = [42]
[store]
endpoints = [$(echo "$ENDPOINTS" | sed 's/[^,]*/"&"/g')]
host_id = "mfm-node-$n"
lease_ttl_s = $TTL
EOF
  ip netns exec "$NS-$h" "$MFLOWD" --config "$TMP/$h.toml" >>"$TMP/$h.log" 2>&1 &
  DPID[$h]=$!
  disown
  for _ in $(seq 100); do
    SUBNET=$(ctl "$h" subnet 2>/dev/null) && [[ -n $SUBNET ]] && break
    sleep 0.2
  done
  [[ -n ${SUBNET:-} ]] || fail "$h claimed no subnet"
  echo "$SUBNET" >"$TMP/$h.subnet"
}
host_stop() {  # host_stop H [SIGNAL]
  local p=${DPID[$1]}
  kill -"${2:-TERM}" "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  unset "DPID[$1]"
}
# caddr H K: container K's address on host H: .10+K in the host's subnet.
caddr() {
  local s
  s=$(cat "$TMP/$1.subnet")
  echo "${s%.*}.$((10 + $2))"
}
# containers_add H: two containers, on-link for the whole overlay (/16), no default route.
containers_add() {
  local h=$1 k
  for k in 1 2; do
    [[ -e /var/run/netns/$NS-$h-c$k ]] || ip netns add "$NS-$h-c$k"
    ip -n "$NS-$h-c$k" link set lo up
    ctl "$h" port add "c$k" --ifname eth0 --netns "/var/run/netns/$NS-$h-c$k" --vni 42 \
      --address "$(caddr "$h" $k)/16" --gateway none >/dev/null || fail "$h: port add c$k"
  done
}
cping() {  # cping H K ADDRESS [TRIES]: container pings, 0 on a reply (one echo per try)
  local i
  for i in $(seq "${4:-1}"); do
    ip netns exec "$NS-$1-c$2" ping -q -c 1 -W 2 "$3" >/dev/null 2>&1 && return 0
  done
  return 1
}
# wait_peers N HOSTS...: every host's table holds N hosts (itself too) and its UDP port N-1 peers.
wait_peers() {
  local want=$1 h i
  shift
  for h in "$@"; do
    for i in $(seq 150); do
      [[ $(jget "$h" store "j['peers'], j['udp_peers']" 2>/dev/null) == "$want $((want - 1))" ]] && break
      ((i == 150)) && fail "$h: peer table never reached $want hosts ($(jget "$h" store "j['peers'], j['udp_peers'], j['last_error']"))"
      sleep 0.2
    done
  done
}
all_pairs_ping() {
  local a b ka kb n=0
  for a in "$@"; do for ka in 1 2; do for b in "$@"; do for kb in 1 2; do
    [[ $a$ka == "$b$kb" ]] && continue
    cping "$a" $ka "$(caddr "$b" $kb)" 3 || fail "$a/c$ka cannot ping $b/c$kb ($(caddr "$b" $kb))"
    n=$((n + 1))
  done; done; done; done
  log "all $n ordered container pairs ping"
}
# tcp_flow_once H1 K1 H2 K2 SECONDS PORT: iperf3 from H1/cK1 to H2/cK2; prints Mbit/s, or says on
# stderr what went wrong and returns 1.
tcp_flow_once() {
  local slog=$TMP/iperf3-server-$6.log
  ip netns exec "$NS-$3-c$4" iperf3 -s -1 -p "$6" >"$slog" 2>&1 &
  local srv=$!
  OTHER_PIDS+=("$srv")
  for _ in $(seq 50); do ip netns exec "$NS-$3-c$4" ss -ltn | grep -q ":$6 " && break; sleep 0.1; done
  local out rc=0
  out=$(ip netns exec "$NS-$1-c$2" iperf3 -c "$(caddr "$3" "$4")" -p "$6" -t "$5" -J 2>&1) || rc=$?
  # A one-off server whose side of the test failed listens again instead of
  # leaving: wait for it, bounded, and say what it saw.
  for _ in $(seq 100); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$srv" 2>/dev/null; then
    kill "$srv"
    rc=1
  fi
  wait "$srv" 2>/dev/null || true
  ((rc == 0)) && echo "$out" | python3 -c "
import json, sys
j = json.load(sys.stdin)
if 'error' in j or 'sum_received' not in j.get('end', {}):
    sys.exit(1)
print('%.0f' % (j['end']['sum_received']['bits_per_second'] / 1e6))" && return 0
  {
    echo "TCP flow $1/c$2 -> $3/c$4: no result; the client said:"
    echo "$out" | grep -m3 -i 'error' || echo "$out" | tail -n 3
    echo "the server said:"
    tail -n 5 "$slog"
  } >&2
  return 1
}
# tcp_flow H1 K1 H2 K2 SECONDS PORT: tcp_flow_once, once more if iperf3 gave no result (seen once
# in CI: the client ended well, the one-off server's side failed and it listened again); the
# failure is logged either way, and a second one fails the test.
tcp_flow() {
  tcp_flow_once "$@" && return 0
  log "WARNING: TCP flow $1/c$2 -> $3/c$4 gave no result (above); once more" >&2
  tcp_flow_once "$@" || fail "TCP flow $1/c$2 -> $3/c$4 failed twice"
}
# hosts_up: h1..h4 started with two containers each, every table holding all four, all pairs ping.
hosts_up() {
  HOSTS=(h1 h2 h3 h4)
  for h in "${HOSTS[@]}"; do host_start "$h"; done
  for h in "${HOSTS[@]}"; do containers_add "$h"; done
  wait_peers 4 "${HOSTS[@]}"
  all_pairs_ping "${HOSTS[@]}"
}
refused_of() { jget "$1" store "j['refused']"; }
revision_of() { jget "$1" store "j['revision']"; }
etcd_revision() {
  ectl get --prefix "$PREFIX" --keys-only -w json | python3 -c "import json,sys; print(json.load(sys.stdin)['header']['revision'])"
}
# wait_revision HOSTS...: every host's table is at etcd's current revision (its watch is live).
wait_revision() {
  local want h i
  want=$(etcd_revision)
  for h in "$@"; do
    for i in $(seq 150); do
      (($(revision_of "$h" 2>/dev/null || echo 0) >= want)) && break
      ((i == 150)) && fail "$h: table stuck at revision $(revision_of "$h") < $want"
      sleep 0.2
    done
  done
}
record() {  # record SUBNET UNDERLAY HOSTID: a valid record's JSON
  printf '{"host_id":"%s","subnet":"%s","underlay":["%s"],"vtep_mac":"02:00:00:00:00:%02x","port":4789,"version":"0","mode":"flow"}' \
    "$3" "$1" "$2" "$((RANDOM % 200 + 16))"
}

# === single member =================================================================================

log "etcd: single member"
ENDPOINTS="http://$(eaddr 1):22379"
etcd_start 1 "e1=http://$(eaddr 1):22380" new
etcd_wait
ectl put "${PREFIX}config" "$CONFIG" >/dev/null

hosts_up
log "4 hosts: subnets $(cat "$TMP"/h{1,2,3,4}.subnet | tr '\n' ' ')"
log "TCP h1/c1 -> h4/c2: $(tcp_flow h1 1 h4 2 2 19130) Mbit/s"

log "a host added at run time"
t0=$(date +%s.%N)
host_start h5
containers_add h5
HOSTS+=(h5)
wait_peers 5 "${HOSTS[@]}"
log "h5 in every table after $(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))") s"
for h in h1 h2 h3 h4; do
  cping "$h" 1 "$(caddr h5 1)" 3 || fail "$h cannot reach h5"
  cping h5 2 "$(caddr "$h" 2)" 3 || fail "h5 cannot reach $h"
done
log "h5 reachable from all and reaches all"

log "h5 moves to another underlay address (reload)"
# Without promotion, deleting the primary address below would take the new (secondary) one with it.
ip netns exec $NS-h5 sysctl -qw net.ipv4.conf.ul.promote_secondaries=1
ip -n $NS-h5 addr add 198.18.1.105/24 dev ul
sed -i 's/^local = "198.18.1.5"$/local = "198.18.1.105"/' "$TMP/h5.toml"
ctl h5 reload >/dev/null || fail "h5: reload of underlay.local refused"
ip -n $NS-h5 addr del 198.18.1.5/24 dev ul  # the old address gone: only the record can lead to h5
h5_subnet=$(cat "$TMP/h5.subnet")
for h in h1 h2 h3 h4; do
  for i in $(seq 50); do
    [[ $(jget "$h" store "[p['underlay'] for p in j['peer_list'] if p['subnet'] == '$h5_subnet']") == "[['198.18.1.105']]" ]] && break
    ((i == 50)) && fail "$h never learned h5's new address: $(jget "$h" store "[p['underlay'] for p in j['peer_list'] if p['subnet'] == '$h5_subnet']")"
    sleep 0.2
  done
  cping "$h" 1 "$(caddr h5 1)" 3 || fail "$h cannot reach h5 at its new address"
  cping h5 2 "$(caddr "$h" 2)" 3 || fail "h5 cannot reach $h from its new address"
done
log "h5's record in etcd follows its reload; every host reaches it at 198.18.1.105"

log "h3 SIGKILLed"
h3_subnet=$(cat "$TMP/h3.subnet")
h3_mac=$(jget h3 store "j['vtep_mac']")
host_stop h3 KILL
t0=$(date +%s.%N)
since() { python3 -c "print('%.1f' % ($(date +%s.%N) - $1))"; }
# Until every host dropped h3, by the clock (not by a count of polls, which take time of their
# own): when etcd deleted its record (the lease expired) and when each host's table let it go.
declare -A gone=()
etcd_gone=
h3_key="${PREFIX}subnets/${h3_subnet/\//-}"
while ((${#gone[@]} < 4)); do
  if [[ -z $etcd_gone ]] && [[ -z $(ectl get "$h3_key" --keys-only 2>/dev/null) ]]; then
    etcd_gone=$(since "$t0")
  fi
  for h in h1 h2 h4 h5; do
    [[ -n ${gone[$h]:-} ]] && continue
    jget "$h" store "[p['subnet'] for p in j['peer_list']]" | grep -q "'$h3_subnet'" ||
      gone[$h]=$(since "$t0")
  done
  python3 -c "import sys; sys.exit($(date +%s.%N) - $t0 > $REMOVAL_LIMIT)" ||
    fail "h3 ($h3_subnet) still held after ${REMOVAL_LIMIT}s by $(for h in h1 h2 h4 h5; do [[ -n ${gone[$h]:-} ]] || printf '%s ' "$h"; done)(etcd deleted it after ${etcd_gone:-never} s)"
  sleep 0.1
done
# The polls above take turns (each host's about half a second), so the hosts' own log lines
# tell when each let h3 go.
removed_at() {
  local ts
  ts=$(grep "peer removed.*host_id=mfm-node-3 " "$TMP/$1.log" | tail -n 1 | sed 's/^ts=\([^ ]*\) .*/\1/')
  [[ -n $ts ]] && python3 -c "print('%.1f' % ($(date -d "$ts" +%s.%N) - $t0))" || echo "?"
}
log "h3's record deleted by etcd within ${etcd_gone:-?} s of SIGKILL (TTL $TTL s); h1/h2/h4/h5 logged its removal $(removed_at h1)/$(removed_at h2)/$(removed_at h4)/$(removed_at h5) s after it"
wait_peers 4 h1 h2 h4 h5
host_start h3
[[ $(cat "$TMP/h3.subnet") == "$h3_subnet" ]] || fail "h3 came back with $(cat "$TMP/h3.subnet"), not $h3_subnet"
[[ $(jget h3 store "j['vtep_mac']") == "$h3_mac" ]] || fail "h3's VTEP MAC changed"
containers_add h3
wait_peers 5 "${HOSTS[@]}"
cping h1 1 "$(caddr h3 1)" 3 || fail "h1 cannot reach the restarted h3"
cping h3 2 "$(caddr h5 2)" 3 || fail "the restarted h3 cannot reach h5"
log "h3 back with the same subnet $h3_subnet and VTEP MAC $h3_mac, reachable"

log "etcd stopped under traffic"
ip netns exec $NS-h1-c1 ping -q -i 0.2 -c 40 -W 1 "$(caddr h2 1)" >"$TMP/ping-outage" 2>&1 &
ping_pid=$!
OTHER_PIDS+=("$ping_pid")
sleep 1
etcd_stop 1
mbps=$(tcp_flow h4 1 h5 2 3 19131)
sleep $((TTL + 1))  # longer than the leases: nothing may be removed
for h in "${HOSTS[@]}"; do
  [[ $(jget "$h" store "j['peers'], j['udp_peers']") == "5 4" ]] || fail "$h removed peers while etcd was down"
  [[ -n $(jget "$h" store "j['last_error']") ]] || fail "$h shows no store error while etcd is down"
done
cping h3 1 "$(caddr h1 2)" 2 || fail "h3 -> h1 while etcd is down"
wait "$ping_pid" || true
grep -q " 0% packet loss" "$TMP/ping-outage" || fail "ping lost packets while etcd was down: $(grep loss "$TMP/ping-outage")"
log "etcd down: TCP at $mbps Mbit/s, 40 pings without loss, no peer removed, every host reports the error"
etcd_start 1 "e1=http://$(eaddr 1):22380" new
etcd_wait
ectl put "${PREFIX}subnets/198.19.240.0-24" "$(record 198.19.240.0/24 198.18.1.240 mfm-ghost)" >/dev/null
wait_revision "${HOSTS[@]}"
wait_peers 6 "${HOSTS[@]}"
ectl del "${PREFIX}subnets/198.19.240.0-24" >/dev/null
wait_peers 5 "${HOSTS[@]}"
log "etcd back: every host's watch resumed without a restart (a record put and deleted seen by all)"

log "compaction while h2 is cut from etcd"
relists_before=$(jget h2 store "j['relists']")
for k in 1; do
  ip netns exec $NS-h2 iptables -A OUTPUT -d "$(eaddr $k)" -p tcp -j REJECT --reject-with tcp-reset
  ip netns exec $NS-h2 iptables -A INPUT -s "$(eaddr $k)" -j DROP
done
ip netns exec $NS-h2 ss -K dst "$(eaddr 1)" >/dev/null 2>&1 || true
ectl put "${PREFIX}subnets/198.19.241.0-24" "$(record 198.19.241.0/24 198.18.1.241 mfm-ghost-1)" >/dev/null
ectl put "${PREFIX}subnets/198.19.242.0-24" "$(record 198.19.242.0/24 198.18.1.242 mfm-ghost-2)" >/dev/null
ectl del "${PREFIX}subnets/198.19.241.0-24" >/dev/null
rev=$(etcd_revision)
ectl compact "$rev" >/dev/null
ip netns exec $NS-h2 iptables -F
ip netns exec $NS-h2 iptables -F -t filter
wait_revision "${HOSTS[@]}"
h2_nets=$(jget h2 store "sorted(p['subnet'] for p in j['peer_list'])")
[[ $h2_nets == *198.19.242.0/24* && $h2_nets != *198.19.241.0/24* ]] || fail "h2 did not converge: $h2_nets"
(($(jget h2 store "j['relists']") > relists_before)) || fail "h2 never re-listed after the compaction"
grep -q "compacted" "$TMP/h2.log" || fail "h2 did not report the compaction"
ectl del "${PREFIX}subnets/198.19.242.0-24" >/dev/null
wait_peers 5 "${HOSTS[@]}"
cping h2 1 "$(caddr h4 1)" 3 || fail "h2 -> h4 after the compaction"
log "h2 re-listed after compaction at revision $rev and converged"

log "malformed records"
declare -A refused_before
for h in "${HOSTS[@]}"; do refused_before[$h]=$(refused_of "$h"); done
h1_net=$(cut -d/ -f1 "$TMP/h1.subnet")
ectl put "${PREFIX}subnets/198.19.250.0-24" '{not json' >/dev/null
ectl put "${PREFIX}subnets/198.19.251.0-24" "$(record 198.19.251.0/24 10.0.0.1 mfm-outside)" >/dev/null
ectl put "${PREFIX}subnets/fd00::-64" "$(record fd00::/64 198.18.1.99 mfm-v6)" >/dev/null
ectl put "${PREFIX}subnets/$h1_net-23" "$(record "$h1_net/23" 198.18.1.98 mfm-overlap)" >/dev/null
ectl put "${PREFIX}subnets/$h1_net-24" '{"host_id":"mfm-node-1","subnet":"bogus"}' >/dev/null
for h in "${HOSTS[@]}"; do
  for i in $(seq 100); do
    (($(refused_of "$h") - refused_before[$h] >= 5)) && break
    ((i == 100)) && fail "$h refused only $(($(refused_of "$h") - refused_before[$h])) of 5 malformed records"
    sleep 0.2
  done
done
wait_peers 5 "${HOSTS[@]}"
all_pairs_ping h1 h4
grep -q 'record refused' "$TMP/h4.log" || fail "h4 logged no refusal"
log "5 malformed records refused and counted on every host; h1's own key overwritten with garbage: every host keeps its last good entry, traffic flows"
ectl del "${PREFIX}subnets/198.19.250.0-24" >/dev/null
ectl del "${PREFIX}subnets/198.19.251.0-24" >/dev/null
ectl del "${PREFIX}subnets/fd00::-64" >/dev/null
ectl del "${PREFIX}subnets/$h1_net-23" >/dev/null

for h in "${HOSTS[@]}"; do host_stop "$h"; done
etcd_stop 1

# === 3-member cluster ===============================================================================

log "etcd: 3-member cluster"
rm -rf "$TMP"/etcd-e*
cluster="e1=http://$(eaddr 1):22380,e2=http://$(eaddr 2):22380,e3=http://$(eaddr 3):22380"
for k in 1 2 3; do etcd_start $k "$cluster" new; done
ENDPOINTS="http://$(eaddr 1):22379,http://$(eaddr 2):22379,http://$(eaddr 3):22379"
etcd_wait
ectl put "${PREFIX}config" "$CONFIG" >/dev/null
hosts_up
ip netns exec $NS-h1-c2 ping -q -i 0.2 -c 30 -W 1 "$(caddr h3 2)" >"$TMP/ping-member" 2>&1 &
ping_pid=$!
OTHER_PIDS+=("$ping_pid")
sleep 1
etcd_stop 1 KILL  # the member every host prefers
mbps=$(tcp_flow h2 1 h4 1 3 19132)
wait "$ping_pid" || true
grep -q " 0% packet loss" "$TMP/ping-member" || fail "ping lost packets when a member died: $(grep loss "$TMP/ping-member")"
ENDPOINTS="http://$(eaddr 2):22379,http://$(eaddr 3):22379"
ectl put "${PREFIX}subnets/198.19.243.0-24" "$(record 198.19.243.0/24 198.18.1.243 mfm-ghost-3)" >/dev/null
wait_peers 5 "${HOSTS[@]}"
ectl del "${PREFIX}subnets/198.19.243.0-24" >/dev/null
wait_peers 4 "${HOSTS[@]}"
log "member e1 SIGKILLed: TCP at $mbps Mbit/s and 30 pings without loss; every host's watch failed over"

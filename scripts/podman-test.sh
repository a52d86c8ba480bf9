#!/usr/bin/env bash
# The CNI plugin with the real runtime: podman 4.3 (CNI backend, runc) attaches containers on two
# mflow "hosts" through mflow-cni, and the test checks what a user would:
#   - a container on host A pings a container on host B and sends it 4 MiB over TCP (busybox nc;
#     the bytes that arrive are counted);
#   - CHECK (the plugin run by hand with a prevResult) passes for a live container and fails with
#     code 102 for an address it does not have;
#   - `podman rm -f` removes the container's port from mflowd (`mflowctl ports`) and its address
#     from host-local's store (the files in its dataDir);
#   - four containers started at once, then removed at once: four ports and distinct addresses,
#     then nothing left;
#   - mflowd killed (SIGKILL) before `podman rm`, then restarted, in both orders (rm while it is
#     down; rm after the restart): no port and no address is left behind;
#   - a broken conflist (vni a string; vni missing) makes `podman run` fail with the field named.
# The two hosts are network namespaces mfc-a and mfc-b joined by a veth (198.18.44.0/30), each with
# its own mflowd (VNI 42, its own control socket in a temp dir); the containers' addresses come from
# two host-local ranges of 198.19.64.0/24 (network A speaks CNI 1.0.0, B 0.4.0). podman runs with
# everything temporary: containers.conf (CONTAINERS_CONF: network_backend cni, the temp CNI config
# and plugin dirs), storage (vfs, --root, --runroot), an image imported offline from a
# busybox-static tree. About 40 s.
#   bash scripts/podman-test.sh [--build-dir DIR] [--keep]   (root; uses DIR/src/cni/mflow-cni,
#   DIR/src/daemon/mflowd, DIR/src/control/mflowctl; does not build)
# Cleans up on every exit (trap): podman containers, the mflowd processes (by PID), namespaces
# mfc-a/mfc-b, the temp dir. Prints PASS/FAIL lines; exit status 1 on any FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
KEEP=0
while (($#)); do
  case $1 in
    --build-dir) BUILD=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;  # leave the temp dir (logs) for a look
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
    *) echo "podman-test: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "podman-test: needs root (namespaces, podman as root)" >&2; exit 2; }
scripts/setup.sh  # podman, runc, containernetworking-plugins, busybox-static when missing

BUILD=$(realpath "$BUILD")
CNI_BIN=$BUILD/src/cni/mflow-cni
MFLOWD=$BUILD/src/daemon/mflowd
MFLOWCTL=$BUILD/src/control/mflowctl
for f in "$CNI_BIN" "$MFLOWD" "$MFLOWCTL"; do
  [[ -x $f ]] || { echo "podman-test: $f missing (build it first)" >&2; exit 2; }
done
HOST_LOCAL_DIR=/usr/lib/cni
[[ -x $HOST_LOCAL_DIR/host-local ]] || { echo "podman-test: $HOST_LOCAL_DIR/host-local missing" >&2; exit 2; }

NS_A=mfc-a NS_B=mfc-b
UNDER_A=198.18.44.1 UNDER_B=198.18.44.2
VNI=42
T=$(mktemp -d /tmp/mfc-podman.XXXXXX)
SOCK_A=$T/a.sock SOCK_B=$T/b.sock
PID_A="" PID_B=""
FAILS=0

export CONTAINERS_CONF=$T/containers.conf
P() {
  podman --root "$T/storage" --runroot "$T/runroot" --tmpdir "$T/tmp" --storage-driver vfs \
    --runtime runc --cgroup-manager cgroupfs --events-backend none "$@"
}
RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
IMAGE=localhost/mfc-busybox:test

cleanup() {
  set +e
  P rm -af -t 0 >/dev/null 2>&1
  for pid in $PID_A $PID_B; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  ip netns del $NS_A 2>/dev/null
  ip netns del $NS_B 2>/dev/null
  # Nothing should be mounted under the temp dir once the containers are gone; make sure before rm -rf.
  awk -v t="$T" '$2 ~ "^"t {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  if ((KEEP)); then echo "podman-test: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

start_mflowd() {  # start_mflowd a|b: runs in its host namespace, logs to the temp dir
  local h=$1 ns local peer sock
  if [[ $h == a ]]; then ns=$NS_A local=$UNDER_A peer=$UNDER_B sock=$SOCK_A
  else ns=$NS_B local=$UNDER_B peer=$UNDER_A sock=$SOCK_B; fi
  # `ip netns exec` execs mflowd, so $! is mflowd's own PID.
  ip netns exec "$ns" "$MFLOWD" --workers 1 --local "$local" --peer "$peer" --vni $VNI \
    --control "$sock" >>"$T/mflowd-$h.log" 2>&1 &
  if [[ $h == a ]]; then PID_A=$!; else PID_B=$!; fi
  for _ in $(seq 100); do
    "$MFLOWCTL" --socket "$sock" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "podman-test: mflowd on host $h did not come up; its log:" >&2
  cat "$T/mflowd-$h.log" >&2
  return 1
}

cni_ports() {  # the CNI-made port names mflowd has, one a line
  "$MFLOWCTL" --socket "$1" --json ports | grep -o '"name": *"cni:[^"]*"' | sed 's/.*"\(cni:[^"]*\)"/\1/' || true
}
allocated() {  # the addresses host-local holds for network $1 (one file per address in its store)
  ls "$T/ipam-${1#mflow-}/$1" 2>/dev/null | grep '^198\.' || true
}
container_ip() {  # container_ip NETWORK CONTAINER-ID: the address host-local gave it
  { grep -l "^$2" "$T/ipam-${1#mflow-}/$1"/198.* 2>/dev/null || true; } | head -1 | xargs -r basename
}

echo "== podman with mflow-cni: setup in $T"
# Hosts A and B: namespaces joined by a veth; the underlay. (Leftovers of a killed run go first.)
ip netns del $NS_A 2>/dev/null || true
ip netns del $NS_B 2>/dev/null || true
ip netns add $NS_A
ip netns add $NS_B
ip link add mfc-va netns $NS_A type veth peer name mfc-vb netns $NS_B
ip -n $NS_A addr add $UNDER_A/30 dev mfc-va
ip -n $NS_B addr add $UNDER_B/30 dev mfc-vb
for ns in $NS_A $NS_B; do ip -n "$ns" link set lo up; done
ip -n $NS_A link set mfc-va up
ip -n $NS_B link set mfc-vb up
start_mflowd a
start_mflowd b

# The plugin, installed under its type name, and the conflists: one network per host.
mkdir -p "$T/cni-bin" "$T/cni-conf" "$T/tmp" "$T/ipam-a" "$T/ipam-b"
install -m 0755 "$CNI_BIN" "$T/cni-bin/mflow"
conflist() {  # conflist NAME SOCKET RANGE-START RANGE-END CNI-VERSION [VNI-LINE]
  local vni_line=${6-"\"vni\": $VNI,"}
  cat >"$T/cni-conf/$1.conflist" <<EOF
{
  "cniVersion": "$5",
  "name": "$1",
  "plugins": [{
    "type": "mflow",
    $vni_line
    "socket": "$2",
    "logFile": "$T/mflow-cni.log",
    "ipam": {
      "type": "host-local",
      "dataDir": "$T/ipam-${1#mflow-}",
      "ranges": [[{"subnet": "198.19.64.0/24", "rangeStart": "$3", "rangeEnd": "$4"}]]
    }
  }]
}
EOF
}
# Host B's network speaks CNI 0.4.0 (results with per-IP "version"), host A's 1.0.0.
conflist mflow-a "$SOCK_A" 198.19.64.10 198.19.64.99 1.0.0
conflist mflow-b "$SOCK_B" 198.19.64.100 198.19.64.199 0.4.0
conflist mflow-bad "$SOCK_A" 198.19.64.200 198.19.64.209 1.0.0 '"vni": "42",'
conflist mflow-novni "$SOCK_A" 198.19.64.210 198.19.64.219 0.4.0 ''
cat >"$CONTAINERS_CONF" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"

[network]
network_backend = "cni"
network_config_dir = "$T/cni-conf"
cni_plugin_dirs = ["$T/cni-bin", "$HOST_LOCAL_DIR"]
EOF

# The image: busybox-static and its applet links, imported offline.
mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp" "$T/rootfs/etc"
cp /bin/busybox "$T/rootfs/bin/busybox"
for a in sh ping nc wc cat dd sleep timeout ip true; do ln -s busybox "$T/rootfs/bin/$a"; done
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
P import -q "$T/rootfs.tar" $IMAGE >/dev/null

nets=$(P network ls --format '{{.Name}}' | sort | tr '\n' ' ')
[[ $nets == *mflow-a* && $nets == *mflow-b* ]] && pass "podman sees the CNI networks ($nets)" \
  || fail "podman network ls shows '$nets', not mflow-a and mflow-b"

echo "== two containers on two hosts"
id_a=$(P run -d --name mfc-a1 --network mflow-a "${RUN_OPTS[@]}" $IMAGE sleep 300) \
  || { fail "podman run on mflow-a"; exit 1; }
id_b=$(P run -d --name mfc-b1 --network mflow-b "${RUN_OPTS[@]}" $IMAGE sleep 300) \
  || { fail "podman run on mflow-b"; exit 1; }
ip_a=$(container_ip mflow-a "$id_a")
ip_b=$(container_ip mflow-b "$id_b")
[[ -n $ip_a && -n $ip_b ]] && pass "host-local gave $ip_a (A) and $ip_b (B)" \
  || fail "no address in host-local's store for the containers ('$ip_a', '$ip_b')"
[[ $(cni_ports "$SOCK_A") == "cni:$id_a:eth0" ]] && pass "mflowd A has port cni:${id_a:0:12}...:eth0" \
  || fail "mflowd A's ports: '$(cni_ports "$SOCK_A")'"
if P exec mfc-a1 ip -o addr show dev eth0 | grep -q "inet $ip_a/24"; then pass "eth0 in container A has $ip_a/24"
else fail "eth0 in container A: $(P exec mfc-a1 ip -o addr 2>&1 | tr '\n' ' ')"; fi

if P exec mfc-a1 ping -c 3 -w 10 "$ip_b" >"$T/ping.out" 2>&1; then
  pass "container A pings container B ($(grep -o '[0-9]* packets received' "$T/ping.out"))"
else fail "ping A -> B: $(tail -2 "$T/ping.out" | tr '\n' ' ')"; fi

# TCP: B listens and counts what arrives (sleep keeps nc's stdin open), A sends 4 MiB.
bytes=$((4 * 1024 * 1024))
P exec -d mfc-b1 sh -c 'sleep 60 | nc -l -p 5001 | wc -c > /tmp/count' >/dev/null
sleep 1
P exec mfc-a1 sh -c "dd if=/dev/zero bs=65536 count=64 2>/dev/null | timeout 30 nc $ip_b 5001" \
  || fail "nc A -> B exited non-zero"
got=""
for _ in $(seq 40); do
  got=$(P exec mfc-b1 cat /tmp/count 2>/dev/null | tr -d ' \n' || true)
  [[ -n $got ]] && break
  sleep 0.25
done
[[ $got == "$bytes" ]] && pass "TCP A -> B moved $got bytes" || fail "TCP A -> B: $bytes sent, '$got' counted"

echo "== CHECK against the real mflowd (podman run and rm do not send CHECK)"
# The plugin run by hand as the runtime would, with the network's config and a prevResult.
netns_a=$(P inspect -f '{{.NetworkSettings.SandboxKey}}' mfc-a1)
cni_check() {  # cni_check ADDRESS: runs CHECK for container A with prevResult holding ADDRESS
  python3 - "$T/cni-conf/mflow-a.conflist" "$netns_a" "$1" <<'PY' |
import json, sys
conf = json.load(open(sys.argv[1]))
plugin = dict(conf["plugins"][0], cniVersion=conf["cniVersion"], name=conf["name"])
plugin["prevResult"] = {"cniVersion": conf["cniVersion"],
                        "interfaces": [{"name": "eth0", "sandbox": sys.argv[2]}],
                        "ips": [{"address": sys.argv[3], "interface": 0}]}
print(json.dumps(plugin))
PY
  CNI_COMMAND=CHECK CNI_CONTAINERID=$id_a CNI_NETNS=$netns_a CNI_IFNAME=eth0 \
    CNI_PATH=$T/cni-bin:$HOST_LOCAL_DIR "$T/cni-bin/mflow"
}
if out=$(cni_check "$ip_a/24" 2>/dev/null); then pass "CHECK of container A passes"
else fail "CHECK of container A: $out"; fi
if out=$(cni_check 198.19.64.250/24 2>/dev/null); then fail "CHECK with a wrong address passed"
elif [[ $out == *'"code":102'* ]]; then pass "CHECK with a wrong address fails with code 102"
else fail "CHECK with a wrong address: $out"; fi

echo "== podman rm removes the port and the address"
P rm -f -t 0 mfc-a1 >/dev/null
[[ -z $(cni_ports "$SOCK_A") ]] && pass "port gone from mflowd A after podman rm" \
  || fail "mflowd A still has '$(cni_ports "$SOCK_A")'"
[[ -z $(allocated mflow-a) ]] && pass "address gone from host-local's store after podman rm" \
  || fail "host-local still holds '$(allocated mflow-a)'"

echo "== parallel podman run and rm on one host"
pids=()
for i in 1 2 3 4; do
  P run -d --name mfc-p$i --network mflow-a "${RUN_OPTS[@]}" $IMAGE sleep 300 >/dev/null 2>"$T/par$i.err" &
  pids+=($!)
done
ok=1
for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
n_ports=$(cni_ports "$SOCK_A" | wc -l)
n_addrs=$(allocated mflow-a | sort -u | wc -l)
((ok && n_ports == 4 && n_addrs == 4)) && pass "4 containers started at once: 4 ports, 4 distinct addresses" \
  || fail "parallel run: ok=$ok ports=$n_ports addresses=$n_addrs $(cat "$T"/par*.err | tr '\n' ' ')"
pids=()
for i in 1 2 3 4; do P rm -f -t 0 mfc-p$i >/dev/null 2>&1 & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid" || true; done
left="$(cni_ports "$SOCK_A")$(allocated mflow-a)"
[[ -z $left ]] && pass "4 containers removed at once: nothing left" || fail "parallel rm left: $left"

echo "== mflowd killed before podman rm"
for order in rm-while-down rm-after-restart; do
  P run -d --name mfc-a2 --network mflow-a "${RUN_OPTS[@]}" $IMAGE sleep 300 >/dev/null \
    || { fail "podman run ($order)"; continue; }
  [[ -n $(cni_ports "$SOCK_A") && -n $(allocated mflow-a) ]] || fail "$order: no port or address after run"
  kill -KILL "$PID_A"
  wait "$PID_A" 2>/dev/null || true
  if [[ $order == rm-while-down ]]; then
    P rm -f -t 0 mfc-a2 >/dev/null || fail "$order: podman rm failed"
    start_mflowd a
  else
    start_mflowd a
    P rm -f -t 0 mfc-a2 >/dev/null || fail "$order: podman rm failed"
  fi
  left="$(cni_ports "$SOCK_A")$(allocated mflow-a)"
  [[ -z $left ]] && pass "$order: no port, no address left" || fail "$order: left behind: $left"
done

echo "== a broken conflist names the field"
for net in mflow-bad mflow-novni; do
  if P run --name mfc-bad --network $net "${RUN_OPTS[@]}" $IMAGE true >"$T/bad.out" 2>&1; then
    fail "$net: podman run succeeded"
  elif grep -q '"vni"' "$T/bad.out"; then
    pass "$net: podman says: $(grep -o 'invalid network config.*' "$T/bad.out" | head -1 | sed 's/\\n.*//; s/\\//g')"
  else
    fail "$net: the error does not name vni: $(tr '\n' ' ' <"$T/bad.out")"
  fi
  P rm -f -t 0 mfc-bad >/dev/null 2>&1 || true
done
[[ -z $(ls "$T/ipam-bad/mflow-bad" 2>/dev/null | grep '^198\.') ]] || fail "mflow-bad left an allocation"

P rm -f -t 0 mfc-b1 >/dev/null
left="$(cni_ports "$SOCK_B")$(allocated mflow-b)"
[[ -z $left ]] && pass "host B clean after podman rm" || fail "host B left: $left"

if ((FAILS)); then
  echo "podman-test: $FAILS FAIL(s); plugin log:"
  tail -40 "$T/mflow-cni.log" 2>/dev/null || true
  exit 1
fi
echo "podman-test: all passed"

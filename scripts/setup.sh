#!/usr/bin/env bash
# Installs what mflow needs to build, test and benchmark on Debian 12, and
# configures + builds the given build directories.
#   scripts/setup.sh                 # packages only
#   scripts/setup.sh build           # + the release build in ./build
#   scripts/setup.sh build build-tsan:thread build-asan:address
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build g++ pkg-config
      libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev
      clang libclang-rt-14-dev
      libtomlplusplus-dev libspdlog-dev libfmt-dev libnl-route-3-dev
      prometheus-cpp-dev prometheus curl
      iproute2 iputils-ping ethtool procps iperf3 sockperf python3 gnuplot-nox gdb iptables
      podman runc containernetworking-plugins busybox-static  # CNI plugin's podman test
      libssl-dev python3-scapy python3-cryptography  # ESP: OpenSSL's AES-GCM; scapy for interop
      etcd-server etcd-client libcurl4-openssl-dev openssl  # the store (src/store, docs/STORE.md)
      wireguard-go wireguard-tools nebula  # testbed topologies wireguard-go, nebula (tunnels.py)
      redis-server redis-tools nginx wrk memcached)  # testbed application tests (apps.py)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Servers in PKGS (redis, nginx, memcached, etcd, prometheus) would start as system services
  # on install. Nothing here uses those: the tests and the testbed start their own, by PID, in
  # their own namespaces, ports and temp dirs. So, where the machine has no policy of its own,
  # a policy-rc.d for the length of this install keeps them from starting (and stops nothing).
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# scripts/setup.sh: no service starts during its install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
    trap '((made_policy)) && rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((made_policy)); then
    rm -f "$policy"
    made_policy=0
  fi
fi

jobs=$(nproc)
for spec in "$@"; do
  dir=${spec%%:*}
  san=""
  [[ $spec == *:* ]] && san=${spec#*:}
  echo "setup: building $dir${san:+ (sanitizer: $san)}"
  cmake -S . -B "$dir" -G Ninja -DMFLOW_SANITIZE="$san" >/dev/null
  ninja -C "$dir" -j"$jobs"
done

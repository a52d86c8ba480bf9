// mflowd's configuration: a TOML file (or the embedded default, which
// serves host A of the testbed), then command-line flags on top.
//
// Every error names the field it is about ("underlay.local: ..."), so a bad
// file is refused with a message that points at the line to fix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "daemon/esp_config.h"
#include "daemon/store_config.h"
#include "engine/engine.h"
#include "port/ip_prefix.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow::daemon {

// One container port: a TAP device mflowd creates in a network namespace.
// The port API (docs/MFLOWCTL.md, port-add): ports are known by name; the
// device in the namespace is called ifname.
struct PortConfig {
  std::string name;     // unique in this mflowd: 1..128 of [A-Za-z0-9._:/-]
  std::string ifname;   // the device's name in the namespace; "" = name
  std::string netns;    // /var/run/netns/NAME or /proc/PID/ns/net; "" = ours
  uint32_t vni = 0;     // must be one of overlay.vnis
  // "198.19.0.1/24", "fd00:198:19::1/64": any number of either family.
  std::vector<std::string> addresses;
  std::string mac;      // "" = 0a:58:<first IPv4>, IPv6 only: 0a:58:<last 4
                        // bytes of the first IPv6>, random without addresses
  std::string gateway;  // "" = on-link default route per family with an
                        // address; "none"; an address: default route via it
  std::vector<IpRoute> routes;  // extra routes, after the addresses
  uint32_t mtu = 0;     // 0 = the inner MTU

  // The device's name: ifname, or name when ifname is empty.
  const std::string& device() const { return ifname.empty() ? name : ifname; }
};

// The checks of one port that need no daemon: name, ifname, addresses,
// gateway, routes, mac. Errors (StatusCode::kInvalid) start with the field:
// "ifname 'x': ...", "addresses[1] 'fd00::1/129': ...", "routes[0]: ...".
Status CheckPort(const PortConfig& p);

struct Config {
  // [daemon]
  std::string control_socket = "/run/mflow/mflowd.sock";
  std::string log_level = "info";   // debug | info | warn | error
  std::string log_format = "text";  // text (logfmt) | json
  uint32_t stats_interval_s = 0;    // periodic counters in the log; 0 = off
  std::string metrics;              // Prometheus /metrics on "ADDRESS:PORT"; "" = off

  // [engine]
  SteeringMode mode = SteeringMode::kMicroflow;
  uint32_t workers = 2;             // threads, shared by both directions
  std::vector<int> cpus;            // pin workers; empty = no pinning
  uint32_t microflow_size = 128;
  uint32_t merge_depth = 16;
  uint32_t elephant_pps = 20000;
  uint32_t idle_polls = 4;          // empty polls of the ports before blocking in them,
  uint32_t idle_poll_us = 100;      // and at least this long (docs/ARCHITECTURE.md)
  PlacementMode placement = PlacementMode::kAuto;  // microflow mode (engine.h)

  // [underlay]
  wire::IpAddr local = wire::IpAddr::V4(0xC6120001);  // 198.18.0.1
  uint16_t port = 4789;
  uint32_t mtu = 1500;
  std::vector<wire::IpAddr> peers{wire::IpAddr::V4(0xC6120002)};  // 198.18.0.2
  bool gso = true;                  // UDP_SEGMENT on send
  bool gro = true;                  // UDP_GRO on receive
  uint32_t socket_buffer = 8 << 20;
  // Encrypted peers ([[underlay.esp]], and --encrypt FILE): docs/ESP.md.
  std::vector<EspPeerConfig> esp;
  uint16_t esp_port = 4500;         // ESP in UDP (RFC 3948)

  // [overlay]
  std::vector<uint32_t> vnis{42};
  bool tso = true;                  // TAP offloads (checksum + TSO)
  bool coalesce = true;             // software GRO towards the containers
  // Frames a container's TAP holds for mflowd before the kernel drops
  // (docs/BACKPRESSURE.md: why a length and not flow control, why 1000).
  uint32_t tap_txqueuelen = 1000;
  uint32_t fdb_size = 16384;
  uint32_t fdb_age_s = 300;
  uint32_t flood_pps = 1000;        // floods per container port per second; 0 = no limit
  uint32_t flood_burst = 100;

  // [[port]]
  std::vector<PortConfig> ports;

  // [store]: peers, subnets and containers from etcd (store_config.h)
  StoreConfig store;

  // Inner MTU: the underlay MTU less VXLAN's outer headers (50 bytes over
  // IPv4, 70 over IPv6), and with encrypted peers less ESP in UDP's 45 more
  // (UDP 8, ESP header and IV 16, padding and trailer up to 5, ICV 16) for
  // every port (a container's MTU cannot depend on the peer).
  uint32_t inner_mtu() const { return mtu - (local.is_v6() ? 70 : 50) - (esp.empty() ? 0 : 45); }
};

// The embedded default, as TOML (mflowd --print-default-config).
std::string_view DefaultConfigText();

// Parses TOML text; `origin` names it in errors (a path or "default").
StatusOr<Config> ParseConfig(std::string_view text, std::string_view origin);
StatusOr<Config> LoadConfigFile(const std::string& path);

// "name=mf0,netns=/var/run/netns/c1,vni=42,address=198.19.0.1/24[,address=fd00::1/64]
//  [,ifname=..][,mac=..][,mtu=..][,gateway=..][,route=DST[,via=GW]]..."
// (address and route repeat; via= belongs to the route before it).
StatusOr<PortConfig> ParsePortSpec(std::string_view spec);

// Cross-field checks (VNIs of ports configured, families match, MTU range,
// unique port names); ParseConfig calls it, flags must call it again.
Status Validate(const Config& c);

// The settings that differ between two configs and that a running mflowd
// cannot change (everything but underlay.local, underlay.peers and
// daemon.log_level), by field name: what a reload reports as "needs a
// restart". Ports are compared by name; they change with mflowctl.
std::vector<std::string> RestartOnlyChanges(const Config& from, const Config& to);

}  // namespace mflow::daemon

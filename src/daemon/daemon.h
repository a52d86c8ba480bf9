// Daemon: the overlay data plane of one host, wired from the parts below.
//
//   underlay UDP socket --(rx path: vxlan_decap, fdb_forward_rx,
//                          inner_checksum, tcp_coalesce)--> container TAPs
//   container TAPs --(tx path: fdb_forward_tx, gso_segment,
//                     vxlan_encap)--> underlay UDP socket (or, hairpin and
//                     floods, the TAPs again)
//
// One engine with a path per direction runs both on `workers` threads in the
// configured steering mode, so a reply (a TCP ACK) is read by the thread
// that delivered what it answers, without waking another. Both paths share
// one forwarding table: the rx side learns remote MACs, the tx side local
// ones. An idle worker blocks in both ports at once (poll), so an idle
// daemon makes no wake-ups.
//
// Thread-safety: Create/Start/Stop from the main thread; AddPort,
// RemovePort and Handle from the control thread, concurrently with the data
// path (the port set is safe for that). Reload from either; it and Handle
// take cfg_mu_, so a request never sees a config half replaced.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/store_agent.h"
#include "engine/engine.h"
#include "packet/pool.h"
#include "port/tap_set.h"
#include "port/udp_port.h"
#include "daemon/esp_underlay.h"
#include "esp/esp_sa_table.h"
#include "stage/chain.h"
#include "table/fdb.h"
#include "table/remote_subnets.h"

namespace mflow::daemon {

class Daemon {
 public:
  static StatusOr<std::unique_ptr<Daemon>> Create(const Config& cfg);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void Start();
  // Stops the engine (everything in flight is delivered or counted),
  // then removes every container port.
  void Stop();

  // A new container port (its TAP, named p.device(), is created in the
  // namespace); the id. Error codes (the control socket's "code"): kInvalid
  // for a bad field, kExists for a port of that name or a device of that
  // name in the namespace (the namespace is left as it was), kNotFound for
  // a namespace path that does not exist, kBusy when no port id is free.
  StatusOr<uint16_t> AddPort(const PortConfig& p);
  // kNotFound when there is no port of that name.
  Status RemovePort(const std::string& name);
  // The name of the port with this id; "" if there is none.
  std::string PortName(uint16_t id);

  // The control socket's requests (control_api.cc; mflowctl's protocol,
  // docs/MFLOWCTL.md).
  nlohmann::json Handle(const nlohmann::json& request);

  // Where a reload reads the config (main: the file or the embedded default,
  // the command line's flags on top, validated). Set before Start.
  using ConfigSource = std::function<StatusOr<Config>()>;
  void SetConfigSource(ConfigSource source) { config_source_ = std::move(source); }
  struct ReloadResult {
    std::vector<std::string> applied;        // "underlay.peers", ...
    std::vector<std::string> needs_restart;  // changed, not applied
  };
  // Reads the config again (SIGHUP, `mflowctl reload`) and applies what can
  // change under traffic: underlay.peers, underlay.esp (make-before-break
  // rekeying), underlay.local (the socket is rebound) and daemon.log_level.
  // A config that does not parse or validate is refused whole, with the
  // message naming the field, and the running config stays. All or
  // nothing: a step that fails after others succeeded undoes them (the SAs
  // go last; reload_test.cc).
  StatusOr<ReloadResult> Reload();

  // Housekeeping from the main thread, about once a second: removes ports
  // whose device disappeared (deleted in the container), with a log line.
  void Maintain();
  // One log line of the main counters (stats_interval_s).
  void LogStats();
  uint64_t out_of_order() const;
  // The counters the metrics endpoint exports, read live (metrics.cc).
  // Any thread.
  MetricsSnapshot Metrics() const;
  // Bytes copied per path, by the kernel and by mflowd (copies.cc). Any thread.
  CopyStats Copies() const;

 private:
  explicit Daemon(const Config& cfg) : cfg_(cfg), started_at_(std::chrono::steady_clock::now()) {}
  Status Init();
  nlohmann::json HandleLocked(const nlohmann::json& request);
  StatusOr<ReloadResult> ReloadLocked();
  nlohmann::json EngineJson(const char* name, uint32_t path) const;
  // Store mode (daemon_store.cc): the agent and what it programs.
  Status InitStore();
  void ApplyStorePeers(const StoreView& view, const store::NetworkConfig& network,
                       bool removed_or_moved);
  // The UDP port's peers: underlay.peers and the store's, without repeats.
  // Caller holds peers_mu_.
  Status SetUdpPeersLocked();
  // A refused reload's way back: the static peers it replaced, with the
  // store's beside them.
  void RestoreStaticPeers(const std::vector<wire::IpAddr>& plain);
  // A reload's SA step (esp_reload.cc): the ESP socket's peers and the
  // SAs; on failure both are as before. Caller holds cfg_mu_.
  Status ApplyEspLocked(const std::vector<EspPeerConfig>& next);
  // The store's requests (status's "store", "store", "subnet"); null when off.
  nlohmann::json StoreRequest(const std::string& cmd);

  // The engine's paths.
  static constexpr uint32_t kRxPath = 0;  // underlay -> containers
  static constexpr uint32_t kTxPath = 1;  // containers -> underlay

  std::mutex cfg_mu_;  // cfg_ against Reload
  Config cfg_;
  ConfigSource config_source_;
  std::chrono::steady_clock::time_point started_at_;
  std::unique_ptr<Fdb> fdb_;
  std::unique_ptr<PacketPool> udp_pool_;  // received datagrams
  std::unique_ptr<PacketPool> tap_pool_;  // frames from the containers (64 KiB)
  std::unique_ptr<PacketPool> hdr_pool_;  // TSO segment headers
  std::unique_ptr<TapSet> taps_;
  std::unique_ptr<UdpPort> udp_;
  // Encrypted peers (docs/ESP.md): only when some peer is encrypted at start.
  std::unique_ptr<esp::EspSaTable> esp_table_;
  std::unique_ptr<EspKeys> esp_keys_;
  std::unique_ptr<UdpPort> esp_udp_;       // ESP in UDP on underlay.esp_port
  std::unique_ptr<UnderlayPair> underlay_;  // both sockets, as the engine's port
  std::unique_ptr<StageChain> rx_chain_, tx_chain_;
  std::unique_ptr<Engine> engine_;

  // Store mode: remote hosts' subnets (read by the tx path), the agent
  // that fills them, and the peers it gave the UDP port.
  std::unique_ptr<RemoteSubnets> remote_subnets_;
  std::unique_ptr<StoreAgent> store_;
  std::mutex peers_mu_;  // static_peers_, store_peers_, and SetPeers from either side
  std::vector<wire::IpAddr> static_peers_;  // underlay.peers
  std::vector<wire::IpAddr> store_peers_;
  std::string store_peer_error_;  // guarded by peers_mu_: the last SetPeers refusal
  uint8_t store_family_ = 0;      // the underlay's family, fixed at start
  uint32_t store_bad_vni_ = 0;    // agent thread only: a VNI already reported as missing

  std::mutex ports_mu_;  // serializes AddPort/RemovePort
  std::map<std::string, uint16_t> ports_;  // name -> id
  bool running_ = false;
};

}  // namespace mflow::daemon

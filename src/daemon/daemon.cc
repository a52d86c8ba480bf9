#include "daemon/daemon.h"

#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "daemon/log.h"
#include "port/tap_device.h"
#include "stage/datapath.h"

namespace mflow::daemon {
namespace {

// Pool sizes. Received datagrams: enough for every queue and merge window of
// the rx path at full depth. TAP frames are up to 64 KiB each, so fewer;
// each becomes up to ~46 segment headers on the tx side.
constexpr uint32_t kUdpPoolCount = 16384;
constexpr uint32_t kTapPoolCount = 512;
constexpr uint32_t kHdrPoolCount = 32768;
constexpr uint32_t kHdrBufSize = 512;  // kHeadroom + the largest L2..L4 headers
// The tx path's unit is a TAP frame, usually a 64 KiB super-frame of ~45
// segments: a few make a micro-flow of the size the rx side uses.
constexpr uint32_t kTxMicroflowFrames = 4;

uint32_t RoundUp(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

}  // namespace

StatusOr<std::unique_ptr<Daemon>> Daemon::Create(const Config& cfg) {
  if (Status s = Validate(cfg); !s.ok()) return s;
  std::unique_ptr<Daemon> d(new Daemon(cfg));
  if (Status s = d->Init(); !s.ok()) return s;
  return d;
}

Daemon::~Daemon() { Stop(); }

Status Daemon::Init() {
  FdbConfig fc;
  fc.capacity = cfg_.fdb_size;
  fc.age_ms = uint64_t{cfg_.fdb_age_s} * 1000;
  auto fdb = Fdb::Create(fc);
  if (!fdb.ok()) return Status::Error("overlay.fdb_size: " + fdb.status().message());
  fdb_ = std::move(fdb).value();

  auto pool = [](const char* name, uint32_t count, uint32_t size) {
    return PacketPool::Create({name, count, size});
  };
  auto up = pool("underlay-rx", kUdpPoolCount, RoundUp(kHeadroom + cfg_.mtu + 64, 64));
  auto tp = pool("tap-rx", kTapPoolCount, kTapRxBufSize);
  // Encrypted segments are linearised into their header buffer (the AES
  // pass is the copy): with ESP peers those hold a whole datagram.
  const bool esp = !cfg_.esp.empty();
  auto hp = esp ? pool("tso-headers", kHdrPoolCount / 4, RoundUp(kHeadroom + cfg_.mtu + 128, 64))
                : pool("tso-headers", kHdrPoolCount, kHdrBufSize);
  for (auto* p : {&up, &tp, &hp})
    if (!p->ok()) return p->status();
  udp_pool_ = std::move(up).value();
  tap_pool_ = std::move(tp).value();
  hdr_pool_ = std::move(hp).value();

  auto taps = TapSet::Create(tap_pool_.get());
  if (!taps.ok()) return taps.status();
  taps_ = std::move(taps).value();
  UdpPortConfig uc;
  uc.local = cfg_.local;
  uc.port = cfg_.port;
  uc.peers = esp ? PlainPeers(cfg_.peers, cfg_.esp) : cfg_.peers;
  uc.gso = cfg_.gso;
  uc.gro = cfg_.gro;
  uc.socket_buffer = cfg_.socket_buffer;
  uc.flood_pps = cfg_.flood_pps;
  uc.flood_burst = cfg_.flood_burst;
  auto udp = UdpPort::Open(uc, udp_pool_.get(), taps_.get());
  if (!udp.ok()) return udp.status();
  udp_ = std::move(udp).value();
  if (cfg_.gro && !udp_->gro())
    LogWarn("UDP_GRO refused by the kernel: receiving one datagram per call slot",
            {{"feature", "udp_gro"}});
  if (!udp_->local_present())
    LogWarn("underlay.local is not an address of this host (yet): bound anyway; nothing is "
            "sent or received until it is configured",
            {{"local", cfg_.local.ToString()}});
  if (cfg_.gso && !udp_->gso())
    LogWarn("UDP_SEGMENT refused by the kernel: sending one datagram per segment",
            {{"feature", "udp_gso"}});

  if (esp) {
    UdpPortConfig ec = uc;
    ec.port = cfg_.esp_port;
    ec.peers = EspPeers(cfg_.esp);
    auto eu = UdpPort::Open(ec, udp_pool_.get(), nullptr);  // never floods nor hairpins
    if (!eu.ok()) return eu.status().Prefixed("underlay.esp_port: ");
    esp_udp_ = std::move(eu).value();
    underlay_ = std::make_unique<UnderlayPair>(udp_.get(), esp_udp_.get());
    auto table = esp::EspSaTable::Create(cfg_.workers);
    if (!table.ok()) return table.status();
    esp_table_ = std::move(table).value();
    esp_keys_ = std::make_unique<EspKeys>(esp_table_.get());
    std::vector<std::string> what;
    if (Status s = esp_keys_->Apply(cfg_.esp, CoarseMs(), &what); !s.ok()) return s;
    for (const std::string& w : what) LogInfo("esp", {{"change", w}});
  }

  DataPathConfig dp;
  dp.esp = esp_table_.get();
  dp.flood_limiter = udp_->flood_limiter();
  dp.vnis = cfg_.vnis;
  dp.peers = cfg_.peers;
  dp.local_vtep = cfg_.local;
  dp.inner_mtu = cfg_.inner_mtu();
  dp.coalesce = cfg_.coalesce;
  dp.socket_underlay = true;
  dp.fdb = fdb_.get();
  static_peers_ = uc.peers;  // the plain peers: the VXLAN socket's
  if (cfg_.store.enabled()) {
    remote_subnets_ = std::make_unique<RemoteSubnets>();
    dp.remote_subnets = remote_subnets_.get();
  }
  auto rxc = BuildRxChain(dp);
  if (!rxc.ok()) return rxc.status();
  auto txc = BuildTxChain(dp);
  if (!txc.ok()) return txc.status();
  rx_chain_ = std::move(rxc).value();
  tx_chain_ = std::move(txc).value();

  EngineConfig ec;
  ec.mode = cfg_.mode;
  ec.workers = cfg_.workers;
  ec.cpus = cfg_.cpus;
  ec.microflow_size = cfg_.microflow_size;
  ec.merge_depth = cfg_.merge_depth;
  ec.elephant_pps = cfg_.elephant_pps;
  ec.classify = esp ? ClassifyRxSocketEsp : ClassifyRxSocket;
  // Each poll of a socket or TAP is a system call, and the cores are shared
  // with the containers we serve: poll briefly, then block in the port.
  ec.idle_spins = cfg_.idle_polls;
  ec.idle_poll_us = cfg_.idle_poll_us;
  ec.placement = cfg_.placement;
  // One engine, both directions on the same workers: the worker that
  // writes data into a container's TAP reads the container's ACK straight
  // back, and the one that sends a super-frame to the underlay picks up the
  // peer's ACKs, with no other thread to wake (docs/ARCHITECTURE.md).
  EnginePath rx;
  rx.chain = rx_chain_.get();
  rx.rx = esp ? static_cast<RxPort*>(underlay_.get()) : udp_.get();
  rx.tx = taps_.get();
  rx.pool = udp_pool_.get();
  EnginePath tx;
  tx.chain = tx_chain_.get();
  tx.rx = taps_.get();
  tx.tx = esp ? static_cast<TxPort*>(underlay_.get()) : udp_.get();
  if (esp) tx.wire_seq = esp_table_->tx_seq();  // ESP sequence numbers at the split point
  tx.pool = hdr_pool_.get();
  tx.classify = ClassifyTxPort;
  tx.microflow_size = std::min(kTxMicroflowFrames, cfg_.microflow_size);
  tx.rx_burst = 32;
  auto engine = Engine::Create(ec, {rx, tx});
  if (!engine.ok()) return Status::Error("engine: " + engine.status().message());
  engine_ = std::move(engine).value();

  for (const PortConfig& p : cfg_.ports)
    if (auto id = AddPort(p); !id.ok()) return id.status();
  return InitStore();
}

void Daemon::Start() {
  if (running_) return;
  engine_->Start();
  running_ = true;
  if (store_) store_->Start();
}

void Daemon::Stop() {
  if (store_) store_->Stop();
  if (running_) {
    engine_->Stop();
    running_ = false;
  }
  std::lock_guard<std::mutex> lock(ports_mu_);
  for (const auto& [name, id] : ports_) {
    if (Status s = taps_->Remove(id); s.ok())
      LogInfo("port removed", {{"name", name}, {"id", id}});
  }
  ports_.clear();
}

StatusOr<uint16_t> Daemon::AddPort(const PortConfig& p) {
  std::lock_guard<std::mutex> lock(ports_mu_);
  const std::string what = "port " + p.name + ": ";
  if (Status s = CheckPort(p); !s.ok()) return s.Prefixed(what);
  if (ports_.contains(p.name))
    return Status::Error(StatusCode::kExists, what + "a port of that name exists");
  if (std::find(cfg_.vnis.begin(), cfg_.vnis.end(), p.vni) == cfg_.vnis.end())
    return Status::Error(StatusCode::kInvalid,
                         what + "vni " + std::to_string(p.vni) + " is not configured");
  if (p.mtu > cfg_.inner_mtu())
    return Status::Error(StatusCode::kInvalid, what + "mtu " + std::to_string(p.mtu) +
                                                   " exceeds the inner MTU " +
                                                   std::to_string(cfg_.inner_mtu()));
  // The lowest free id: ids index per-port state in the data path.
  uint16_t id = 0;
  for (;; ++id) {
    if (id >= TapSet::kMaxPorts)
      return Status::Error(StatusCode::kBusy, what + "no free port id (" +
                                                  std::to_string(TapSet::kMaxPorts) + " ports)");
    bool used = false;
    for (const auto& [n, i] : ports_) used |= i == id;
    if (!used) break;
  }
  TapConfig tc;
  tc.ifname = p.device();
  tc.netns = p.netns;
  tc.mtu = p.mtu != 0 ? p.mtu : cfg_.inner_mtu();
  tc.addresses = p.addresses;
  tc.gateway = p.gateway;
  tc.routes = p.routes;
  tc.offload = cfg_.tso;
  tc.tx_queue_len = cfg_.tap_txqueuelen;
  if (udp_->gso()) tc.gso_max_size = UdpPort::OneSendFrameSize(tc.mtu);
  if (!p.mac.empty()) tc.mac = *wire::MacAddr::Parse(p.mac);  // checked by CheckPort
  auto dev = TapDevice::Create(tc);
  if (!dev.ok()) return dev.status().Prefixed(what);
  const std::string offloads = (*dev)->offloads_string();
  if (cfg_.tso && offloads.find("tso4") == std::string::npos)
    LogWarn("TAP refused TSO: the container will send MTU-sized frames",
            {{"port", p.name}, {"offloads", offloads}});
  else if (cfg_.tso && offloads.find("uso4") == std::string::npos)
    LogInfo("TAP refused USO (Linux 6.2+): the container's kernel segments its UDP_SEGMENT sends",
            {{"port", p.name}, {"offloads", offloads}});
  if (Status s = taps_->Add(id, p.vni, std::move(dev).value()); !s.ok()) return s.Prefixed(what);
  ports_[p.name] = id;
  std::string addresses;
  for (const std::string& a : p.addresses) addresses += (addresses.empty() ? "" : " ") + a;
  LogInfo("port added", {{"name", p.name},
                         {"ifname", tc.ifname},
                         {"id", id},
                         {"netns", p.netns},
                         {"vni", p.vni},
                         {"addresses", addresses},
                         {"mtu", tc.mtu},
                         {"txqueuelen", tc.tx_queue_len},
                         {"offloads", offloads}});
  return id;
}

std::string Daemon::PortName(uint16_t id) {
  std::lock_guard<std::mutex> lock(ports_mu_);
  for (const auto& [n, i] : ports_)
    if (i == id) return n;
  return "";
}

Status Daemon::RemovePort(const std::string& name) {
  std::lock_guard<std::mutex> lock(ports_mu_);
  auto it = ports_.find(name);
  if (it == ports_.end()) return Status::Error(StatusCode::kNotFound, "port " + name + ": no such port");
  if (Status s = taps_->Remove(it->second); !s.ok()) return s;
  ports_.erase(it);
  // Entries pointing at the port would send its MACs' frames nowhere until
  // they age out; relearning the rest costs a flood each.
  fdb_->Flush();
  LogInfo("port removed", {{"name", name}});
  return Status::Ok();
}

StatusOr<Daemon::ReloadResult> Daemon::Reload() {
  std::lock_guard<std::mutex> lock(cfg_mu_);
  return ReloadLocked();
}

StatusOr<Daemon::ReloadResult> Daemon::ReloadLocked() {
  if (!config_source_) return Status::Error("reload: no config source");
  auto next = config_source_();
  if (!next.ok()) return Status::Error("reload refused, running config kept: " + next.status().message());
  const Config& n = *next;
  ReloadResult r;
  r.needs_restart = RestartOnlyChanges(cfg_, n);
  // All or nothing: what can be checked is checked before anything changes
  // (the config source validated the file; EspKeys::Check the SA table).
  // Then peers (reversible), the address (rebound back on failure) and the
  // SAs last: a step that fails undoes the ones before it, so a refused
  // reload leaves the running config and the SAs as they were.
  const auto refused = [](const Status& s) {
    return Status::Error("reload refused, running config kept: " + s.message());
  };
  const bool esp_changed = esp_keys_ != nullptr && !n.esp.empty() && !(n.esp == cfg_.esp);
  if (esp_changed) {
    if (Status s = esp_keys_->Check(n.esp); !s.ok()) return refused(s);
  }
  const bool peers_changed = n.peers != cfg_.peers || esp_changed;
  const std::vector<wire::IpAddr> plain_now =
      esp_keys_ ? PlainPeers(cfg_.peers, cfg_.esp) : cfg_.peers;
  if (peers_changed) {
    // With encrypted peers the VXLAN socket takes the plain ones only; the
    // store's peers join them (SetUdpPeersLocked).
    std::lock_guard<std::mutex> lock(peers_mu_);
    static_peers_ = esp_keys_ ? PlainPeers(n.peers, n.esp) : n.peers;
    if (Status s = SetUdpPeersLocked(); !s.ok()) {
      static_peers_ = plain_now;
      return refused(s);
    }
  }
  const bool local_changed = n.local != cfg_.local;
  if (local_changed) {
    Status s = udp_->Rebind(n.local);
    // The ESP socket moves with it (encrypted peers send to the same
    // address); if it cannot, the VXLAN socket goes back.
    if (s.ok() && esp_udp_ != nullptr) {
      s = esp_udp_->Rebind(n.local).Prefixed("underlay.esp_port: ");
      if (!s.ok()) (void)udp_->Rebind(cfg_.local);
    }
    if (!s.ok()) {
      if (peers_changed) RestoreStaticPeers(plain_now);
      return refused(s);
    }
  }
  if (esp_changed) {
    if (Status s = ApplyEspLocked(n.esp); !s.ok()) {
      // Back to the old address (it was bound a moment ago) and peers.
      if (local_changed) {
        (void)udp_->Rebind(cfg_.local);
        (void)esp_udp_->Rebind(cfg_.local);
      }
      RestoreStaticPeers(plain_now);
      return refused(s);
    }
    r.applied.emplace_back("underlay.esp");
    cfg_.esp = n.esp;
  }
  if (local_changed) {
    r.applied.emplace_back("underlay.local");
    cfg_.local = n.local;
    if (store_) store_->SetLocal(n.local);  // peers learn the new address from etcd
    if (!udp_->local_present())
      LogWarn("underlay.local is not an address of this host (yet): bound anyway",
              {{"local", cfg_.local.ToString()}});
  }
  if (peers_changed) {
    r.applied.emplace_back("underlay.peers");
    cfg_.peers = n.peers;
    // Learned entries may point at a peer that is gone; relearning costs a
    // flood per destination.
    fdb_->Flush();
  }
  if (n.log_level != cfg_.log_level) {
    if (Status s = LogSetLevel(n.log_level); s.ok()) {
      r.applied.emplace_back("daemon.log_level");
      cfg_.log_level = n.log_level;
    }
  }
  return r;
}

void Daemon::Maintain() {
  if (esp_keys_ != nullptr) {
    std::lock_guard<std::mutex> lock(cfg_mu_);
    std::vector<std::string> what;
    esp_keys_->Expire(CoarseMs(), &what);
    for (const std::string& w : what) LogInfo("esp", {{"change", w}});
  }
  for (uint16_t id : taps_->TakeGone()) {
    const std::string name = PortName(id);
    LogWarn("port gone: its device was deleted; removing it", {{"name", name}, {"id", id}});
    if (!name.empty()) {
      if (Status s = RemovePort(name); !s.ok()) LogError("port removal failed", {{"error", s.message()}});
    }
  }
}

uint64_t Daemon::out_of_order() const {
  return engine_->Stats(kRxPath).out_of_order + engine_->Stats(kTxPath).out_of_order;
}

void Daemon::LogStats() {
  const EngineStats rx = engine_->Stats(kRxPath);
  const EngineStats tx = engine_->Stats(kTxPath);
  LogInfo("stats", {{"rx_released", rx.released_packets},
                    {"rx_drops", rx.drops()},
                    {"tx_released", tx.released_packets},
                    {"tx_drops", tx.drops()},
                    {"out_of_order", rx.out_of_order + tx.out_of_order},
                    {"flows", rx.flows + tx.flows},
                    {"elephants", rx.elephants + tx.elephants}});
}

}  // namespace mflow::daemon

// The control socket's requests, answered from the daemon's live state
// (the protocol mflowctl speaks; docs/MFLOWCTL.md). Counters read while the
// data path runs are estimates of a moving target, never torn values that
// matter: each is a single word.
#include <unistd.h>

#include <cstdio>
#include <tuple>
#include <utility>

#include "daemon/copies.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "common/build_info.h"
#include "common/clock.h"

namespace mflow::daemon {
namespace {

using nlohmann::json;

// The reply's "code" (docs/MFLOWCTL.md): what a client such as the CNI
// plugin acts on without reading the message.
const char* CodeName(StatusCode c) {
  switch (c) {
    case StatusCode::kInvalid: return "invalid";
    case StatusCode::kExists: return "exists";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kOk:
    case StatusCode::kFailed: break;
  }
  return "failed";
}

json Error(const Status& s) {
  return json{{"ok", false}, {"error", s.message()}, {"code", CodeName(s.code())}};
}
json Error(const std::string& msg) { return Error(Status::Error(msg)); }
json Invalid(const std::string& msg) { return Error(Status::Error(StatusCode::kInvalid, msg)); }

json RoutesJson(const std::vector<IpRoute>& routes) {
  json list = json::array();
  for (const IpRoute& r : routes) {
    json j = {{"dst", r.dst}};
    if (!r.gw.empty()) j["gw"] = r.gw;
    list.push_back(j);
  }
  return list;
}

// A port-add request as a PortConfig; every field is type-checked, so a bad
// request is refused with its field named (and code "invalid") before
// anything is created.
StatusOr<PortConfig> PortFromRequest(const json& req) {
  auto invalid = [](const std::string& field, const std::string& what) {
    return Status::Error(StatusCode::kInvalid, "port-add: " + field + ": " + what);
  };
  PortConfig p;
  for (auto [key, out] : {std::pair{"name", &p.name}, std::pair{"ifname", &p.ifname},
                          std::pair{"netns", &p.netns}, std::pair{"mac", &p.mac},
                          std::pair{"gateway", &p.gateway}}) {
    if (!req.contains(key)) continue;
    if (!req[key].is_string()) return invalid(key, "must be a string");
    *out = req[key].get<std::string>();
  }
  for (auto [key, out, max] : {std::tuple{"vni", &p.vni, 0xffffffu}, std::tuple{"mtu", &p.mtu, 65535u}}) {
    if (!req.contains(key)) continue;
    if (!req[key].is_number_integer() || req[key].get<int64_t>() < 0 ||
        req[key].get<int64_t>() > static_cast<int64_t>(max))
      return invalid(key, "must be an integer 0.." + std::to_string(max));
    *out = req[key].get<uint32_t>();
  }
  if (req.contains("addresses")) {
    const json& a = req["addresses"];
    if (!a.is_array()) return invalid("addresses", "must be an array of CIDR strings");
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) return invalid("addresses[" + std::to_string(i) + "]", "must be a string");
      p.addresses.push_back(a[i].get<std::string>());
    }
  }
  // The single address of older clients comes after the list.
  if (req.contains("address")) {
    if (!req["address"].is_string()) return invalid("address", "must be a string");
    if (const std::string a = req["address"].get<std::string>(); !a.empty()) p.addresses.push_back(a);
  }
  if (req.contains("routes")) {
    const json& a = req["routes"];
    if (!a.is_array()) return invalid("routes", "must be an array of {\"dst\", \"gw\"}");
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string field = "routes[" + std::to_string(i) + "]";
      if (!a[i].is_object() || !a[i].contains("dst") || !a[i]["dst"].is_string() ||
          (a[i].contains("gw") && !a[i]["gw"].is_string()))
        return invalid(field, "must be {\"dst\": \"PREFIX\"} with an optional \"gw\": \"ADDRESS\"");
      p.routes.push_back({a[i]["dst"].get<std::string>(), a[i].value("gw", "")});
    }
  }
  if (p.name.empty()) return invalid("name", "is required");
  if (p.vni == 0) return invalid("vni", "is required");
  if (Status s = CheckPort(p); !s.ok()) return s.Prefixed("port-add: ");
  return p;
}

std::string FlowString(const wire::FlowKey& k) {
  if (k.family == 0) {
    wire::MacAddr src, dst;
    std::copy(k.src, k.src + 6, src.b.begin());
    std::copy(k.dst, k.dst + 6, dst.b.begin());
    return "eth " + src.ToString() + " > " + dst.ToString() + " vni " + std::to_string(k.vni);
  }
  wire::IpAddr s, d;
  s.family = d.family = k.family;
  std::copy(k.src, k.src + 16, s.bytes);
  std::copy(k.dst, k.dst + 16, d.bytes);
  const char* proto = k.proto == 6 ? "tcp" : k.proto == 17 ? "udp" : "ip";
  auto ep = [&](const wire::IpAddr& a, uint16_t port) {
    const std::string host = a.is_v6() ? "[" + a.ToString() + "]" : a.ToString();
    return k.proto == 6 || k.proto == 17 ? host + ":" + std::to_string(port) : host;
  };
  return std::string(proto) + " " + ep(s, k.sport) + " > " + ep(d, k.dport) + " vni " +
         std::to_string(k.vni);
}

json Drops(const std::vector<std::pair<std::string, uint64_t>>& drops, bool nonzero_only) {
  json j = json::object();
  for (const auto& [name, n] : drops)
    if (n != 0 || !nonzero_only) j[name] = n;
  return j;
}

}  // namespace

json Daemon::EngineJson(const char* name, uint32_t path) const {
  const Engine& e = *engine_;
  const EngineStats s = e.Stats(path);
  json stages = json::array();
  for (const StageStats& st : s.stages)
    stages.push_back({{"name", st.name}, {"in", st.in}, {"out", st.out}, {"drops", Drops(st.drops, true)}});
  json workers = json::array();
  for (const WorkerStats& w : s.workers)
    workers.push_back({{"microflows", w.microflows},
                       {"packets", w.packets},
                       {"rx_bursts", w.rx_bursts},
                       {"rx_packets", w.rx_packets},
                       {"sleeps", w.sleeps},
                       {"pushback_waits", w.pushback_waits},
                       {"mice_handoffs", w.mice_handoffs}});
  return {{"name", name},
          {"mode", SteeringModeName(e.config().mode)},
          {"microflow_size", e.microflow_size(path)},
          {"stages", stages},
          {"workers", workers},
          {"flows", s.flows},
          {"elephants", s.elephants},
          {"released_packets", s.released_packets},
          {"released_microflows", s.released_microflows},
          {"empty_microflows", s.empty_microflows},
          {"out_of_order", s.out_of_order},
          {"overflowed", s.overflowed},
          {"merge_errors", s.merge_errors},
          {"placement", {{"now", s.spread ? "spread" : "home"},
                         {"solo", s.solo},
                         {"trials", s.placement_trials},
                         {"spread_wins", s.placement_spread_wins},
                         {"last_home_pps", s.placement_home_pps},
                         {"last_spread_pps", s.placement_spread_pps}}},
          {"drops", s.drops()}};
}

json Daemon::Handle(const json& req) {
  std::lock_guard<std::mutex> lock(cfg_mu_);
  return HandleLocked(req);
}

json Daemon::HandleLocked(const json& req) {
  const std::string cmd = req.value("cmd", "");
  if (cmd == "status") {
    json vnis = cfg_.vnis;
    const UdpPortInfo u = udp_->Snapshot();
    const auto ports = taps_->Snapshot();
    json port_list = json::array();
    for (const TapPortInfo& p : ports)
      port_list.push_back({{"name", PortName(p.id)}, {"ifname", p.name}, {"addresses", p.addresses}});
    std::string tap_offloads = "-";
    if (!ports.empty()) tap_offloads = ports.front().offloads_string;
    const double uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    return {{"ok", true},
            {"version", BuildVersion()},
            {"commit", BuildCommit()},
            {"pid", getpid()},
            {"uptime_s", uptime},
            {"mode", SteeringModeName(cfg_.mode)},
            {"workers", cfg_.workers},
            {"local", cfg_.local.ToString()},
            {"local_present", udp_->local_present()},
            {"underlay_mtu", cfg_.mtu},
            {"inner_mtu", cfg_.inner_mtu()},
            {"vnis", vnis},
            {"offloads", {{"tap", tap_offloads}, {"udp_gso", u.gso}, {"udp_gro", u.gro}}},
            {"tap_txqueuelen", cfg_.tap_txqueuelen},
            {"ports", ports.size()},
            {"port_list", port_list},
            {"peers", udp_->Snapshot().peers.size()},
            {"out_of_order", out_of_order()},
            {"store", store_ ? StoreRequest("status") : json(nullptr)}};
  }
  if (cmd == "store" || cmd == "subnet") return StoreRequest(cmd);
  if (cmd == "ports") {
    json list = json::array();
    for (const TapPortInfo& p : taps_->Snapshot())
      list.push_back({{"id", p.id},
                      {"name", PortName(p.id)},
                      {"ifname", p.name},
                      {"ifindex", p.ifindex},
                      {"netns", p.netns},
                      {"vni", p.vni},
                      {"mac", p.mac.ToString()},
                      {"mtu", p.mtu},
                      // What mflowd set at creation ([overlay] tap_txqueuelen,
                      // restart-only, so the same for every port).
                      {"txqueuelen", cfg_.tap_txqueuelen},
                      {"addresses", p.addresses},
                      {"address", p.addresses.empty() ? std::string() : p.addresses.front()},
                      {"routes", RoutesJson(p.routes)},
                      {"offloads", p.offloads_string},
                      {"rx_frames", p.rx_frames},
                      {"rx_bytes", p.rx_bytes},
                      {"tx_frames", p.tx_frames},
                      {"tx_bytes", p.tx_bytes},
                      {"drops", Drops(p.drops, false)}});
    return {{"ok", true}, {"ports", list}, {"drops", Drops(taps_->Drops(), false)}};
  }
  if (cmd == "peers") {
    const UdpPortInfo u = udp_->Snapshot();
    json list = json::array();
    for (const UdpPeerInfo& p : u.peers)
      list.push_back({{"address", p.address},
                      {"tx_datagrams", p.tx_datagrams},
                      {"tx_bytes", p.tx_bytes},
                      {"rx_datagrams", p.rx_datagrams},
                      {"rx_bytes", p.rx_bytes}});
    json reply = {{"ok", true}, {"peers", list}, {"gso_sends", u.gso_sends}, {"gro_receives", u.gro_receives}, {"drops", Drops(u.drops, false)}};
    if (esp_udp_ != nullptr) {
      // Encrypted peers: the ESP socket's counters and the SAs by SPI (never keys).
      const UdpPortInfo e = esp_udp_->Snapshot();
      json elist = json::array();
      for (const UdpPeerInfo& p : e.peers) {
        json in = json::array(), out = json::array();
        for (uint32_t i = 0; i < esp::EspSaTable::kMaxInbound; ++i) {
          const esp::EspSaTable::Inbound& sa = esp_table_->inbound(i);
          if (sa.live.load(std::memory_order_acquire) && sa.peer.ToString() == p.address)
            in.push_back(sa.sa.spi);
        }
        // The outbound SA's numbering; without ESN, how many numbers are
        // left before it must be rekeyed (its packets drop after that).
        json seq = nullptr;
        for (const esp::EspSaTable::OutboundState& o : esp_table_->OutboundStates()) {
          if (o.peer.ToString() != p.address) continue;
          out.push_back(o.spi);
          seq = {{"spi", o.spi}, {"esn", o.esn}, {"next", o.next_seq}};
          if (!o.esn) seq["left"] = o.seq_left;
        }
        elist.push_back({{"address", p.address},
                         {"inbound_spis", in},
                         {"outbound_spis", out},
                         {"outbound_seq", seq},
                         {"tx_datagrams", p.tx_datagrams},
                         {"tx_bytes", p.tx_bytes},
                         {"rx_datagrams", p.rx_datagrams},
                         {"rx_bytes", p.rx_bytes}});
      }
      reply["esp_peers"] = elist;
      reply["esp_drops"] = Drops(e.drops, false);
    }
    return reply;
  }
  if (cmd == "fdb") {
    const uint64_t now = CoarseMs();
    json list = json::array();
    for (const FdbEntry& e : fdb_->Snapshot(now)) {
      json j = {{"vni", e.vni},
                {"mac", e.mac.ToString()},
                {"age_ms", now > e.last_seen_ms ? now - e.last_seen_ms : 0}};
      if (e.value.kind == FdbValue::Kind::kLocal) {
        j["kind"] = "local";
        j["port"] = e.value.port;
      } else {
        j["kind"] = "remote";
        j["vtep"] = e.value.vtep.ToString();
      }
      list.push_back(j);
    }
    return {{"ok", true}, {"entries", list}, {"capacity", fdb_->capacity()}};
  }
  if (cmd == "stats") {
    const CopyStats copies = Copies();
    json rx = EngineJson("rx", kRxPath), tx = EngineJson("tx", kTxPath);
    rx["copies"] = CopiesJson(copies.rx);
    tx["copies"] = CopiesJson(copies.tx);
    return {{"ok", true}, {"engines", json::array({std::move(rx), std::move(tx)})}};
  }
  if (cmd == "flows") {
    constexpr size_t kMaxFlows = 1000;
    json list = json::array();
    for (const auto& [name, path] : {std::pair{"rx", kRxPath}, std::pair{"tx", kTxPath}})
      for (const FlowStats& f : engine_->Flows(kMaxFlows, path))
        list.push_back({{"engine", name},
                        {"flow", FlowString(f.key)},
                        {"elephant", f.elephant},
                        {"packets", f.packets},
                        {"microflows", f.microflows},
                        {"empty_microflows", f.empty_microflows},
                        {"in_flight", f.in_flight},
                        {"out_of_order", f.out_of_order}});
    return {{"ok", true}, {"flows", list}};
  }
  if (cmd == "port-add") {
    auto p = PortFromRequest(req);
    if (!p.ok()) return Error(p.status());
    auto id = AddPort(*p);
    if (!id.ok()) return Error(id.status());
    json reply = {{"ok", true}, {"id", *id}, {"name", p->name}, {"ifname", p->device()}};
    for (const TapPortInfo& i : taps_->Snapshot()) {
      if (i.id != *id) continue;
      reply["ifname"] = i.name;
      reply["mac"] = i.mac.ToString();
      reply["mtu"] = i.mtu;
      reply["ifindex"] = i.ifindex;
      reply["addresses"] = i.addresses;
      reply["routes"] = RoutesJson(i.routes);
    }
    return reply;
  }
  if (cmd == "port-del") {
    if (!req.contains("name") || !req["name"].is_string() || req["name"].get<std::string>().empty())
      return Invalid("port-del: name: is required (a string)");
    if (Status s = RemovePort(req["name"].get<std::string>()); !s.ok()) return Error(s);
    return {{"ok", true}};
  }
  if (cmd == "reload") {
    auto r = ReloadLocked();
    if (!r.ok()) return Error(r.status().message());
    return {{"ok", true}, {"applied", r->applied}, {"needs_restart", r->needs_restart}};
  }
  return Invalid("unknown command '" + cmd +
               "' (status, ports, peers, fdb, stats, flows, port-add, port-del, reload, store, subnet)");
}

}  // namespace mflow::daemon

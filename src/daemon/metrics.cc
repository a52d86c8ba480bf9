// mflowd's metrics: the snapshot of the daemon's counters, its families,
// and the HTTP endpoint (metrics.h; every metric: docs/METRICS.md).
#include "daemon/metrics.h"

#include <algorithm>
#include <limits>
#include <map>

#include <civetweb.h>
#include <prometheus/exposer.h>

#include "common/build_info.h"
#include "common/clock.h"
#include "daemon/daemon.h"

namespace mflow::daemon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<std::pair<std::string, std::string>>;

// One family being filled: Add sets the value the family's type reads.
// Holds an index, not a reference: later families grow the vector.
class Family {
 public:
  Family(std::vector<MetricFamily>& out, const char* name, const char* help, MetricType type)
      : out_(out), i_(out.size()) {
    MetricFamily& f = out.emplace_back();
    f.name = name;
    f.help = help;
    f.type = type;
  }
  ClientMetric& Add(const Labels& labels, double v = 0) {
    MetricFamily& f = out_[i_];
    ClientMetric& m = f.metric.emplace_back();
    for (const auto& [k, val] : labels) m.label.push_back({k, val});
    if (f.type == MetricType::Counter) m.counter.value = v;
    if (f.type == MetricType::Gauge) m.gauge.value = v;
    return m;
  }

 private:
  std::vector<MetricFamily>& out_;
  size_t i_;
};

double D(uint64_t v) { return static_cast<double>(v); }

struct Path {
  const char* engine;
  const EngineStats* s;
};

// Stage drops by reason, zeros included (a series that exists from the
// start lets rate() and increase() see its first drops).
void StageDrops(Family& fam, const Path& p) {
  for (const StageStats& st : p.s->stages) {
    std::map<std::string, uint64_t> left(st.drops.begin(), st.drops.end());
    for (const std::string& r : st.reasons) {
      const auto it = left.find(st.name + "_" + r);
      fam.Add({{"engine", p.engine}, {"stage", st.name}, {"reason", r}},
              it != left.end() ? D(it->second) : 0);
      if (it != left.end()) left.erase(it);
    }
    for (const auto& [name, n] : left)  // a reason index the stage has no name for
      fam.Add({{"engine", p.engine}, {"stage", st.name}, {"reason", name.substr(st.name.size() + 1)}},
              D(n));
  }
}

void Histogram(Family& fam, const Path& p) {
  const MicroflowLatency& h = p.s->latency;
  ClientMetric& m = fam.Add({{"engine", p.engine}});
  uint64_t cumulative = 0;
  for (uint32_t i = 0; i < MicroflowLatency::kBuckets; ++i) {
    cumulative += h.buckets[i];
    const double le = i < MicroflowLatency::kBoundsNs.size()
                          ? D(MicroflowLatency::kBoundsNs[i]) / 1e9
                          : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, le});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = D(h.sum_ns) / 1e9;
}

}  // namespace

std::vector<MetricFamily> MetricFamilies(const MetricsSnapshot& s) {
  std::vector<MetricFamily> out;
  const Path paths[] = {{"rx", &s.rx}, {"tx", &s.tx}};
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;

  Family(out, "mflow_build_info", "mflowd's version and settings; always 1", G)
      .Add({{"version", s.version},
            {"commit", s.commit},
            {"mode", s.mode},
            {"workers", std::to_string(s.workers)},
            {"udp_gso", s.udp_gso ? "true" : "false"},
            {"udp_gro", s.udp_gro ? "true" : "false"}},
           1);
  Family(out, "mflow_uptime_seconds", "Seconds since mflowd started", G).Add({}, s.uptime_s);

  // Container ports (TAP devices): rx = container -> mflow, tx = mflow ->
  // container; a TSO super-frame counts as one packet.
  {
    Family pk(out, "mflow_port_packets_total",
              "Frames through a container port (rx: from the container, tx: to it; a TSO super-frame "
              "counts once)",
              C);
    Family by(out, "mflow_port_bytes_total", "Bytes through a container port", C);
    Family dr(out, "mflow_port_drops_total", "Frames a container port dropped, by reason", C);
    for (const TapPortInfo& p : s.ports) {
      pk.Add({{"port", p.name}, {"direction", "rx"}}, D(p.rx_frames));
      pk.Add({{"port", p.name}, {"direction", "tx"}}, D(p.tx_frames));
      by.Add({{"port", p.name}, {"direction", "rx"}}, D(p.rx_bytes));
      by.Add({{"port", p.name}, {"direction", "tx"}}, D(p.tx_bytes));
      for (const auto& [reason, n] : p.drops) dr.Add({{"port", p.name}, {"reason", reason}}, D(n));
    }
    Family td(out, "mflow_tap_drops_total",
              "Frames the container ports dropped that belong to no port, by reason", C);
    for (const auto& [reason, n] : s.tap_drops) td.Add({{"reason", reason}}, D(n));
    Family(out, "mflow_ports", "Container ports", G).Add({}, D(s.ports.size()));
  }

  // The underlay: per peer VTEP, and the socket's drops.
  {
    Family pk(out, "mflow_peer_packets_total",
              "VXLAN datagrams to (tx) and from (rx) a peer VTEP (a GSO send counts its segments)", C);
    Family by(out, "mflow_peer_bytes_total", "UDP payload bytes to (tx) and from (rx) a peer VTEP",
              C);
    for (const UdpPeerInfo& p : s.udp.peers) {
      pk.Add({{"peer", p.address}, {"direction", "rx"}}, D(p.rx_datagrams));
      pk.Add({{"peer", p.address}, {"direction", "tx"}}, D(p.tx_datagrams));
      by.Add({{"peer", p.address}, {"direction", "rx"}}, D(p.rx_bytes));
      by.Add({{"peer", p.address}, {"direction", "tx"}}, D(p.tx_bytes));
    }
    Family dr(out, "mflow_underlay_drops_total", "Datagrams the underlay UDP port dropped, by reason",
              C);
    for (const auto& [reason, n] : s.udp.drops) dr.Add({{"reason", reason}}, D(n));
    Family(out, "mflow_underlay_gso_sends_total", "Super-datagrams sent with UDP_SEGMENT", C)
        .Add({}, D(s.udp.gso_sends));
    Family(out, "mflow_underlay_gro_receives_total", "Super-datagrams received with UDP_GRO", C)
        .Add({}, D(s.udp.gro_receives));
    Family(out, "mflow_peers", "Configured peer VTEPs", G).Add({}, D(s.udp.peers.size()));
  }

  // Copies per path (port/copy_stats.h, docs/COPIES.md): bytes copied by
  // the kernel at the ports' system calls and by mflowd itself, and the
  // bytes the path delivered; their ratio is the copies per byte.
  {
    Family cp(out, "mflow_copied_bytes_total",
              "Bytes copied on a path: kind=kernel at the ports' system calls (TAP read/write, "
              "UDP receive/send), kind=user by mflowd's own memcpy of payload",
              C);
    Family dl(out, "mflow_delivered_bytes_total",
              "Bytes a path delivered (rx: written to the containers' TAPs; tx: sent on the "
              "underlay sockets)",
              C);
    const std::pair<const char*, const PathCopies*> copies[] = {{"rx", &s.copies.rx},
                                                                {"tx", &s.copies.tx}};
    for (const auto& [engine, c] : copies) {
      cp.Add({{"engine", engine}, {"kind", "kernel"}}, D(c->kernel_bytes));
      cp.Add({{"engine", engine}, {"kind", "user"}}, D(c->user_bytes));
      dl.Add({{"engine", engine}}, D(c->delivered_bytes));
    }
  }

  // The engine, per path (engine="rx": underlay -> containers, "tx": back).
  {
    Family in(out, "mflow_stage_input_packets_total", "Packets entering a stage", C);
    Family outp(out, "mflow_stage_output_packets_total", "Packets leaving a stage", C);
    Family dr(out, "mflow_engine_drops_total", "Packets a stage dropped, by stage and reason", C);
    for (const Path& p : paths) {
      for (const StageStats& st : p.s->stages) {
        in.Add({{"engine", p.engine}, {"stage", st.name}}, D(st.in));
        outp.Add({{"engine", p.engine}, {"stage", st.name}}, D(st.out));
      }
      StageDrops(dr, p);
    }
  }
  struct EngineCounter {
    const char* name;
    const char* help;
    MetricType type;
    uint64_t EngineStats::*field;
  };
  static const EngineCounter kEngine[] = {
      {"mflow_engine_released_packets_total",
       "Packets the engine handed to the TX port (after coalescing and segmentation)", C,
       &EngineStats::released_packets},
      {"mflow_engine_released_microflows_total", "Micro-flows released in order to the TX port", C,
       &EngineStats::released_microflows},
      {"mflow_engine_empty_microflows_total",
       "Micro-flows released empty (the stages dropped every packet)", C,
       &EngineStats::empty_microflows},
      {"mflow_engine_out_of_order_packets_total",
       "Packets released below an earlier one of their flow (must stay 0)", C,
       &EngineStats::out_of_order},
      {"mflow_engine_overflow_packets_total",
       "Packets that found no flow slot and shared the overflow flow", C,
       &EngineStats::overflowed},
      {"mflow_engine_merge_errors_total", "Merge invariants broken (must stay 0)", C,
       &EngineStats::merge_errors},
      {"mflow_engine_flows", "Flows in the flow table that carried traffic", G, &EngineStats::flows},
      {"mflow_engine_elephants", "Flows in the flow table that are elephants now", G,
       &EngineStats::elephants},
  };
  for (const EngineCounter& c : kEngine) {
    Family fam(out, c.name, c.help, c.type);
    for (const Path& p : paths) fam.Add({{"engine", p.engine}}, D(p.s->*c.field));
  }
  {
    Family h(out, "mflow_engine_microflow_latency_seconds",
             "Time from the split point reading a micro-flow's first packet to its release to the TX "
             "port (queueing, stages, merge wait), per micro-flow that carried packets",
             MetricType::Histogram);
    for (const Path& p : paths) Histogram(h, p);
  }

  // Workers, per path (what each worker did for that direction) and per
  // thread (sleeps and CPU time serve both directions).
  struct WorkerCounter {
    const char* name;
    const char* help;
    uint64_t WorkerStats::*field;
  };
  static const WorkerCounter kWorker[] = {
      {"mflow_worker_microflows_total", "Micro-flows (stage mode: stage groups) a worker processed",
       &WorkerStats::microflows},
      {"mflow_worker_packets_total", "Packets entering the stage chain on a worker",
       &WorkerStats::packets},
      {"mflow_worker_rx_bursts_total", "Bursts a worker read from the RX port as the split point",
       &WorkerStats::rx_bursts},
      {"mflow_worker_rx_packets_total", "Packets a worker read from the RX port as the split point",
       &WorkerStats::rx_packets},
      {"mflow_worker_pushback_waits_total",
       "Times the split point waited for room in a bounded queue (a flow's merge, a worker's "
       "queue, the micro-flow pool) instead of dropping",
       &WorkerStats::pushback_waits},
      {"mflow_worker_mice_handoffs_total", "Mice micro-flows a worker handed to a peer worker",
       &WorkerStats::mice_handoffs},
  };
  for (const WorkerCounter& c : kWorker) {
    Family fam(out, c.name, c.help, C);
    for (const Path& p : paths)
      for (size_t i = 0; i < p.s->workers.size(); ++i)
        fam.Add({{"engine", p.engine}, {"worker", std::to_string(i)}}, D(p.s->workers[i].*c.field));
  }
  {
    Family busy(out, "mflow_worker_busy_seconds_total",
                "CPU time of a worker thread (user + system), read from its CPU clock", C);
    Family sleeps(out, "mflow_worker_sleeps_total", "Times an idle worker blocked or slept", C);
    for (size_t i = 0; i < s.rx.workers.size(); ++i) {
      busy.Add({{"worker", std::to_string(i)}}, D(s.rx.workers[i].cpu_ns) / 1e9);
      sleeps.Add({{"worker", std::to_string(i)}}, D(s.rx.workers[i].sleeps));
    }
  }

  // Placement beside elephants (microflow mode; engine-wide).
  Family(out, "mflow_placement_spread",
         "1 while the engine spreads elephants' micro-flows over the workers, 0 while it keeps them "
         "home",
         G)
      .Add({}, s.rx.spread ? 1 : 0);
  Family(out, "mflow_placement_solo", "1 while worker 0 alone reads (home beside a TCP elephant)", G)
      .Add({}, s.rx.solo ? 1 : 0);
  Family(out, "mflow_placement_trials_total", "Placement trials run (home against spread)", C)
      .Add({}, D(s.rx.placement_trials));
  Family(out, "mflow_placement_spread_wins_total", "Placement trials that spreading won", C)
      .Add({}, D(s.rx.placement_spread_wins));
  {
    Family pps(out, "mflow_placement_last_trial_packets_per_second",
               "Elephant packets per second in the last placement trial, by placement", G);
    pps.Add({{"placement", "home"}}, D(s.rx.placement_home_pps));
    pps.Add({{"placement", "spread"}}, D(s.rx.placement_spread_pps));
  }

  // Tables and pools.
  Family(out, "mflow_fdb_entries", "Forwarding-table entries (not aged out)", G).Add({}, s.fdb_entries);
  Family(out, "mflow_fdb_capacity", "Forwarding-table slots", G).Add({}, s.fdb_capacity);
  {
    Family use(out, "mflow_pool_packets_in_use", "Packets of a pool in use (not free)", G);
    Family cap(out, "mflow_pool_packets", "Packets in a pool", G);
    for (const PoolUse& p : s.pools) {
      use.Add({{"pool", p.name}}, p.in_use);
      cap.Add({{"pool", p.name}}, p.capacity);
    }
  }
  return out;
}

MetricsSnapshot Daemon::Metrics() const {
  MetricsSnapshot s;
  s.version = BuildVersion();
  s.commit = BuildCommit();
  s.mode = std::string(SteeringModeName(engine_->config().mode));
  s.workers = engine_->config().workers;
  s.rx = engine_->Stats(kRxPath);
  s.tx = engine_->Stats(kTxPath);
  s.ports = taps_->Snapshot();
  s.tap_drops = taps_->Drops();
  s.udp = udp_->Snapshot();
  s.copies = Copies();
  s.udp_gso = s.udp.gso;
  s.udp_gro = s.udp.gro;
  s.fdb_entries = fdb_->Size(CoarseMs());
  s.fdb_capacity = fdb_->capacity();
  for (const PacketPool* p : {udp_pool_.get(), tap_pool_.get(), hdr_pool_.get()})
    s.pools.push_back({p->name(), p->count(), p->count() - p->available()});
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  return s;
}

// ---- the endpoint

Status CheckMetricsAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    return Status::Error("'" + address + "' is not ADDRESS:PORT (e.g. 127.0.0.1:9464, [::1]:9464)");
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  const auto ip = wire::IpAddr::Parse(host);
  if (!ip) return Status::Error("'" + host + "' is not an IPv4 or IPv6 address");
  if (ip->is_v6() != bracketed)
    return Status::Error(ip->is_v6() ? "an IPv6 address goes in brackets: [" + host + "]:" + port
                                     : "'" + address + "': brackets are for IPv6 addresses");
  const bool digits =
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (port.size() > 5 || !digits || std::stoul(port) > 65535)
    return Status::Error("port '" + port + "' is not 0..65535");
  return Status::Ok();
}

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::shared_ptr<MetricsCollector> collector) {
  if (Status s = CheckMetricsAddress(address); !s.ok()) return s;
  // civetweb serves IPv6 only when built with it (feature bit 8); Debian
  // 12's civetweb 1.15 is not, and would only say "null context".
  if (address.front() == '[' && mg_check_feature(8) == 0)
    return Status::Error("cannot serve metrics on " + address +
                         ": the civetweb library under prometheus-cpp was built without IPv6; "
                         "use an IPv4 address (e.g. 127.0.0.1:9464)");
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  m->collector_ = std::move(collector);
  // civetweb serves each connection on one of its threads until the
  // request is in: a client that connects and sends nothing holds a thread
  // for request_timeout_ms. With 8 threads and a 3 s timeout a scrape is
  // answered at once beside up to 7 such clients (measured: with more idle
  // clients than threads it waits until one times out); the data path never
  // waits on any. Idle threads cost nothing (civetweb's master thread wakes
  // about 0.6 times a second, its workers not at all).
  std::vector<std::string> options = {"listening_ports",    address, "num_threads",       "8",
                                      "request_timeout_ms", "3000",  "enable_keep_alive", "no"};
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception& e) {
    return Status::Error("cannot serve metrics on " + address + ": " + e.what());
  }
  m->exposer_->RegisterCollectable(m->collector_, "/metrics");
  const std::vector<int> ports = m->exposer_->GetListeningPorts();
  m->port_ = ports.empty() ? 0 : ports.front();
  return m;
}

MetricsServer::~MetricsServer() {
  // Stop serving (joins civetweb's threads) before the collector goes.
  exposer_.reset();
}

}  // namespace mflow::daemon

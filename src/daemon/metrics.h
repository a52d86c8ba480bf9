// Prometheus metrics of mflowd (docs/METRICS.md lists every one).
//
// The data path keeps its own counters (per stage and worker in the engine,
// per port in the TAP set and the underlay port, relaxed single-writer
// atomics). Nothing here touches the data path: at scrape time the
// collector takes a MetricsSnapshot of those counters (the same reads as
// `mflowctl stats`) and turns it into prometheus-cpp MetricFamily objects;
// prometheus-cpp's Exposer (civetweb) serves them as the text format 0.0.4
// on /metrics. A scrape therefore costs the workers nothing but the
// packet pools' lock, taken once per pool to read how many packets are in
// use (the workers take it once per burst).
//
// Labels: engine (rx = underlay -> containers, tx = containers ->
// underlay), stage, reason, worker, port, peer, direction, pool. Never a
// per-flow label: the number of series is bounded by the configuration.
//
// Thread-safety: MetricsCollector::Collect from any thread (civetweb's);
// the snapshot source must be safe for that.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "common/status.h"
#include "engine/engine.h"
#include "port/copy_stats.h"
#include "port/tap_set.h"
#include "port/udp_port.h"

namespace prometheus {
class Exposer;
}

namespace mflow::daemon {

struct PoolUse {
  std::string name;
  uint32_t capacity = 0;
  uint32_t in_use = 0;
};

// Everything one scrape exports, read from the live daemon (or made up by
// a test).
struct MetricsSnapshot {
  // build info
  std::string version;
  std::string commit;  // BuildCommit(): which build answers, beside the version
  std::string mode;
  uint32_t workers = 0;
  bool udp_gso = false, udp_gro = false;
  // engine paths (rx, tx)
  EngineStats rx, tx;
  // container ports and the drops of the TAP set that belong to no port
  std::vector<TapPortInfo> ports;
  std::vector<std::pair<std::string, uint64_t>> tap_drops;
  // the underlay
  UdpPortInfo udp;
  // bytes copied per path (copy_stats.h)
  CopyStats copies;
  // tables and pools
  uint32_t fdb_entries = 0, fdb_capacity = 0;
  std::vector<PoolUse> pools;
  double uptime_s = 0;
};

// The families of one snapshot (pure: the unit test's entry point).
std::vector<prometheus::MetricFamily> MetricFamilies(const MetricsSnapshot& s);

class MetricsCollector final : public prometheus::Collectable {
 public:
  using Source = std::function<MetricsSnapshot()>;
  explicit MetricsCollector(Source source) : source_(std::move(source)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return MetricFamilies(source_()); }

 private:
  Source source_;
};

// The HTTP endpoint: serves `collector` on http://ADDRESS:PORT/metrics
// (every other path: 404) until destroyed. address: "IPv4:PORT" or
// "[IPv6]:PORT" (daemon.metrics, --metrics).
class MetricsServer {
 public:
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                        std::shared_ptr<MetricsCollector> collector);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // The bound TCP port (the one asked for, or the kernel's pick for port 0).
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// "127.0.0.1:9464", "[::1]:9464": whether an address is one Start takes
// (an IP literal and a port 0..65535); the error says what is wrong.
Status CheckMetricsAddress(const std::string& address);

}  // namespace mflow::daemon

// mflow-bench: the engine benchmark.
//
// Runs the overlay stage chain over in-process traffic in each steering mode,
// side by side in one process run, repeated, and reports throughput with its
// order figures: every configuration is measured once per repeat, modes
// interleaved, so that a noisy neighbour slows all of them alike; speedups
// are ratios within a repeat (median, min, max over repeats).
//
// Mice: with --flows > 1 the sink also measures each mouse packet's latency
// (from the source's hand-off to the engine to the sink). --scenario runs
// the same paced mice alone and beside the elephant, side by side in every
// repeat, and reports their p99 with the elephant over their p99 alone.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "bench/aead_rate.h"
#include "bench/esp_bench.h"
#include "bench/order_sink.h"
#include "bench/traffic_source.h"
#include "engine/engine.h"
#include "stage/datapath.h"

namespace mflow::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What the traffic source sends.
//   elephant        one elephant, mice every --mouse-every-th packet (the default)
//   mice            the mice alone, paced at --mouse-pps
//   mice+elephant   the same paced mice, the elephant filling the rest
enum class Scenario { kElephant, kMice, kMiceElephant };
std::string_view ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kElephant:
      return "elephant";
    case Scenario::kMice:
      return "mice";
    case Scenario::kMiceElephant:
      return "mice+elephant";
  }
  return "?";
}
Scenario ParseScenario(const std::string& s) {
  if (s == "mice") return Scenario::kMice;
  if (s == "mice+elephant") return Scenario::kMiceElephant;
  return Scenario::kElephant;
}

struct Options {
  std::vector<std::string> modes{"flow", "stage", "microflow"};
  std::vector<uint32_t> workers{1, 2};
  bool memcpy_only = false;
  bool aead_only = false;
  uint32_t flows = 1;
  uint32_t mouse_every = 10;
  std::vector<std::string> scenarios{"elephant"};
  uint64_t mouse_pps = 100000;
  uint32_t mouse_flow_packets = 0;
  uint32_t mouse_flow_ids = 8192;
  std::vector<uint32_t> sizes{1500};
  std::string proto = "tcp";
  std::vector<std::string> directions{"rx"};
  uint32_t gso_segs = 0;
  std::vector<uint32_t> mf_sizes{128};
  std::vector<std::string> merges{"queue"};
  uint32_t elephant_pps = 20000;
  // Spread by default: the bench measures what packet-level parallelism
  // buys on cores of its own; mflowd measures whether it pays (auto).
  std::string placement = "spread";
  uint32_t duration_ms = 1000;
  uint32_t warmup_ms = 200;
  uint32_t repeats = 3;
  bool pin = false;
  bool no_coalesce = false;
  bool verbose = false;
  std::vector<uint32_t> stage_cuts;
  std::string json;
  std::string esp;  // ESP stages in the chain: aes-128-gcm or aes-256-gcm (empty: none)
};

struct Config {
  SteeringMode mode;
  uint32_t workers;
  uint32_t size;
  Direction dir;
  uint32_t mf_size;
  MergeKind merge;
  Scenario scenario = Scenario::kElephant;
  // The configuration without its scenario: mice alone and beside the
  // elephant are compared within one base.
  std::string BaseKey() const {
    return std::string(SteeringModeName(mode)) + "/" + std::to_string(workers) + "/" +
           std::to_string(size) + "/" + (dir == Direction::kRx ? "rx" : "tx") + "/" +
           std::to_string(mf_size) + "/" + std::string(MergeKindName(merge));
  }
  std::string Key() const {
    return scenario == Scenario::kElephant ? BaseKey() : BaseKey() + "/" + std::string(ScenarioName(scenario));
  }
};

struct Sample {
  double gbps = 0;
  double mpps = 0;
  double cpu_cores = 0;  // worker CPU time / wall time over the whole run
  uint64_t packets = 0;  // segments delivered in the measured interval
  uint64_t generated = 0;
  uint64_t delivered = 0;
  uint64_t out_of_order = 0;  // sink: markers below the expected one
  uint64_t engine_out_of_order = 0;
  uint64_t lost = 0;
  uint64_t drops = 0;
  std::map<std::string, uint64_t> drop_reasons;
  uint64_t pushback_waits = 0;
  uint64_t elephants = 0;
  // Mice (flows > 1): latency of the segments delivered in the measured
  // interval, their rate, and the mouse flows of the whole run.
  LatencySummary mouse;
  double mouse_pps = 0;
  uint64_t mouse_flows = 0;    // mouse flows started by the source
  uint64_t mouse_ids = 0;      // distinct mouse flows (5-tuples) delivered
  uint64_t mouse_skipped = 0;  // paced mice the engine did not read within 1 ms
  uint64_t engine_flows = 0;   // flows in the engine's table that carried traffic
  uint64_t overflowed = 0;     // packets that found no flow-table slot
};

// The CPU model from /proc/cpuinfo, printed beside every table: the same
// code gives different ratios on different machine kinds.
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  return "unknown CPU";
}

// Single-core memcpy over buffers larger than the caches: the rate at which
// one core can touch bytes, the physical limit of a data path that reads
// every byte once.
double MeasureMemcpyGbps() {
  const size_t kBuf = 32u << 20, kChunk = 64u << 10;
  std::vector<uint8_t> src(kBuf, 1), dst(kBuf, 0);
  uint64_t bytes = 0;
  const auto t0 = Clock::now();
  auto t = t0;
  while (t - t0 < std::chrono::milliseconds(200)) {
    for (size_t off = 0; off < kBuf; off += kChunk) std::memcpy(&dst[off], &src[off], kChunk);
    bytes += kBuf;
    t = Clock::now();
  }
  // Keep the copies observable so they are not optimised away.
  if (dst[kBuf / 2] != 1) std::fprintf(stderr, "memcpy check failed\n");
  const double s = std::chrono::duration<double>(t - t0).count();
  return static_cast<double>(bytes) * 8 / s / 1e9;
}

// The figures both runs take from the measured window and the engine's
// counters: rate, CPU, drops by reason, flows.
void FillEngineFigures(Sample& s, const EngineStats& es, uint64_t packets, double secs,
                       double run_secs, uint32_t size) {
  s.packets = packets;
  s.mpps = static_cast<double>(s.packets) / secs / 1e6;
  s.gbps = static_cast<double>(s.packets) * size * 8 / secs / 1e9;
  uint64_t cpu_ns = 0;
  for (const auto& w : es.workers) {
    cpu_ns += w.cpu_ns;
    s.pushback_waits += w.pushback_waits;
  }
  s.cpu_cores = static_cast<double>(cpu_ns) / 1e9 / run_secs;
  s.engine_out_of_order = es.out_of_order;
  for (const auto& stg : es.stages)
    for (const auto& d : stg.drops) {
      s.drop_reasons[d.first] += d.second;
      s.drops += d.second;
    }
  s.elephants = es.elephants;
  s.engine_flows = es.flows;
  s.overflowed = es.overflowed;
}

StatusOr<Sample> RunOnce(const Options& o, const Config& c) {
  TrafficConfig tc;
  tc.direction = c.dir;
  tc.l4_proto = o.proto == "udp" ? 17 : 6;
  tc.flows = o.flows;
  tc.mouse_every = o.mouse_every;
  tc.elephant = c.scenario != Scenario::kMice;
  tc.mouse_pps = c.scenario == Scenario::kElephant ? 0 : o.mouse_pps;
  tc.mouse_flow_packets = o.mouse_flow_packets;
  tc.mouse_flow_ids = o.mouse_flow_ids;
  tc.ip_size = c.size;
  tc.gso_segs = c.dir == Direction::kTx ? o.gso_segs : 0;
  tc.pool_packets = tc.gso_segs != 0 ? 64 : 8192;
  auto src = TrafficSource::Create(tc);
  if (!src.ok()) return src.status();
  OrderSink sink(c.dir, (*src)->flow_ids());

  auto fdb = Fdb::Create(FdbConfig{});
  if (!fdb.ok()) return fdb.status();
  DataPathConfig dp;
  dp.fdb = fdb->get();
  dp.inner_mtu = 1500;
  dp.coalesce = !o.no_coalesce;
  // The traffic's inner destination MAC (02:00:00:00:00:02) lives on local
  // port 0 (rx) or behind the peer VTEP (tx): static entries, as an operator
  // would configure, so the lookup hits.
  const wire::MacAddr dst{{0x02, 0, 0, 0, 0, 0x02}};
  const FdbValue where = c.dir == Direction::kRx ? FdbValue::Local(0)
                                                 : FdbValue::Remote(wire::IpAddr::V4(0xC6120001));
  (*fdb)->Learn(tc.vni, dst, where, UINT64_MAX / 2);
  auto chain = c.dir == Direction::kRx ? BuildRxChain(dp) : BuildTxChain(dp);
  if (!chain.ok()) return chain.status();

  PacketPoolConfig hp;
  hp.name = "headers";
  // Segmentation takes one header packet per segment: enough for every
  // super-frame the source can have in flight, so TSO never runs dry.
  hp.count = tc.pool_packets * std::max<uint32_t>(1, tc.gso_segs) + 4096;
  hp.buf_size = 256;
  auto hdr_pool = PacketPool::Create(hp);
  if (!hdr_pool.ok()) return hdr_pool.status();

  EngineConfig ec;
  ec.mode = c.mode;
  ec.workers = c.workers;
  ec.microflow_size = c.mf_size;
  ec.merge = c.merge;
  ec.elephant_pps = o.elephant_pps;
  ec.placement = *ParsePlacement(o.placement);  // checked by the option
  ec.classify = c.dir == Direction::kRx ? ClassifyRx : ClassifyTx;
  if (c.mode == SteeringMode::kStage) {
    ec.stage_cuts = o.stage_cuts;
    // FALCON places stages by load; for the rx chain the measured best cut
    // (BENCHMARKS.md) puts outer_validate, vxlan_decap and fdb_forward on
    // one worker and inner_checksum and tcp_coalesce on the other.
    if (ec.stage_cuts.empty() && c.dir == Direction::kRx && !o.no_coalesce) ec.stage_cuts = {3};
  }
  if (o.pin)
    for (uint32_t i = 0; i < c.workers; ++i) ec.cpus.push_back(static_cast<int>(i));
  auto engine = Engine::Create(ec, chain->get(), src->get(), &sink, hdr_pool->get());
  if (!engine.ok()) return engine.status();

  (*engine)->Start();
  const auto t_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(o.warmup_ms));
  const uint64_t n0 = sink.segments();
  sink.SetLatencyRecording(true);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(o.duration_ms));
  const uint64_t n1 = sink.segments();
  sink.SetLatencyRecording(false);
  const auto t1 = Clock::now();
  (*src)->Stop();
  (*engine)->Stop();
  const auto t_end = Clock::now();

  Sample s;
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const EngineStats es = (*engine)->Stats();
  FillEngineFigures(s, es, n1 - n0, secs, std::chrono::duration<double>(t_end - t_start).count(),
                    c.size);
  const SinkTotals st = sink.Totals();
  s.generated = (*src)->generated();
  s.delivered = st.segments;
  s.out_of_order = st.out_of_order;
  const uint64_t segs = tc.gso_segs == 0 ? 1 : tc.gso_segs;
  if (o.verbose) {
    for (size_t i = 0; i < es.workers.size(); ++i) {
      const WorkerStats& w = es.workers[i];
      std::fprintf(stderr,
                   "    worker %zu: %lu micro-flows, %lu packets, %lu rx bursts, %lu sleeps, %lu push-back "
                   "waits, %.2f s cpu\n",
                   i, static_cast<unsigned long>(w.microflows), static_cast<unsigned long>(w.packets),
                   static_cast<unsigned long>(w.rx_bursts), static_cast<unsigned long>(w.sleeps),
                   static_cast<unsigned long>(w.pushback_waits), static_cast<double>(w.cpu_ns) / 1e9);
    }
    for (const auto& stg : es.stages)
      std::fprintf(stderr, "    stage %-15s in %lu out %lu\n", stg.name.c_str(),
                   static_cast<unsigned long>(stg.in), static_cast<unsigned long>(stg.out));
    // The engine's micro-flow latency histogram (split point -> release),
    // as mflowd exports it: the count per bucket up to each bound.
    const MicroflowLatency& lat = es.latency;
    std::fprintf(stderr, "    micro-flow latency (%lu, mean %.1f us), count per bucket <= us:",
                 static_cast<unsigned long>(lat.count()),
                 lat.count() != 0 ? static_cast<double>(lat.sum_ns) / static_cast<double>(lat.count()) / 1e3 : 0.0);
    for (uint32_t i = 0; i < MicroflowLatency::kBuckets; ++i) {
      if (lat.buckets[i] == 0) continue;
      if (i < MicroflowLatency::kBoundsNs.size())
        std::fprintf(stderr, " %g:%lu", static_cast<double>(MicroflowLatency::kBoundsNs[i]) / 1e3,
                     static_cast<unsigned long>(lat.buckets[i]));
      else
        std::fprintf(stderr, " inf:%lu", static_cast<unsigned long>(lat.buckets[i]));
    }
    std::fprintf(stderr, "\n");
  }
  const uint64_t accounted = s.delivered + s.drops * segs;
  s.lost = s.generated > accounted ? s.generated - accounted : 0;
  s.lost += st.bad;
  s.mouse = sink.mouse_latency().Summarize();
  s.mouse_pps = static_cast<double>(s.mouse.count) / secs;
  s.mouse_flows = (*src)->mouse_flows_started();
  s.mouse_ids = st.flows - (st.segments > st.mouse_segments ? 1 : 0);
  s.mouse_skipped = (*src)->mouse_skipped();
  return s;
}

// One run with the ESP stages in the chain (esp_bench.h: prepared frames,
// one elephant TCP flow).
StatusOr<Sample> RunEspOnce(const Options& o, const Config& c) {
  auto sa = BenchSa(o.esp);
  if (!sa.ok()) return sa.status();
  const uint32_t gso = c.dir == Direction::kTx ? o.gso_segs : 0;
  auto frames = EspBenchFrames(c.dir, *sa, c.size, gso);
  if (!frames.ok()) return frames.status();
  const uint32_t buf = gso != 0 ? 65536 + kHeadroom + 1024 : 2048;
  auto src = FrameRingSource::Create(std::move(frames).value(), true, gso != 0 ? 64 : 8192, buf);
  if (!src.ok()) return src.status();
  CountingSink sink;

  auto table = esp::EspSaTable::Create(c.workers);
  if (!table.ok()) return table.status();
  if (c.dir == Direction::kRx) {
    if (Status st = (*table)->AddInbound(wire::IpAddr::V4(0xC6120001), *sa); !st.ok()) return st;
    (*table)->set_replay_protection(false);  // the ring replays its frames
  } else if (Status st = (*table)->SetOutbound(wire::IpAddr::V4(0xC6120001), *sa); !st.ok()) {
    return st;
  }
  auto fdb = Fdb::Create(FdbConfig{});
  if (!fdb.ok()) return fdb.status();
  DataPathConfig dp;
  dp.fdb = fdb->get();
  dp.inner_mtu = 1500;
  dp.coalesce = !o.no_coalesce;
  dp.esp = table->get();
  const wire::MacAddr dst{{0x02, 0, 0, 0, 0, 0x02}};
  (*fdb)->Learn(42, dst,
                c.dir == Direction::kRx ? FdbValue::Local(0) : FdbValue::Remote(wire::IpAddr::V4(0xC6120001)),
                UINT64_MAX / 2);
  auto chain = c.dir == Direction::kRx ? BuildRxChain(dp) : BuildTxChain(dp);
  if (!chain.ok()) return chain.status();
  // Segment headers get their payload's room: encryption linearises them.
  auto hdr_pool = PacketPool::Create({"headers", 64 * std::max<uint32_t>(1, gso) + 4096, 2048});
  if (!hdr_pool.ok()) return hdr_pool.status();

  EngineConfig ec;
  ec.mode = c.mode;
  ec.workers = c.workers;
  ec.microflow_size = c.mf_size;
  ec.merge = c.merge;
  ec.elephant_pps = o.elephant_pps;
  ec.placement = *ParsePlacement(o.placement);
  if (c.mode == SteeringMode::kStage) {
    ec.stage_cuts = o.stage_cuts;
    // Decryption is the heavy stage: alone on the first worker.
    if (ec.stage_cuts.empty() && c.workers == 2) ec.stage_cuts = {c.dir == Direction::kRx ? 1u : 3u};
  }
  if (o.pin)
    for (uint32_t i = 0; i < c.workers; ++i) ec.cpus.push_back(static_cast<int>(i));
  EnginePath path;
  path.chain = chain->get();
  path.rx = src->get();
  path.tx = &sink;
  path.pool = hdr_pool->get();
  path.classify = c.dir == Direction::kRx ? ClassifyRxEsp : ClassifyTx;
  if (c.dir == Direction::kTx) path.wire_seq = (*table)->tx_seq();
  auto engine = Engine::Create(ec, {path});
  if (!engine.ok()) return engine.status();

  (*engine)->Start();
  const auto t_start = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(o.warmup_ms));
  const uint64_t n0 = sink.segments();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(o.duration_ms));
  const uint64_t n1 = sink.segments();
  const auto t1 = Clock::now();
  (*src)->Stop();
  (*engine)->Stop();
  const auto t_end = Clock::now();

  Sample s;
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  FillEngineFigures(s, (*engine)->Stats(), n1 - n0, secs,
                    std::chrono::duration<double>(t_end - t_start).count(), c.size);
  const uint64_t segs = gso == 0 ? 1 : gso;
  s.generated = (*src)->sent() * segs;
  s.delivered = sink.segments();
  const uint64_t accounted = s.delivered + s.drops * segs;
  s.lost = s.generated > accounted ? s.generated - accounted : 0;
  return s;
}

struct Stat3 {
  double med = 0, min = 0, max = 0;
};
Stat3 Summarize(std::vector<double> v) {
  Stat3 s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.med = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

// The mice figures of one configuration over its repeats; the ratio is
// p99 here / p99 of the mice alone in the same repeat.
struct MiceFigures {
  Stat3 p50, p99, max, kpps, flows, ids, engine_flows, ratio;
  bool has_ratio = false;
  uint64_t samples = 0, skipped = 0, overflowed = 0, ooo = 0, lost = 0;
};
MiceFigures Mice(const std::vector<Sample>& ss, const std::vector<Sample>* alone) {
  MiceFigures f;
  std::vector<double> p50, p99, max, kpps, flows, ids, engine_flows, ratio;
  for (size_t r = 0; r < ss.size(); ++r) {
    const Sample& x = ss[r];
    p50.push_back(x.mouse.p50_us);
    p99.push_back(x.mouse.p99_us);
    max.push_back(x.mouse.max_us);
    kpps.push_back(x.mouse_pps / 1e3);
    flows.push_back(static_cast<double>(x.mouse_flows));
    ids.push_back(static_cast<double>(x.mouse_ids));
    engine_flows.push_back(static_cast<double>(x.engine_flows));
    if (alone != nullptr && r < alone->size() && (*alone)[r].mouse.p99_us > 0)
      ratio.push_back(x.mouse.p99_us / (*alone)[r].mouse.p99_us);
    f.samples += x.mouse.count;
    f.skipped += x.mouse_skipped;
    f.overflowed += x.overflowed;
    f.ooo += x.out_of_order + x.engine_out_of_order;
    f.lost += x.lost;
  }
  f.p50 = Summarize(p50);
  f.p99 = Summarize(p99);
  f.max = Summarize(max);
  f.kpps = Summarize(kpps);
  f.flows = Summarize(flows);
  f.ids = Summarize(ids);
  f.engine_flows = Summarize(engine_flows);
  f.has_ratio = !ratio.empty();
  f.ratio = Summarize(ratio);
  return f;
}

void AddMiceJson(const Options& o, const Config& c, const std::vector<Sample>& ss,
                 const std::vector<Sample>* alone, nlohmann::json* j) {
  const MiceFigures f = Mice(ss, alone);
  (*j)["mouse_flow_packets"] = o.mouse_flow_packets;
  (*j)["mouse_pps_offered"] = c.scenario == Scenario::kElephant ? 0 : o.mouse_pps;
  (*j)["mouse_pps"] = f.kpps.med * 1e3;
  (*j)["mouse_latency_samples"] = f.samples;
  (*j)["mouse_p50_us"] = f.p50.med;
  (*j)["mouse_p50_us_min"] = f.p50.min;
  (*j)["mouse_p50_us_max"] = f.p50.max;
  (*j)["mouse_p99_us"] = f.p99.med;
  (*j)["mouse_p99_us_min"] = f.p99.min;
  (*j)["mouse_p99_us_max"] = f.p99.max;
  (*j)["mouse_max_us"] = f.max.med;
  (*j)["mouse_max_us_min"] = f.max.min;
  (*j)["mouse_max_us_max"] = f.max.max;
  if (f.has_ratio) {
    (*j)["mouse_p99_vs_alone"] = f.ratio.med;
    (*j)["mouse_p99_vs_alone_min"] = f.ratio.min;
    (*j)["mouse_p99_vs_alone_max"] = f.ratio.max;
  }
  (*j)["mouse_flows"] = f.flows.med;
  (*j)["mouse_distinct_flows"] = f.ids.med;
  (*j)["engine_flows"] = f.engine_flows.med;
  (*j)["mouse_skipped"] = f.skipped;
  (*j)["overflowed"] = f.overflowed;
}

template <typename Alone>
void PrintMiceTable(const Options& o, const std::vector<Config>& configs,
                    const std::vector<std::vector<Sample>>& samples, Alone&& alone) {
  std::printf("\nmice: %u at a time", o.flows - 1);
  if (o.mouse_flow_packets != 0)
    std::printf(", short flows of %u packets (%u flow ids)", o.mouse_flow_packets, o.mouse_flow_ids);
  std::printf("; in the mice scenarios %lu packets/s. Latency: source hand-off -> sink, us\n",
              static_cast<unsigned long>(o.mouse_pps));
  std::printf("%-9s %2s %4s %3s %4s %6s %-13s | %6s | %7s %18s | %7s %18s | %-23s | %6s %7s %5s | %4s %4s %5s\n",
              "mode", "w", "size", "dir", "mf", "merge", "scenario", "p50", "p99", "[min..max]", "max",
              "[min..max]", "p99 x alone [min..max]", "kpps", "flows", "ids", "ooo", "lost", "ovfl");
  for (size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    const std::optional<size_t> a = alone(c);
    const MiceFigures f = Mice(samples[i], a ? &samples[*a] : nullptr);
    char ratio[32] = "";
    if (f.has_ratio) std::snprintf(ratio, sizeof ratio, "%6.2f [%6.2f..%6.2f]", f.ratio.med, f.ratio.min, f.ratio.max);
    std::printf("%-9s %2u %4u %3s %4u %6s %-13s | %6.2f | %7.1f [%7.1f..%7.1f] | %7.0f [%7.0f..%7.0f] | %-23s | %6.1f %7.0f %5.0f | %4lu %4lu %5lu\n",
                std::string(SteeringModeName(c.mode)).c_str(), c.workers, c.size,
                c.dir == Direction::kRx ? "rx" : "tx", c.mf_size,
                c.mode == SteeringMode::kMicroflow ? std::string(MergeKindName(c.merge)).c_str() : "-",
                std::string(ScenarioName(c.scenario)).c_str(), f.p50.med, f.p99.med, f.p99.min, f.p99.max,
                f.max.med, f.max.min, f.max.max, ratio, f.kpps.med, f.flows.med, f.ids.med,
                static_cast<unsigned long>(f.ooo), static_cast<unsigned long>(f.lost),
                static_cast<unsigned long>(f.overflowed));
  }
}

// The crypto ceiling of this machine for `threads` workers: AES-GCM sealed
// by that many threads at once against one thread alone, 200 ms each (see
// MeasureSealTogether). 0 if it could not be measured.
double SealCeiling(const std::string& alg, uint32_t bytes, uint32_t threads) {
  auto one = MeasureSealTogether(alg, bytes, 200, 1);
  auto all = MeasureSealTogether(alg, bytes, 200, threads);
  if (!one.ok() || !all.ok() || *one <= 0) return 0;
  return *all / *one;
}

// The largest worker count measured, at most the CPUs online.
uint32_t MaxWorkers(const Options& o) {
  uint32_t w = 1;
  for (uint32_t x : o.workers) w = std::max(w, x);
  return std::min<uint32_t>(w, static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
}

// --aead-only: AesGcm alone, one core, and the ceiling beside it (aead_rate.h).
int AeadOnly(const Options& o) {
  const std::string alg = o.esp.empty() ? "aes-128-gcm" : o.esp;
  const uint32_t n = std::max<uint32_t>(2, MaxWorkers(o));
  char together[32];
  std::snprintf(together, sizeof together, "seal x%u at once / x1", n);
  std::printf("%-11s %5s | %-25s | %-25s | %s\n", "aead", "bytes", "seal GB/s", "open GB/s", together);
  for (uint32_t size : o.sizes) {
    std::vector<double> seal, open, ceiling;
    for (uint32_t i = 0; i < o.repeats; ++i) {
      auto r = MeasureAead(alg, size, o.duration_ms);
      if (!r.ok()) {
        std::fprintf(stderr, "mflow-bench: %s\n", r.status().message().c_str());
        return 1;
      }
      seal.push_back(r->seal_gbytes);
      open.push_back(r->open_gbytes);
      ceiling.push_back(SealCeiling(alg, size, n));
    }
    const Stat3 a = Summarize(seal), b = Summarize(open), c = Summarize(ceiling);
    std::printf("%-11s %5u | %6.3f [%6.3f..%6.3f]    | %6.3f [%6.3f..%6.3f]    | %4.2f [%4.2f..%4.2f]\n",
                alg.c_str(), size, a.med, a.min, a.max, b.med, b.min, b.max, c.med, c.min, c.max);
  }
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"mflow-bench: the mflow engine in its three steering modes, side by side"};
  app.add_option("--modes", o.modes, "steering modes: flow, stage, microflow")
      ->delimiter(',')
      ->check(CLI::IsMember({"flow", "stage", "microflow"}));
  app.add_option("--workers", o.workers, "worker counts to measure (flow x1 is always the baseline)")
      ->delimiter(',')
      ->check(CLI::Range(1, 64));
  app.add_option("--flows", o.flows, "flows: 1 elephant + (flows-1) mice")->check(CLI::Range(1, 1000000));
  app.add_option("--mouse-every", o.mouse_every, "with mice, every n-th packet is a mouse's")
      ->check(CLI::Range(2, 1000000));
  app.add_option("--scenario", o.scenarios,
                 "elephant (mice every --mouse-every-th packet), mice (the mice alone, paced), "
                 "mice+elephant (the same paced mice beside the elephant); mice latency is compared "
                 "between the last two")
      ->delimiter(',')
      ->check(CLI::IsMember({"elephant", "mice", "mice+elephant"}));
  app.add_option("--mouse-pps", o.mouse_pps, "mice scenarios: mouse packets (tx: super-frames) per second")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--mouse-flow-packets", o.mouse_flow_packets,
                 "short mouse flows: each carries this many packets, then a new flow takes its place "
                 "(0 = the mice live for the whole run)")
      ->check(CLI::Range(0, 1000000000));
  app.add_option("--mouse-flow-ids", o.mouse_flow_ids,
                 "short mouse flows: distinct flows used round robin (at least --flows - 1; rx: at most 16383)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--frame-size", o.sizes, "inner IP packet sizes, 64..1500")
      ->delimiter(',')
      ->check(CLI::Range(64, 1500));
  app.add_option("--proto", o.proto, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}));
  app.add_option("--direction", o.directions, "rx (underlay->container), tx (container->underlay)")
      ->delimiter(',')
      ->check(CLI::IsMember({"rx", "tx"}));
  app.add_option("--gso-segs", o.gso_segs, "tx: TCP super-frames of this many segments (0 = off)")
      ->check(CLI::Range(0, 45));
  app.add_option("--microflow-size", o.mf_sizes, "packets per micro-flow (1..256)")
      ->delimiter(',')
      ->check(CLI::Range(1, 256));
  app.add_option("--merge", o.merges, "merge design: queue (ordered queue), window (reorder window)")
      ->delimiter(',')
      ->check(CLI::IsMember({"queue", "window"}));
  app.add_option("--elephant-pps", o.elephant_pps, "split flows above this packet rate (0 = all)");
  app.add_option("--placement", o.placement,
                 "microflow mode, beside an elephant: spread, home or auto (measured, as mflowd)")
      ->check(CLI::IsMember({"spread", "home", "auto"}));
  app.add_option("--duration", o.duration_ms, "measured milliseconds per run")->check(CLI::Range(50, 600000));
  app.add_option("--warmup", o.warmup_ms, "milliseconds before measuring")->check(CLI::Range(0, 60000));
  app.add_option("--repeats", o.repeats, "runs of every configuration")->check(CLI::Range(1, 1000));
  app.add_flag("--pin", o.pin, "pin worker i to CPU i");
  app.add_flag("-v,--verbose", o.verbose, "print per-worker and per-stage counters of every run");
  app.add_flag("--no-coalesce", o.no_coalesce, "rx: leave software GRO out of the chain");
  app.add_option("--stage-cuts", o.stage_cuts,
                 "stage mode: first stage index of each group after the first (default: rx 3, tx even split)")
      ->delimiter(',');
  app.add_option("--json", o.json, "write one JSON record per configuration to this file");
  app.add_option("--esp", o.esp,
                 "ESP stages in the chain (rx esp_decrypt, tx esp_encrypt) with this AEAD; one "
                 "elephant TCP flow from prepared frames (docs/ESP.md)")
      ->check(CLI::IsMember({"aes-128-gcm", "aes-256-gcm"}));
  app.add_flag("--memcpy-only", o.memcpy_only,
               "print this machine's single-core memcpy rate (Gbit/s, the figure every table quotes) and exit");
  app.add_flag("--aead-only", o.aead_only,
               "print the single-core seal and open rate of the AesGcm class (GB/s, 10^9 bytes) for "
               "--esp (default aes-128-gcm) at each --frame-size (the message size here), median [min..max] of --repeats runs of --duration each, and beside them the machine's ceiling for spreading it (as many threads sealing at once as the largest --workers, at least 2, against one); then exit");
  CLI11_PARSE(app, argc, argv);
  if (o.aead_only) return AeadOnly(o);
  if (o.memcpy_only) {
    std::vector<double> g;
    for (int i = 0; i < 3; ++i) g.push_back(MeasureMemcpyGbps());
    std::sort(g.begin(), g.end());
    std::printf("%.1f\n", g[1]);
    return 0;
  }
  std::vector<Scenario> scenarios;
  for (const auto& sc : o.scenarios) {
    const Scenario x = ParseScenario(sc);
    if (std::find(scenarios.begin(), scenarios.end(), x) == scenarios.end()) scenarios.push_back(x);
  }
  const bool mice_scenarios = std::any_of(scenarios.begin(), scenarios.end(),
                                          [](Scenario x) { return x != Scenario::kElephant; });
  if (!o.esp.empty() && (o.flows != 1 || mice_scenarios || o.proto != "tcp")) {
    std::fprintf(stderr, "mflow-bench: --esp measures one elephant TCP flow (no --flows, --scenario, --proto udp)\n");
    return 1;
  }
  if (mice_scenarios && o.flows < 2) {
    std::fprintf(stderr, "mflow-bench: the mice scenarios need mice: --flows 2 or more\n");
    return 1;
  }
  const bool has_mice = o.flows > 1;
  const bool show_scenario = scenarios.size() != 1 || scenarios.front() != Scenario::kElephant;

  // The configurations, flow x1 first: it is every speedup's baseline.
  std::vector<Config> configs;
  auto add = [&](const Config& c) {
    for (const auto& x : configs)
      if (x.Key() == c.Key()) return;
    configs.push_back(c);
  };
  for (const auto& d : o.directions) {
    const Direction dir = d == "rx" ? Direction::kRx : Direction::kTx;
    for (uint32_t size : o.sizes) {
      for (Scenario sc : scenarios)
        add({SteeringMode::kFlow, 1, size, dir, o.mf_sizes.front(), MergeKind::kOrderedQueue, sc});
      for (const auto& m : o.modes)
        for (uint32_t w : o.workers)
          for (uint32_t mfs : o.mf_sizes)
            for (const auto& mg : o.merges) {
              const SteeringMode mode = *ParseSteeringMode(m);
              if (mode == SteeringMode::kStage && w == 1) continue;  // = flow x1
              const MergeKind mk = mg == "queue" ? MergeKind::kOrderedQueue : MergeKind::kReorderWindow;
              // Only microflow mode merges; other modes measure once.
              if (mode != SteeringMode::kMicroflow && mk != MergeKind::kOrderedQueue) continue;
              // Scenarios of one configuration run back to back.
              for (Scenario sc : scenarios) add({mode, w, size, dir, mfs, mk, sc});
            }
    }
  }

  std::fprintf(stderr, "mflow-bench: %zu configurations x %u repeats, %u ms each (+%u ms warm-up), %ld CPUs\n",
               configs.size(), o.repeats, o.duration_ms, o.warmup_ms, sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<std::vector<Sample>> samples(configs.size());
  std::vector<double> memcpy_gbps, ceiling;
  const uint32_t max_workers = MaxWorkers(o);
  const bool show_ceiling = !o.esp.empty() && max_workers > 1;
  for (uint32_t r = 0; r < o.repeats; ++r) {
    memcpy_gbps.push_back(MeasureMemcpyGbps());
    if (show_ceiling) ceiling.push_back(SealCeiling(o.esp, o.sizes.front(), max_workers));
    for (size_t i = 0; i < configs.size(); ++i) {
      auto s = o.esp.empty() ? RunOnce(o, configs[i]) : RunEspOnce(o, configs[i]);
      if (!s.ok()) {
        std::fprintf(stderr, "mflow-bench: %s: %s\n", configs[i].Key().c_str(), s.status().message().c_str());
        return 1;
      }
      samples[i].push_back(*s);
      std::string mice;
      if (has_mice) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "  mice p99 %.1f us (%lu)", s->mouse.p99_us,
                      static_cast<unsigned long>(s->mouse.count));
        mice = buf;
      }
      std::fprintf(stderr, "  repeat %u/%u  %-34s %7.2f Gbit/s  ooo %lu lost %lu%s\n", r + 1, o.repeats,
                   configs[i].Key().c_str(), s->gbps, static_cast<unsigned long>(s->out_of_order),
                   static_cast<unsigned long>(s->lost), mice.c_str());
    }
  }
  const Stat3 mc = Summarize(memcpy_gbps);

  // Baseline index per (size, direction, scenario): flow x1.
  auto baseline = [&](const Config& c) -> size_t {
    for (size_t i = 0; i < configs.size(); ++i)
      if (configs[i].mode == SteeringMode::kFlow && configs[i].workers == 1 &&
          configs[i].size == c.size && configs[i].dir == c.dir && configs[i].scenario == c.scenario)
        return i;
    return 0;
  };
  // For the mice beside the elephant: the mice-alone run of the same
  // configuration, if any.
  auto alone = [&](const Config& c) -> std::optional<size_t> {
    if (c.scenario != Scenario::kMiceElephant) return std::nullopt;
    for (size_t i = 0; i < configs.size(); ++i)
      if (configs[i].scenario == Scenario::kMice && configs[i].BaseKey() == c.BaseKey()) return i;
    return std::nullopt;
  };

  std::printf("\n%s, %ld CPUs; memcpy (one core): %.1f Gbit/s median [%.1f..%.1f]\n", CpuModel().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN), mc.med, mc.min, mc.max);
  const Stat3 cc = show_ceiling ? Summarize(ceiling) : Stat3{};
  if (show_ceiling)
    std::printf("crypto ceiling: %s sealed by %u threads at once = %.2fx one thread, median "
                "[%.2f..%.2f] (%u B; the most %u workers can gain on AES-GCM on this machine)\n",
                o.esp.c_str(), max_workers, cc.med, cc.min, cc.max, o.sizes.front(), max_workers);
  std::printf("%-9s %2s %5s %4s %3s %4s %6s%s | %7s %15s | %6s | %12s | %5s %6s | %4s %4s %5s\n", "mode", "w",
              "flows", "size", "dir", "mf", "merge", show_scenario ? " scenario     " : "", "Gbit/s",
              "[min..max]", "Mpps", "x flow1 [min..max]", "cores", "Gb/cor", "ooo", "lost", "drops");
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    const auto& ss = samples[i];
    const auto& base = samples[baseline(c)];
    std::vector<double> g, m, cores, ratio;
    uint64_t ooo = 0, eooo = 0, lost = 0, drops = 0, packets = 0, waits = 0;
    std::map<std::string, uint64_t> reasons;
    for (size_t r = 0; r < ss.size(); ++r) {
      g.push_back(ss[r].gbps);
      m.push_back(ss[r].mpps);
      cores.push_back(ss[r].cpu_cores);
      ratio.push_back(base[r].gbps > 0 ? ss[r].gbps / base[r].gbps : 0);
      ooo += ss[r].out_of_order;
      eooo += ss[r].engine_out_of_order;
      lost += ss[r].lost;
      drops += ss[r].drops;
      packets += ss[r].packets;
      waits += ss[r].pushback_waits;
      for (const auto& kv : ss[r].drop_reasons) reasons[kv.first] += kv.second;
    }
    const Stat3 G = Summarize(g), M = Summarize(m), C = Summarize(cores), R = Summarize(ratio);
    std::string sc_col;
    if (show_scenario) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " %-13s", std::string(ScenarioName(c.scenario)).c_str());
      sc_col = buf;
    }
    std::printf("%-9s %2u %5u %4u %3s %4u %6s%s | %7.2f [%6.2f..%6.2f] | %6.3f | %4.2f [%.2f..%.2f] | %5.2f %6.2f | %4lu %4lu %5lu\n",
                std::string(SteeringModeName(c.mode)).c_str(), c.workers, o.flows, c.size,
                c.dir == Direction::kRx ? "rx" : "tx", c.mf_size,
                c.mode == SteeringMode::kMicroflow ? std::string(MergeKindName(c.merge)).c_str() : "-",
                sc_col.c_str(), G.med,
                G.min, G.max, M.med, R.med, R.min, R.max, C.med, C.med > 0 ? G.med / C.med : 0.0,
                static_cast<unsigned long>(ooo + eooo), static_cast<unsigned long>(lost),
                static_cast<unsigned long>(drops));
    nlohmann::json j;
    j["mode"] = SteeringModeName(c.mode);
    j["workers"] = c.workers;
    j["flows"] = o.flows;
    j["esp"] = o.esp;
    j["frame_size"] = c.size;
    j["proto"] = o.proto;
    j["direction"] = c.dir == Direction::kRx ? "rx" : "tx";
    j["gso_segs"] = c.dir == Direction::kTx ? o.gso_segs : 0;
    j["microflow_size"] = c.mf_size;
    j["merge"] = c.mode == SteeringMode::kMicroflow ? std::string(MergeKindName(c.merge)) : "none";
    j["repeats"] = ss.size();
    j["packets"] = packets;
    j["gbps"] = G.med;
    j["gbps_min"] = G.min;
    j["gbps_max"] = G.max;
    j["mpps"] = M.med;
    j["speedup_vs_flow"] = R.med;
    j["speedup_vs_flow_min"] = R.min;
    j["speedup_vs_flow_max"] = R.max;
    j["memcpy_gbps"] = mc.med;
    if (show_ceiling) j["crypto_ceiling"] = cc.med;
    j["cpu_model"] = CpuModel();
    j["cpu_cores"] = C.med;
    j["gbps_per_core"] = C.med > 0 ? G.med / C.med : 0.0;
    j["out_of_order"] = ooo;
    j["engine_out_of_order"] = eooo;
    j["lost"] = lost;
    j["drops"] = reasons;
    j["pushback_waits"] = waits;
    j["scenario"] = ScenarioName(c.scenario);
    if (has_mice) AddMiceJson(o, c, ss, alone(c) ? &samples[*alone(c)] : nullptr, &j);
    out.push_back(j);
  }
  if (has_mice) PrintMiceTable(o, configs, samples, alone);
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    if (!f) {
      std::fprintf(stderr, "mflow-bench: cannot write %s\n", o.json.c_str());
      return 1;
    }
    f << out.dump(2) << "\n";
  }
  // Order is sacred: a benchmark whose figures come with reordering or loss
  // must not look like a success.
  for (const auto& j : out)
    if (j["out_of_order"].get<uint64_t>() != 0 || j["engine_out_of_order"].get<uint64_t>() != 0 ||
        j["lost"].get<uint64_t>() != 0) {
      std::fprintf(stderr, "mflow-bench: FAILED: packets were reordered or lost\n");
      return 2;
    }
  return 0;
}

}  // namespace
}  // namespace mflow::bench

int main(int argc, char** argv) { return mflow::bench::Main(argc, argv); }

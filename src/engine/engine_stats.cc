// The engine's figures for the control path: Stats and Flows, read from
// any thread while the workers run (every field is a single-writer relaxed
// atomic or published through a seqlock: see flow_table.h).
#include "engine/engine_internal.h"

namespace mflow {
namespace {

// A worker thread's CPU time: read from its CPU clock while it runs (a
// system call on the reader's side only), else what it stored on exit. The
// flag is checked again after the read: once the thread has ended, its
// clock id may name another thread.
uint64_t ThreadCpuNs(const std::atomic<clockid_t>& clock, const std::atomic<bool>& live,
                     const Relaxed<uint64_t>& final_ns) {
  if (live.load(std::memory_order_acquire)) {
    timespec ts;
    const bool ok = clock_gettime(clock.load(std::memory_order_relaxed), &ts) == 0;
    if (ok && live.load(std::memory_order_acquire))
      return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
  return final_ns;
}

}  // namespace

uint64_t EngineStats::drops() const {
  uint64_t n = 0;
  for (const auto& s : stages)
    for (const auto& d : s.drops) n += d.second;
  return n;
}

std::vector<FlowStats> Engine::Flows(size_t max, uint32_t path) const {
  const FlowTable& flows = *paths_.at(path)->flows;
  std::vector<FlowStats> out;
  auto add = [&](const FlowState& f) {
    // The overflow flow is always "used"; list it once it carried traffic.
    if (!f.used || out.size() >= max || f.issued_mfs == 0) return;
    out.push_back(ReadFlowStats(f));
  };
  for (uint32_t i = 0; i < flows.capacity(); ++i) add(flows.at(i));
  add(flows.overflow());
  return out;
}

EngineStats Engine::Stats(uint32_t path) const {
  const Path& p = *paths_.at(path);
  EngineStats s;
  for (uint32_t i = 0; i < p.chain->size(); ++i) {
    const Stage& st = p.chain->at(i);
    StageStats ss;
    ss.name = std::string(st.name());
    const auto reasons = st.drop_reasons();
    for (std::string_view r : reasons) ss.reasons.emplace_back(r);
    std::vector<uint64_t> drops(kMaxDropReasons, 0);
    for (const auto& w : workers_) {
      const StageCounters& c = w->counters[path][i];
      ss.in += c.in;
      ss.out += c.out;
      for (uint32_t r = 0; r < kMaxDropReasons; ++r) drops[r] += c.drops[r];
    }
    for (uint32_t r = 0; r < kMaxDropReasons; ++r)
      if (drops[r] != 0)
        ss.drops.emplace_back(ss.name + "_" + (r < reasons.size() ? std::string(reasons[r]) : "other"),
                              drops[r]);
    s.stages.push_back(std::move(ss));
  }
  for (const auto& w : workers_) {
    WorkerStats ws = w->stats[path].Snapshot();
    ws.sleeps = w->stats[0].sleeps;
    ws.cpu_ns = ThreadCpuNs(w->cpu_clock, w->cpu_clock_live, w->stats[0].cpu_ns);
    s.workers.push_back(ws);
    w->latency[path].AddTo(s.latency);
  }
  // The engine's totals are the slots' running totals (they never fall when
  // a slot changes hands; see FlowIdentity).
  auto add_flow = [&](const FlowState& f) {
    if (!f.used) return;
    const uint64_t released = f.released_mfs.load(std::memory_order_acquire);
    if (released != 0) ++s.flows;
    if (f.elephant) ++s.elephants;
    s.released_packets += f.released_pkts;
    s.released_microflows += released;
    s.empty_microflows += f.empty_mfs;
    s.out_of_order += f.out_of_order;
    s.merge_errors += f.merge->errors();
  };
  for (uint32_t i = 0; i < p.flows->capacity(); ++i) add_flow(p.flows->at(i));
  add_flow(p.flows->overflow());
  s.overflowed = p.flows->overflowed_packets();
  s.placement_trials = placement_trials_.load(std::memory_order_relaxed);
  s.placement_spread_wins = placement_wins_.load(std::memory_order_relaxed);
  s.placement_home_pps = placement_home_pps_.load(std::memory_order_relaxed);
  s.placement_spread_pps = placement_spread_pps_.load(std::memory_order_relaxed);
  s.spread = spread_now_.load(std::memory_order_relaxed);
  s.solo = solo_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace mflow

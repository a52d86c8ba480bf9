// Thousands of short flows beside one elephant, in every steering mode: every
// packet of every flow is delivered exactly once and in its flow's order, the
// flow table stays within its fixed capacity (flows that find no slot share
// the overflow flow, still in order), and the benchmark's short-flow traffic
// (real VXLAN frames, latency stamps) passes the full rx chain intact.
// Deliberately no timing assertions: latency is a benchmark figure
// (mflow-bench --scenario mice,mice+elephant). Runs under ThreadSanitizer.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "bench/order_sink.h"
#include "bench/traffic_source.h"
#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "stage/datapath.h"

namespace mflow {
namespace {

using namespace std::chrono_literals;
using test::ClassifyTest;
using test::RecordingSink;
using test::TestHeader;
using test::WaitFor;

// The whole input, decided up front: flow 0 is the elephant; mouse flows
// 1..kMice, each of 3..10 packets, kSlots of them alive at a time taking
// turns (a slot whose flow has sent its packets starts the next flow), on
// every other packet. The elephant then runs on alone for a while.
struct Schedule {
  static constexpr uint32_t kMice = 5000;
  static constexpr uint32_t kSlots = 24;
  std::vector<TestHeader> tags;
  std::vector<uint64_t> length;  // packets per flow, [0] = the elephant

  Schedule() : length(kMice + 1, 0) {
    std::mt19937 rng(20261127);
    std::vector<uint32_t> slot_flow(kSlots, 0);
    std::vector<uint64_t> slot_left(kSlots, 0);
    uint32_t next_flow = 1;
    uint32_t live = 0;
    for (uint32_t s = 0; s < kSlots; ++s) {
      slot_flow[s] = next_flow++;
      slot_left[s] = 3 + rng() % 8;
      ++live;
    }
    uint32_t slot = 0;
    for (uint64_t i = 0; live != 0; ++i) {
      if (i % 2 == 0) {
        tags.push_back({0, length[0]++});
        continue;
      }
      while (slot_left[slot] == 0) slot = (slot + 1) % kSlots;  // a retired slot
      const uint32_t f = slot_flow[slot];
      tags.push_back({f, length[f]++});
      if (--slot_left[slot] == 0) {
        if (next_flow <= kMice) {
          slot_flow[slot] = next_flow++;
          slot_left[slot] = 3 + rng() % 8;
        } else {
          --live;
        }
      }
      slot = (slot + 1) % kSlots;
    }
    for (int i = 0; i < 4096; ++i) tags.push_back({0, length[0]++});
  }
};

class ScheduleSource : public RxPort {
 public:
  ScheduleSource(PacketPool* pool, const Schedule* s) : pool_(pool), s_(s) {}
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override {
    const uint64_t total = s_->tags.size();
    if (made_ >= total) return 0;
    if (n > total - made_) n = static_cast<uint32_t>(total - made_);
    const uint32_t got = pool_->AllocBurst(pkts, n);
    for (uint32_t i = 0; i < got; ++i) {
      std::memcpy(pkts[i]->data, &s_->tags[made_ + i], sizeof(TestHeader));
      pkts[i]->len = 64;
    }
    made_ += got;
    generated_.store(made_, std::memory_order_release);
    return got;
  }
  uint64_t generated() const { return generated_.load(std::memory_order_acquire); }

 private:
  PacketPool* pool_;
  const Schedule* s_;
  uint64_t made_ = 0;
  std::atomic<uint64_t> generated_{0};
};

// Passes every packet on; now and then gives up the core mid-batch, so that
// micro-flows finish out of order and the merges have work to do.
class JitterStage : public Stage {
 public:
  std::string_view name() const override { return "jitter"; }
  std::span<const std::string_view> drop_reasons() const override { return {}; }
  void Process(Batch& b, StageContext& ctx) noexcept override {
    thread_local std::mt19937 rng(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    ctx.counters->in += b.n;
    if (rng() % 16 == 0) std::this_thread::yield();
    ctx.counters->out += b.n;
  }
};

struct Case {
  const char* name;
  SteeringMode mode;
  uint32_t workers;
  MergeKind merge;
  uint32_t mf_size;
  uint32_t elephant_pps;
  uint32_t max_flows;
  uint64_t flow_idle_ms = 10000;  // 0: a drained slot is taken over at once
};

struct Result {
  uint64_t generated = 0;
  EngineStats stats;
  size_t listed_flows = 0;  // Engine::Flows: every flow the table holds
  std::vector<std::vector<uint64_t>> seqs;
};

// Reads Stats and Flows in a loop from another thread while the engine runs,
// as mflowctl and the daemon's log line do, and checks what every read must
// show: totals that never fall, nothing out of order or dropped, listed
// flows that are flows of the schedule (or the overflow flow) with no more
// packets than their flow has. Under ThreadSanitizer this is also the check
// that these reads race with nothing.
class LiveReader {
 public:
  LiveReader(const Engine* e, const Schedule* s) : e_(e), s_(s), thread_([this] { Loop(); }) {}
  ~LiveReader() { Finish(); }
  void Finish() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }
  uint64_t reads() const { return reads_; }
  uint64_t listed() const { return listed_; }
  const std::string& first_error() const { return error_; }
  uint64_t errors() const { return errors_; }

 private:
  void Fail(const std::string& what) {
    if (errors_++ == 0) error_ = what;
  }
  void Loop() {
    uint64_t last_released = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const EngineStats st = e_->Stats();
      if (st.released_packets < last_released)
        Fail("released_packets fell: " + std::to_string(last_released) + " -> " +
             std::to_string(st.released_packets));
      last_released = st.released_packets;
      if (st.released_packets > s_->tags.size()) Fail("more released than generated");
      if (st.out_of_order != 0) Fail("out_of_order " + std::to_string(st.out_of_order));
      if (st.drops() != 0) Fail("drops");
      if (st.merge_errors != 0) Fail("merge_errors");
      for (const FlowStats& f : e_->Flows(SIZE_MAX)) {
        ++listed_;
        const uint32_t id = f.key.sport | uint32_t{f.key.dport} << 16;
        const bool overflow = f.key == wire::FlowKey{};
        if (!overflow && (f.key.family != 4 || id >= s_->length.size())) {
          Fail("a listed key is no flow of the schedule: " + std::to_string(id));
          continue;
        }
        if (!overflow && f.packets > s_->length[id])
          Fail("flow " + std::to_string(id) + " listed with " + std::to_string(f.packets) +
               " packets of " + std::to_string(s_->length[id]));
        if (f.out_of_order != 0) Fail("a flow out of order");
      }
      ++reads_;
    }
  }

  const Engine* e_;
  const Schedule* s_;
  std::atomic<bool> stop_{false};
  uint64_t reads_ = 0, listed_ = 0, errors_ = 0;
  std::string error_;
  std::thread thread_;
};

Result RunCase(const Case& c, const Schedule& sched, bool live_reads = false) {
  auto pool = PacketPool::Create({"test", 2048, 256});
  EXPECT_TRUE(pool.ok());
  ScheduleSource src(pool->get(), &sched);
  RecordingSink sink(Schedule::kMice + 1);
  StageChain chain;
  chain.Add(std::make_unique<JitterStage>());
  chain.Add(std::make_unique<JitterStage>());
  EngineConfig ec;
  ec.mode = c.mode;
  ec.workers = c.workers;
  ec.merge = c.merge;
  ec.microflow_size = c.mf_size;
  ec.elephant_pps = c.elephant_pps;
  ec.max_flows = c.max_flows;
  ec.flow_idle_ms = c.flow_idle_ms;
  ec.classify = ClassifyTest;
  auto engine = Engine::Create(ec, &chain, &src, &sink, pool->get());
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  Result r;
  if (!engine.ok()) return r;
  (*engine)->Start();
  std::unique_ptr<LiveReader> reader;
  if (live_reads) reader = std::make_unique<LiveReader>(engine->get(), &sched);
  EXPECT_TRUE(WaitFor([&] {
    return src.generated() == sched.tags.size() && pool->get()->available() == pool->get()->count();
  })) << "delivery stalled";
  (*engine)->Stop();
  if (reader) {
    reader->Finish();
    EXPECT_EQ(reader->errors(), 0u) << "first: " << reader->first_error();
    EXPECT_GT(reader->reads(), 0u);
    EXPECT_GT(reader->listed(), 0u);
  }
  r.generated = src.generated();
  r.stats = (*engine)->Stats();
  r.listed_flows = (*engine)->Flows(SIZE_MAX).size();
  r.seqs = sink.seqs();
  return r;
}

// Every flow's packets arrived exactly once and in order: flow f received
// exactly 0, 1, ..., length[f] - 1.
void ExpectExactlyOnceInOrder(const Result& r, const Schedule& sched) {
  ASSERT_EQ(r.seqs.size(), sched.length.size());
  uint64_t delivered = 0, bad_flows = 0;
  for (size_t f = 0; f < r.seqs.size(); ++f) {
    const auto& got = r.seqs[f];
    delivered += got.size();
    bool ok = got.size() == sched.length[f];
    for (size_t i = 0; ok && i < got.size(); ++i) ok = got[i] == i;
    if (!ok && ++bad_flows <= 5) {
      std::string first;
      for (size_t i = 0; i < got.size() && i < 12; ++i) first += std::to_string(got[i]) + " ";
      ADD_FAILURE() << "flow " << f << ": " << got.size() << " of " << sched.length[f]
                    << " packets, first: " << first;
    }
  }
  EXPECT_EQ(bad_flows, 0u);
  EXPECT_EQ(delivered, sched.tags.size());
  EXPECT_EQ(r.stats.out_of_order, 0u);
  EXPECT_EQ(r.stats.drops(), 0u);
  EXPECT_EQ(r.stats.released_packets, sched.tags.size());
}

TEST(ShortFlows, ScheduleIsWhatItSays) {
  const Schedule s;
  uint64_t mice_pkts = 0;
  for (uint32_t f = 1; f <= Schedule::kMice; ++f) {
    EXPECT_GE(s.length[f], 3u);
    EXPECT_LE(s.length[f], 10u);
    mice_pkts += s.length[f];
  }
  EXPECT_EQ(s.length[0] + mice_pkts, s.tags.size());
  EXPECT_GT(s.length[0], mice_pkts);
}

// 5000 short flows beside an elephant, with a flow table of 1024 slots:
// most mice find no slot and share the overflow flow, the table never holds
// more than its capacity, and still every packet of every flow arrives once
// and in order, in every mode.
TEST(ShortFlows, ThousandsBesideAnElephantBoundedTable) {
  const Schedule sched;
  constexpr uint32_t kTable = 1024;
  const Case cases[] = {
      {"flow x1", SteeringMode::kFlow, 1, MergeKind::kOrderedQueue, 32, 20000, kTable},
      {"flow x2", SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 32, 20000, kTable},
      {"stage x2", SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 32, 20000, kTable},
      {"microflow x2 queue", SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 32, 20000, kTable},
      {"microflow x2 window", SteeringMode::kMicroflow, 2, MergeKind::kReorderWindow, 16, 20000, kTable},
      // Every flow split, mice included: the hardest case for the merges.
      {"microflow x3 split all", SteeringMode::kMicroflow, 3, MergeKind::kOrderedQueue, 4, 0, kTable},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Result r = RunCase(c, sched);
    EXPECT_EQ(r.generated, sched.tags.size());
    ExpectExactlyOnceInOrder(r, sched);
    // The bound: the table's fixed capacity plus the shared overflow flow.
    EXPECT_LE(r.stats.flows, uint64_t{kTable} + 1);
    EXPECT_LE(r.listed_flows, size_t{kTable} + 1);
    // 5001 flows cannot fit in 1024 slots: the overflow flow carried the rest.
    EXPECT_GT(r.stats.overflowed, 0u);
  }
}

// Stats and Flows read continuously from another thread while the workers
// run, in every mode, with slots changing hands all the time (a drained
// flow gives its slot away at once): every read is consistent (LiveReader),
// and still every packet arrives once and in order.
TEST(ShortFlows, LiveStatsReadsWhileSlotsChangeHands) {
  const Schedule sched;
  constexpr uint32_t kTable = 1024;
  const Case cases[] = {
      {"flow x2", SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 32, 20000, kTable, 0},
      {"stage x2", SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 32, 20000, kTable, 0},
      {"microflow x2 queue", SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 32, 20000, kTable, 0},
      {"microflow x2 window", SteeringMode::kMicroflow, 2, MergeKind::kReorderWindow, 16, 20000, kTable, 0},
      {"microflow x3 split all", SteeringMode::kMicroflow, 3, MergeKind::kOrderedQueue, 4, 0, kTable, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Result r = RunCase(c, sched, /*live_reads=*/true);
    ExpectExactlyOnceInOrder(r, sched);
    EXPECT_EQ(r.stats.merge_errors, 0u);
  }
}

// The same with the default table (16384 slots): every short flow gets a
// slot of its own, none overflows, and the table holds one entry per flow.
TEST(ShortFlows, ThousandsBesideAnElephantDefaultTable) {
  const Schedule sched;
  const uint32_t table = EngineConfig{}.max_flows;
  const Case cases[] = {
      {"flow x2", SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 32, 20000, table},
      {"stage x2", SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 32, 20000, table},
      {"microflow x2", SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 32, 20000, table},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Result r = RunCase(c, sched);
    ExpectExactlyOnceInOrder(r, sched);
    EXPECT_EQ(r.stats.overflowed, 0u);
    EXPECT_EQ(r.stats.flows, uint64_t{Schedule::kMice} + 1);
    EXPECT_LE(r.listed_flows, size_t{table} + 1);
  }
}

// The benchmark's own traffic: short mouse flows (real VXLAN frames whose
// payload carries the latency stamp, checksums fixed up) beside the
// elephant through the full rx chain, in every mode. The order sink sees
// every segment once and in order, every stamped mouse segment yields a
// latency sample, and the chain drops nothing (a bad checksum would be
// dropped by inner_checksum).
TEST(ShortFlows, BenchTrafficShortMiceThroughTheRxChain) {
  struct M {
    SteeringMode mode;
    uint32_t workers;
  };
  const M modes[] = {{SteeringMode::kFlow, 1}, {SteeringMode::kFlow, 2}, {SteeringMode::kStage, 2},
                     {SteeringMode::kMicroflow, 2}};
  for (const bool elephant : {true, false}) {
    for (const M& m : modes) {
      SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers) +
                   (elephant ? " mice+elephant" : " mice alone"));
      bench::TrafficConfig tc;
      tc.flows = 1 + 40;  // 40 mice at a time
      tc.mouse_every = 3;
      tc.elephant = elephant;
      tc.mouse_flow_packets = 5;
      tc.mouse_flow_ids = 1000;  // used round robin, so some ids come back
      tc.pool_packets = 1024;
      tc.max_frames = 6000;
      auto src = bench::TrafficSource::Create(tc);
      ASSERT_TRUE(src.ok()) << src.status().message();
      bench::OrderSink sink(tc.direction, (*src)->flow_ids());
      sink.SetLatencyRecording(true);
      auto fdb = Fdb::Create(FdbConfig{});
      ASSERT_TRUE(fdb.ok());
      (*fdb)->Learn(tc.vni, wire::MacAddr{{0x02, 0, 0, 0, 0, 0x02}}, FdbValue::Local(0), UINT64_MAX / 2);
      DataPathConfig dp;
      dp.fdb = fdb->get();
      dp.inner_mtu = 1500;
      auto chain = BuildRxChain(dp);
      ASSERT_TRUE(chain.ok()) << chain.status().message();
      auto hdr_pool = PacketPool::Create({"headers", 2048, 256});
      ASSERT_TRUE(hdr_pool.ok());
      EngineConfig ec;
      ec.mode = m.mode;
      ec.workers = m.workers;
      ec.microflow_size = 32;
      ec.classify = ClassifyRx;
      auto engine = Engine::Create(ec, chain->get(), src->get(), &sink, hdr_pool->get());
      ASSERT_TRUE(engine.ok()) << engine.status().message();
      (*engine)->Start();
      EXPECT_TRUE(WaitFor([&] { return sink.segments() >= tc.max_frames; })) << "delivery stalled";
      (*src)->Stop();
      (*engine)->Stop();
      const bench::SinkTotals t = sink.Totals();
      const EngineStats es = (*engine)->Stats();
      EXPECT_EQ((*src)->generated(), tc.max_frames);
      EXPECT_EQ(t.segments, tc.max_frames);
      EXPECT_EQ(t.out_of_order, 0u);
      EXPECT_EQ(t.gaps, 0u);
      EXPECT_EQ(t.bad, 0u);
      EXPECT_EQ(es.out_of_order, 0u);
      EXPECT_EQ(es.drops(), 0u);
      const uint64_t mice = (*src)->mouse_generated();
      EXPECT_EQ(mice, elephant ? tc.max_frames / 3 : tc.max_frames);
      EXPECT_EQ(t.mouse_segments, mice);
      EXPECT_EQ(sink.mouse_latency().Summarize().count, mice);
      // 6000 / 3 mouse packets in flows of 5: 400 flows, all distinct ids; alone
      // 1200 flows, so 200 ids come back.
      EXPECT_EQ((*src)->mouse_flows_started(), (mice + 4) / 5);
      EXPECT_EQ(t.flows, std::min<uint64_t>((mice + 4) / 5, 1000) + (elephant ? 1 : 0));
      EXPECT_EQ(es.overflowed, 0u);
    }
  }
}

// Paced mice alone: the source hands out mice only as they fall due.
TEST(ShortFlows, PacedMiceAloneFollowTheirRate) {
  bench::TrafficConfig tc;
  tc.flows = 11;
  tc.elephant = false;
  tc.mouse_pps = 1000000;
  tc.mouse_flow_packets = 4;
  auto src = bench::TrafficSource::Create(tc);
  ASSERT_TRUE(src.ok()) << src.status().message();
  Packet* pkts[kMaxBatch];
  uint64_t got = 0;
  // The first call starts the clock and has nothing due yet.
  const uint32_t first = (*src)->RxBurst(pkts, 64);
  PacketFreeBurst(pkts, first);
  got += first;
  std::this_thread::sleep_for(2ms);
  for (int i = 0; i < 8; ++i) {
    const uint32_t n = (*src)->RxBurst(pkts, 64);
    PacketFreeBurst(pkts, n);
    got += n;
  }
  // At least 2 ms worth were due (1000 per ms; more if the sleep ran long),
  // handed out at most 64 at a time: 8 full bursts after the sleep.
  EXPECT_GE(got, 8u * 64);
  EXPECT_EQ((*src)->mouse_generated(), got);
  EXPECT_EQ((*src)->generated(), got);
}

}  // namespace
}  // namespace mflow

// Engine tests: the three steering modes on the same input deliver the same
// per-flow order; drops, stalls and tiny queues never reorder, lose or stall
// a flow; idle workers sleep. Run under ThreadSanitizer by scripts/test.sh.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "bench/order_sink.h"
#include "common/clock.h"
#include "engine/engine_test_util.h"
#include "bench/traffic_source.h"
#include "stage/datapath.h"

namespace mflow {
namespace {

using namespace std::chrono_literals;
using test::ClassifyTest;
using test::RecordingSink;
using test::TestHeader;
using test::WaitFor;

struct Mode {
  SteeringMode mode;
  uint32_t workers;
  MergeKind merge;
  uint32_t mf_size;
};

struct Outcome {
  uint64_t generated = 0;
  bench::SinkTotals sink;
  EngineStats stats;
};

// One direction's traffic through an engine path: a generator, the chain of
// that direction (with an FDB that knows the destination), a checking sink.
struct TrafficPath {
  TrafficPath(bench::Direction d, uint32_t flows, uint64_t frames, uint32_t gso_segs)
      : dir(d), sink(d, flows), want(frames * (gso_segs ? gso_segs : 1)) {
    bench::TrafficConfig tc;
    tc.direction = dir;
    tc.flows = flows;
    tc.mouse_every = 3;
    tc.ip_size = 1500;
    tc.gso_segs = gso_segs;
    tc.pool_packets = gso_segs ? 128 : 1024;
    tc.max_frames = frames;
    auto s = bench::TrafficSource::Create(tc);
    EXPECT_TRUE(s.ok()) << s.status().message();
    src = std::move(s).value();
    auto f = Fdb::Create(FdbConfig{});
    EXPECT_TRUE(f.ok());
    fdb = std::move(f).value();
    const wire::MacAddr dst{{0x02, 0, 0, 0, 0, 0x02}};
    fdb->Learn(tc.vni, dst,
               dir == bench::Direction::kRx ? FdbValue::Local(0)
                                            : FdbValue::Remote(wire::IpAddr::V4(0xC6120001)),
               UINT64_MAX / 2);
    DataPathConfig dp;
    dp.fdb = fdb.get();
    dp.inner_mtu = 1500;
    auto c = dir == bench::Direction::kRx ? BuildRxChain(dp) : BuildTxChain(dp);
    EXPECT_TRUE(c.ok()) << c.status().message();
    chain = std::move(c).value();
    auto hp = PacketPool::Create({"headers", tc.pool_packets * (gso_segs ? gso_segs : 1) + 1024, 256});
    EXPECT_TRUE(hp.ok());
    hdr_pool = std::move(hp).value();
  }
  EnginePath Path() {
    EnginePath p;
    p.chain = chain.get();
    p.rx = src.get();
    p.tx = &sink;
    p.pool = hdr_pool.get();
    p.classify = dir == bench::Direction::kRx ? ClassifyRx : ClassifyTx;
    return p;
  }
  bool Done() const { return sink.segments() >= want; }

  bench::Direction dir;
  std::unique_ptr<bench::TrafficSource> src;
  bench::OrderSink sink;
  std::unique_ptr<Fdb> fdb;
  std::unique_ptr<StageChain> chain;
  std::unique_ptr<PacketPool> hdr_pool;
  uint64_t want;
};

EngineConfig ModeConfig(const Mode& m) {
  EngineConfig ec;
  ec.mode = m.mode;
  ec.workers = m.workers;
  ec.merge = m.merge;
  ec.microflow_size = m.mf_size;
  return ec;
}

Outcome RunTraffic(const Mode& m, bench::Direction dir, uint32_t flows, uint64_t frames,
                   uint32_t gso_segs = 0) {
  TrafficPath t(dir, flows, frames, gso_segs);
  auto engine = Engine::Create(ModeConfig(m), {t.Path()});
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->Start();
  EXPECT_TRUE(WaitFor([&] { return t.Done(); })) << "delivery stalled";
  t.src->Stop();
  (*engine)->Stop();
  Outcome o;
  o.generated = t.src->generated();
  o.sink = t.sink.Totals();
  o.stats = (*engine)->Stats();
  return o;
}

const Mode kModes[] = {
    {SteeringMode::kFlow, 1, MergeKind::kOrderedQueue, 32},
    {SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 32},
    {SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 32},
    {SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 32},
    {SteeringMode::kMicroflow, 2, MergeKind::kReorderWindow, 32},
    {SteeringMode::kMicroflow, 3, MergeKind::kOrderedQueue, 8},
};

// Every mode delivers every flow's segments exactly once and in order, so
// their per-flow output orders are identical (0, 1, 2, ... for each flow).
TEST(Engine, AllModesDeliverEveryFlowInOrderRx) {
  for (const Mode& m : kModes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers));
    const Outcome o = RunTraffic(m, bench::Direction::kRx, 8, 6000);
    EXPECT_EQ(o.generated, 6000u);
    EXPECT_EQ(o.sink.segments, o.generated);
    EXPECT_EQ(o.sink.out_of_order, 0u);
    EXPECT_EQ(o.sink.gaps, 0u);
    EXPECT_EQ(o.sink.bad, 0u);
    EXPECT_EQ(o.stats.out_of_order, 0u);
    EXPECT_EQ(o.stats.drops(), 0u);
    EXPECT_EQ(o.stats.released_packets, o.sink.frames);  // frames after coalescing
    // Every micro-flow that delivered packets is in the latency histogram.
    EXPECT_EQ(o.stats.latency.count(), o.stats.released_microflows - o.stats.empty_microflows);
    EXPECT_GT(o.stats.latency.sum_ns, 0u);
    // Coalescing really happened: fewer frames than segments.
    EXPECT_LT(o.sink.frames, o.sink.segments);
  }
}

TEST(Engine, AllModesDeliverEveryFlowInOrderTxSuperFrames) {
  for (const Mode& m : kModes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers));
    const Outcome o = RunTraffic(m, bench::Direction::kTx, 4, 300, 44);
    EXPECT_EQ(o.sink.segments, 300u * 44);
    EXPECT_EQ(o.sink.out_of_order, 0u);
    EXPECT_EQ(o.sink.gaps, 0u);
    EXPECT_EQ(o.sink.bad, 0u);
    EXPECT_EQ(o.stats.out_of_order, 0u);
    EXPECT_EQ(o.stats.drops(), 0u);
    for (const auto& st : o.stats.stages)
      for (const auto& d : st.drops) ADD_FAILURE() << d.first << " " << d.second;
  }
}

// Two paths on one set of workers, as mflowd runs its two directions: each
// path's flows arrive complete and in order at its own port, through its own
// chain, counted in its own statistics, in every mode.
// Runs rx and tx as the two paths of one engine (tx: micro-flows of 4
// super-frames) until both sinks have everything, checks that every flow
// arrived complete and in order, and returns the stopped engine.
std::unique_ptr<Engine> RunTwoPaths(const EngineConfig& ec, TrafficPath& rx, TrafficPath& tx) {
  EnginePath txp = tx.Path();
  txp.microflow_size = 4;  // super-frames: a few make a micro-flow
  auto engine = Engine::Create(ec, {rx.Path(), txp});
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return nullptr;
  Engine& e = **engine;
  EXPECT_EQ(e.paths(), 2u);
  EXPECT_EQ(e.microflow_size(1), 4u);
  e.Start();
  EXPECT_TRUE(WaitFor([&] { return rx.Done() && tx.Done(); })) << "delivery stalled";
  rx.src->Stop();
  tx.src->Stop();
  e.Stop();
  for (TrafficPath* t : {&rx, &tx}) {
    const bench::SinkTotals st = t->sink.Totals();
    EXPECT_EQ(st.segments, t->want);
    EXPECT_EQ(st.out_of_order, 0u);
    EXPECT_EQ(st.gaps, 0u);
    EXPECT_EQ(st.bad, 0u);
  }
  EXPECT_EQ(e.Stats(0).out_of_order + e.Stats(1).out_of_order, 0u);
  return std::move(engine).value();
}

TEST(Engine, TwoPathsShareTheWorkersAndKeepTheirOwnOrderAndCounters) {
  for (const Mode& m : kModes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers));
    TrafficPath rx(bench::Direction::kRx, 8, 4000, 0);
    TrafficPath tx(bench::Direction::kTx, 4, 200, 44);
    const auto engine = RunTwoPaths(ModeConfig(m), rx, tx);
    ASSERT_NE(engine, nullptr);
    const Engine& e = *engine;
    const EngineStats rs = e.Stats(0);
    const EngineStats ts = e.Stats(1);
    EXPECT_EQ(rs.drops() + ts.drops(), 0u);
    EXPECT_EQ(rs.released_packets, rx.sink.Totals().frames);
    EXPECT_EQ(ts.released_packets, 200u);  // TSO trains (the sink counts their segments)
    // Each path ran its own chain: the rx chain's first stage saw the
    // datagrams, the tx chain's the super-frames.
    EXPECT_EQ(rs.stages.front().name, rx.chain->at(0).name());
    EXPECT_EQ(ts.stages.front().name, tx.chain->at(0).name());
    uint64_t rx_read = 0, tx_read = 0;
    for (const auto& w : rs.workers) rx_read += w.rx_packets;
    for (const auto& w : ts.workers) tx_read += w.rx_packets;
    EXPECT_EQ(rx_read, rx.src->generated());
    EXPECT_EQ(tx_read, 200u);
    EXPECT_EQ(rs.stages.front().in, rx_read);
    EXPECT_EQ(ts.stages.front().in, tx_read);
  }
}

// Beside an elephant, flows spread over the workers (placement spread) or
// kept home, or either as measured (auto): every flow arrives complete and
// in order; `home` never hands mice off.
TEST(Engine, PlacementKeepsOrderWhereverFlowsRun) {
  for (PlacementMode placement : {PlacementMode::kSpread, PlacementMode::kHome, PlacementMode::kAuto}) {
    SCOPED_TRACE(std::string(PlacementName(placement)));
    TrafficPath rx(bench::Direction::kRx, 16, 20000, 0);  // an elephant, every 3rd packet a mouse
    TrafficPath tx(bench::Direction::kTx, 4, 200, 44);
    EngineConfig ec = ModeConfig({SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 32});
    ec.placement = placement;
    const auto engine = RunTwoPaths(ec, rx, tx);
    ASSERT_NE(engine, nullptr);
    const Engine& e = *engine;
    EXPECT_GT(e.Stats(0).elephants, 0u);
    uint64_t handoffs = 0;
    for (uint32_t p = 0; p < 2; ++p)
      for (const auto& w : e.Stats(p).workers) handoffs += w.mice_handoffs;
    if (placement == PlacementMode::kSpread) {
      EXPECT_GT(handoffs, 0u);
    } else if (placement == PlacementMode::kHome) {
      EXPECT_EQ(handoffs, 0u);
    } else {
      // The rx path is keyed on the outer UDP flow (ClassifyRx): for the
      // trial an open-loop elephant, beside which auto spreads at once.
      EXPECT_GT(handoffs, 0u);
      EXPECT_EQ(e.Stats(0).placement_trials, 0u);
    }
  }
}

// Home beside a TCP elephant is solo: worker 0 alone reads, and the other
// worker stands by (before solo, whichever worker was idle read). Worker 1's
// reads are the few before the elephant was seen. Spread: never solo, and both
// read; how evenly depends on the scheduler (a CI run saw 29 against 159 on a
// busy VM), so only "both" is checked. Either way the flow arrives whole and in
// order.
TEST(Engine, HomeBesideATcpElephantReadsOnOneWorker) {
  for (PlacementMode placement : {PlacementMode::kHome, PlacementMode::kSpread}) {
    SCOPED_TRACE(std::string(PlacementName(placement)));
    TrafficPath t(bench::Direction::kTx, 1, 6000, 44);  // one TCP elephant of super-frames
    EngineConfig ec = ModeConfig({SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 4});
    ec.placement = placement;
    ec.elephant_pps = 1000;  // an elephant however slowly a sanitized build runs
    auto engine = Engine::Create(ec, {t.Path()});
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    Engine& e = **engine;
    e.Start();
    bool solo_seen = false;
    EXPECT_TRUE(WaitFor([&] {
      solo_seen |= e.solo();
      return t.Done();
    })) << "delivery stalled";
    t.src->Stop();
    e.Stop();
    const bench::SinkTotals st = t.sink.Totals();
    EXPECT_EQ(st.segments, 6000u * 44);
    EXPECT_EQ(st.out_of_order + st.gaps + st.bad, 0u);
    const EngineStats s = e.Stats();
    EXPECT_EQ(s.out_of_order, 0u);
    const uint64_t r0 = s.workers[0].rx_bursts, r1 = s.workers[1].rx_bursts;
    if (placement == PlacementMode::kHome) {
      EXPECT_TRUE(solo_seen);
      EXPECT_LT(r1 * 4, r0) << "worker 1 read " << r1 << " bursts, worker 0 " << r0;
    } else {
      EXPECT_FALSE(solo_seen);
      EXPECT_GT(r1, 0u) << "worker 1 never read; worker 0 read " << r0 << " bursts";
    }
  }
}

// ---- synthetic traffic for fault injection ----
// Packets carry (flow, seq) in their first 12 bytes; the classifier keys on
// the flow; a test stage drops and stalls; the sink records what arrives.

class TestSource : public RxPort {
 public:
  TestSource(PacketPool* pool, uint32_t flows, uint64_t total) : pool_(pool), flows_(flows), total_(total), next_(flows, 0) {}
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override {
    if (made_ >= total_) return 0;
    if (n > total_ - made_) n = static_cast<uint32_t>(total_ - made_);
    const uint32_t got = pool_->AllocBurst(pkts, n);
    for (uint32_t i = 0; i < got; ++i) {
      // Mostly the elephant (flow 0), sometimes a mouse.
      const uint32_t f = (made_ + i) % 5 == 4 ? 1 + static_cast<uint32_t>((made_ + i) % (flows_ - 1)) : 0;
      TestHeader h{f, next_[f]++};
      std::memcpy(pkts[i]->data, &h, sizeof h);
      pkts[i]->len = 64;
    }
    made_ += got;
    generated_.store(made_, std::memory_order_release);
    return got;
  }
  uint64_t generated() const { return generated_.load(std::memory_order_acquire); }

 private:
  PacketPool* pool_;
  uint32_t flows_;
  uint64_t total_;
  uint64_t made_ = 0;
  std::vector<uint64_t> next_;
  std::atomic<uint64_t> generated_{0};
};

// Drops single packets at random, drops whole micro-flows, and sometimes
// stalls for a long time (a descheduled worker), on whatever worker runs it.
class ChaosStage : public Stage {
 public:
  enum Drop : uint32_t { kRandom, kWholeBatch };
  std::string_view name() const override { return "chaos"; }
  std::span<const std::string_view> drop_reasons() const override {
    static constexpr std::string_view kNames[] = {"random", "whole_batch"};
    return kNames;
  }
  void Process(Batch& b, StageContext& ctx) noexcept override {
    thread_local std::mt19937 rng(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    ctx.counters->in += b.n;
    const auto r = rng() % 100;
    if (r == 0) std::this_thread::sleep_for(3ms);  // long stall: the merge must wait, not skip
    if (r < 5) {
      for (uint32_t i = 0; i < b.n; ++i) ctx.Drop(b.pkts[i], kWholeBatch);
      b.n = 0;
      return;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < b.n; ++i) {
      if (rng() % 50 == 0)
        ctx.Drop(b.pkts[i], kRandom);
      else
        b.pkts[kept++] = b.pkts[i];
    }
    b.n = kept;
    ctx.counters->out += kept;
  }
};

struct FaultOutcome {
  uint64_t generated;
  uint64_t delivered;
  EngineStats stats;
  std::vector<std::vector<uint64_t>> seqs;
};

FaultOutcome RunChaos(const Mode& m, uint32_t worker_depth, uint32_t merge_depth) {
  constexpr uint32_t kFlows = 5;
  constexpr uint64_t kTotal = 30000;
  auto pool = PacketPool::Create({"test", 2048, 256});
  EXPECT_TRUE(pool.ok());
  TestSource src(pool->get(), kFlows, kTotal);
  RecordingSink sink(kFlows);
  StageChain chain;
  chain.Add(std::make_unique<ChaosStage>());
  chain.Add(std::make_unique<ChaosStage>());
  EngineConfig ec;
  ec.mode = m.mode;
  ec.workers = m.workers;
  ec.merge = m.merge;
  ec.microflow_size = m.mf_size;
  ec.worker_queue_depth = worker_depth;
  ec.merge_depth = merge_depth;
  ec.elephant_pps = 0;  // split every flow: the hardest case for the merge
  ec.classify = ClassifyTest;
  auto engine = Engine::Create(ec, &chain, &src, &sink, pool->get());
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->Start();
  EXPECT_TRUE(WaitFor([&] {
    if (src.generated() < kTotal) return false;
    return pool->get()->available() == pool->get()->count();
  })) << "a flow stalled";
  (*engine)->Stop();
  FaultOutcome o{src.generated(), sink.count(), (*engine)->Stats(), sink.seqs()};
  return o;
}

// Drops (of packets and of whole micro-flows) and long stalls never reorder,
// never lose an accepted packet (delivered + counted drops = generated), and
// never stall the merge.
TEST(Engine, DropsAndStallsKeepOrderAndAccount) {
  const Mode modes[] = {
      {SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 16},
      {SteeringMode::kMicroflow, 3, MergeKind::kReorderWindow, 8},
      {SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 16},
      {SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 16},
  };
  for (const Mode& m : modes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers));
    const FaultOutcome o = RunChaos(m, 64, 64);
    EXPECT_EQ(o.generated, 30000u);
    EXPECT_GT(o.stats.drops(), 0u);
    EXPECT_EQ(o.delivered + o.stats.drops(), o.generated);
    EXPECT_EQ(o.stats.out_of_order, 0u);
    EXPECT_GT(o.stats.empty_microflows, 0u);  // whole micro-flows were dropped and passed
    for (const auto& flow : o.seqs)
      for (size_t i = 1; i < flow.size(); ++i) ASSERT_LT(flow[i - 1], flow[i]);
  }
}

// Tiny queues everywhere: the split point is pushed back all the time and
// must help rather than drop or deadlock.
TEST(Engine, TinyQueuesPushBackWithoutLoss) {
  const FaultOutcome o = RunChaos({SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 1}, 2, 2);
  EXPECT_EQ(o.delivered + o.stats.drops(), o.generated);
  EXPECT_EQ(o.stats.out_of_order, 0u);
  uint64_t waits = 0;
  for (const auto& w : o.stats.workers) waits += w.pushback_waits;
  EXPECT_GT(waits, 0u);
}

class EmptySource : public RxPort {
 public:
  uint32_t RxBurst(Packet**, uint32_t) noexcept override { return 0; }
};
class NullSink : public TxPort {
 public:
  void TxBurst(Packet** pkts, uint32_t n) noexcept override {
    for (uint32_t i = 0; i < n; ++i) PacketFree(pkts[i]);
  }
};

// The set-up the idle and stop tests share: a small pool, one ChaosStage,
// the test classifier and a sink that frees; the source and the rest of the
// config are the test's own. Members are destroyed in reverse: the engine
// first, then what it points at.
struct IdleRig {
  IdleRig(RxPort* src, EngineConfig ec) : pool(PacketPool::Create({"test", 64, 256})) {
    chain.Add(std::make_unique<ChaosStage>());
    ec.classify = ClassifyTest;
    if (pool.ok()) engine = Engine::Create(ec, &chain, src, &sink, pool->get());
  }
  bool ok() const { return pool.ok() && engine.ok(); }
  // As the StatusOr it stands for: (*rig)->Start().
  std::unique_ptr<Engine>& operator*() { return *engine; }

  StatusOr<std::unique_ptr<PacketPool>> pool;
  NullSink sink;
  StageChain chain;
  StatusOr<std::unique_ptr<Engine>> engine{Status::Error("not created")};
};

// With nothing to do, workers sleep instead of spinning: each parks many
// times and uses a small part of the time it ran. CPU time cannot grow with
// a busy machine, only wall time can; what can grow it is a slow build (a
// sanitizer makes every poll between two sleeps dearer), so the test polls
// few times before sleeping (idle_spins), and the spin phase stays a small
// part of each 1 ms sleep even under ThreadSanitizer. A worker that never
// sleeps uses all of its time.
TEST(Engine, IdleWorkersSleep) {
  EmptySource src;
  EngineConfig ec;
  ec.workers = 2;
  ec.idle_spins = 40;
  IdleRig engine(&src, ec);
  ASSERT_TRUE(engine.ok());
  const auto start = std::chrono::steady_clock::now();
  (*engine)->Start();
  std::this_thread::sleep_for(300ms);
  (*engine)->Stop();
  const auto wall_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  const EngineStats s = (*engine)->Stats();
  ASSERT_EQ(s.workers.size(), 2u);
  for (const auto& w : s.workers) {
    // A port that cannot wait: the sleep grows to max_sleep_us (1 ms), so
    // 300 ms hold well over ten of them.
    EXPECT_GT(w.sleeps, 10u);
    EXPECT_LT(w.cpu_ns, wall_ns / 2) << "an idle worker used most of its time";
  }
}

// A worker's CPU time is read live from its thread's CPU clock (the
// metrics endpoint reads it at every scrape) and never falls, also across
// Stop, where the final value the thread stored takes over.
TEST(Engine, WorkerCpuTimeIsReadLive) {
  TrafficPath t(bench::Direction::kRx, 4, 1000000, 0);
  EngineConfig ec;
  ec.workers = 2;
  auto engine = Engine::Create(ec, {t.Path()});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  Engine& e = **engine;
  EXPECT_EQ(e.Stats().workers.at(0).cpu_ns, 0u);  // not started
  e.Start();
  std::vector<uint64_t> last(2, 0);
  bool grew = false;
  for (int i = 0; i < 20; ++i) {
    const EngineStats s = e.Stats();
    for (size_t w = 0; w < 2; ++w) {
      EXPECT_GE(s.workers[w].cpu_ns, last[w]) << "worker " << w;
      grew |= s.workers[w].cpu_ns > last[w] && last[w] != 0;
      last[w] = s.workers[w].cpu_ns;
    }
    std::this_thread::sleep_for(5ms);
  }
  t.src->Stop();
  e.Stop();
  EXPECT_TRUE(grew) << "no worker's CPU time moved while it ran";
  const EngineStats s = e.Stats();
  for (size_t w = 0; w < 2; ++w) EXPECT_GE(s.workers[w].cpu_ns, last[w]) << "worker " << w;
}

// A port that can block, like a socket: an eventfd that only Interrupt
// signals; it never has input. Counts the engine's waits in it (WaitFds is
// asked right before each poll) and the wake-ups that the interrupt caused.
class WaitingSource : public RxPort {
 public:
  WaitingSource() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~WaitingSource() override { close(fd_); }
  uint32_t RxBurst(Packet**, uint32_t) noexcept override { return 0; }
  uint32_t WaitFds(pollfd* fds) noexcept override {
    asked_.fetch_add(1, std::memory_order_relaxed);
    fds[0] = {fd_, POLLIN, 0};
    return 1;
  }
  void AfterWait(const pollfd* fds) noexcept override {
    uint64_t v;
    if ((fds[0].revents & POLLIN) != 0 && read(fd_, &v, sizeof(v)) == sizeof(v))
      interrupted_.fetch_add(1, std::memory_order_relaxed);
  }
  void Interrupt() noexcept override {
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  uint64_t asked() const { return asked_.load(std::memory_order_relaxed); }
  uint64_t interrupted() const { return interrupted_.load(std::memory_order_relaxed); }

 private:
  const int fd_;
  std::atomic<uint64_t> asked_{0};
  std::atomic<uint64_t> interrupted_{0};
};

// An idle engine blocks in a port that can wait, and Stop gets the RX role
// from the blocked worker by interrupting it: in every start/stop cycle a
// worker is blocked in the port when Stop begins, Stop ends, and the
// blocked worker woke because of the interrupt, not a timeout (the source
// never has input, so a poll that returns readable was interrupted), and
// gave the RX role up (the next cycle's worker takes it and blocks again).
// A worker used to take the role straight back to wait again, racing Stop
// for seconds.
TEST(Engine, StopInterruptsAWorkerBlockedInThePort) {
  WaitingSource src;
  EngineConfig ec;
  ec.workers = 2;
  ec.idle_spins = 4;
  IdleRig engine(&src, ec);
  ASSERT_TRUE(engine.ok());
  for (int i = 0; i < 30; ++i) {
    SCOPED_TRACE("cycle " + std::to_string(i));
    const uint64_t asked = src.asked();
    const uint64_t interrupted = src.interrupted();
    (*engine)->Start();
    // Start asks once (can every port wait?); a worker about to block asks
    // again. It may still be on its way into poll(): the interrupt then
    // finds the eventfd readable all the same.
    ASSERT_TRUE(WaitFor([&] { return src.asked() >= asked + 2; })) << "no worker blocked in the port";
    (*engine)->Stop();
    EXPECT_GT(src.interrupted(), interrupted) << "the blocked worker was not interrupted";
    const EngineStats s = (*engine)->Stats();
    uint64_t sleeps = 0;
    for (const auto& w : s.workers) sleeps += w.sleeps;
    EXPECT_GT(sleeps, 0u);
  }
}

// A waiting port that also tells its input descriptor (as sockets and
// TAPs do): records when the engine first polled it for input without
// blocking (InputFds) and when a worker next got ready to block in it
// (WaitFds), by the monotonic clock.
class PolledSource : public WaitingSource {
 public:
  uint32_t InputFds(pollfd* fds) noexcept override {
    uint64_t none = 0;
    first_poll_ns_.compare_exchange_strong(none, MonotonicNs());
    input_polls_.fetch_add(1, std::memory_order_relaxed);
    fds[0] = {-1, POLLIN, 0};  // never readable (poll ignores it)
    return 1;
  }
  uint32_t WaitFds(pollfd* fds) noexcept override {
    uint64_t none = 0;
    if (first_poll_ns_.load() != 0) first_block_ns_.compare_exchange_strong(none, MonotonicNs());
    return WaitingSource::WaitFds(fds);
  }
  uint64_t first_poll_ns() const { return first_poll_ns_.load(); }
  uint64_t first_block_ns() const { return first_block_ns_.load(); }
  uint64_t input_polls() const { return input_polls_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> first_poll_ns_{0};
  std::atomic<uint64_t> first_block_ns_{0};
  std::atomic<uint64_t> input_polls_{0};
};

// idle_poll_us: an idle worker polls its ports for that long before it
// blocks in them, however few rounds idle_spins asks for (a round is one
// system call, whose cost differs 14x between VMs). The bound checked is
// the engine's own: by the same clock, no block before the window is over.
TEST(Engine, IdleWorkerPollsForItsWindowBeforeBlocking) {
  for (uint32_t window_us : {0u, 100000u}) {
    SCOPED_TRACE("idle_poll_us " + std::to_string(window_us));
    PolledSource src;
    EngineConfig ec;
    ec.workers = 1;
    ec.idle_spins = 2;
    ec.idle_poll_us = window_us;
    IdleRig engine(&src, ec);
    ASSERT_TRUE(engine.ok());
    (*engine)->Start();
    ASSERT_TRUE(WaitFor([&] { return src.first_block_ns() != 0; })) << "the worker never blocked";
    (*engine)->Stop();
    const uint64_t polled_ns = src.first_block_ns() - src.first_poll_ns();
    if (window_us == 0) {
      EXPECT_LE(src.input_polls(), 3u) << "rounds only: two polls, then block";
    } else {
      EXPECT_GE(polled_ns, uint64_t{window_us} * 1000) << "blocked before its window was over";
      EXPECT_GT(src.input_polls(), 2u);
    }
  }
}

TEST(Engine, RejectsBadConfig) {
  auto pool = PacketPool::Create({"test", 64, 256});
  EmptySource src;
  NullSink sink;
  StageChain chain;
  chain.Add(std::make_unique<ChaosStage>());
  EngineConfig ec;
  ec.classify = ClassifyTest;
  ec.workers = 0;
  EXPECT_FALSE(Engine::Create(ec, &chain, &src, &sink, pool->get()).ok());
  ec.workers = 2;
  ec.microflow_size = 0;
  EXPECT_FALSE(Engine::Create(ec, &chain, &src, &sink, pool->get()).ok());
  ec.microflow_size = 300;
  EXPECT_FALSE(Engine::Create(ec, &chain, &src, &sink, pool->get()).ok());
  ec.microflow_size = 64;
  ec.max_flows = 1000;  // not a power of two
  auto e = Engine::Create(ec, &chain, &src, &sink, pool->get());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("power of two"), std::string::npos);
  ec.max_flows = 1024;
  ec.mode = SteeringMode::kStage;
  ec.stage_cuts = {5};  // beyond a 1-stage chain
  EXPECT_FALSE(Engine::Create(ec, &chain, &src, &sink, pool->get()).ok());

  // Paths: 1..kMaxPaths of them, each complete; errors name the path.
  ec.mode = SteeringMode::kMicroflow;
  EnginePath good;
  good.chain = &chain;
  good.rx = &src;
  good.tx = &sink;
  good.pool = pool->get();
  EXPECT_FALSE(Engine::Create(ec, std::vector<EnginePath>{}).ok());
  EXPECT_FALSE(Engine::Create(ec, std::vector<EnginePath>(Engine::kMaxPaths + 1, good)).ok());
  EXPECT_TRUE(Engine::Create(ec, {good, good}).ok());
  EnginePath no_tx = good;
  no_tx.tx = nullptr;
  auto two = Engine::Create(ec, {good, no_tx});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().message().rfind("path 1: ", 0), 0u) << two.status().message();
  EnginePath big = good;
  big.microflow_size = 300;
  EXPECT_FALSE(Engine::Create(ec, {good, big}).ok());
}

}  // namespace
}  // namespace mflow

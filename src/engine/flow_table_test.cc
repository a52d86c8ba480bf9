// FlowTable: a new flow that takes over a drained, idle slot starts with its
// own figures at zero, while the slot's running totals (the engine's) go on;
// a slot still in flight or not yet idle is not taken.
#include "engine/flow_table.h"

#include <gtest/gtest.h>

namespace mflow {
namespace {

wire::FlowKey Key(uint16_t port) {
  wire::FlowKey k;
  k.family = 4;
  k.proto = 6;
  k.sport = port;
  return k;
}

std::unique_ptr<FlowTable> Table(uint64_t idle_ms) {
  FlowTableConfig c;
  c.capacity = 16;
  c.workers = 2;
  c.idle_ms = idle_ms;
  auto t = FlowTable::Create(c);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return std::move(t).value();
}

// What a flow's release side does as its micro-flows come back.
void Release(FlowState* f, uint64_t mfs, uint64_t pkts, uint64_t empty, uint64_t ooo) {
  f->issued_mfs += mfs;
  f->released_pkts += pkts;
  f->empty_mfs += empty;
  f->out_of_order += ooo;
  f->released_mfs.fetch_add(mfs, std::memory_order_release);
}

// A flow's figures as ReadFlowStats gives them.
void ExpectFigures(const FlowState& f, const wire::FlowKey& key, uint64_t pkts, uint64_t mfs,
                   uint64_t empty, uint64_t ooo) {
  const FlowStats s = ReadFlowStats(f);
  EXPECT_EQ(s.key, key);
  EXPECT_EQ(s.packets, pkts);
  EXPECT_EQ(s.microflows, mfs);
  EXPECT_EQ(s.empty_microflows, empty);
  EXPECT_EQ(s.out_of_order, ooo);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST(FlowTableTest, AReusedSlotStartsTheNewFlowAtZero) {
  auto t = Table(100);
  constexpr uint32_t kHash = 5;  // both keys land in the same slot
  FlowState* a = t->Find(Key(1), kHash, 1000);
  Release(a, 7, 700, 1, 2);
  ExpectFigures(*a, Key(1), 700, 7, 1, 2);

  // Idle for longer than idle_ms and drained: the next flow takes the slot.
  FlowState* b = t->Find(Key(2), kHash, 1000 + 101);
  ASSERT_EQ(b, a);
  ExpectFigures(*b, Key(2), 0, 0, 0, 0);
  EXPECT_FALSE(b->elephant);
  // The new flow's own traffic counts from there; the slot's totals (what
  // the engine sums) go on.
  Release(b, 3, 30, 0, 0);
  ExpectFigures(*b, Key(2), 30, 3, 0, 0);
  EXPECT_EQ(b->released_pkts, 730u);
  EXPECT_EQ(t->active(), 1u);
}

TEST(FlowTableTest, ASlotInFlightOrNotIdleIsNotTaken) {
  auto t = Table(100);
  constexpr uint32_t kHash = 9;
  FlowState* a = t->Find(Key(1), kHash, 1000);
  a->issued_mfs += 2;  // two micro-flows out, one back
  a->released_mfs.fetch_add(1, std::memory_order_release);
  FlowState* b = t->Find(Key(2), kHash, 5000);
  EXPECT_NE(b, a);  // a is in flight: b goes to the next free slot
  EXPECT_EQ(ReadFlowStats(*a).key, Key(1));
  EXPECT_EQ(ReadFlowStats(*a).in_flight, 1u);
  // a drains, but was seen again recently: still not taken.
  a->released_mfs.fetch_add(1, std::memory_order_release);
  EXPECT_EQ(t->Find(Key(1), kHash, 6000), a);
  // b, next in the probe, is drained (it never issued anything) and idle
  // since 5000: a third flow takes b's slot, not a's.
  FlowState* c = t->Find(Key(3), kHash, 6050);
  EXPECT_EQ(c, b);
  EXPECT_EQ(ReadFlowStats(*a).key, Key(1));
  EXPECT_EQ(ReadFlowStats(*c).key, Key(3));
  EXPECT_EQ(t->active(), 2u);
}

}  // namespace
}  // namespace mflow

// PacketPool and PacketFree: allocation, exhaustion, and that everything a
// packet owns (GRO chain, TSO train, parent reference) returns with it.
#include "packet/pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace mflow {
namespace {

std::unique_ptr<PacketPool> MakePool(uint32_t count) {
  PacketPoolConfig cfg;
  cfg.name = "test";
  cfg.count = count;
  cfg.buf_size = 2048;
  auto pool = PacketPool::Create(cfg);
  EXPECT_TRUE(pool.ok()) << pool.status().message();
  return std::move(pool).value();
}

TEST(Pool, RejectsBadConfig) {
  PacketPoolConfig cfg;
  cfg.count = 0;
  EXPECT_FALSE(PacketPool::Create(cfg).ok());
  cfg.count = 4;
  cfg.buf_size = kHeadroom;  // no room for a frame
  EXPECT_FALSE(PacketPool::Create(cfg).ok());
}

TEST(Pool, AllocGivesFreshPacket) {
  auto pool = MakePool(4);
  Packet* p = pool->Alloc();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->headroom(), kHeadroom);
  EXPECT_EQ(p->len, 0u);
  EXPECT_EQ(p->nfrags, 0u);
  EXPECT_EQ(p->out_port, kPortNone);
  EXPECT_EQ(p->pool, pool.get());
  EXPECT_EQ(p->tailroom(), 2048u - kHeadroom);

  // Dirty it, free it, and the next user sees it clean again.
  p->len = 100;
  p->vni = 7;
  p->gso_size = 1448;
  p->flags = kPktFlagL4CsumOk;
  p->Adj(10);
  PacketFree(p);
  std::vector<Packet*> all;
  while (Packet* q = pool->Alloc()) all.push_back(q);
  ASSERT_EQ(all.size(), 4u);
  for (Packet* q : all) {
    EXPECT_EQ(q->len, 0u);
    EXPECT_EQ(q->vni, 0u);
    EXPECT_EQ(q->gso_size, 0u);
    EXPECT_EQ(q->flags, 0u);
    EXPECT_EQ(q->headroom(), kHeadroom);
    PacketFree(q);
  }
}

TEST(Pool, ExhaustionReturnsNull) {
  auto pool = MakePool(8);
  std::vector<Packet*> got;
  for (int i = 0; i < 8; ++i) {
    Packet* p = pool->Alloc();
    ASSERT_NE(p, nullptr);
    got.push_back(p);
  }
  EXPECT_EQ(pool->available(), 0u);
  EXPECT_EQ(pool->Alloc(), nullptr);
  PacketFree(got.back());
  got.pop_back();
  EXPECT_EQ(pool->available(), 1u);
  Packet* again = pool->Alloc();
  EXPECT_NE(again, nullptr);
  got.push_back(again);
  for (Packet* p : got) PacketFree(p);
  EXPECT_EQ(pool->available(), 8u);
}

TEST(Pool, AllocBurstIsUpToN) {
  auto pool = MakePool(8);
  Packet* out[16];
  EXPECT_EQ(pool->AllocBurst(out, 5), 5u);
  EXPECT_EQ(pool->AllocBurst(out + 5, 10), 3u);  // only 3 left
  EXPECT_EQ(pool->AllocBurst(out + 8, 1), 0u);
  for (int i = 0; i < 8; ++i) PacketFree(out[i]);
  EXPECT_EQ(pool->available(), 8u);
}

// The free packets are a stack (pool.h): the packet freed last, still in
// the cache of the core that freed it, is the next one handed out, single
// or in a burst.
TEST(Pool, LastFreedIsAllocatedFirst) {
  auto pool = MakePool(8);
  Packet* out[8];
  ASSERT_EQ(pool->AllocBurst(out, 8), 8u);
  PacketFree(out[2]);
  PacketFree(out[5]);
  EXPECT_EQ(pool->Alloc(), out[5]);
  EXPECT_EQ(pool->Alloc(), out[2]);
  PacketFreeBurst(out, 3);  // out[0], out[1], out[2]: out[2] on top
  Packet* again[2];
  ASSERT_EQ(pool->AllocBurst(again, 2), 2u);
  EXPECT_EQ(again[0], out[2]);
  EXPECT_EQ(again[1], out[1]);
  PacketFree(again[0]);
  PacketFree(again[1]);
  PacketFreeBurst(out + 3, 5);  // out[0] is still in the pool
  EXPECT_EQ(pool->available(), 8u);
}

TEST(Pool, PrependAndAdjRespectBounds) {
  auto pool = MakePool(1);
  Packet* p = pool->Alloc();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Prepend(kHeadroom + 1), nullptr);
  EXPECT_EQ(p->headroom(), kHeadroom);
  EXPECT_EQ(p->Prepend(50), p->buf + kHeadroom - 50);
  EXPECT_EQ(p->len, 50u);
  EXPECT_EQ(p->Adj(51), nullptr);
  EXPECT_EQ(p->Adj(50), p->buf + kHeadroom);
  EXPECT_EQ(p->len, 0u);
  PacketFree(p);
}

TEST(Pool, ChainFreedWithOwner) {
  auto pool = MakePool(8);
  Packet* head = pool->Alloc();
  ASSERT_NE(head, nullptr);
  // A GRO head owning three absorbed packets.
  for (int i = 0; i < 3; ++i) {
    Packet* c = pool->Alloc();
    ASSERT_NE(c, nullptr);
    c->chain_next = head->chain;
    head->chain = c;
    ASSERT_TRUE(head->AppendFrag(c->data, 10));
  }
  EXPECT_EQ(pool->available(), 4u);
  PacketFree(head);
  EXPECT_EQ(pool->available(), 8u);
}

TEST(Pool, TrainFreedWithCarrier) {
  auto pool = MakePool(8);
  Packet* carrier = pool->Alloc();
  ASSERT_NE(carrier, nullptr);
  Packet** tail = &carrier->segs;
  for (int i = 0; i < 4; ++i) {
    Packet* s = pool->Alloc();
    ASSERT_NE(s, nullptr);
    *tail = s;
    tail = &s->seg_next;
    carrier->nsegs++;
  }
  EXPECT_TRUE(carrier->is_train());
  EXPECT_EQ(pool->available(), 3u);
  PacketFree(carrier);
  EXPECT_EQ(pool->available(), 8u);
}

TEST(Pool, DetachedSegmentsKeepParentAlive) {
  auto pool = MakePool(8);
  Packet* parent = pool->Alloc();
  ASSERT_NE(parent, nullptr);
  // Two segments detached from the train, each holding a reference.
  Packet* a = pool->Alloc();
  Packet* b = pool->Alloc();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->parent = parent;
  b->parent = parent;
  parent->refs.fetch_add(2, std::memory_order_relaxed);
  PacketFree(parent);  // the carrier's own reference
  EXPECT_EQ(pool->available(), 5u);
  PacketFree(a);
  EXPECT_EQ(pool->available(), 6u);  // a back, parent still referenced by b
  PacketFree(b);
  EXPECT_EQ(pool->available(), 8u);  // b and the parent
}

TEST(Pool, FlattenConcatenatesFrags) {
  auto pool = MakePool(2);
  Packet* p = pool->Alloc();
  ASSERT_NE(p, nullptr);
  const uint8_t head[] = {1, 2, 3};
  const uint8_t f1[] = {4, 5};
  const uint8_t f2[] = {6};
  std::memcpy(p->data, head, 3);
  p->len = 3;
  ASSERT_TRUE(p->AppendFrag(f1, 2));
  ASSERT_TRUE(p->AppendFrag(f2, 1));
  EXPECT_EQ(p->frame_len(), 6u);
  uint8_t out[8] = {};
  EXPECT_EQ(p->Flatten(out, 5), 0u);  // does not fit
  ASSERT_EQ(p->Flatten(out, sizeof(out)), 6u);
  for (uint8_t i = 0; i < 6; ++i) EXPECT_EQ(out[i], i + 1);
  PacketFree(p);
}

TEST(Pool, AppendFragStopsAtMax) {
  auto pool = MakePool(1);
  Packet* p = pool->Alloc();
  ASSERT_NE(p, nullptr);
  static const uint8_t byte = 0;
  for (uint32_t i = 0; i < kMaxFrags; ++i) ASSERT_TRUE(p->AppendFrag(&byte, 1));
  EXPECT_FALSE(p->AppendFrag(&byte, 1));
  EXPECT_EQ(p->nfrags, kMaxFrags);
  PacketFree(p);
}

}  // namespace
}  // namespace mflow

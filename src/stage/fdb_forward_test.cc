// FdbForward: learning and forwarding decisions in both directions, the
// batch cache staying correct across keys, and learn failures as events.
#include "stage/fdb_forward.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "packet/pool.h"

namespace mflow {
namespace {

wire::MacAddr Mac(uint8_t last) { return wire::MacAddr{{0x02, 0, 0, 0, 0, last}}; }
const wire::MacAddr kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const wire::IpAddr kVtepA = wire::IpAddr::V4(0xC6120001);
const wire::IpAddr kVtepB = wire::IpAddr::V4(0xC6120002);

class FdbForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = 64;
    pool_ = std::move(PacketPool::Create(pc)).value();
    FdbConfig fc;
    fc.capacity = 1024;
    fdb_ = std::move(Fdb::Create(fc)).value();
    rx_ = Make(FdbDirection::kRx);
    tx_ = Make(FdbDirection::kTx);
    ctx_.pool = pool_.get();
    ctx_.now_ms = 1000;
  }

  std::unique_ptr<FdbForward> Make(FdbDirection d) {
    FdbForwardConfig cfg;
    cfg.fdb = fdb_.get();
    cfg.direction = d;
    auto s = FdbForward::Create(cfg);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  // An rx packet: inner frame from `src` behind VTEP `from`.
  Packet* Rx(wire::MacAddr src, wire::MacAddr dst, const wire::IpAddr& from, uint32_t vni = 42) {
    Packet* p = Frame(src, dst, vni);
    p->remote = from;
    return p;
  }
  Packet* Tx(wire::MacAddr src, wire::MacAddr dst, uint16_t in_port, uint32_t vni = 42) {
    Packet* p = Frame(src, dst, vni);
    p->in_port = in_port;
    return p;
  }
  Packet* Frame(wire::MacAddr src, wire::MacAddr dst, uint32_t vni) {
    Packet* p = pool_->Alloc();
    EXPECT_NE(p, nullptr);
    std::memcpy(p->data, dst.b.data(), 6);
    std::memcpy(p->data + 6, src.b.data(), 6);
    p->data[12] = 0x08;
    p->data[13] = 0x00;
    p->len = 60;
    p->vni = vni;
    p->seq = next_tag_++;
    return p;
  }

  // Runs the stage over pkts; the survivors stay in out_ until FreeOut().
  void Run(FdbForward& s, std::vector<Packet*> pkts) {
    FreeOut();
    Batch b;
    for (Packet* p : pkts) b.Push(p);
    ctx_.counters = &counters_;
    s.Process(b, ctx_);
    for (Packet* p : b) out_.push_back(p);
  }
  void FreeOut() {
    for (Packet* p : out_) PacketFree(p);
    out_.clear();
  }
  void TearDown() override {
    FreeOut();
    EXPECT_EQ(pool_->available(), 64u);
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<Fdb> fdb_;
  std::unique_ptr<FdbForward> rx_;
  std::unique_ptr<FdbForward> tx_;
  StageCounters counters_;
  StageContext ctx_;
  std::vector<Packet*> out_;
  uint64_t next_tag_ = 0;
};

TEST_F(FdbForwardTest, RejectsMissingTable) {
  EXPECT_FALSE(FdbForward::Create(FdbForwardConfig{}).ok());
  EXPECT_EQ(rx_->name(), "fdb_forward_rx");
  EXPECT_EQ(tx_->name(), "fdb_forward_tx");
  EXPECT_EQ(rx_->event_names().size(), 2u);
}

TEST_F(FdbForwardTest, RxLearnsRemoteAndFloodsUnknown) {
  Run(*rx_, {Rx(Mac(1), Mac(2), kVtepA), Rx(Mac(1), kBroadcast, kVtepA)});
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0]->out_port, kPortFlood);  // unknown
  EXPECT_EQ(out_[1]->out_port, kPortFlood);  // broadcast
  FdbValue v;
  ASSERT_TRUE(fdb_->Lookup(42, Mac(1), ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepA));
  EXPECT_FALSE(fdb_->Lookup(43, Mac(1), ctx_.now_ms, &v));  // per VNI
}

TEST_F(FdbForwardTest, RxToLocalPortAfterTxLearned) {
  Run(*tx_, {Tx(Mac(2), kBroadcast, 3)});  // the container on port 3 speaks first
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->out_port, kPortFlood);
  Run(*rx_, {Rx(Mac(1), Mac(2), kVtepA)});
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->out_port, 3u);
  EXPECT_EQ(out_[0]->remote, kVtepA);  // untouched: still the sender
}

TEST_F(FdbForwardTest, RxSplitHorizon) {
  fdb_->Learn(42, Mac(9), FdbValue::Remote(kVtepB), ctx_.now_ms);
  Run(*rx_, {Rx(Mac(1), Mac(9), kVtepA), Rx(Mac(1), Mac(5), kVtepA)});
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->seq, 1u);
  EXPECT_EQ(counters_.drops[FdbForward::kSplitHorizon], 1u);
}

TEST_F(FdbForwardTest, BadSourceAndTruncatedDropped) {
  wire::MacAddr mcast = Mac(1);
  mcast.b[0] = 0x01;
  Packet* shortp = Rx(Mac(1), Mac(2), kVtepA);
  shortp->len = 13;
  Run(*rx_, {Rx(mcast, Mac(2), kVtepA), Rx(wire::MacAddr{}, Mac(2), kVtepA),
             Rx(kBroadcast, Mac(2), kVtepA), shortp, Rx(Mac(1), Mac(2), kVtepA)});
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->seq, 4u);
  EXPECT_EQ(counters_.drops[FdbForward::kBadSrcMac], 3u);
  EXPECT_EQ(counters_.drops[FdbForward::kTruncated], 1u);
  EXPECT_EQ(counters_.in, 5u);
  EXPECT_EQ(counters_.out, 1u);
  FdbValue v;
  EXPECT_FALSE(fdb_->Lookup(42, mcast, ctx_.now_ms, &v));
  EXPECT_FALSE(fdb_->Lookup(42, wire::MacAddr{}, ctx_.now_ms, &v));
}

TEST_F(FdbForwardTest, TxForwardsToRemoteLocalOrFlood) {
  fdb_->Learn(42, Mac(9), FdbValue::Remote(kVtepB), ctx_.now_ms);
  fdb_->Learn(42, Mac(7), FdbValue::Local(5), ctx_.now_ms);
  Run(*tx_, {Tx(Mac(1), Mac(9), 3), Tx(Mac(1), Mac(7), 3), Tx(Mac(1), Mac(8), 3),
             Tx(Mac(1), kBroadcast, 3)});
  ASSERT_EQ(out_.size(), 4u);
  EXPECT_EQ(out_[0]->remote, kVtepB);
  EXPECT_EQ(out_[0]->out_port, kPortNone);
  EXPECT_EQ(out_[1]->out_port, 5u);  // hairpin to another local port
  EXPECT_EQ(out_[2]->out_port, kPortFlood);
  EXPECT_EQ(out_[3]->out_port, kPortFlood);
  FdbValue v;
  ASSERT_TRUE(fdb_->Lookup(42, Mac(1), ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Local(3));
}

// IPv6 neighbour discovery: the solicitation goes to the solicited-node
// multicast MAC 33:33:ff:xx:xx:xx (RFC 4861, RFC 2464), the advertisement
// back as unicast. The multicast is flooded both ways, like an ARP
// broadcast, and the senders are learned, so the answer and what follows
// are unicast.
TEST_F(FdbForwardTest, Ipv6NeighbourDiscoveryIsFloodedAndTeaches) {
  const wire::MacAddr kSolicitedNode{{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}};
  Run(*tx_, {Tx(Mac(1), kSolicitedNode, 3)});  // the container on port 3 solicits
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->out_port, kPortFlood);
  Run(*rx_, {Rx(Mac(2), kSolicitedNode, kVtepA), Rx(Mac(2), Mac(1), kVtepA)});
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0]->out_port, kPortFlood);  // a remote solicitation reaches every local port
  EXPECT_EQ(out_[1]->out_port, 3u);          // the advertisement only the solicitor
  Run(*tx_, {Tx(Mac(1), Mac(2), 3)});
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->out_port, kPortNone);  // unicast to the learned VTEP
  EXPECT_EQ(out_[0]->remote, kVtepA);
}

TEST_F(FdbForwardTest, TxToIngressPortDropped) {
  Run(*tx_, {Tx(Mac(1), kBroadcast, 3), Tx(Mac(2), Mac(1), 3), Tx(Mac(2), Mac(1), 4)});
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(counters_.drops[FdbForward::kSamePort], 1u);
  // Mac(2) moved from port 3 to port 4 within the batch.
  FdbValue v;
  ASSERT_TRUE(fdb_->Lookup(42, Mac(2), ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Local(4));
  EXPECT_EQ(out_[1]->out_port, 3u);
}

TEST_F(FdbForwardTest, TxWithoutIngressPortDoesNotLearn) {
  Run(*tx_, {Tx(Mac(1), kBroadcast, kPortNone)});
  ASSERT_EQ(out_.size(), 1u);
  FdbValue v;
  EXPECT_FALSE(fdb_->Lookup(42, Mac(1), ctx_.now_ms, &v));
}

TEST_F(FdbForwardTest, BatchCacheFollowsKeysAndMoves) {
  fdb_->Learn(42, Mac(2), FdbValue::Local(1), ctx_.now_ms);
  fdb_->Learn(43, Mac(2), FdbValue::Local(2), ctx_.now_ms);
  // Same MACs in another VNI, a MAC moving VTEP mid-batch, and a destination
  // learned (as remote) by an earlier packet of the same batch.
  Run(*rx_, {Rx(Mac(1), Mac(2), kVtepA, 42), Rx(Mac(1), Mac(2), kVtepA, 42),
             Rx(Mac(1), Mac(2), kVtepA, 43), Rx(Mac(1), Mac(2), kVtepB, 42),
             Rx(Mac(3), Mac(1), kVtepA, 42)});
  ASSERT_EQ(out_.size(), 4u);
  EXPECT_EQ(out_[0]->out_port, 1u);
  EXPECT_EQ(out_[1]->out_port, 1u);
  EXPECT_EQ(out_[2]->out_port, 2u);
  EXPECT_EQ(out_[3]->out_port, 1u);
  EXPECT_EQ(counters_.drops[FdbForward::kSplitHorizon], 1u);  // Mac(1) is remote
  FdbValue v;
  ASSERT_TRUE(fdb_->Lookup(42, Mac(1), ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepB));
  ASSERT_TRUE(fdb_->Lookup(43, Mac(1), ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepA));
}

TEST_F(FdbForwardTest, LearnOnFullTableIsAnEventNotADrop) {
  FdbConfig fc;
  fc.capacity = Fdb::kProbe;  // one probe window: 8 MACs fill it
  auto small = std::move(Fdb::Create(fc)).value();
  for (uint8_t i = 0; i < Fdb::kProbe; ++i)
    small->Learn(42, Mac(static_cast<uint8_t>(100 + i)), FdbValue::Local(i), ctx_.now_ms);
  FdbForwardConfig cfg;
  cfg.fdb = small.get();
  auto rx = std::move(FdbForward::Create(cfg)).value();
  Run(*rx, {Rx(Mac(1), Mac(100), kVtepA), Rx(Mac(1), Mac(100), kVtepA),
            Rx(Mac(2), Mac(100), kVtepA)});
  ASSERT_EQ(out_.size(), 3u);
  for (Packet* p : out_) EXPECT_EQ(p->out_port, 0u);
  EXPECT_EQ(counters_.events[FdbForward::kLearnTableFull], 2u);  // once per source run
  for (uint64_t d : counters_.drops) EXPECT_EQ(d, 0u);
}

// Store mode: a 0a:58 container MAC of a remote subnet goes to its VTEP
// without a flood, and is then in the table; other unknown MACs still flood.
TEST_F(FdbForwardTest, TxDerivesRemoteContainerMac) {
  RemoteSubnets subnets;
  subnets.Set(42, {{0xC6130700, 24, kVtepB}});  // 198.19.7.0/24 behind B
  FdbForwardConfig cfg;
  cfg.fdb = fdb_.get();
  cfg.direction = FdbDirection::kTx;
  cfg.remote_subnets = &subnets;
  auto tx = std::move(FdbForward::Create(cfg)).value();
  const wire::MacAddr remote = RemoteSubnets::MacFor(0xC6130705);  // 198.19.7.5
  const wire::MacAddr outside = RemoteSubnets::MacFor(0xC6130805);
  Run(*tx, {Tx(Mac(1), remote, 0), Tx(Mac(1), outside, 0), Tx(Mac(1), remote, 0, 43)});
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(out_[0]->out_port, kPortNone);
  EXPECT_EQ(out_[0]->remote, kVtepB);
  EXPECT_EQ(out_[1]->out_port, kPortFlood);  // no subnet holds it
  EXPECT_EQ(out_[2]->out_port, kPortFlood);  // another VNI
  EXPECT_EQ(counters_.events[FdbForward::kDerived].load(), 1u);
  FdbValue v;
  ASSERT_TRUE(fdb_->Lookup(42, remote, ctx_.now_ms, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepB));
}

}  // namespace
}  // namespace mflow

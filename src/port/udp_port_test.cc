// UdpPort over loopback: datagrams arrive whole and from the right peer;
// a TSO train leaves as one GSO send and, with UDP_GRO, arrives as views into
// one carrier, byte for byte; strangers are dropped on both sides; a flood
// goes to every peer and, without its VXLAN header, to the local ports; no
// buffer is lost.
#include "port/udp_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "wire/vxlan.h"

namespace mflow {
namespace {

constexpr uint16_t kPort = 48789;  // not 4789: a daemon may run beside the tests
const wire::IpAddr kA = wire::IpAddr::V4(0x7f000001);  // 127.0.0.1
const wire::IpAddr kB = wire::IpAddr::V4(0x7f000002);  // 127.0.0.2

// A TxPort that keeps what it is given.
class CaptureTx final : public TxPort {
 public:
  void TxBurst(Packet** pkts, uint32_t n) noexcept override {
    for (uint32_t i = 0; i < n; ++i) {
      std::vector<uint8_t> f(pkts[i]->frame_len());
      pkts[i]->Flatten(f.data(), static_cast<uint32_t>(f.size()));
      frames.push_back(std::move(f));
    }
    PacketFreeBurst(pkts, n);
  }
  std::vector<std::vector<uint8_t>> frames;
};

uint8_t PatternByte(uint32_t i) { return static_cast<uint8_t>(i * 131u + 7u); }

uint64_t DropCount(const UdpPortInfo& i, const char* name) {
  for (const auto& [n, v] : i.drops)
    if (n == name) return v;
  return ~uint64_t{0};
}

// Polls port until it has counted one rx_not_peer drop (bounded); fails if it
// accepts anything meanwhile.
void ExpectRefused(UdpPort* port, const char* what) {
  for (int tries = 0; tries < 200 && DropCount(port->Snapshot(), "rx_not_peer") == 0; ++tries) {
    Packet* pkts[8];
    const uint32_t n = port->RxBurst(pkts, 8);
    EXPECT_EQ(n, 0u) << what << " was accepted";
    PacketFreeBurst(pkts, n);
    port->Wait(10);
  }
  EXPECT_EQ(DropCount(port->Snapshot(), "rx_not_peer"), 1u);
}

// Whether this kernel takes a UDP socket option at all, asked the way
// UdpPort probes it: a port that turned an offload off where the kernel has
// it must be told apart from a kernel without it.
bool KernelTakes(int option, int value) {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  const bool ok = setsockopt(s, IPPROTO_UDP, option, &value, sizeof(value)) == 0;
  close(s);
  return ok;
}
constexpr int kUdpSegment = 103;  // UDP_SEGMENT (Linux 4.18)
constexpr int kUdpGro = 104;      // UDP_GRO (Linux 5.0)

class UdpPortTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    pool_ = PacketPool::Create({"t", 1024, 2048}).value();
    UdpPortConfig ca;
    ca.local = kA;
    ca.port = kPort;
    ca.peers = {kB};
    ca.gro = GetParam();
    ca.flood_pps = 1;  // a bucket that does not refill noticeably within a test
    ca.flood_burst = 100;
    a_ = UdpPort::Open(ca, pool_.get(), &local_a_).value();
    UdpPortConfig cb = ca;
    cb.local = kB;
    cb.peers = {kA};
    b_ = UdpPort::Open(cb, pool_.get(), nullptr).value();
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    EXPECT_EQ(pool_->available(), pool_->count()) << "a buffer was lost";
  }

  // A datagram: VXLAN header + n pattern bytes.
  Packet* Datagram(uint32_t n, uint32_t seed) {
    Packet* p = pool_->Alloc();
    wire::VxlanHeader vx{};
    vx.flags = wire::kVxlanFlagI;
    vx.set_vni(42);
    std::memcpy(p->data, &vx, sizeof(vx));
    for (uint32_t i = 0; i < n; ++i) p->data[8 + i] = PatternByte(seed + i);
    p->len = 8 + n;
    p->remote = kB;
    return p;
  }
  // A TSO train as GsoSegment builds it: a carrier whose segments (a VXLAN
  // header each) point into `payload`, seg bytes each, the last shorter.
  // The payload must outlive the send (fragments may point anywhere).
  Packet* Train(const std::vector<uint8_t>& payload, uint32_t seg) {
    Packet* carrier = pool_->Alloc();
    Packet** tail = &carrier->segs;
    for (uint32_t off = 0; off < payload.size(); off += seg) {
      Packet* s = Datagram(0, 0);
      s->AppendFrag(payload.data() + off, std::min<uint32_t>(seg, static_cast<uint32_t>(payload.size()) - off));
      *tail = s;
      tail = &s->seg_next;
      ++carrier->nsegs;
    }
    carrier->remote = kB;
    return carrier;
  }
  // Sends n floods (10-byte datagrams) from container port 1 through a_ at
  // once, each with `flags`.
  void FloodsFromPort1(uint32_t n, uint8_t flags = 0) {
    std::vector<Packet*> burst(n);
    for (uint32_t i = 0; i < n; ++i) {
      burst[i] = Datagram(10, i);
      burst[i]->out_port = kPortFlood;
      burst[i]->in_port = 1;
      burst[i]->flags |= flags;
    }
    a_->TxBurst(burst.data(), n);
  }

  // Everything b_ receives within a short bounded wait, flattened.
  std::vector<std::vector<uint8_t>> ReceiveAll(size_t want) {
    std::vector<std::vector<uint8_t>> got;
    for (int tries = 0; tries < 200 && got.size() < want; ++tries) {
      Packet* pkts[64];
      const uint32_t n = b_->RxBurst(pkts, 64);
      for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(pkts[i]->remote, kA);
        std::vector<uint8_t> f(pkts[i]->frame_len());
        pkts[i]->Flatten(f.data(), static_cast<uint32_t>(f.size()));
        got.push_back(std::move(f));
      }
      PacketFreeBurst(pkts, n);
      if (n == 0) b_->Wait(10);
    }
    return got;
  }

  std::unique_ptr<PacketPool> pool_;
  CaptureTx local_a_;
  std::unique_ptr<UdpPort> a_, b_;
};

TEST_P(UdpPortTest, DatagramsArriveWholeFromThePeer) {
  Packet* pkts[3] = {Datagram(10, 0), Datagram(1400, 1), Datagram(0, 2)};
  a_->TxBurst(pkts, 3);
  const auto got = ReceiveAll(3);
  ASSERT_EQ(got.size(), 3u);
  const uint32_t sizes[3] = {10, 1400, 0};
  for (uint32_t k = 0; k < 3; ++k) {
    ASSERT_EQ(got[k].size(), 8 + sizes[k]);
    for (uint32_t i = 0; i < sizes[k]; ++i) ASSERT_EQ(got[k][8 + i], PatternByte(k + i));
  }
  const UdpPortInfo ia = a_->Snapshot();
  ASSERT_EQ(ia.peers.size(), 1u);
  EXPECT_EQ(ia.peers[0].tx_datagrams, 3u);
  EXPECT_EQ(b_->Snapshot().peers[0].rx_datagrams, 3u);
}

TEST_P(UdpPortTest, TrainLeavesAsOneGsoSendAndArrivesIntact) {
  // A carrier whose payload the segments point into, as GsoSegment builds.
  constexpr uint32_t kSegs = 40, kSeg = 1000, kLast = 300;
  std::vector<uint8_t> payload(kSeg * (kSegs - 1) + kLast);
  for (uint32_t i = 0; i < payload.size(); ++i) payload[i] = PatternByte(i);
  Packet* carrier = Train(payload, kSeg);
  ASSERT_EQ(carrier->nsegs, kSegs);
  a_->TxBurst(&carrier, 1);
  const auto got = ReceiveAll(kSegs);
  ASSERT_EQ(got.size(), kSegs);
  for (uint32_t s = 0; s < kSegs; ++s) {
    const uint32_t len = s + 1 == kSegs ? kLast : kSeg;
    ASSERT_EQ(got[s].size(), 8 + len) << "segment " << s;
    ASSERT_EQ(0, std::memcmp(got[s].data() + 8, payload.data() + s * kSeg, len)) << "segment " << s;
  }
  const UdpPortInfo ia = a_->Snapshot();
  EXPECT_EQ(ia.peers[0].tx_datagrams, kSegs);
  // The offloads are in use wherever the kernel has them (and GRO only when
  // asked for), so the checks below cannot pass by being skipped.
  if (KernelTakes(kUdpSegment, 0)) {
    EXPECT_TRUE(a_->gso());
  }
  EXPECT_EQ(b_->gro(), GetParam() && KernelTakes(kUdpGro, 1));
  if (a_->gso()) {
    EXPECT_EQ(ia.gso_sends, 1u);
  }
  if (b_->gro()) {
    EXPECT_GE(b_->Snapshot().gro_receives, 1u);
  }
}

// The port's one payload copy in user space (copy_stats.h): with UDP_GRO a
// lone datagram is copied out of its carrier and counted; a super-datagram's
// views point into the carrier and copy nothing; without UDP_GRO nothing is
// copied. The byte totals of the kernel crossings survive the peer's removal.
TEST_P(UdpPortTest, OnlyLoneGroDatagramsAreCopiedInUserSpace) {
  Packet* lone[2] = {Datagram(10, 0), Datagram(1400, 1)};
  a_->TxBurst(lone, 2);
  ASSERT_EQ(ReceiveAll(2).size(), 2u);
  constexpr uint64_t kLoneBytes = (8 + 10) + (8 + 1400);
  UdpPortInfo ib = b_->Snapshot();
  EXPECT_EQ(ib.rx_bytes, kLoneBytes);
  EXPECT_EQ(ib.rx_copied_bytes, b_->gro() ? kLoneBytes : 0u);

  std::vector<uint8_t> payload(20 * 1000 + 300);
  for (uint32_t i = 0; i < payload.size(); ++i) payload[i] = PatternByte(i);
  Packet* train = Train(payload, 1000);
  a_->TxBurst(&train, 1);
  ASSERT_EQ(ReceiveAll(21).size(), 21u);
  const uint64_t train_bytes = 21 * 8 + payload.size();  // a VXLAN header per datagram
  ib = b_->Snapshot();
  EXPECT_EQ(ib.rx_bytes, kLoneBytes + train_bytes);
  EXPECT_EQ(a_->Snapshot().tx_bytes, kLoneBytes + train_bytes);  // the GSO send once
  EXPECT_EQ(a_->Snapshot().rx_copied_bytes, 0u);
  // A GSO send arrives whole where GRO is on: views, no copy. (Without GSO
  // the kernel would hand over 21 lone datagrams, each one copied.)
  if (a_->gso()) {
    EXPECT_EQ(ib.rx_copied_bytes, b_->gro() ? kLoneBytes : 0u);
  }

  ASSERT_TRUE(b_->SetPeers({}).ok());
  ib = b_->Snapshot();
  EXPECT_TRUE(ib.peers.empty());
  EXPECT_EQ(ib.rx_bytes, kLoneBytes + train_bytes);
}

// Datagrams that keep arriving one by one are, after kDirectAfter receive
// calls, received straight into pool buffers: intact and not copied. A
// super-datagram arriving then is made whole in its carrier (one copy of its
// bytes) and cut into views as always, and the port goes back to carriers
// first: the next lone datagram is copied again.
// (Without UDP_GRO nothing is ever copied.)
TEST_P(UdpPortTest, LoneDatagramsThatKeepComingAreNotCopied) {
  auto send_and_check = [&](uint32_t n, uint32_t seed) {
    std::vector<Packet*> burst(n);
    for (uint32_t k = 0; k < n; ++k) burst[k] = Datagram(100, seed + k);
    a_->TxBurst(burst.data(), n);
    const auto got = ReceiveAll(n);
    ASSERT_EQ(got.size(), n);
    for (uint32_t k = 0; k < n; ++k) {
      ASSERT_EQ(got[k].size(), 108u);
      for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(got[k][8 + i], PatternByte(seed + k + i)) << k;
    }
  };
  // One datagram per receive call until the port switches.
  for (uint32_t k = 0; k < UdpPort::kDirectAfter; ++k) send_and_check(1, k);
  const uint64_t copied = b_->Snapshot().rx_copied_bytes;
  EXPECT_EQ(copied, b_->gro() ? UdpPort::kDirectAfter * 108u : 0u) << "lone datagrams are copied at first";
  send_and_check(5, 100);
  send_and_check(1, 200);
  EXPECT_EQ(b_->Snapshot().rx_copied_bytes, copied) << "received into pool buffers";
  if (!a_->gso() || !b_->gro()) return;

  std::vector<uint8_t> payload(20 * 1000 + 300);
  for (uint32_t i = 0; i < payload.size(); ++i) payload[i] = PatternByte(i);
  Packet* train = Train(payload, 1000);
  a_->TxBurst(&train, 1);
  const auto got = ReceiveAll(21);
  ASSERT_EQ(got.size(), 21u);
  for (uint32_t s = 0; s < 21; ++s) {
    const uint32_t len = s == 20 ? 300 : 1000;
    ASSERT_EQ(got[s].size(), 8 + len) << "segment " << s;
    ASSERT_EQ(0, std::memcmp(got[s].data() + 8, payload.data() + s * 1000, len)) << "segment " << s;
  }
  const uint64_t train_bytes = 21 * 8 + payload.size();
  EXPECT_EQ(b_->Snapshot().rx_copied_bytes, copied + train_bytes) << "made whole once";
  EXPECT_GE(b_->Snapshot().gro_receives, 1u);
  send_and_check(1, 300);
  EXPECT_EQ(b_->Snapshot().rx_copied_bytes, copied + train_bytes + 108) << "carriers first again";
}

TEST_P(UdpPortTest, StrangersAreDroppedBothWays) {
  // From a socket that is not a peer.
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000003);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  to.sin_addr.s_addr = htonl(0x7f000002);
  const char msg[16] = {0x08};
  ASSERT_EQ(sendto(s, msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 16);
  close(s);
  ExpectRefused(b_.get(), "a stranger's datagram");
  // To an address that is not a peer, and with no destination at all.
  Packet* p = Datagram(10, 0);
  p->remote = wire::IpAddr::V4(0x7f000009);
  Packet* q = Datagram(10, 0);
  q->remote = wire::IpAddr{};
  Packet* pkts[2] = {p, q};
  a_->TxBurst(pkts, 2);
  EXPECT_EQ(DropCount(a_->Snapshot(), "tx_not_peer"), 1u);
  EXPECT_EQ(DropCount(a_->Snapshot(), "tx_no_remote"), 1u);
  EXPECT_EQ(a_->Snapshot().peers[0].tx_datagrams, 0u);
}

TEST_P(UdpPortTest, FloodGoesToEveryPeerAndToTheLocalPorts) {
  Packet* p = Datagram(100, 5);
  p->out_port = kPortFlood;
  p->remote = wire::IpAddr{};
  p->l3_off = 8 + 14;  // offsets count from data: the strip moves them back
  a_->TxBurst(&p, 1);
  const auto got = ReceiveAll(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size(), 108u);
  ASSERT_EQ(local_a_.frames.size(), 1u);
  ASSERT_EQ(local_a_.frames[0].size(), 100u);  // the inner frame, no VXLAN header
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(local_a_.frames[0][i], PatternByte(5 + i));
}

TEST_P(UdpPortTest, FloodsAreRateLimitedPerPort) {
  // The fixture's ports allow 100 floods in a burst, refilled at 1/s: 150
  // from one container port at once lose 50 (49 if the send straddled a
  // refill); another port's floods are not affected.
  FloodsFromPort1(150);
  Packet* other = Datagram(10, 0);
  other->out_port = kPortFlood;
  other->in_port = 2;
  a_->TxBurst(&other, 1);
  uint64_t limited = 0;
  for (const auto& [name, v] : a_->Snapshot().drops)
    if (name == "flood_limited") limited = v;
  EXPECT_GE(limited, 49u);
  EXPECT_LE(limited, 50u);
  EXPECT_EQ(local_a_.frames.size(), 151u - limited);
  EXPECT_EQ(a_->Snapshot().peers[0].tx_datagrams, 151u - limited);
  ReceiveAll(151 - limited);
}

TEST_P(UdpPortTest, FloodsAlreadyChargedByTheChainAreNotChargedAgain) {
  // esp_encrypt charged these (kPktFlagFloodAdmitted) before copying them
  // to the encrypted peers: past the burst of 100, none is limited here.
  FloodsFromPort1(150, kPktFlagFloodAdmitted);
  uint64_t limited = 0;
  for (const auto& [name, v] : a_->Snapshot().drops)
    if (name == "flood_limited") limited = v;
  EXPECT_EQ(limited, 0u);
  EXPECT_EQ(local_a_.frames.size(), 150u);
  ReceiveAll(150);
}

TEST(FloodLimiterTest, RefillsAtTheRateUpToTheBurst) {
  FloodLimiter l(1000, 10);  // 1 frame per ms, bursts of 10
  uint64_t t = 1'000'000'000;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.Allow(3, t));
  EXPECT_FALSE(l.Allow(3, t));
  EXPECT_TRUE(l.Allow(4, t));         // other ports have their own bucket
  EXPECT_FALSE(l.Allow(3, t + 999'999));
  EXPECT_TRUE(l.Allow(3, t + 1'000'000));  // one token per ms
  EXPECT_FALSE(l.Allow(3, t + 1'000'000));
  t += 1'000'000'000;                      // a long pause refills only the burst
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.Allow(3, t));
  EXPECT_FALSE(l.Allow(3, t));
  FloodLimiter off(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.Allow(3, t));
}

TEST_P(UdpPortTest, HairpinSkipsTheUnderlay) {
  Packet* p = Datagram(50, 0);
  p->out_port = 3;
  a_->TxBurst(&p, 1);
  EXPECT_EQ(local_a_.frames.size(), 1u);
  EXPECT_EQ(local_a_.frames[0].size(), 58u);  // unencapsulated frames pass as they are
  EXPECT_EQ(a_->Snapshot().peers[0].tx_datagrams, 0u);
}

// Wait returns true whenever the port can wait (port.h), woken or timed out
// alike, so what shows an interrupt worked is how long the wait took. The
// bounds cannot flake: a slow machine only lengthens a wait, so the blocking
// ones are bounded from below, and the interrupted ones from above only at
// 30 s, half of what they would block without the interrupt.
TEST_P(UdpPortTest, WaitReturnsOnInterrupt) {
  using Clock = std::chrono::steady_clock;
  const auto ms_since = [](Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  };
  // No interrupt: a wait on the quiet socket blocks for its timeout.
  auto t0 = Clock::now();
  EXPECT_TRUE(b_->Wait(200));
  EXPECT_GE(ms_since(t0), 190);
  // Interrupted before it waits: it returns at once.
  b_->Interrupt();
  t0 = Clock::now();
  EXPECT_TRUE(b_->Wait(60000));
  EXPECT_LT(ms_since(t0), 30000);
  // That wait consumed the wake-up (AfterWait drains it): the next one blocks.
  t0 = Clock::now();
  EXPECT_TRUE(b_->Wait(200));
  EXPECT_GE(ms_since(t0), 190);
  // Interrupted from another thread while it waits (or just before).
  std::thread waker([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    b_->Interrupt();
  });
  t0 = Clock::now();
  EXPECT_TRUE(b_->Wait(60000));
  EXPECT_LT(ms_since(t0), 30000);
  waker.join();
  // Nothing arrived meanwhile: the early returns were the interrupts'.
  Packet* pkts[8];
  const uint32_t n = b_->RxBurst(pkts, 8);
  EXPECT_EQ(n, 0u);
  PacketFreeBurst(pkts, n);
  EXPECT_EQ(DropCount(b_->Snapshot(), "rx_not_peer"), 0u);
}

TEST_P(UdpPortTest, PeersChangeAtRunTime) {
  // B stops being A's peer: its datagrams are refused, and nothing is sent to it.
  ASSERT_TRUE(a_->SetPeers({}).ok());
  EXPECT_TRUE(a_->Snapshot().peers.empty());
  Packet* p = Datagram(10, 0);
  p->remote = kA;
  b_->TxBurst(&p, 1);
  ExpectRefused(a_.get(), "a removed peer's datagram");
  Packet* q = Datagram(10, 1);
  a_->TxBurst(&q, 1);
  EXPECT_EQ(DropCount(a_->Snapshot(), "tx_not_peer"), 1u);
  // A family other than the local address's is refused and changes nothing.
  EXPECT_FALSE(a_->SetPeers({kB, wire::IpAddr::Parse("2001:db8::1").value()}).ok());
  EXPECT_TRUE(a_->Snapshot().peers.empty());
  // Back again: the same slot, its counters kept.
  ASSERT_TRUE(a_->SetPeers({kB}).ok());
  Packet* r = Datagram(20, 2);
  a_->TxBurst(&r, 1);
  ASSERT_EQ(ReceiveAll(1).size(), 1u);
  const UdpPortInfo ia = a_->Snapshot();
  ASSERT_EQ(ia.peers.size(), 1u);
  EXPECT_EQ(ia.peers[0].address, "127.0.0.2");
  EXPECT_EQ(ia.peers[0].tx_datagrams, 1u);
}

TEST_P(UdpPortTest, ThousandsOfPeers) {
  // A store-driven overlay: 3,000 peers beside B (past the scan, through the
  // index), then all but B gone and some back; B's traffic flows throughout.
  std::vector<wire::IpAddr> many{kB};
  for (uint32_t i = 0; i < 3000; ++i) many.push_back(wire::IpAddr::V4(0x7f010000 + i));
  ASSERT_TRUE(a_->SetPeers(many).ok());
  EXPECT_EQ(a_->Snapshot().peers.size(), many.size());
  Packet* p = Datagram(30, 3);
  a_->TxBurst(&p, 1);
  ASSERT_EQ(ReceiveAll(1).size(), 1u);
  ASSERT_TRUE(a_->SetPeers({kB}).ok());
  EXPECT_EQ(a_->Snapshot().peers.size(), 1u);
  // Back, with duplicates in the list: the same slots, nothing appended twice.
  std::vector<wire::IpAddr> some(many.begin(), many.begin() + 100);
  some.insert(some.end(), many.begin(), many.begin() + 100);
  ASSERT_TRUE(a_->SetPeers(some).ok());
  EXPECT_EQ(a_->Snapshot().peers.size(), 100u);
  Packet* q = Datagram(10, 0);
  q->remote = kA;
  b_->TxBurst(&q, 1);
  Packet* got[8];
  uint32_t n = 0;
  for (int i = 0; i < 200 && n == 0; ++i) {
    a_->Wait(10);
    n = a_->RxBurst(got, 8);
  }
  EXPECT_EQ(n, 1u);
  PacketFreeBurst(got, n);
  EXPECT_EQ(DropCount(a_->Snapshot(), "rx_not_peer"), 0u);
}

TEST_P(UdpPortTest, RebindMovesTheSocketToANewAddress) {
  const wire::IpAddr kC = wire::IpAddr::V4(0x7f000003);
  ASSERT_TRUE(b_->Rebind(kC).ok());
  EXPECT_TRUE(b_->local_present());
  ASSERT_TRUE(a_->SetPeers({kC}).ok());
  Packet* p = Datagram(100, 5);
  p->remote = kC;
  a_->TxBurst(&p, 1);
  const auto got = ReceiveAll(1);
  ASSERT_EQ(got.size(), 1u);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(got[0][8 + i], PatternByte(5 + i));
  // B sends from its new address too: A, which knows only kC now, accepts it.
  Packet* q = Datagram(10, 0);
  q->remote = kA;
  b_->TxBurst(&q, 1);
  uint32_t n = 0;
  for (int tries = 0; tries < 200 && n == 0; ++tries) {
    Packet* pkts[8];
    n = a_->RxBurst(pkts, 8);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(pkts[i]->remote, kC);
    PacketFreeBurst(pkts, n);
    if (n == 0) a_->Wait(10);
  }
  EXPECT_EQ(n, 1u);
  // Another family needs a restart; an address that is not (yet) ours binds.
  EXPECT_FALSE(b_->Rebind(wire::IpAddr::Parse("::1").value()).ok());
  ASSERT_TRUE(b_->Rebind(wire::IpAddr::V4(0xC0000201)).ok());  // 192.0.2.1
  EXPECT_FALSE(b_->local_present());
}

// Under ThreadSanitizer this is the proof that the data path may read the
// peers and use the socket while a reload changes them.
TEST_P(UdpPortTest, PeersAndAddressChangeWhileTrafficFlows) {
  const wire::IpAddr kC = wire::IpAddr::V4(0x7f000003);
  constexpr uint32_t kSends = 2000;
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    for (uint32_t i = 0; i < kSends; ++i) {
      Packet* p = pool_->Alloc();
      while (p == nullptr) {  // buffers come back as the receiver frees them
        std::this_thread::yield();
        p = pool_->Alloc();
      }
      p->len = 8;
      std::memset(p->data, 0, 8);
      p->remote = (i & 1) != 0 ? kB : kC;
      a_->TxBurst(&p, 1);
    }
    sending = false;
  });
  std::thread receiver([&] {
    while (sending) {
      Packet* pkts[64];
      const uint32_t n = b_->RxBurst(pkts, 64);
      PacketFreeBurst(pkts, n);
      if (n == 0) b_->Wait(1);
    }
  });
  for (int round = 0; sending; ++round) {
    ASSERT_TRUE(a_->SetPeers((round & 1) != 0 ? std::vector<wire::IpAddr>{kB, kC}
                                              : std::vector<wire::IpAddr>{kC})
                    .ok());
    ASSERT_TRUE(b_->Rebind((round & 1) != 0 ? kB : kC).ok());  // back and forth
    (void)a_->Snapshot();
  }
  sender.join();
  receiver.join();
  ASSERT_TRUE(a_->SetPeers({kB, kC}).ok());  // a dead peer's counters are not shown
  const UdpPortInfo ia = a_->Snapshot();
  uint64_t sent = 0;
  for (const auto& p : ia.peers) sent += p.tx_datagrams;
  // Every datagram was either sent or refused with a name.
  EXPECT_EQ(sent + DropCount(ia, "tx_not_peer") + DropCount(ia, "tx_error"), kSends);
}

INSTANTIATE_TEST_SUITE_P(Gro, UdpPortTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "WithGro" : "WithoutGro"; });

TEST(UdpPortOpenTest, RefusesBadConfigs) {
  auto pool = PacketPool::Create({"t", 8, 2048}).value();
  UdpPortConfig c;
  EXPECT_FALSE(UdpPort::Open(c, pool.get(), nullptr).ok());  // no local address
  c.local = kA;
  c.peers = {wire::IpAddr::Parse("2001:db8::1").value()};
  EXPECT_FALSE(UdpPort::Open(c, pool.get(), nullptr).ok());  // family mismatch
  c.peers = {kB};
  c.local = kA;
  c.port = kPort + 1;
  auto first = UdpPort::Open(c, pool.get(), nullptr);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE((*first)->local_present());
  auto r = UdpPort::Open(c, pool.get(), nullptr);  // the port is taken
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bind"), std::string::npos) << r.status().message();
}

TEST(UdpPortOpenTest, OneSendFrameSizeFitsOneGsoSend) {
  for (uint32_t mtu : {1280u, 1450u, 1500u, 8950u}) {
    const uint32_t size = UdpPort::OneSendFrameSize(mtu);
    EXPECT_GT(size, 30000u) << mtu;
    // Whatever the inner headers (IPv4 or IPv6, with or without TCP
    // options), the segments of a frame of that much payload fit one send:
    // at most 64 of them, at most 65487 bytes of UDP payload.
    for (uint32_t hdrs : {40u, 52u, 60u, 72u}) {
      const uint32_t mss = mtu - hdrs;
      const uint32_t segs = (size + mss - 1) / mss;
      EXPECT_LE(segs, 64u) << mtu << " " << hdrs;
      EXPECT_LE(segs * (mtu + 14 + 8), 65487u) << mtu << " " << hdrs;
    }
  }
  EXPECT_EQ(UdpPort::OneSendFrameSize(1450), 44u * 1378u);
}

TEST(UdpPortOpenTest, AnAddressNotYetOnThisHostBindsAndSaysSo) {
  auto pool = PacketPool::Create({"t", 8, 2048}).value();
  UdpPortConfig c;
  c.local = wire::IpAddr::V4(0xC0000201);  // 192.0.2.1: not ours
  c.port = kPort + 2;
  c.peers = {kB};
  auto r = UdpPort::Open(c, pool.get(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE((*r)->local_present());
}

}  // namespace
}  // namespace mflow

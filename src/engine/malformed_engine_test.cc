// The engine (microflow mode, 2 workers, every flow split) with the real rx
// chain, fed one good TCP flow interleaved with malformed packets of every
// kind — half of them carrying the good flow's own outer and inner headers,
// so they land in its micro-flows, half in other flows. The good flow must
// arrive complete, in order and byte-exact (coalesced or not); every bad
// packet must be counted on its expected drop edge and on no other; what
// an L2 overlay forwards (fragments, non-IP, pure ACKs) is delivered; every
// buffer comes back. Runs under ThreadSanitizer in scripts/test.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "stage/datapath.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/parse.h"
#include "wire/tcp.h"
#include "wire/test_frames.h"

namespace mflow {
namespace {

using namespace std::chrono_literals;
using test::WaitFor;
using Frame = std::vector<uint8_t>;
using Drops = std::map<std::string, uint64_t>;

constexpr uint16_t kGoodPort = 45000;  // inner TCP source port of the good flow
constexpr uint32_t kMss = 1000;
constexpr uint32_t kGoodSegments = 3000;
constexpr uint32_t kOuterIp = 14;
constexpr uint32_t kOuterUdp = 34;
constexpr uint32_t kVx = 42;
constexpr uint32_t kIp = 14;  // inner IP header
constexpr uint32_t kL4 = 34;  // inner TCP/UDP header (IPv4)
const wire::IpAddr kPeer = wire::IpAddr::V4(0xC6120001);

void SetBe16(Frame& f, uint32_t off, uint32_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
uint16_t GetBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t GetBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void FixIpv4Checksum(Frame& f, uint32_t l3) {
  const uint32_t hl = uint32_t{f[l3] & 0x0fu} * 4;
  f[l3 + 10] = 0;
  f[l3 + 11] = 0;
  const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(&f[l3], hl));
  std::memcpy(&f[l3 + 10], &c, 2);
}
uint8_t StreamByte(uint32_t pos) { return static_cast<uint8_t>((pos * 7 + 3) % 251); }

Frame Inner(const wire::InnerSpec& spec, uint32_t payload_len, uint32_t stream_pos) {
  Frame payload(payload_len);
  for (uint32_t i = 0; i < payload_len; ++i) payload[i] = StreamByte(stream_pos + i);
  return testing::BuildInner(spec, payload, 4096);
}
Frame Vxlan(const Frame& inner, const wire::OuterSpec& outer) {
  return testing::BuildVxlan(inner, outer);
}

// The good flow's segment k (seq 1 + k * kMss), or a frame with its headers.
wire::InnerSpec GoodSpec(uint32_t seq) {
  wire::InnerSpec s;
  s.sport = kGoodPort;
  s.tcp_seq = seq;
  s.tcp_flags = wire::kTcpAck;
  return s;
}

// One kind of bad (or odd) packet: how to make it and the drop edge it must
// end on ("" = it is delivered). same_flow: built with the good flow's outer
// and inner headers (the split point puts it in the good flow's micro-flows)
// or with another flow's.
struct Kind {
  std::string name;
  std::function<Frame(bool same_flow, uint32_t next_seq)> make;
  std::string drop;
};

std::vector<Kind> Kinds() {
  // A frame of the good flow's connection (or of another one), carrying the
  // sequence number the good flow expects next: a bad packet that is not
  // dropped would show up as a duplicate or a hole in the stream.
  auto base_inner = [](bool same, uint32_t seq) {
    wire::InnerSpec s = GoodSpec(seq);
    if (!same) s.sport = 46000;
    return Inner(s, kMss, seq - 1);
  };
  auto outer_spec = [](bool same) {
    wire::OuterSpec o;
    if (!same) o.sport = 50001;
    return o;
  };
  auto outer = [=](std::function<void(Frame&)> m) {
    return [=](bool same, uint32_t seq) {
      Frame f = Vxlan(base_inner(same, seq), outer_spec(same));
      m(f);
      return f;
    };
  };
  auto inner = [=](std::function<void(Frame&)> m) {
    return [=](bool same, uint32_t seq) {
      Frame in = base_inner(same, seq);
      m(in);
      return Vxlan(in, outer_spec(same));
    };
  };
  return {
      {"outer_truncated", outer([](Frame& f) { f.resize(kOuterIp + 10); }),
       "outer_validate_truncated"},
      {"outer_ip_checksum", outer([](Frame& f) { f[kOuterIp + 10] ^= 0x10; }),
       "outer_validate_bad_ip_checksum"},
      {"outer_ip_length_beyond_frame", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 2, GetBe16(&f[kOuterIp + 2]) + 1u);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_bad_ip_total_length"},
      {"outer_fragment", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 6, 0x2000);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_fragment"},
      {"outer_ttl_zero", outer([](Frame& f) {
         f[kOuterIp + 8] = 0;
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_ttl_zero"},
      {"outer_wrong_port", outer([](Frame& f) { SetBe16(f, kOuterUdp + 2, 4790); }),
       "outer_validate_wrong_port"},
      {"outer_udp_length",
       outer([](Frame& f) { SetBe16(f, kOuterUdp + 4, GetBe16(&f[kOuterUdp + 4]) - 1u); }),
       "outer_validate_bad_udp_length"},
      {"outer_unknown_peer",
       [=](bool same, uint32_t seq) {
         wire::OuterSpec o = outer_spec(same);
         o.src_ip = wire::IpAddr::V4(0x0a000001);
         return Vxlan(base_inner(same, seq), o);
       },
       "outer_validate_unknown_peer"},
      {"vxlan_flag_i_clear", outer([](Frame& f) { f[kVx] = 0; }), "vxlan_decap_flag_i_clear"},
      {"vxlan_reserved_bits", outer([](Frame& f) { f[kVx + 1] = 1; }), "vxlan_decap_reserved_bits"},
      {"vxlan_unknown_vni", outer([](Frame& f) { f[kVx + 6] = 99; }), "vxlan_decap_unknown_vni"},
      {"inner_ethernet_truncated", inner([](Frame& f) { f.resize(13); }),
       "vxlan_decap_inner_truncated"},
      {"inner_above_mtu", inner([](Frame& f) { f.resize(1600, 0); }), "vxlan_decap_inner_too_big"},
      {"inner_multicast_source", inner([](Frame& f) { f[6] = 0x01; }),
       "fdb_forward_rx_bad_src_mac"},
      {"inner_to_remote_vtep", inner([](Frame& f) { f[5] = 0x03; }),
       "fdb_forward_rx_split_horizon"},
      {"inner_ip_truncated", inner([](Frame& f) { f.resize(kIp + 12); }),
       "inner_checksum_truncated_ip"},
      {"inner_ip_checksum", inner([](Frame& f) { f[kIp + 10] ^= 0x01; }),
       "inner_checksum_bad_ip_checksum"},
      {"inner_ip_length_beyond_frame", inner([](Frame& f) {
         SetBe16(f, kIp + 2, GetBe16(&f[kIp + 2]) + 8u);
         FixIpv4Checksum(f, kIp);
       }),
       "inner_checksum_bad_ip_total_length"},
      {"inner_tcp_truncated", inner([](Frame& f) {
         f.resize(kL4 + 10);
         SetBe16(f, kIp + 2, 30);
         FixIpv4Checksum(f, kIp);
       }),
       "inner_checksum_bad_l4_header"},
      {"inner_tcp_checksum", inner([](Frame& f) { f[kL4 + 20 + 5] ^= 0x20; }),
       "inner_checksum_bad_tcp_checksum"},
      {"inner_udp_checksum",
       [=](bool same, uint32_t seq) {
         wire::InnerSpec s = GoodSpec(seq);
         s.l4_proto = 17;
         Frame in = Inner(s, 200, 0);
         in.back() ^= 1;
         return Vxlan(in, outer_spec(same));
       },
       "inner_checksum_bad_udp_checksum"},
      // Delivered: an L2 overlay forwards these as they are.
      {"inner_fragment", inner([](Frame& f) {
         SetBe16(f, kIp + 6, 0x2000);
         FixIpv4Checksum(f, kIp);
       }),
       ""},
      {"inner_not_ip", inner([](Frame& f) { SetBe16(f, 12, 0x88b5); }), ""},
      {"inner_pure_ack",
       [=](bool same, uint32_t seq) {
         wire::InnerSpec s = GoodSpec(seq);
         if (!same) s.sport = 46000;
         return Vxlan(Inner(s, 0, 0), outer_spec(same));
       },
       ""},
  };
}

// Serves a prepared list of frames, then nothing.
class ListSource : public RxPort {
 public:
  ListSource(PacketPool* pool, std::vector<Frame> frames)
      : pool_(pool), frames_(std::move(frames)) {}
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override {
    if (next_ >= frames_.size()) return 0;
    if (n > frames_.size() - next_) n = static_cast<uint32_t>(frames_.size() - next_);
    const uint32_t got = pool_->AllocBurst(pkts, n);
    for (uint32_t i = 0; i < got; ++i) {
      const Frame& f = frames_[next_++];
      std::memcpy(pkts[i]->data, f.data(), f.size());
      pkts[i]->len = static_cast<uint32_t>(f.size());
    }
    served_.store(next_, std::memory_order_release);
    return got;
  }
  bool done() const { return served_.load(std::memory_order_acquire) == frames_.size(); }

 private:
  PacketPool* pool_;
  std::vector<Frame> frames_;
  size_t next_ = 0;
  std::atomic<size_t> served_{0};
};

// Checks the good flow's byte stream as it is delivered and counts the rest.
class StreamSink : public TxPort {
 public:
  void TxBurst(Packet** pkts, uint32_t n) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);  // test code: simplicity over speed
    for (uint32_t i = 0; i < n; ++i) {
      Check(pkts[i]);
      PacketFree(pkts[i]);
    }
  }

  std::mutex mu_;
  uint32_t next_seq = 1;
  uint64_t good_segments = 0;
  uint64_t bad_stream = 0;  // good-flow frames that were out of order, duplicated or damaged
  uint64_t acks = 0;        // pure ACKs of either connection
  uint64_t others = 0;      // everything else delivered
  uint64_t frames = 0;

 private:
  void Check(const Packet* p) {
    ++frames;
    Frame f(p->frame_len());
    p->Flatten(f.data(), static_cast<uint32_t>(f.size()));
    wire::FrameLayout l;
    const bool tcp =
        wire::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &l) == wire::ParseResult::kOk &&
        l.l4_proto == wire::kIpProtoTcp;
    if (!tcp) {
      ++others;
      return;
    }
    if (l.payload_len() == 0) {
      ++acks;
      return;
    }
    if (GetBe16(&f[l.l4_off]) != kGoodPort) {
      ++others;
      return;
    }
    const uint32_t seq = GetBe32(&f[l.l4_off + 4]);
    bool ok = seq == next_seq;
    for (uint32_t i = 0; ok && i < l.payload_len(); ++i)
      ok = f[l.payload_off() + i] == StreamByte(seq - 1 + i);
    if (!ok) {
      ++bad_stream;
      return;
    }
    next_seq += l.payload_len();
    good_segments += p->gso_segs > 1 ? p->gso_segs : 1;
  }
};

TEST(MalformedEngine, GoodFlowSurvivesEveryKindOfBadPacket) {
  const std::vector<Kind> kinds = Kinds();
  // The good flow, one bad (or odd) packet after each of its segments,
  // cycling through the kinds; same flow and other flows alternate.
  std::vector<Frame> frames;
  Drops want;
  uint64_t want_delivered_odd = 0;
  for (uint32_t k = 0; k < kGoodSegments; ++k) {
    const uint32_t seq = 1 + k * kMss;
    frames.push_back(Vxlan(Inner(GoodSpec(seq), kMss, seq - 1), wire::OuterSpec{}));
    const Kind& kind = kinds[k % kinds.size()];
    const bool same_flow = (k / kinds.size()) % 2 == 0;
    frames.push_back(kind.make(same_flow, seq + kMss));
    if (kind.drop.empty()) {
      ++want_delivered_odd;
    } else {
      want[kind.drop]++;
    }
  }
  const uint64_t total = frames.size();

  auto pool = std::move(PacketPool::Create({"rx", 1024, 2048})).value();
  auto fdb = std::move(Fdb::Create(FdbConfig{})).value();
  // Learned "in the future" so the entries never age out, whatever clock a
  // worker runs the stage with.
  const uint64_t never_ages = UINT64_MAX / 2;
  fdb->Learn(42, wire::MacAddr{{0x02, 0, 0, 0, 0, 0x02}}, FdbValue::Local(1), never_ages);
  fdb->Learn(42, wire::MacAddr{{0x02, 0, 0, 0, 0, 0x03}},
             FdbValue::Remote(wire::IpAddr::V4(0xC6120009)), never_ages);
  DataPathConfig dp;
  dp.peers = {kPeer};
  dp.inner_mtu = 1500;
  dp.fdb = fdb.get();
  auto chain = std::move(BuildRxChain(dp)).value();

  ListSource src(pool.get(), std::move(frames));
  StreamSink sink;
  EngineConfig ec;
  ec.mode = SteeringMode::kMicroflow;
  ec.workers = 2;
  ec.microflow_size = 8;
  ec.elephant_pps = 0;  // split every flow over both workers
  auto engine = Engine::Create(ec, chain.get(), &src, &sink, pool.get());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->Start();
  EXPECT_TRUE(WaitFor([&] { return src.done() && pool->available() == pool->count(); }))
      << "delivery stalled";
  (*engine)->Stop();
  const EngineStats stats = (*engine)->Stats();

  Drops got;
  for (const StageStats& st : stats.stages)
    for (const auto& [name, n] : st.drops) got[name] += n;
  EXPECT_EQ(got, want);

  std::lock_guard<std::mutex> lock(sink.mu_);
  EXPECT_EQ(sink.bad_stream, 0u);
  EXPECT_EQ(sink.good_segments, kGoodSegments);
  EXPECT_EQ(sink.next_seq, 1 + kGoodSegments * kMss);
  EXPECT_EQ(sink.acks + sink.others, want_delivered_odd);
  EXPECT_EQ(stats.out_of_order, 0u);
  // Accepted = delivered (segments, before coalescing) + counted drops.
  EXPECT_EQ(sink.good_segments + sink.acks + sink.others + stats.drops(), total);
  EXPECT_EQ(stats.released_packets, sink.frames);
  EXPECT_EQ(pool->available(), pool->count());
}

}  // namespace
}  // namespace mflow

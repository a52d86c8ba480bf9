// The ESP stages in the engine, in every steering mode (run under
// ThreadSanitizer by scripts/test.sh): sequence numbers reserved at the split
// point and used by whichever worker encrypts; decryption on any worker with
// the replay window updated in order at release. Reordered packets are
// delivered, duplicates (also when two workers decrypt the two copies at
// once) and forgeries never are, and a forgery never moves the window.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "bench/frame_ring_source.h"
#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "esp/esp_sa_table.h"
#include "esp/esp_test_util.h"
#include "stage/datapath.h"
#include "stage/esp_decrypt.h"
#include "stage/esp_encrypt.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/ipv4.h"

namespace mflow {
namespace {

using Bytes = std::vector<uint8_t>;
using test::WaitFor;

const wire::IpAddr kA4 = wire::IpAddr::V4(0xC6120001);  // 198.18.0.1: the peer
const wire::IpAddr kB4 = wire::IpAddr::V4(0xC6120002);  // 198.18.0.2: the engine's host
const wire::MacAddr kInnerDst{{0x02, 0, 0, 0, 0, 0x02}};  // frame_builder's default
constexpr uint32_t kInnerFlows = 4;
constexpr uint32_t kPayloadOff = 14 + 20 + 20;  // inner Ethernet + IPv4 + TCP

esp::EspSa Sa() {
  auto sa = esp::EspSa::Parse(
      "spi=0x2001 alg=aes-128-gcm key=000102030405060708090a0b0c0d0e0f salt=0a0b0c0d esn=on");
  EXPECT_TRUE(sa.ok());
  return sa.value();
}

// An inner TCP frame of inner flow `flow` whose payload carries `index` at
// the start of every `seg` bytes (segments of a super-frame).
Bytes Inner(uint32_t flow, uint32_t index, uint32_t segs = 1, uint32_t seg = 600) {
  Bytes payload(segs * seg);
  for (uint32_t k = 0; k < segs; ++k) {
    const uint32_t v = index + k;
    std::memcpy(payload.data() + k * seg, &v, 4);
    for (uint32_t i = 4; i < seg; ++i) payload[k * seg + i] = static_cast<uint8_t>(i + v);
  }
  wire::InnerSpec spec;
  spec.sport = static_cast<uint16_t>(40000 + flow);
  Bytes f(payload.size() + 200);
  f.resize(wire::BuildInnerFrame(spec, payload, f.data(), static_cast<uint32_t>(f.size())));
  EXPECT_FALSE(f.empty());
  return f;
}

Bytes Vxlan(const Bytes& inner) {
  wire::OuterSpec o;
  o.src_ip = kA4;
  o.dst_ip = kB4;
  Bytes f(inner.size() + 100);
  f.resize(wire::BuildVxlanFrame(o, inner, f.data(), static_cast<uint32_t>(f.size())));
  return f;
}

// ESP bytes of any kind in the outer headers of `like` (a sealed frame):
// Ethernet, IPv4, UDP 4500, with the lengths and checksum set.
Bytes WrapEsp(const Bytes& like, const Bytes& esp) {
  Bytes f(42 + esp.size());
  std::memcpy(f.data(), like.data(), 42);
  std::memcpy(f.data() + 42, esp.data(), esp.size());
  const uint16_t udp_len = static_cast<uint16_t>(8 + esp.size());
  f[14 + 20 + 4] = static_cast<uint8_t>(udp_len >> 8);
  f[14 + 20 + 5] = static_cast<uint8_t>(udp_len);
  wire::Ipv4Header ip;
  std::memcpy(&ip, f.data() + 14, sizeof ip);
  ip.total_length.set(static_cast<uint16_t>(20 + udp_len));
  ip.checksum = wire::Be16::FromRaw(wire::ComputeIpv4Checksum(&ip));
  std::memcpy(f.data() + 14, &ip, sizeof ip);
  return f;
}

Bytes Slice(const Bytes& b, size_t from) { return Bytes(b.begin() + static_cast<long>(from), b.end()); }

// ESP plaintexts sealed with the right key that the decrypt stage must still
// refuse after the ICV verified: kind 0 number 0 (left of any window), 1 a
// pad length beyond the payload, 2 padding bytes not 1, 2, 3..., 3 a next
// header other than UDP. Returns the sequence number, the plaintext and the
// drop it must end on.
std::tuple<uint64_t, Bytes, std::string> Crafted(uint32_t kind, const Bytes& dgram, uint64_t seq) {
  auto trailer = [&](bool bad_byte, uint8_t next_header) {
    Bytes v = dgram;
    const uint32_t pad = (4 - (dgram.size() + 2) % 4) % 4 + 4;  // aligned, at least 4
    for (uint32_t k = 1; k <= pad; ++k) v.push_back(static_cast<uint8_t>(k));
    if (bad_byte) v.back() = 9;
    v.push_back(static_cast<uint8_t>(pad));
    v.push_back(next_header);
    return v;
  };
  switch (kind) {
    case 0:
      return {0, trailer(false, 17), "esp_decrypt_left_of_window"};
    case 1:
      return {seq, Bytes{1, 2, 200, 17}, "esp_decrypt_bad_pad_length"};
    case 2:
      return {seq, trailer(true, 17), "esp_decrypt_bad_padding"};
    default:
      return {seq, trailer(false, 4), "esp_decrypt_bad_next_header"};
  }
}

// Seals full VXLAN frames as the peer would (the encrypt stage, full frames).
class Sealer {
 public:
  explicit Sealer(const esp::EspSa& sa = Sa()) {
    auto t = esp::EspSaTable::Create(1);
    table_ = std::move(t).value();
    EXPECT_TRUE(table_->SetOutbound(kB4, sa).ok());
    stage_ = std::move(EspEncrypt::Create({table_.get(), false, {}})).value();
    pool_ = std::move(PacketPool::Create({"sealer", 8, 2048})).value();
    ctx_.counters = &counters_;
    ctx_.pool = pool_.get();
  }
  Bytes Seal(const Bytes& frame, uint64_t seq) {
    Packet* p = pool_->Alloc();
    std::memcpy(p->data, frame.data(), frame.size());
    p->len = static_cast<uint32_t>(frame.size());
    p->wire_seq = seq;
    Batch b;
    b.Push(p);
    stage_->Process(b, ctx_);
    EXPECT_EQ(b.n, 1u);
    Bytes out(p->data, p->data + p->len);
    PacketFree(p);
    return out;
  }

 private:
  std::unique_ptr<esp::EspSaTable> table_;
  std::unique_ptr<EspEncrypt> stage_;
  std::unique_ptr<PacketPool> pool_;
  StageCounters counters_;
  StageContext ctx_;
};

// Records the payload index of every delivered inner frame, in order.
class IndexSink : public TxPort {
 public:
  void TxBurst(Packet** pkts, uint32_t n) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t v = ~0u;
      if (pkts[i]->len >= kPayloadOff + 4) std::memcpy(&v, pkts[i]->data + kPayloadOff, 4);
      got_.push_back(v);
      PacketFree(pkts[i]);
    }
  }
  std::vector<uint32_t> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_.size();
  }

 private:
  std::mutex mu_;
  std::vector<uint32_t> got_;
};

struct Mode {
  SteeringMode mode;
  uint32_t workers;
  MergeKind merge;
  uint32_t mf_size;
};
const Mode kModes[] = {
    {SteeringMode::kFlow, 1, MergeKind::kOrderedQueue, 8},
    {SteeringMode::kFlow, 2, MergeKind::kOrderedQueue, 8},
    {SteeringMode::kStage, 2, MergeKind::kOrderedQueue, 8},
    {SteeringMode::kMicroflow, 2, MergeKind::kOrderedQueue, 4},
    {SteeringMode::kMicroflow, 2, MergeKind::kReorderWindow, 4},
    {SteeringMode::kMicroflow, 3, MergeKind::kOrderedQueue, 2},
};

EngineConfig Config(const Mode& m) {
  EngineConfig ec;
  ec.mode = m.mode;
  ec.workers = m.workers;
  ec.merge = m.merge;
  ec.microflow_size = m.mf_size;
  ec.elephant_pps = 0;  // split everything: micro-flows of the SA on every worker
  ec.rx_burst = 32;
  return ec;
}

uint64_t Drop(const EngineStats& s, const std::string& name) {
  for (const StageStats& st : s.stages)
    for (const auto& [n, v] : st.drops)
      if (n == name) return v;
  return 0;
}

// Underlay -> container. The input: 600 packets of 4 inner flows sealed
// with their numbers reordered in pairs, every 7th followed by a duplicate
// of a recent one, every 11th by a forgery numbered far ahead. Every mode
// delivers exactly the genuine packets, in arrival order (one SA is one
// flow), and counts the duplicates as replayed and the forgeries as bad_icv.
// Among them, every 13th is followed by one of the other hostile classes:
// a stranger's SPI, a runt, a NAT keepalive, an IKE marker, plain VXLAN from
// the encrypted peer, and, sealed with the right key, number 0, a bad pad
// length, bad padding, a next header other than UDP; each is counted under
// its own name.
TEST(EspEngine, RxDeliversGenuinePacketsOnceInOrderInEveryMode) {
  Sealer sealer;
  Sealer stranger(std::move(esp::EspSa::Parse(
      "spi=0x3003 alg=aes-256-gcm key=" + std::string(64, 'e') + " salt=01010101")).value());
  std::vector<bench::RingFrame> input;
  std::vector<uint32_t> want;
  std::vector<Bytes> sealed;
  std::map<std::string, uint64_t> hostile;
  uint32_t dups = 0, forged = 0;
  constexpr uint32_t kN = 600;
  for (uint32_t i = 0; i < kN; ++i) {
    // Numbers reordered: 1 2 4 3 5 6 8 7 ...
    const uint64_t seq = i % 4 == 2 ? i + 2 : i % 4 == 3 ? i : i + 1;
    sealed.push_back(sealer.Seal(Vxlan(Inner(i % kInnerFlows, i)), seq));
    input.push_back({sealed.back()});
    want.push_back(i);
    if (i % 7 == 6) {
      input.push_back({sealed[i - (i * 13) % 40 % (i + 1)]});
      ++dups;
    }
    if (i % 11 == 10) {
      Bytes f = sealer.Seal(Vxlan(Inner(0, 999999)), 100000 + i);
      f[f.size() - 3] ^= 0x20;  // in the tag
      input.push_back({f});
      ++forged;
    }
    if (i % 13 == 12) {
      const Bytes& like = sealed.back();
      switch (i / 13 % 9) {
        case 0:
          input.push_back({stranger.Seal(Vxlan(Inner(1, 999999)), i + 1)});
          ++hostile["esp_decrypt_unknown_spi"];
          break;
        case 1:
          input.push_back({WrapEsp(like, Bytes(like.begin() + 42, like.begin() + 42 + 30))});
          ++hostile["esp_decrypt_truncated"];
          break;
        case 2:
          input.push_back({WrapEsp(like, Bytes{0xff})});
          ++hostile["esp_decrypt_nat_keepalive"];
          break;
        case 3:
          input.push_back({WrapEsp(like, Bytes(40, 0))});
          ++hostile["esp_decrypt_non_esp_marker"];
          break;
        case 4:
          input.push_back({Vxlan(Inner(2, 999999))});
          ++hostile["esp_decrypt_plain_from_esp_peer"];
          break;
        default: {  // the right key, a bad trailer or number (numbers ahead: they must not move the window)
          const Bytes dgram = Slice(Vxlan(Inner(3, 999999)), 34);  // the VXLAN UDP datagram
          const auto [number, plain, drop] = Crafted(i / 13 % 9 - 5, dgram, 100000 + i);
          input.push_back({WrapEsp(like, esp::testing::SealRaw(Sa(), number, plain))});
          ++hostile[drop];
          break;
        }
      }
    }
  }
  uint64_t hostile_total = 0;
  for (const auto& [name, n] : hostile) hostile_total += n;
  for (const Mode& m : kModes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers) +
                 " mf " + std::to_string(m.mf_size));
    auto table = std::move(esp::EspSaTable::Create(m.workers)).value();
    ASSERT_TRUE(table->AddInbound(kA4, Sa()).ok());
    auto fdb = std::move(Fdb::Create(FdbConfig{})).value();
    fdb->Learn(42, kInnerDst, FdbValue::Local(0), UINT64_MAX / 2);
    DataPathConfig dp;
    dp.fdb = fdb.get();
    dp.inner_mtu = 1500;
    dp.coalesce = false;
    dp.esp = table.get();
    auto chain = BuildRxChain(dp);
    ASSERT_TRUE(chain.ok()) << chain.status().message();
    auto src = std::move(bench::FrameRingSource::Create(input, false)).value();
    auto hdrs = std::move(PacketPool::Create({"hdrs", 256, 256})).value();
    IndexSink sink;
    EnginePath p;
    p.chain = chain->get();
    p.rx = src.get();
    p.tx = &sink;
    p.pool = hdrs.get();
    p.classify = ClassifyRxEsp;
    auto engine = Engine::Create(Config(m), {p});
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    (*engine)->Start();
    ASSERT_TRUE(WaitFor([&] { return src->sent() == input.size(); }));
    const EngineStats* done = nullptr;
    EngineStats s;
    ASSERT_TRUE(WaitFor([&] {
      s = (*engine)->Stats();
      return s.released_packets + s.drops() == input.size();
    })) << "released " << s.released_packets << " dropped " << s.drops();
    (*engine)->Stop();
    s = (*engine)->Stats();
    done = &s;
    EXPECT_EQ(sink.got(), want);
    EXPECT_EQ(done->out_of_order, 0u);
    EXPECT_EQ(Drop(*done, "esp_decrypt_replayed"), dups);
    EXPECT_EQ(Drop(*done, "esp_decrypt_bad_icv"), forged);
    for (const auto& [name, n] : hostile) EXPECT_EQ(Drop(*done, name), n) << name;
    EXPECT_EQ(done->drops(), dups + forged + hostile_total);
    EXPECT_EQ(table->FindInbound(0x2001)->window.top(), kN) << "forgeries never move the window";
  }
}

// Container -> underlay, with TCP super-frames of 3 segments among plain
// frames: the split point reserves one number per segment, workers encrypt
// in parallel, and a receiver decrypts every frame (no number used twice, none
// outside its window) to the inner flows in their order.
TEST(EspEngine, TxNumbersEverySegmentOnceInEveryMode) {
  std::vector<bench::RingFrame> input;
  uint32_t segments = 0;
  for (uint32_t i = 0; i < 300; ++i) {
    const uint32_t flow = i % kInnerFlows;
    if (i % 5 == 0) {
      input.push_back({Inner(flow, 10 * i, 3, 600), 600, 3, 42});
      segments += 3;
    } else {
      input.push_back({Inner(flow, 10 * i), 0, 0, 42});
      segments += 1;
    }
  }
  for (const Mode& m : kModes) {
    SCOPED_TRACE(std::string(SteeringModeName(m.mode)) + " x" + std::to_string(m.workers));
    auto table = std::move(esp::EspSaTable::Create(m.workers)).value();
    ASSERT_TRUE(table->SetOutbound(kA4, Sa()).ok());
    auto fdb = std::move(Fdb::Create(FdbConfig{})).value();
    fdb->Learn(42, kInnerDst, FdbValue::Remote(kA4), UINT64_MAX / 2);
    DataPathConfig dp;
    dp.fdb = fdb.get();
    dp.inner_mtu = 1500;
    dp.esp = table.get();
    auto chain = BuildTxChain(dp);
    ASSERT_TRUE(chain.ok()) << chain.status().message();
    auto src = std::move(bench::FrameRingSource::Create(input, false)).value();
    // Segment headers with room for their payload: encryption linearises.
    auto hdrs = std::move(PacketPool::Create({"hdrs", 1024, 2048})).value();

    // The receiving peer: decrypts in arrival order (its own window).
    auto peer = std::move(esp::EspSaTable::Create(1)).value();
    ASSERT_TRUE(peer->AddInbound(kB4, Sa()).ok());
    auto open = std::move(EspDecrypt::Create({peer.get(), false})).value();
    struct Receiver : TxPort {
      EspDecrypt* open;
      StageCounters counters;
      StageContext ctx;
      std::mutex mu;
      std::map<uint32_t, std::vector<uint32_t>> by_flow;  // inner sport -> indices
      uint64_t frames = 0;
      std::unique_ptr<PacketPool> pool = std::move(PacketPool::Create({"rcv", 64, 2048})).value();
      void TxBurst(Packet** pkts, uint32_t n) noexcept override {
        std::lock_guard<std::mutex> lock(mu);
        ctx.counters = &counters;
        for (uint32_t i = 0; i < n; ++i) {
          // A TSO carrier's frames are its segments: copy each out, as a
          // socket would send it.
          for (Packet* f = pkts[i]->is_train() ? pkts[i]->segs : pkts[i]; f != nullptr;
               f = pkts[i]->is_train() ? f->seg_next : nullptr) {
            Packet* q = pool->Alloc();
            q->len = f->Flatten(q->data, 2048 - kHeadroom);
            ++frames;
            Batch b;
            b.Push(q);
            open->Process(b, ctx);
            open->Release(b, ctx);
            for (uint32_t k = 0; k < b.n; ++k) {
              const uint8_t* in = b.pkts[k]->data + 14 + 20 + 8 + 8;  // the inner frame
              uint32_t v;
              std::memcpy(&v, in + kPayloadOff, 4);
              by_flow[static_cast<uint32_t>(in[34] << 8 | in[35])].push_back(v);
              PacketFree(b.pkts[k]);
            }
          }
          PacketFree(pkts[i]);
        }
      }
    } rcv;
    rcv.open = open.get();

    EnginePath p;
    p.chain = chain->get();
    p.rx = src.get();
    p.tx = &rcv;
    p.pool = hdrs.get();
    p.classify = ClassifyTx;
    p.wire_seq = table->tx_seq();
    auto engine = Engine::Create(Config(m), {p});
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    (*engine)->Start();
    const bool all = WaitFor([&] {
      std::lock_guard<std::mutex> lock(rcv.mu);
      const EngineStats st = (*engine)->Stats();
      return rcv.frames >= segments || rcv.frames + st.drops() >= segments;
    });
    (*engine)->Stop();
    const EngineStats s = (*engine)->Stats();
    for (const StageStats& st : s.stages)
      for (const auto& [n, v] : st.drops) ADD_FAILURE() << n << " " << v;
    ASSERT_TRUE(all);
    EXPECT_EQ(s.drops(), 0u);
    EXPECT_EQ(s.out_of_order, 0u);
    uint64_t opened = 0;
    for (uint32_t f = 0; f < kInnerFlows; ++f) {
      const std::vector<uint32_t>& got = rcv.by_flow[40000 + f];
      opened += got.size();
      for (size_t k = 1; k < got.size(); ++k) EXPECT_LT(got[k - 1], got[k]) << "flow " << f;
    }
    EXPECT_EQ(opened, segments) << "every segment decrypted: numbers unique";
    for (uint32_t r = 0; r < kMaxDropReasons; ++r) EXPECT_EQ(rcv.counters.drops[r], 0u) << r;
    EXPECT_EQ(table->tx_seq()->load(), segments + 1u) << "one number per segment";
  }
}

}  // namespace
}  // namespace mflow

// The ESP stages (esp_encrypt, esp_decrypt) against the single-threaded
// reference (EspOutbound, EspInbound): the same bytes on the wire, the same
// verdict for every hostile packet, and the split replay check (early Check
// on the worker, Update at release) refusing what the reference refuses.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "esp/esp_codec.h"
#include "esp/esp_endpoint.h"
#include "esp/esp_sa_table.h"
#include "packet/pool.h"
#include "stage/esp_decrypt.h"
#include "stage/esp_encrypt.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"
#include "wire/udp.h"

namespace mflow {
namespace {

using Bytes = std::vector<uint8_t>;
using esp::EspAlg;
using esp::EspSa;

const wire::IpAddr kA4 = wire::IpAddr::V4(0xC6120001);  // 198.18.0.1: the sender
const wire::IpAddr kB4 = wire::IpAddr::V4(0xC6120002);  // 198.18.0.2: the receiver

EspSa MakeSa(EspAlg alg, bool esn, uint32_t spi = 0x1001) {
  auto sa = EspSa::FromFields(
      spi, esp::EspAlgName(alg),
      alg == EspAlg::kAes128Gcm ? "00112233445566778899aabbccddeeff"
                                : "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
      "01020304", esn);
  EXPECT_TRUE(sa.ok()) << sa.status().message();
  return sa.value();
}

// A VXLAN frame (outer headers included) from `src` to `dst`, with a TCP
// inner packet whose payload depends on `salt`.
Bytes VxlanFrame(const wire::IpAddr& src, const wire::IpAddr& dst, uint32_t salt, uint32_t len = 200) {
  Bytes payload(len);
  for (uint32_t i = 0; i < len; ++i) payload[i] = static_cast<uint8_t>(i * 3 + salt);
  Bytes inner(len + 200);
  const uint32_t n = wire::BuildInnerFrame(testing::Tcp4(), payload, inner.data(),
                                           static_cast<uint32_t>(inner.size()));
  inner.resize(n);
  wire::OuterSpec o;
  o.src_ip = src;
  o.dst_ip = dst;
  o.udp_checksum = src.is_v6();
  Bytes f(n + 200);
  f.resize(wire::BuildVxlanFrame(o, inner, f.data(), static_cast<uint32_t>(f.size())));
  EXPECT_FALSE(f.empty());
  return f;
}

uint32_t OuterLen(const wire::IpAddr& a) { return 14 + (a.is_v6() ? 40 : 20); }

class EspStage : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = PacketPool::Create({"esp-stage-test", 256, 2048});
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(pool.value());
    ctx_.pool = pool_.get();
    ctx_.counters = &counters_;
  }
  Packet* Make(const Bytes& b) {
    Packet* p = pool_->Alloc();
    std::memcpy(p->data, b.data(), b.size());
    p->len = static_cast<uint32_t>(b.size());
    return p;
  }
  static Bytes Of(const Packet* p) { return Bytes(p->data, p->data + p->len); }
  // Runs one packet through a stage (and its release, if any); returns it or
  // nullptr with *reason set when dropped.
  Packet* Run(Stage& s, Packet* p, int* reason = nullptr, uint32_t worker = 0) {
    counters_ = StageCounters{};
    ctx_.worker = worker;
    Batch b;
    b.Push(p);
    s.Process(b, ctx_);
    if (b.n == 1 && s.has_release()) s.Release(b, ctx_);
    if (b.n == 1) return b.pkts[0];
    for (uint32_t r = 0; r < kMaxDropReasons; ++r)
      if (counters_.drops[r] != 0 && reason) *reason = static_cast<int>(r);
    return nullptr;
  }
  std::unique_ptr<esp::EspSaTable> Table(uint32_t workers = 2) {
    auto t = esp::EspSaTable::Create(workers);
    EXPECT_TRUE(t.ok());
    return std::move(t).value();
  }

  // Two encrypted peers, kB4 (AES-GCM-128, ESN) and 198.18.0.3 (AES-GCM-256,
  // no ESN), and an esp_encrypt stage over them on the socket underlay.
  struct TwoPeers {
    EspSa sa1 = MakeSa(EspAlg::kAes128Gcm, true, 0x1001);
    EspSa sa2 = MakeSa(EspAlg::kAes256Gcm, false, 0x1002);
    wire::IpAddr c4 = wire::IpAddr::V4(0xC6120003);
    std::unique_ptr<esp::EspSaTable> tx;
    std::unique_ptr<EspEncrypt> enc;
    bool IsPeer(const wire::IpAddr& a) const { return a == kB4 || a == c4; }
    const EspSa& SaOf(const wire::IpAddr& a) const { return a == kB4 ? sa1 : sa2; }
  };
  void MakeTwoPeers(TwoPeers* t) {
    t->tx = Table();
    ASSERT_TRUE(t->tx->SetOutbound(kB4, t->sa1).ok());
    ASSERT_TRUE(t->tx->SetOutbound(t->c4, t->sa2).ok());
    auto enc = EspEncrypt::Create({t->tx.get(), true, kA4});
    ASSERT_TRUE(enc.ok());
    t->enc = std::move(enc).value();
  }

  std::unique_ptr<PacketPool> pool_;
  StageCounters counters_;
  StageContext ctx_;
};

// Full frames, both families and key sizes, ESN on and off: the encrypt
// stage's frame is ESP in UDP 4500 with valid outer headers whose payload the
// reference decrypts to the original datagram; the decrypt stage restores the
// original frame byte for byte.
TEST_F(EspStage, FullFramesRoundTripAgainstTheReference) {
  for (bool v6 : {false, true})
    for (EspAlg alg : {EspAlg::kAes128Gcm, EspAlg::kAes256Gcm})
      for (bool esn : {true, false}) {
        SCOPED_TRACE(std::string(v6 ? "v6 " : "v4 ") + std::string(esp::EspAlgName(alg)) +
                     (esn ? " esn" : ""));
        const wire::IpAddr a = v6 ? testing::V6(1) : kA4;
        const wire::IpAddr b = v6 ? testing::V6(2) : kB4;
        const EspSa sa = MakeSa(alg, esn);
        auto tx = Table();
        ASSERT_TRUE(tx->SetOutbound(b, sa).ok());
        auto rx = Table();
        ASSERT_TRUE(rx->AddInbound(a, sa).ok());
        auto enc = EspEncrypt::Create({tx.get(), false, {}});
        auto dec = EspDecrypt::Create({rx.get(), false});
        ASSERT_TRUE(enc.ok() && dec.ok());
        esp::EspInbound ref;
        ASSERT_TRUE(ref.AddSa(sa).ok());
        const uint32_t ol = OuterLen(a);
        for (uint32_t seq = 1; seq <= 5; ++seq) {
          const Bytes orig = VxlanFrame(a, b, seq, 100 + seq * 37);
          Packet* p = Make(orig);
          p->wire_seq = seq;
          p = Run(**enc, p);
          ASSERT_NE(p, nullptr);
          EXPECT_TRUE(p->flags & kPktFlagEsp);
          const Bytes wire_frame = Of(p);
          // Outer headers: UDP 4500 -> 4500, lengths, checksums.
          ASSERT_GT(wire_frame.size(), ol + 8 + esp::kEspMinLen);
          EXPECT_EQ(wire_frame[ol] << 8 | wire_frame[ol + 1], 4500);
          EXPECT_EQ(wire_frame[ol + 2] << 8 | wire_frame[ol + 3], 4500);
          EXPECT_EQ(uint32_t(wire_frame[ol + 4] << 8 | wire_frame[ol + 5]), wire_frame.size() - ol);
          if (!v6) {
            wire::Ipv4Header ip;
            std::memcpy(&ip, wire_frame.data() + 14, sizeof ip);
            EXPECT_TRUE(wire::VerifyIpv4Checksum(&ip));
            EXPECT_EQ(ip.total_length.host(), wire_frame.size() - 14);
          } else {
            wire::Ipv6Header ip;
            std::memcpy(&ip, wire_frame.data() + 14, sizeof ip);
            const uint32_t l4 = static_cast<uint32_t>(wire_frame.size()) - ol;
            EXPECT_EQ(wire::ChecksumFold(wire::ChecksumPartial(
                          wire_frame.data() + ol, l4, wire::PseudoHeaderSumV6(&ip, 17, l4))),
                      0xffff);
          }
          // The reference decrypts the ESP payload to the original datagram.
          Packet* r = Make(Bytes(wire_frame.begin() + ol + 8, wire_frame.end()));
          uint64_t rseq = 0;
          ASSERT_EQ(ref.Decap(r, &rseq), esp::kEspOk);
          EXPECT_EQ(rseq, seq);
          EXPECT_EQ(Of(r), Bytes(orig.begin() + ol, orig.end()));
          PacketFree(r);
          // The decrypt stage gives the original frame back.
          p = Run(**dec, p);
          ASSERT_NE(p, nullptr);
          EXPECT_EQ(Of(p), orig);
          EXPECT_EQ(p->esp_slot, 0) << "recorded at release";
          PacketFree(p);
        }
        EXPECT_EQ(rx->FindInbound(sa.spi)->window.top(), 5u);
      }
}

// Socket underlay: the encrypt stage writes the inner UDP 4789 header and
// produces exactly the reference's bytes for that datagram and number; the
// decrypt stage takes the reference's packets back to the VXLAN header.
TEST_F(EspStage, SocketModeMatchesTheReferenceBothWays) {
  const EspSa sa = MakeSa(EspAlg::kAes256Gcm, true);
  auto tx = Table();
  ASSERT_TRUE(tx->SetOutbound(kB4, sa).ok());
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, sa).ok());
  auto enc = EspEncrypt::Create({tx.get(), true, kA4});
  auto dec = EspDecrypt::Create({rx.get(), true});
  ASSERT_TRUE(enc.ok() && dec.ok());
  auto out = esp::EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  esp::EspInbound ref;
  ASSERT_TRUE(ref.AddSa(sa).ok());
  for (uint64_t seq : {1ull, 2ull, 3000000000ull, 0x100000005ull}) {  // across 2^32
    const Bytes frame = VxlanFrame(kA4, kB4, static_cast<uint32_t>(seq), 300);
    const Bytes vxlan(frame.begin() + 14 + 20 + 8, frame.end());
    Packet* p = Make(vxlan);
    p->remote = kB4;
    p->wire_seq = seq;
    p->flow_hash = 0x1234;
    p = Run(**enc, p, nullptr, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->flags & kPktFlagEsp);
    const Bytes sealed = Of(p);
    PacketFree(p);
    // What it protects: UDP (4789, the right length) + the VXLAN bytes.
    Packet* r = Make(sealed);
    uint64_t rseq = 0;
    ASSERT_EQ(ref.Decap(r, &rseq), esp::kEspOk);
    EXPECT_EQ(rseq, seq);
    const Bytes plain = Of(r);
    PacketFree(r);
    ASSERT_EQ(plain.size(), vxlan.size() + 8);
    EXPECT_EQ(plain[2] << 8 | plain[3], 4789);
    EXPECT_EQ(size_t(plain[4] << 8 | plain[5]), plain.size());
    EXPECT_EQ(Bytes(plain.begin() + 8, plain.end()), vxlan);
    // The reference seals that datagram with that number to the same bytes.
    Packet* q = Make(plain);
    out->set_next_seq(seq);
    ASSERT_EQ(out->Encap(q), esp::kEspOk);
    EXPECT_EQ(Of(q), sealed);
    // The decrypt stage takes the reference's packet back to VXLAN.
    q->flags |= kPktFlagEsp;
    q->remote = wire::IpAddr::V4(0x0a000001);  // NAT: the source may differ
    q = Run(**dec, q, nullptr, 1);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(Of(q), vxlan);
    EXPECT_EQ(q->remote, kA4) << "learnt behind the SA's peer";
    EXPECT_FALSE(q->flags & kPktFlagEsp);
    PacketFree(q);
  }
}

// Every hostile class gets the reference's verdict, under its name.
TEST_F(EspStage, HostilePacketsGetTheReferenceVerdict) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, sa).ok());
  auto dec = EspDecrypt::Create({rx.get(), true});
  ASSERT_TRUE(dec.ok());
  esp::EspInbound ref;
  ASSERT_TRUE(ref.AddSa(sa).ok());
  auto out = esp::EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  auto other = esp::EspOutbound::Create(MakeSa(EspAlg::kAes128Gcm, true, 0x9999));
  ASSERT_TRUE(other.ok());

  std::vector<Bytes> cases;
  auto sealed = [&](esp::EspOutbound& o, uint32_t salt) {
    const Bytes frame = VxlanFrame(kA4, kB4, salt, 120);
    Bytes dgram(frame.begin() + 14 + 20, frame.end());
    Packet* p = Make(dgram);
    EXPECT_EQ(o.Encap(p), esp::kEspOk);
    Bytes b = Of(p);
    PacketFree(p);
    return b;
  };
  const Bytes good1 = sealed(*out, 1), good2 = sealed(*out, 2);
  cases.push_back(good1);
  cases.push_back(good1);                          // replayed
  for (size_t off : {0ul, 5ul, 9ul, 20ul, good2.size() - 1}) {  // tampered anywhere
    Bytes t = good2;
    t[off] ^= 0x40;
    cases.push_back(t);
  }
  cases.push_back(Bytes(good2.begin(), good2.begin() + 20));  // truncated
  cases.push_back(Bytes{0xff});                               // NAT keepalive
  cases.push_back(Bytes{0, 0, 0, 0, 1, 2, 3, 4});             // IKE marker
  cases.push_back(sealed(*other, 3));                         // stranger
  cases.push_back(good2);                                     // fine
  out->set_next_seq(20000);
  cases.push_back(sealed(*out, 4));                           // far ahead: fine
  out->set_next_seq(3);
  cases.push_back(sealed(*out, 5));                           // left of the window now
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    Packet* r = Make(cases[i]);
    uint64_t seq;
    const int want = ref.Decap(r, &seq);
    PacketFree(r);
    Packet* p = Make(cases[i]);
    p->flags |= kPktFlagEsp;
    int got = kNext;
    p = Run(**dec, p, &got);
    if (p != nullptr) PacketFree(p);
    EXPECT_EQ(got, want == esp::kEspOk ? kNext : want)
        << "stage " << (got >= 0 ? (*dec)->drop_reasons()[got] : "next");
  }
  EXPECT_EQ(rx->FindInbound(sa.spi)->window.top(), 20000u);
}

// Two copies of one packet decrypted on two workers both pass the early
// check; the release records the first and drops the second as replayed.
TEST_F(EspStage, DuplicatesDecryptedOnTwoWorkersReleaseOnce) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, sa).ok());
  auto dec = EspDecrypt::Create({rx.get(), true});
  ASSERT_TRUE(dec.ok());
  auto out = esp::EspOutbound::Create(sa);
  const Bytes frame = VxlanFrame(kA4, kB4, 9, 64);
  Packet* a = Make(Bytes(frame.begin() + 34, frame.end()));
  ASSERT_EQ(out->Encap(a), esp::kEspOk);
  Packet* b = Make(Of(a));
  a->flags |= kPktFlagEsp;
  b->flags |= kPktFlagEsp;
  Batch one, two;
  one.Push(a);
  two.Push(b);
  ctx_.worker = 0;
  (*dec)->Process(one, ctx_);
  ctx_.worker = 1;
  (*dec)->Process(two, ctx_);
  ASSERT_EQ(one.n + two.n, 2u) << "both pass the early check";
  counters_ = StageCounters{};
  Batch merged;
  merged.Push(one.pkts[0]);
  merged.Push(two.pkts[0]);
  (*dec)->Release(merged, ctx_);
  ASSERT_EQ(merged.n, 1u);
  EXPECT_EQ(counters_.drops[esp::kEspReplayed], 1u);
  PacketFree(merged.pkts[0]);
}

// A forged packet (right SPI, a number far ahead, wrong tag) fails the ICV
// and leaves the window exactly as it was.
TEST_F(EspStage, ForgedPacketsNeverMoveTheWindow) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, sa).ok());
  auto dec = EspDecrypt::Create({rx.get(), true});
  auto out = esp::EspOutbound::Create(sa);
  const Bytes frame = VxlanFrame(kA4, kB4, 9, 64);
  for (uint64_t s : {1ull, 2ull, 3ull}) {
    Packet* p = Make(Bytes(frame.begin() + 34, frame.end()));
    out->set_next_seq(s);
    ASSERT_EQ(out->Encap(p), esp::kEspOk);
    p->flags |= kPktFlagEsp;
    p = Run(**dec, p);
    ASSERT_NE(p, nullptr);
    PacketFree(p);
  }
  const esp::ReplayWindow before = rx->FindInbound(sa.spi)->window;
  for (uint64_t s : {4ull, 5000ull, 1000000ull}) {
    Packet* p = Make(Bytes(frame.begin() + 34, frame.end()));
    out->set_next_seq(s);
    ASSERT_EQ(out->Encap(p), esp::kEspOk);
    p->data[p->len - 1] ^= 1;  // the tag
    p->flags |= kPktFlagEsp;
    int why = kNext;
    EXPECT_EQ(Run(**dec, p, &why), nullptr);
    EXPECT_EQ(why, esp::kEspBadIcv);
  }
  EXPECT_TRUE(rx->FindInbound(sa.spi)->window == before);
}

// Plain VXLAN from a peer that has an SA is refused (else spoofing its
// address would bypass the encryption); from a plain peer it passes.
TEST_F(EspStage, PlainVxlanFromAnEncryptedPeerIsRefused) {
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, MakeSa(EspAlg::kAes128Gcm, true)).ok());
  for (bool sock : {true, false}) {
    auto dec = EspDecrypt::Create({rx.get(), sock});
    for (const wire::IpAddr& from : {kA4, wire::IpAddr::V4(0xC6120009)}) {
      const Bytes frame = VxlanFrame(from, kB4, 1, 64);
      Packet* p = Make(sock ? Bytes(frame.begin() + 42, frame.end()) : frame);
      p->remote = from;
      int why = kNext;
      p = Run(**dec, p, &why);
      if (from == kA4) {
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(why, EspDecrypt::kPlainFromEspPeer);
      } else {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(Of(p), sock ? Bytes(frame.begin() + 42, frame.end()) : frame);
        PacketFree(p);
      }
    }
  }
}

// Frames for plain peers and hairpin frames pass the encrypt stage as they
// are; a frame for an encrypted peer without a reserved number is refused.
TEST_F(EspStage, EncryptLeavesPlainPeersAloneAndNeedsANumber) {
  auto tx = Table();
  ASSERT_TRUE(tx->SetOutbound(kB4, MakeSa(EspAlg::kAes128Gcm, true)).ok());
  auto enc = EspEncrypt::Create({tx.get(), false, {}});
  const Bytes plain_peer = VxlanFrame(kA4, wire::IpAddr::V4(0xC6120009), 1, 64);
  Packet* p = Make(plain_peer);
  p->wire_seq = 1;
  p = Run(**enc, p);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(Of(p), plain_peer);
  PacketFree(p);
  p = Make(VxlanFrame(kA4, kB4, 1, 64));
  int why = kNext;
  EXPECT_EQ(Run(**enc, p, &why), nullptr);
  EXPECT_EQ(why, EspEncrypt::kUnnumbered);
}

// An SA numbers its packets from its install: one installed when the shared
// counter is past 2^32 sends small numbers (a receiver's fresh window takes
// the high bits as 0), so an SA without ESN gets its whole 32-bit space
// after a rekey; a packet numbered long before the install is refused.
TEST_F(EspStage, AnSaNumbersFromItsInstallNotFromTheSharedCounter) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, false);
  auto tx = Table();
  const uint64_t counter = (uint64_t{1} << 32) + 5000;
  tx->tx_seq()->store(counter);
  ASSERT_TRUE(tx->SetOutbound(kB4, sa).ok());
  auto enc = EspEncrypt::Create({tx.get(), false, {}});
  const Bytes frame = VxlanFrame(kA4, kB4, 3, 64);
  esp::EspInbound ref;
  ASSERT_TRUE(ref.AddSa(sa).ok());
  for (uint64_t wire : {counter, counter + 1, counter - 10}) {
    Packet* p = Make(frame);
    p->wire_seq = wire;
    int why = kNext;
    p = Run(**enc, p, &why);
    ASSERT_NE(p, nullptr) << "wire_seq " << wire << " refused: " << why;
    Packet* r = Make(Bytes(p->data + OuterLen(kB4) + 8, p->data + p->len));
    uint64_t seq = 0;
    ASSERT_EQ(ref.Decap(r, &seq), esp::kEspOk) << wire;
    EXPECT_EQ(seq, wire - counter + esp::EspSaTable::kSeqInFlight);
    PacketFree(r);
    PacketFree(p);
  }
  Packet* p = Make(frame);
  p->wire_seq = counter - esp::EspSaTable::kSeqInFlight;
  int why = kNext;
  EXPECT_EQ(Run(**enc, p, &why), nullptr);
  EXPECT_EQ(why, EspEncrypt::kUnnumbered);
}

// What mflowctl peers shows of an outbound SA's numbering: the next number
// and, without ESN, how many remain, both moving with the shared counter.
TEST_F(EspStage, OutboundStatesTellHowManyNumbersAreLeftWithoutEsn) {
  auto tx = Table();
  const uint64_t counter = (uint64_t{1} << 32) - 100;
  tx->tx_seq()->store(counter);
  ASSERT_TRUE(tx->SetOutbound(kB4, MakeSa(EspAlg::kAes128Gcm, false)).ok());
  ASSERT_TRUE(tx->SetOutbound(kA4, MakeSa(EspAlg::kAes128Gcm, true, 0x1009)).ok());
  const uint64_t next = esp::EspSaTable::kSeqInFlight;  // installed at counter
  auto states = tx->OutboundStates();
  ASSERT_EQ(states.size(), 2u);
  for (const auto& st : states) {
    EXPECT_EQ(st.next_seq, next);
    if (st.esn) {
      EXPECT_EQ(st.seq_left, 0u);
    } else {
      EXPECT_EQ(st.seq_left, 0xffffffffu - next + 1);
    }
  }
  // Near the end of a 32-bit space: the SA without ESN has 1 number left,
  // then none.
  const uint64_t base = counter - next;
  tx->tx_seq()->store(base + 0xffffffffu);
  for (const auto& st : tx->OutboundStates()) {
    if (!st.esn) {
      EXPECT_EQ(st.seq_left, 1u);
    }
  }
  tx->tx_seq()->store(base + 0xffffffffu + 1);
  for (const auto& st : tx->OutboundStates()) {
    if (!st.esn) {
      EXPECT_EQ(st.seq_left, 0u);
    }
  }
}

// Make before break: while both inbound SAs are live, packets of either are
// accepted; after the old one is removed, only the new one's.
TEST_F(EspStage, RekeyAcceptsBothSasUntilTheOldOneIsRemoved) {
  const EspSa old_sa = MakeSa(EspAlg::kAes128Gcm, true, 0x2001);
  const EspSa new_sa = MakeSa(EspAlg::kAes256Gcm, true, 0x2002);
  auto rx = Table();
  ASSERT_TRUE(rx->AddInbound(kA4, old_sa).ok());
  ASSERT_TRUE(rx->AddInbound(kA4, new_sa).ok());
  EXPECT_FALSE(rx->AddInbound(kA4, new_sa).ok()) << "one SPI, one SA";
  auto dec = EspDecrypt::Create({rx.get(), true});
  auto o1 = esp::EspOutbound::Create(old_sa);
  auto o2 = esp::EspOutbound::Create(new_sa);
  const Bytes frame = VxlanFrame(kA4, kB4, 9, 64);
  auto send = [&](esp::EspOutbound& o) {
    Packet* p = Make(Bytes(frame.begin() + 34, frame.end()));
    EXPECT_EQ(o.Encap(p), esp::kEspOk);
    p->flags |= kPktFlagEsp;
    int why = kNext;
    p = Run(**dec, p, &why);
    if (p != nullptr) PacketFree(p);
    return why;
  };
  EXPECT_EQ(send(*o1), kNext);
  EXPECT_EQ(send(*o2), kNext);
  EXPECT_EQ(send(*o1), kNext);
  ASSERT_TRUE(rx->RemoveInbound(old_sa.spi).ok());
  EXPECT_EQ(send(*o2), kNext);
  EXPECT_EQ(send(*o1), esp::kEspUnknownSpi);
  EXPECT_EQ(rx->InboundSpis(), std::vector<uint32_t>{0x2002});
}

}  // namespace
}  // namespace mflow

namespace mflow {
namespace {

// Socket underlay: a flood stays as it is (the port sends it to the plain
// peers) and gets, right behind it, one sealed copy per encrypted peer under
// the flood's number, marked as a copy for the engine's order check.
TEST_F(EspStage, FloodGetsOneSealedCopyPerEncryptedPeer) {
  TwoPeers two;
  ASSERT_NO_FATAL_FAILURE(MakeTwoPeers(&two));
  const Bytes frame = VxlanFrame(kA4, kB4, 5, 60);
  const Bytes vxlan(frame.begin() + 42, frame.end());
  Packet* p = Make(vxlan);
  p->out_port = kPortFlood;
  p->wire_seq = 77;
  p->seq = 9;
  Batch b;
  b.Push(p);
  two.enc->Process(b, ctx_);
  ASSERT_EQ(b.n, 3u);
  EXPECT_EQ(b.pkts[0], p);
  EXPECT_EQ(Of(p), vxlan) << "the flood itself stays plain, for the plain peers";
  for (uint32_t i = 1; i < 3; ++i) {
    Packet* c = b.pkts[i];
    EXPECT_EQ(c->flags & (kPktFlagEsp | kPktFlagCopy), kPktFlagEsp | kPktFlagCopy);
    EXPECT_EQ(c->out_port, kPortNone);
    EXPECT_EQ(c->seq, 9u);
    const EspSa& sa = two.SaOf(c->remote);
    EXPECT_TRUE(two.IsPeer(c->remote));
    esp::EspInbound ref;
    ASSERT_TRUE(ref.AddSa(sa).ok());
    ref.window(sa.spi)->StartAt(70);
    Packet* r = Make(Of(c));
    uint64_t seq = 0;
    ASSERT_EQ(ref.Decap(r, &seq), esp::kEspOk);
    EXPECT_EQ(seq, 77u);
    EXPECT_EQ(Bytes(r->data + 8, r->data + r->len), vxlan);
    PacketFree(r);
  }
  EXPECT_NE(b.pkts[1]->remote, b.pkts[2]->remote);
  for (uint32_t i = 0; i < b.n; ++i) PacketFree(b.pkts[i]);
}

// A flood that is a TSO carrier (a container's super-frame to a MAC not yet
// learned): each encrypted peer gets a carrier of its own whose train holds
// every segment sealed under that segment's number; the original's segments
// stay plain for the plain peers.
TEST_F(EspStage, FloodTrainGetsASealedTrainPerEncryptedPeer) {
  TwoPeers two;
  ASSERT_NO_FATAL_FAILURE(MakeTwoPeers(&two));
  constexpr uint32_t kSegs = 3;
  std::vector<Bytes> vxlan;
  Packet* carrier = Make(Bytes(64, 0xee));  // its own bytes are never sent
  carrier->out_port = kPortFlood;
  carrier->wire_seq = 100;
  carrier->seq = 9;
  Packet** tail = &carrier->segs;
  for (uint32_t i = 0; i < kSegs; ++i) {
    const Bytes frame = VxlanFrame(kA4, kB4, 11 + i, 300);
    vxlan.emplace_back(frame.begin() + 42, frame.end());
    Packet* seg = Make(vxlan.back());
    seg->wire_seq = 100 + i;
    seg->seq = 9;
    *tail = seg;
    tail = &seg->seg_next;
    ++carrier->nsegs;
  }
  Batch b;
  b.Push(carrier);
  counters_ = StageCounters{};
  two.enc->Process(b, ctx_);
  ASSERT_EQ(b.n, 3u) << "the flood and one copy carrier per encrypted peer";
  EXPECT_EQ(b.pkts[0], carrier);
  uint32_t i = 0;
  for (const Packet* seg = carrier->segs; seg != nullptr; seg = seg->seg_next, ++i)
    EXPECT_EQ(Of(seg), vxlan[i]) << "the flood's own segments stay plain";
  for (uint32_t k = 1; k < 3; ++k) {
    Packet* c = b.pkts[k];
    EXPECT_EQ(c->flags & kPktFlagCopy, kPktFlagCopy);
    EXPECT_EQ(c->out_port, kPortNone);
    EXPECT_EQ(c->len, 0u) << "a carrier: only its train is sent";
    ASSERT_TRUE(two.IsPeer(c->remote));
    const EspSa& sa = two.SaOf(c->remote);
    ASSERT_EQ(c->nsegs, kSegs);
    esp::EspInbound ref;
    ASSERT_TRUE(ref.AddSa(sa).ok());
    ref.window(sa.spi)->StartAt(90);
    i = 0;
    for (const Packet* seg = c->segs; seg != nullptr; seg = seg->seg_next, ++i) {
      ASSERT_LT(i, kSegs);
      EXPECT_EQ(seg->flags & (kPktFlagEsp | kPktFlagCopy), kPktFlagEsp | kPktFlagCopy);
      Packet* r = Make(Of(seg));
      uint64_t seq = 0;
      ASSERT_EQ(ref.Decap(r, &seq), esp::kEspOk);
      EXPECT_EQ(seq, 100u + i) << "each segment under its own number";
      EXPECT_EQ(Bytes(r->data + 8, r->data + r->len), vxlan[i]);
      PacketFree(r);
    }
    EXPECT_EQ(i, kSegs);
  }
  EXPECT_NE(b.pkts[1]->remote, b.pkts[2]->remote);
  for (uint32_t r = 0; r < kMaxDropReasons; ++r) EXPECT_EQ(counters_.drops[r], 0u) << r;
  for (uint32_t k = 0; k < b.n; ++k) PacketFree(b.pkts[k]);
}

// A copy that finds no buffer is counted and the rest goes on: the flood
// itself still leaves for the plain peers.
TEST_F(EspStage, FloodTrainWithoutBuffersForItsCopiesIsCounted) {
  auto tx = Table();
  ASSERT_TRUE(tx->SetOutbound(kB4, MakeSa(EspAlg::kAes128Gcm, true)).ok());
  auto enc = EspEncrypt::Create({tx.get(), true, kA4});
  ASSERT_TRUE(enc.ok());
  const Bytes frame = VxlanFrame(kA4, kB4, 3, 300);
  const Bytes vxlan(frame.begin() + 42, frame.end());
  Packet* carrier = Make(Bytes(64, 0xee));
  carrier->out_port = kPortFlood;
  carrier->wire_seq = 5;
  carrier->segs = Make(vxlan);
  carrier->segs->wire_seq = 5;
  carrier->nsegs = 1;
  std::vector<Packet*> held;  // the pool, emptied but for the copy's carrier
  while (pool_->available() > 1) held.push_back(pool_->Alloc());
  Batch b;
  b.Push(carrier);
  counters_ = StageCounters{};
  (*enc)->Process(b, ctx_);
  ASSERT_EQ(b.n, 1u);
  EXPECT_EQ(b.pkts[0], carrier);
  EXPECT_EQ(counters_.drops[EspEncrypt::kFloodNoBuffer], 1u);
  EXPECT_EQ(pool_->available(), 1u) << "the partial copy went back to the pool";
  for (Packet* h : held) PacketFree(h);
  PacketFree(carrier);
}

// With a flood budget (the UDP port's): a flood is charged once, here, and
// marked so that the port does not charge it again; past the budget the
// flood is dropped before any copy is made, so the encrypted peers obey
// overlay.flood_pps like the plain ones.
TEST_F(EspStage, FloodsWithinTheBudgetAreCopiedAndMarkedOthersDropped) {
  auto tx = Table();
  ASSERT_TRUE(tx->SetOutbound(kB4, MakeSa(EspAlg::kAes128Gcm, true)).ok());
  FloodLimiter limiter(1, 2);  // bursts of 2, one more a second
  auto enc = EspEncrypt::Create({tx.get(), true, kA4, &limiter});
  ASSERT_TRUE(enc.ok());
  const Bytes frame = VxlanFrame(kA4, kB4, 5, 60);
  const Bytes vxlan(frame.begin() + 42, frame.end());
  Batch b;
  for (uint64_t i = 0; i < 3; ++i) {
    Packet* p = Make(vxlan);
    p->out_port = kPortFlood;
    p->in_port = 4;
    p->wire_seq = 10 + i;
    b.Push(p);
  }
  counters_ = StageCounters{};
  (*enc)->Process(b, ctx_);
  ASSERT_EQ(b.n, 4u) << "two floods, each with one sealed copy";
  for (uint32_t i = 0; i < 4; i += 2) {
    EXPECT_EQ(b.pkts[i]->out_port, kPortFlood);
    EXPECT_NE(b.pkts[i]->flags & kPktFlagFloodAdmitted, 0) << "the port must not charge it again";
    EXPECT_EQ(b.pkts[i + 1]->flags & kPktFlagCopy, kPktFlagCopy);
  }
  EXPECT_EQ(counters_.drops[EspEncrypt::kFloodLimited], 1u);
  for (uint32_t i = 0; i < b.n; ++i) PacketFree(b.pkts[i]);
}

}  // namespace
}  // namespace mflow

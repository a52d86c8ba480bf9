// ESP codec and endpoints: round trips, the wire layout, and every drop
// reason from a crafted packet, each counted once and never delivered.
#include "esp/esp_codec.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "esp/esp_endpoint.h"
#include "esp/esp_test_util.h"
#include "packet/pool.h"

namespace mflow::esp {
namespace {

using testing::Bytes;
using testing::Fill;
using testing::Hex;
using testing::Payload;
using testing::SealRaw;

constexpr uint32_t kSpi = 0x00001000;

EspSa MakeSa(EspAlg alg, bool esn, uint32_t spi = kSpi) {
  auto sa = EspSa::FromFields(
      spi, EspAlgName(alg),
      alg == EspAlg::kAes128Gcm ? "000102030405060708090a0b0c0d0e0f"
                                : "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      "a0a1a2a3", esn);
  EXPECT_TRUE(sa.ok());
  return sa.value();
}

class EspCodec : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = PacketPool::Create({"esp-test", 64, 2048});
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(pool.value());
  }
  // A packet holding bytes at the default headroom.
  Packet* Make(const std::vector<uint8_t>& bytes) {
    Packet* p = pool_->Alloc();
    EXPECT_NE(p, nullptr);
    Fill(p, bytes);
    return p;
  }
  // An encapsulated packet's bytes (payload sealed with seq by out).
  std::vector<uint8_t> Seal(EspOutbound& out, const std::vector<uint8_t>& payload) {
    Packet* p = Make(payload);
    EXPECT_EQ(out.Encap(p), kEspOk);
    auto b = Bytes(p);
    PacketFree(p);
    return b;
  }
  // Decap of bytes: the result, and the payload on success.
  int Open(EspInbound& in, const std::vector<uint8_t>& esp, std::vector<uint8_t>* payload = nullptr,
           uint64_t* seq_out = nullptr) {
    Packet* p = Make(esp);
    uint64_t seq = 0;
    const int r = in.Decap(p, &seq);
    if (r == kEspOk && payload) *payload = Bytes(p);
    if (r == kEspOk && seq_out) *seq_out = seq;
    PacketFree(p);
    return r;
  }
  // Expects exactly one drop, on reason r, and nothing delivered since.
  static void ExpectOnly(const EspInbound& in, uint32_t reason, uint64_t count, uint64_t delivered) {
    for (uint32_t i = 0; i < kEspDropCount; ++i) {
      EXPECT_EQ(in.drops()[i], i == reason ? count : 0) << kEspDropNames[i];
    }
    EXPECT_EQ(in.delivered(), delivered);
  }

  std::unique_ptr<PacketPool> pool_;
};

struct Combo {
  EspAlg alg;
  bool esn;
};

class EspRoundTrip : public EspCodec, public ::testing::WithParamInterface<Combo> {};

TEST_P(EspRoundTrip, EveryPayloadSizeFrom0To1500) {
  const EspSa sa = MakeSa(GetParam().alg, GetParam().esn);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  for (uint32_t n = 0; n <= 1500; ++n) {
    const auto payload = Payload(n, n);
    const uint64_t seq = out->next_seq();
    const auto esp = Seal(*out, payload);
    // Layout: 16 + payload + pad + 2 + 16, the ESP payload aligned to 4,
    // padding the minimum (GCM's block is one byte).
    const uint32_t pad = (4 - (n + 2) % 4) % 4;
    ASSERT_EQ(esp.size(), 16 + n + pad + 2 + 16) << n;
    ASSERT_EQ((esp.size() - 8 - 16) % 4, 0u) << n;
    ASSERT_EQ(esp[0] << 24 | esp[1] << 16 | esp[2] << 8 | esp[3], static_cast<int>(kSpi));
    ASSERT_EQ(static_cast<uint32_t>(esp[4] << 24 | esp[5] << 16 | esp[6] << 8 | esp[7]),
              static_cast<uint32_t>(seq));
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(esp[8 + i], static_cast<uint8_t>(seq >> (56 - 8 * i))) << "IV = 64-bit seq";
    }
    std::vector<uint8_t> got;
    uint64_t got_seq = 0;
    ASSERT_EQ(Open(in, esp, &got, &got_seq), kEspOk) << n;
    ASSERT_EQ(got, payload) << n;
    ASSERT_EQ(got_seq, seq);
  }
  ExpectOnly(in, kEspDropCount, 0, 1501);
}

TEST_P(EspRoundTrip, AcrossTheWrapOfTheLow32Bits) {
  const EspSa sa = MakeSa(GetParam().alg, GetParam().esn);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  const uint64_t start = (uint64_t{1} << 32) - 3;
  out->set_next_seq(start);
  in.window(kSpi)->StartAt(start - 1);
  for (int i = 0; i < 6; ++i) {
    Packet* p = Make(Payload(100, static_cast<uint32_t>(i)));
    const int r = out->Encap(p);
    if (!GetParam().esn && start + static_cast<uint64_t>(i) > 0xffffffffu) {
      // Without ESN the counter must not cycle (RFC 4303 3.3.3): rekey.
      EXPECT_EQ(r, kEspSeqExhausted);
      EXPECT_EQ(p->len, 100u) << "unchanged";
      PacketFree(p);
      continue;
    }
    ASSERT_EQ(r, kEspOk);
    uint64_t seq = 0;
    EXPECT_EQ(in.Decap(p, &seq), kEspOk) << i;
    EXPECT_EQ(seq, start + static_cast<uint64_t>(i));
    PacketFree(p);
  }
  EXPECT_EQ(in.delivered(), GetParam().esn ? 6u : 3u);
}

INSTANTIATE_TEST_SUITE_P(
    AllSas, EspRoundTrip,
    ::testing::Values(Combo{EspAlg::kAes128Gcm, true}, Combo{EspAlg::kAes128Gcm, false},
                      Combo{EspAlg::kAes256Gcm, true}, Combo{EspAlg::kAes256Gcm, false}),
    [](const ::testing::TestParamInfo<Combo>& i) {
      return std::string(i.param.alg == EspAlg::kAes128Gcm ? "Aes128" : "Aes256") +
             (i.param.esn ? "Esn" : "NoEsn");
    });

TEST_F(EspCodec, MatchesAnIndependentSealOfTheSameFields) {
  // The layout written out by hand in SealRaw (header, IV = seq, nonce =
  // salt || IV, AAD per RFC 4106 5) must give the same bytes as EspEncrypt.
  for (bool esn : {true, false}) {
    const EspSa sa = MakeSa(EspAlg::kAes128Gcm, esn);
    auto out = EspOutbound::Create(sa);
    ASSERT_TRUE(out.ok());
    const uint64_t seq = esn ? (uint64_t{7} << 32) + 9 : 9;
    out->set_next_seq(seq);
    auto plain = Payload(13, 1);
    const auto esp = Seal(*out, plain);
    plain.push_back(1);   // padding: 13 + 1 + 2 = 16, aligned to 4
    plain.push_back(1);   // pad length
    plain.push_back(17);  // next header UDP
    EXPECT_EQ(esp, SealRaw(sa, seq, plain)) << "esn " << esn;
  }
}

TEST_F(EspCodec, EncryptsFragmentsIntoTheLinearPart) {
  const EspSa sa = MakeSa(EspAlg::kAes256Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  // A TSO-segment-like packet: 50 header bytes, payload in two fragments
  // pointing into another buffer.
  const auto head = Payload(50, 3);
  const auto tail = Payload(1000, 4);
  Packet* carrier = Make(tail);
  Packet* p = Make(head);
  ASSERT_TRUE(p->AppendFrag(carrier->data, 600));
  ASSERT_TRUE(p->AppendFrag(carrier->data + 600, 400));
  auto whole = head;
  whole.insert(whole.end(), tail.begin(), tail.end());
  ASSERT_EQ(out->Encap(p), kEspOk);
  EXPECT_EQ(p->nfrags, 0);
  EXPECT_EQ(Bytes(carrier), tail) << "the fragments' source is only read";
  uint64_t seq = 0;
  ASSERT_EQ(in.Decap(p, &seq), kEspOk);
  EXPECT_EQ(Bytes(p), whole);
  PacketFree(p);
  PacketFree(carrier);
}

TEST_F(EspCodec, EncapFailuresAreNamedAndLeaveThePacketAlone) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  Packet* p = Make(Payload(100, 0));
  p->data = p->buf + 10;  // 10 bytes of headroom: less than ESP's 16
  EXPECT_EQ(out->Encap(p), kEspNoHeadroom);
  p->data = p->buf + kHeadroom;
  p->len = p->buf_size - kHeadroom - 17;  // tailroom 17 < 3 pad + 2 + 16 for this length
  EXPECT_EQ(out->Encap(p), kEspNoTailroom);
  p->len = 100;
  Packet* seg = Make(Payload(10, 0));
  p->segs = seg;  // pretend TSO carrier
  EXPECT_EQ(out->Encap(p), kEspTrain);
  p->segs = nullptr;
  EXPECT_EQ(p->len, 100u);
  EXPECT_EQ(out->next_seq(), 1u) << "failed packets use up no number";
  EXPECT_EQ(out->drops()[kEspNoHeadroom], 1u);
  EXPECT_EQ(out->drops()[kEspNoTailroom], 1u);
  EXPECT_EQ(out->drops()[kEspTrain], 1u);
  out->set_next_seq(0);
  EXPECT_EQ(out->Encap(p), kEspSeqExhausted);
  PacketFree(seg);
  PacketFree(p);
}

TEST_F(EspCodec, TamperedByteAnywhereIsBadIcvOrUnknownSpi) {
  for (bool esn : {true, false}) {
    const EspSa sa = MakeSa(EspAlg::kAes128Gcm, esn);
    auto out = EspOutbound::Create(sa);
    ASSERT_TRUE(out.ok());
    out->set_next_seq(1000);
    const auto esp = Seal(*out, Payload(77, 9));
    EspInbound in;
    ASSERT_TRUE(in.AddSa(sa).ok());
    for (size_t i = 0; i < esp.size(); ++i) {
      auto bad = esp;
      bad[i] ^= 0x01;
      ASSERT_NE(Open(in, bad), kEspOk) << i;
    }
    // SPI bytes find no SA; every other byte (seq, IV, ciphertext,
    // trailer, ICV) fails the ICV. The window never moved.
    EXPECT_EQ(in.drops()[kEspUnknownSpi], 4u);
    EXPECT_EQ(in.drops()[kEspBadIcv], esp.size() - 4);
    EXPECT_EQ(in.delivered(), 0u);
    EXPECT_EQ(in.window(kSpi)->top(), 0u);
    ASSERT_EQ(Open(in, esp), kEspOk) << "the genuine packet still passes";
  }
}

TEST_F(EspCodec, TruncatedAtEveryLength) {
  const EspSa sa = MakeSa(EspAlg::kAes256Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  const auto esp = Seal(*out, Payload(60, 2));
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  uint64_t short_ones = 0, cut_ones = 0;
  for (size_t n = 0; n < esp.size(); ++n) {
    const int r = Open(in, std::vector<uint8_t>(esp.begin(), esp.begin() + static_cast<long>(n)));
    // Long enough to parse: the ICV is read from the wrong place.
    ASSERT_EQ(r, n < kEspMinLen ? kEspTruncated : kEspBadIcv) << n;
    (n < kEspMinLen ? short_ones : cut_ones)++;
  }
  EXPECT_EQ(in.drops()[kEspTruncated], short_ones);
  EXPECT_EQ(in.drops()[kEspBadIcv], cut_ones);
  EXPECT_EQ(in.delivered(), 0u);
  EXPECT_EQ(Open(in, esp), kEspOk);
}

TEST_F(EspCodec, ReplayedAndLeftOfWindow) {
  for (bool esn : {false, true}) {
    const EspSa sa = MakeSa(EspAlg::kAes128Gcm, esn);
    auto out = EspOutbound::Create(sa);
    ASSERT_TRUE(out.ok());
    EspInbound in;
    ASSERT_TRUE(in.AddSa(sa).ok());
    const auto first = Seal(*out, Payload(40, 1));
    const auto second = Seal(*out, Payload(40, 2));
    ASSERT_EQ(Open(in, first), kEspOk);
    EXPECT_EQ(Open(in, first), kEspReplayed);
    ExpectOnly(in, kEspReplayed, 1, 1);
    // The sender moves far ahead; the old, never delivered packet is now
    // left of the window.
    out->set_next_seq(ReplayWindow::kWindow + 100);
    ASSERT_EQ(Open(in, Seal(*out, Payload(40, 3))), kEspOk);
    if (!esn) {
      EXPECT_EQ(Open(in, second), kEspLeftOfWindow);
      EXPECT_EQ(in.drops()[kEspLeftOfWindow], 1u);
    } else {
      // With ESN a low half below the window means the next 2^32 subspace
      // (RFC 4303 A2.2): the AAD then carries seq-hi + 1 and the ICV fails.
      EXPECT_EQ(Open(in, second), kEspBadIcv);
      EXPECT_EQ(in.drops()[kEspBadIcv], 1u);
    }
    EXPECT_EQ(in.delivered(), 2u);
    EXPECT_EQ(in.window(kSpi)->top(), ReplayWindow::kWindow + 100);
  }
}

TEST_F(EspCodec, LeftOfWindowWithEsnBeforeTheFirstWrap) {
  // Case B of A2.2 with seq-hi 0: a low half above the wrapped bottom would
  // be before packet 1, so it is refused before any decryption.
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  ASSERT_EQ(Open(in, Seal(*out, Payload(8, 1))), kEspOk);
  auto esp = Seal(*out, Payload(8, 2));
  esp[4] = esp[5] = esp[6] = 0xff;  // seq-lo 0xffffff02
  EXPECT_EQ(Open(in, esp), kEspLeftOfWindow);
  ExpectOnly(in, kEspLeftOfWindow, 1, 1);
}

TEST_F(EspCodec, SplitDecryptThenUpdateInOrder) {
  // The engine's split: two copies of one packet are decrypted on two
  // workers (both pass the read-only Check), then the merge updates the
  // window in order and refuses the second copy.
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto out = EspOutbound::Create(sa);
  auto open1 = AesGcm::Create(sa.key_bytes(), AesGcm::Direction::kOpen);
  auto open2 = AesGcm::Create(sa.key_bytes(), AesGcm::Direction::kOpen);
  ASSERT_TRUE(out.ok() && open1.ok() && open2.ok());
  const auto esp = Seal(*out, Payload(300, 1));
  ReplayWindow window;
  Packet* a = Make(esp);
  Packet* b = Make(esp);
  uint64_t seq_a = 0, seq_b = 0;
  ASSERT_EQ(EspDecrypt(a, sa, open1.value(), window, &seq_a), kEspOk);
  ASSERT_EQ(EspDecrypt(b, sa, open2.value(), window, &seq_b), kEspOk);
  EXPECT_EQ(window.top(), 0u) << "decryption alone records nothing";
  EXPECT_EQ(Bytes(a), Payload(300, 1));
  EXPECT_EQ(window.Update(seq_a), ReplayVerdict::kOk);
  EXPECT_EQ(window.Update(seq_b), ReplayVerdict::kReplayed);
  PacketFree(a);
  PacketFree(b);
}

TEST_F(EspCodec, EsnHighHalfIsAuthenticated) {
  // The sender is at 2^32 + 5; a receiver that believes the high half is 0
  // (its window at 10) computes another AAD and must refuse the packet.
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  out->set_next_seq((uint64_t{1} << 32) + 5);
  const auto esp = Seal(*out, Payload(64, 5));
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  in.window(kSpi)->StartAt(10);
  EXPECT_EQ(Open(in, esp), kEspBadIcv);
  EXPECT_EQ(in.window(kSpi)->top(), 10u) << "a failed ICV never moves the window";
  in.window(kSpi)->StartAt((uint64_t{1} << 32) + 1);
  uint64_t seq = 0;
  EXPECT_EQ(Open(in, esp, nullptr, &seq), kEspOk);
  EXPECT_EQ(seq, (uint64_t{1} << 32) + 5);
}

TEST_F(EspCodec, BadTrailersFromAPeerWithTheKey) {
  const EspSa sa = MakeSa(EspAlg::kAes256Gcm, false);
  EspInbound in;
  ASSERT_TRUE(in.AddSa(sa).ok());
  auto body = Payload(21, 4);  // 21 + 1 pad + 2 = 24
  auto with = [&](std::vector<uint8_t> pad, uint8_t pad_len, uint8_t nh) {
    auto v = body;
    v.insert(v.end(), pad.begin(), pad.end());
    v.push_back(pad_len);
    v.push_back(nh);
    return v;
  };
  uint64_t seq = 1;
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1}, 1, 17))), kEspOk);
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1, 2, 3, 4, 5}, 5, 17))), kEspOk)
      << "more padding than needed is allowed (RFC 4303 2.4)";
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1}, 1, 4))), kEspBadNextHeader);
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1}, 1, 59))), kEspBadNextHeader)
      << "dummy packets (next header 59) are not delivered";
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({2}, 1, 17))), kEspBadPadding);
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1, 2, 4}, 3, 17))), kEspBadPadding);
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1}, 23, 17))), kEspBadPadLength);
  EXPECT_EQ(Open(in, SealRaw(sa, seq++, with({1}, 255, 17))), kEspBadPadLength);
  EXPECT_EQ(in.drops()[kEspBadNextHeader], 2u);
  EXPECT_EQ(in.drops()[kEspBadPadding], 2u);
  EXPECT_EQ(in.drops()[kEspBadPadLength], 2u);
  EXPECT_EQ(in.delivered(), 2u);
  // The bad ones did verify: their numbers are not in the window (only
  // delivered packets are recorded), so the engine's merge decides alone.
}

TEST_F(EspCodec, StrangersKeepalivesAndIkeMarkers) {
  const EspSa sa = MakeSa(EspAlg::kAes128Gcm, true);
  auto out = EspOutbound::Create(sa);
  ASSERT_TRUE(out.ok());
  const auto esp = Seal(*out, Payload(30, 1));
  EspInbound in;  // no SA at all
  EXPECT_EQ(Open(in, esp), kEspUnknownSpi);
  EXPECT_EQ(Open(in, {0xff}), kEspNatKeepalive);
  EXPECT_EQ(Open(in, {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}), kEspNonEspMarker);
  EXPECT_EQ(Open(in, {}), kEspTruncated);
  Packet* p = Make(esp);
  ASSERT_TRUE(p->AppendFrag(p->data, 4));
  uint64_t seq = 0;
  EXPECT_EQ(in.Decap(p, &seq), kEspNotLinear);
  PacketFree(p);
  for (uint32_t r : {kEspUnknownSpi, kEspNatKeepalive, kEspNonEspMarker, kEspTruncated, kEspNotLinear}) {
    EXPECT_EQ(in.drops()[r], 1u) << kEspDropNames[r];
  }
  EXPECT_EQ(in.delivered(), 0u);
}

TEST_F(EspCodec, MakeBeforeBreakRekey) {
  const EspSa old_sa = MakeSa(EspAlg::kAes128Gcm, true, 0x100);
  const EspSa new_sa = MakeSa(EspAlg::kAes256Gcm, true, 0x200);
  auto old_out = EspOutbound::Create(old_sa);
  auto new_out = EspOutbound::Create(new_sa);
  ASSERT_TRUE(old_out.ok() && new_out.ok());
  EspInbound in;
  ASSERT_TRUE(in.AddSa(old_sa).ok());
  EXPECT_EQ(in.AddSa(old_sa).code(), StatusCode::kExists);
  const auto late_old = Seal(*old_out, Payload(10, 1));
  ASSERT_TRUE(in.AddSa(new_sa).ok());  // new inbound SA first ...
  EXPECT_EQ(Open(in, Seal(*new_out, Payload(10, 2))), kEspOk);  // ... then the peer switches
  EXPECT_EQ(Open(in, late_old), kEspOk) << "the old SA still accepts during the grace period";
  ASSERT_TRUE(in.RemoveSa(0x100).ok());
  EXPECT_EQ(in.RemoveSa(0x100).code(), StatusCode::kNotFound);
  EXPECT_EQ(Open(in, Seal(*old_out, Payload(10, 3))), kEspUnknownSpi);
}

TEST_F(EspCodec, UdpEncapsulation) {
  Packet* p = Make(Payload(40, 0));
  ASSERT_EQ(EspUdpPrepend(p, kEspUdpPort, kEspUdpPort), kEspOk);
  const auto b = Bytes(p);
  ASSERT_EQ(b.size(), 48u);
  EXPECT_EQ(b[0] << 8 | b[1], 4500);
  EXPECT_EQ(b[2] << 8 | b[3], 4500);
  EXPECT_EQ(b[4] << 8 | b[5], 48);
  EXPECT_EQ(b[6] << 8 | b[7], 0);
  p->len += 3;  // trailing bytes beyond the UDP length are trimmed
  ASSERT_EQ(EspUdpStrip(p), kEspOk);
  EXPECT_EQ(Bytes(p), Payload(40, 0));
  p->len = 5;
  EXPECT_EQ(EspUdpStrip(p), kEspTruncated);
  PacketFree(p);
}

}  // namespace
}  // namespace mflow::esp

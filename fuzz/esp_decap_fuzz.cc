// Fuzz target: ESP decapsulation (esp::EspInbound::Decap, after an optional
// RFC 3948 UDP header) of arbitrary bytes, with one known SA.
//
// Input: byte 0 = flags (bit 0: ESN on; bit 1: the packet starts with its
// UDP header; bit 2: "sealed"), bytes 1-8 = the window's top (big-endian,
// 0 = fresh), then the packet. A sealed input carries instead a sequence
// number (8 bytes) and the plaintext (payload, padding, pad length, next
// header) which the harness encrypts with the SA's key, so that the checks
// behind the ICV (padding, pad length, next header) are reached too.
// Checks: exactly one outcome counted; a delivered payload lies inside the
// packet and its number is recorded; any drop leaves the window exactly as
// it was (a forged packet never moves it); a sealed packet fails the ICV
// only when the receiver's ESN reconstruction differs from the sender's.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "esp/esp_endpoint.h"
#include "esp/esp_test_util.h"
#include "fuzz_check.h"
#include "packet/pool.h"

namespace {

using namespace mflow;
using namespace mflow::esp;

constexpr uint32_t kSpi = 0x1000;

uint64_t LoadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

EspSa MakeSa(bool esn) {
  auto sa = EspSa::FromFields(kSpi, "aes-128-gcm", "000102030405060708090a0b0c0d0e0f", "a0a1a2a3",
                              esn);
  FUZZ_CHECK(sa.ok());
  return sa.value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pool = PacketPool::Create({"fuzz-esp", 4, 65536 + 512});
  FUZZ_CHECK(pool.ok());
  if (size < 9) return 0;
  const uint8_t flags = data[0];
  const bool esn = flags & 1, udp = flags & 2, sealed = flags & 4;
  const uint64_t top = LoadBe64(data + 1);
  data += 9;
  size -= 9;
  std::vector<uint8_t> pkt(data, data + size);
  uint64_t sealed_seq = 0;
  if (sealed) {
    if (size < 8) return 0;
    sealed_seq = LoadBe64(data);
    pkt = esp::testing::SealRaw(MakeSa(esn), sealed_seq, {data + 8, size - 8});
    FUZZ_CHECK(!pkt.empty());
    if (udp) {  // a valid UDP header in front
      const uint32_t len = static_cast<uint32_t>(pkt.size() + 8);
      const uint8_t h[8] = {0x11, 0x94, 0x11, 0x94, static_cast<uint8_t>(len >> 8),
                            static_cast<uint8_t>(len), 0, 0};
      pkt.insert(pkt.begin(), h, h + 8);
    }
  }
  Packet* p = pool.value()->Alloc();
  FUZZ_CHECK(p != nullptr);
  if (pkt.size() > p->tailroom()) {
    PacketFree(p);
    return 0;
  }
  if (!pkt.empty()) std::memcpy(p->data, pkt.data(), pkt.size());
  p->len = static_cast<uint32_t>(pkt.size());
  const uint8_t* const begin = p->data;
  const uint8_t* const end = p->data + p->len;

  EspInbound in;
  FUZZ_CHECK(in.AddSa(MakeSa(esn)).ok());
  in.window(kSpi)->StartAt(top);
  const ReplayWindow before = *in.window(kSpi);

  int r = udp ? EspUdpStrip(p) : kEspOk;
  uint64_t seq = 0;
  if (r == kEspOk) {
    r = in.Decap(p, &seq);
    uint64_t counted = in.delivered();
    for (uint64_t c : in.drops()) counted += c;
    FUZZ_CHECK(counted == 1);
    FUZZ_CHECK(r == kEspOk || (r >= 0 && r < static_cast<int>(kEspDropCount)));
    if (r == kEspOk) {
      FUZZ_CHECK(p->data >= begin + kEspPrefixLen && p->data + p->len + 2 + kEspIcvLen <= end);
      FUZZ_CHECK(seq != 0 && in.window(kSpi)->Check(seq) == ReplayVerdict::kReplayed);
    } else {
      FUZZ_CHECK(*in.window(kSpi) == before);
    }
    // Sealed with the SA's key: the ICV verifies unless the receiver
    // reconstructs another seq-hi than the sender used (ESN, A2.2).
    if (sealed && (!esn || before.Reconstruct(static_cast<uint32_t>(sealed_seq)) == sealed_seq)) {
      FUZZ_CHECK(r != kEspBadIcv);
    }
  }
  PacketFree(p);
  return 0;
}

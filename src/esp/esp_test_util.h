// Helpers shared by the ESP tests and the ESP fuzz target: hex to bytes,
// packets from a pool, ESP packets with a hand-made trailer. No GoogleTest
// here: the fuzz target links without it.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "esp/aes_gcm.h"
#include "esp/esp_format.h"
#include "esp/esp_sa.h"
#include "packet/packet.h"

namespace mflow::esp::testing {

inline std::vector<uint8_t> Hex(std::string_view s) {
  std::vector<uint8_t> out;
  auto digit = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(digit(s[i]) << 4 | digit(s[i + 1])));
  }
  return out;
}

inline std::vector<uint8_t> Bytes(const Packet* p) {
  std::vector<uint8_t> v(p->frame_len());
  if (!v.empty()) p->Flatten(v.data(), static_cast<uint32_t>(v.size()));
  return v;
}

inline void Fill(Packet* p, const std::vector<uint8_t>& bytes) {
  if (!bytes.empty()) std::memcpy(p->data, bytes.data(), bytes.size());
  p->len = static_cast<uint32_t>(bytes.size());
}

// A payload of n bytes that differs from packet to packet.
inline std::vector<uint8_t> Payload(uint32_t n, uint32_t salt) {
  std::vector<uint8_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + salt * 13 + 1);
  return v;
}

// An ESP packet with the given plaintext (payload + padding + trailer,
// exactly as given: for crafting bad trailers with the right key), written
// out independently of EspEncrypt. Empty if OpenSSL refuses (not expected).
inline std::vector<uint8_t> SealRaw(const EspSa& sa, uint64_t seq,
                                    std::span<const uint8_t> plain) {
  std::vector<uint8_t> out(kEspPrefixLen + plain.size() + kEspIcvLen);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put32(0, sa.spi);
  put32(4, static_cast<uint32_t>(seq));
  put32(8, static_cast<uint32_t>(seq >> 32));
  put32(12, static_cast<uint32_t>(seq));
  uint8_t nonce[12];
  std::memcpy(nonce, sa.salt.data(), 4);
  std::memcpy(nonce + 4, out.data() + 8, 8);
  std::vector<uint8_t> aad(out.begin(), out.begin() + 4);
  if (sa.esn) aad.insert(aad.end(), out.begin() + 8, out.begin() + 12);
  aad.insert(aad.end(), out.begin() + 4, out.begin() + 8);
  auto seal = AesGcm::Create(sa.key_bytes(), AesGcm::Direction::kSeal);
  if (!seal.ok() || !seal->Seal(nonce, aad, plain, out.data() + kEspPrefixLen,
                                out.data() + kEspPrefixLen + plain.size()))
    return {};
  return out;
}

}  // namespace mflow::esp::testing

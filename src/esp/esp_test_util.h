// Helpers shared by the ESP tests: hex to bytes, and packets from a pool.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace mflow::esp::testing

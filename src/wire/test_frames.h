// Frame presets for tests and fuzz tools ONLY (src/**/*_test.cc,
// fuzz/make_corpus.cc). Header-only, not part of any mflow library; do not
// include it from production code. Everything here is a thin wrapper around
// wire::BuildInnerFrame / BuildVxlanFrame with the addresses the tests use.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "wire/frame_builder.h"

namespace mflow::testing {

// 2001:db8::<last>
inline wire::IpAddr V6(uint8_t last) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return wire::IpAddr::V6(b);
}

// Inner specs: the InnerSpec defaults (198.18.1.1 -> 198.18.1.2, TCP
// 40000 -> 5201) with the protocol / family switched.
inline wire::InnerSpec Tcp4(uint16_t sport = 40000) {
  wire::InnerSpec s;
  s.sport = sport;
  return s;
}
inline wire::InnerSpec Udp4() {
  wire::InnerSpec s;
  s.l4_proto = 17;
  return s;
}
// ICMP (no L4 header built: the payload follows the IPv4 header).
inline wire::InnerSpec Icmp4() {
  wire::InnerSpec s;
  s.l4_proto = 1;
  return s;
}
// IPv6 2001:db8::<src_last> -> 2001:db8::<dst_last>.
inline wire::InnerSpec Tcp6(uint8_t src_last = 0x11, uint8_t dst_last = 0x12) {
  wire::InnerSpec s;
  s.src_ip = V6(src_last);
  s.dst_ip = V6(dst_last);
  return s;
}
inline wire::InnerSpec Udp6(uint8_t src_last = 0x11, uint8_t dst_last = 0x12) {
  wire::InnerSpec s = Tcp6(src_last, dst_last);
  s.l4_proto = 17;
  return s;
}
inline wire::InnerSpec Vlan(wire::InnerSpec s, uint16_t vid = 100) {
  s.vlan = vid;
  return s;
}
// Outer IPv6 underlay 2001:db8::<src_last> -> 2001:db8::<dst_last>.
inline wire::OuterSpec Outer6(uint8_t src_last = 1, uint8_t dst_last = 2) {
  wire::OuterSpec o;
  o.src_ip = V6(src_last);
  o.dst_ip = V6(dst_last);
  return o;
}

// n payload bytes of a stream starting at stream position `start`:
// byte i is ((start + i) * 7) % 251.
inline std::vector<uint8_t> StreamPayload(uint32_t n, uint32_t start = 0) {
  std::vector<uint8_t> p(n);
  for (uint32_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(((start + i) * 7) % 251);
  return p;
}

// BuildInnerFrame into a buffer of `capacity` bytes; empty if it does not fit.
inline std::vector<uint8_t> BuildInner(const wire::InnerSpec& spec,
                                       std::span<const uint8_t> payload,
                                       uint32_t capacity = 70000) {
  std::vector<uint8_t> out(capacity);
  out.resize(wire::BuildInnerFrame(spec, payload, out.data(), capacity));
  return out;
}

// BuildVxlanFrame around `inner`; empty if it does not fit in
// inner.size() + 128 bytes.
inline std::vector<uint8_t> BuildVxlan(std::span<const uint8_t> inner,
                                       const wire::OuterSpec& outer = wire::OuterSpec{}) {
  std::vector<uint8_t> out(inner.size() + 128);
  out.resize(wire::BuildVxlanFrame(outer, inner, out.data(), static_cast<uint32_t>(out.size())));
  return out;
}

}  // namespace mflow::testing

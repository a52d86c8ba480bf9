// IPv6 fixed header (RFC 8200).
#pragma once

#include <array>
#include <cstdint>

#include "wire/endian.h"

namespace mflow::wire {

struct Ipv6Header {
  Be32 ver_tc_flow;  // version(4) traffic class(8) flow label(20)
  Be16 payload_length;
  uint8_t next_header;
  uint8_t hop_limit;
  std::array<uint8_t, 16> src;
  std::array<uint8_t, 16> dst;

  uint8_t version() const { return static_cast<uint8_t>(ver_tc_flow.host() >> 28); }
};
static_assert(sizeof(Ipv6Header) == 40 && alignof(Ipv6Header) == 1);

inline constexpr uint8_t kIpv6NextHeaderFragment = 44;

// Whether a next-header value names an IPv6 extension header: the one list
// that every parser here uses to tell "an extension header we do not walk"
// from "an upper-layer protocol that is not the one we want". Callers that
// report fragments on their own test kIpv6NextHeaderFragment first.
//
// The members are the IANA "IPv6 Extension Header Types" registry (RFC 7045
// §4; RFC 8200 §4), with one deliberate exception: ESP (50) is left out.
// The registry lists it, but nothing after an ESP header can be read on the
// path: its length is not stated and its Next Header field sits in the
// encrypted trailer (RFC 4303 §2), so no parser could ever skip it to reach
// TCP or UDP. For every node but the one holding the key, ESP ends the
// readable packet the way an upper-layer protocol does, and treating it as one
// reports it as "not TCP/UDP" in IPv6 exactly as IPv4 (protocol 50) does.
constexpr bool IsIpv6ExtensionHeader(uint8_t next_header) {
  switch (next_header) {
    case 0:    // Hop-by-Hop Options (RFC 8200)
    case 43:   // Routing (RFC 8200)
    case 44:   // Fragment (RFC 8200)
    case 51:   // Authentication Header (RFC 4302): states its length, so skippable
    case 60:   // Destination Options (RFC 8200)
    case 135:  // Mobility (RFC 6275)
    case 139:  // Host Identity Protocol (RFC 7401)
    case 140:  // Shim6 (RFC 5533)
    case 253:  // experimentation and testing (RFC 3692, RFC 4727)
    case 254:  // experimentation and testing (RFC 3692, RFC 4727)
      return true;
    default:
      return false;
  }
}

}  // namespace mflow::wire

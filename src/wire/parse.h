// Header parsing with a length check before every header read.
//
// The parsers never trust a length field they have not checked against the
// bytes present, and report what was wrong as a ParseResult that stages map
// to named drop edges.
#pragma once

#include <cstdint>
#include <string_view>

#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow::wire {

enum class ParseResult : uint8_t {
  kOk = 0,
  kTruncatedEthernet,    // fewer than 14 bytes
  kTruncatedVlan,        // 802.1Q tag cut short
  kNotIp,                // ether type is neither IPv4 nor IPv6 (not an error for L2 forwarding)
  kTruncatedIp,          // fewer bytes than the fixed IP header
  kBadIpVersion,         // version nibble disagrees with the ether type
  kBadIpHeaderLength,    // IPv4 IHL < 5 or beyond the frame
  kBadIpTotalLength,     // IP total/payload length larger than the frame or smaller than the header
  kFragment,             // IPv4 MF/offset set, or IPv6 fragment header
  kIpv6ExtensionHeader,  // IPv6 next header is an extension header we do not walk
  kNotTcpUdp,            // IP protocol other than TCP/UDP (not an error for L2 forwarding)
  kTruncatedL4,          // TCP/UDP header cut short, or TCP data offset < 5 / beyond IP payload
  kBadUdpLength,         // UDP length field disagrees with the IP payload
};
std::string_view ParseResultName(ParseResult r);

// Offsets of the layers of one Ethernet frame, relative to its first byte.
struct FrameLayout {
  uint16_t ether_type = 0;  // after an optional 802.1Q tag
  uint16_t l3_off = 0;      // IP header
  uint16_t l4_off = 0;      // TCP/UDP header
  uint16_t l4_hdr_len = 0;  // 8 for UDP, data offset for TCP
  uint32_t l3_end = 0;      // l3_off + IP total length (<= frame length; Ethernet padding beyond)
  uint8_t l4_proto = 0;
  bool ipv6 = false;
  uint32_t payload_off() const { return uint32_t{l4_off} + l4_hdr_len; }
  uint32_t payload_len() const { return l3_end - payload_off(); }
};

// Parses Ethernet [+802.1Q] + IPv4/IPv6 + TCP/UDP at p[0..len).
// On kNotIp / kNotTcpUdp the layout holds what was parsed so far (ether_type,
// l3_off...). IPv4 options are skipped (IHL > 5); IPv6 extension headers are
// reported, not walked.
ParseResult ParseFrame(const uint8_t* p, uint32_t len, FrameLayout* out);

// The inner flow of a frame, the unit of steering and ordering.
struct FlowKey {
  uint8_t src[16] = {};
  uint8_t dst[16] = {};
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t proto = 0;
  uint8_t family = 0;  // 4, 6, or 0 for non-IP frames (keyed by MACs)
  uint32_t vni = 0;
  bool operator==(const FlowKey&) const = default;
};
// A well-mixed 32-bit hash of the key (never 0, so 0 can mean "unset").
uint32_t FlowHash(const FlowKey& k);

// The split point's classifier: looks through outer Ethernet/IP/UDP/VXLAN to
// the inner frame's flow. Returns false (key untouched) when the outer
// headers do not parse as VXLAN; a non-IP inner frame keys on its MACs.
bool ClassifyVxlan(const uint8_t* p, uint32_t len, FlowKey* key);
// The cheaper split-point classifier for VXLAN: keys on the outer flow
// (outer addresses, outer UDP source port, VNI) without reading the inner
// frame. RFC 7348 §5 has senders derive the outer source port from the inner
// flow, so this separates inner flows exactly as a NIC's RSS does; inner
// flows that share a source port are kept in order together (never wrong,
// only less parallel). Returns false when the outer headers are not VXLAN.
bool ClassifyVxlanOuter(const uint8_t* p, uint32_t len, FlowKey* key);
// The same for a plain Ethernet frame from a container, in VNI vni.
bool ClassifyInner(const uint8_t* p, uint32_t len, uint32_t vni, FlowKey* key);

}  // namespace mflow::wire

// UDP header (RFC 768).
#pragma once

#include "wire/endian.h"

namespace mflow::wire {

struct UdpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be16 length;  // header + payload
  Be16 checksum;  // 0 = none (IPv4 only, RFC 768; RFC 7348 allows it for VXLAN)
};
static_assert(sizeof(UdpHeader) == 8 && alignof(UdpHeader) == 1);

}  // namespace mflow::wire

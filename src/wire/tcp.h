// TCP header (RFC 9293).
#pragma once

#include <cstdint>

#include "wire/endian.h"

namespace mflow::wire {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;
inline constexpr uint8_t kTcpEce = 0x40;
inline constexpr uint8_t kTcpCwr = 0x80;

struct TcpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be32 seq;
  Be32 ack;
  uint8_t data_off;  // data offset(4) reserved(4), offset in 32-bit words
  uint8_t flags;
  Be16 window;
  Be16 checksum;
  Be16 urgent;

  uint32_t header_len() const { return (uint32_t{data_off} >> 4) * 4; }
};
static_assert(sizeof(TcpHeader) == 20 && alignof(TcpHeader) == 1);

}  // namespace mflow::wire

// Internet checksum (RFC 1071) and incremental update (RFC 1624).
//
// Sums are computed over memory in its byte order; by RFC 1071 §2(B) the
// one's complement sum is byte-order independent, so a folded sum can be
// stored into a header field as raw bytes (Be16::FromRaw) without swapping.
// Partial sums are 32-bit accumulators, not folded, so that pieces of a frame
// (pseudo-header, header, scatter/gather fragments) can be added up.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wire/endian.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

namespace mflow::wire {

// Adds data[0..len) to sum. An odd trailing byte is padded with zero, so only
// the last piece of a multi-piece sum may have odd length (use ChecksumSg for
// pieces of any length).
uint32_t ChecksumPartial(const void* data, size_t len, uint32_t sum = 0);
// The same sum without vector instructions: what ChecksumPartial runs on a
// CPU without AVX2 and for short pieces (exposed so tests cover both paths).
uint32_t ChecksumPartialScalar(const void* data, size_t len, uint32_t sum = 0);
// Folds a 32-bit accumulator to 16 bits (no complement).
uint16_t ChecksumFold(uint32_t sum);
// The value to store in a checksum field: ~fold(sum), as raw memory bytes.
inline uint16_t ChecksumFinish(uint32_t sum) { return static_cast<uint16_t>(~ChecksumFold(sum)); }

// Sums pieces of any length as one byte stream (odd boundaries handled).
struct ChecksumPiece {
  const uint8_t* data;
  size_t len;
};
uint32_t ChecksumSg(const ChecksumPiece* pieces, size_t n, uint32_t sum = 0);

// IPv4 header checksum over header_len bytes (the checksum field included:
// verification) or with the field zeroed (computation).
uint16_t ComputeIpv4Checksum(const Ipv4Header* h);  // ignores the current field value
bool VerifyIpv4Checksum(const Ipv4Header* h);       // precondition: header_len bytes readable

// Pseudo-header sums (RFC 768 / RFC 8200 §8.1) for TCP/UDP checksums.
uint32_t PseudoHeaderSumV4(const Ipv4Header* h, uint8_t proto, uint32_t l4_len);
uint32_t PseudoHeaderSumV6(const Ipv6Header* h, uint8_t proto, uint32_t l4_len);

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from
// old_word to new_word (both raw memory order, like the checksum).
uint16_t ChecksumUpdate16(uint16_t old_csum, uint16_t old_word, uint16_t new_word);
uint16_t ChecksumUpdate32(uint16_t old_csum, uint32_t old_word, uint32_t new_word);

// Naive reference implementations (byte at a time), for tests only.
// Returns the finished checksum in raw memory order, i.e. it equals
// ChecksumFinish(ChecksumPartial(data, len)).
uint16_t ReferenceChecksum(const uint8_t* data, size_t len);

}  // namespace mflow::wire

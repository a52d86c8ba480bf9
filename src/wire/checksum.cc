#include "wire/checksum.h"

#include <immintrin.h>

#include <cstring>

namespace mflow::wire {
namespace {

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // compiles to one unaligned load; no alignment UB
  return v;
}

// 64 -> 32 bits with end-around carry. 2^32 = 1 (mod 0xffff), so this keeps
// the one's complement sum of the 16-bit words unchanged.
inline uint32_t Fold64(uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  return static_cast<uint32_t>(s);
}

// a += b with the carry-out added back in (one's complement add, 64 bits).
inline uint64_t Add64(uint64_t a, uint64_t b) {
  uint64_t r;
  const bool carry = __builtin_add_overflow(a, b, &r);
  return r + static_cast<uint64_t>(carry);  // cannot carry again: r <= 2^64-2 when carry
}

inline uint16_t Swap16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

// AVX2: each 64-bit word splits into its two 32-bit halves, which are added
// into 64-bit lanes (2^32 = 1 mod 0xffff, so the halves' sum keeps the one's
// complement sum of the words). A lane cannot overflow: it gains < 2^33 per
// 64-byte block, so it is safe up to 2^31 blocks (a frame is at most 64 KiB).
// Shifts, ands and adds run on three ports, where the scalar loop's add/carry
// chains run at 16 bytes a cycle.
__attribute__((target("avx2"))) uint64_t SumBlocksAvx2(const uint8_t* p, size_t blocks) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
  __m256i a0 = _mm256_setzero_si256();
  __m256i a1 = _mm256_setzero_si256();
  __m256i a2 = _mm256_setzero_si256();
  __m256i a3 = _mm256_setzero_si256();
  for (size_t i = 0; i < blocks; ++i, p += 64) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    a0 = _mm256_add_epi64(a0, _mm256_and_si256(x, lo32));
    a1 = _mm256_add_epi64(a1, _mm256_srli_epi64(x, 32));
    a2 = _mm256_add_epi64(a2, _mm256_and_si256(y, lo32));
    a3 = _mm256_add_epi64(a3, _mm256_srli_epi64(y, 32));
  }
  // Each lane holds < 2^33 * blocks: two lanes add without overflow too.
  const __m256i s4 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
  return Add64(static_cast<uint64_t>(_mm_cvtsi128_si64(s2)),
               static_cast<uint64_t>(_mm_extract_epi64(s2, 1)));
}

using SumBlocksFn = uint64_t (*)(const uint8_t*, size_t);

// Chosen once, at load: the CPU cannot change under a running process.
// (__builtin_cpu_init first: this initializer may run before libgcc's.)
const SumBlocksFn kSumBlocks = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? SumBlocksAvx2 : nullptr;
}();

// Below this many bytes the vector setup and lane fold cost more than they
// save (checksum_bench: scalar wins at 256 B, AVX2 at 512 B and above).
constexpr size_t kVectorMin = 512;

}  // namespace

namespace {

// The portable sum (below kVectorMin, and on CPUs without AVX2).
inline uint32_t SumScalar(const void* data, size_t len, uint32_t sum) {
  const auto* p = static_cast<const uint8_t*>(data);
  // Two independent add/carry chains so the adds of neighbouring words do not
  // wait on each other's carry; each chain carries its overflow into a
  // separate counter that cannot overflow (it grows by at most 1 per word).
  uint64_t a0 = sum;
  uint64_t a1 = 0;
  uint64_t c0 = 0;
  uint64_t c1 = 0;
  while (len >= 64) {
    uint64_t w;
    w = Load64(p + 0);  c0 += __builtin_add_overflow(a0, w, &a0);
    w = Load64(p + 8);  c1 += __builtin_add_overflow(a1, w, &a1);
    w = Load64(p + 16); c0 += __builtin_add_overflow(a0, w, &a0);
    w = Load64(p + 24); c1 += __builtin_add_overflow(a1, w, &a1);
    w = Load64(p + 32); c0 += __builtin_add_overflow(a0, w, &a0);
    w = Load64(p + 40); c1 += __builtin_add_overflow(a1, w, &a1);
    w = Load64(p + 48); c0 += __builtin_add_overflow(a0, w, &a0);
    w = Load64(p + 56); c1 += __builtin_add_overflow(a1, w, &a1);
    p += 64;
    len -= 64;
  }
  while (len >= 8) {
    c0 += __builtin_add_overflow(a0, Load64(p), &a0);
    p += 8;
    len -= 8;
  }
  // The tail (< 8 bytes) starts at an even offset, so each piece below keeps
  // its bytes in their 16-bit word positions; a lone last byte is padded
  // with zero in memory order (the RFC 1071 odd-byte rule). Fixed-size
  // memcpys compile to single loads, unlike one memcpy of variable length.
  uint64_t tail = 0;
  if (len & 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    tail += w;
    p += 4;
  }
  if (len & 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    tail += w;
    p += 2;
  }
  if (len & 1) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);
    tail += w;
  }
  c0 += __builtin_add_overflow(a0, tail, &a0);
  // A carry out of bit 63 is worth 2^64 = 1 (mod 0xffff): add the counts back.
  uint64_t s = Add64(a0, a1);
  s = Add64(s, c0);
  s = Add64(s, c1);
  return Fold64(s);
}

}  // namespace

uint32_t ChecksumPartialScalar(const void* data, size_t len, uint32_t sum) {
  return SumScalar(data, len, sum);
}

uint32_t ChecksumPartial(const void* data, size_t len, uint32_t sum) {
  if (len >= kVectorMin && kSumBlocks != nullptr) {
    const size_t blocks = len / 64;
    const uint64_t s = Add64(kSumBlocks(static_cast<const uint8_t*>(data), blocks), sum);
    // The blocks end at an even offset, so the tail continues the same words.
    return SumScalar(static_cast<const uint8_t*>(data) + blocks * 64, len - blocks * 64, Fold64(s));
  }
  return SumScalar(data, len, sum);
}

uint16_t ChecksumFold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint32_t ChecksumSg(const ChecksumPiece* pieces, size_t n, uint32_t sum) {
  uint64_t acc = sum;
  bool odd = false;  // total length so far is odd
  for (size_t i = 0; i < n; ++i) {
    const uint16_t s = ChecksumFold(ChecksumPartial(pieces[i].data, pieces[i].len));
    // A piece that starts at an odd offset has its bytes in the other half
    // of every 16-bit word; RFC 1071 §2(B): swap the bytes of its sum.
    acc += odd ? Swap16(s) : s;
    odd ^= (pieces[i].len & 1) != 0;
  }
  return Fold64(acc);
}

uint16_t ComputeIpv4Checksum(const Ipv4Header* h) {
  const auto* p = reinterpret_cast<const uint8_t*>(h);
  const uint32_t hl = h->header_len() < 20 ? 20 : h->header_len();  // IHL < 5: fixed part only
  // Skip the checksum field (bytes 10..11) instead of zeroing it: h is const.
  uint32_t sum = ChecksumPartial(p, 10);
  sum = ChecksumPartial(p + 12, hl - 12, sum);
  return ChecksumFinish(sum);
}

bool VerifyIpv4Checksum(const Ipv4Header* h) {
  const uint32_t hl = h->header_len();
  if (hl < sizeof(Ipv4Header)) return false;
  return ChecksumFold(ChecksumPartial(h, hl)) == 0xffff;
}

namespace {

uint32_t PseudoTail(uint8_t proto, uint32_t l4_len) {
  // The words {0, proto} and the length, as raw memory-order 16-bit words.
  // IPv4 has a 16-bit length; its high word is zero, so one formula fits both.
  return uint32_t{Be16::FromHost(proto).raw()} +
         Be16::FromHost(static_cast<uint16_t>(l4_len >> 16)).raw() +
         Be16::FromHost(static_cast<uint16_t>(l4_len)).raw();
}

}  // namespace

uint32_t PseudoHeaderSumV4(const Ipv4Header* h, uint8_t proto, uint32_t l4_len) {
  // src and dst are adjacent (bytes 12..19 of the header).
  const auto* p = reinterpret_cast<const uint8_t*>(h);
  return Fold64(Add64(Load64(p + 12), PseudoTail(proto, l4_len)));
}

uint32_t PseudoHeaderSumV6(const Ipv6Header* h, uint8_t proto, uint32_t l4_len) {
  return ChecksumPartial(h->src.data(), 32, PseudoTail(proto, l4_len));
}

uint16_t ChecksumUpdate16(uint16_t old_csum, uint16_t old_word, uint16_t new_word) {
  const uint32_t s = uint32_t{static_cast<uint16_t>(~old_csum)} + static_cast<uint16_t>(~old_word) +
                     new_word;
  return ChecksumFinish(s);
}

uint16_t ChecksumUpdate32(uint16_t old_csum, uint32_t old_word, uint32_t new_word) {
  // A 32-bit field is two 16-bit words; ~m of each half.
  const uint32_t not_old = ~old_word;
  const uint32_t s = uint32_t{static_cast<uint16_t>(~old_csum)} + (not_old & 0xffff) +
                     (not_old >> 16) + (new_word & 0xffff) + (new_word >> 16);
  return ChecksumFinish(s);
}

uint16_t ReferenceChecksum(const uint8_t* data, size_t len) {
  // Straight from RFC 1071: big-endian 16-bit words, end-around carry on
  // every add. The result is converted to raw memory order at the end so it
  // compares with ChecksumFinish(ChecksumPartial(...)) on any host.
  uint32_t sum = 0;
  for (size_t i = 0; i < len; i += 2) {
    const uint32_t hi = data[i];
    const uint32_t lo = i + 1 < len ? data[i + 1] : 0;
    sum += (hi << 8) | lo;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  const uint16_t csum = static_cast<uint16_t>(~sum);
  return Be16::FromHost(csum).raw();
}

}  // namespace mflow::wire

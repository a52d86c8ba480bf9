#include "frame_fixup.h"

#include "input_format.h"

// libFuzzer's own mutation (the targets link -fsanitize=fuzzer).
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace mflow::fuzz {
namespace {

uint32_t Get16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
void Put16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// RFC 1071 over big-endian 16-bit words, an odd last byte padded with zero.
uint32_t Sum(const uint8_t* p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += Get16(p + i);
  if (n % 2 != 0) s += uint32_t{p[n - 1]} << 8;
  return s;
}
uint16_t Finish(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s & 0xffff);
}

struct L3 {
  size_t l3 = 0;
  size_t l4 = 0;
  size_t end = 0;  // end of the IP datagram
  uint8_t proto = 0;
  bool v6 = false;
};

// The IP header of a frame: optionally made to end with the frame, and its
// IPv4 checksum recomputed. False when there is no sound IP header.
bool FixIp(uint8_t* f, size_t len, uint32_t mask, L3* out) {
  if (len < 14) return false;
  size_t l3 = 14;
  uint32_t type = Get16(f + 12);
  if (type == 0x8100) {
    if (len < 18) return false;
    type = Get16(f + 16);
    l3 = 18;
  }
  out->l3 = l3;
  if (type == 0x0800) {
    if (len < l3 + 20 || (f[l3] >> 4) != 4) return false;
    const size_t ihl = size_t{f[l3] & 0x0fu} * 4;
    if (ihl < 20 || l3 + ihl > len) return false;
    if ((mask & kFixLengths) != 0 && len - l3 <= 65535) Put16(f + l3 + 2, len - l3);
    const size_t total = Get16(f + l3 + 2);
    if (total < ihl || l3 + total > len) return false;
    if ((mask & kFixChecksums) != 0) {
      Put16(f + l3 + 10, 0);
      Put16(f + l3 + 10, Finish(Sum(f + l3, ihl, 0)));
    }
    out->l4 = l3 + ihl;
    out->end = l3 + total;
    out->proto = f[l3 + 9];
    out->v6 = false;
    return true;
  }
  if (type == 0x86DD) {
    if (len < l3 + 40 || (f[l3] >> 4) != 6) return false;
    if ((mask & kFixLengths) != 0 && len - l3 - 40 <= 65535) Put16(f + l3 + 4, len - l3 - 40);
    const size_t plen = Get16(f + l3 + 4);
    if (l3 + 40 + plen > len) return false;
    out->l4 = l3 + 40;
    out->end = l3 + 40 + plen;
    out->proto = f[l3 + 6];
    out->v6 = true;
    return true;
  }
  return false;
}

uint32_t PseudoSum(const uint8_t* f, const L3& ip, size_t l4_len) {
  uint32_t s = ip.v6 ? Sum(f + ip.l3 + 8, 32, 0) : Sum(f + ip.l3 + 12, 8, 0);
  s += ip.proto;
  s += static_cast<uint32_t>(l4_len & 0xffff) + static_cast<uint32_t>(l4_len >> 16);
  return s;
}

// The UDP length and the TCP/UDP checksum (a zero UDP checksum over IPv4,
// "none", stays zero).
void FixL4(uint8_t* f, const L3& ip, uint32_t mask) {
  const size_t l4_len = ip.end - ip.l4;
  uint8_t* l4 = f + ip.l4;
  if (ip.proto == 17) {
    if (l4_len < 8) return;
    if ((mask & kFixLengths) != 0) Put16(l4 + 4, l4_len);
    if ((mask & kFixChecksums) == 0 || (!ip.v6 && Get16(l4 + 6) == 0)) return;
    Put16(l4 + 6, 0);
    uint16_t c = Finish(Sum(l4, l4_len, PseudoSum(f, ip, l4_len)));
    Put16(l4 + 6, c == 0 ? 0xffff : c);
  } else if (ip.proto == 6) {
    if (l4_len < 20 || (mask & kFixChecksums) == 0) return;
    Put16(l4 + 16, 0);
    Put16(l4 + 16, Finish(Sum(l4, l4_len, PseudoSum(f, ip, l4_len))));
  }
}

}  // namespace

uint32_t FixMaskFromSeed(uint32_t seed) {
  if (seed % 4 == 0) return 0;
  constexpr uint32_t kAll = kFixLengths | kFixChecksums | kFixInner;
  constexpr uint32_t kMasks[] = {kAll,
                                 kAll,
                                 kAll,
                                 kFixChecksums | kFixInner,
                                 kFixLengths | kFixChecksums,
                                 kFixChecksums,
                                 kFixLengths | kFixInner};
  return kMasks[(seed >> 2) % (sizeof(kMasks) / sizeof(kMasks[0]))];
}

void FixupInnerFrame(uint8_t* f, size_t len, uint32_t mask) {
  L3 ip;
  if (mask != 0 && FixIp(f, len, mask, &ip)) FixL4(f, ip, mask);
}

void FixupVxlanFrame(uint8_t* f, size_t len, uint32_t mask) {
  L3 ip;
  if (mask == 0 || !FixIp(f, len, mask, &ip) || ip.proto != 17) return;
  // The inner frame follows UDP (8) and VXLAN (8) and ends with the outer
  // datagram; it is fixed first, since the outer UDP checksum covers it.
  const size_t inner = ip.l4 + 16;
  if ((mask & kFixInner) != 0 && inner <= ip.end) FixupInnerFrame(f + inner, ip.end - inner, mask);
  FixL4(f, ip, mask);
}

void FixupRecords(uint8_t* data, size_t size, bool tx, uint32_t seed) {
  const size_t head = 2 + (tx ? kTxMetaLen : 0);
  size_t off = 0;
  for (uint32_t k = 0; off + head <= size; ++k) {
    const size_t len = Get16(data + off);
    off += head;
    const size_t n = len < size - off ? len : size - off;
    const uint32_t mask = FixMaskFromSeed(seed * 2654435761u + k * 40503u);
    if (tx) {
      FixupInnerFrame(data + off, n, mask);
    } else {
      FixupVxlanFrame(data + off, n, mask);
    }
    off += n;
  }
}

size_t MutateAndFixup(uint8_t* data, size_t size, size_t max_size, unsigned int seed,
                      FixupInput input) {
  size = LLVMFuzzerMutate(data, size, max_size);
  switch (input) {
    case FixupInput::kRxFrame:
      FixupVxlanFrame(data, size, FixMaskFromSeed(seed));
      break;
    case FixupInput::kTxFrame:
      if (size > kTxMetaLen)
        FixupInnerFrame(data + kTxMetaLen, size - kTxMetaLen, FixMaskFromSeed(seed));
      break;
    case FixupInput::kRxBatch:
      FixupRecords(data, size, false, seed);
      break;
    case FixupInput::kTxBatch:
      FixupRecords(data, size, true, seed);
      break;
  }
  return size;
}

}  // namespace mflow::fuzz

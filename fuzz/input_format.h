// Input formats of the chain fuzz targets, shared by the targets (which cut
// the fuzzer's bytes into frames) and by make_corpus (which writes seeds).
//
//   rx_chain   the input is one frame
//   rx_batch   records [len:be16][len bytes]...
//   tx_chain   [TxMeta][frame]
//   tx_batch   records [len:be16][TxMeta][len bytes]...
//
// A record cut short by the end of the input takes what is left, so every
// input is valid and mutations of a length field only move the cut.
//
// TxMeta (4 bytes) is the metadata a TAP with IFF_VNET_HDR would deliver:
//   gso_size:be16  TSO segment size (0 = a plain frame)
//   flags          bits 0-1: ingress port (0 = none, 1..3 = port 0..2)
//                  bit 2:    p->vni = 42; bit 3: p->vni = 7 (neither: 0,
//                            the encapsulator's default VNI)
//                  bits 4-6: fragment size class (kFragSizes)
//                  bit 7:    IPv6 underlay (tx_batch: the first record's
//                            bit picks it for the whole batch)
//   split          0: the frame is linear; n: the first n bytes are linear and
//                  the rest is cut into fragments of the chosen size
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mflow::fuzz {

struct TxMeta {
  uint16_t gso_size = 0;
  uint8_t flags = 0;
  uint8_t split = 0;
};
inline constexpr size_t kTxMetaLen = 4;
inline constexpr uint8_t kTxFlagVni42 = 0x04;
inline constexpr uint8_t kTxFlagVni7 = 0x08;
inline constexpr uint8_t kTxFlagV6Underlay = 0x80;
inline constexpr uint32_t kFragSizes[8] = {1448, 1, 7, 13, 100, 1000, 4000, 65535};
inline uint32_t FragSize(uint8_t flags) { return kFragSizes[(flags >> 4) & 7]; }

struct Record {
  std::span<const uint8_t> frame;
  TxMeta meta;
};

inline TxMeta DecodeMeta(const uint8_t* p) {
  TxMeta m;
  m.gso_size = static_cast<uint16_t>((p[0] << 8) | p[1]);
  m.flags = p[2];
  m.split = p[3];
  return m;
}

// Cuts [data, data + size) into at most max_records records; with_meta
// selects the tx layout.
inline std::vector<Record> SplitRecords(const uint8_t* data, size_t size, bool with_meta,
                                        size_t max_records) {
  std::vector<Record> out;
  size_t off = 0;
  const size_t head = 2 + (with_meta ? kTxMetaLen : 0);
  while (off + head <= size && out.size() < max_records) {
    const size_t len = size_t{data[off]} << 8 | data[off + 1];
    Record r;
    if (with_meta) r.meta = DecodeMeta(data + off + 2);
    off += head;
    const size_t n = len < size - off ? len : size - off;
    r.frame = std::span<const uint8_t>(data + off, n);
    off += n;
    out.push_back(r);
  }
  return out;
}

// Seed writers (make_corpus).
inline void AppendMeta(std::vector<uint8_t>& out, const TxMeta& m) {
  out.push_back(static_cast<uint8_t>(m.gso_size >> 8));
  out.push_back(static_cast<uint8_t>(m.gso_size));
  out.push_back(m.flags);
  out.push_back(m.split);
}
inline void AppendRecord(std::vector<uint8_t>& out, std::span<const uint8_t> frame,
                         const TxMeta* meta) {
  out.push_back(static_cast<uint8_t>(frame.size() >> 8));
  out.push_back(static_cast<uint8_t>(frame.size()));
  if (meta != nullptr) AppendMeta(out, *meta);
  out.insert(out.end(), frame.begin(), frame.end());
}

}  // namespace mflow::fuzz

// ESP wire format (RFC 4303) with AES-GCM (RFC 4106), carried in UDP
// (RFC 3948), and the named outcomes of encapsulation and decapsulation.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |        UDP src port (4500)    |      UDP dst port (4500)      |  RFC 3948
//  |        UDP length             |      UDP checksum (0)         |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
//  |               Security Parameters Index (SPI, != 0)           |  ^ AAD
//  |               Sequence Number (low 32 bits)                   |  v
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
//  |               Explicit IV (8 bytes: the 64-bit sequence       |
//  |               number, big-endian)                             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
//  |  protected payload: the VXLAN UDP datagram                    |  ^
//  |  (UDP 4789 header | VXLAN header | inner Ethernet frame)      |  | encrypted
//  +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
//  |               |  Padding 1, 2, 3, ... (0-255 bytes)           |  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
//  |                               |  Pad Length   | Next Hdr (17) |  v
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
//  |               ICV (16 bytes, the GCM tag)                     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Nonce = salt (4 bytes, from the SA) || explicit IV (8 bytes).
// AAD = SPI || seq-lo (8 bytes), or with ESN SPI || seq-hi || seq-lo
// (12 bytes; RFC 4106 section 5): the high half is never on the wire.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "wire/endian.h"

namespace mflow::esp {

inline constexpr uint16_t kEspUdpPort = 4500;  // RFC 3948
inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kNextHeaderUdp = 17;  // the protected payload is a UDP datagram
inline constexpr uint32_t kEspHeaderLen = 8;   // SPI + sequence number
inline constexpr uint32_t kEspIvLen = 8;
inline constexpr uint32_t kEspTrailerLen = 2;  // pad length + next header
inline constexpr uint32_t kEspIcvLen = 16;
// Bytes the encapsulation puts in front of the payload (headroom) and the
// most it adds behind (tailroom): 3 bytes of padding at most, since GCM's
// block size is 1 and the payload is aligned to 4 bytes (RFC 4303 2.4).
inline constexpr uint32_t kEspPrefixLen = kEspHeaderLen + kEspIvLen;
inline constexpr uint32_t kEspMaxSuffixLen = 3 + kEspTrailerLen + kEspIcvLen;
// The smallest ESP packet: header, IV, empty payload with its trailer, ICV.
inline constexpr uint32_t kEspMinLen = kEspPrefixLen + kEspTrailerLen + kEspIcvLen;

struct EspHeader {
  wire::Be32 spi;
  wire::Be32 seq;  // low 32 bits of the sequence number
};
static_assert(sizeof(EspHeader) == kEspHeaderLen && alignof(EspHeader) == 1);

// The per-packet functions return kEspOk or one of the reasons below,
// like a stage's Handle() (kNext = -1), so a stage can pass them through.
inline constexpr int kEspOk = -1;

// Why an inbound packet was dropped. Counter names are "esp_<name>".
enum EspDrop : uint32_t {
  kEspNatKeepalive,   // the 1-byte 0xff NAT-keepalive (RFC 3948 2.3): nothing to deliver
  kEspNonEspMarker,   // SPI 0: an IKE packet on port 4500 (RFC 3948 2.2); we speak no IKE
  kEspTruncated,      // shorter than header + IV + trailer + ICV
  kEspNotLinear,      // received packet with fragments (receive paths give linear ones)
  kEspUnknownSpi,     // no inbound SA with this SPI (an ESP stranger)
  kEspLeftOfWindow,   // older than the replay window (or sequence number 0)
  kEspReplayed,       // inside the window, already received
  kEspBadIcv,         // the GCM tag does not verify: tampered, wrong key, or wrong seq-hi
  kEspBadPadLength,   // pad length larger than the decrypted payload
  kEspBadPadding,     // padding bytes not 1, 2, 3, ... (RFC 4303 2.4)
  kEspBadNextHeader,  // not UDP (17): not the VXLAN datagram we protect
  kEspCipherError,    // OpenSSL refused a call (not expected)
  kEspDropCount
};
inline constexpr std::array<std::string_view, kEspDropCount> kEspDropNames = {
    "nat_keepalive", "non_esp_marker", "truncated",  "not_linear",     "unknown_spi",
    "left_of_window", "replayed",      "bad_icv",    "bad_pad_length", "bad_padding",
    "bad_next_header", "cipher_error"};

// Why an outbound packet could not be encapsulated.
enum EspEncapDrop : uint32_t {
  kEspNoHeadroom,    // less than kEspPrefixLen (+8 for UDP) bytes in front of data
  kEspNoTailroom,    // no room behind the frame for padding, trailer, ICV (and fragments)
  kEspSeqExhausted,  // seq 0, or above 2^32 - 1 without ESN: the SA must be rekeyed (RFC 4303 3.3.3)
  kEspTrain,         // a TSO carrier: encapsulate its segments, each its own ESP packet
  kEspTooBig,        // payload longer than an IP datagram can carry
  kEspEncapCipherError,
  kEspEncapDropCount
};
inline constexpr std::array<std::string_view, kEspEncapDropCount> kEspEncapDropNames = {
    "no_headroom", "no_tailroom", "seq_exhausted", "train", "too_big", "cipher_error"};

}  // namespace mflow::esp

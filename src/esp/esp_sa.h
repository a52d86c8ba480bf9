// EspSa: one ESP security association with AES-GCM (RFC 4106), manually
// keyed the way `ip xfrm state` is: SPI, algorithm, key, salt, ESN.
//
// Text form, one SA, fields in any order separated by spaces:
//   spi=0x00001000 alg=aes-128-gcm key=<32 hex digits> salt=<8 hex digits> esn=on
//   (alg=aes-256-gcm takes 64 hex digits of key; esn defaults to on, as the
//   issue asks; "0x" prefixes are optional; spi may be decimal.)
// The 4-byte salt is RFC 4106's: `ip xfrm` takes it as the last 4 bytes of
// the "rfc4106(gcm(aes))" key; here it has its own field so a typo in one is
// reported as such.
//
// Keys and salts never leave this object as text: ToString() redacts them,
// and the destructor wipes them.
//
// Thread-safety: a plain value; read-only after parsing.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mflow::esp {

enum class EspAlg : uint8_t { kAes128Gcm, kAes256Gcm };

std::string_view EspAlgName(EspAlg a);

struct EspSa {
  uint32_t spi = 0;  // 1..0xffffffff (0 is reserved; 1..255 are IANA's, RFC 4303 2.1)
  EspAlg alg = EspAlg::kAes128Gcm;
  std::array<uint8_t, 32> key{};  // key_len() bytes used
  std::array<uint8_t, 4> salt{};
  bool esn = true;  // 64-bit extended sequence numbers (RFC 4303 2.2.1)

  EspSa() = default;
  EspSa(const EspSa&) = default;
  EspSa& operator=(const EspSa&) = default;
  ~EspSa();

  uint32_t key_len() const { return alg == EspAlg::kAes128Gcm ? 16 : 32; }
  std::span<const uint8_t> key_bytes() const { return {key.data(), key_len()}; }

  // From the text form above; errors name the field ("esp sa: key: ...").
  static StatusOr<EspSa> Parse(std::string_view text);
  // From separate fields (e.g. a TOML table): alg "aes-128-gcm" or
  // "aes-256-gcm", key and salt in hex.
  static StatusOr<EspSa> FromFields(uint64_t spi, std::string_view alg, std::string_view key_hex,
                                    std::string_view salt_hex, bool esn);

  // "spi=0x00001000 alg=aes-128-gcm key=<redacted> salt=<redacted> esn=on".
  std::string ToString() const;
};

// An SPI as logs and errors show it: "0x00001000".
std::string SpiText(uint32_t spi);

}  // namespace mflow::esp

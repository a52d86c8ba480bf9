#include "esp/esp_sa.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <optional>

#include "common/hex.h"

namespace mflow::esp {
namespace {

std::string_view StripHexPrefix(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  return s;
}

// Decodes exactly out.size() bytes of hex; the message never echoes the
// input, since it is key material.
Status DecodeHex(std::string_view field, std::string_view hex, std::span<uint8_t> out) {
  hex = StripHexPrefix(hex);
  if (hex.size() != 2 * out.size()) {
    return Status::Error(StatusCode::kInvalid,
                         std::string(field) + ": must be " + std::to_string(2 * out.size()) +
                             " hex digits (" + std::to_string(out.size()) + " bytes), got " +
                             std::to_string(hex.size()) + " characters");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::Error(StatusCode::kInvalid, std::string(field) +
                                                     ": not a hex digit at position " +
                                                     std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return Status::Ok();
}

std::optional<uint64_t> ParseNumber(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    const int d = HexDigit(c);
    if (d < 0 || d >= base) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

std::string_view EspAlgName(EspAlg a) {
  return a == EspAlg::kAes128Gcm ? "aes-128-gcm" : "aes-256-gcm";
}

EspSa::~EspSa() {
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(salt.data(), salt.size());
}

StatusOr<EspSa> EspSa::FromFields(uint64_t spi, std::string_view alg, std::string_view key_hex,
                                  std::string_view salt_hex, bool esn) {
  EspSa sa;
  if (spi == 0 || spi > 0xffffffffu) {
    return Status::Error(StatusCode::kInvalid,
                         "esp sa: spi: must be 1..0xffffffff (0 is reserved), got " +
                             std::to_string(spi));
  }
  sa.spi = static_cast<uint32_t>(spi);
  if (alg == "aes-128-gcm") {
    sa.alg = EspAlg::kAes128Gcm;
  } else if (alg == "aes-256-gcm") {
    sa.alg = EspAlg::kAes256Gcm;
  } else {
    return Status::Error(StatusCode::kInvalid, "esp sa: alg: must be aes-128-gcm or aes-256-gcm, got '" +
                                                   std::string(alg) + "'");
  }
  MFLOW_RETURN_IF_ERROR(DecodeHex("key", key_hex, std::span<uint8_t>(sa.key.data(), sa.key_len()))
                            .Prefixed("esp sa (" + std::string(alg) + "): "));
  MFLOW_RETURN_IF_ERROR(DecodeHex("salt", salt_hex, sa.salt).Prefixed("esp sa: "));
  sa.esn = esn;
  return sa;
}

StatusOr<EspSa> EspSa::Parse(std::string_view text) {
  std::optional<uint64_t> spi;
  std::string alg = "aes-128-gcm";
  std::string key, salt;
  bool have_key = false, have_salt = false, esn = true;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    size_t end = text.find_first_of(" \t", i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view tok = text.substr(i, end - i);
    i = end;
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos) {
      return Status::Error(StatusCode::kInvalid,
                           "esp sa: expected field=value, got '" + std::string(tok.substr(0, 16)) + "'");
    }
    const std::string_view name = tok.substr(0, eq);
    const std::string_view value = tok.substr(eq + 1);
    if (name == "spi") {
      spi = ParseNumber(value);
      if (!spi) {
        return Status::Error(StatusCode::kInvalid,
                             "esp sa: spi: not a number: '" + std::string(value) + "'");
      }
    } else if (name == "alg") {
      alg = std::string(value);
    } else if (name == "key") {
      key = std::string(value);
      have_key = true;
    } else if (name == "salt") {
      salt = std::string(value);
      have_salt = true;
    } else if (name == "esn") {
      if (value == "on") {
        esn = true;
      } else if (value == "off") {
        esn = false;
      } else {
        return Status::Error(StatusCode::kInvalid,
                             "esp sa: esn: must be on or off, got '" + std::string(value) + "'");
      }
    } else {
      return Status::Error(StatusCode::kInvalid, "esp sa: unknown field '" + std::string(name) +
                                                     "' (spi, alg, key, salt, esn)");
    }
  }
  if (!spi) return Status::Error(StatusCode::kInvalid, "esp sa: spi: missing");
  if (!have_key) return Status::Error(StatusCode::kInvalid, "esp sa: key: missing");
  if (!have_salt) return Status::Error(StatusCode::kInvalid, "esp sa: salt: missing");
  StatusOr<EspSa> sa = FromFields(*spi, alg, key, salt, esn);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(salt.data(), salt.size());
  return sa;
}

std::string SpiText(uint32_t spi) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", spi);
  return b;
}

std::string EspSa::ToString() const {
  return "spi=" + SpiText(spi) + " alg=" + std::string(EspAlgName(alg)) +
         " key=<redacted> salt=<redacted> esn=" + (esn ? "on" : "off");
}

}  // namespace mflow::esp

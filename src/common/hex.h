// HexDigit: the value of one hexadecimal digit, for the parsers of MAC
// addresses and key material (either case; -1 for anything else).
//
// Thread-safety: a pure function.
#pragma once

namespace mflow {

constexpr int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace mflow

// Big-endian wire integers.
//
// Wire structs hold Be16/Be32 fields, never raw integers, so that a host-order
// value cannot be stored into a packet by accident. They are trivially
// copyable, alignment 1, and read with memcpy so that a header at any offset
// of a buffer is safe to use (no unaligned-access UB).
#pragma once

#include <cstdint>
#include <cstring>

namespace mflow::wire {

class Be16 {
 public:
  constexpr Be16() = default;
  static Be16 FromHost(uint16_t v) {
    Be16 b;
    b.raw_[0] = static_cast<uint8_t>(v >> 8);
    b.raw_[1] = static_cast<uint8_t>(v);
    return b;
  }
  uint16_t host() const { return static_cast<uint16_t>((raw_[0] << 8) | raw_[1]); }
  // The two bytes as they sit in memory, for checksum arithmetic.
  uint16_t raw() const {
    uint16_t r;
    std::memcpy(&r, raw_, 2);
    return r;
  }
  static Be16 FromRaw(uint16_t r) {
    Be16 b;
    std::memcpy(b.raw_, &r, 2);
    return b;
  }
  void set(uint16_t v) { *this = FromHost(v); }
  bool operator==(const Be16&) const = default;

 private:
  uint8_t raw_[2] = {0, 0};
};

class Be32 {
 public:
  constexpr Be32() = default;
  static Be32 FromHost(uint32_t v) {
    Be32 b;
    b.raw_[0] = static_cast<uint8_t>(v >> 24);
    b.raw_[1] = static_cast<uint8_t>(v >> 16);
    b.raw_[2] = static_cast<uint8_t>(v >> 8);
    b.raw_[3] = static_cast<uint8_t>(v);
    return b;
  }
  uint32_t host() const {
    return (uint32_t{raw_[0]} << 24) | (uint32_t{raw_[1]} << 16) | (uint32_t{raw_[2]} << 8) |
           uint32_t{raw_[3]};
  }
  void set(uint32_t v) { *this = FromHost(v); }
  bool operator==(const Be32&) const = default;

 private:
  uint8_t raw_[4] = {0, 0, 0, 0};
};

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);

}  // namespace mflow::wire

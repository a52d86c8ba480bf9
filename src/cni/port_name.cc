#include "cni/port_name.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace mflow::cni {
namespace {

constexpr size_t kMaxName = 128;

bool Allowed(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

bool AllAllowed(const std::string& s) {
  for (char c : s)
    if (!Allowed(c)) return false;
  return true;
}

uint64_t Fnv1a64(const std::string& s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

std::string PortName(const std::string& container_id, const std::string& ifname) {
  std::string plain = "cni:" + container_id + ":" + ifname;
  if (plain.size() <= kMaxName && AllAllowed(container_id) && AllAllowed(ifname)) return plain;

  std::string id;
  for (char c : container_id.substr(0, 90)) id.push_back(Allowed(c) ? c : '_');
  std::string key = container_id;
  key.push_back('\0');
  key += ifname;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a64(key)));
  return "cni:" + id + ":" + hex;
}

}  // namespace mflow::cni

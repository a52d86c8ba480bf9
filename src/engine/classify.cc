#include "engine/classify.h"

#include <cstring>

#include "wire/ipv4.h"
#include "wire/vxlan.h"

namespace mflow {

namespace {

// UDP is keyed on addresses only, as NICs hash UDP for RSS by default: the
// fragments of a datagram carry no ports, so with ports in the key a
// fragmented datagram and its unfragmented neighbours would be different
// flows and could pass each other.
bool UdpOnAddresses(bool ok, wire::FlowKey* key) {
  if (ok && key->proto == wire::kIpProtoUdp) key->sport = key->dport = 0;
  return ok;
}

}  // namespace

bool ClassifyRx(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyVxlanOuter(p->data, p->len, key);
}

bool ClassifyRxInner(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyVxlan(p->data, p->len, key);
}

bool ClassifyRxSocket(const Packet* p, wire::FlowKey* key) {
  if (p->len < sizeof(wire::VxlanHeader)) return false;
  wire::VxlanHeader vx;
  std::memcpy(&vx, p->data, sizeof(vx));
  return UdpOnAddresses(wire::ClassifyInner(p->data + sizeof(vx),
                                            p->len - static_cast<uint32_t>(sizeof(vx)), vx.vni(), key),
                        key);
}

namespace {

// The key of an SA: source address, protocol ESP, the SPI in the ports.
void EspKey(const wire::IpAddr& src, const uint8_t* esp_hdr, wire::FlowKey* key) {
  *key = wire::FlowKey{};
  key->family = src.family;
  std::memcpy(key->src, src.bytes, src.is_v6() ? 16 : 4);
  key->proto = 50;  // IPPROTO_ESP
  key->sport = static_cast<uint16_t>(esp_hdr[0] << 8 | esp_hdr[1]);
  key->dport = static_cast<uint16_t>(esp_hdr[2] << 8 | esp_hdr[3]);
}

}  // namespace

bool ClassifyRxEsp(const Packet* p, wire::FlowKey* key) {
  // Plain Ethernet + IPv4 (no options) or IPv6 + UDP to port 4500 + SPI.
  if (p->len >= 14 + 20 + 8 + 4 && p->data[12] == 0x08 && p->data[13] == 0x00 &&
      p->data[14] == 0x45 && p->data[14 + 9] == wire::kIpProtoUdp &&
      p->data[14 + 20 + 2] == 0x11 && p->data[14 + 20 + 3] == 0x94) {
    wire::IpAddr src;
    src.family = 4;
    std::memcpy(src.bytes, p->data + 14 + 12, 4);
    EspKey(src, p->data + 14 + 20 + 8, key);
    return true;
  }
  if (p->len >= 14 + 40 + 8 + 4 && p->data[12] == 0x86 && p->data[13] == 0xdd &&
      p->data[14 + 6] == wire::kIpProtoUdp && p->data[14 + 40 + 2] == 0x11 &&
      p->data[14 + 40 + 3] == 0x94) {
    wire::IpAddr src;
    src.family = 6;
    std::memcpy(src.bytes, p->data + 14 + 8, 16);
    EspKey(src, p->data + 14 + 40 + 8, key);
    return true;
  }
  return ClassifyRx(p, key);
}

bool ClassifyRxSocketEsp(const Packet* p, wire::FlowKey* key) {
  if ((p->flags & kPktFlagEsp) == 0) return ClassifyRxSocket(p, key);
  if (p->len < 8) return false;
  EspKey(p->remote, p->data, key);
  return true;
}

bool ClassifyTxPort(const Packet* p, wire::FlowKey* key) {
  return UdpOnAddresses(wire::ClassifyInner(p->data, p->len, p->vni, key), key);
}

bool ClassifyTx(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyInner(p->data, p->len, p->vni, key);
}

}  // namespace mflow

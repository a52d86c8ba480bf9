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

bool ClassifyTxPort(const Packet* p, wire::FlowKey* key) {
  return UdpOnAddresses(wire::ClassifyInner(p->data, p->len, p->vni, key), key);
}

bool ClassifyTx(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyInner(p->data, p->len, p->vni, key);
}

}  // namespace mflow

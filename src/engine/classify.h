// The split point's classifiers: which flow a packet belongs to.
//
// A classifier fills *key and returns true, or returns false for a packet it
// cannot classify; such a packet still goes through the stages (in the
// overflow flow), which name its fault on a counted drop edge.
#pragma once

#include "packet/packet.h"
#include "wire/parse.h"

namespace mflow {

using Classifier = bool (*)(const Packet* p, wire::FlowKey* key);

// VXLAN frames (outer headers included): the outer flow, as RSS hashes it.
bool ClassifyRx(const Packet* p, wire::FlowKey* key);
// VXLAN frames: the inner 5-tuple.
bool ClassifyRxInner(const Packet* p, wire::FlowKey* key);
// Ethernet frames from a container.
bool ClassifyTx(const Packet* p, wire::FlowKey* key);
// mflowd's classifiers. VXLAN payloads from a UDP socket (data at the VXLAN
// header; the kernel consumed the outer headers): the inner flow. Frames from
// a container port: the inner flow. Both key UDP on addresses only, so that
// IP fragments stay in their datagrams' flow.
bool ClassifyRxSocket(const Packet* p, wire::FlowKey* key);
bool ClassifyTxPort(const Packet* p, wire::FlowKey* key);
// With encrypted peers (docs/ESP.md): ESP in UDP is keyed on its SA (the
// peer's address and the SPI; the inner flows are ciphertext), so that one
// SA is one flow, released in arrival order, where its replay window is
// updated. Other frames as ClassifyRx / ClassifyRxSocket.
bool ClassifyRxEsp(const Packet* p, wire::FlowKey* key);
bool ClassifyRxSocketEsp(const Packet* p, wire::FlowKey* key);

}  // namespace mflow

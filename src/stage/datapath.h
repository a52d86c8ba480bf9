// The two stage chains of the overlay data path, built from one config.
//
//   rx (underlay -> container): outer_validate, vxlan_decap, fdb_forward,
//                               inner_checksum, tcp_coalesce
//                               (no outer_validate with socket_underlay)
//   tx (container -> underlay): fdb_forward, [neigh_proxy], gso_segment, vxlan_encap
// With an ESP SA table, esp_decrypt comes first on rx and esp_encrypt last
// on tx (docs/ESP.md); neigh_proxy only in store mode (docs/STORE.md).
#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "esp/esp_sa_table.h"
#include "port/flood_limiter.h"
#include "stage/chain.h"
#include "table/fdb.h"
#include "table/remote_subnets.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow {

struct DataPathConfig {
  std::vector<uint32_t> vnis{42};
  std::vector<wire::IpAddr> peers;  // accepted VXLAN sources; empty = any
  wire::IpAddr local_vtep = wire::IpAddr::V4(0xC6120002);  // 198.18.0.2
  wire::MacAddr local_mac{{0x02, 0xaa, 0, 0, 0, 0x02}};
  wire::MacAddr next_hop_mac{{0x02, 0xaa, 0, 0, 0, 0x01}};
  uint32_t inner_mtu = 1450;  // inner IP MTU: underlay MTU - 50 (IPv4 underlay)
  bool coalesce = true;       // rx: software GRO
  // The underlay is a UDP socket: the kernel has checked and removed the
  // outer headers on receive (rx starts at vxlan_decap; the port checks the
  // source against the peers) and writes them on send (tx prepends only
  // the VXLAN header).
  bool socket_underlay = false;
  Fdb* fdb = nullptr;         // required; shared by both directions
  // Encrypted peers: the SAs of both chains' ESP stages (outlives them). The
  // tx path's engine path must number packets from esp->tx_seq()
  // (EnginePath::wire_seq).
  esp::EspSaTable* esp = nullptr;
  // With esp: the container ports' flood budget, which esp_encrypt charges
  // before copying a flood to the encrypted peers (EspEncryptConfig). Not
  // owned; may be null.
  FloodLimiter* flood_limiter = nullptr;
  // Store mode (docs/STORE.md): remote hosts' subnets; the tx chain then
  // derives remote container MACs and answers ARP/ND for them (neigh_proxy
  // after fdb_forward). Not owned; may be null.
  const RemoteSubnets* remote_subnets = nullptr;
};

StatusOr<std::unique_ptr<StageChain>> BuildRxChain(const DataPathConfig& cfg);
StatusOr<std::unique_ptr<StageChain>> BuildTxChain(const DataPathConfig& cfg);

}  // namespace mflow

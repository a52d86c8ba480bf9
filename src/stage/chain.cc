#include "stage/chain.h"

#include "stage/datapath.h"
#include "stage/esp_decrypt.h"
#include "stage/esp_encrypt.h"
#include "stage/fdb_forward.h"
#include "stage/inner_checksum.h"
#include "stage/neigh_proxy.h"
#include "stage/outer_validate.h"
#include "stage/tcp_coalesce.h"
#include "stage/gso_segment.h"
#include "stage/vxlan_decap.h"
#include "stage/vxlan_encap.h"

namespace mflow {
namespace {

// Appends the stage that create() made, or returns its error.
template <typename T>
Status Append(StageChain& chain, StatusOr<std::unique_ptr<T>> made) {
  if (!made.ok()) return made.status();
  chain.Add(std::move(made).value());
  return Status::Ok();
}

Status CheckCommon(const DataPathConfig& cfg) {
  if (cfg.fdb == nullptr) return Status::Error("datapath: a forwarding table (fdb) is required");
  if (cfg.vnis.empty()) return Status::Error("datapath: at least one VNI is required");
  if (cfg.inner_mtu < 68 || cfg.inner_mtu > 9000)
    return Status::Error("datapath: inner MTU must be 68..9000, got " + std::to_string(cfg.inner_mtu));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<StageChain>> BuildRxChain(const DataPathConfig& cfg) {
  if (Status s = CheckCommon(cfg); !s.ok()) return s;
  auto chain = std::make_unique<StageChain>();
  if (cfg.esp != nullptr) {
    EspDecryptConfig ed;
    ed.table = cfg.esp;
    ed.vxlan_only = cfg.socket_underlay;
    if (Status s = Append(*chain, EspDecrypt::Create(ed)); !s.ok()) return s;
  }
  OuterValidateConfig ov;
  ov.peers = cfg.peers;
  VxlanDecapConfig vd;
  vd.vnis = cfg.vnis;
  vd.max_inner_frame = cfg.inner_mtu + 14 + 4;
  FdbForwardConfig ff;
  ff.fdb = cfg.fdb;
  ff.direction = FdbDirection::kRx;
  if (!cfg.socket_underlay)
    if (Status s = Append(*chain, OuterValidate::Create(ov)); !s.ok()) return s;
  for (Status s : {Append(*chain, VxlanDecap::Create(vd)),
                   Append(*chain, FdbForward::Create(ff)),
                   Append(*chain, InnerChecksum::Create(InnerChecksumConfig{}))})
    if (!s.ok()) return s;
  if (cfg.coalesce)
    if (Status s = Append(*chain, TcpCoalesce::Create(TcpCoalesceConfig{})); !s.ok()) return s;
  return chain;
}

StatusOr<std::unique_ptr<StageChain>> BuildTxChain(const DataPathConfig& cfg) {
  if (Status s = CheckCommon(cfg); !s.ok()) return s;
  auto chain = std::make_unique<StageChain>();
  FdbForwardConfig ff;
  ff.fdb = cfg.fdb;
  ff.direction = FdbDirection::kTx;
  ff.remote_subnets = cfg.remote_subnets;
  GsoSegmentConfig ts;
  ts.mtu = cfg.inner_mtu;
  VxlanEncapConfig ve;
  ve.local_ip = cfg.local_vtep;
  ve.src_mac = cfg.local_mac;
  ve.dst_mac = cfg.next_hop_mac;
  ve.vni = cfg.vnis.front();
  ve.inner_mtu = cfg.inner_mtu;
  ve.vxlan_only = cfg.socket_underlay;
  if (Status s = Append(*chain, FdbForward::Create(ff)); !s.ok()) return s;
  if (cfg.remote_subnets != nullptr)
    if (Status s = Append(*chain, NeighProxy::Create({cfg.remote_subnets})); !s.ok()) return s;
  for (Status s : {Append(*chain, GsoSegment::Create(ts)), Append(*chain, VxlanEncap::Create(ve))})
    if (!s.ok()) return s;
  if (cfg.esp != nullptr) {
    EspEncryptConfig ee;
    ee.table = cfg.esp;
    ee.vxlan_only = cfg.socket_underlay;
    ee.local_ip = cfg.local_vtep;
    ee.flood_limiter = cfg.flood_limiter;
    if (Status s = Append(*chain, EspEncrypt::Create(ee)); !s.ok()) return s;
  }
  return chain;
}

}  // namespace mflow

// Chain harnesses: run the whole rx or tx stage chain over fuzzer-made frames
// and check, after every input, what the stages promise.
//
// Set up once per process (pools, Fdb, chain); per input the Fdb is flushed
// and its fixed entries learned again, so every input runs against the same
// state and a saved crash input reproduces on its own.
//
// Checked for every input (a failure aborts, see fuzz_check.h):
//   - per stage, the StageCounters against the batch (exact for every stage,
//     see RunChecked in chain_harness.cc for what "exact" means for GRO/TSO),
//     and no drop counted outside the stage's named reasons;
//   - end to end: every input packet is in exactly one drop counter or
//     delivered (a GRO super-frame delivers its head and its chain);
//   - once the survivors are freed, the pools have every packet back,
//     each exactly once (nothing leaked, nothing freed twice);
//   - what survives is what the stages say it is: rx output parses, its
//     checksums verify (a GRO head's after completing its partial checksum),
//     a GRO head's chain holds the next in-order segments of its connection,
//     and the split point's flow key equals that of the delivered frame; tx
//     output (over an IPv4 or, per input, an IPv6 underlay) decapsulates
//     through the rx stages to the input frame, and a TSO train's segments
//     are valid TCP segments carrying the super-frame's payload in order.
//
// Thread-safety: serial (libFuzzer runs one input at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "input_format.h"
#include "esp/esp_sa_table.h"
#include "packet/pool.h"
#include "stage/chain.h"
#include "stage/inner_checksum.h"
#include "stage/outer_validate.h"
#include "stage/vxlan_decap.h"
#include "table/fdb.h"
#include "wire/parse.h"

namespace mflow::fuzz {

class RxHarness {
 public:
  // max_packets: the most records Run will be given (1..kMaxBatch); pools
  // are sized to it, since checking a whole pool after every input costs
  // time per packet of the pool.
  explicit RxHarness(uint32_t max_packets);
  // Runs the records as one batch (at most max_packets of them).
  void Run(std::span<const Record> records);

 private:
  void CheckSurvivor(const Packet* p);

  uint32_t max_packets_;
  std::unique_ptr<Fdb> fdb_;
  std::unique_ptr<esp::EspSaTable> esp_;
  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<StageChain> chain_;
  std::vector<StageCounters> counters_;
  std::vector<uint8_t> flat_;
  // Per input: did the split point classify it, and as what.
  std::vector<bool> classified_;
  std::vector<wire::FlowKey> keys_;
};

class TxHarness {
 public:
  explicit TxHarness(uint32_t max_packets);
  void Run(std::span<const Record> records);

 private:
  void CheckSurvivor(const Packet* p);
  // Decapsulates a tx output frame with the rx stages; returns the inner
  // frame's bytes (the check packet is freed).
  // segment_proto: the IP protocol of a segment (which must then also pass
  // the inner checksum check), 0 for a frame as it came.
  std::vector<uint8_t> Decap(const Packet* frame, uint32_t want_vni, uint8_t segment_proto);

  uint32_t max_packets_;
  std::unique_ptr<Fdb> fdb_;
  std::unique_ptr<PacketPool> in_pool_;   // super-frames: 64 KiB buffers
  std::unique_ptr<PacketPool> hdr_pool_;  // TSO segment headers
  std::unique_ptr<PacketPool> check_pool_;
  std::unique_ptr<StageChain> chain_v4_;  // IPv4 underlay
  std::unique_ptr<StageChain> chain_v6_;  // IPv6 underlay (kTxFlagV6Underlay)
  bool v6_underlay_ = false;              // of the current input
  std::unique_ptr<OuterValidate> check_outer_;
  std::unique_ptr<VxlanDecap> check_decap_;
  std::unique_ptr<InnerChecksum> check_inner_;
  std::vector<StageCounters> counters_;
  std::vector<std::span<const uint8_t>> inputs_;  // the bytes each packet was built from
  std::vector<uint8_t> flat_;
};

}  // namespace mflow::fuzz

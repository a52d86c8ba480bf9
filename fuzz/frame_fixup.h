// Frame fixup for the chain targets' custom mutators.
//
// A random mutation of a VXLAN frame almost always breaks the outer IPv4
// header checksum or a length field, so the outer checks drop it and the
// layers behind them (decap, inner checksums, coalescing) only ever see the
// seeds. After libFuzzer's own mutation, the chain targets therefore repair,
// for most inputs, what a sender never gets wrong: the IP and UDP lengths
// (made to end where the frame ends) and the IPv4, TCP and UDP checksums,
// inner and outer. Which of them is chosen per input by the mutator's seed,
// and a quarter of the inputs stay unrepaired, so broken lengths and
// checksums are still fuzzed too.
//
// The checksums here are a separate, naive RFC 1071 implementation (not the
// library's), and this code is built without coverage instrumentation: it is
// a tool of the harness, not code under test.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mflow::fuzz {

inline constexpr uint32_t kFixLengths = 0x1;    // IP total/payload length, UDP length
inline constexpr uint32_t kFixChecksums = 0x2;  // IPv4 header, TCP and UDP checksums
inline constexpr uint32_t kFixInner = 0x4;      // also the inner frame of a VXLAN frame

// The fix mask for an input from the mutator's seed (0 for a quarter of them).
uint32_t FixMaskFromSeed(uint32_t seed);

// Repairs an Ethernet frame from a container in place: its IP header and
// TCP/UDP header lengths and checksums, as mask says.
void FixupInnerFrame(uint8_t* f, size_t len, uint32_t mask);

// Repairs a VXLAN frame from the underlay in place: the inner frame first
// (kFixInner), then the outer IPv4/IPv6 and UDP headers.
void FixupVxlanFrame(uint8_t* f, size_t len, uint32_t mask);

// Applies FixupVxlanFrame (rx) or FixupInnerFrame (tx) to every record of a
// batch input (input_format.h), each with its own mask derived from seed.
void FixupRecords(uint8_t* data, size_t size, bool tx, uint32_t seed);

// What a chain target's input holds, for MutateAndFixup.
enum class FixupInput {
  kRxFrame,  // one VXLAN frame (FixupVxlanFrame)
  kTxFrame,  // TxMeta, then one inner frame (FixupInnerFrame behind the metadata)
  kRxBatch,  // records of VXLAN frames (FixupRecords, rx)
  kTxBatch,  // records with TxMeta (FixupRecords, tx)
};

// The chain targets' LLVMFuzzerCustomMutator: libFuzzer's mutation
// (LLVMFuzzerMutate), then the repair above for the input's kind, with the
// fix mask drawn from seed. Returns the new size.
size_t MutateAndFixup(uint8_t* data, size_t size, size_t max_size, unsigned int seed,
                      FixupInput input);

}  // namespace mflow::fuzz

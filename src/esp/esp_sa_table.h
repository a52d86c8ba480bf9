// EspSaTable: the SAs of the engine's ESP stages, shared by every worker.
//
// The split version of EspInbound/EspOutbound (esp_endpoint.h, the
// single-threaded reference):
//   - outbound: one SA per peer; the sequence numbers come from one counter
//     (tx_seq) that the split point advances in packet order (one writer:
//     the RX role) and stores in Packet::wire_seq; the encrypt stage uses
//     them on whichever worker runs it. One counter serves every outbound
//     SA: each number is used once under any key, so the numbers one SA
//     sends increase, with gaps where a number went to another peer
//     (allowed: the receiver's window only needs them unique and roughly
//     increasing). An SA numbers its packets from its own install: the
//     number on the wire is wire_seq - seq_base (Outbound::seq_base), so a
//     rekey restarts the 32-bit space of an SA without ESN, and the first
//     number a new SA sends is small whatever the counter has reached (a
//     receiver's fresh window assumes high bits 0: a new ESN SA starting
//     above 2^32 would fail every ICV).
//   - inbound: SAs by SPI; each has a replay window, one AesGcm per worker
//     (made here, on the control path: nothing is allocated per packet) and
//     a lock for the in-order window update at release (EspDecrypt stage).
//
// Slots are preallocated and never move, so a worker may hold a pointer to
// one while the control path adds or removes others. A slot is published
// with a release store of `live` after it is filled; removing clears `live`
// (new packets no longer find it) and the slot is refilled only after
// kSlotQuietMs, by which time no worker can still be inside a batch that
// found it. This is what make-before-break rekeying needs: AddInbound(new),
// SetOutbound(new), and after a grace period RemoveInbound(old).
//
// Keys are only ever in EspSa (redacted ToString); nothing here prints them.
//
// Thread-safety: Add/Remove/Set from one control thread; Find*, IsEspPeer
// and the slots' contents (except as stated per field) from any worker.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/compiler.h"
#include "common/relaxed.h"
#include "common/status.h"
#include "esp/aes_gcm.h"
#include "esp/esp_sa.h"
#include "esp/replay_window.h"
#include "wire/ip_addr.h"

namespace mflow::esp {

class EspSaTable {
 public:
  static constexpr uint32_t kMaxInbound = 32;
  static constexpr uint32_t kMaxOutbound = 16;
  static constexpr uint64_t kSlotQuietMs = 10000;

  struct Inbound {
    std::atomic<bool> live{false};
    uint64_t retired_ms = 0;  // control path only
    EspSa sa;
    wire::IpAddr peer;  // the peer this SA belongs to (learning, plain-packet policy)
    ReplayWindow window;  // Update: under `lock`, in order; Check: any worker
    std::vector<AesGcm> open;  // one per worker
    // Held while releasing a run of this SA's packets. One SA is one flow at
    // the split point, whose releases are serial anyway: uncontended except
    // when the SA's packets landed in two flows (the table's overflow flow).
    std::atomic<bool> lock{false};
    void Lock() noexcept {
      while (lock.exchange(true, std::memory_order_acquire)) {
      }
    }
    void Unlock() noexcept { lock.store(false, std::memory_order_release); }
  };
  // How many numbers may be in flight between the split point and the
  // encrypt stage (far above the engine's queues and pool): an SA installed
  // while the counter reads C takes C - kSeqInFlight as its base, so packets
  // numbered just before the install still get numbers >= 1 under it.
  static constexpr uint64_t kSeqInFlight = uint64_t{1} << 20;

  struct Outbound {
    std::atomic<bool> live{false};
    uint64_t retired_ms = 0;
    EspSa sa;
    wire::IpAddr peer;
    uint64_t seq_base = 0;  // this SA's number = Packet::wire_seq - seq_base
    std::vector<AesGcm> seal;  // one per worker
  };

  // workers: how many engine workers (StageContext::worker < workers).
  static StatusOr<std::unique_ptr<EspSaTable>> Create(uint32_t workers);
  uint32_t workers() const { return workers_; }

  // Control path. Errors name the SPI or peer, never key material.
  Status AddInbound(const wire::IpAddr& peer, const EspSa& sa);
  Status RemoveInbound(uint32_t spi);
  // Installs sa as peer's outbound SA, replacing the current one (the new
  // one is live before the old one goes).
  Status SetOutbound(const wire::IpAddr& peer, const EspSa& sa);
  Status RemoveOutbound(const wire::IpAddr& peer);

  // Data path (any worker). nullptr when none is live.
  Inbound* FindInbound(uint32_t spi) noexcept;
  Outbound* FindOutbound(const wire::IpAddr& peer) noexcept;
  Inbound& inbound(uint32_t slot) noexcept { return in_[slot]; }
  // The outbound SA in slot (< kMaxOutbound) if live, else nullptr.
  Outbound* outbound(uint32_t slot) noexcept {
    return out_[slot].live.load(std::memory_order_acquire) ? &out_[slot] : nullptr;
  }
  uint32_t SlotOf(const Inbound* e) const noexcept {
    return static_cast<uint32_t>(e - in_.data());
  }
  // Whether addr has a live SA in either direction: its plain VXLAN is
  // refused (else anyone could bypass the encryption by spoofing it).
  bool IsEspPeer(const wire::IpAddr& addr) noexcept;
  bool empty() const noexcept { return peers_.load(std::memory_order_acquire) == 0; }

  // The outbound sequence counter, advanced by the split point (EnginePath::
  // wire_seq). Starts at 1 (RFC 4303 3.3.3).
  Relaxed<uint64_t>* tx_seq() { return &tx_seq_; }

  // Benchmarks only (mflow-bench --esp replays a ring of sealed frames):
  // with false, inbound packets are neither checked against nor recorded in
  // the replay window. Set before the engine starts.
  void set_replay_protection(bool on) { replay_ = on; }
  bool replay_protection() const { return replay_; }

  // How many SAs could be installed now, per direction (control path: a
  // reload checks before it installs any, so that it never stops halfway).
  uint32_t FreeInboundSlots() const;
  uint32_t FreeOutboundSlots() const;

  // The SPIs live now (control path: mflowctl, tests).
  std::vector<uint32_t> InboundSpis() const;
  // The live outbound SAs with where their numbering stands (control path):
  // next_seq is the number the next packet to the peer would get at most
  // (the counter is shared by all peers, so each SA's numbers advance with
  // every encrypted packet the daemon sends); seq_left, without ESN, how
  // many numbers remain before the SA must be rekeyed (it then drops as
  // esp_encrypt_seq_exhausted); with ESN it is 0 and means nothing.
  struct OutboundState {
    wire::IpAddr peer;
    uint32_t spi = 0;
    bool esn = true;
    uint64_t next_seq = 0;
    uint64_t seq_left = 0;
  };
  std::vector<OutboundState> OutboundStates() const;

 private:
  explicit EspSaTable(uint32_t workers) : workers_(workers) {}
  void CountPeers();

  uint32_t workers_;
  std::array<Inbound, kMaxInbound> in_;
  std::array<Outbound, kMaxOutbound> out_;
  std::atomic<uint32_t> peers_{0};  // live slots, both directions
  bool replay_ = true;
  // Written by the split point for every packet while the workers read the
  // fields above for every packet: a line of its own, or each increment
  // would take that line from the workers. (The last member: the class's
  // alignment then rounds its size up to whole lines, so nothing follows
  // it in its line.)
  alignas(kCacheLine) Relaxed<uint64_t> tx_seq_{1};
};

}  // namespace mflow::esp

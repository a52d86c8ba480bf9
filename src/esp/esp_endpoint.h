// EspInbound and EspOutbound: the ESP codec with its state, for one
// single-threaded caller (tests, the interop tool, and the reference the
// engine's split version is checked against).
//
// EspInbound holds the inbound SAs by SPI, each with its own cipher context
// and replay window, and counts every drop by reason; Decap() looks the SPI
// up, decrypts (esp_codec.h) and, only after the ICV verified, updates the
// window. EspOutbound holds one outbound SA and its sequence counter.
//
// The engine will split EspInbound::Decap across threads: EspDecrypt on any
// worker with that worker's AesGcm, ReplayWindow::Update in the merge.
//
// Thread-safety: single-threaded (one owner thread per object).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "esp/aes_gcm.h"
#include "esp/esp_codec.h"
#include "esp/esp_sa.h"
#include "esp/replay_window.h"

namespace mflow::esp {

class EspInbound {
 public:
  // Adds an inbound SA (its window empty). kExists if its SPI is taken.
  // Make-before-break rekeying adds the new SA while the old one still
  // accepts, and removes the old one after a grace period.
  Status AddSa(const EspSa& sa);
  Status RemoveSa(uint32_t spi);

  // Decapsulates p in place (data at the ESP header). Returns kEspOk with
  // p->data at the protected payload and *seq its sequence number, or an
  // EspDrop, counted once in drops(); the caller frees a dropped packet.
  int Decap(Packet* p, uint64_t* seq) noexcept;

  const std::array<uint64_t, kEspDropCount>& drops() const { return drops_; }
  uint64_t delivered() const { return delivered_; }
  // nullptr when no SA has this SPI.
  ReplayWindow* window(uint32_t spi);

 private:
  struct Entry {
    EspSa sa;
    AesGcm open;
    ReplayWindow window;
  };
  Entry* Find(uint32_t spi) noexcept;

  // Few SAs per peer (one, two during a rekey): a vector scanned linearly.
  std::vector<std::unique_ptr<Entry>> sas_;
  std::array<uint64_t, kEspDropCount> drops_{};
  uint64_t delivered_ = 0;
};

class EspOutbound {
 public:
  static StatusOr<EspOutbound> Create(const EspSa& sa);

  // Encapsulates p with the next sequence number (1, 2, ...). Returns kEspOk
  // or an EspEncapDrop (counted); a failed packet does not use up a number.
  int Encap(Packet* p) noexcept;

  uint64_t next_seq() const { return next_seq_; }
  void set_next_seq(uint64_t s) { next_seq_ = s; }  // tests: start near the 2^32 wrap
  const std::array<uint64_t, kEspEncapDropCount>& drops() const { return drops_; }
  const EspSa& sa() const { return sa_; }

 private:
  EspOutbound(const EspSa& sa, AesGcm seal) : sa_(sa), seal_(std::move(seal)) {}
  EspSa sa_;
  AesGcm seal_;
  uint64_t next_seq_ = 1;
  std::array<uint64_t, kEspEncapDropCount> drops_{};
};

}  // namespace mflow::esp

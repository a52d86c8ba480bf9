// Port interfaces between the engine and the outside world.
//
// An RxPort is where packets enter the engine (a UDP socket, a TAP device, the
// benchmark's traffic source); a TxPort is where they leave. The engine reads
// an RxPort from one thread at a time and calls TxPort::TxBurst from several
// threads, but never concurrently for the same flow.
#pragma once

#include <cstdint>

#include "packet/packet.h"

namespace mflow {

class RxPort {
 public:
  virtual ~RxPort() = default;
  // Up to n packets (the caller owns them), 0 when nothing is ready.
  // Thread-safety: serial (the engine holds its RX role while calling).
  virtual uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept = 0;

  // Ports backed by file descriptors can block until input may be ready, so
  // an idle engine costs nothing. Wait returns after input became readable,
  // Interrupt() was called, or timeout_ms passed (spurious returns are fine:
  // the caller polls RxBurst again). A port that cannot wait returns false at
  // once and the engine falls back to timed sleeps.
  // Thread-safety: Wait from the RX role holder; Interrupt from any thread.
  virtual bool Wait(int timeout_ms) noexcept {
    (void)timeout_ms;
    return false;
  }
  virtual void Interrupt() noexcept {}
};

class TxPort {
 public:
  virtual ~TxPort() = default;
  // Takes ownership of pkts[0..n): sends or frees each (counting what it
  // could not send). Packets of one flow arrive in order.
  // Thread-safety: concurrent calls for different flows.
  virtual void TxBurst(Packet** pkts, uint32_t n) noexcept = 0;
};

}  // namespace mflow

// Port interfaces between the engine and the outside world.
//
// An RxPort is where packets enter the engine (a UDP socket, a TAP device, the
// benchmark's traffic source); a TxPort is where they leave. The engine reads
// an RxPort from one thread at a time and calls TxPort::TxBurst from several
// threads, but never concurrently for the same flow.
#pragma once

#include <poll.h>

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
  // an idle engine costs nothing. The engine polls the descriptors of all
  // its ports in one poll(): WaitFds fills in up to kMaxWaitFds descriptors
  // (with their events) that become ready when input may be ready or
  // Interrupt() was called, and returns how many; 0 = this port cannot wait
  // (the engine then falls back to timed sleeps). After the poll, AfterWait
  // gets the same entries with their revents, to consume its wake-ups.
  // Spurious returns are fine: the caller polls RxBurst again.
  // Thread-safety: WaitFds/AfterWait/Wait from the RX role holder (the
  // engine's waiting worker holds it); Interrupt from any thread.
  static constexpr uint32_t kMaxWaitFds = 4;
  virtual uint32_t WaitFds(pollfd* fds) noexcept {
    (void)fds;
    return 0;
  }
  virtual void AfterWait(const pollfd* fds) noexcept { (void)fds; }
  // The descriptors that are readable when RxBurst would find input (the
  // input half of WaitFds, without the wake-up events), up to
  // kMaxInputFds: the engine polls every port's at once without blocking
  // and reads only the ports with input or Pending() (Engine::TryRx). 0:
  // the port cannot tell, and is read every time.
  static constexpr uint32_t kMaxInputFds = 2;
  virtual uint32_t InputFds(pollfd* fds) noexcept {
    (void)fds;
    return 0;
  }
  // After that poll, the entries InputFds filled in, with their revents,
  // right before the RxBurst that follows (which comes if any is ready or
  // Pending()): a port of several descriptors may then read only the ready
  // ones. An RxBurst without it before (the engine did not poll) reads all.
  virtual void InputReady(const pollfd* fds) noexcept { (void)fds; }
  // Packets held back from an earlier RxBurst (a received super-datagram cut
  // into more views than that burst took): input that no descriptor shows.
  virtual bool Pending() const noexcept { return false; }
  // One port's wait: returns after input may be ready, Interrupt() or
  // timeout_ms; false at once if the port cannot wait.
  bool Wait(int timeout_ms) noexcept {
    pollfd fds[kMaxWaitFds];
    const uint32_t n = WaitFds(fds);
    if (n == 0) return false;
    if (poll(fds, n, timeout_ms) > 0) AfterWait(fds);
    return true;
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

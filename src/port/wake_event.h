// The wait of a port with one input descriptor and an eventfd that its
// Interrupt() signals (the UDP socket, the TAP set's epoll descriptor):
// the two entries RxPort::WaitFds hands the engine, and the eventfd's
// signal and drain. The eventfd is non-blocking, so neither call can stall.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cstdint>

namespace mflow {

inline uint32_t WaitOnInputAndEvent(pollfd* fds, int input_fd, int event_fd) noexcept {
  fds[0] = {input_fd, POLLIN, 0};
  fds[1] = {event_fd, POLLIN, 0};
  return 2;
}

// After the poll: drains the counter if it was signalled, so that the next
// wait blocks again.
inline void DrainEvent(const pollfd* fds) noexcept {
  if ((fds[1].revents & POLLIN) == 0) return;
  uint64_t v;
  [[maybe_unused]] const ssize_t r = read(fds[1].fd, &v, sizeof(v));
}

// Fails only when the counter is saturated: a wake-up is pending anyway.
inline void SignalEvent(int event_fd) noexcept {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t r = write(event_fd, &one, sizeof(one));
}

}  // namespace mflow

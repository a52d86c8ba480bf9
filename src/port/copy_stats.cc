#include "port/copy_stats.h"

namespace mflow {

double PathCopies::per_byte() const {
  if (delivered_bytes == 0) return 0;
  return static_cast<double>(kernel_bytes + user_bytes) / static_cast<double>(delivered_bytes);
}

CopyStats CountCopies(const TapByteTotals& taps, std::initializer_list<const UdpPortInfo*> udp) {
  uint64_t udp_rx = 0, udp_tx = 0, copied_rx = 0;
  for (const UdpPortInfo* u : udp) {
    if (u == nullptr) continue;
    udp_rx += u->rx_bytes;
    udp_tx += u->tx_bytes;
    copied_rx += u->rx_copied_bytes;
  }
  CopyStats c;
  c.rx.kernel_bytes = udp_rx + taps.tx_bytes;  // recvmmsg, then writev
  c.rx.user_bytes = copied_rx;
  c.rx.delivered_bytes = taps.tx_bytes;
  c.tx.kernel_bytes = taps.rx_bytes + udp_tx;  // readv, then sendmmsg
  c.tx.user_bytes = 0;  // no payload memcpy on the tx path (ESP's AES pass is not counted)
  c.tx.delivered_bytes = udp_tx;
  return c;
}

}  // namespace mflow

#include "bench/order_sink.h"

#include <cstring>

#include "common/clock.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

namespace mflow::bench {
namespace {

// Single-writer counter bump: no read-modify-write needed.
inline void Bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// Reads the frame's bytes as one stream: linear part, then fragments.
class FrameReader {
 public:
  explicit FrameReader(const Packet* p) : p_(p) {}
  // Reads a T at stream offset off; false if the frame is shorter. Headers
  // sit in the linear part: that case is a fixed-size, inlined copy (the
  // sink runs under its flow's merge, so its cost is on the serial path).
  template <typename T>
  bool Read(uint32_t off, T* out) const {
    if (MFLOW_LIKELY(off <= p_->len && p_->len - off >= sizeof(T))) {
      std::memcpy(out, p_->data + off, sizeof(T));
      return true;
    }
    return ReadSlow(off, out, sizeof(T));
  }

 private:
  bool ReadSlow(uint32_t off, void* out, uint32_t n) const {
    auto* o = static_cast<uint8_t*>(out);
    const uint8_t* base = p_->data;
    uint32_t len = p_->len;
    uint16_t next = 0;
    for (;;) {
      if (off < len) {
        const uint32_t take = len - off < n ? len - off : n;
        std::memcpy(o, base + off, take);
        o += take;
        n -= take;
        off = 0;
        if (n == 0) return true;
      } else {
        off -= len;
      }
      if (next == p_->nfrags) return false;
      base = p_->frags[next].data;
      len = p_->frags[next].len;
      ++next;
    }
  }

  const Packet* p_;
};

}  // namespace

OrderSink::OrderSink(Direction dir, uint32_t flows)
    : dir_(dir), nflows_(flows), flows_(std::make_unique<FlowCheck[]>(flows)) {}

void OrderSink::Count(uint32_t flow, uint64_t seq) noexcept {
  FlowCheck& f = flows_[flow];
  const uint64_t next = f.next.load(std::memory_order_relaxed);
  Bump(f.segments);
  if (seq == next) {
    f.next.store(next + 1, std::memory_order_relaxed);
  } else if (seq > next) {
    Bump(f.gaps, seq - next);
    f.next.store(seq + 1, std::memory_order_relaxed);
  } else {
    Bump(f.out_of_order);
  }
}

// now: the arrival time, read once per TxBurst at the first mouse (0 = not yet).
void OrderSink::CheckFrame(const Packet* p, uint64_t* now) noexcept {
  FrameReader r(p);
  // Skip the outer headers in the tx direction (fixed for our traffic: the
  // encapsulation stage's output is checked by its own tests).
  uint32_t off = 0;
  if (dir_ == Direction::kTx) {
    wire::EthernetHeader eth;
    if (!r.Read(0, &eth)) return Bump(bad_);
    off = eth.ether_type.host() == wire::kEtherTypeIpv6 ? 14 + 40 + 8 + 8 : 14 + 20 + 8 + 8;
  }
  wire::EthernetHeader eth;
  wire::Ipv4Header ip;
  if (!r.Read(off, &eth) || eth.ether_type.host() != wire::kEtherTypeIpv4 ||
      !r.Read(off + 14, &ip))
    return Bump(bad_);
  const uint32_t l4 = off + 14 + ip.header_len();
  uint32_t l4_hdr = 8;
  if (ip.protocol == wire::kIpProtoTcp) {
    wire::TcpHeader th;
    if (!r.Read(l4, &th)) return Bump(bad_);
    l4_hdr = th.header_len();
  }
  const uint32_t ip_end = off + 14 + ip.total_length.host();
  uint32_t pos = l4 + l4_hdr;
  const uint32_t chunk = p->gso_size != 0 ? p->gso_size : ip_end - pos;
  if (chunk == 0) return Bump(bad_);
  uint32_t flow = 0;
  while (pos < ip_end) {
    Marker m;
    if (!r.Read(pos, &m) || m.magic != kMarkerMagic || m.flow >= nflows_)
      return Bump(bad_);
    Count(m.flow, m.seq);
    flow = m.flow;
    uint64_t stamp;
    if (m.flow != 0 && recording_.load(std::memory_order_relaxed) &&
        r.Read(pos + kStampOffset, &stamp) && stamp != 0) {
      if (*now == 0) *now = MonotonicNs();
      latency_.Add(*now > stamp ? *now - stamp : 0);
    }
    pos += chunk;
  }
  Bump(flows_[flow].frames);
}

void OrderSink::TxBurst(Packet** pkts, uint32_t n) noexcept {
  uint64_t now = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    if (p->is_train()) {
      for (const Packet* s = p->segs; s != nullptr; s = s->seg_next) CheckFrame(s, &now);
    } else {
      CheckFrame(p, &now);
    }
  }
  PacketFreeBurst(pkts, n);
}

SinkTotals OrderSink::Totals() const {
  SinkTotals t;
  for (uint32_t i = 0; i < nflows_; ++i) {
    const FlowCheck& f = flows_[i];
    t.segments += f.segments.load(std::memory_order_relaxed);
    t.frames += f.frames.load(std::memory_order_relaxed);
    t.out_of_order += f.out_of_order.load(std::memory_order_relaxed);
    t.gaps += f.gaps.load(std::memory_order_relaxed);
    const uint64_t segs = f.segments.load(std::memory_order_relaxed);
    if (segs != 0) ++t.flows;
    if (i != 0) t.mouse_segments += segs;
  }
  t.bad = bad_.load(std::memory_order_relaxed);
  return t;
}

uint64_t OrderSink::segments() const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < nflows_; ++i) n += flows_[i].segments.load(std::memory_order_relaxed);
  return n;
}

}  // namespace mflow::bench

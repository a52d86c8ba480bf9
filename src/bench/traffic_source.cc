#include "bench/traffic_source.h"

#include <algorithm>
#include <cstring>

#include "common/clock.h"
#include "packet/batch.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace mflow::bench {
namespace {

constexpr uint32_t kEthLen = 14;
constexpr uint32_t kIpLen = 20;

wire::InnerSpec InnerFor(const TrafficConfig& cfg, uint32_t flow) {
  wire::InnerSpec s;
  s.l4_proto = cfg.l4_proto;
  s.src_ip = wire::IpAddr::V4(0xC6120100u + 1 + flow / 60000);  // 198.18.1.x
  s.dst_ip = wire::IpAddr::V4(0xC6120200u + 1);                 // 198.18.2.1
  s.sport = static_cast<uint16_t>(1024 + flow % 60000);
  s.dport = 5201;
  s.tcp_seq = 0;
  s.tcp_ack = 1;
  s.tcp_flags = wire::kTcpAck;
  return s;
}

uint32_t Raw32At(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

StatusOr<std::unique_ptr<TrafficSource>> TrafficSource::Create(const TrafficConfig& cfg) {
  if (cfg.l4_proto != 6 && cfg.l4_proto != 17)
    return Status::Error("traffic: protocol must be tcp or udp");
  if (cfg.ip_size < 64 || cfg.ip_size > 1500)
    return Status::Error("traffic: frame (IP packet) size must be 64..1500, got " +
                         std::to_string(cfg.ip_size));
  if (cfg.flows == 0) return Status::Error("traffic: need at least one flow");
  if (cfg.gso_segs != 0 && (cfg.direction != Direction::kTx || cfg.l4_proto != 6))
    return Status::Error("traffic: super-frames (gso) are for the tx direction with tcp only");
  const uint32_t seg_payload = cfg.ip_size - 20 - (cfg.l4_proto == 6 ? 20 : 8);
  if (cfg.gso_segs != 0 && 40 + uint64_t{cfg.gso_segs} * seg_payload > 65535)
    return Status::Error("traffic: " + std::to_string(cfg.gso_segs) + " segments of " +
                         std::to_string(seg_payload) + " bytes exceed a 64 KiB IP datagram; use at most " +
                         std::to_string((65535 - 40) / seg_payload));
  if (cfg.mouse_every < 2) return Status::Error("traffic: mouse_every must be at least 2");
  if (!cfg.elephant && cfg.flows < 2) return Status::Error("traffic: mice alone need at least one mouse");
  if (cfg.mouse_flow_packets != 0) {
    if (cfg.mouse_flow_ids < cfg.flows - 1)
      return Status::Error("traffic: short flows need at least as many flow ids (" +
                           std::to_string(cfg.mouse_flow_ids) + ") as mice at a time (" +
                           std::to_string(cfg.flows - 1) + ")");
    // The rx classifier keys on the outer UDP source port, 49152 + flow % 16384:
    // more ids would share ports (with each other and with the elephant).
    if (cfg.direction == Direction::kRx && cfg.mouse_flow_ids > 16383)
      return Status::Error("traffic: at most 16383 short-flow ids in the rx direction");
  }
  if (seg_payload < kStampedBytes) return Status::Error("traffic: segments too small for the marker");
  std::unique_ptr<TrafficSource> s(new TrafficSource(cfg));
  Status st = s->Build();
  if (!st.ok()) return st;
  return s;
}

Status TrafficSource::Build() {
  const bool tcp = cfg_.l4_proto == 6;
  const uint32_t l4_hdr = tcp ? 20 : 8;
  seg_payload_ = cfg_.ip_size - kIpLen - l4_hdr;
  segs_ = cfg_.gso_segs == 0 ? 1 : cfg_.gso_segs;
  const uint32_t payload = seg_payload_ * segs_;
  const uint32_t outer = cfg_.direction == Direction::kRx ? 50 : 0;
  l4_off_ = outer + kEthLen + kIpLen;
  payload_off_ = l4_off_ + l4_hdr;
  frame_len_ = payload_off_ + payload;

  PacketPoolConfig pc;
  pc.name = "traffic";
  pc.count = cfg_.pool_packets;
  pc.buf_size = kHeadroom + ((frame_len_ + 63) & ~63u);
  if (pc.buf_size < 2048) pc.buf_size = 2048;
  auto pool = PacketPool::Create(pc);
  if (!pool.ok()) return pool.status();
  pool_ = std::move(pool).value();

  // A payload pattern that is not all zeros, markers zeroed (seq 0), and
  // the mice's time stamps zeroed (the checksum template assumes 0 there).
  std::vector<uint8_t> pay(payload);
  for (uint32_t i = 0; i < payload; ++i) pay[i] = static_cast<uint8_t>(i * 7 + 13);
  for (uint32_t k = 0; k < segs_; ++k) std::memset(&pay[k * seg_payload_ + kStampOffset], 0, 8);
  std::vector<uint8_t> frame(frame_len_ + 64);
  std::vector<uint8_t> inner(frame_len_ + 64);

  const uint32_t mice = cfg_.flows - 1;
  const uint32_t ids = 1 + (cfg_.mouse_flow_packets != 0 && mice != 0 ? cfg_.mouse_flow_ids : mice);
  flows_.resize(ids);
  slot_flow_.assign(mice, 0);
  slot_left_.assign(mice, 0);
  for (uint32_t f = 0; f < ids; ++f) {
    for (uint32_t k = 0; k < segs_; ++k) {
      Marker m{kMarkerMagic, f, 0};
      std::memcpy(&pay[k * seg_payload_], &m, sizeof m);
    }
    const uint32_t inner_len = wire::BuildInnerFrame(InnerFor(cfg_, f), pay, inner.data(),
                                                     static_cast<uint32_t>(inner.size()));
    if (inner_len == 0) return Status::Error("traffic: cannot build inner frame");
    uint32_t len = inner_len;
    if (cfg_.direction == Direction::kRx) {
      wire::OuterSpec o;
      o.vni = cfg_.vni;
      o.sport = static_cast<uint16_t>(49152 + f % 16384);
      len = wire::BuildVxlanFrame(o, std::span<const uint8_t>(inner.data(), inner_len),
                                  frame.data(), static_cast<uint32_t>(frame.size()));
      if (len == 0) return Status::Error("traffic: cannot build vxlan frame");
    } else {
      std::memcpy(frame.data(), inner.data(), inner_len);
    }
    if (len != frame_len_) return Status::Error("traffic: built frame has an unexpected length");
    uint8_t* l4 = frame.data() + l4_off_;
    if (segs_ > 1) {
      // A TSO super-frame as a TAP hands it over (virtio NEEDS_CSUM): the
      // checksum field holds only the pseudo-header sum.
      const auto* ip = reinterpret_cast<const wire::Ipv4Header*>(frame.data() + l4_off_ - kIpLen);
      const uint32_t ps = wire::PseudoHeaderSumV4(ip, 6, l4_hdr + payload);
      reinterpret_cast<wire::TcpHeader*>(l4)->checksum = wire::Be16::FromRaw(wire::ChecksumFold(ps));
    }
    FlowTemplate& t = flows_[f];
    t.header.assign(frame.begin(), frame.begin() + payload_off_ + kStampedBytes);
    uint16_t c;
    std::memcpy(&c, l4 + (tcp ? 16 : 6), 2);
    t.csum0 = c;
  }

  // Fill every buffer of the pool once with a whole frame (flow 0's); from
  // now on only headers and markers are rewritten.
  std::vector<Packet*> all(pc.count);
  const uint32_t got = pool_->AllocBurst(all.data(), pc.count);
  for (uint32_t i = 0; i < got; ++i) {
    std::memcpy(all[i]->data + payload_off_, pay.data(), payload);
    std::memcpy(all[i]->data, flows_[0].header.data(), flows_[0].header.size());
  }
  for (uint32_t i = 0; i < got; ++i) PacketFree(all[i]);
  stamped_.assign(pc.count, 0);  // every buffer holds flow 0's frame
  return Status::Ok();
}

void TrafficSource::Stamp(Packet* p, uint32_t flow, uint64_t stamp_ns) noexcept {
  FlowTemplate& t = flows_[flow];
  const uint64_t seq = t.next_seq;
  t.next_seq += segs_;
  uint8_t* d = p->data;
  if (stamped_[p->index] == flow) {
    // Same flow as last time: only the inner IP header can have changed
    // (coalescing rewrites the head's length and checksum).
    std::memcpy(d + l4_off_ - 20, t.header.data() + l4_off_ - 20, 20);
  } else {
    std::memcpy(d, t.header.data(), t.header.size());
    stamped_[p->index] = flow;
  }
  p->len = frame_len_;
  p->vni = cfg_.vni;
  p->in_port = 0;
  uint8_t* l4 = d + l4_off_;
  uint8_t* marker = d + payload_off_;
  std::memcpy(marker + 8, &seq, 8);
  // Mice only: the elephant's stamp bytes stay 0 from its template.
  if (flow != 0) std::memcpy(marker + kStampOffset, &stamp_ns, 8);
  if (segs_ > 1) {
    // Super-frame: one marker per segment; checksum is pseudo-header only.
    for (uint32_t k = 1; k < segs_; ++k) {
      Marker m{kMarkerMagic, flow, seq + k};
      std::memcpy(marker + k * seg_payload_, &m, sizeof m);
      if (flow != 0) std::memcpy(marker + k * seg_payload_ + kStampOffset, &stamp_ns, 8);
    }
    auto* th = reinterpret_cast<wire::TcpHeader*>(l4);
    th->seq.set(static_cast<uint32_t>(seq * seg_payload_ + 1));
    p->gso_size = static_cast<uint16_t>(seg_payload_);
    p->gso_segs = static_cast<uint16_t>(segs_);
    return;
  }
  // RFC 1624: the template checksum was computed with both sequence fields
  // (and the stamp) zero; fold in their new values instead of summing the
  // payload again.
  uint16_t c = t.csum0;
  c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + 8));
  c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + 12));
  if (flow != 0) {
    c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + kStampOffset));
    c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + kStampOffset + 4));
  }
  if (cfg_.l4_proto == 6) {
    auto* th = reinterpret_cast<wire::TcpHeader*>(l4);
    th->seq.set(static_cast<uint32_t>(seq * seg_payload_ + 1));
    c = wire::ChecksumUpdate32(c, 0, Raw32At(l4 + 4));
    std::memcpy(l4 + 16, &c, 2);
  } else {
    // A UDP checksum that computes to 0 is sent as 0xffff (RFC 768).
    if (c == 0) c = 0xffff;
    std::memcpy(l4 + 6, &c, 2);
  }
}

// The next mouse packet's flow: mouse slots take turns; with short flows a
// slot whose flow has sent its packets takes the next flow id.
uint32_t TrafficSource::NextMouse() noexcept {
  const uint32_t slot = next_mouse_;
  next_mouse_ = (next_mouse_ + 1) % (cfg_.flows - 1);
  if (cfg_.mouse_flow_packets == 0) {
    if (slot_flow_[slot] == 0) {  // this mouse's first packet
      slot_flow_[slot] = 1 + slot;
      mouse_flows_.store(mouse_flows_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    return 1 + slot;
  }
  if (slot_left_[slot] == 0) {
    slot_flow_[slot] = 1 + next_flow_id_;
    next_flow_id_ = (next_flow_id_ + 1) % cfg_.mouse_flow_ids;
    slot_left_[slot] = cfg_.mouse_flow_packets;
    mouse_flows_.store(mouse_flows_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  --slot_left_[slot];
  return slot_flow_[slot];
}

// Paced mice: how many of this burst's n packets are mice, from the time
// since the first burst. A backlog (the engine did not read for a while) is
// kept up to 1 ms of mice, or one burst, and the older ones are skipped.
uint32_t TrafficSource::MiceDue(uint32_t n) noexcept {
  const uint64_t now = MonotonicNs();
  if (pace_start_ns_ == 0) pace_start_ns_ = now;
  const auto target = static_cast<uint64_t>(static_cast<double>(now - pace_start_ns_) * 1e-9 *
                                            static_cast<double>(cfg_.mouse_pps));
  const uint64_t cap = std::max<uint64_t>(cfg_.mouse_pps / 1000, n);
  if (target > mice_offered_ + cap) {
    mouse_skipped_.store(mouse_skipped_.load(std::memory_order_relaxed) + (target - cap - mice_offered_),
                         std::memory_order_release);
    mice_offered_ = target - cap;
  }
  const uint64_t due = target > mice_offered_ ? std::min<uint64_t>(target - mice_offered_, n) : 0;
  return static_cast<uint32_t>(due);
}

uint32_t TrafficSource::RxBurst(Packet** pkts, uint32_t n) noexcept {
  if (stopped_.load(std::memory_order_acquire)) return 0;
  if (n > kMaxBatch) n = kMaxBatch;
  if (cfg_.max_frames != 0) {
    if (frames_ >= cfg_.max_frames) return 0;
    if (n > cfg_.max_frames - frames_) n = static_cast<uint32_t>(cfg_.max_frames - frames_);
  }
  const bool paced = cfg_.mouse_pps != 0 && cfg_.flows > 1;
  uint32_t due = 0;
  if (paced) {
    due = MiceDue(n);
    if (!cfg_.elephant) {
      if (due == 0) return 0;
      n = due;
    }
  }
  const uint32_t got = pool_->AllocBurst(pkts, n);
  if (due > got) due = got;  // the rest stays due
  mice_offered_ += due;
  // The elephant's packets are stamped at once; the mice after the loop,
  // with the time at which the burst is handed over.
  uint32_t mouse_at[kMaxBatch];
  uint32_t mouse_flow[kMaxBatch];
  uint32_t nm = 0;
  for (uint32_t i = 0; i < got; ++i) {
    bool mouse;
    if (paced)  // due mice spread evenly over the burst
      mouse = !cfg_.elephant || uint64_t{i + 1} * due / got > uint64_t{i} * due / got;
    else
      mouse = cfg_.flows > 1 && (!cfg_.elephant || ++counter_ % cfg_.mouse_every == 0);
    if (mouse) {
      mouse_at[nm] = i;
      mouse_flow[nm] = NextMouse();
      ++nm;
    } else {
      Stamp(pkts[i], 0, 0);
    }
  }
  if (nm != 0) {
    const uint64_t now = MonotonicNs();
    for (uint32_t j = 0; j < nm; ++j) Stamp(pkts[mouse_at[j]], mouse_flow[j], now);
    mouse_generated_.store(mouse_generated_.load(std::memory_order_relaxed) + uint64_t{nm} * segs_,
                           std::memory_order_release);
  }
  frames_ += got;
  generated_.fetch_add(uint64_t{got} * segs_, std::memory_order_release);
  return got;
}

}  // namespace mflow::bench

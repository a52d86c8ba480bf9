#include "bench/traffic_source.h"

#include <cstring>

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

  // A payload pattern that is not all zeros, markers zeroed (seq 0).
  std::vector<uint8_t> pay(payload);
  for (uint32_t i = 0; i < payload; ++i) pay[i] = static_cast<uint8_t>(i * 7 + 13);
  std::vector<uint8_t> frame(frame_len_ + 64);
  std::vector<uint8_t> inner(frame_len_ + 64);

  flows_.resize(cfg_.flows);
  for (uint32_t f = 0; f < cfg_.flows; ++f) {
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
    t.header.assign(frame.begin(), frame.begin() + payload_off_ + sizeof(Marker));
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

void TrafficSource::Stamp(Packet* p, uint32_t flow) noexcept {
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
  if (segs_ > 1) {
    // Super-frame: one marker per segment; checksum is pseudo-header only.
    for (uint32_t k = 1; k < segs_; ++k) {
      Marker m{kMarkerMagic, flow, seq + k};
      std::memcpy(marker + k * seg_payload_, &m, sizeof m);
    }
    auto* th = reinterpret_cast<wire::TcpHeader*>(l4);
    th->seq.set(static_cast<uint32_t>(seq * seg_payload_ + 1));
    p->gso_size = static_cast<uint16_t>(seg_payload_);
    p->gso_segs = static_cast<uint16_t>(segs_);
    return;
  }
  // RFC 1624: the template checksum was computed with both sequence fields
  // zero; fold in their new values instead of summing the payload again.
  uint16_t c = t.csum0;
  c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + 8));
  c = wire::ChecksumUpdate32(c, 0, Raw32At(marker + 12));
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

uint32_t TrafficSource::RxBurst(Packet** pkts, uint32_t n) noexcept {
  if (stopped_.load(std::memory_order_acquire)) return 0;
  if (cfg_.max_frames != 0) {
    if (frames_ >= cfg_.max_frames) return 0;
    if (n > cfg_.max_frames - frames_) n = static_cast<uint32_t>(cfg_.max_frames - frames_);
  }
  const uint32_t got = pool_->AllocBurst(pkts, n);
  for (uint32_t i = 0; i < got; ++i) {
    uint32_t flow = 0;
    if (cfg_.flows > 1 && ++counter_ % cfg_.mouse_every == 0) {
      flow = 1 + next_mouse_;
      next_mouse_ = (next_mouse_ + 1) % (cfg_.flows - 1);
    }
    Stamp(pkts[i], flow);
  }
  frames_ += got;
  generated_.fetch_add(uint64_t{got} * segs_, std::memory_order_release);
  return got;
}

}  // namespace mflow::bench

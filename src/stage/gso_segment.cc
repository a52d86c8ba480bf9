#include "stage/gso_segment.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "packet/pool.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace mflow {
namespace {

constexpr uint32_t kMaxSegsPerCarrier = 1024;

constexpr std::array<std::string_view, GsoSegment::kNumDrops> kDropNames = {
    "not_tcp_udp", "bad_headers", "bad_gso_size", "no_buffer", "too_many_frags",
};

// ParseFrame checks the IP length against the bytes it is given, so a frame
// with fragments is parsed from a copy of its first bytes, told the whole
// frame length. The parser reads at most Ethernet + 802.1Q + the fixed IP
// header after up to 60 bytes of IPv4 header + the fixed TCP header (98
// bytes); the copy is zero-filled past the linear part so nothing it reads is
// indeterminate, and the caller checks that the headers really are linear.
constexpr uint32_t kHeaderView = 160;

struct HeaderView {
  const uint8_t* data;
  uint32_t len;  // the whole frame's length
  uint8_t copy[kHeaderView];
};

void MakeHeaderView(const Packet* p, HeaderView* v) {
  v->len = p->frame_len();
  if (p->nfrags == 0) {
    v->data = p->data;
    return;
  }
  std::memset(v->copy, 0, kHeaderView);
  std::memcpy(v->copy, p->data, std::min(p->len, kHeaderView));
  v->data = v->copy;
}

// Walks the payload bytes of a frame — the linear part after the headers,
// then each fragment — handing out consecutive chunks as fragments.
class PayloadCursor {
 public:
  PayloadCursor(const Packet* p, uint32_t hdr_len) : p_(p), off_(hdr_len) {}

  // Appends the next n bytes to seg as one or more fragments; false when
  // seg runs out of fragment slots. Precondition: n bytes remain.
  bool Take(uint32_t n, Packet* seg) {
    while (n > 0) {
      const uint8_t* base;
      uint32_t piece_len;
      if (piece_ == 0) {
        base = p_->data;
        piece_len = p_->len;
      } else {
        base = p_->frags[piece_ - 1].data;
        piece_len = p_->frags[piece_ - 1].len;
      }
      if (off_ == piece_len) {  // also skips empty pieces
        ++piece_;
        off_ = 0;
        continue;
      }
      const uint32_t take = std::min(n, piece_len - off_);
      if (!seg->AppendFrag(base + off_, take)) return false;
      off_ += take;
      n -= take;
    }
    return true;
  }

 private:
  const Packet* p_;
  uint32_t piece_ = 0;  // 0 = linear part, i = frags[i - 1]
  uint32_t off_;
};

}  // namespace

StatusOr<std::unique_ptr<GsoSegment>> GsoSegment::Create(const GsoSegmentConfig& cfg) {
  // 68: the smallest MTU IPv4 must support (RFC 791); anything under can
  // not carry a TCP segment with options anyway.
  if (cfg.mtu != 0 && (cfg.mtu < 68 || cfg.mtu > 65535))
    return Status::Error("gso_segment: mtu must be 0 (unchecked) or 68..65535, got " +
                         std::to_string(cfg.mtu));
  return std::unique_ptr<GsoSegment>(new GsoSegment(cfg.mtu));
}

std::span<const std::string_view> GsoSegment::drop_reasons() const { return kDropNames; }

void GsoSegment::Process(Batch& b, StageContext& ctx) noexcept {
  uint32_t kept = 0;
  uint64_t frames = 0;
  ctx.counters->in += b.n;
  for (uint32_t i = 0; i < b.n; ++i) {
    Packet* p = b.pkts[i];
    if (MFLOW_LIKELY(p->gso_size == 0 || p->is_train())) {
      b.pkts[kept++] = p;
      frames += p->is_train() ? p->nsegs : 1;
      continue;
    }
    const int edge = Segment(p, ctx);
    if (edge == kNext) {
      b.pkts[kept++] = p;
      frames += p->nsegs;
    } else {
      ctx.Drop(p, static_cast<uint32_t>(edge));  // frees any segments built
    }
  }
  b.n = kept;
  ctx.counters->out += frames;
}

int GsoSegment::Segment(Packet* p, StageContext& ctx) const noexcept {
  HeaderView view;
  MakeHeaderView(p, &view);
  wire::FrameLayout l;
  const wire::ParseResult r = wire::ParseFrame(view.data, view.len, &l);
  if (r == wire::ParseResult::kNotIp || r == wire::ParseResult::kNotTcpUdp) return kNotTcpUdp;
  if (r != wire::ParseResult::kOk) return kBadHeaders;
  const bool tcp = l.l4_proto == wire::kIpProtoTcp;
  const uint32_t hdr_len = l.payload_off();
  if (hdr_len > p->len) return kBadHeaders;  // headers must be linear: we copy them

  const uint32_t payload = l.payload_len();
  const uint32_t mss = p->gso_size;
  const uint32_t ip_hdr_len = uint32_t{l.l4_off} - l.l3_off;
  if (mss > payload) return kBadGsoSize;
  if (mtu_ != 0 && ip_hdr_len + l.l4_hdr_len + mss > mtu_) return kBadGsoSize;

  if (p->flow_hash == 0) {
    wire::FlowKey key;
    if (wire::ClassifyInner(view.data, view.len, p->vni, &key)) p->flow_hash = wire::FlowHash(key);
  }

  // The carrier's headers, read once; each segment patches its own copy.
  const uint8_t* hdr = p->data;
  wire::TcpHeader tcp0;
  if (tcp) std::memcpy(&tcp0, hdr + l.l4_off, sizeof(tcp0));
  wire::Ipv4Header ip4;
  wire::Ipv6Header ip6;
  if (l.ipv6) {
    std::memcpy(&ip6, hdr + l.l3_off, sizeof(ip6));
  } else {
    std::memcpy(&ip4, hdr + l.l3_off, sizeof(ip4));
  }
  const uint16_t id0 = l.ipv6 ? 0 : ip4.id.host();
  const uint32_t seq0 = tcp ? tcp0.seq.host() : 0;
  const uint32_t nsegs = (payload + mss - 1) / mss;

  // All header packets in one pool operation: the pool's free stack and its
  // mutex are shared by every worker, and one allocation per segment made
  // their cache lines bounce between cores (measured, when the pool was
  // still a ring: 2 workers slower than 1).
  // A segment size so small that a 64 KiB frame needs more segments than
  // this is not something a real sender hands over.
  Packet* hdrs[kMaxSegsPerCarrier];
  if (nsegs > kMaxSegsPerCarrier) return kBadGsoSize;
  const uint32_t got = ctx.pool->AllocBurst(hdrs, nsegs);
  if (got != nsegs) {
    PacketFreeBurst(hdrs, got);
    return kNoBuffer;
  }
  // Link the whole train first, so that any drop below frees every header
  // packet with the carrier.
  for (uint32_t i = 0; i < nsegs; ++i) hdrs[i]->seg_next = i + 1 < nsegs ? hdrs[i + 1] : nullptr;
  p->segs = hdrs[0];
  p->nsegs = static_cast<uint16_t>(nsegs);

  const uint32_t reserved = p->gso_segs > 1 ? p->gso_segs : 1;
  PayloadCursor cursor(p, hdr_len);
  for (uint32_t i = 0; i < nsegs; ++i) {
    Packet* s = hdrs[i];
    if (s->tailroom() < hdr_len) return kNoBuffer;

    const uint32_t off = i * mss;
    const uint32_t seg_len = std::min(mss, payload - off);
    std::memcpy(s->data, hdr, hdr_len);
    s->len = hdr_len;
    if (!cursor.Take(seg_len, s)) return kTooManyFrags;

    const uint32_t l4_len = l.l4_hdr_len + seg_len;
    uint32_t sum;
    if (l.ipv6) {
      ip6.payload_length.set(static_cast<uint16_t>(l4_len));
      std::memcpy(s->data + l.l3_off, &ip6, sizeof(ip6));
      sum = wire::PseudoHeaderSumV6(&ip6, l.l4_proto, l4_len);
    } else {
      // RFC 791 IDs: consecutive per segment, as a NIC doing TSO would send.
      ip4.total_length.set(static_cast<uint16_t>(ip_hdr_len + l4_len));
      ip4.id.set(static_cast<uint16_t>(id0 + i));
      ip4.checksum = wire::Be16{};
      std::memcpy(s->data + l.l3_off, &ip4, sizeof(ip4));
      // Over the whole header in the segment: IPv4 options are included.
      const uint32_t ip_sum = wire::ChecksumPartial(s->data + l.l3_off, ip_hdr_len);
      ip4.checksum = wire::Be16::FromRaw(wire::ChecksumFinish(ip_sum));
      std::memcpy(s->data + l.l3_off, &ip4, sizeof(ip4));
      sum = wire::PseudoHeaderSumV4(&ip4, l.l4_proto, l4_len);
    }

    uint8_t* l4 = s->data + l.l4_off;
    wire::TcpHeader th;
    wire::UdpHeader uh;
    if (tcp) {
      th = tcp0;
      th.seq.set(seq0 + off);
      uint8_t clear = 0;
      if (i != 0) clear |= wire::kTcpCwr;  // congestion window reduced: said once
      if (i + 1 != nsegs) clear |= wire::kTcpFin | wire::kTcpPsh;  // end of the data
      th.flags = static_cast<uint8_t>(tcp0.flags & ~clear);
      th.checksum = wire::Be16{};
      std::memcpy(l4, &th, sizeof(th));
    } else {
      std::memcpy(&uh, l4, sizeof(uh));
      uh.length.set(static_cast<uint16_t>(l4_len));
      uh.checksum = wire::Be16{};
      std::memcpy(l4, &uh, sizeof(uh));
    }

    // L4 header (TCP options included) and the payload fragments as one
    // stream.
    std::array<wire::ChecksumPiece, 1 + kMaxFrags> pieces;
    pieces[0] = {l4, l.l4_hdr_len};
    for (uint16_t f = 0; f < s->nfrags; ++f) pieces[1u + f] = {s->frags[f].data, s->frags[f].len};
    uint16_t csum = wire::ChecksumFinish(wire::ChecksumSg(pieces.data(), 1u + s->nfrags, sum));
    if (tcp) {
      th.checksum = wire::Be16::FromRaw(csum);
      std::memcpy(l4, &th, sizeof(th));
    } else {
      // 0 and 0xffff are the same sum, but a UDP checksum of 0 means "none"
      // (and is invalid over IPv6): send 0xffff.
      if (csum == 0) csum = 0xffff;
      uh.checksum = wire::Be16::FromRaw(csum);
      std::memcpy(l4, &uh, sizeof(uh));
    }

    s->seq = p->seq;
    // The sequence numbers the split point reserved for the carrier's
    // segments (ESP): one each, as many as it counted; a segment beyond them
    // gets none and is refused by esp_encrypt rather than reuse a number.
    s->wire_seq = p->wire_seq != 0 && i < reserved ? p->wire_seq + i : 0;
    s->flow_hash = p->flow_hash;
    s->vni = p->vni;
    s->in_port = p->in_port;
    s->out_port = p->out_port;
    s->remote = p->remote;
    s->l3_off = static_cast<uint8_t>(l.l3_off);
    s->l4_off = static_cast<uint8_t>(l.l4_off);
    s->l4_proto = l.l4_proto;
    s->flags = l.ipv6 ? kPktFlagIpv6 : 0;
  }
  p->gso_segs = static_cast<uint16_t>(nsegs);
  return kNext;
}

}  // namespace mflow

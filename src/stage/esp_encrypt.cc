#include "stage/esp_encrypt.h"

#include <array>
#include <cstring>

#include "common/clock.h"
#include "esp/esp_codec.h"
#include "packet/pool.h"
#include "stage/esp_outer.h"
#include "wire/vxlan.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, EspEncrypt::kNumDrops> kDropNames = {
    "no_headroom", "no_tailroom",     "seq_exhausted",   "train",           "too_big",
    "cipher_error", "unnumbered",     "bad_outer",       "flood_no_buffer",
    "flood_limited"};
static_assert(esp::kEspEncapDropNames.size() == 6);

// The inner UDP 4789 header of the protected datagram (socket underlay):
// source port from the flow hash as the kernel would pick it, checksum 0
// over IPv4 (RFC 7348 5), computed over IPv6 with the outer addresses
// (transport mode: the receiver checks it against the outer header).
bool PrependInnerUdp(Packet* p, const wire::IpAddr& local, const wire::IpAddr& remote) {
  const uint32_t udp_len = p->frame_len() + sizeof(wire::UdpHeader);
  uint8_t* o = p->Prepend(sizeof(wire::UdpHeader));
  if (o == nullptr) return false;
  wire::UdpHeader udp{};
  udp.src_port.set(static_cast<uint16_t>(49152 + (p->flow_hash & 0x3fff)));
  udp.dst_port.set(wire::kVxlanPort);
  udp.length.set(static_cast<uint16_t>(udp_len));
  std::memcpy(o, &udp, sizeof udp);
  if (remote.is_v6()) {
    wire::Ipv6Header ip{};
    std::memcpy(ip.src.data(), local.bytes, 16);
    std::memcpy(ip.dst.data(), remote.bytes, 16);
    std::array<wire::ChecksumPiece, 1 + kMaxFrags> pieces;
    pieces[0] = {o, p->len};
    for (uint16_t f = 0; f < p->nfrags; ++f) pieces[1u + f] = {p->frags[f].data, p->frags[f].len};
    uint16_t c = wire::ChecksumFinish(wire::ChecksumSg(
        pieces.data(), 1u + p->nfrags, wire::PseudoHeaderSumV6(&ip, wire::kIpProtoUdp, udp_len)));
    if (c == 0) c = 0xffff;
    std::memcpy(o + 6, &c, 2);
  }
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<EspEncrypt>> EspEncrypt::Create(const EspEncryptConfig& cfg) {
  if (cfg.table == nullptr) return Status::Error("esp_encrypt: an SA table is required");
  return std::unique_ptr<EspEncrypt>(new EspEncrypt(cfg));
}

std::span<const std::string_view> EspEncrypt::drop_reasons() const { return kDropNames; }

void EspEncrypt::Process(Batch& b, StageContext& ctx) noexcept {
  ctx.counters->in += b.n;
  Packet* out[kMaxBatch];
  uint32_t n = 0;
  for (uint32_t i = 0; i < b.n; ++i) {
    Packet* p = b.pkts[i];
    const bool copies =
        MFLOW_UNLIKELY(p->out_port == kPortFlood) && cfg_.vxlan_only && !cfg_.table->empty();
    if (copies && cfg_.flood_limiter != nullptr && p->in_port != kPortNone) {
      // Charged once, here, for the plain flood and all its copies.
      if (!cfg_.flood_limiter->Allow(p->in_port, MonotonicNs())) {
        ctx.Drop(p, kFloodLimited);
        continue;
      }
      p->flags |= kPktFlagFloodAdmitted;
    }
    const int edge = Handle(p, ctx);
    if (MFLOW_UNLIKELY(edge != kNext)) {
      ctx.Drop(p, static_cast<uint32_t>(edge));
      continue;
    }
    out[n++] = p;
    if (copies)
      CopyFlood(p, ctx, out, &n, kMaxBatch - (b.n - 1 - i));  // room for the rest kept
  }
  std::memcpy(b.pkts, out, n * sizeof(Packet*));
  b.n = n;
  ctx.counters->out += n;
}

// One buffer from ctx.pool with f's metadata for peer and f's number, and,
// unless f is a TSO carrier (whose copy only carries a train), a flat copy
// of frame f (its fragments too); nullptr when there is none big enough.
Packet* EspEncrypt::CopyFor(const Packet* f, const wire::IpAddr& peer, StageContext& ctx) noexcept {
  Packet* c = ctx.pool != nullptr ? ctx.pool->Alloc() : nullptr;
  if (c != nullptr && !f->is_train() && c->tailroom() < f->frame_len() + 64) {
    PacketFree(c);
    c = nullptr;
  }
  if (c == nullptr) return nullptr;
  c->len = f->is_train() ? 0 : f->Flatten(c->data, c->tailroom());
  c->seq = f->seq;
  c->flow_hash = f->flow_hash;
  c->vni = f->vni;
  c->in_port = f->in_port;
  c->out_port = kPortNone;  // a unicast to this peer
  c->remote = peer;
  c->wire_seq = f->wire_seq;
  c->flags = kPktFlagCopy;
  return c;
}

void EspEncrypt::CopyFlood(Packet* p, StageContext& ctx, Packet** out, uint32_t* n,
                           uint32_t cap) noexcept {
  for (uint32_t slot = 0; slot < esp::EspSaTable::kMaxOutbound; ++slot) {
    esp::EspSaTable::Outbound* sa = cfg_.table->outbound(slot);
    if (sa == nullptr) continue;
    if (*n >= cap) {
      ++ctx.counters->drops[kFloodNoBuffer];
      continue;
    }
    // A TSO carrier (the first frames to an unknown MAC can be a super-frame
    // of a container's TCP): a carrier of its own whose train holds a sealed
    // copy of each segment, under the segment's number, so that the port
    // sends them as it sends the original's.
    Packet* c = CopyFor(p, sa->peer, ctx);
    if (c == nullptr) {
      ++ctx.counters->drops[kFloodNoBuffer];
      continue;
    }
    int edge = kNext;
    if (!p->is_train()) {
      edge = Seal(c, ctx);
    } else {
      Packet** tail = &c->segs;
      for (const Packet* s = p->segs; s != nullptr && edge == kNext; s = s->seg_next) {
        Packet* d = CopyFor(s, sa->peer, ctx);
        if (d == nullptr) {
          edge = kFloodNoBuffer;
          break;
        }
        *tail = d;  // freed with the carrier from here on
        tail = &d->seg_next;
        ++c->nsegs;
        edge = Seal(d, ctx);
      }
    }
    if (edge != kNext) {
      ctx.Drop(c, static_cast<uint32_t>(edge));
      continue;
    }
    out[(*n)++] = c;
  }
}

int EspEncrypt::Handle(Packet* p, StageContext& ctx) noexcept {
  // Hairpin frames never leave the host; with no SA at all nothing to do.
  if (p->out_port != kPortNone && p->out_port != kPortFlood) return kNext;
  if (cfg_.table->empty()) return kNext;
  if (MFLOW_LIKELY(!p->is_train())) return Seal(p, ctx);
  for (Packet* s = p->segs; s != nullptr; s = s->seg_next) {
    const int edge = Seal(s, ctx);
    if (edge != kNext) return edge;
  }
  return kNext;
}

int EspEncrypt::Seal(Packet* p, StageContext& ctx) noexcept {
  wire::IpAddr remote = p->remote;
  esp_outer::Outer outer;
  if (!cfg_.vxlan_only) {
    if (!esp_outer::Read(p, &outer)) return kBadOuter;
    // The frame's destination: the outer IP header vxlan_encap wrote.
    remote = wire::IpAddr{};
    remote.family = outer.v6 ? 6 : 4;
    std::memcpy(remote.bytes, outer.bytes + esp_outer::kEth + (outer.v6 ? 24 : 16), outer.v6 ? 16 : 4);
  }
  esp::EspSaTable::Outbound* sa = cfg_.table->FindOutbound(remote);
  if (sa == nullptr) return kNext;  // a plain peer
  // Unnumbered, or numbered more than kSeqInFlight before this SA's install.
  if (p->wire_seq <= sa->seq_base) return kUnnumbered;
  const uint64_t seq = p->wire_seq - sa->seq_base;
  if (MFLOW_UNLIKELY(ctx.worker >= sa->seal.size())) return esp::kEspEncapCipherError;
  if (cfg_.vxlan_only) {
    if (!PrependInnerUdp(p, cfg_.local_ip, remote)) return esp::kEspNoHeadroom;
    const int r = esp::EspEncrypt(p, sa->sa, sa->seal[ctx.worker], seq);
    if (r != esp::kEspOk) return r;
    p->flags |= kPktFlagEsp;
    return kNext;
  }
  p->Adj(outer.len);
  int r = esp::EspEncrypt(p, sa->sa, sa->seal[ctx.worker], seq);
  if (r == esp::kEspOk) r = esp::EspUdpPrepend(p, esp::kEspUdpPort, esp::kEspUdpPort);
  if (r != esp::kEspOk) return r;
  if (!esp_outer::Write(p, outer, true)) return esp::kEspNoHeadroom;
  p->flags |= kPktFlagEsp;
  return kNext;
}

}  // namespace mflow

#include "stage/esp_decrypt.h"

#include <array>
#include <cstring>

#include "esp/esp_codec.h"
#include "stage/esp_outer.h"
#include "wire/vxlan.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, EspDecrypt::kNumDrops> kDropNames = {
    "nat_keepalive",   "non_esp_marker", "truncated",     "not_linear",     "unknown_spi",
    "left_of_window",  "replayed",       "bad_icv",       "bad_pad_length", "bad_padding",
    "bad_next_header", "cipher_error",   "plain_from_esp_peer", "bad_inner_udp"};
static_assert(esp::kEspDropNames.size() == 12);

int Verdict(esp::ReplayVerdict v) {
  switch (v) {
    case esp::ReplayVerdict::kOk: return kNext;
    case esp::ReplayVerdict::kReplayed: return esp::kEspReplayed;
    case esp::ReplayVerdict::kLeftOfWindow: return esp::kEspLeftOfWindow;
  }
  return esp::kEspReplayed;
}

}  // namespace

StatusOr<std::unique_ptr<EspDecrypt>> EspDecrypt::Create(const EspDecryptConfig& cfg) {
  if (cfg.table == nullptr) return Status::Error("esp_decrypt: an SA table is required");
  return std::unique_ptr<EspDecrypt>(new EspDecrypt(cfg));
}

std::span<const std::string_view> EspDecrypt::drop_reasons() const { return kDropNames; }

int EspDecrypt::Open(Packet* p, StageContext& ctx) noexcept {
  if (const int shape = esp::EspCheckShape(p); shape != esp::kEspOk) return shape;
  esp::EspSaTable::Inbound* e = cfg_.table->FindInbound(esp::EspPeekSpi(p));
  if (e == nullptr) return esp::kEspUnknownSpi;
  if (MFLOW_UNLIKELY(ctx.worker >= e->open.size())) return esp::kEspCipherError;
  uint64_t seq = 0;
  // Without replay protection (benchmarks) an empty window, never updated.
  static const esp::ReplayWindow kNoWindow;
  const bool replay = cfg_.table->replay_protection();
  const int r =
      esp::EspDecrypt(p, e->sa, e->open[ctx.worker], replay ? e->window : kNoWindow, &seq);
  if (r != esp::kEspOk) return r;
  // The protected datagram must be VXLAN's, whole.
  if (p->len < sizeof(wire::UdpHeader)) return kBadInnerUdp;
  wire::UdpHeader udp;
  std::memcpy(&udp, p->data, sizeof udp);
  if (udp.dst_port.host() != wire::kVxlanPort || udp.length.host() != p->len) return kBadInnerUdp;
  p->wire_seq = seq;
  p->esp_slot = replay ? static_cast<uint8_t>(cfg_.table->SlotOf(e) + 1) : 0;
  if (e->peer.family != 0) p->remote = e->peer;  // learn behind the authenticated peer
  return kNext;
}

int EspDecrypt::Handle(Packet* p, StageContext& ctx) noexcept {
  if (cfg_.vxlan_only) {
    if ((p->flags & kPktFlagEsp) == 0)
      return cfg_.table->IsEspPeer(p->remote) ? static_cast<int>(kPlainFromEspPeer) : kNext;
    const int r = Open(p, ctx);
    if (r != kNext) return r;
    p->Adj(sizeof(wire::UdpHeader));  // Open checked the length
    p->flags &= static_cast<uint8_t>(~kPktFlagEsp);
    return kNext;
  }
  if (cfg_.table->empty()) return kNext;
  esp_outer::Outer outer;
  uint16_t dport = 0;
  wire::IpAddr src;
  // Not the plain shape: outer_validate names what is wrong with it.
  if (!esp_outer::Read(p, &outer, &dport, &src)) return kNext;
  if (dport != esp::kEspUdpPort) return cfg_.table->IsEspPeer(src) ? static_cast<int>(kPlainFromEspPeer) : kNext;
  p->Adj(outer.len);
  if (const int r = esp::EspUdpStrip(p); r != esp::kEspOk) return r;
  const int r = Open(p, ctx);
  if (r != kNext) return r;
  esp_outer::Write(p, outer, false);  // decryption only shrank the frame: the headroom is there
  p->remote = wire::IpAddr{};  // outer_validate sets it from the header
  return kNext;
}

void EspDecrypt::Release(Batch& b, StageContext& ctx) noexcept {
  // One lock held over a run of packets of one SA (one SA is one flow at the
  // split point, so a batch is usually one run).
  esp::EspSaTable::Inbound* locked = nullptr;
  auto record = [&](Packet* q) -> int {
    if (q->esp_slot == 0) return kNext;
    esp::EspSaTable::Inbound* e = &cfg_.table->inbound(q->esp_slot - 1u);
    q->esp_slot = 0;
    if (e != locked) {
      if (locked != nullptr) locked->Unlock();
      e->Lock();
      locked = e;
    }
    return Verdict(e->window.Update(q->wire_seq));
  };
  uint32_t kept = 0;
  for (uint32_t i = 0; i < b.n; ++i) {
    Packet* p = b.pkts[i];
    int edge = record(p);
    // A coalesced frame holds the packets it absorbed: each was decrypted
    // on its own and is recorded; one refused refuses the frame.
    for (Packet* c = p->chain; c != nullptr; c = c->chain_next) {
      const int e = record(c);
      if (edge == kNext) edge = e;
    }
    if (MFLOW_LIKELY(edge == kNext))
      b.pkts[kept++] = p;
    else
      ctx.Drop(p, static_cast<uint32_t>(edge));
  }
  if (locked != nullptr) locked->Unlock();
  b.n = kept;
}

}  // namespace mflow

#include "esp/esp_sa_table.h"

#include <string>

#include "common/clock.h"

namespace mflow::esp {
namespace {

// A slot that may be (re)filled: never live, or retired long enough ago.
template <typename Slot>
bool Reusable(const Slot& s, uint64_t now_ms) {
  return !s.live.load(std::memory_order_relaxed) &&
         (s.retired_ms == 0 || now_ms - s.retired_ms >= EspSaTable::kSlotQuietMs);
}

StatusOr<std::vector<AesGcm>> Contexts(const EspSa& sa, AesGcm::Direction dir, uint32_t n) {
  std::vector<AesGcm> v;
  v.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    StatusOr<AesGcm> c = AesGcm::Create(sa.key_bytes(), dir);
    if (!c.ok()) return c.status();
    v.push_back(std::move(c.value()));
  }
  return v;
}

}  // namespace

StatusOr<std::unique_ptr<EspSaTable>> EspSaTable::Create(uint32_t workers) {
  if (workers == 0 || workers > 64)
    return Status::Error("esp sa table: workers must be 1..64, got " + std::to_string(workers));
  return std::unique_ptr<EspSaTable>(new EspSaTable(workers));
}

Status EspSaTable::AddInbound(const wire::IpAddr& peer, const EspSa& sa) {
  const std::string where = "esp inbound sa spi " + SpiText(sa.spi) + ": ";
  if (sa.spi == 0) return Status::Error(where + "spi 0 is reserved");
  if (FindInbound(sa.spi) != nullptr) return Status::Error(StatusCode::kExists, where + "exists");
  const uint64_t now = CoarseMs();
  for (Inbound& s : in_) {
    if (!Reusable(s, now)) continue;
    auto ctx = Contexts(sa, AesGcm::Direction::kOpen, workers_);
    if (!ctx.ok()) return ctx.status().Prefixed(where);
    s.sa = sa;
    s.peer = peer;
    s.window = ReplayWindow{};
    s.open = std::move(ctx).value();
    s.lock.store(false, std::memory_order_relaxed);
    // Release: a worker that finds the slot live sees it filled.
    s.live.store(true, std::memory_order_release);
    CountPeers();
    return Status::Ok();
  }
  return Status::Error(where + "no free slot (" + std::to_string(kMaxInbound) +
                       " inbound SAs, removed ones free after " +
                       std::to_string(kSlotQuietMs / 1000) + " s)");
}

Status EspSaTable::RemoveInbound(uint32_t spi) {
  Inbound* s = FindInbound(spi);
  if (s == nullptr)
    return Status::Error(StatusCode::kNotFound, "esp inbound sa spi " + SpiText(spi) + ": not found");
  s->live.store(false, std::memory_order_release);
  s->retired_ms = CoarseMs();
  CountPeers();
  return Status::Ok();
}

Status EspSaTable::SetOutbound(const wire::IpAddr& peer, const EspSa& sa) {
  const std::string where = "esp outbound sa for " + peer.ToString() + ": ";
  if (sa.spi == 0) return Status::Error(where + "spi 0 is reserved");
  Outbound* old = FindOutbound(peer);
  const uint64_t now = CoarseMs();
  for (Outbound& s : out_) {
    if (!Reusable(s, now)) continue;
    auto ctx = Contexts(sa, AesGcm::Direction::kSeal, workers_);
    if (!ctx.ok()) return ctx.status().Prefixed(where);
    s.sa = sa;
    s.peer = peer;
    const uint64_t next = tx_seq_.load();
    s.seq_base = next > kSeqInFlight ? next - kSeqInFlight : 0;
    s.seal = std::move(ctx).value();
    s.live.store(true, std::memory_order_release);
    // Make before break: the new SA is live before the old one goes.
    if (old != nullptr) {
      old->live.store(false, std::memory_order_release);
      old->retired_ms = now;
    }
    CountPeers();
    return Status::Ok();
  }
  return Status::Error(where + "no free slot");
}

Status EspSaTable::RemoveOutbound(const wire::IpAddr& peer) {
  Outbound* s = FindOutbound(peer);
  if (s == nullptr)
    return Status::Error(StatusCode::kNotFound, "esp outbound sa for " + peer.ToString() + ": not found");
  s->live.store(false, std::memory_order_release);
  s->retired_ms = CoarseMs();
  CountPeers();
  return Status::Ok();
}

EspSaTable::Inbound* EspSaTable::FindInbound(uint32_t spi) noexcept {
  for (Inbound& s : in_)
    if (s.live.load(std::memory_order_acquire) && s.sa.spi == spi) return &s;
  return nullptr;
}

EspSaTable::Outbound* EspSaTable::FindOutbound(const wire::IpAddr& peer) noexcept {
  for (Outbound& s : out_)
    if (s.live.load(std::memory_order_acquire) && s.peer == peer) return &s;
  return nullptr;
}

bool EspSaTable::IsEspPeer(const wire::IpAddr& addr) noexcept {
  if (empty()) return false;
  for (Inbound& s : in_)
    if (s.live.load(std::memory_order_acquire) && s.peer == addr) return true;
  return FindOutbound(addr) != nullptr;
}

void EspSaTable::CountPeers() {
  uint32_t n = 0;
  for (const Inbound& s : in_) n += s.live.load(std::memory_order_relaxed);
  for (const Outbound& s : out_) n += s.live.load(std::memory_order_relaxed);
  peers_.store(n, std::memory_order_release);
}

uint32_t EspSaTable::FreeInboundSlots() const {
  const uint64_t now = CoarseMs();
  uint32_t n = 0;
  for (const Inbound& s : in_) n += Reusable(s, now);
  return n;
}

uint32_t EspSaTable::FreeOutboundSlots() const {
  const uint64_t now = CoarseMs();
  uint32_t n = 0;
  for (const Outbound& s : out_) n += Reusable(s, now);
  return n;
}

std::vector<uint32_t> EspSaTable::InboundSpis() const {
  std::vector<uint32_t> v;
  for (const Inbound& s : in_)
    if (s.live.load(std::memory_order_acquire)) v.push_back(s.sa.spi);
  return v;
}

std::vector<EspSaTable::OutboundState> EspSaTable::OutboundStates() const {
  std::vector<OutboundState> v;
  const uint64_t counter = tx_seq_.load();
  for (const Outbound& s : out_) {
    if (!s.live.load(std::memory_order_acquire)) continue;
    OutboundState o{s.peer, s.sa.spi, s.sa.esn, counter - s.seq_base, 0};
    constexpr uint64_t kLast32 = 0xffffffffu;
    if (!o.esn) o.seq_left = o.next_seq <= kLast32 ? kLast32 - o.next_seq + 1 : 0;
    v.push_back(o);
  }
  return v;
}

}  // namespace mflow::esp

// tx_seq_ sits alone in its cache line only if the class is aligned to one.
static_assert(alignof(mflow::esp::EspSaTable) == mflow::kCacheLine);

#include "daemon/esp_underlay.h"

#include <poll.h>

#include <algorithm>
#include <cstdio>

#include "packet/batch.h"

namespace mflow::daemon {

void UnderlayPair::InputReady(const pollfd* fds) noexcept {
  auto any = [](const pollfd* f, uint32_t k) {
    for (uint32_t i = 0; i < k; ++i)
      if (f[i].revents != 0) return true;
    return false;
  };
  // A port that gave no descriptor cannot tell: read it.
  vxlan_ready_ = nin_vxlan_ == 0 || any(fds, nin_vxlan_);
  esp_ready_ = nin_esp_ == 0 || any(fds + nin_vxlan_, nin_esp_);
  told_ = true;
}

uint32_t UnderlayPair::RxBurst(Packet** pkts, uint32_t n) noexcept {
  // Only the sockets the engine's poll found ready: with one peer kind busy,
  // each round would otherwise pay an empty recvmmsg on the other socket.
  const bool read_vxlan = !told_ || vxlan_ready_ || vxlan_->Pending();
  const bool read_esp = !told_ || esp_ready_ || esp_->Pending();
  told_ = false;
  // Alternate the order, so a busy socket cannot starve the other.
  esp_first_ = !esp_first_;
  uint32_t got = 0;
  auto esp = [&] {
    if (!read_esp || got == n) return;
    const uint32_t k = esp_->RxBurst(pkts + got, n - got);
    for (uint32_t i = got; i < got + k; ++i) pkts[i]->flags |= kPktFlagEsp;
    got += k;
  };
  if (esp_first_) esp();
  if (read_vxlan && got < n) got += vxlan_->RxBurst(pkts + got, n - got);
  if (!esp_first_) esp();
  return got;
}

uint32_t UnderlayPair::WaitFds(pollfd* fds) noexcept {
  // Each UdpPort waits on 2 descriptors (socket, wake-up): 4 fit kMaxWaitFds.
  nfds_vxlan_ = vxlan_->WaitFds(fds);
  return nfds_vxlan_ + esp_->WaitFds(fds + nfds_vxlan_);
}

void UnderlayPair::AfterWait(const pollfd* fds) noexcept {
  vxlan_->AfterWait(fds);
  esp_->AfterWait(fds + nfds_vxlan_);
}

void UnderlayPair::Interrupt() noexcept {
  vxlan_->Interrupt();
  esp_->Interrupt();
}

void UnderlayPair::TxBurst(Packet** pkts, uint32_t n) noexcept {
  Packet* plain[mflow::kMaxBatch];
  Packet* sealed[mflow::kMaxBatch];
  while (n != 0) {
    const uint32_t m = n < mflow::kMaxBatch ? n : mflow::kMaxBatch;
    uint32_t np = 0, ns = 0;
    for (uint32_t i = 0; i < m; ++i) {
      Packet* p = pkts[i];
      // A TSO carrier is sealed segment by segment: its first one tells.
      const Packet* f = p->is_train() ? p->segs : p;
      if (f != nullptr && (f->flags & kPktFlagEsp) != 0)
        sealed[ns++] = p;
      else
        plain[np++] = p;
    }
    if (np != 0) vxlan_->TxBurst(plain, np);
    if (ns != 0) esp_->TxBurst(sealed, ns);
    pkts += m;
    n -= m;
  }
}

namespace {

std::string Spi(uint32_t spi) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", spi);
  return b;
}

bool SameSa(const esp::EspSa& a, const esp::EspSa& b) {
  return a.spi == b.spi && a.alg == b.alg && a.key == b.key && a.salt == b.salt && a.esn == b.esn;
}

const EspPeerConfig* Find(const std::vector<EspPeerConfig>& v, const wire::IpAddr& peer) {
  for (const EspPeerConfig& e : v)
    if (e.peer == peer) return &e;
  return nullptr;
}

}  // namespace

Status EspKeys::Check(const std::vector<EspPeerConfig>& next) const {
  const std::vector<uint32_t> live = table_->InboundSpis();
  uint32_t new_in = 0, new_out = 0;
  for (const EspPeerConfig& n : next) {
    const std::string where = "underlay.esp (" + n.peer.ToString() + ")";
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && old->in.spi == n.in.spi && !SameSa(old->in, n.in))
      return Status::Error(where + ".in: spi " + Spi(n.in.spi) +
                           " keeps its number with another key or setting; a rekey needs a new "
                           "inbound SPI (both SAs are live during the change)");
    if (old == nullptr || old->in.spi != n.in.spi) {
      for (const Retiring& r : retiring_)
        if (r.spi == n.in.spi)
          return Status::Error(where + ".in: spi " + Spi(n.in.spi) + " is still being retired; pick another");
      // Another peer's live SA (two peers swapping SPIs in one reload).
      if (std::find(live.begin(), live.end(), n.in.spi) != live.end())
        return Status::Error(where + ".in: spi " + Spi(n.in.spi) +
                             " is another peer's live inbound SA; pick another");
      ++new_in;
    }
    if (old == nullptr || !SameSa(old->out, n.out)) ++new_out;
  }
  const auto slots = [](const char* dir, uint32_t need, uint32_t free) {
    return Status::Error("underlay.esp: " + std::to_string(need) + " new " + dir +
                         " SAs, but the table has " + std::to_string(free) +
                         " free slots (replaced SAs free theirs " +
                         std::to_string(esp::EspSaTable::kSlotQuietMs / 1000) +
                         " s after they retire): change fewer peers at once");
  };
  if (const uint32_t f = table_->FreeInboundSlots(); new_in > f) return slots("inbound", new_in, f);
  if (const uint32_t f = table_->FreeOutboundSlots(); new_out > f) return slots("outbound", new_out, f);
  return Status::Ok();
}

Status EspKeys::Apply(const std::vector<EspPeerConfig>& next, uint64_t now_ms,
                      std::vector<std::string>* what) {
  // Check first, so that a refusal changes nothing.
  if (Status s = Check(next); !s.ok()) return s;
  // What this call changed, to undo it if the table fails a step after all.
  std::vector<uint32_t> added;
  std::vector<const EspPeerConfig*> switched;  // old configs whose outbound SA was replaced
  std::vector<wire::IpAddr> created;           // peers that had no outbound SA
  const auto undo = [&](Status s) {
    for (const EspPeerConfig* o : switched) (void)table_->SetOutbound(o->peer, o->out);
    for (const wire::IpAddr& p : created) (void)table_->RemoveOutbound(p);
    for (uint32_t spi : added) (void)table_->RemoveInbound(spi);
    return s;
  };
  std::vector<std::string> lines;
  // 1. New inbound SAs, accepted before anyone sends with them.
  for (const EspPeerConfig& n : next) {
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && old->in.spi == n.in.spi) continue;
    if (Status s = table_->AddInbound(n.peer, n.in); !s.ok()) return undo(s);
    added.push_back(n.in.spi);
    lines.push_back("esp " + n.peer.ToString() + ": inbound spi " + Spi(n.in.spi) + " added");
  }
  // 2. Outbound switched. Check left a free slot for each, so only the
  //    crypto library can fail here; putting an old SA back then needs a
  //    slot too, and is best effort (its numbering restarts).
  for (const EspPeerConfig& n : next) {
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && SameSa(old->out, n.out)) continue;
    if (Status s = table_->SetOutbound(n.peer, n.out); !s.ok()) return undo(s);
    if (old != nullptr)
      switched.push_back(old);
    else
      created.push_back(n.peer);
    lines.push_back("esp " + n.peer.ToString() + ": outbound spi " + Spi(n.out.spi));
  }
  // 3. Old inbound SAs (replaced, or of peers no longer encrypted) retire
  //    after the grace period; outbound SAs of removed peers go now. Nothing
  //    here fails.
  for (const EspPeerConfig& o : now_) {
    const EspPeerConfig* n = Find(next, o.peer);
    if (n == nullptr || n->in.spi != o.in.spi) {
      retiring_.push_back({o.in.spi, now_ms + kGraceMs});
      lines.push_back("esp " + o.peer.ToString() + ": inbound spi " + Spi(o.in.spi) +
                      " retires in " + std::to_string(kGraceMs / 1000) + " s");
    }
    if (n == nullptr) {
      (void)table_->RemoveOutbound(o.peer);
      lines.push_back("esp " + o.peer.ToString() + ": no longer encrypted");
    }
  }
  now_ = next;
  what->insert(what->end(), lines.begin(), lines.end());
  return Status::Ok();
}

void EspKeys::Expire(uint64_t now_ms, std::vector<std::string>* what) {
  for (size_t i = 0; i < retiring_.size();) {
    if (now_ms < retiring_[i].at_ms) {
      ++i;
      continue;
    }
    (void)table_->RemoveInbound(retiring_[i].spi);
    what->push_back("esp: inbound spi " + Spi(retiring_[i].spi) + " removed");
    retiring_.erase(retiring_.begin() + static_cast<long>(i));
  }
}

std::vector<wire::IpAddr> PlainPeers(const std::vector<wire::IpAddr>& peers,
                                     const std::vector<EspPeerConfig>& esp) {
  std::vector<wire::IpAddr> out;
  for (const wire::IpAddr& p : peers)
    if (Find(esp, p) == nullptr) out.push_back(p);
  return out;
}

std::vector<wire::IpAddr> EspPeers(const std::vector<EspPeerConfig>& esp) {
  std::vector<wire::IpAddr> out;
  for (const EspPeerConfig& e : esp) out.push_back(e.peer);
  return out;
}

}  // namespace mflow::daemon

#include "daemon/esp_underlay.h"

#include <poll.h>

#include <cstdio>

#include "packet/batch.h"

namespace mflow::daemon {

uint32_t UnderlayPair::RxBurst(Packet** pkts, uint32_t n) noexcept {
  // Alternate the order, so a busy socket cannot starve the other.
  esp_first_ = !esp_first_;
  uint32_t got = 0;
  auto read_esp = [&] {
    const uint32_t k = esp_->RxBurst(pkts + got, n - got);
    for (uint32_t i = got; i < got + k; ++i) pkts[i]->flags |= kPktFlagEsp;
    got += k;
  };
  if (esp_first_) read_esp();
  if (got < n) got += vxlan_->RxBurst(pkts + got, n - got);
  if (!esp_first_ && got < n) read_esp();
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

Status EspKeys::Apply(const std::vector<EspPeerConfig>& next, uint64_t now_ms,
                      std::vector<std::string>* what) {
  // Check first, so that a refusal changes nothing.
  for (const EspPeerConfig& n : next) {
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && old->in.spi == n.in.spi && !SameSa(old->in, n.in))
      return Status::Error("underlay.esp (" + n.peer.ToString() + ").in: spi " + Spi(n.in.spi) +
                           " keeps its number with another key or setting; a rekey needs a new "
                           "inbound SPI (both SAs are live during the change)");
    if (old == nullptr || old->in.spi != n.in.spi)
      for (const Retiring& r : retiring_)
        if (r.spi == n.in.spi)
          return Status::Error("underlay.esp (" + n.peer.ToString() + ").in: spi " + Spi(n.in.spi) +
                               " is still being retired; pick another");
  }
  // 1. New inbound SAs, accepted before anyone sends with them.
  for (const EspPeerConfig& n : next) {
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && old->in.spi == n.in.spi) continue;
    if (Status s = table_->AddInbound(n.peer, n.in); !s.ok()) return s;
    what->push_back("esp " + n.peer.ToString() + ": inbound spi " + Spi(n.in.spi) + " added");
  }
  // 2. Outbound switched.
  for (const EspPeerConfig& n : next) {
    const EspPeerConfig* old = Find(now_, n.peer);
    if (old != nullptr && SameSa(old->out, n.out)) continue;
    if (Status s = table_->SetOutbound(n.peer, n.out); !s.ok()) return s;
    what->push_back("esp " + n.peer.ToString() + ": outbound spi " + Spi(n.out.spi));
  }
  // 3. Old inbound SAs (replaced, or of peers no longer encrypted) retire
  //    after the grace period; outbound SAs of removed peers go now.
  for (const EspPeerConfig& o : now_) {
    const EspPeerConfig* n = Find(next, o.peer);
    if (n == nullptr || n->in.spi != o.in.spi) {
      retiring_.push_back({o.in.spi, now_ms + kGraceMs});
      what->push_back("esp " + o.peer.ToString() + ": inbound spi " + Spi(o.in.spi) +
                      " retires in " + std::to_string(kGraceMs / 1000) + " s");
    }
    if (n == nullptr) {
      (void)table_->RemoveOutbound(o.peer);
      what->push_back("esp " + o.peer.ToString() + ": no longer encrypted");
    }
  }
  now_ = next;
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

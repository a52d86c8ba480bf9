#include "esp/esp_endpoint.h"

#include <string>

namespace mflow::esp {

Status EspInbound::AddSa(const EspSa& sa) {
  if (Find(sa.spi) != nullptr) {
    return Status::Error(StatusCode::kExists, "esp inbound sa spi " + SpiText(sa.spi) + ": exists");
  }
  StatusOr<AesGcm> open = AesGcm::Create(sa.key_bytes(), AesGcm::Direction::kOpen);
  if (!open.ok()) return open.status().Prefixed("esp inbound sa spi " + SpiText(sa.spi) + ": ");
  sas_.push_back(std::make_unique<Entry>(Entry{sa, std::move(open.value()), ReplayWindow{}}));
  return Status::Ok();
}

Status EspInbound::RemoveSa(uint32_t spi) {
  for (auto it = sas_.begin(); it != sas_.end(); ++it) {
    if ((*it)->sa.spi == spi) {
      sas_.erase(it);
      return Status::Ok();
    }
  }
  return Status::Error(StatusCode::kNotFound, "esp inbound sa spi " + SpiText(spi) + ": not found");
}

EspInbound::Entry* EspInbound::Find(uint32_t spi) noexcept {
  for (auto& e : sas_) {
    if (e->sa.spi == spi) return e.get();
  }
  return nullptr;
}

ReplayWindow* EspInbound::window(uint32_t spi) {
  Entry* e = Find(spi);
  return e ? &e->window : nullptr;
}

int EspInbound::Decap(Packet* p, uint64_t* seq) noexcept {
  int r = EspCheckShape(p);
  Entry* e = r == kEspOk ? Find(EspPeekSpi(p)) : nullptr;
  if (r != kEspOk) {
    // too short, a keepalive, an IKE marker: named by the codec
  } else if (e == nullptr) {
    r = kEspUnknownSpi;
  } else {
    uint64_t s = 0;
    r = EspDecrypt(p, e->sa, e->open, e->window, &s);
    if (r == kEspOk) {
      // Only now, with the ICV verified, may the window move.
      switch (e->window.Update(s)) {
        case ReplayVerdict::kOk: *seq = s; break;
        case ReplayVerdict::kReplayed: r = kEspReplayed; break;
        case ReplayVerdict::kLeftOfWindow: r = kEspLeftOfWindow; break;
      }
    }
  }
  if (r == kEspOk) {
    ++delivered_;
  } else {
    ++drops_[static_cast<uint32_t>(r)];
  }
  return r;
}

StatusOr<EspOutbound> EspOutbound::Create(const EspSa& sa) {
  StatusOr<AesGcm> seal = AesGcm::Create(sa.key_bytes(), AesGcm::Direction::kSeal);
  if (!seal.ok()) return seal.status().Prefixed("esp outbound sa spi " + SpiText(sa.spi) + ": ");
  return EspOutbound(sa, std::move(seal.value()));
}

int EspOutbound::Encap(Packet* p) noexcept {
  const int r = EspEncrypt(p, sa_, seal_, next_seq_);
  if (r == kEspOk) {
    ++next_seq_;
  } else {
    ++drops_[static_cast<uint32_t>(r)];
  }
  return r;
}

}  // namespace mflow::esp

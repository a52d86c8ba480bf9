#include "esp/esp_codec.h"

#include <cstring>

#include "common/compiler.h"
#include "wire/udp.h"

namespace mflow::esp {
namespace {

void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint32_t LoadBe32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// AAD per RFC 4106 section 5; returns its length (8 or 12).
uint32_t MakeAad(uint8_t aad[12], uint32_t spi, uint64_t seq, bool esn) {
  StoreBe32(aad, spi);
  if (esn) {
    StoreBe32(aad + 4, static_cast<uint32_t>(seq >> 32));
    StoreBe32(aad + 8, static_cast<uint32_t>(seq));
    return 12;
  }
  StoreBe32(aad + 4, static_cast<uint32_t>(seq));
  return 8;
}

void MakeNonce(uint8_t nonce[kGcmNonceLen], const EspSa& sa, const uint8_t* iv) {
  std::memcpy(nonce, sa.salt.data(), 4);
  std::memcpy(nonce + 4, iv, kEspIvLen);
}

}  // namespace

int EspEncrypt(Packet* p, const EspSa& sa, AesGcm& seal, uint64_t seq,
               uint8_t next_header) noexcept {
  if (p->is_train()) return kEspTrain;
  if (seq == 0 || (!sa.esn && seq > 0xffffffffu)) return kEspSeqExhausted;
  const uint32_t frag_bytes = p->frag_bytes();
  const uint64_t payload = uint64_t{p->len} + frag_bytes;
  // ESP payload (IV, data, padding, trailer) aligned to 4 bytes.
  const uint32_t pad = static_cast<uint32_t>((4 - (payload + kEspTrailerLen) % 4) % 4);
  const uint64_t total = kEspPrefixLen + payload + pad + kEspTrailerLen + kEspIcvLen;
  if (total > 65535 - 8) return kEspTooBig;  // must fit one UDP datagram
  if (p->headroom() < kEspPrefixLen) return kEspNoHeadroom;
  if (p->tailroom() < frag_bytes + pad + kEspTrailerLen + kEspIcvLen) return kEspNoTailroom;

  uint8_t* const body = p->data;
  uint8_t* const frag_out = body + p->len;            // fragments' ciphertext lands here
  uint8_t* const trailer = frag_out + frag_bytes;     // padding, pad length, next header
  for (uint32_t i = 0; i < pad; ++i) trailer[i] = static_cast<uint8_t>(i + 1);
  trailer[pad] = static_cast<uint8_t>(pad);
  trailer[pad + 1] = next_header;

  uint8_t* const hdr = body - kEspPrefixLen;
  StoreBe32(hdr, sa.spi);
  StoreBe32(hdr + 4, static_cast<uint32_t>(seq));
  StoreBe32(hdr + 8, static_cast<uint32_t>(seq >> 32));  // explicit IV = 64-bit seq
  StoreBe32(hdr + 12, static_cast<uint32_t>(seq));

  uint8_t nonce[kGcmNonceLen];
  MakeNonce(nonce, sa, hdr + kEspHeaderLen);
  uint8_t aad[12];
  const uint32_t aad_len = MakeAad(aad, sa.spi, seq, sa.esn);
  bool ok = seal.BeginSeal(nonce) && seal.Aad(aad, aad_len);
  if (p->nfrags == 0) {
    // Linear: the trailer follows the data, so one call covers both.
    ok = ok && seal.Update(body, body, p->len + pad + kEspTrailerLen);
  } else {
    ok = ok && seal.Update(body, body, p->len);
    uint8_t* out = frag_out;
    for (uint16_t i = 0; ok && i < p->nfrags; ++i) {
      ok = seal.Update(p->frags[i].data, out, p->frags[i].len);
      out += p->frags[i].len;
    }
    ok = ok && seal.Update(trailer, trailer, pad + kEspTrailerLen);
  }
  ok = ok && seal.SealFinish(trailer + pad + kEspTrailerLen);
  if (MFLOW_UNLIKELY(!ok)) return kEspEncapCipherError;

  // The fragments' bytes now live (encrypted) in the linear part; what
  // they pointed at stays owned by p (chain/parent) and is freed with it.
  p->nfrags = 0;
  p->data = hdr;
  p->len = static_cast<uint32_t>(total);
  return kEspOk;
}

uint32_t EspPeekSpi(const Packet* p) noexcept {
  return p->len >= kEspHeaderLen ? LoadBe32(p->data) : 0;
}

int EspCheckShape(const Packet* p) noexcept {
  if (p->nfrags != 0) return kEspNotLinear;
  if (p->len == 1 && p->data[0] == 0xff) return kEspNatKeepalive;
  if (p->len >= 4 && LoadBe32(p->data) == 0) return kEspNonEspMarker;
  if (p->len < kEspMinLen) return kEspTruncated;
  return kEspOk;
}

int EspDecrypt(Packet* p, const EspSa& sa, AesGcm& open, const ReplayWindow& window,
               uint64_t* seq) noexcept {
  if (const int shape = EspCheckShape(p); shape != kEspOk) return shape;
  uint8_t* const hdr = p->data;
  const uint32_t seq_lo = LoadBe32(hdr + 4);
  const uint64_t full = sa.esn ? window.Reconstruct(seq_lo) : seq_lo;
  // Before the decryption, so that a replay flood costs no AES.
  switch (window.Check(full)) {
    case ReplayVerdict::kOk: break;
    case ReplayVerdict::kReplayed: return kEspReplayed;
    case ReplayVerdict::kLeftOfWindow: return kEspLeftOfWindow;
  }

  uint8_t* const body = hdr + kEspPrefixLen;
  const uint32_t body_len = p->len - kEspPrefixLen - kEspIcvLen;  // ciphertext incl. trailer
  const uint8_t* const icv = body + body_len;
  uint8_t nonce[kGcmNonceLen];
  MakeNonce(nonce, sa, hdr + kEspHeaderLen);
  uint8_t aad[12];
  const uint32_t aad_len = MakeAad(aad, LoadBe32(hdr), full, sa.esn);
  if (MFLOW_UNLIKELY(!open.BeginOpen(nonce, icv) || !open.Aad(aad, aad_len) ||
                     !open.Update(body, body, body_len))) {
    return kEspCipherError;
  }
  if (!open.OpenFinish()) return kEspBadIcv;

  const uint8_t pad = body[body_len - 2];
  const uint8_t nh = body[body_len - 1];
  if (uint32_t{pad} + kEspTrailerLen > body_len) return kEspBadPadLength;
  const uint32_t data_len = body_len - kEspTrailerLen - pad;
  for (uint32_t i = 0; i < pad; ++i) {
    if (body[data_len + i] != static_cast<uint8_t>(i + 1)) return kEspBadPadding;
  }
  if (nh != kNextHeaderUdp) return kEspBadNextHeader;
  p->data = body;
  p->len = data_len;
  *seq = full;
  return kEspOk;
}

int EspUdpPrepend(Packet* p, uint16_t src_port, uint16_t dst_port) noexcept {
  const uint32_t udp_len = p->frame_len() + sizeof(wire::UdpHeader);
  uint8_t* o = p->Prepend(sizeof(wire::UdpHeader));
  if (o == nullptr) return kEspNoHeadroom;
  wire::UdpHeader udp{};
  udp.src_port.set(src_port);
  udp.dst_port.set(dst_port);
  udp.length.set(static_cast<uint16_t>(udp_len));
  std::memcpy(o, &udp, sizeof udp);
  return kEspOk;
}

int EspUdpStrip(Packet* p) noexcept {
  if (p->nfrags != 0) return kEspNotLinear;
  if (p->len < sizeof(wire::UdpHeader)) return kEspTruncated;
  wire::UdpHeader udp;
  std::memcpy(&udp, p->data, sizeof udp);
  const uint32_t udp_len = udp.length.host();
  if (udp_len < sizeof(wire::UdpHeader) || udp_len > p->len) return kEspTruncated;
  p->len = udp_len;
  p->Adj(sizeof(wire::UdpHeader));
  return kEspOk;
}

}  // namespace mflow::esp

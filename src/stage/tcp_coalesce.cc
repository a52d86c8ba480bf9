#include "stage/tcp_coalesce.h"

#include <cstring>
#include <string>

#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

namespace mflow {
namespace {

uint16_t Be16At(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32At(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void PutBe16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

constexpr uint32_t kIpv4HeaderLen = sizeof(wire::Ipv4Header);
constexpr uint32_t kIpv6HeaderLen = sizeof(wire::Ipv6Header);
constexpr uint32_t kTcpHeaderLen = sizeof(wire::TcpHeader);

}  // namespace

// What a packet contributes to a run; only for packets that may join one.
struct TcpCoalesce::Seg {
  uint32_t l3_len;   // IP header bytes (20 or 40: no options/extensions)
  uint32_t tcp_len;  // TCP header bytes, options included
  uint32_t payload;  // TCP payload bytes, > 0
  uint32_t seq;
  uint8_t tcp_flags;
};

// The run being built: its head, what every member must match, and where
// the next segment has to start.
struct TcpCoalesce::Run {
  Packet* head = nullptr;
  Packet* tail = nullptr;  // last packet on head->chain
  Seg first{};
  uint32_t next_seq = 0;
  uint32_t total = 0;  // payload bytes of all members
  uint32_t count = 0;
  bool closed = false;  // PSH or a short segment joined: nothing may follow
  bool psh = false;
};

// Fills s when p is a TCP segment that may be part of a run.
bool TcpCoalesce::Describe(const Packet* p, Seg* s) noexcept {
  if (p->l4_proto != wire::kIpProtoTcp || p->l3_off == 0 || (p->flags & kPktFlagL4CsumOk) == 0 ||
      p->nfrags != 0 || p->gso_size != 0 || p->chain != nullptr || p->segs != nullptr)
    return false;
  const bool v6 = (p->flags & kPktFlagIpv6) != 0;
  s->l3_len = v6 ? kIpv6HeaderLen : kIpv4HeaderLen;
  // The offsets come from InnerChecksum, but this stage's memory safety must
  // not depend on which stage ran before it: the fixed IP and TCP headers are
  // checked to lie inside the frame before any byte of them is read.
  if (uint32_t{p->l4_off} != uint32_t{p->l3_off} + s->l3_len ||
      p->len < uint32_t{p->l4_off} + kTcpHeaderLen)
    return false;
  const uint8_t* ip = p->data + p->l3_off;
  const uint8_t* tcp = p->data + p->l4_off;
  uint32_t ip_len;
  if (v6) {
    ip_len = kIpv6HeaderLen + Be16At(ip + 4);
  } else {
    if (ip[0] != 0x45) return false;  // IPv4 options: never merged (Linux neither)
    ip_len = Be16At(ip + 2);
  }
  // InnerChecksum validated the length too; re-checked because this stage
  // writes the headers of a super-frame from it, not just reads them.
  if (p->l3_off + ip_len != p->len) return false;
  s->tcp_len = (uint32_t{tcp[12]} >> 4) * 4;
  // Pure ACKs (no payload) are never merged.
  if (s->tcp_len < kTcpHeaderLen || s->l3_len + s->tcp_len >= ip_len) return false;
  s->payload = ip_len - s->l3_len - s->tcp_len;
  s->tcp_flags = tcp[13];
  const uint8_t f = s->tcp_flags;
  if (f != wire::kTcpAck && f != (wire::kTcpAck | wire::kTcpPsh)) return false;
  s->seq = Be32At(tcp + 4);
  return true;
}

StatusOr<std::unique_ptr<TcpCoalesce>> TcpCoalesce::Create(const TcpCoalesceConfig& cfg) {
  if (cfg.max_ip_len < 576 || cfg.max_ip_len > 65535)
    return Status::Error("tcp_coalesce: max_ip_len must be in [576, 65535], got " +
                         std::to_string(cfg.max_ip_len));
  if (cfg.max_segs < 2 || cfg.max_segs > kMaxFrags + 1)
    return Status::Error("tcp_coalesce: max_segs must be in [2, " +
                         std::to_string(kMaxFrags + 1) + "], got " +
                         std::to_string(cfg.max_segs));
  return std::unique_ptr<TcpCoalesce>(new TcpCoalesce(cfg.max_ip_len, cfg.max_segs));
}

bool TcpCoalesce::CanJoin(const Run& run, const Packet* p, const Seg& s) const noexcept {
  const Packet* h = run.head;
  const Seg& f = run.first;
  if (run.closed || run.count >= max_segs_ || h->nfrags >= kMaxFrags) return false;
  if (s.seq != run.next_seq || s.payload > f.payload) return false;
  if (f.l3_len + f.tcp_len + run.total + s.payload > max_ip_len_) return false;
  if (p->vni != h->vni || p->l3_off != h->l3_off || s.l3_len != f.l3_len ||
      s.tcp_len != f.tcp_len)
    return false;
  // L2: same MACs, same VLAN.
  if (std::memcmp(h->data, p->data, h->l3_off) != 0) return false;
  const uint8_t* a = h->data + h->l3_off;
  const uint8_t* b = p->data + p->l3_off;
  if (f.l3_len == kIpv4HeaderLen) {
    // TOS; flags/fragment offset (DF; fragments never get here), TTL,
    // protocol; addresses. Not the ID: segmentation writes new ones.
    if (a[1] != b[1] || std::memcmp(a + 6, b + 6, 4) != 0 || std::memcmp(a + 12, b + 12, 8) != 0)
      return false;
  } else {
    // Version, traffic class, flow label; next header, hop limit, addresses.
    if (std::memcmp(a, b, 4) != 0 || std::memcmp(a + 6, b + 6, 34) != 0) return false;
  }
  const uint8_t* ta = h->data + h->l4_off;
  const uint8_t* tb = p->data + p->l4_off;
  // Ports; ACK number and data offset; window; option bytes.
  return std::memcmp(ta, tb, 4) == 0 && std::memcmp(ta + 8, tb + 8, 5) == 0 &&
         std::memcmp(ta + 14, tb + 14, 2) == 0 &&
         std::memcmp(ta + kTcpHeaderLen, tb + kTcpHeaderLen, f.tcp_len - kTcpHeaderLen) == 0;
}

void TcpCoalesce::Finish(Run& run) noexcept {
  if (run.count < 2) return;
  Packet* h = run.head;
  uint8_t* ip = h->data + h->l3_off;
  uint8_t* tcp = h->data + h->l4_off;
  const uint32_t l4_len = run.first.tcp_len + run.total;
  uint32_t pseudo;
  if ((h->flags & kPktFlagIpv6) != 0) {
    PutBe16(ip + 4, l4_len);
    wire::Ipv6Header h6;
    std::memcpy(&h6, ip, sizeof(h6));
    pseudo = wire::PseudoHeaderSumV6(&h6, wire::kIpProtoTcp, l4_len);
  } else {
    PutBe16(ip + 2, kIpv4HeaderLen + l4_len);
    ip[10] = 0;
    ip[11] = 0;
    const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(ip, kIpv4HeaderLen));
    std::memcpy(ip + 10, &c, 2);
    wire::Ipv4Header h4;
    std::memcpy(&h4, ip, sizeof(h4));
    pseudo = wire::PseudoHeaderSumV4(&h4, wire::kIpProtoTcp, l4_len);
  }
  if (run.psh) tcp[13] = static_cast<uint8_t>(tcp[13] | wire::kTcpPsh);
  // CHECKSUM_PARTIAL: folded pseudo-header sum, not complemented (see header).
  const uint16_t partial = wire::ChecksumFold(pseudo);
  std::memcpy(tcp + 16, &partial, 2);
  h->gso_size = static_cast<uint16_t>(run.first.payload);
  h->gso_segs = static_cast<uint16_t>(run.count);
}

void TcpCoalesce::Process(Batch& b, StageContext& ctx) noexcept {
  ctx.counters->in += b.n;
  Run run;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < b.n; ++i) {
    Packet* p = b.pkts[i];
    Seg s;
    const bool eligible = Describe(p, &s);
    if (eligible && run.head != nullptr && CanJoin(run, p, s)) {
      // Cannot fail: CanJoin checked nfrags.
      run.head->AppendFrag(p->data + p->l4_off + s.tcp_len, s.payload);
      p->chain_next = nullptr;
      if (run.tail == nullptr) {
        run.head->chain = p;
      } else {
        run.tail->chain_next = p;
      }
      run.tail = p;
      run.next_seq += s.payload;
      run.total += s.payload;
      run.count++;
      run.psh = (s.tcp_flags & wire::kTcpPsh) != 0;
      run.closed = run.psh || s.payload < run.first.payload;
      continue;
    }
    if (run.head != nullptr) Finish(run);
    run = Run{};
    if (eligible) {
      run.head = p;
      run.first = s;
      run.next_seq = s.seq + s.payload;
      run.total = s.payload;
      run.count = 1;
      run.closed = (s.tcp_flags & wire::kTcpPsh) != 0;
    }
    b.pkts[kept++] = p;
  }
  if (run.head != nullptr) Finish(run);
  b.n = kept;
  ctx.counters->out += kept;
}

}  // namespace mflow

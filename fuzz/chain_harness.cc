#include "chain_harness.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "fuzz_check.h"
#include "stage/datapath.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace mflow::fuzz {
namespace {

constexpr uint32_t kInnerMtu = 1500;
constexpr uint64_t kNowMs = 1000;
const wire::IpAddr kPeerV4 = wire::IpAddr::V4(0xC6120001);  // 198.18.0.1: the golden frames' VTEP
const wire::IpAddr kLocalVtep = wire::IpAddr::V4(0xC6120002);
const wire::IpAddr kFarV4 = wire::IpAddr::V4(0xC6120009);

wire::IpAddr V6(uint8_t last) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return wire::IpAddr::V6(b);
}
const wire::IpAddr kPeerV6 = V6(1);
const wire::IpAddr kLocalVtepV6 = V6(2);
const wire::IpAddr kFarV6 = V6(9);

uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

wire::MacAddr Mac(uint8_t last) { return wire::MacAddr{{0x02, 0, 0, 0, 0, last}}; }

template <typename T>
T Must(StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "fuzz setup: %s\n", v.status().message().c_str());
    std::abort();
  }
  return std::move(v).value();
}

uint64_t SumDrops(const StageCounters& c) {
  uint64_t n = 0;
  for (uint64_t d : c.drops) n += d;
  return n;
}

uint32_t ChainLength(const Packet* p) {
  uint32_t n = 0;
  for (const Packet* c = p->chain; c != nullptr; c = c->chain_next) ++n;
  return n;
}

bool Inside(const Packet* owner, const uint8_t* data, uint32_t len) {
  return data >= owner->buf && data + len <= owner->buf + owner->buf_size;
}

void CheckLinear(const Packet* p) {
  FUZZ_CHECK(Inside(p, p->data, p->len));
  FUZZ_CHECK(p->nfrags <= kMaxFrags);
}

// Runs the chain one stage at a time and checks each stage's counters
// against the batch it was given. All are exact:
//   - per-packet stages (outer_validate, vxlan_decap, fdb_forward_*,
//     inner_checksum, vxlan_encap): in = packets entering, out = packets
//     kept, in = out + drops;
//   - tcp_coalesce: no drop edges; in = packets, out = frames kept, and the
//     difference is exactly the packets now hanging off the heads' chains;
//   - gso_segment: in = packets, in = packets kept + drops; out = frames, a
//     train counting its segments (nsegs == gso_segs == length of the list).
// Returns the drops of the whole chain.
uint64_t RunChecked(StageChain& chain, Batch& b, StageContext& ctx,
                    std::vector<StageCounters>& counters) {
  uint64_t drops = 0;
  for (uint32_t i = 0; i < chain.size(); ++i) {
    counters[i] = StageCounters{};
    const uint32_t before = b.n;
    if (before == 0) break;
    chain.Run(b, ctx, counters.data(), i, i + 1);
    const Stage& st = chain.at(i);
    const StageCounters& c = counters[i];
    for (size_t r = st.drop_reasons().size(); r < kMaxDropReasons; ++r)
      FUZZ_CHECK(c.drops[r] == 0);  // every drop on a named edge
    const uint64_t d = SumDrops(c);
    drops += d;
    FUZZ_CHECK(c.in == before);
    FUZZ_CHECK(b.n <= before);
    const std::string_view name = st.name();
    if (name == "tcp_coalesce") {
      FUZZ_CHECK(d == 0);
      FUZZ_CHECK(c.out == b.n);
      uint64_t absorbed = 0;
      for (const Packet* p : b) absorbed += ChainLength(p);
      FUZZ_CHECK(c.in == c.out + absorbed);
    } else if (name == "gso_segment") {
      FUZZ_CHECK(c.in == b.n + d);
      uint64_t frames = 0;
      for (const Packet* p : b) {
        if (!p->is_train()) {
          ++frames;
          continue;
        }
        uint32_t n = 0;
        for (const Packet* s = p->segs; s != nullptr; s = s->seg_next) ++n;
        FUZZ_CHECK(n == p->nsegs && n == p->gso_segs && n > 0);
        frames += n;
      }
      FUZZ_CHECK(c.out == frames);
    } else {
      FUZZ_CHECK(c.out == b.n);
      FUZZ_CHECK(c.in == c.out + d);
    }
  }
  return drops;
}

// Every packet of the pool is back, exactly once: all can be allocated, and
// no two allocations are the same packet (a double free would have put one
// twice into the free ring and left another one out). The pool's packets
// are one array, so a packet's index is its distance from the lowest one.
void CheckPoolWhole(PacketPool& pool) {
  FUZZ_CHECK(pool.available() == pool.count());
  std::vector<Packet*> all(pool.count() + 1);
  const uint32_t got = pool.AllocBurst(all.data(), pool.count() + 1);
  FUZZ_CHECK(got == pool.count());
  all.resize(got);
  const Packet* base = *std::min_element(all.begin(), all.end());
  std::vector<bool> seen(got, false);
  for (const Packet* p : all) {
    const auto idx = static_cast<size_t>(p - base);
    FUZZ_CHECK(idx < got && !seen[idx]);
    seen[idx] = true;
  }
  for (Packet* p : all) PacketFree(p);
  FUZZ_CHECK(pool.available() == pool.count());
}

uint32_t Flatten(const Packet* p, std::vector<uint8_t>& out) {
  out.resize(p->frame_len());
  const uint32_t n = p->Flatten(out.data(), static_cast<uint32_t>(out.size()));
  FUZZ_CHECK(n == out.size());
  return n;
}

uint32_t PseudoSum(const uint8_t* f, const wire::FrameLayout& l) {
  const uint32_t l4_len = l.l3_end - l.l4_off;
  if (l.ipv6) {
    wire::Ipv6Header h;
    std::memcpy(&h, f + l.l3_off, sizeof(h));
    return wire::PseudoHeaderSumV6(&h, l.l4_proto, l4_len);
  }
  wire::Ipv4Header h;
  std::memcpy(&h, f + l.l3_off, sizeof(h));
  return wire::PseudoHeaderSumV4(&h, l.l4_proto, l4_len);
}

bool L4ChecksumOk(const uint8_t* f, const wire::FrameLayout& l) {
  const uint32_t sum = wire::ChecksumPartial(f + l.l4_off, l.l3_end - l.l4_off, PseudoSum(f, l));
  return wire::ChecksumFold(sum) == 0xffff;
}

bool Ipv4HeaderChecksumOk(const uint8_t* f, const wire::FrameLayout& l) {
  return wire::ChecksumFold(wire::ChecksumPartial(f + l.l3_off, uint32_t{l.l4_off} - l.l3_off)) ==
         0xffff;
}

// Fixed entries, learned again before every input (see the header).
void ResetFdb(Fdb& fdb, bool rx, bool v6_underlay) {
  fdb.Flush();
  for (uint32_t vni : {0u, 7u, 42u}) {
    if (rx) {
      fdb.Learn(vni, Mac(2), FdbValue::Local(1), kNowMs);        // delivered
      fdb.Learn(vni, Mac(3), FdbValue::Remote(kFarV4), kNowMs);  // split horizon
    } else {
      // Encapsulated; hairpin (no remote); the other family (mismatch).
      fdb.Learn(vni, Mac(2), FdbValue::Remote(v6_underlay ? kPeerV6 : kPeerV4), kNowMs);
      fdb.Learn(vni, Mac(3), FdbValue::Local(2), kNowMs);
      fdb.Learn(vni, Mac(4), FdbValue::Remote(v6_underlay ? kFarV4 : kFarV6), kNowMs);
    }
  }
}

std::unique_ptr<Fdb> MakeFdb() {
  FdbConfig fc;
  fc.capacity = 64;  // small, so that learning can fill a probe window
  return Must(Fdb::Create(fc));
}

DataPathConfig MakeDataPath(Fdb* fdb, bool v6_underlay) {
  DataPathConfig dp;
  dp.vnis = {42, 7};
  dp.peers = {kPeerV4, kPeerV6};
  dp.local_vtep = v6_underlay ? kLocalVtepV6 : kLocalVtep;
  dp.inner_mtu = kInnerMtu;
  dp.fdb = fdb;
  return dp;
}

}  // namespace

// ---------------------------------------------------------------- rx

RxHarness::RxHarness(uint32_t max_packets) : max_packets_(std::min(max_packets, kMaxBatch)) {
  fdb_ = MakeFdb();
  PacketPoolConfig pc;
  pc.name = "rx";
  pc.count = max_packets_ + 3;
  pc.buf_size = kHeadroom + 9216;
  pool_ = Must(PacketPool::Create(pc));
  // An encrypted peer beside the plain ones (not one of them, whose VXLAN
  // must still pass): esp_decrypt leads the chain and sees every frame; UDP
  // 4500 frames go through its parsing, shape checks and SPI lookup (the
  // fuzzer has no key: the sealed paths are fuzz_esp_decap's).
  esp_ = Must(esp::EspSaTable::Create(1));
  FUZZ_CHECK(esp_->AddInbound(wire::IpAddr::V4(0xC6120063),  // 198.18.0.99
                              Must(esp::EspSa::Parse("spi=0x08000000 alg=aes-128-gcm key=000102030405060708090a0b0c0d0e0f "
                                                     "salt=a0a1a2a3 esn=on")))
                 .ok());
  DataPathConfig dp = MakeDataPath(fdb_.get(), false);
  dp.esp = esp_.get();
  chain_ = Must(BuildRxChain(dp));
  counters_.resize(chain_->size());
}

void RxHarness::Run(std::span<const Record> records) {
  ResetFdb(*fdb_, true, false);
  const uint32_t n = static_cast<uint32_t>(std::min<size_t>(records.size(), max_packets_));
  classified_.assign(n, false);
  keys_.assign(n, wire::FlowKey{});
  Batch b;
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = pool_->Alloc();
    FUZZ_CHECK(p != nullptr);
    const uint32_t len =
        static_cast<uint32_t>(std::min<size_t>(records[i].frame.size(), p->tailroom()));
    if (len != 0) std::memcpy(p->data, records[i].frame.data(), len);
    p->len = len;
    p->seq = i;
    // What the engine's split point does with it (both classifiers).
    wire::FlowKey key;
    classified_[i] = wire::ClassifyVxlan(p->data, len, &key);
    if (classified_[i]) keys_[i] = key;
    // The outer classifier needs less of the frame than the inner one.
    wire::FlowKey outer;
    const bool outer_ok = wire::ClassifyVxlanOuter(p->data, len, &outer);
    if (classified_[i]) FUZZ_CHECK(outer_ok && outer.vni == key.vni);
    b.Push(p);
  }

  StageContext ctx;
  ctx.pool = pool_.get();
  ctx.now_ms = kNowMs;
  const uint64_t drops = RunChecked(*chain_, b, ctx, counters_);

  uint64_t delivered = 0;
  for (const Packet* p : b) {
    CheckSurvivor(p);
    delivered += 1 + ChainLength(p);
  }
  FUZZ_CHECK(drops + delivered == n);
  for (Packet* p : b) PacketFree(p);
  CheckPoolWhole(*pool_);
}

void RxHarness::CheckSurvivor(const Packet* p) {
  CheckLinear(p);
  FUZZ_CHECK(p->seq < classified_.size());
  FUZZ_CHECK(p->vni == 42 || p->vni == 7);
  FUZZ_CHECK(p->remote == kPeerV4 || p->remote == kPeerV6);
  FUZZ_CHECK(p->segs == nullptr && p->parent == nullptr);
  FUZZ_CHECK(p->out_port == 1 || p->out_port == kPortFlood);
  FUZZ_CHECK(p->len >= sizeof(wire::EthernetHeader));
  // GRO: fragment k points into the buffer of the k-th packet on the chain.
  const Packet* c = p->chain;
  for (uint16_t k = 0; k < p->nfrags; ++k) {
    FUZZ_CHECK(c != nullptr);
    FUZZ_CHECK(Inside(c, p->frags[k].data, p->frags[k].len));
    FUZZ_CHECK(c->vni == p->vni);
    c = c->chain_next;
  }
  FUZZ_CHECK(c == nullptr);

  const uint32_t n = Flatten(p, flat_);
  const uint8_t* f = flat_.data();
  // A frame that passed the outer checks is one the split point classified,
  // and as the flow the stages deliver.
  FUZZ_CHECK(classified_[p->seq]);
  wire::FlowKey key;
  FUZZ_CHECK(wire::ClassifyInner(f, n, p->vni, &key));
  FUZZ_CHECK(key == keys_[p->seq]);

  if (p->l3_off == 0) {  // not TCP/UDP over IP: passed through untouched
    FUZZ_CHECK(p->nfrags == 0 && p->gso_segs == 0);
    return;
  }
  wire::FrameLayout l;
  FUZZ_CHECK(wire::ParseFrame(f, n, &l) == wire::ParseResult::kOk);
  FUZZ_CHECK(l.l3_end == n);  // padding trimmed; a super-frame's IP length covers it all
  FUZZ_CHECK(l.l3_off == p->l3_off && l.l4_off == p->l4_off && l.l4_proto == p->l4_proto);
  FUZZ_CHECK(l.ipv6 == ((p->flags & kPktFlagIpv6) != 0));
  if (!l.ipv6) FUZZ_CHECK(Ipv4HeaderChecksumOk(f, l));
  FUZZ_CHECK((p->flags & kPktFlagL4CsumOk) != 0);
  if (p->gso_segs == 0) {
    FUZZ_CHECK(p->nfrags == 0 && p->gso_size == 0);
    const bool udp_no_csum =
        l.l4_proto == wire::kIpProtoUdp && !l.ipv6 && f[l.l4_off + 6] == 0 && f[l.l4_off + 7] == 0;
    FUZZ_CHECK(udp_no_csum || L4ChecksumOk(f, l));
    return;
  }
  // A GRO super-frame: n segments of gso_size, the last one possibly
  // shorter, and a CHECKSUM_PARTIAL TCP checksum: completing it (summing
  // from the TCP header to the end, as the emitter will) must give a valid
  // checksum.
  FUZZ_CHECK(l.l4_proto == wire::kIpProtoTcp);
  FUZZ_CHECK(p->gso_segs >= 2 && p->nfrags == p->gso_segs - 1u && p->gso_size > 0);
  const uint32_t payload = l.payload_len();
  FUZZ_CHECK(payload > uint32_t{p->gso_size} * (p->gso_segs - 1u));
  FUZZ_CHECK(payload <= uint32_t{p->gso_size} * p->gso_segs);
  // Each merged packet is the next in-order segment of the head's
  // connection (its own headers are still in its buffer), and the head's
  // fragment k is exactly the payload of chain member k.
  const uint8_t* head_tcp = p->data + p->l4_off;
  uint32_t next = ReadBe32(head_tcp + 4) + (p->len - l.payload_off());
  c = p->chain;
  for (uint16_t k = 0; k < p->nfrags; ++k, c = c->chain_next) {
    FUZZ_CHECK(c->l4_off == p->l4_off && c->l3_off == p->l3_off);
    const uint8_t* ctcp = c->data + c->l4_off;
    FUZZ_CHECK(std::memcmp(ctcp, head_tcp, 4) == 0);  // ports
    FUZZ_CHECK(ReadBe32(ctcp + 4) == next);
    const uint32_t doff = (uint32_t{ctcp[12]} >> 4) * 4;
    FUZZ_CHECK(p->frags[k].data == ctcp + doff);
    FUZZ_CHECK(p->frags[k].data + p->frags[k].len == c->data + c->len);
    next += p->frags[k].len;
  }
  uint8_t* tcp = flat_.data() + l.l4_off;
  const uint16_t done = wire::ChecksumFinish(wire::ChecksumPartial(tcp, l.l3_end - l.l4_off));
  std::memcpy(tcp + 16, &done, 2);
  FUZZ_CHECK(L4ChecksumOk(f, l));
}

// ---------------------------------------------------------------- tx

TxHarness::TxHarness(uint32_t max_packets) : max_packets_(std::min(max_packets, kMaxBatch)) {
  fdb_ = MakeFdb();
  PacketPoolConfig pc;
  pc.name = "tx-in";
  pc.count = max_packets_ + 3;
  pc.buf_size = kHeadroom + 65536 + 128;
  in_pool_ = Must(PacketPool::Create(pc));
  pc.name = "tx-headers";
  // 64 KiB of payload in 1448-byte segments takes 46 headers; a tiny
  // gso_size runs the pool dry (no_buffer), which is a case to cover too.
  pc.count = 256;
  pc.buf_size = kHeadroom + 192;
  hdr_pool_ = Must(PacketPool::Create(pc));
  pc.name = "check";
  pc.count = 4;
  pc.buf_size = kHeadroom + 9216;
  check_pool_ = Must(PacketPool::Create(pc));
  chain_v4_ = Must(BuildTxChain(MakeDataPath(fdb_.get(), false)));
  chain_v6_ = Must(BuildTxChain(MakeDataPath(fdb_.get(), true)));
  counters_.resize(chain_v4_->size());

  check_outer_ = Must(OuterValidate::Create(OuterValidateConfig{}));
  VxlanDecapConfig dc;
  dc.vnis = {42, 7};
  dc.max_inner_frame = kInnerMtu + 14 + 4;
  check_decap_ = Must(VxlanDecap::Create(dc));
  check_inner_ = Must(InnerChecksum::Create(InnerChecksumConfig{}));
}

void TxHarness::Run(std::span<const Record> records) {
  v6_underlay_ = !records.empty() && (records[0].meta.flags & kTxFlagV6Underlay) != 0;
  ResetFdb(*fdb_, false, v6_underlay_);
  const uint32_t n = static_cast<uint32_t>(std::min<size_t>(records.size(), max_packets_));
  inputs_.assign(n, {});
  Batch b;
  for (uint32_t i = 0; i < n; ++i) {
    const Record& r = records[i];
    Packet* p = in_pool_->Alloc();
    FUZZ_CHECK(p != nullptr);
    const uint32_t len = static_cast<uint32_t>(std::min<size_t>(r.frame.size(), p->tailroom()));
    if (len != 0) std::memcpy(p->data, r.frame.data(), len);
    inputs_[i] = r.frame.first(len);
    // Linear part and fragments: the fragments point into the packet's own
    // buffer, past its linear part, as a TAP's scatter/gather would.
    p->len = len;
    if (r.meta.split != 0 && r.meta.split < len) {
      p->len = r.meta.split;
      const uint32_t piece = FragSize(r.meta.flags);
      uint32_t off = p->len;
      while (off < len) {
        const uint32_t take = p->nfrags + 1u == kMaxFrags ? len - off : std::min(piece, len - off);
        FUZZ_CHECK(p->AppendFrag(p->data + off, take));
        off += take;
      }
    }
    p->gso_size = r.meta.gso_size;
    const uint8_t port = r.meta.flags & 0x03;
    p->in_port = port == 0 ? kPortNone : static_cast<uint16_t>(port - 1);
    p->vni = (r.meta.flags & kTxFlagVni42) != 0 ? 42u : (r.meta.flags & kTxFlagVni7) != 0 ? 7u : 0u;
    p->seq = i;
    b.Push(p);
  }

  StageContext ctx;
  ctx.pool = hdr_pool_.get();
  ctx.now_ms = kNowMs;
  const uint64_t drops = RunChecked(v6_underlay_ ? *chain_v6_ : *chain_v4_, b, ctx, counters_);
  for (const Packet* p : b) CheckSurvivor(p);
  FUZZ_CHECK(drops + b.n == n);
  for (Packet* p : b) PacketFree(p);
  CheckPoolWhole(*in_pool_);
  CheckPoolWhole(*hdr_pool_);
  CheckPoolWhole(*check_pool_);
}

std::vector<uint8_t> TxHarness::Decap(const Packet* frame, uint32_t want_vni, uint8_t segment_proto) {
  const uint32_t n = Flatten(frame, flat_);
  Packet* cp = check_pool_->Alloc();
  FUZZ_CHECK(cp != nullptr);
  FUZZ_CHECK(n <= cp->tailroom());
  std::memcpy(cp->data, flat_.data(), n);
  cp->len = n;
  StageCounters counters;
  StageContext ctx;
  ctx.counters = &counters;
  ctx.pool = check_pool_.get();
  // The outer headers we wrote are ones our own receiver accepts.
  FUZZ_CHECK(check_outer_->Handle(cp, ctx) == kNext);
  FUZZ_CHECK(cp->remote == (v6_underlay_ ? kLocalVtepV6 : kLocalVtep));
  FUZZ_CHECK(check_decap_->Handle(cp, ctx) == kNext);
  FUZZ_CHECK(cp->vni == want_vni);
  if (segment_proto != 0) {
    // A TSO/USO segment is a complete TCP segment / UDP datagram with a
    // valid checksum.
    FUZZ_CHECK(check_inner_->Handle(cp, ctx) == kNext);
    FUZZ_CHECK((cp->flags & kPktFlagL4CsumOk) != 0 && cp->l4_proto == segment_proto);
  }
  std::vector<uint8_t> inner(cp->data, cp->data + cp->len);
  PacketFree(cp);
  return inner;
}

void TxHarness::CheckSurvivor(const Packet* p) {
  CheckLinear(p);
  FUZZ_CHECK(p->seq < inputs_.size());
  const std::span<const uint8_t> in = inputs_[p->seq];
  const uint32_t want_vni = p->vni != 0 ? p->vni : 42;
  if (p->out_port != kPortNone && p->out_port != kPortFlood) {
    // Hairpin to another local port: delivered as it is, never encapsulated
    // (a super-frame still leaves as its TSO segments, each inside it).
    if (!p->is_train()) {
      const uint32_t n = Flatten(p, flat_);
      FUZZ_CHECK(n == in.size() && std::equal(in.begin(), in.end(), flat_.begin()));
    }
    for (const Packet* s = p->segs; s != nullptr; s = s->seg_next) {
      CheckLinear(s);
      for (uint16_t k = 0; k < s->nfrags; ++k)
        FUZZ_CHECK(Inside(p, s->frags[k].data, s->frags[k].len));
    }
    return;
  }
  FUZZ_CHECK(p->remote == (v6_underlay_ ? kPeerV6 : kPeerV4));
  if (!p->is_train()) {
    FUZZ_CHECK(p->gso_size == 0);
    const std::vector<uint8_t> inner = Decap(p, want_vni, 0);
    FUZZ_CHECK(inner.size() == in.size() && std::equal(inner.begin(), inner.end(), in.begin()));
    return;
  }

  // A train: the super-frame's payload, cut into gso_size pieces, each a
  // segment with the super-frame's headers and the right sequence number
  // (TCP) or length (UDP).
  FUZZ_CHECK(p->gso_size > 0);
  wire::FrameLayout l;
  FUZZ_CHECK(wire::ParseFrame(in.data(), static_cast<uint32_t>(in.size()), &l) ==
             wire::ParseResult::kOk);
  const bool tcp = l.l4_proto == wire::kIpProtoTcp;
  FUZZ_CHECK(tcp || l.l4_proto == wire::kIpProtoUdp);
  wire::TcpHeader tcp0{};
  if (tcp) std::memcpy(&tcp0, in.data() + l.l4_off, sizeof(tcp0));  // a UDP frame may be shorter
  const uint32_t hdr_len = l.payload_off();
  const uint32_t payload = l.payload_len();
  uint32_t off = 0;
  for (const Packet* s = p->segs; s != nullptr; s = s->seg_next) {
    CheckLinear(s);
    for (uint16_t k = 0; k < s->nfrags; ++k)
      FUZZ_CHECK(Inside(p, s->frags[k].data, s->frags[k].len));
    FUZZ_CHECK(s->remote == p->remote && s->seq == p->seq && s->gso_size == 0);
    const std::vector<uint8_t> inner = Decap(s, want_vni, l.l4_proto);
    FUZZ_CHECK(inner.size() >= hdr_len);
    // The L2 header and addresses/ports are the super-frame's.
    FUZZ_CHECK(std::equal(in.begin(), in.begin() + l.l3_off, inner.begin()));
    FUZZ_CHECK(
        std::equal(in.begin() + l.l4_off, in.begin() + l.l4_off + 4, inner.begin() + l.l4_off));
    const uint32_t seg_payload = static_cast<uint32_t>(inner.size()) - hdr_len;
    if (tcp) {
      wire::TcpHeader th;
      std::memcpy(&th, inner.data() + l.l4_off, sizeof(th));
      FUZZ_CHECK(th.seq.host() == tcp0.seq.host() + off);
    } else {
      wire::UdpHeader uh;
      std::memcpy(&uh, inner.data() + l.l4_off, sizeof(uh));
      FUZZ_CHECK(uh.length.host() == 8 + seg_payload);
    }
    FUZZ_CHECK(seg_payload == std::min<uint32_t>(p->gso_size, payload - off));
    FUZZ_CHECK(std::equal(inner.begin() + hdr_len, inner.end(), in.begin() + hdr_len + off));
    off += seg_payload;
  }
  FUZZ_CHECK(off == payload);
}

}  // namespace mflow::fuzz

#include "bench/esp_bench.h"

#include <cstring>

#include "stage/esp_encrypt.h"
#include "wire/frame_builder.h"

namespace mflow::bench {

StatusOr<esp::EspSa> BenchSa(const std::string& alg) {
  const std::string key(alg == "aes-256-gcm" ? 64 : 32, '5');
  return esp::EspSa::FromFields(0x4001, alg, key, "c0c1c2c3", true);
}

StatusOr<std::vector<RingFrame>> EspBenchFrames(Direction dir, const esp::EspSa& sa,
                                                uint32_t ip_size, uint32_t gso_segs) {
  const uint32_t seg_payload = ip_size - 40;
  const uint32_t segs = dir == Direction::kTx && gso_segs != 0 ? gso_segs : 1;
  // Enough distinct frames that the ring is not one cache-resident buffer:
  // 4096 MTU frames, or 64 super-frames.
  const uint32_t count = segs > 1 ? 64 : 4096;
  std::vector<RingFrame> frames;
  frames.reserve(count);
  std::vector<uint8_t> payload(uint64_t{seg_payload} * segs);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 31 + 7);

  std::unique_ptr<esp::EspSaTable> table;
  std::unique_ptr<EspEncrypt> seal;
  std::unique_ptr<PacketPool> pool;
  StageCounters counters;
  StageContext ctx;
  if (dir == Direction::kRx) {
    auto t = esp::EspSaTable::Create(1);
    if (!t.ok()) return t.status();
    table = std::move(t).value();
    if (Status s = table->SetOutbound(wire::IpAddr::V4(0xC6120002), sa); !s.ok()) return s;
    auto e = EspEncrypt::Create({table.get(), false, {}});
    if (!e.ok()) return e.status();
    seal = std::move(e).value();
    auto p = PacketPool::Create({"esp-bench-seal", 4, 4096});
    if (!p.ok()) return p.status();
    pool = std::move(p).value();
    ctx.counters = &counters;
    ctx.pool = pool.get();
  }
  for (uint32_t i = 0; i < count; ++i) {
    wire::InnerSpec spec;
    spec.tcp_seq = 1 + i * seg_payload * segs;  // one stream: coalescing works as on the wire
    std::vector<uint8_t> inner(payload.size() + 128);
    inner.resize(wire::BuildInnerFrame(spec, payload, inner.data(), static_cast<uint32_t>(inner.size())));
    if (inner.empty()) return Status::Error("esp bench: could not build a frame of " + std::to_string(ip_size));
    RingFrame f;
    f.vni = 42;
    if (dir == Direction::kTx) {
      f.bytes = std::move(inner);
      if (segs > 1) {
        f.gso_size = static_cast<uint16_t>(seg_payload);
        f.gso_segs = static_cast<uint16_t>(segs);
      }
      frames.push_back(std::move(f));
      continue;
    }
    std::vector<uint8_t> vx(inner.size() + 100);
    vx.resize(wire::BuildVxlanFrame(wire::OuterSpec{}, inner, vx.data(), static_cast<uint32_t>(vx.size())));
    Packet* p = pool->Alloc();
    std::memcpy(p->data, vx.data(), vx.size());
    p->len = static_cast<uint32_t>(vx.size());
    p->wire_seq = i + 1;
    Batch b;
    b.Push(p);
    seal->Process(b, ctx);
    if (b.n != 1) return Status::Error("esp bench: sealing a frame failed");
    f.bytes.assign(p->data, p->data + p->len);
    PacketFree(p);
    frames.push_back(std::move(f));
  }
  return frames;
}

void CountingSink::TxBurst(Packet** pkts, uint32_t n) noexcept {
  uint64_t segs = 0;
  for (uint32_t i = 0; i < n; ++i) {
    // A TSO carrier: its segments; a coalesced frame: the packets it holds.
    const Packet* p = pkts[i];
    segs += p->is_train() ? p->nsegs : (p->gso_segs > 1 ? p->gso_segs : 1);
  }
  segments_.fetch_add(segs, std::memory_order_relaxed);
  PacketFreeBurst(pkts, n);
}

}  // namespace mflow::bench

#include "table/fdb.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace mflow {
namespace {

// Marks a used slot, so that the all-zero MAC of a never-used slot cannot
// match a key (keys are 48-bit MACs, bit 63 is free).
constexpr uint64_t kValid = uint64_t{1} << 63;
// A reader gives up on a slot after this many torn reads (a writer holds it
// for a few stores; more retries mean it was preempted).
constexpr int kReadRetries = 16;
// Flush waits this long for a slot's writer before leaving the slot alone.
constexpr int kFlushRetries = 1 << 16;

uint64_t MacKey(const wire::MacAddr& mac) { return mac.AsU64() | kValid; }

wire::MacAddr KeyMac(uint64_t key) {
  wire::MacAddr m;
  const uint64_t v = key & ~kValid;
  std::memcpy(m.b.data(), &v, 6);
  return m;
}

}  // namespace

StatusOr<std::unique_ptr<Fdb>> Fdb::Create(const FdbConfig& cfg) {
  if (cfg.capacity < kProbe || (cfg.capacity & (cfg.capacity - 1)) != 0)
    return Status::Error("fdb capacity must be a power of two >= " + std::to_string(kProbe) +
                         ", got " + std::to_string(cfg.capacity));
  if (cfg.age_ms == 0) return Status::Error("fdb age_ms must be > 0");
  const uint64_t touch = std::min(cfg.touch_ms, cfg.age_ms / 8);
  return std::unique_ptr<Fdb>(new Fdb(cfg.capacity - 1, cfg.age_ms, touch));
}

Fdb::Fdb(uint32_t mask, uint64_t age_ms, uint64_t touch_ms)
    : mask_(mask), age_ms_(age_ms), touch_ms_(touch_ms), slots_(new Slot[size_t{mask} + 1]) {}

uint32_t Fdb::Home(uint32_t vni, uint64_t mac_key) const noexcept {
  // splitmix64 finalizer: MACs of one vendor differ only in their low bytes.
  uint64_t x = mac_key ^ (uint64_t{vni} * 0x9E3779B97F4A7C15ull);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<uint32_t>(x) & mask_;
}

void Fdb::PackValue(const FdbValue& v, uint64_t (&out)[3]) noexcept {
  out[0] = uint64_t{static_cast<uint8_t>(v.kind)} | (uint64_t{v.vtep.family} << 8) |
           (uint64_t{v.port} << 16);
  std::memcpy(&out[1], v.vtep.bytes, 8);
  std::memcpy(&out[2], v.vtep.bytes + 8, 8);
}

FdbValue Fdb::UnpackValue(const uint64_t (&in)[3]) noexcept {
  FdbValue v;
  v.kind = static_cast<FdbValue::Kind>(in[0] & 0xff);
  v.vtep.family = static_cast<uint8_t>(in[0] >> 8);
  v.port = static_cast<uint16_t>(in[0] >> 16);
  std::memcpy(v.vtep.bytes, &in[1], 8);
  std::memcpy(v.vtep.bytes + 8, &in[2], 8);
  return v;
}

bool Fdb::ReadSlot(const Slot& s, View* v) noexcept {
  for (int tries = 0; tries < kReadRetries; ++tries) {
    // Acquire: if we see the even value a writer published, we see its words.
    const uint32_t s1 = s.seq.load(std::memory_order_acquire);
    if ((s1 & 1) != 0) {
      CpuRelax();
      continue;
    }
    // Acquire loads (plain loads on x86) keep the re-read of seq below from
    // moving before them, and if one of them returns a word stored by a
    // writer that began after s1, it synchronizes with that release store,
    // so the re-read sees the writer's odd (or a later) sequence. (The
    // textbook form uses relaxed loads and an acquire fence; GCC's
    // ThreadSanitizer does not support fences.)
    v->vni = s.vni.load(std::memory_order_acquire);
    v->mac = s.mac.load(std::memory_order_acquire);
    for (int i = 0; i < 3; ++i) v->value[i] = s.value[i].load(std::memory_order_acquire);
    v->last_seen = s.last_seen.load(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == s1) {
      v->seq = s1;
      return true;
    }
  }
  return false;
}

bool Fdb::WriteSlot(Slot& s, uint32_t seen_seq, uint32_t vni, uint64_t mac_key,
                    const uint64_t (&value)[3], uint64_t now_ms) noexcept {
  // Claim: only if nobody wrote the slot since we read it (that also makes
  // the claim of a free or expired slot exclusive: a second writer's CAS from
  // the same seen_seq fails and it skips).
  uint32_t expected = seen_seq;
  if (!s.seq.compare_exchange_strong(expected, seen_seq + 1, std::memory_order_acquire,
                                     std::memory_order_relaxed))
    return false;
  // Release stores (plain stores on x86): none of them can become visible
  // before the odd seq above, which is what a reader's re-check relies on.
  s.vni.store(vni, std::memory_order_release);
  s.mac.store(mac_key, std::memory_order_release);
  for (int i = 0; i < 3; ++i) s.value[i].store(value[i], std::memory_order_release);
  s.last_seen.store(now_ms, std::memory_order_release);
  // Publish: readers that acquire this even value see every word above.
  s.seq.store(seen_seq + 2, std::memory_order_release);
  return true;
}

bool Fdb::Lookup(uint32_t vni, const wire::MacAddr& mac, uint64_t now_ms,
                 FdbValue* out) const noexcept {
  const uint64_t key = MacKey(mac);
  const uint32_t home = Home(vni, key);
  for (uint32_t i = 0; i < kProbe; ++i) {
    const Slot& s = slots_[(home + i) & mask_];
    View v;
    if (!ReadSlot(s, &v)) continue;  // writer stuck in it: not our answer today
    if (v.mac == 0) return false;    // never used: keys do not probe past it
    if (v.mac == key && v.vni == vni && !Expired(v.last_seen, now_ms)) {
      *out = UnpackValue(v.value);
      return true;
    }
  }
  return false;
}

Fdb::LearnResult Fdb::Learn(uint32_t vni, const wire::MacAddr& mac, const FdbValue& value,
                            uint64_t now_ms) noexcept {
  const uint64_t key = MacKey(mac);
  uint64_t packed[3];
  PackValue(value, packed);
  const uint32_t home = Home(vni, key);
  Slot* cand = nullptr;
  uint32_t cand_seq = 0;
  for (uint32_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(home + i) & mask_];
    View v;
    if (!ReadSlot(s, &v)) continue;
    if (v.mac == key && v.vni == vni) {
      const bool same = v.value[0] == packed[0] && v.value[1] == packed[1] &&
                        v.value[2] == packed[2];
      if (same && !Expired(v.last_seen, now_ms)) {
        // The common case. A relaxed store, and only every touch_ms_: the
        // time is a hint for aging, no reader orders anything after it.
        if (now_ms > v.last_seen && now_ms - v.last_seen >= touch_ms_)
          s.last_seen.store(now_ms, std::memory_order_relaxed);
        return LearnResult::kRefreshed;
      }
      return WriteSlot(s, v.seq, vni, key, packed, now_ms) ? LearnResult::kUpdated
                                                           : LearnResult::kBusy;
    }
    // Keep probing past a reusable slot: the key may sit further on (placed
    // while this slot was still live).
    if (cand == nullptr && (v.mac == 0 || Expired(v.last_seen, now_ms))) {
      cand = &s;
      cand_seq = v.seq;
    }
    if (v.mac == 0) break;
  }
  if (cand == nullptr) return LearnResult::kFull;
  return WriteSlot(*cand, cand_seq, vni, key, packed, now_ms) ? LearnResult::kInserted
                                                              : LearnResult::kBusy;
}

FdbEntry Fdb::ToEntry(const View& v) {
  FdbEntry e;
  e.vni = v.vni;
  e.mac = KeyMac(v.mac);
  e.value = UnpackValue(v.value);
  e.last_seen_ms = v.last_seen;
  return e;
}

void Fdb::ForEach(uint64_t now_ms, const std::function<void(const FdbEntry&)>& fn) const {
  for (uint32_t i = 0; i <= mask_; ++i) {
    View v;
    if (!ReadSlot(slots_[i], &v) || v.mac == 0 || Expired(v.last_seen, now_ms)) continue;
    fn(ToEntry(v));
  }
}

uint32_t Fdb::Size(uint64_t now_ms) const {
  uint32_t n = 0;
  ForEach(now_ms, [&n](const FdbEntry&) { ++n; });
  return n;
}

std::vector<FdbEntry> Fdb::Snapshot(uint64_t now_ms) const {
  std::vector<FdbEntry> out;
  ForEach(now_ms, [&out](const FdbEntry& e) { out.push_back(e); });
  return out;
}

void Fdb::Flush() {
  static constexpr uint64_t kZero[3] = {0, 0, 0};
  for (uint32_t i = 0; i <= mask_; ++i) {
    Slot& s = slots_[i];
    for (int tries = 0; tries < kFlushRetries; ++tries) {
      const uint32_t seq = s.seq.load(std::memory_order_relaxed);
      if ((seq & 1) == 0 && WriteSlot(s, seq, 0, 0, kZero, 0)) break;
      CpuRelax();
    }
  }
}

}  // namespace mflow

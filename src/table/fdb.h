// Fdb: the forwarding database, (VNI, MAC) -> local port or remote VTEP.
//
// A fixed-size open-addressing table (capacity a power of two, set at
// construction, never grown) with bounded linear probing over kProbe slots.
// Entries carry a last-seen time; an entry older than age_ms is a miss and
// its slot may be taken by a new key. A new key that finds no free or expired
// slot among its kProbe slots is not inserted (Learn returns kFull): a flood
// of new source MACs cannot evict established, still-refreshed entries.
//
// Thread-safety: Lookup and Learn from any number of threads at once, without
// locks. Each slot is a seqlock:
//   - a writer claims a slot by CAS of its sequence from even s to odd s+1,
//     writes key and value (release stores), then publishes with a release
//     store of s+2; a writer that finds the slot odd or changed gives up
//     (learning is best effort: the next packet of that MAC learns it);
//   - a reader loads the sequence (acquire), the words (acquire), the
//     sequence again, and retries when it was odd or changed; after a few
//     retries it treats the slot as a miss rather than spin behind a
//     preempted writer (a miss floods, which is always correct).
// Two writers learning the same new key at the same instant may both insert
// it (in different slots). Harmless: lookups and learns use the first match
// in probe order, and the other copy ages out.
// Refreshing the last-seen time of an unchanged entry is a relaxed store
// outside the seqlock, and only when the time moved by touch granularity, so a
// flow's packets (the common case) write nothing shared most of the time.
// All shared words are std::atomic (ThreadSanitizer-clean).
// Flush/Size/ForEach/Snapshot are control-path calls, also safe concurrently
// with the data path (they see a consistent entry, not a consistent table).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/compiler.h"
#include "common/status.h"
#include "packet/packet.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow {

struct FdbConfig {
  uint32_t capacity = 16384;  // slots (64 bytes each); a power of two >= kProbe
  uint64_t age_ms = 300000;   // Linux bridge default ageing time (300 s)
  // Minimum change of now_ms before a refresh stores the new time; the
  // effective value is min(touch_ms, age_ms / 8) so aging stays accurate.
  uint64_t touch_ms = 1000;
};

// Where a MAC lives.
struct FdbValue {
  enum class Kind : uint8_t { kNone = 0, kLocal = 1, kRemote = 2 };
  Kind kind = Kind::kNone;
  uint16_t port = kPortNone;  // kLocal: the local port
  wire::IpAddr vtep;          // kRemote: the remote VTEP

  static FdbValue Local(uint16_t port) {
    FdbValue v;
    v.kind = Kind::kLocal;
    v.port = port;
    return v;
  }
  static FdbValue Remote(const wire::IpAddr& vtep) {
    FdbValue v;
    v.kind = Kind::kRemote;
    v.vtep = vtep;
    return v;
  }
  bool operator==(const FdbValue&) const = default;
};

struct FdbEntry {
  uint32_t vni = 0;
  wire::MacAddr mac;
  FdbValue value;
  uint64_t last_seen_ms = 0;
};

class Fdb {
 public:
  // Slots probed from a key's home slot.
  static constexpr uint32_t kProbe = 8;

  enum class LearnResult : uint8_t {
    kRefreshed,  // key known with this value: at most its time was touched
    kUpdated,    // key known (or expired) with another value: replaced (MAC moved)
    kInserted,   // new key stored in a free or expired slot
    kFull,       // new key, no free or expired slot among kProbe: not stored
    kBusy,       // another writer held the slot: skipped (best effort)
  };

  static StatusOr<std::unique_ptr<Fdb>> Create(const FdbConfig& cfg);
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // The live (not aged out) value of (vni, mac), or false. noexcept, no
  // allocation; thread-safe.
  bool Lookup(uint32_t vni, const wire::MacAddr& mac, uint64_t now_ms,
              FdbValue* out) const noexcept;
  // Records that (vni, mac) was seen at now_ms behind value. Thread-safe.
  LearnResult Learn(uint32_t vni, const wire::MacAddr& mac, const FdbValue& value,
                    uint64_t now_ms) noexcept;

  // Control path. Entries aged out at now_ms are not counted/visited.
  uint32_t Size(uint64_t now_ms) const;
  void ForEach(uint64_t now_ms, const std::function<void(const FdbEntry&)>& fn) const;
  std::vector<FdbEntry> Snapshot(uint64_t now_ms) const;
  // Empties the table (entries being written at that moment may survive).
  void Flush();

  uint32_t capacity() const { return mask_ + 1; }
  uint64_t age_ms() const { return age_ms_; }

 private:
  // One seqlock-protected entry, a cache line of its own so that writers to
  // neighbouring slots do not invalidate each other's readers.
  struct alignas(kCacheLine) Slot {
    std::atomic<uint32_t> seq{0};     // odd while a writer owns the slot
    std::atomic<uint32_t> vni{0};
    std::atomic<uint64_t> mac{0};     // 48-bit MAC | kValid; 0 = never used
    std::atomic<uint64_t> value[3]{};  // FdbValue, packed (PackValue)
    std::atomic<uint64_t> last_seen{0};  // outside the seqlock: relaxed touches
  };
  // What a consistent read of a slot saw.
  struct View {
    uint32_t seq;
    uint32_t vni;
    uint64_t mac;
    uint64_t value[3];
    uint64_t last_seen;
  };

  Fdb(uint32_t mask, uint64_t age_ms, uint64_t touch_ms);
  // A consistent copy of slot s, or false after too many retries.
  static bool ReadSlot(const Slot& s, View* v) noexcept;
  bool Expired(uint64_t last_seen, uint64_t now_ms) const noexcept {
    return now_ms > last_seen && now_ms - last_seen > age_ms_;
  }
  uint32_t Home(uint32_t vni, uint64_t mac_key) const noexcept;
  // Claims s if its sequence is still seen_seq, writes, publishes.
  static bool WriteSlot(Slot& s, uint32_t seen_seq, uint32_t vni, uint64_t mac_key,
                        const uint64_t (&value)[3], uint64_t now_ms) noexcept;
  static void PackValue(const FdbValue& v, uint64_t (&out)[3]) noexcept;
  static FdbValue UnpackValue(const uint64_t (&in)[3]) noexcept;
  static FdbEntry ToEntry(const View& v);

  uint32_t mask_;
  uint64_t age_ms_;
  uint64_t touch_ms_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace mflow

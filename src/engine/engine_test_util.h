// Helpers shared by the engine tests: a bounded wait, and synthetic packets
// that carry (flow, seq) in their first 12 bytes with the classifier and the
// recording sink that go with them.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/port.h"
#include "packet/pool.h"
#include "wire/parse.h"

namespace mflow::test {

// Waits (bounded) until cond() holds; the bound only guards against a hang.
template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct TestHeader {
  uint32_t flow;
  uint64_t seq;
};

// Keys on the header's flow (up to 32 bits, in the two port fields).
inline bool ClassifyTest(const Packet* p, wire::FlowKey* k) {
  TestHeader h;
  std::memcpy(&h, p->data, sizeof h);
  *k = wire::FlowKey{};
  k->family = 4;
  k->sport = static_cast<uint16_t>(h.flow);
  k->dport = static_cast<uint16_t>(h.flow >> 16);
  return true;
}

// Records every delivered packet's seq per flow (flows below `flows`), and
// frees it.
class RecordingSink : public TxPort {
 public:
  explicit RecordingSink(uint32_t flows) : seqs_(flows) {}
  void TxBurst(Packet** pkts, uint32_t n) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);  // test code: simplicity over speed
    for (uint32_t i = 0; i < n; ++i) {
      TestHeader h;
      std::memcpy(&h, pkts[i]->data, sizeof h);
      if (h.flow < seqs_.size()) seqs_[h.flow].push_back(h.seq);
      PacketFree(pkts[i]);
      ++count_;
    }
  }
  uint64_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  std::vector<std::vector<uint64_t>> seqs() {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_;
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<uint64_t>> seqs_;
  uint64_t count_ = 0;
};

}  // namespace mflow::test

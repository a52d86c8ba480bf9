// TapSet: the container ports of one daemon, as one RxPort and one TxPort.
//
// Each port is a TapDevice with a port id (what the FDB stores) and the VNI
// of the overlay network it belongs to. The engine reads the set as its
// container-side RxPort (tx direction: container -> underlay) and writes it
// as its TxPort (rx direction: underlay -> container).
//
//   RxBurst  reads the TAPs that epoll reports readable, one frame per port
//            per round (round-robin, so one busy container cannot starve
//            the others), and stamps each packet with in_port and vni.
//            Packets come from rx_pool, whose buffers must hold a whole TAP
//            frame (TapDevice::rx_buf_size(): kTapRxBufSize with TSO on).
//   WaitFds  the epoll descriptor of every TAP, and the eventfd that
//            Interrupt() signals.
//   TxBurst  out_port = a port id: that port, if it exists and is in the
//            packet's VNI; kPortFlood: every port of the VNI except in_port
//            (head-end replication: the same buffer written several times);
//            anything else is counted as no_port. Then frees the packets.
//
// Ports are added and removed by the control thread while engines run. The
// table is guarded by a shared_mutex: the data path takes it shared for one
// burst, Add/Remove take it exclusive, so a port is never removed under a
// burst that uses it; a removed TapDevice is destroyed (descriptor closed,
// device gone) after the lock is released, so the slow netdev teardown
// never stalls the data path.
//
// Thread-safety: RxBurst, WaitFds and AfterWait from the engine's RX role
// holder (one thread at a time); TxBurst from several threads at once;
// Interrupt, Add, Remove, Find, Snapshot, Drops from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/port.h"
#include "packet/pool.h"
#include "port/tap_device.h"

namespace mflow {

struct TapPortInfo {
  uint16_t id = 0;
  std::string name;  // the device's (interface) name
  std::string netns;
  int ifindex = 0;   // inside netns
  uint32_t vni = 0;
  wire::MacAddr mac;
  uint32_t mtu = 0;
  std::vector<std::string> addresses;  // CIDRs, as configured
  std::vector<IpRoute> routes;         // every route mflowd added (default ones included)
  unsigned offloads = 0;        // TUNSETOFFLOAD bits
  std::string offloads_string;  // "csum,tso4,tso6"
  uint64_t rx_frames = 0;       // container -> mflow
  uint64_t rx_bytes = 0;
  uint64_t tx_frames = 0;  // mflow -> container
  uint64_t tx_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> drops;  // every TapDrop, zeros included
};

// Frame bytes through every port of a set since it was made, removed ports
// included, so that a total never goes back when a container leaves
// (copy_stats.h). rx: read from the containers; tx: written to them.
struct TapByteTotals {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
};

class TapSet final : public RxPort, public TxPort {
 public:
  static constexpr uint32_t kMaxPorts = 256;

  // Fails if the epoll or eventfd descriptors cannot be created.
  static StatusOr<std::unique_ptr<TapSet>> Create(PacketPool* rx_pool);
  ~TapSet() override;
  TapSet(const TapSet&) = delete;
  TapSet& operator=(const TapSet&) = delete;

  // port_id < kPortFlood and unused; vni < 2^24; at most kMaxPorts ports;
  // (name, netns) unique; rx_pool's buffers at least dev->rx_buf_size().
  // On failure dev is destroyed (its TAP disappears) and the error names
  // the port, the device and the broken rule.
  Status Add(uint16_t port_id, uint32_t vni, std::unique_ptr<TapDevice> dev);
  // Returns after no burst uses the port any more; the device is gone when
  // Remove returns.
  Status Remove(uint16_t port_id);
  // The port with this interface name (and namespace path, if given);
  // nullopt if none, or if only a name is given and several namespaces have
  // an interface of that name.
  std::optional<uint16_t> Find(std::string_view name, std::string_view netns = {}) const;
  std::vector<TapPortInfo> Snapshot() const;  // in the order ports were added
  TapByteTotals ByteTotals() const;
  // Drops that belong to no port: "no_port" (TxBurst to a port that does
  // not exist or is in another VNI, or kPortNone) and "rx_no_buffer"
  // (RxBurst calls that found rx_pool empty; the frames wait in the TAP).
  std::vector<std::pair<std::string, uint64_t>> Drops() const;
  size_t size() const;
  // Ids of ports whose device disappeared since the last call (a read
  // failed with EBADFD/EIO/ENODEV, or epoll reported an error or hang-up);
  // such a port no longer polls or reads. The caller removes them.
  std::vector<uint16_t> TakeGone();
  // Empty buffers held for the next RxBurst (RX role only; for tests).
  uint32_t stashed() const { return nstash_; }

  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override;
  uint32_t WaitFds(pollfd* fds) noexcept override;
  uint32_t InputFds(pollfd* fds) noexcept override {
    fds[0] = {epfd_, POLLIN, 0};
    return 1;
  }
  void AfterWait(const pollfd* fds) noexcept override;
  void Interrupt() noexcept override;
  void TxBurst(Packet** pkts, uint32_t n) noexcept override;

 private:
  struct Port {
    uint16_t id;
    uint32_t vni;
    std::unique_ptr<TapDevice> dev;
    // The device was deleted under us (ip link del, or its namespace torn
    // down): out of the epoll set, waiting for TakeGone/Remove.
    std::atomic<bool> gone{false};
    bool reported = false;  // guarded by mu_ (exclusive): TakeGone saw it
  };
  void MarkGone(Port* p) noexcept;

  TapSet(PacketPool* rx_pool, int epfd, int evfd);
  void Send(Packet* p) noexcept;

  PacketPool* const rx_pool_;
  const int epfd_;  // every TAP (EPOLLIN, level-triggered)
  const int evfd_;  // Interrupt() -> a waiting engine

  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<Port>> ports_;  // guarded by mu_; Add order
  std::vector<Port*> by_id_;                  // guarded by mu_; kPortFlood slots
  TapByteTotals removed_;                     // guarded by mu_; ports gone (ByteTotals)

  uint32_t rr_ = 0;  // RxBurst's round-robin start (RX role only)
  // Empty buffers kept between RxBurst calls (RX role only).
  static constexpr uint32_t kStash = 64;
  Packet* stash_[kStash] = {};
  uint32_t nstash_ = 0;
  std::atomic<uint64_t> no_port_{0};
  std::atomic<uint64_t> rx_no_buffer_{0};
};

}  // namespace mflow

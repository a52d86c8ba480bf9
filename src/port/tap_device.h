// TapDevice: one container port, a TAP device inside the container's network
// namespace, read and written with virtio-net headers (vnet_hdr.h).
//
// Create() opens /dev/net/tun *inside* the namespace (RunInNetns), so the
// device is born there, and configures it the way a CNI plugin would,
// through rtnetlink (link_config.h): MAC, MTU, up, IPv4 and IPv6
// addresses, default and extra routes. The device is not persistent: when
// the TapDevice is destroyed its descriptor closes and the kernel removes the
// device together with its addresses and routes. The descriptor is
// non-blocking; Read and Write never block.
//
// With offload on, the TAP advertises checksum offload, TSO and, where the
// kernel takes it (Linux 6.2+), USO: the container's TCP stack sends
// super-frames of up to 64 KiB, its UDP_SEGMENT sends reach us as one
// super-frame each, and checksums are left to us (see ApplyVnetHdr); the
// gso_segment stage cuts both. UFO (IP fragmentation) is never offered.
//
// Rx buffers: Read needs packets with buffers of rx_buf_size() bytes
// (kTapRxBufSize = kHeadroom + 64 KiB + slack when TSO is on, else room for
// an MTU-sized frame); a frame that does not fit is consumed by the kernel
// and counted as rx_truncated.
//
// Thread-safety: Read from one thread at a time (TapSet's RX role); Write
// from any number of threads (each writev is one frame, atomic in tun);
// counters are relaxed atomics. Accessors are immutable after Create.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <vector>

#include "common/status.h"
#include "packet/packet.h"
#include "port/ip_prefix.h"
#include "wire/ethernet.h"

namespace mflow {

// The largest frame a TAP hands out: a 64 KiB GSO super-frame plus Ethernet
// and an 802.1Q tag, with slack.
inline constexpr uint32_t kTapMaxFrame = 65536 + 64;
inline constexpr uint32_t kTapRxBufSize = kHeadroom + kTapMaxFrame;

struct TapConfig {
  std::string ifname;  // interface name (at most 15 bytes); empty: the kernel picks tapN
  std::string netns;   // /var/run/netns/NAME or /proc/PID/ns/net; empty: ours
  wire::MacAddr mac;   // all-zero: 0a:58:<first IPv4 address> (stable across
                       // restarts); IPv6 only: 0a:58:<last 4 bytes of the
                       // first IPv6 address>; no address: random, locally
                       // administered
  uint32_t mtu = 1450;
  // "198.19.0.1/24", "fd00:198:19::1/64" (no prefix = host prefix), any
  // number of either family; added in this order.
  std::vector<std::string> addresses;
  // Default routes. "": on-link ("dev NAME") for each family that has an
  // address; "none": none; an IPv4 or IPv6 address: a default route of that
  // family via it, and none for the other family.
  std::string gateway;
  std::vector<IpRoute> routes;  // extra routes, added after the default ones
  bool offload = true;  // checksum offload + TSO4/TSO6 (+ USO4/USO6; see above)
  // The largest super-frame the container's stack may hand over (the
  // device's gso_max_size); 0 = the kernel's default (64 KiB). mflowd sizes
  // it so that one super-frame leaves as one UDP GSO send.
  uint32_t gso_max_size = 0;
  // The device's txqueuelen: for a TAP, the number of frames tun holds for
  // its reader before it drops (tx_dropped in `ip -s link`); 0 = the
  // kernel's default (1000). Linux 3.8 and later (6.18 included, see
  // docs/BACKPRESSURE.md) never push back on the sender: a full ring drops,
  // whatever the qdisc, so this length is the only buffer between a
  // container and the daemon reading its TAP.
  uint32_t tx_queue_len = 0;
};

// Drop reasons counted per device.
enum TapDrop : uint32_t {
  kTapRxShort,           // read shorter than vnet header + Ethernet header
  kTapRxTruncated,       // frame larger than the packet buffer (lost)
  kTapRxUnsupportedGso,  // see VnetRx
  kTapRxBadGso,
  kTapRxBadCsumOffsets,
  kTapRxError,   // read failed with an errno other than EAGAIN
  kTapTxBadGso,  // super-frame without usable TCP offsets
  kTapTxError,   // writev failed (EAGAIN, ENOBUFS, EIO, EINVAL...)
  kTapNumDrops,
};
// "rx_short", "rx_truncated", ..., indexed by TapDrop.
std::span<const std::string_view> TapDropNames();

struct TapCounters {
  std::atomic<uint64_t> rx_frames{0};
  std::atomic<uint64_t> rx_bytes{0};  // frame bytes, vnet header excluded
  std::atomic<uint64_t> tx_frames{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::array<std::atomic<uint64_t>, kTapNumDrops> drops{};
};

class TapDevice {
 public:
  // Errors name the device and the failing step, e.g.
  // "tap mft0: netns /var/run/netns/x: No such file or directory" or
  // "tap mft0: address fd00::5/64: File exists". Codes: kInvalid for a bad
  // field of cfg; kExists when a device named cfg.ifname is already in the
  // namespace (then nothing in the namespace is touched); kNotFound when the
  // namespace does not exist.
  static StatusOr<std::unique_ptr<TapDevice>> Create(const TapConfig& cfg);
  ~TapDevice();
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  // Reads one frame into p (a fresh packet: data at kHeadroom, len 0) and
  // applies its vnet header (ApplyVnetHdr). Returns 1: a frame is in p;
  // 0: nothing to read (EAGAIN); < 0: -errno of a failed read (counted as
  // rx_error). Frames that are dropped (rx_short, rx_truncated, rx_*gso,
  // rx_bad_csum_offsets) are counted and skipped, up to a few per call, so
  // 0 may also mean "only bad frames so far"; a level-triggered poll brings
  // the caller back. p's contents are unspecified unless 1 is returned.
  int Read(Packet* p) noexcept;

  // Writes p as one frame ([vnet header][linear part][fragments...]), or, if
  // p is a TSO train carrier, each of its segments as one frame. Does not
  // take ownership. Returns false if any frame was not written (counted as
  // tx_bad_gso / tx_error); never blocks.
  bool Write(const Packet* p) noexcept;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  const std::string& netns() const { return netns_; }
  const wire::MacAddr& mac() const { return mac_; }
  uint32_t mtu() const { return mtu_; }
  int ifindex() const { return ifindex_; }  // inside its namespace
  // As configured, in canonical form ("fd00::5/64").
  const std::vector<std::string>& addresses() const { return addresses_; }
  const std::vector<IpRoute>& routes() const { return routes_; }
  unsigned offloads() const { return offloads_; }  // TUNSETOFFLOAD bits accepted
  uint32_t tx_queue_len() const { return tx_queue_len_; }  // as configured; 0 = the kernel's
  std::string offloads_string() const;             // "csum,tso4,tso6", "none"
  const TapCounters& counters() const { return counters_; }
  // The packet buffer size (headroom included) Read needs for every frame
  // this device can hand out: kTapRxBufSize with TSO on, else room for an
  // MTU-sized frame with Ethernet and 802.1Q headers.
  uint32_t rx_buf_size() const;

 private:
  TapDevice() = default;
  bool WriteFrame(const Packet* p) noexcept;
  void CountDrop(TapDrop d) noexcept { counters_.drops[d].fetch_add(1, std::memory_order_relaxed); }

  int fd_ = -1;
  std::string name_;
  std::string netns_;
  wire::MacAddr mac_;
  uint32_t mtu_ = 0;
  int ifindex_ = 0;
  std::vector<std::string> addresses_;
  std::vector<IpRoute> routes_;
  unsigned offloads_ = 0;
  uint32_t tx_queue_len_ = 0;
  TapCounters counters_;
};

// "csum,tso4,tso6" for TUNSETOFFLOAD bits; "none" for 0.
std::string OffloadsString(unsigned offloads);

}  // namespace mflow

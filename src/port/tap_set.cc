#include "port/tap_set.h"

#include <algorithm>
#include <cstring>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "port/netns.h"
#include "port/wake_event.h"

namespace mflow {

StatusOr<std::unique_ptr<TapSet>> TapSet::Create(PacketPool* rx_pool) {
  if (rx_pool == nullptr) return Status::Error("tap set: rx pool is required");
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Status::Error("tap set: epoll_create1: " + ErrnoText(errno));
  const int evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd < 0) {
    const int err = errno;
    close(epfd);
    return Status::Error("tap set: eventfd: " + ErrnoText(err));
  }
  // The eventfd is not in the epoll set: the engine polls it beside epfd
  // (WaitFds), and RxBurst's epoll_wait then sees TAPs only.
  return std::unique_ptr<TapSet>(new TapSet(rx_pool, epfd, evfd));
}

TapSet::TapSet(PacketPool* rx_pool, int epfd, int evfd)
    : rx_pool_(rx_pool), epfd_(epfd), evfd_(evfd), by_id_(kPortFlood, nullptr) {}

TapSet::~TapSet() {
  PacketFreeBurst(stash_, nstash_);
  ports_.clear();  // closes the TAPs (their epoll entries go with them)
  close(evfd_);
  close(epfd_);
}

Status TapSet::Add(uint16_t port_id, uint32_t vni, std::unique_ptr<TapDevice> dev) {
  const std::string who = "port " + std::to_string(port_id);
  if (dev == nullptr) return Status::Error(who + ": no device");
  const std::string tap = who + " (tap " + dev->name() + ")";
  if (port_id >= kPortFlood)
    return Status::Error(tap + ": port id must be below " + std::to_string(kPortFlood));
  if (vni >= (1u << 24))
    return Status::Error(tap + ": vni " + std::to_string(vni) + " is not 24-bit");
  if (rx_pool_->buf_size() < dev->rx_buf_size())
    return Status::Error(tap + ": rx pool '" + rx_pool_->name() + "' has " +
                         std::to_string(rx_pool_->buf_size()) + "-byte buffers, the device needs " +
                         std::to_string(dev->rx_buf_size()) + " (offloads " +
                         dev->offloads_string() + ", mtu " + std::to_string(dev->mtu()) + ")");
  std::unique_lock lock(mu_);
  if (ports_.size() >= kMaxPorts)
    return Status::Error(tap + ": already " + std::to_string(kMaxPorts) + " ports");
  if (by_id_[port_id] != nullptr)
    return Status::Error(tap + ": port id in use by tap " + by_id_[port_id]->dev->name());
  for (const auto& p : ports_) {
    if (p->dev->name() == dev->name() && p->dev->netns() == dev->netns())
      return Status::Error(tap + ": already added as port " + std::to_string(p->id) +
                           (dev->netns().empty() ? "" : " in netns " + dev->netns()));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: RxBurst may leave frames behind
  ev.data.u64 = port_id;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, dev->fd(), &ev) != 0)
    return Status::Error(tap + ": epoll_ctl: " + ErrnoText(errno));
  auto port = std::make_unique<Port>();
  port->id = port_id;
  port->vni = vni;
  port->dev = std::move(dev);
  ports_.push_back(std::move(port));
  by_id_[port_id] = ports_.back().get();
  return Status::Ok();
}

Status TapSet::Remove(uint16_t port_id) {
  std::unique_ptr<Port> gone;
  {
    std::unique_lock lock(mu_);
    Port* port = port_id < kPortFlood ? by_id_[port_id] : nullptr;
    if (port == nullptr) return Status::Error("port " + std::to_string(port_id) + ": no such port");
    // Explicitly, before the descriptor closes: epoll forgets a file only
    // when its last reference goes, and a child forked by another thread
    // may hold one for a moment (between fork and exec).
    epoll_ctl(epfd_, EPOLL_CTL_DEL, port->dev->fd(), nullptr);
    by_id_[port_id] = nullptr;
    // Final: no burst uses the port now (they hold mu_ shared).
    const TapCounters& c = port->dev->counters();
    removed_.rx_bytes += c.rx_bytes.load(std::memory_order_relaxed);
    removed_.tx_bytes += c.tx_bytes.load(std::memory_order_relaxed);
    for (auto it = ports_.begin(); it != ports_.end(); ++it) {
      if (it->get() == port) {
        gone = std::move(*it);
        ports_.erase(it);
        break;
      }
    }
  }
  // Destroyed outside the lock: unregistering a netdev waits for RCU grace
  // periods (milliseconds), which the data path must not wait for.
  gone.reset();
  return Status::Ok();
}

std::optional<uint16_t> TapSet::Find(std::string_view name, std::string_view netns) const {
  std::shared_lock lock(mu_);
  std::optional<uint16_t> found;
  for (const auto& p : ports_) {
    if (p->dev->name() != name) continue;
    if (!netns.empty()) {
      if (p->dev->netns() == netns) return p->id;
      continue;
    }
    if (found) return std::nullopt;  // ambiguous: the same name in two namespaces
    found = p->id;
  }
  return found;
}

std::vector<TapPortInfo> TapSet::Snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<TapPortInfo> out;
  out.reserve(ports_.size());
  const auto names = TapDropNames();
  for (const auto& p : ports_) {
    const TapDevice& d = *p->dev;
    const TapCounters& c = d.counters();
    TapPortInfo i;
    i.id = p->id;
    i.name = d.name();
    i.netns = d.netns();
    i.vni = p->vni;
    i.mac = d.mac();
    i.mtu = d.mtu();
    i.ifindex = d.ifindex();
    i.addresses = d.addresses();
    i.routes = d.routes();
    i.offloads = d.offloads();
    i.offloads_string = d.offloads_string();
    i.rx_frames = c.rx_frames.load(std::memory_order_relaxed);
    i.rx_bytes = c.rx_bytes.load(std::memory_order_relaxed);
    i.tx_frames = c.tx_frames.load(std::memory_order_relaxed);
    i.tx_bytes = c.tx_bytes.load(std::memory_order_relaxed);
    for (uint32_t k = 0; k < kTapNumDrops; ++k)
      i.drops.emplace_back(std::string(names[k]), c.drops[k].load(std::memory_order_relaxed));
    out.push_back(std::move(i));
  }
  return out;
}

TapByteTotals TapSet::ByteTotals() const {
  std::shared_lock lock(mu_);
  TapByteTotals t = removed_;
  for (const auto& p : ports_) {
    const TapCounters& c = p->dev->counters();
    t.rx_bytes += c.rx_bytes.load(std::memory_order_relaxed);
    t.tx_bytes += c.tx_bytes.load(std::memory_order_relaxed);
  }
  return t;
}

std::vector<std::pair<std::string, uint64_t>> TapSet::Drops() const {
  return {{"no_port", no_port_.load(std::memory_order_relaxed)},
          {"rx_no_buffer", rx_no_buffer_.load(std::memory_order_relaxed)}};
}

size_t TapSet::size() const {
  std::shared_lock lock(mu_);
  return ports_.size();
}

uint32_t TapSet::RxBurst(Packet** pkts, uint32_t n) noexcept {
  if (n == 0) return 0;
  std::shared_lock lock(mu_);
  if (ports_.empty()) return 0;
  Port* ready[kMaxPorts];
  uint32_t nready = 0;
  // One TAP: read it. The engine calls us when its poll() found the epoll
  // descriptor ready (Engine::TryRx), which with one TAP says what
  // epoll_wait would, and a read that finds nothing costs what epoll_wait
  // costs: a system call saved per burst. (A deleted TAP's read fails, and
  // the loop below marks it gone.)
  epoll_event evs[kMaxPorts];
  const int ne = ports_.size() == 1 ? 0 : epoll_wait(epfd_, evs, kMaxPorts, 0);
  if (ports_.size() == 1 && !ports_[0]->gone.load(std::memory_order_relaxed))
    ready[nready++] = ports_[0].get();
  for (int i = 0; i < ne; ++i) {
    const uint64_t id = evs[i].data.u64;
    if (id >= kPortFlood) continue;
    Port* p = by_id_[id];
    if (p == nullptr) continue;
    // A tun whose device was deleted polls as an error for ever: take it
    // out of the set, or every Wait would return at once (a busy loop).
    if ((evs[i].events & (EPOLLERR | EPOLLHUP)) != 0 && (evs[i].events & EPOLLIN) == 0) {
      MarkGone(p);
      continue;
    }
    if (nready < kMaxPorts) ready[nready++] = p;
  }
  if (nready == 0) return 0;

  // Buffers left over from the last burst wait in the stash: a burst that
  // finds one frame costs one allocation, not a burst of them and a free.
  n = std::min<uint32_t>(n, kStash);
  if (nstash_ < n) nstash_ += rx_pool_->AllocBurst(stash_ + nstash_, n - nstash_);
  const uint32_t got = std::min(n, nstash_);
  if (got == 0) {
    rx_no_buffer_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  std::memcpy(pkts, stash_ + (nstash_ - got), got * sizeof(Packet*));
  nstash_ -= got;
  // One frame per ready port per round, starting one port further each
  // burst, until the burst is full or every ready port ran dry.
  uint32_t out = 0;
  uint32_t active = nready;
  bool dry[kMaxPorts] = {};
  uint32_t pos = rr_++ % nready;
  while (out < got && active > 0) {
    if (!dry[pos]) {
      Port* port = ready[pos];
      Packet* p = pkts[out];
      const int r = port->dev->Read(p);
      if (r > 0) {
        p->in_port = port->id;
        p->vni = port->vni;
        ++out;
      } else {
        if (r == -EBADFD || r == -EIO || r == -ENODEV || r == -ENXIO) MarkGone(port);
        dry[pos] = true;  // EAGAIN, or an error counted by the device
        --active;
      }
    }
    pos = pos + 1 == nready ? 0 : pos + 1;
  }
  // Unfilled buffers go back to the stash (untouched: still fresh).
  std::memcpy(stash_ + nstash_, pkts + out, (got - out) * sizeof(Packet*));
  nstash_ += got - out;
  return out;
}

void TapSet::MarkGone(Port* p) noexcept {
  if (p->gone.exchange(true, std::memory_order_relaxed)) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, p->dev->fd(), nullptr);
}

std::vector<uint16_t> TapSet::TakeGone() {
  std::unique_lock lock(mu_);
  std::vector<uint16_t> out;
  for (const auto& p : ports_)
    if (p->gone.load(std::memory_order_relaxed) && !p->reported) {
      p->reported = true;
      out.push_back(p->id);
    }
  return out;
}

uint32_t TapSet::WaitFds(pollfd* fds) noexcept { return WaitOnInputAndEvent(fds, epfd_, evfd_); }

void TapSet::AfterWait(const pollfd* fds) noexcept { DrainEvent(fds); }

void TapSet::Interrupt() noexcept { SignalEvent(evfd_); }

void TapSet::TxBurst(Packet** pkts, uint32_t n) noexcept {
  {
    std::shared_lock lock(mu_);
    for (uint32_t i = 0; i < n; ++i) Send(pkts[i]);
  }
  PacketFreeBurst(pkts, n);
}

// Called with mu_ held shared.
void TapSet::Send(Packet* p) noexcept {
  if (p->out_port == kPortFlood) {
    // Head-end replication inside the host: every other port of the VNI
    // gets the same bytes; nothing is copied in user space.
    for (const auto& port : ports_) {
      if (port->vni == p->vni && port->id != p->in_port) port->dev->Write(p);
    }
    return;
  }
  Port* port = p->out_port < kPortFlood ? by_id_[p->out_port] : nullptr;
  if (port == nullptr || port->vni != p->vni) {
    no_port_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  port->dev->Write(p);
}

}  // namespace mflow

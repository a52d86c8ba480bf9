// UnderlayPair reads the sockets the engine's poll found ready, and both
// when no poll came before (loopback, no privileges).
#include "daemon/esp_underlay.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <cstring>
#include <memory>

#include "packet/pool.h"
#include "wire/vxlan.h"

namespace mflow::daemon {
namespace {

constexpr uint16_t kVxlanPort = 48791;  // not 4789/4500: a daemon may run beside the tests
constexpr uint16_t kEspPort = 48792;
const wire::IpAddr kA = wire::IpAddr::V4(0x7f000001);  // 127.0.0.1
const wire::IpAddr kB = wire::IpAddr::V4(0x7f000002);  // 127.0.0.2

std::unique_ptr<UdpPort> Open(PacketPool* pool, wire::IpAddr local, wire::IpAddr peer,
                              uint16_t port) {
  UdpPortConfig c;
  c.local = local;
  c.port = port;
  c.peers = {peer};
  auto p = UdpPort::Open(c, pool, nullptr);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? std::move(*p) : nullptr;
}

// One VXLAN datagram from `from` to host A.
void SendOne(PacketPool* pool, UdpPort* from) {
  Packet* p = pool->Alloc();
  ASSERT_NE(p, nullptr);
  wire::VxlanHeader vx{};
  vx.flags = wire::kVxlanFlagI;
  vx.set_vni(42);
  std::memcpy(p->data, &vx, sizeof(vx));
  std::memset(p->data + sizeof(vx), 0x5a, 64);
  p->len = sizeof(vx) + 64;
  p->remote = kA;
  from->TxBurst(&p, 1);
}

// Waits (bounded) until port's input descriptor is readable.
bool Readable(RxPort* port) {
  pollfd fds[RxPort::kMaxInputFds];
  const uint32_t n = port->InputFds(fds);
  return n != 0 && poll(fds, n, 5000) > 0;
}

TEST(UnderlayPair, ReadsOnlyTheSocketsThePollFoundReady) {
  auto pool = PacketPool::Create({"t", 64, 2048}).value();
  auto a_vxlan = Open(pool.get(), kA, kB, kVxlanPort);
  auto a_esp = Open(pool.get(), kA, kB, kEspPort);
  auto b_vxlan = Open(pool.get(), kB, kA, kVxlanPort);
  auto b_esp = Open(pool.get(), kB, kA, kEspPort);
  ASSERT_TRUE(a_vxlan && a_esp && b_vxlan && b_esp);
  UnderlayPair pair(a_vxlan.get(), a_esp.get());

  // The engine's round: poll the pair's input descriptors, with only the
  // VXLAN socket holding a datagram.
  SendOne(pool.get(), b_vxlan.get());
  ASSERT_TRUE(Readable(a_vxlan.get()));
  pollfd fds[RxPort::kMaxInputFds];
  const uint32_t n = pair.InputFds(fds);
  ASSERT_EQ(n, 2u);
  ASSERT_EQ(poll(fds, n, 0), 1);
  pair.InputReady(fds);
  // A datagram reaches the ESP socket after the poll: this round leaves it.
  SendOne(pool.get(), b_esp.get());
  ASSERT_TRUE(Readable(a_esp.get()));
  Packet* pkts[8];
  uint32_t got = pair.RxBurst(pkts, 8);
  ASSERT_EQ(got, 1u) << "read a socket the poll had not found ready";
  EXPECT_EQ(pkts[0]->flags & kPktFlagEsp, 0);
  PacketFreeBurst(pkts, got);

  // Without a poll before it, RxBurst reads both: the ESP datagram now.
  got = pair.RxBurst(pkts, 8);
  ASSERT_EQ(got, 1u);
  EXPECT_NE(pkts[0]->flags & kPktFlagEsp, 0);
  PacketFreeBurst(pkts, got);

  a_vxlan.reset();
  a_esp.reset();
  b_vxlan.reset();
  b_esp.reset();
  EXPECT_EQ(pool->available(), pool->count()) << "a buffer was lost";
}

}  // namespace
}  // namespace mflow::daemon

// CountCopies: which port counters make each path's copies, and the ratio.
#include "port/copy_stats.h"

#include <gtest/gtest.h>

namespace mflow {
namespace {

TEST(CopyStatsTest, EachPathCountsItsTwoCrossingsAndItsUserCopies) {
  TapByteTotals taps;
  taps.rx_bytes = 1000;  // read from the containers (tx path)
  taps.tx_bytes = 4000;  // written to them (rx path)
  UdpPortInfo vxlan;
  vxlan.rx_bytes = 4100;  // received (rx path): VXLAN headers make it more than delivered
  vxlan.tx_bytes = 1050;
  vxlan.rx_copied_bytes = 300;
  UdpPortInfo esp;
  esp.rx_bytes = 10;
  esp.tx_bytes = 20;
  const CopyStats c = CountCopies(taps, {&vxlan, &esp, nullptr});
  EXPECT_EQ(c.rx.kernel_bytes, 4110u + 4000u);
  EXPECT_EQ(c.rx.user_bytes, 300u);
  EXPECT_EQ(c.rx.delivered_bytes, 4000u);
  EXPECT_DOUBLE_EQ(c.rx.per_byte(), (8110.0 + 300.0) / 4000.0);
  EXPECT_EQ(c.tx.kernel_bytes, 1000u + 1070u);
  EXPECT_EQ(c.tx.user_bytes, 0u);
  EXPECT_EQ(c.tx.delivered_bytes, 1070u);
}

TEST(CopyStatsTest, NothingDeliveredIsNoRatio) {
  const CopyStats c = CountCopies(TapByteTotals{}, {});
  EXPECT_EQ(c.rx.per_byte(), 0.0);
  EXPECT_EQ(c.tx.per_byte(), 0.0);
}

}  // namespace
}  // namespace mflow

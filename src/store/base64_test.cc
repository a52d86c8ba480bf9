#include "store/base64.h"

#include <gtest/gtest.h>

namespace mflow::store {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto d = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(d.has_value()) << i;
    EXPECT_EQ(*d, bytes);
    bytes += static_cast<char>(i * 37 + 200);
  }
}

TEST(Base64, KnownVectors) {  // RFC 4648 section 10
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Decode("Zm9vYg==").value(), "foob");
}

TEST(Base64, RefusesBrokenText) {
  for (const char* bad : {"Zm9", "Zm9v!", "Zg=a", "Z===", "=Zg=", "Zg==Zg==", "Zh==", "Zm9=",
                          "Zm\n9v", "Zm 9v"})
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  EXPECT_FALSE(Base64Decode(std::string("Zm\0v", 4)).has_value());
}

}  // namespace
}  // namespace mflow::store

#include "src/util/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace raft::util {
namespace {

// Check values from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[static_cast<std::size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(crc32c(ascending), 0x46dd794eu);
  EXPECT_EQ(crc32c(std::string_view("123456789")), 0xe3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string data(4099, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  const std::uint32_t whole = crc32c(data);
  for (std::size_t split : {0u, 1u, 7u, 8u, 9u, 1000u, 4098u, 4099u}) {
    EXPECT_EQ(crc32c_extend(crc32c(data.data(), split), data.data() + split, data.size() - split), whole)
        << "split at " << split;
  }
}

TEST(Crc32c, PortableMatchesHardware) {
  std::string data(777, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  for (std::size_t n = 0; n <= data.size(); n += 37) {
    EXPECT_EQ(detail::crc32c_extend_portable(0, data.data(), n), crc32c(data.data(), n)) << n;
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  const std::uint32_t crc = crc32c(std::string_view("foo"));
  EXPECT_NE(mask_crc(crc), crc);
  EXPECT_EQ(unmask_crc(mask_crc(crc)), crc);
}

}  // namespace
}  // namespace raft::util

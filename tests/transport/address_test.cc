// Peer addresses: what "host:port" strings mean, and which are refused.
#include "src/transport/address.h"

#include <gtest/gtest.h>

namespace raft::transport {
namespace {

TEST(Address, ParsesHostsPortsAndBracketedIpv6) {
  const auto v4 = parse_host_port("127.0.0.1:7001");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7001);
  const auto name = parse_host_port("node-1.example:0");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->host, "node-1.example");
  EXPECT_EQ(name->port, 0);
  const auto v6 = parse_host_port("[::1]:65535");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  EXPECT_EQ(format_host_port(*v6), "[::1]:65535");
  EXPECT_EQ(format_host_port(*v4), "127.0.0.1:7001");
}

TEST(Address, RefusesWhatIsNotHostColonPort) {
  for (const char* bad : {"", "host", "host:", ":80", "host:65536", "host:-1", "host:8o", "::1:80",
                          "[::1]80", "[::1", "[]:80", "host:123456"}) {
    EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace raft::transport

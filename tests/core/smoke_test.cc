// End-to-end smoke tests of the core on the in-process test cluster.
#include <gtest/gtest.h>

#include "tests/core/test_cluster.h"

namespace raft::core::testing {
namespace {

TEST(Smoke, SingleNodeElectsItselfAndCommits) {
  TestCluster cluster(1);
  ASSERT_EQ(cluster.elect(), 1u);
  ASSERT_TRUE(cluster.propose(1, "a").ok());
  cluster.stabilize();
  EXPECT_EQ(cluster.applied(1), std::vector<std::string>{"a"});
}

class SmokeCluster : public ::testing::TestWithParam<int> {};

TEST_P(SmokeCluster, ElectsOneLeaderAndReplicatesInOrder) {
  const int n = GetParam();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TestCluster cluster(n, seed);
    const NodeId leader = cluster.elect();
    ASSERT_NE(leader, kNoNode);
    std::vector<std::string> expected;
    for (int i = 0; i < 50; ++i) {
      expected.push_back("cmd" + std::to_string(i));
      ASSERT_TRUE(cluster.propose(leader, expected.back()).ok());
      if (i % 7 == 0) cluster.stabilize();
    }
    cluster.stabilize();
    cluster.tick_all(2);
    cluster.stabilize();
    for (NodeId id : cluster.ids()) EXPECT_EQ(cluster.applied(id), expected) << "node " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, SmokeCluster, ::testing::Values(3, 5));

}  // namespace
}  // namespace raft::core::testing

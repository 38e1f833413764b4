// A leader that removes itself keeps leading until the change commits, then steps
// down; it must still hand the committed change to its application (dissertation
// §4.2.2), or whoever asked for the change never learns that it happened.
#include <gtest/gtest.h>

#include <map>

#include "tests/core/test_cluster.h"

namespace raft::core::testing {
namespace {

TEST(Dissertation4_2_2_RemovedLeader, StepsDownAfterCommitAndStillAppliesTheChange) {
  TestCluster cluster(3, 5);
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  cluster.stabilize();
  pb::ConfChange change;
  pb::ConfChangeSingle* single = change.add_changes();
  single->set_type(pb::CONF_REMOVE);
  single->mutable_member()->set_id(leader);
  const ProposeResult result = cluster.node(leader).propose_conf_change(change);
  ASSERT_TRUE(result.ok());
  cluster.stabilize();
  cluster.tick_all(3);
  cluster.stabilize();
  EXPECT_NE(cluster.node(leader).role(), Role::kLeader);
  EXPECT_GE(cluster.node(leader).commit_index(), result.last_index);
  EXPECT_GE(cluster.node(leader).status().applied_index, result.last_index)
      << "the removed leader never applied its own removal";
}

}  // namespace
}  // namespace raft::core::testing

#include "tests/core/core_test_util.h"

namespace raft::core::testing {
namespace {

// The runtime persists the leader's entries in parallel with replication, so the
// followers' acknowledgements can commit the removal before the leader's own copy is
// durable. The removed leader must still apply the change once its write completes.
TEST(Dissertation4_2_2_RemovedLeader, AppliesItsRemovalEvenIfCommittedBeforeItsOwnWrite) {
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  for (NodeId id = 1; id <= 3; ++id) {
    Options options;
    options.id = id;
    options.random_seed = id;
    peers[id] = std::make_unique<Peer>(options, voters({1, 2, 3}));
  }
  auto route = [&](std::vector<pb::Message> messages) {
    while (!messages.empty()) {
      std::vector<pb::Message> next;
      for (const pb::Message& m : messages) {
        if (!peers.count(m.to())) continue;
        (*peers[m.to()])->step(m);
        for (pb::Message& out : peers[m.to()]->drain()) next.push_back(std::move(out));
      }
      messages = std::move(next);
    }
  };
  (*peers[1])->campaign();
  route(peers[1]->drain());
  ASSERT_EQ((*peers[1])->role(), Role::kLeader);
  route(peers[1]->drain());

  pb::ConfChange change;
  pb::ConfChangeSingle* single = change.add_changes();
  single->set_type(pb::CONF_REMOVE);
  single->mutable_member()->set_id(1);
  const ProposeResult result = (*peers[1])->propose_conf_change(change);
  ASSERT_TRUE(result.ok());
  Ready held = peers[1]->take();  // the leader's write is still in flight
  std::vector<pb::Message> sent = held.messages;
  route(sent);
  EXPECT_NE((*peers[1])->role(), Role::kLeader) << "the followers' acks commit the removal";
  peers[1]->persist(held);  // the write completes
  peers[1]->drain();
  bool applied = false;
  for (const pb::Entry& e : peers[1]->applied()) applied = applied || e.index() == result.last_index;
  EXPECT_TRUE(applied) << "commit " << (*peers[1])->commit_index() << ", persisted "
                       << (*peers[1])->status().persisted_index;
}

}  // namespace
}  // namespace raft::core::testing

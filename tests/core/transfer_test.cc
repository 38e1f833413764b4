// Leadership transfer, checked against Ongaro's dissertation §3.10: the leader stops
// accepting client requests, brings the target's log up to date, then sends it
// TimeoutNow; the target starts an election at once (skipping PreVote, with
// transfer=true so voters disregard their leader lease, §4.2.3); the transfer is
// aborted if it has not completed within an election timeout.
//
// Options are the defaults (PreVote and CheckQuorum on): the lease bypass matters
// only with CheckQuorum.
#include <gtest/gtest.h>

#include "tests/core/core_test_util.h"
#include "tests/core/feature_test_util.h"

namespace raft::core::testing {
namespace {

bool is_timeout_now(const pb::Message& m) {
  return m.has_timeout_now();
}

// §3.10: to an up-to-date follower the leader sends TimeoutNow at once; the target
// campaigns in the next term with transfer=true (no PreVote), the voters grant
// although they heard from the leader moments ago, and the target wins.
TEST(Dissertation3_10_Transfer, ToUpToDateFollower) {
  TestCluster c(3);
  make_leader(c, 1);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  const Term term = c.node(1).term();

  ASSERT_FALSE(c.node(1).transfer_leadership(2).has_value());
  EXPECT_EQ(c.node(1).status().transfer_target, 2u);
  c.process_readies();
  EXPECT_EQ(queued_to(c, is_timeout_now), (std::set<NodeId>{2}));

  int vote_requests = 0;
  c.on_deliver = [&](const pb::Message& m) {
    if (!m.has_vote_request()) return;
    ++vote_requests;
    EXPECT_EQ(m.from(), 2u);
    EXPECT_TRUE(m.vote_request().transfer());
    EXPECT_FALSE(m.vote_request().pre_vote()) << "a transfer skips PreVote";
    EXPECT_EQ(m.term(), term + 1);
  };
  c.stabilize();
  EXPECT_EQ(vote_requests, 2);
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).term(), term + 1);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).leader(), 2u);
  EXPECT_EQ(c.node(3).leader(), 2u);

  // The new leader works: its no-op and a new command commit everywhere.
  c.on_deliver = nullptr;
  const ProposeResult y = c.propose(2, "y");
  ASSERT_TRUE(y.ok());
  c.stabilize();
  run_rounds(c, 1);
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(c.applied(id), (std::vector<std::string>{"x", "y"})) << "node " << id;
  }
}

// §4.2.3 / §3.10: a follower in its lease ignores an ordinary RequestVote of a higher
// term, but grants one marked as a transfer (the leader itself asked for it).
TEST(Dissertation3_10_Transfer, TransferVoteBypassesLease) {
  Options options;
  options.id = 3;
  Peer follower(options, voters({1, 2, 3}), {}, make_hard_state(1));
  follower.step(heartbeat_request(1, 3, 1, 0));
  ASSERT_EQ(follower->leader(), 1u);

  std::vector<pb::Message> out = follower.step(vote_request(2, 3, 2, 0, 0));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(follower->term(), 1u);

  pb::Message transfer = vote_request(2, 3, 2, 0, 0);
  transfer.mutable_vote_request()->set_transfer(true);
  out = follower.step(transfer);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].vote_response().granted());
  EXPECT_EQ(follower->term(), 2u);
  EXPECT_EQ(follower->vote(), 2u);
}

// §3.10: "the prior leader sends its log entries to the target server" first: no
// TimeoutNow until the target's log matches the leader's.
TEST(Dissertation3_10_Transfer, LaggingTargetCaughtUpFirst) {
  TestCluster c(3);
  make_leader(c, 1);
  c.drop_when = [](const pb::Message& m) { return m.has_append_request() && m.to() == 3; };
  for (const char* command : {"a", "b", "c"}) ASSERT_TRUE(c.propose(1, command).ok());
  c.stabilize();
  const Index last = c.node(1).last_index();
  ASSERT_EQ(c.node(1).commit_index(), last);
  ASSERT_LT(c.node(3).last_index(), last);

  ASSERT_FALSE(c.node(1).transfer_leadership(3).has_value());
  c.process_readies();
  EXPECT_TRUE(queued_to(c, is_timeout_now).empty()) << "the target is behind";

  c.drop_when = nullptr;
  Index target_last_at_timeout_now = 0;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_timeout_now()) target_last_at_timeout_now = c.node(3).last_index();
  };
  c.stabilize();
  EXPECT_EQ(target_last_at_timeout_now, last);
  EXPECT_EQ(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
}

// §3.10 with §6: the acknowledgement from the target that commits a joint
// configuration makes the leader leave it at once (auto-leave), and leaving rebuilds
// every follower's progress. The transfer goes on against the new configuration: the
// target catches up with the leave entry, then gets TimeoutNow. (The leader used to
// check the target's progress through a pointer that leaving had freed; the simulator
// found it under AddressSanitizer once it transferred leadership.)
TEST(Dissertation3_10_Transfer, TargetsAckThatCommitsAJointConfiguration) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  // Only node 2's acknowledgements can commit: 3 and 4 hear no appends.
  c.drop_when = [](const pb::Message& m) {
    return m.has_append_request() && (m.to() == 3 || m.to() == 4);
  };
  const ProposeResult r = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_ADD_VOTER, 4), conf_single(pb::CONF_REMOVE, 3)}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(describe(c.node(1).configuration()), "voters=[1 2 4] outgoing=[1 2 3] auto_leave");
  ASSERT_FALSE(c.node(1).transfer_leadership(2).has_value());

  Index target_last_at_timeout_now = 0;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_timeout_now()) target_last_at_timeout_now = c.node(2).last_index();
  };
  c.stabilize();
  EXPECT_EQ(target_last_at_timeout_now, r.last_index + 1) << "after the leave entry";
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(describe(c.node(2).configuration()), "voters=[1 2 4]");
}

// §3.10: "the prior leader stops accepting new client requests" while the transfer is
// under way (they would be lost or delay it), membership changes included.
TEST(Dissertation3_10_Transfer, ProposalsRefusedDuringTransfer) {
  TestCluster c(3);
  make_leader(c, 1);
  c.isolate(3);
  ASSERT_FALSE(c.node(1).transfer_leadership(3).has_value());
  const Index last = c.node(1).last_index();
  EXPECT_EQ(c.propose(1, "x").error, ProposeError::kTransferring);
  EXPECT_EQ(c.propose_conf_change(1, add_learner(4)).error, ProposeError::kTransferring);
  EXPECT_EQ(c.node(1).last_index(), last);
  EXPECT_FALSE(c.node(1).lease_valid()) << "a transfer ends the lease";
}

// §3.10: "if the transfer does not complete within an election timeout, the prior
// leader aborts the transfer and resumes accepting client requests".
TEST(Dissertation3_10_Transfer, AbortedAfterElectionTimeout) {
  TestCluster c(3);
  make_leader(c, 1);
  c.isolate(3);
  ASSERT_FALSE(c.node(1).transfer_leadership(3).has_value());
  const int timeout = Options{}.election_timeout_ticks;
  run_rounds(c, timeout - 1);
  EXPECT_EQ(c.node(1).status().transfer_target, 3u);
  EXPECT_EQ(c.propose(1, "early").error, ProposeError::kTransferring);
  run_rounds(c, 1);
  EXPECT_EQ(c.node(1).status().transfer_target, kNoNode);
  EXPECT_EQ(c.node(1).role(), Role::kLeader) << "2 is still there: a quorum";
  const ProposeResult x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
}

// Only a voter can lead: a transfer to a learner or to a stranger is refused, and so
// is one asked of a non-leader; the leader carries on as before.
TEST(Dissertation3_10_Transfer, RefusedTargets) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  ASSERT_TRUE(c.propose_conf_change(1, add_learner(4)).ok());
  c.stabilize();
  run_rounds(c, 1);

  EXPECT_EQ(c.node(1).transfer_leadership(4), TransferError::kTargetIsLearner);
  EXPECT_EQ(c.node(1).transfer_leadership(9), TransferError::kUnknownTarget);
  EXPECT_EQ(c.node(2).transfer_leadership(3), TransferError::kNotLeader);
  EXPECT_EQ(c.node(1).status().transfer_target, kNoNode);
  EXPECT_TRUE(c.propose(1, "x").ok());
  c.process_readies();
  EXPECT_TRUE(queued_to(c, is_timeout_now).empty());
}

// A transfer to the leader itself is a no-op: nothing sent, proposals still accepted.
TEST(Dissertation3_10_Transfer, ToSelfIsNoop) {
  TestCluster c(3);
  make_leader(c, 1);
  const Term term = c.node(1).term();
  EXPECT_FALSE(c.node(1).transfer_leadership(1).has_value());
  EXPECT_EQ(c.node(1).status().transfer_target, kNoNode);
  c.process_readies();
  EXPECT_TRUE(queued_to(c, is_timeout_now).empty());
  EXPECT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), term);
}

// A learner or removed node that receives a TimeoutNow anyway (say, sent just before
// a change demoted it) does not campaign: only voters may stand.
TEST(Dissertation3_10_Transfer, NonVoterIgnoresTimeoutNow) {
  Options options;
  options.id = 4;
  pb::Configuration configuration = voters({1, 2, 3});
  configuration.add_learners(4);
  Peer learner(options, configuration, {}, make_hard_state(1));
  learner.step(heartbeat_request(1, 4, 1, 0));
  pb::Message timeout_now = make_message(1, 4, 1);
  timeout_now.mutable_timeout_now();
  const std::vector<pb::Message> out = learner.step(timeout_now);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(learner->role(), Role::kFollower);
  EXPECT_EQ(learner->term(), 1u);
}

}  // namespace
}  // namespace raft::core::testing

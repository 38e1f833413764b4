// Membership changes in a running cluster, checked against the Raft paper §6 and
// Ongaro's dissertation §4 (§4.1 single-server changes, §4.2.1 catching up new
// servers as non-voting learners, §4.2.2 removing the current leader, §4.2.3
// disruptive servers, §4.3 joint consensus). The arithmetic of one change is in
// confchange_test.cc; here a TestCluster runs it end to end.
//
// Options are the defaults (PreVote and CheckQuorum on) unless a test says otherwise.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/core_test_util.h"
#include "tests/core/feature_test_util.h"

namespace raft::core::testing {
namespace {

bool is_conf_entry_at(TestCluster& c, NodeId id, Index index) {
  for (const pb::Entry& entry : c.log(id)) {
    if (entry.index() == index) return entry.type() == pb::ENTRY_CONF_CHANGE;
  }
  return false;
}

// A 3-node cluster led by 1, with node 4 added as a learner and caught up.
void add_caught_up_learner(TestCluster& c) {
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  const ProposeResult r = c.propose_conf_change(1, add_learner(4));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  run_rounds(c, 2);
  ASSERT_EQ(c.node(1).commit_index(), r.last_index);
}

// ---------------------------------------------------------------------------
// §4.2.1: learners (non-voting members)

// A learner receives the whole log (it joined knowing no configuration and learns
// it from the log itself).
TEST(Dissertation4_2_1_Learner, ReceivesTheLog) {
  TestCluster c(3);
  add_caught_up_learner(c);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(terms_of(c.log(4)), terms_of(c.log(1)));
  EXPECT_EQ(c.node(4).commit_index(), c.node(1).commit_index());
  EXPECT_EQ(c.applied(4), (std::vector<std::string>{"x"}));
  EXPECT_EQ(describe(c.node(4).configuration()), "voters=[1 2 3] learners=[4]");
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2 3] learners=[4]");
}

// A learner does not count toward commit: the leader and a learner are not a
// majority of three voters, even though the learner acknowledged the entry.
TEST(Dissertation4_2_1_Learner, DoesNotCountTowardCommit) {
  TestCluster c(3);
  add_caught_up_learner(c);
  c.isolate(2);
  c.isolate(3);
  const ProposeResult r = c.propose(1, "x");
  ASSERT_TRUE(r.ok());
  run_rounds(c, 3);
  EXPECT_EQ(c.node(4).last_index(), r.last_index);    // the learner has it...
  EXPECT_LT(c.node(1).commit_index(), r.last_index);  // ...but it is not committed
  c.heal();
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), r.last_index);
}

// A learner never campaigns, however long it hears from no leader (it only asks
// whether it is still a member); an explicit campaign() is ignored too.
TEST(Dissertation4_2_1_Learner, NeverCampaigns) {
  TestCluster c(3);
  add_caught_up_learner(c);
  c.isolate(4);
  const Term term = c.node(4).term();
  const auto sent_by_4_other_than_checks = [&] {
    return queued_to(c,
                     [](const pb::Message& m) { return m.from() == 4 && !m.has_member_check(); });
  };
  for (int i = 0; i < 100; ++i) {
    c.tick(4);
    ASSERT_TRUE(sent_by_4_other_than_checks().empty());
  }
  c.node(4).campaign();
  c.process_readies();
  EXPECT_TRUE(sent_by_4_other_than_checks().empty());
  EXPECT_EQ(c.node(4).role(), Role::kFollower);
  EXPECT_EQ(c.node(4).term(), term);
}

// Candidates ask only voters: a learner is never sent a vote request.
TEST(Dissertation4_2_1_Learner, NotAskedToVote) {
  TestCluster c(3);
  add_caught_up_learner(c);
  c.node(2).campaign();
  c.process_readies();
  EXPECT_EQ(queued_to(c, [](const pb::Message& m) { return m.has_vote_request(); }),
            (std::set<NodeId>{1, 3}));
}

// A learner's vote does not count toward an election (a learner might still answer
// a vote request from a candidate that already sees it promoted, so its answer must
// be ignored rather than trusted).
TEST(Dissertation4_2_1_Learner, VoteNotCounted) {
  pb::Configuration configuration = voters({1, 2, 3});
  configuration.add_learners(4);
  Peer peer(paper_options(1), configuration);
  peer->campaign();
  peer.drain();
  ASSERT_EQ(peer->role(), Role::kCandidate);
  peer.step(vote_response(4, 1, peer->term(), /*granted=*/true));
  EXPECT_EQ(peer->role(), Role::kCandidate);  // 1 + learner 4 is not a majority of {1,2,3}
  peer.step(vote_response(2, 1, peer->term(), /*granted=*/true));
  EXPECT_EQ(peer->role(), Role::kLeader);
}

// §4.2.1: once caught up, a learner is promoted to a voter with an ordinary change;
// from then on it counts: {1,2} is no longer a majority of four voters, {1,2,4} is.
TEST(Dissertation4_2_1_Learner, Promote) {
  TestCluster c(3);
  add_caught_up_learner(c);
  const ProposeResult r = c.propose_conf_change(1, add_voter(4));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  run_rounds(c, 1);
  ASSERT_EQ(c.node(1).commit_index(), r.last_index);
  for (NodeId id : {1, 2, 3, 4}) {
    EXPECT_EQ(describe(c.node(id).configuration()), "voters=[1 2 3 4]") << "node " << id;
  }

  c.isolate(3);
  c.isolate(4);
  const ProposeResult x = c.propose(1, "x");
  run_rounds(c, 3);
  EXPECT_LT(c.node(1).commit_index(), x.last_index);
  c.heal();
  c.isolate(3);  // 1, 2 and the promoted 4: three of four
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
}

// ---------------------------------------------------------------------------
// §4.1: single-server changes

// §4.1: a configuration takes effect on the leader as soon as it is appended, so the
// entry adding a fourth voter is itself committed by a majority of the NEW
// configuration (3 of {1,2,3,4}), not of the old one (2 of {1,2,3}).
TEST(Dissertation4_1_AddVoter, CommitsWithNewMajority) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  c.drop_when = [](const pb::Message& m) {
    return m.has_append_request() && (m.to() == 3 || m.to() == 4);
  };
  const ProposeResult r = c.propose_conf_change(1, add_voter(4));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(voter_ids(c.node(1).configuration()), (std::vector<NodeId>{1, 2, 3, 4}));
  run_rounds(c, 3);
  EXPECT_EQ(c.node(2).last_index(), r.last_index);
  EXPECT_LT(c.node(1).commit_index(), r.last_index) << "committed by the old majority {1,2}";

  c.drop_when = nullptr;
  run_rounds(c, 3);
  EXPECT_EQ(c.node(1).commit_index(), r.last_index);
  for (NodeId id : {1, 2, 3, 4}) {
    EXPECT_EQ(describe(c.node(id).configuration()), "voters=[1 2 3 4]") << "node " << id;
    EXPECT_EQ(c.node(id).commit_index(), r.last_index) << "node " << id;
  }

  // The new majority commits without one voter and not without two.
  c.isolate(3);
  const ProposeResult x = c.propose(1, "x");
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
  EXPECT_EQ(c.applied(4), (std::vector<std::string>{"x"}));
  c.isolate(4);
  const ProposeResult y = c.propose(1, "y");
  run_rounds(c, 3);
  EXPECT_LT(c.node(1).commit_index(), y.last_index);
}

// §4.1: removing a follower: once the change is appended the leader stops
// replicating to it, and commits need a majority of the remaining voters only.
TEST(Dissertation4_1_RemoveFollower, ClusterContinuesWithoutIt) {
  TestCluster c(3);
  make_leader(c, 1);
  const ProposeResult r = c.propose_conf_change(1, remove_member(3));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(1).commit_index(), r.last_index);
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2]");
  EXPECT_EQ(describe(c.node(2).configuration()), "voters=[1 2]");
  EXPECT_EQ(c.node(1).status().peers.size(), 1u);

  const ProposeResult x = c.propose(1, "x");
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"x"}));
  EXPECT_LT(c.node(3).last_index(), x.last_index) << "a removed node is no longer replicated to";

  // {1,2}: both are needed now.
  c.isolate(2);
  const ProposeResult y = c.propose(1, "y");
  run_rounds(c, 3);
  EXPECT_LT(c.node(1).commit_index(), y.last_index);
}

// ---------------------------------------------------------------------------
// §4.2.2: removing the current leader

// §4.2.2: a leader removing itself counts only the new configuration's majority
// (not itself), keeps leading until the change commits, then steps down; the
// remaining servers elect a new leader and the old one never campaigns again.
TEST(Dissertation4_2_2_RemoveLeader, StepsDownOnceCommitted) {
  TestCluster c(3);
  make_leader(c, 1);
  // The change reaches 2 only: a majority of the old {1,2,3}, not of the new {2,3}.
  c.drop_when = [](const pb::Message& m) { return m.has_append_request() && m.to() == 3; };
  const ProposeResult r = c.propose_conf_change(1, remove_member(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[2 3]");
  run_rounds(c, 3);
  EXPECT_LT(c.node(1).commit_index(), r.last_index);
  EXPECT_EQ(c.node(1).role(), Role::kLeader) << "it manages the cluster until the change commits";
  EXPECT_FALSE(c.node(1).removed()) << "not while it manages the cluster";
  // It still accepts proposals meanwhile.
  const ProposeResult x = c.propose(1, "x");
  EXPECT_TRUE(x.ok());
  const Term old_term = c.node(1).term();

  c.drop_when = nullptr;
  for (int i = 0; i < 5 && c.node(1).role() == Role::kLeader; ++i) run_rounds(c, 1);
  EXPECT_GE(c.node(1).commit_index(), r.last_index);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_TRUE(c.node(1).removed());
  EXPECT_TRUE(c.node(1).status().removed);

  // The rest elect a new leader; 1 stays out of it.
  NodeId leader = kNoNode;
  for (int i = 0; i < 100 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    ASSERT_NE(c.node(1).role(), Role::kLeader);
    ASSERT_NE(c.node(1).role(), Role::kCandidate);
    ASSERT_NE(c.node(1).role(), Role::kPreCandidate);
    for (NodeId id : {2, 3}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  EXPECT_GT(c.node(leader).term(), old_term);
  EXPECT_EQ(describe(c.node(leader).configuration()), "voters=[2 3]");
  const ProposeResult y = c.propose(leader, "y");
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(leader).commit_index(), y.last_index);
  // "x", proposed by the removed leader before it stepped down, was committed too.
  const NodeId other = leader == 2 ? 3 : 2;
  EXPECT_EQ(c.applied(other), (std::vector<std::string>{"x", "y"}));
}

// §4.2.2 applied to a demotion: a leader that demotes itself to a learner steps down
// once the change commits and goes on receiving the log as a learner.
TEST(Dissertation4_2_2_RemoveLeader, DemotedLeaderStepsDownAndLearns) {
  TestCluster c(3);
  make_leader(c, 1);
  const ProposeResult r = c.propose_conf_change(1, add_learner(1));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[2 3] learners=[1]");
  NodeId leader = kNoNode;
  for (int i = 0; i < 100 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    ASSERT_EQ(c.node(1).role(), Role::kFollower);
    for (NodeId id : {2, 3}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  const ProposeResult x = c.propose(leader, "x");
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
  EXPECT_EQ(c.applied(1), (std::vector<std::string>{"x"}));
}

// ---------------------------------------------------------------------------
// Raft paper §6 / dissertation §4.3: joint consensus

// §6: replacing two members at once goes through C_old,new: the joint entry needs a
// majority of both halves, C_new is appended automatically once C_old,new commits,
// and every member ends with C_new.
TEST(Paper6_JointConsensus, ReplaceTwoMembers) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  c.add_node(joiner_options(5));
  // Hold the new members back first: the joint entry then has a majority of C_old
  // ({1,2,3}) but not of C_new ({1,4,5}).
  c.drop_when = [](const pb::Message& m) {
    return m.has_append_request() && (m.to() == 4 || m.to() == 5);
  };
  const ProposeResult r = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_ADD_VOTER, 4), conf_single(pb::CONF_ADD_VOTER, 5),
                      conf_single(pb::CONF_REMOVE, 2), conf_single(pb::CONF_REMOVE, 3)}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 4 5] outgoing=[1 2 3] auto_leave");
  run_rounds(c, 3);
  EXPECT_EQ(c.node(2).last_index(), r.last_index);
  EXPECT_EQ(c.node(3).last_index(), r.last_index);
  EXPECT_LT(c.node(1).commit_index(), r.last_index) << "C_new has no majority yet";
  EXPECT_EQ(c.node(1).last_index(), r.last_index) << "no leave before C_old,new commits";

  c.drop_when = nullptr;
  run_rounds(c, 5);
  // The leave entry follows the joint one.
  ASSERT_EQ(c.node(1).last_index(), r.last_index + 1);
  EXPECT_TRUE(is_conf_entry_at(c, 1, r.last_index + 1));
  EXPECT_EQ(c.node(1).commit_index(), r.last_index + 1);
  for (NodeId id : {1, 4, 5}) {
    EXPECT_EQ(describe(c.node(id).configuration()), "voters=[1 4 5]") << "node " << id;
    EXPECT_EQ(c.node(id).commit_index(), r.last_index + 1) << "node " << id;
  }
  // 2 and 3 were in C_old,new, so they hold it; they are not members of C_new.
  for (NodeId id : {2, 3}) {
    EXPECT_TRUE(is_joint(c.node(id).configuration()));
  }

  // The new configuration works on its own: commits without 2 and 3...
  c.isolate(2);
  c.isolate(3);
  const ProposeResult x = c.propose(1, "x");
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
  // ...and elects a new leader among {4,5} when 1 goes away.
  c.isolate(1);
  NodeId leader = kNoNode;
  for (int i = 0; i < 200 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    for (NodeId id : {4, 5}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  EXPECT_NE(leader, kNoNode);
}

// §6: if the leader that entered C_old,new fails before C_new is appended, the next
// leader (elected by both majorities) finishes the change: once its no-op commits,
// the committed joint configuration is left automatically.
TEST(Paper6_JointConsensus, NewLeaderCompletesAutoLeave) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  const ProposeResult joint = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_ADD_VOTER, 4)}, pb::TRANSITION_JOINT_IMPLICIT));
  ASSERT_TRUE(joint.ok());
  // Nothing at or after the leave entry leaves 1.
  const Index leave_index = joint.last_index + 1;
  c.drop_when = [&](const pb::Message& m) {
    if (!m.has_append_request() || m.from() != 1) return false;
    for (const pb::Entry& e : m.append_request().entries()) {
      if (e.index() >= leave_index) return true;
    }
    return false;
  };
  c.stabilize();
  run_rounds(c, 2);
  ASSERT_EQ(c.node(1).last_index(), leave_index);
  ASSERT_EQ(c.node(1).commit_index(), joint.last_index);
  for (NodeId id : {2, 3}) {
    ASSERT_EQ(c.node(id).last_index(), joint.last_index) << "node " << id;
    ASSERT_TRUE(is_joint(c.node(id).configuration())) << "node " << id;
  }
  ASSERT_LE(c.node(4).last_index(), joint.last_index)
      << "4 (still catching up) lacks the leave too";

  c.drop_when = nullptr;
  c.isolate(1);
  NodeId leader = kNoNode;
  for (int i = 0; i < 200 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    for (NodeId id : {2, 3, 4}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  run_rounds(c, 2);
  const Index last = c.node(leader).last_index();
  EXPECT_TRUE(is_conf_entry_at(c, leader, last)) << "the new leader appended C_new";
  EXPECT_EQ(c.node(leader).commit_index(), last);
  for (NodeId id : {2, 3, 4}) {
    EXPECT_EQ(describe(c.node(id).configuration()), "voters=[1 2 3 4]") << "node " << id;
  }
  // The old leader, back, drops its own uncommitted leave entry for the new one.
  c.heal();
  run_rounds(c, 3);
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2 3 4]");
  EXPECT_EQ(terms_of(c.log(1)), terms_of(c.log(leader)));
}

// §6: "the leader ... steps down once C_new is committed" when it is not part of
// C_new: a leader replaced in a joint change leads through C_old,new (it is a voter
// of the outgoing half), appends C_new, and steps down once C_new commits.
TEST(Paper6_JointConsensus, LeaderReplacedInJointChange) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  const ProposeResult r = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_REMOVE, 1), conf_single(pb::CONF_ADD_VOTER, 4)}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[2 3 4] outgoing=[1 2 3] auto_leave");
  c.stabilize();
  run_rounds(c, 3);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_GE(c.node(1).commit_index(), r.last_index + 1) << "C_new committed before stepping down";
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[2 3 4]");
  NodeId leader = kNoNode;
  for (int i = 0; i < 100 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    ASSERT_EQ(c.node(1).role(), Role::kFollower);
    for (NodeId id : {2, 3, 4}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  for (NodeId id : {2, 3, 4}) {
    EXPECT_EQ(describe(c.node(id).configuration()), "voters=[2 3 4]") << "node " << id;
  }
  const ProposeResult x = c.propose(leader, "x");
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(leader).commit_index(), x.last_index);
  EXPECT_EQ(c.applied(4), (std::vector<std::string>{"x"}));
}

// §4.3: with an explicit transition the joint configuration stays until an empty
// change leaves it; no other change is allowed meanwhile.
TEST(Paper6_JointConsensus, ExplicitLeave) {
  TestCluster c(3);
  make_leader(c, 1);
  const ProposeResult r = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_REMOVE, 3)}, pb::TRANSITION_JOINT_EXPLICIT));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), r.last_index);
  EXPECT_EQ(c.node(1).last_index(), r.last_index) << "no automatic leave";
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2] outgoing=[1 2 3]");

  std::string error;
  const ProposeResult refused = c.propose_conf_change(1, add_learner(4), &error);
  EXPECT_EQ(refused.error, ProposeError::kInvalidConfChange);
  EXPECT_FALSE(error.empty());

  const ProposeResult leave = c.propose_conf_change(1, pb::ConfChange{});
  ASSERT_TRUE(leave.ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(1).commit_index(), leave.last_index);
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2]");
  EXPECT_EQ(describe(c.node(2).configuration()), "voters=[1 2]");
}

// ---------------------------------------------------------------------------
// §4.1: one change at a time

// §4.1 (and the bug found in the single-server algorithm, dissertation §4.1 note):
// a leader appends no new change while an earlier one is uncommitted.
TEST(Dissertation4_1_OneAtATime, SecondChangeRefusedUntilFirstCommits) {
  TestCluster c(3);
  make_leader(c, 1);
  const ProposeResult first = c.propose_conf_change(1, add_learner(4));
  ASSERT_TRUE(first.ok());
  const ProposeResult second = c.propose_conf_change(1, add_learner(5));
  EXPECT_EQ(second.error, ProposeError::kConfChangeInProgress);
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), first.last_index);
  EXPECT_TRUE(c.propose_conf_change(1, add_learner(5)).ok());
}

// While a joint configuration waits for its automatic leave to commit, no other
// change is accepted either.
TEST(Dissertation4_1_OneAtATime, RefusedUntilAutoLeaveCommits) {
  TestCluster c(3);
  make_leader(c, 1);
  const ProposeResult joint = c.propose_conf_change(
      1, conf_change({conf_single(pb::CONF_ADD_LEARNER, 4)}, pb::TRANSITION_JOINT_IMPLICIT));
  ASSERT_TRUE(joint.ok());
  // Let the joint entry commit, but not the leave entry that follows it.
  const Index leave_index = joint.last_index + 1;
  c.drop_when = [&](const pb::Message& m) {
    return m.has_append_response() && m.append_response().index() >= leave_index;
  };
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), joint.last_index);
  ASSERT_EQ(c.node(1).last_index(), leave_index) << "auto-leave appended";
  EXPECT_EQ(c.propose_conf_change(1, add_learner(5)).error, ProposeError::kConfChangeInProgress);
  c.drop_when = nullptr;
  run_rounds(c, 1);
  ASSERT_EQ(c.node(1).commit_index(), joint.last_index + 1);
  EXPECT_FALSE(is_joint(c.node(1).configuration()));
  EXPECT_TRUE(c.propose_conf_change(1, add_learner(5)).ok());
}

// Dissertation §4.1 (the bug in single-server changes, fixed in the errata): a new
// leader must commit an entry of its own term before it appends a configuration
// change, or an uncommitted change of a previous leader could still take over.
TEST(Dissertation4_1_OneAtATime, NewLeaderWaitsForItsNoop) {
  TestCluster c(3);
  c.node(1).campaign();
  c.deliver_pending();  // vote requests
  c.deliver_pending();  // votes: 1 becomes leader and sends its no-op
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  ASSERT_LT(c.node(1).commit_index(), c.node(1).last_index());
  EXPECT_EQ(c.propose_conf_change(1, add_learner(4)).error, ProposeError::kConfChangeInProgress);
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), c.node(1).last_index());
  EXPECT_TRUE(c.propose_conf_change(1, add_learner(4)).ok());
}

// Followers and candidates refuse changes (only the leader appends).
TEST(Dissertation4_1_OneAtATime, OnlyTheLeaderProposes) {
  TestCluster c(3);
  make_leader(c, 1);
  EXPECT_EQ(c.propose_conf_change(2, add_learner(4)).error, ProposeError::kNotLeader);
}

// An invalid change is refused with a reason and appends nothing.
TEST(Dissertation4_1_OneAtATime, InvalidChangeRefused) {
  TestCluster c(1);
  make_leader(c, 1);
  const Index last = c.node(1).last_index();
  std::string error;
  EXPECT_EQ(c.propose_conf_change(1, remove_member(1), &error).error,
            ProposeError::kInvalidConfChange);
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(c.node(1).last_index(), last);
}

// ---------------------------------------------------------------------------
// §4.1: configurations take effect on append, and are undone by truncation

// §4.1: "a server always uses the latest configuration in its log, regardless of
// whether the entry is committed": a follower holding an uncommitted change adding
// voter 4 already asks 4 for its vote.
TEST(Dissertation4_1_TakesEffectOnAppend, FollowerUsesUncommittedConfiguration) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  c.drop_when = [](const pb::Message& m) { return m.to() == 1 && m.has_append_response(); };
  const ProposeResult r = c.propose_conf_change(1, add_voter(4));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  ASSERT_EQ(c.node(2).last_index(), r.last_index);
  ASSERT_LT(c.node(2).commit_index(), r.last_index);
  EXPECT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3, 4}));

  c.drop_pending();
  c.node(2).campaign();
  c.process_readies();
  EXPECT_EQ(
      queued_to(c, [](const pb::Message& m) { return m.from() == 2 && m.has_vote_request(); }),
      (std::set<NodeId>{1, 3, 4}));
}

// §4.1: "if a log entry is truncated, the server falls back to the previous
// configuration": a change that reached one follower and the old leader only is
// overwritten by a new leader, and both return to the old configuration.
TEST(Dissertation4_1_TakesEffectOnAppend, UndoneWhenTruncated) {
  TestCluster c(5);
  make_leader(c, 1);
  c.add_node(joiner_options(6));
  c.drop_when = [](const pb::Message& m) {
    return m.from() == 1 && m.has_append_request() && m.to() != 2;
  };
  const ProposeResult r = c.propose_conf_change(1, add_voter(6));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  ASSERT_EQ(c.node(2).last_index(), r.last_index);
  ASSERT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(voter_ids(c.node(1).configuration()), (std::vector<NodeId>{1, 2, 3, 4, 5, 6}));

  // 1 and 2 are cut off; 3, 4 and 5 elect a leader whose log lacks the change.
  c.drop_when = nullptr;
  c.isolate(1);
  c.isolate(2);
  NodeId leader = kNoNode;
  for (int i = 0; i < 200 && leader == kNoNode; ++i) {
    run_rounds(c, 1);
    for (NodeId id : {3, 4, 5}) {
      if (c.node(id).role() == Role::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  const ProposeResult x = c.propose(leader, "x");
  ASSERT_TRUE(x.ok());

  c.heal();
  run_rounds(c, 5);
  for (NodeId id : {1, 2}) {
    SCOPED_TRACE("node " + std::to_string(id));
    EXPECT_EQ(voter_ids(c.node(id).configuration()), (std::vector<NodeId>{1, 2, 3, 4, 5}));
    EXPECT_FALSE(is_conf_entry_at(c, id, r.last_index));
    EXPECT_EQ(terms_of(c.log(id)), terms_of(c.log(leader)));
  }
  EXPECT_EQ(c.node(leader).commit_index(), x.last_index);
}

// ---------------------------------------------------------------------------
// Restart

// A restarted node rebuilds its configuration from its log: committed changes and
// an uncommitted one alike (configurations take effect when appended).
TEST(Dissertation4_1_Restart, ReconstructsConfigurationFromLog) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  ASSERT_TRUE(c.propose_conf_change(1, add_voter(4)).ok());
  c.stabilize();
  run_rounds(c, 2);
  ASSERT_TRUE(c.propose_conf_change(1, remove_member(3)).ok());
  c.stabilize();
  run_rounds(c, 1);
  ASSERT_EQ(describe(c.node(2).configuration()), "voters=[1 2 4]");

  // An uncommitted change that reached 2.
  c.drop_when = [](const pb::Message& m) { return m.to() == 1 && m.has_append_response(); };
  const ProposeResult r = c.propose_conf_change(1, add_learner(5));
  ASSERT_TRUE(r.ok());
  c.stabilize();
  ASSERT_EQ(c.node(2).last_index(), r.last_index);
  ASSERT_LT(c.node(2).commit_index(), r.last_index);

  c.restart(2);
  EXPECT_EQ(describe(c.node(2).configuration()), "voters=[1 2 4] learners=[5]");
  c.restart(1);
  EXPECT_EQ(describe(c.node(1).configuration()), "voters=[1 2 4] learners=[5]");
  c.restart(4);
  EXPECT_EQ(describe(c.node(4).configuration()), "voters=[1 2 4] learners=[5]");
}

// ---------------------------------------------------------------------------
// §7 with §4: log compaction must not lose the configuration

// A follower whose runtime compacted its log past a configuration change (the
// runtime snapshots on every node) keeps using that configuration: a compacted
// change is committed, so it can never be truncated.
TEST(Dissertation4_1_Compaction, FollowerKeepsConfigurationAfterCompaction) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  ASSERT_TRUE(c.propose_conf_change(1, add_voter(4)).ok());
  c.stabilize();
  run_rounds(c, 2);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  run_rounds(c, 1);
  ASSERT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3, 4}));

  c.compact(2, c.node(2).commit_index());
  ASSERT_TRUE(c.propose(1, "y").ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3, 4}));

  // It matters: when 2 leads it must replicate to 4 and count it.
  ASSERT_FALSE(c.node(1).transfer_leadership(2).has_value());
  c.stabilize();
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  c.isolate(1);
  const ProposeResult z = c.propose(2, "z");
  ASSERT_TRUE(z.ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(c.node(4).last_index(), z.last_index);
  EXPECT_EQ(c.node(2).commit_index(), z.last_index);
}

// ---------------------------------------------------------------------------
// §4.2.3: disruptive servers

// Removes 3 from a 3-node cluster led by 1 (3 never receives the change: the leader
// stops replicating to it once the change is appended; with `lose_notice` it is not
// told either once the change commits), then lets time run. Returns whether the
// leader was disturbed: its term moved or it lost leadership.
bool removed_server_disrupts(bool pre_vote, bool check_quorum, bool lose_notice = true) {
  TestCluster c(3, /*seed=*/5, [&](Options& o) {
    o.pre_vote = pre_vote;
    o.check_quorum = check_quorum;
  });
  c.node(1).campaign();
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  if (lose_notice) c.drop_when = [](const pb::Message& m) { return m.has_not_member(); };
  const ProposeResult r = c.propose_conf_change(1, remove_member(3));
  EXPECT_TRUE(r.ok());
  c.stabilize();
  run_rounds(c, 1);
  c.drop_when = nullptr;
  EXPECT_EQ(c.node(1).commit_index(), r.last_index);
  EXPECT_EQ(voter_ids(c.node(3).configuration()), (std::vector<NodeId>{1, 2, 3}))
      << "3 does not hold its removal";
  EXPECT_EQ(c.node(3).removed(), !lose_notice);
  const Term term = c.node(1).term();
  bool disrupted = false;
  for (int i = 0; i < 100; ++i) {
    run_rounds(c, 1);
    if (c.node(1).role() != Role::kLeader || c.node(1).term() != term) disrupted = true;
  }
  return disrupted;
}

// §4.2.3: with PreVote and CheckQuorum (the defaults) a removed server that never
// learned of its removal times out and probes, but cannot disturb the leader.
TEST(Dissertation4_2_3_DisruptiveServers, RemovedServerCannotDisrupt) {
  EXPECT_FALSE(removed_server_disrupts(/*pre_vote=*/true, /*check_quorum=*/true));
}

// §4.2.3: the dissertation's own defence: servers that heard from a leader within
// the minimum election timeout ignore vote requests, so even without PreVote the
// removed server's ever-higher terms are ignored.
TEST(Dissertation4_2_3_DisruptiveServers, LeaseAloneIgnoresRemovedServer) {
  EXPECT_FALSE(removed_server_disrupts(/*pre_vote=*/false, /*check_quorum=*/true));
}

// §4.2.3, the problem itself: with neither defence, and the leader's notice of the
// removal lost, the removed server's RequestVotes carry a higher term and depose the
// leader (after which the members' answers tell it it is not a member).
TEST(Dissertation4_2_3_DisruptiveServers, WithoutDefencesRemovedServerDisrupts) {
  EXPECT_TRUE(removed_server_disrupts(/*pre_vote=*/false, /*check_quorum=*/false,
                                      /*lose_notice=*/true));
}

// The notice is a defence of its own: told once its removal commits, the removed
// server never campaigns, even with neither PreVote nor CheckQuorum.
TEST(Dissertation4_2_3_DisruptiveServers, ToldOfItsRemovalItCannotDisruptEvenWithoutDefences) {
  EXPECT_FALSE(removed_server_disrupts(/*pre_vote=*/false, /*check_quorum=*/false,
                                       /*lose_notice=*/false));
}

// Removes 3 from a 3-node cluster led by 1 (3 never receives the change, and the
// notice the leader sends it once the change commits is lost) and counts, from then
// on, 3's vote requests and the notices delivered.
struct RemovedServer {
  explicit RemovedServer(TestCluster& cluster) : c(cluster) {
    make_leader(c, 1);
    c.drop_when = [](const pb::Message& m) { return m.has_not_member(); };
    removal = c.propose_conf_change(1, remove_member(3));
    c.stabilize();
    run_rounds(c, 1);
    c.drop_when = nullptr;
    c.on_deliver = [this](const pb::Message& m) {
      if (m.from() == 3 && m.has_vote_request()) ++vote_requests;
      if (m.has_not_member()) notices.push_back(m);
    };
  }
  // Runs rounds until 3 knows it was removed; returns how many, or -1.
  int run_until_removed() {
    for (int round = 1; round <= 100; ++round) {
      run_rounds(c, 1);
      if (c.node(3).removed()) return round;
    }
    return -1;
  }
  TestCluster& c;
  ProposeResult removal;
  int vote_requests = 0;
  std::vector<pb::Message> notices;
};

// §4.2.3, the removed server's side: it never hears of the entry that removed it (nor
// the leader's notice), so it times out and probes; the members, whose configuration
// without it is committed, answer that it is not a member (pb::NotMember), and it
// never campaigns again.
TEST(Dissertation4_2_3_DisruptiveServers, RemovedServerLearnsItWasRemovedAndFallsSilent) {
  TestCluster c(3, /*seed=*/5);
  RemovedServer removed(c);
  ASSERT_TRUE(removed.removal.ok());
  ASSERT_EQ(voter_ids(c.node(3).configuration()), (std::vector<NodeId>{1, 2, 3}))
      << "3 does not hold its removal";
  EXPECT_FALSE(c.node(3).removed());
  const Term term = c.node(1).term();

  const int rounds = removed.run_until_removed();
  ASSERT_GT(rounds, 0) << "3 never learned it was removed";
  ASSERT_FALSE(removed.notices.empty());
  for (const pb::Message& notice : removed.notices) {
    EXPECT_EQ(notice.to(), 3u);
    EXPECT_EQ(notice.not_member().configuration_index(), removed.removal.last_index);
  }
  const int asked = removed.vote_requests;
  EXPECT_GT(asked, 0) << "it learned by probing";
  run_rounds(c, 100);
  EXPECT_EQ(removed.vote_requests, asked) << "a node that knows it was removed never campaigns";
  EXPECT_TRUE(c.node(3).removed());
  EXPECT_TRUE(c.node(3).status().removed);
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  EXPECT_EQ(c.node(3).leader(), kNoNode) << "no leader will talk to it again";
  // A read there fails at once: it could never apply up to any read index.
  c.node(3).read_index("r");
  c.process_readies();
  ASSERT_EQ(c.read_states(3).size(), 1u);
  EXPECT_FALSE(c.read_states(3)[0].ok);
  EXPECT_FALSE(c.node(1).removed());
  EXPECT_FALSE(c.node(2).removed());
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), term) << "nobody was disturbed";
}

// The leader tells each member a change removed once the change commits: a learner,
// which never asks anyone anything, learns it that way.
TEST(Dissertation4_2_3_DisruptiveServers, RemovedLearnerIsToldOnceTheRemovalCommits) {
  TestCluster c(3, /*seed=*/5);
  add_caught_up_learner(c);
  std::vector<pb::Message> notices;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_not_member()) notices.push_back(m);
  };
  const ProposeResult removal = c.propose_conf_change(1, remove_member(4));
  ASSERT_TRUE(removal.ok());
  EXPECT_FALSE(c.node(4).removed());
  c.stabilize();
  run_rounds(c, 1);
  ASSERT_EQ(c.node(1).commit_index(), removal.last_index);
  ASSERT_EQ(notices.size(), 1u) << "one notice, from the leader, once";
  EXPECT_EQ(notices[0].from(), 1u);
  EXPECT_EQ(notices[0].to(), 4u);
  EXPECT_EQ(notices[0].not_member().configuration_index(), removal.last_index);
  EXPECT_LT(c.node(4).last_index(), removal.last_index) << "4 never received its removal";
  EXPECT_TRUE(c.node(4).removed());
  run_rounds(c, 20);
  EXPECT_EQ(notices.size(), 1u);
}

// A removed learner that missed the leader's notice (it was cut off when the removal
// committed) asks the voters once it has heard from no leader for an election timeout
// (pb::MemberCheck), is told, and then stops asking.
TEST(Dissertation4_2_3_DisruptiveServers, RemovedLearnerThatMissedTheNoticeAsksAndIsTold) {
  TestCluster c(3, /*seed=*/5);
  add_caught_up_learner(c);
  c.isolate(4);
  const ProposeResult removal = c.propose_conf_change(1, remove_member(4));
  ASSERT_TRUE(removal.ok());
  c.stabilize();
  run_rounds(c, 1);
  ASSERT_EQ(c.node(1).commit_index(), removal.last_index);
  c.heal();
  ASSERT_FALSE(c.node(4).removed()) << "the leader's notice was lost";

  std::vector<pb::Message> checks;
  std::vector<pb::Message> notices;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_member_check()) checks.push_back(m);
    if (m.has_not_member()) notices.push_back(m);
  };
  const Term term = c.node(1).term();
  int rounds = 0;
  while (!c.node(4).removed() && rounds < 100) {
    run_rounds(c, 1);
    ++rounds;
  }
  ASSERT_TRUE(c.node(4).removed()) << "4 never learned it was removed";
  // One check per voter in one timeout, each answered with the removal's index.
  ASSERT_EQ(checks.size(), 3u);
  for (const pb::Message& check : checks) EXPECT_EQ(check.from(), 4u);
  ASSERT_FALSE(notices.empty());
  for (const pb::Message& notice : notices) {
    EXPECT_EQ(notice.to(), 4u);
    EXPECT_EQ(notice.not_member().configuration_index(), removal.last_index);
  }
  run_rounds(c, 100);
  EXPECT_EQ(checks.size(), 3u) << "a learner that knows it was removed stops asking";
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), term) << "nobody's term moved";
}

// A learner that hears from its leader never asks; one cut off from its leader asks
// once per election timeout, and a member's answer is nothing at all.
TEST(Dissertation4_2_1_Learner, AsksWhetherItIsStillAMemberOnlyWhenNoLeaderIsHeard) {
  TestCluster c(3, /*seed=*/5);
  add_caught_up_learner(c);
  int checks = 0;
  int notices = 0;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_member_check()) ++checks;
    if (m.has_not_member()) ++notices;
  };
  run_rounds(c, 100);
  EXPECT_EQ(checks, 0) << "it hears from its leader";

  // Cut off from the leader only: it asks the voters it can reach, who say nothing.
  c.drop_when = [](const pb::Message& m) {
    return (m.from() == 1 && m.to() == 4) || (m.from() == 4 && m.to() == 1);
  };
  const Term term = c.node(1).term();
  run_rounds(c, 100);
  EXPECT_GT(checks, 0);
  // Once per election timeout (at least 10 ticks here), to two reachable voters.
  EXPECT_LE(checks, 2 * 100 / 10);
  EXPECT_EQ(notices, 0);
  EXPECT_FALSE(c.node(4).removed());
  EXPECT_EQ(c.node(1).term(), term);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

// Asking does not count as hearing from a leader: a learner that has asked still
// grants a pre-vote (here from a candidate whose newer configuration made it a voter),
// as one that heard from no leader must.
TEST(Dissertation4_2_1_Learner, AskingIsNotHearingFromALeader) {
  Options options = paper_options(4);
  options.pre_vote = true;
  options.check_quorum = true;
  pb::Configuration configuration = voters({1, 2, 3});
  configuration.add_learners(4);
  Peer learner(options, configuration, {}, make_hard_state(2));
  learner.step(heartbeat_request(1, 4, 2, 0));
  ASSERT_EQ(learner->leader(), 1u);
  std::vector<pb::Message> sent;
  for (int i = 0; i < 3 * options.election_timeout_ticks; ++i) {
    learner->tick();
    for (pb::Message& m : learner.drain()) sent.push_back(std::move(m));
  }
  ASSERT_FALSE(sent.empty());
  for (const pb::Message& m : sent) ASSERT_TRUE(m.has_member_check());

  // At every tick of two more timeouts, asking all the while (a granted pre-vote
  // changes nothing, so each tick's answer is the learner's own).
  for (int i = 0; i < 2 * options.election_timeout_ticks; ++i) {
    learner->tick();
    learner.drain();
    const std::vector<pb::Message> out =
        learner.step(vote_request(2, 4, 3, 0, 0, /*pre_vote=*/true));
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].has_vote_response());
    EXPECT_TRUE(out[0].vote_response().granted()) << "tick " << i;
  }
}

// Added back under the same id, it is a member again as soon as it holds the newer
// configuration that names it, and its vote counts.
TEST(Dissertation4_2_3_DisruptiveServers, RemovedServerAddedBackIsAMemberAgain) {
  TestCluster c(3, /*seed=*/5);
  RemovedServer removed(c);
  ASSERT_GT(removed.run_until_removed(), 0);
  const ProposeResult back = c.propose_conf_change(1, add_voter(3));
  ASSERT_TRUE(back.ok());
  c.stabilize();
  run_rounds(c, 3);
  EXPECT_FALSE(c.node(3).removed());
  EXPECT_EQ(voter_ids(c.node(3).configuration()), (std::vector<NodeId>{1, 2, 3}));
  c.isolate(2);
  const ProposeResult x = c.propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  run_rounds(c, 2);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index) << "3's acknowledgement counts again";
}

// What makes the notice safe: a member that lags behind, holding an older committed
// configuration that does not name a newer member, tells that member it is not one;
// the newer member holds a newer configuration naming it, ignores the notice, and
// wins an election with the laggard's vote.
TEST(Dissertation4_2_3_DisruptiveServers, ALaggingMembersNoticeIsIgnored) {
  TestCluster c(3, /*seed=*/1, [](Options& o) { o.check_quorum = false; });
  make_leader(c, 1);
  // A learner first, so 2's configuration is at an index above 0.
  c.add_node(joiner_options(5));
  ASSERT_TRUE(c.propose_conf_change(1, add_learner(5)).ok());
  c.stabilize();
  run_rounds(c, 2);
  c.add_node(joiner_options(4));
  c.isolate(2);  // 2 keeps {1 2 3} with learner 5
  const ProposeResult added = c.propose_conf_change(1, add_voter(4));
  ASSERT_TRUE(added.ok());
  c.stabilize();
  run_rounds(c, 3);
  ASSERT_EQ(c.node(4).status().commit_index, added.last_index);
  ASSERT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3}));

  c.heal();
  c.isolate(1);
  std::vector<pb::Message> notices;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_not_member()) notices.push_back(m);
  };
  c.node(4).campaign();  // asks 1 (cut off), 2 and 3; it needs both
  c.stabilize();
  ASSERT_EQ(notices.size(), 1u) << "2 tells 4 it is not a member of {1 2 3}";
  EXPECT_EQ(notices[0].from(), 2u);
  EXPECT_GT(notices[0].not_member().configuration_index(), 0u);
  EXPECT_LT(notices[0].not_member().configuration_index(), added.last_index);
  EXPECT_FALSE(c.node(4).removed());
  EXPECT_EQ(c.node(4).role(), Role::kLeader);
  EXPECT_EQ(voter_ids(c.node(2).configuration()), (std::vector<NodeId>{1, 2, 3, 4}))
      << "the new leader brought 2 up to date";
}

}  // namespace
}  // namespace raft::core::testing

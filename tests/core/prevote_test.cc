// PreVote, checked against Ongaro's dissertation §9.6: "a server that was
// partitioned away ... would not be able to increment its term, since it could not
// receive permission from a majority of the cluster", so when it rejoins it does not
// force a stable leader to step down. Issue 4 asks for both halves: without PreVote
// a rejoining partitioned node disrupts a stable leader, with PreVote it does not.
//
// Each half runs with CheckQuorum off and on:
//  - off is the dissertation's setting for the problem: the rejoining node's
//    RequestVote of a higher term makes everyone adopt it and the leader step down.
//  - on shows CheckQuorum's follower lease alone does not save the leader: the
//    followers do ignore the rejoining node's vote requests, but the leader's next
//    heartbeat reaches it with a lower term, and its answer carries the higher term
//    (it must, or a leader of an older term could never learn it is stale), which
//    makes the leader step down. Only PreVote keeps the partitioned node's term
//    from rising in the first place.
#include <gtest/gtest.h>

#include "tests/core/feature_test_util.h"

namespace raft::core::testing {
namespace {

// Whether every node holds the same log (indexes, terms and data).
bool terms_of_log_equal(TestCluster& c) {
  const std::vector<pb::Entry> reference = c.log(1);
  for (NodeId id : c.ids()) {
    const std::vector<pb::Entry> log = c.log(id);
    if (log.size() != reference.size()) return false;
    for (std::size_t i = 0; i < log.size(); ++i) {
      if (log[i].SerializeAsString() != reference[i].SerializeAsString()) return false;
    }
  }
  return true;
}

struct RejoinOutcome {
  Term leader_term_before = 0;
  Term partitioned_term_while_away = 0;
  bool leader_disturbed = false;  // lost leadership or changed term at any point
  NodeId final_leader = kNoNode;
  Term final_term = 0;
  bool logs_converged = false;
};

// Leader 1 of 3 (with "x" committed while 3 is away when `write_while_away`) while
// 3 is cut off for 60 rounds (several election timeouts); then 3 rejoins, ticks
// until its next (pre-)vote requests go out, so they reach the others while these
// still hear from the leader, and time runs for 60 more rounds.
RejoinOutcome partition_and_rejoin(bool pre_vote, bool check_quorum, bool write_while_away = true) {
  RejoinOutcome out;
  TestCluster c(3, /*seed=*/9, [&](Options& o) {
    o.pre_vote = pre_vote;
    o.check_quorum = check_quorum;
  });
  c.node(1).campaign();
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  out.leader_term_before = c.node(1).term();

  c.isolate(3);
  if (write_while_away) {
    EXPECT_TRUE(c.propose(1, "x").ok());
  }
  for (int i = 0; i < 60; ++i) {
    run_rounds(c, 1);
    if (c.node(1).role() != Role::kLeader || c.node(1).term() != out.leader_term_before) {
      out.leader_disturbed = true;
    }
  }
  out.partitioned_term_while_away = c.node(3).term();

  c.heal();
  c.drop_pending();
  bool asked = false;
  for (int i = 0; i < 40 && !asked; ++i) {
    c.tick(3);
    for (const pb::Message& m : c.queue()) asked = asked || m.has_vote_request();
  }
  EXPECT_TRUE(asked) << "3 keeps trying while away";
  c.stabilize();
  for (int i = 0; i < 60; ++i) {
    run_rounds(c, 1);
    if (c.node(1).role() != Role::kLeader || c.node(1).term() != out.leader_term_before) {
      out.leader_disturbed = true;
    }
  }
  out.final_leader = c.leader();
  out.final_term = out.final_leader == kNoNode ? 0 : c.node(out.final_leader).term();
  out.logs_converged = terms_of_log_equal(c);
  if (write_while_away) {
    EXPECT_NE(out.final_leader, 3u) << "3's log lacks x: it can never win (§5.4.1)";
  }
  return out;
}

// §9.6, the problem: without PreVote the partitioned node's term climbs with every
// election timeout, and on rejoining it deposes the leader (an election nobody
// needed). CheckQuorum off: its RequestVote's higher term reaches everyone.
TEST(Dissertation9_6_PreVote, WithoutPreVoteRejoiningNodeDisruptsLeader) {
  const RejoinOutcome r = partition_and_rejoin(/*pre_vote=*/false, /*check_quorum=*/false);
  EXPECT_GT(r.partitioned_term_while_away, r.leader_term_before + 2);
  EXPECT_TRUE(r.leader_disturbed);
  EXPECT_GT(r.final_term, r.partitioned_term_while_away) << "the cluster had to jump past it";
  EXPECT_TRUE(r.logs_converged);
}

// §9.6 with §4.2.3: CheckQuorum's lease makes the followers ignore the rejoining
// node's vote requests, but the answer to the leader's heartbeat carries its higher
// term and still deposes the leader: the lease alone does not prevent the disruption.
TEST(Dissertation9_6_PreVote, WithoutPreVoteCheckQuorumAloneDoesNotPrevent) {
  const RejoinOutcome r = partition_and_rejoin(/*pre_vote=*/false, /*check_quorum=*/true);
  EXPECT_GT(r.partitioned_term_while_away, r.leader_term_before + 2);
  EXPECT_TRUE(r.leader_disturbed);
  EXPECT_TRUE(r.logs_converged);
}

// §9.6, the remedy: with PreVote the partitioned node never wins a pre-vote, so its
// term never rises; when it rejoins, the leader and the term are unchanged and it
// simply catches up. With CheckQuorum (the default).
TEST(Dissertation9_6_PreVote, WithPreVoteRejoiningNodeDoesNotDisrupt) {
  const RejoinOutcome r = partition_and_rejoin(/*pre_vote=*/true, /*check_quorum=*/true);
  EXPECT_EQ(r.partitioned_term_while_away, r.leader_term_before);
  EXPECT_FALSE(r.leader_disturbed);
  EXPECT_EQ(r.final_leader, 1u);
  EXPECT_EQ(r.final_term, r.leader_term_before);
  EXPECT_TRUE(r.logs_converged);
}

// §9.6: PreVote alone suffices (CheckQuorum off): pre-vote requests are refused
// while the voters hear from the leader, and a refused pre-vote raises no term. This
// holds even when the rejoining node's log is as up to date as everyone's (nothing
// was written while it was away), so its pre-vote would otherwise be granted.
TEST(Dissertation9_6_PreVote, WithPreVoteWithoutCheckQuorumDoesNotDisrupt) {
  for (bool write_while_away : {true, false}) {
    SCOPED_TRACE(write_while_away ? "log behind" : "log up to date");
    const RejoinOutcome r =
        partition_and_rejoin(/*pre_vote=*/true, /*check_quorum=*/false, write_while_away);
    EXPECT_EQ(r.partitioned_term_while_away, r.leader_term_before);
    EXPECT_FALSE(r.leader_disturbed);
    EXPECT_EQ(r.final_leader, 1u);
    EXPECT_EQ(r.final_term, r.leader_term_before);
    EXPECT_TRUE(r.logs_converged);
  }
}

// The same with CheckQuorum on and an up-to-date rejoining node.
TEST(Dissertation9_6_PreVote, WithPreVoteUpToDateRejoiningNodeDoesNotDisrupt) {
  const RejoinOutcome r = partition_and_rejoin(/*pre_vote=*/true, /*check_quorum=*/true,
                                               /*write_while_away=*/false);
  EXPECT_FALSE(r.leader_disturbed);
  EXPECT_EQ(r.final_leader, 1u);
  EXPECT_EQ(r.final_term, r.leader_term_before);
}

// Without PreVote an up-to-date rejoining node disrupts too, and may even win.
TEST(Dissertation9_6_PreVote, WithoutPreVoteUpToDateRejoiningNodeDisrupts) {
  const RejoinOutcome r = partition_and_rejoin(/*pre_vote=*/false, /*check_quorum=*/false,
                                               /*write_while_away=*/false);
  EXPECT_TRUE(r.leader_disturbed);
  EXPECT_GT(r.final_term, r.leader_term_before);
}

// §9.6: PreVote costs no liveness: when the leader itself is cut off, the majority's
// pre-votes succeed (nobody hears a leader any more) and it elects a new one; the
// old leader steps down when it rejoins.
TEST(Dissertation9_6_PreVote, MajorityStillElectsWhenLeaderIsLost) {
  for (bool check_quorum : {true, false}) {
    SCOPED_TRACE(check_quorum ? "check_quorum on" : "check_quorum off");
    TestCluster c(3, /*seed=*/4, [&](Options& o) { o.check_quorum = check_quorum; });
    c.node(1).campaign();
    c.stabilize();
    ASSERT_EQ(c.node(1).role(), Role::kLeader);
    c.isolate(1);
    NodeId leader = kNoNode;
    for (int i = 0; i < 100 && leader == kNoNode; ++i) {
      run_rounds(c, 1);
      for (NodeId id : {2, 3}) {
        if (c.node(id).role() == Role::kLeader) leader = id;
      }
    }
    ASSERT_NE(leader, kNoNode);
    EXPECT_EQ(c.node(leader).term(), 2u) << "one real election, no wasted terms";
    c.heal();
    run_rounds(c, 5);
    EXPECT_EQ(c.node(1).role(), Role::kFollower);
    EXPECT_EQ(c.node(1).leader(), leader);
  }
}

}  // namespace
}  // namespace raft::core::testing

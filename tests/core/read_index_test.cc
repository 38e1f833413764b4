// Linearizable reads without log writes, checked against Ongaro's dissertation §6.4
// (ReadIndex: record the commit index, confirm leadership with a round of heartbeats
// acknowledged by a majority, then serve the read once that index is applied; a new
// leader first commits an entry of its term; followers ask the leader) and §6.4.1
// (leases: skip the round trip while a majority acknowledged a heartbeat within the
// election timeout, minus a margin for clock drift; safe only with CheckQuorum, since
// followers honour the lease only then).
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/core_test_util.h"
#include "tests/core/feature_test_util.h"

namespace raft::core::testing {
namespace {

bool is_heartbeat(const pb::Message& m) {
  return m.has_heartbeat_request();
}

// A 3-node cluster led by 1 with "x" committed (index 2) everywhere.
void leader_with_one_command(TestCluster& c) {
  make_leader(c, 1);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), 2u);
}

// ---------------------------------------------------------------------------
// §6.4: ReadIndex on the leader

// §6.4 step 3: "the leader sends a new round of heartbeats and waits for their
// acknowledgments from a majority of the cluster" — no ReadState before that.
TEST(Dissertation6_4_ReadIndex, NeedsAQuorumOfHeartbeatAcks) {
  TestCluster c(5);
  make_leader(c, 1);
  const Index commit = c.node(1).commit_index();
  c.node(1).read_index("r");
  c.process_readies();
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{2, 3, 4, 5}));
  for (const pb::Message& m : c.queue()) {
    if (is_heartbeat(m)) {
      EXPECT_GT(m.heartbeat_request().read_round(), 0u);
    }
  }

  // One acknowledgement: the leader and 2 are two of five.
  c.drop_when = [](const pb::Message& m) { return m.has_heartbeat_response() && m.from() != 2; };
  c.stabilize();
  EXPECT_TRUE(c.read_states(1).empty());

  // A later heartbeat (any heartbeat carries the newest round) reaches 3 as well.
  c.drop_when = [](const pb::Message& m) {
    return m.has_heartbeat_response() && m.from() != 2 && m.from() != 3;
  };
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].context, "r");
  EXPECT_TRUE(c.read_states(1)[0].ok);
  EXPECT_EQ(c.read_states(1)[0].index, commit);
}

// §6.4 step 1: the read index is the commit index when the request arrived (or when
// the round it waited for started, still after it arrived), even if more entries
// commit before the heartbeat round completes.
TEST(Dissertation6_4_ReadIndex, IndexIsCommitIndexAtRequestTime) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.node(1).read_index("r");
  ASSERT_TRUE(c.propose(1, "y").ok());
  // Deliver the appends for "y" before the read's heartbeats, so "y" commits first.
  std::stable_partition(c.queue().begin(), c.queue().end(),
                        [](const pb::Message& m) { return !is_heartbeat(m); });
  c.stabilize();
  ASSERT_EQ(c.node(1).commit_index(), 3u);
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].index, 2u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
}

// A single-voter cluster is its own quorum: the read is confirmed at once.
TEST(Dissertation6_4_ReadIndex, SingleVoterAnswersAtOnce) {
  TestCluster c(1);
  make_leader(c, 1);
  c.node(1).read_index("r");
  c.process_readies();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
  EXPECT_EQ(c.read_states(1)[0].index, c.node(1).commit_index());
}

// A round waits for acks counted against the configuration in force. When a change
// shrinks it (here to the leader alone, as its own acks suffice) the round is
// checked again at once: the reads in it do not wait for acks that can never come.
TEST(Dissertation6_4_ReadIndex, RoundIsRecheckedWhenTheConfigurationShrinks) {
  TestCluster c(2);
  make_leader(c, 1);
  c.isolate(2);
  c.node(1).read_index("r");
  c.process_readies();
  EXPECT_TRUE(c.read_states(1).empty()) << "2 of 2 must acknowledge";
  c.node(1).read_index("queued behind the round");
  c.process_readies();
  ASSERT_TRUE(c.propose_conf_change(1, remove_member(2)).ok());
  c.process_readies();
  ASSERT_EQ(c.read_states(1).size(), 2u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
  EXPECT_TRUE(c.read_states(1)[1].ok);
  c.node(1).read_index("after");
  c.process_readies();
  ASSERT_EQ(c.read_states(1).size(), 3u);
  EXPECT_TRUE(c.read_states(1)[2].ok);
}

// §6.4 step 1: "if the leader has not yet marked an entry from its current term
// committed, it waits until it has": its commit index may lag the previous
// leader's. Here 1 committed "x" at 2 but 2 never learned it; 2, newly elected,
// knows only commit 1, and must not serve a read at 1.
TEST(Dissertation6_4_ReadIndex, DeferredUntilNewLeaderCommitsItsNoop) {
  TestCluster c(3);
  make_leader(c, 1);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.deliver_pending();  // appends of "x"
  c.deliver_pending();  // acknowledgements: 1 commits 2
  ASSERT_EQ(c.node(1).commit_index(), 2u);
  c.drop_pending();  // the followers never hear of it
  ASSERT_EQ(c.node(2).commit_index(), 1u);

  c.isolate(1);
  c.tick(3, 20);  // 3's lease on 1 ends
  c.drop_pending();
  c.node(2).campaign();
  c.deliver_pending();
  c.deliver_pending();
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  ASSERT_EQ(c.node(2).commit_index(), 1u);

  c.node(2).read_index("r");
  c.process_readies();
  EXPECT_TRUE(c.read_states(2).empty());
  for (const pb::Message& m : c.queue()) {
    if (is_heartbeat(m)) {
      EXPECT_EQ(m.heartbeat_request().read_round(), 0u) << "no round yet";
    }
  }
  c.stabilize();
  ASSERT_EQ(c.read_states(2).size(), 1u);
  EXPECT_TRUE(c.read_states(2)[0].ok);
  EXPECT_EQ(c.read_states(2)[0].index, 3u) << "the new leader's no-op, after x";
}

// §6.4: one heartbeat round is in flight at a time. Reads registered while it is in
// flight send nothing; its acknowledgement confirms only the reads registered before
// it (the others arrived after it was sent), then one round serves them together.
TEST(Dissertation6_4_ReadIndex, ReadsDuringARoundShareTheNext) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.node(1).read_index("a");
  c.process_readies();
  std::deque<pb::Message> round1 = c.queue();
  c.drop_pending();
  c.node(1).read_index("b");
  c.node(1).read_index("c");
  c.process_readies();
  EXPECT_TRUE(queued_to(c, is_heartbeat).empty()) << "round 1 is still in flight";

  // Round 1 is acknowledged; round 2 starts at once and is held back here.
  std::deque<pb::Message> round2;
  c.drop_when = [&round2](const pb::Message& m) {
    if (!is_heartbeat(m) || m.heartbeat_request().read_round() != 2) return false;
    round2.push_back(m);
    return true;
  };
  c.queue() = round1;
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_EQ(c.read_states(1)[0].context, "a");
  ASSERT_EQ(round2.size(), 2u) << "one round for both waiting reads, to each follower";

  // One acknowledgement of round 2 makes the quorum and confirms both.
  c.drop_when = nullptr;
  c.queue() = {round2.front()};
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 3u);
  EXPECT_EQ(c.read_states(1)[1].context, "b");
  EXPECT_EQ(c.read_states(1)[2].context, "c");
  for (const ReadState& s : c.read_states(1)) {
    EXPECT_TRUE(s.ok);
    EXPECT_EQ(s.index, 2u);
  }
}

// A round whose heartbeats are all lost does not hold the reads behind it for good:
// the next periodic heartbeat carries the newest round and confirms it, and the
// reads that waited then get their own round.
TEST(Dissertation6_4_ReadIndex, LostRoundConfirmedByPeriodicHeartbeat) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.node(1).read_index("a");
  c.process_readies();
  c.drop_pending();
  c.node(1).read_index("b");
  c.stabilize();
  EXPECT_TRUE(c.read_states(1).empty());
  for (int i = 0; i < 20 && c.read_states(1).size() < 2; ++i) {
    c.tick(1);
    c.stabilize();
  }
  ASSERT_EQ(c.read_states(1).size(), 2u);
  EXPECT_EQ(c.read_states(1)[0].context, "a");
  EXPECT_EQ(c.read_states(1)[1].context, "b");
  EXPECT_TRUE(c.read_states(1)[1].ok);
}

// Narrow rounds (Options::narrow_read_rounds, on by default): a round goes only to as
// many voters as make a quorum with the leader, those that answered the heartbeat
// broadcast before the latest first; if they do not confirm it within
// read_round_widen_ticks, to every voter.

// Two heartbeat broadcasts of leader 1, each answered by `first` before the others:
// the second makes them the quickest voters.
void answer_broadcasts_first_from(TestCluster& c, const std::vector<NodeId>& first, int heartbeat_ticks) {
  for (int broadcast = 0; broadcast < 2; ++broadcast) {
    c.tick(1, heartbeat_ticks);
    c.process_readies();
    ASSERT_FALSE(queued_to(c, is_heartbeat).empty());
    std::stable_partition(c.queue().begin(), c.queue().end(), [&](const pb::Message& m) {
      return std::find(first.begin(), first.end(), m.to()) != first.end();
    });
    c.stabilize();
  }
}

TEST(Dissertation6_4_ReadIndex, NarrowRoundGoesToTheQuickestQuorum) {
  TestCluster c(5, 1, [](Options& o) { o.heartbeat_interval_ticks = 5; });
  make_leader(c, 1);
  answer_broadcasts_first_from(c, {5, 4}, 5);
  c.node(1).read_index("r");
  c.process_readies();
  EXPECT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{4, 5})) << "1, 4 and 5 are a quorum of five";
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
  EXPECT_EQ(c.read_states(1)[0].index, c.node(1).commit_index());
}

TEST(Dissertation6_4_ReadIndex, NarrowRoundWidensWhenItsVotersAreSilent) {
  TestCluster c(5, 1, [](Options& o) { o.heartbeat_interval_ticks = 5; });
  make_leader(c, 1);
  answer_broadcasts_first_from(c, {5, 4}, 5);
  c.node(1).read_index("r");
  c.process_readies();
  ASSERT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{4, 5}));
  c.drop_pending();  // 4 and 5 are gone
  c.drop_when = [](const pb::Message& m) { return m.from() == 4 || m.from() == 5 || m.to() == 4 || m.to() == 5; };
  c.tick(1);
  c.process_readies();
  EXPECT_TRUE(queued_to(c, is_heartbeat).empty()) << "one tick: the round may still be answered";
  c.tick(1);
  c.process_readies();
  EXPECT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{2, 3, 4, 5})) << "two ticks: every voter is asked";
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
}

TEST(Dissertation6_4_ReadIndex, EveryRoundGoesToAllVotersWhenNarrowRoundsAreOff) {
  TestCluster c(5, 1, [](Options& o) {
    o.heartbeat_interval_ticks = 5;
    o.narrow_read_rounds = false;
  });
  make_leader(c, 1);
  answer_broadcasts_first_from(c, {5, 4}, 5);
  c.node(1).read_index("r");
  c.process_readies();
  EXPECT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{2, 3, 4, 5}));
}

// §6.4: "a follower ... issues a request to the leader to learn the current commit
// index"; the leader confirms it as for its own reads and answers the follower.
TEST(Dissertation6_4_ReadIndex, FollowerReadForwardedToLeader) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.node(2).read_index("f");
  c.process_readies();
  EXPECT_EQ(queued_to(c, [](const pb::Message& m) { return m.has_read_index_request(); }),
            (std::set<NodeId>{1}));
  c.stabilize();
  ASSERT_EQ(c.read_states(2).size(), 1u);
  EXPECT_EQ(c.read_states(2)[0].context, "f");
  EXPECT_TRUE(c.read_states(2)[0].ok);
  EXPECT_EQ(c.read_states(2)[0].index, 2u);
  EXPECT_TRUE(c.read_states(1).empty()) << "the answer goes to the follower";
}

// A node that knows no leader cannot read: it fails the read at once.
TEST(Dissertation6_4_ReadIndex, NoLeaderFailsAtOnce) {
  TestCluster c(3);
  c.node(2).read_index("n");
  c.process_readies();
  ASSERT_EQ(c.read_states(2).size(), 1u);
  EXPECT_FALSE(c.read_states(2)[0].ok);
  EXPECT_EQ(c.read_states(2)[0].context, "n");
}

// §6.4: a leader cut off from the majority cannot confirm its leadership, so its
// read never completes; it fails once the leader steps down (CheckQuorum after an
// election timeout, or — without CheckQuorum — on hearing the new term).
TEST(Dissertation6_4_ReadIndex, PartitionedOldLeaderNeverAnswers) {
  for (bool check_quorum : {true, false}) {
    SCOPED_TRACE(check_quorum ? "check_quorum on" : "check_quorum off");
    TestCluster c(3, 2, [check_quorum](Options& o) { o.check_quorum = check_quorum; });
    leader_with_one_command(c);
    c.isolate(1);
    c.node(1).read_index("stale");
    c.node(2).read_index("via-2");  // forwarded to 1: lost
    NodeId new_leader = kNoNode;
    for (int i = 0; i < 100 && new_leader == kNoNode; ++i) {
      run_rounds(c, 1);
      for (NodeId id : {2, 3}) {
        if (c.node(id).role() == Role::kLeader) new_leader = id;
      }
      for (const ReadState& s : c.read_states(1)) ASSERT_FALSE(s.ok);
    }
    ASSERT_NE(new_leader, kNoNode);
    ASSERT_TRUE(c.propose(new_leader, "y").ok());
    c.stabilize();
    if (check_quorum) {
      run_rounds(c, 10);  // at most one more election timeout for 1's quorum check
      EXPECT_EQ(c.node(1).role(), Role::kFollower);
      ASSERT_EQ(c.read_states(1).size(), 1u);
    } else {
      EXPECT_EQ(c.node(1).role(), Role::kLeader) << "nothing tells it yet";
      EXPECT_TRUE(c.read_states(1).empty());
      c.heal();
      run_rounds(c, 3);
      EXPECT_EQ(c.node(1).role(), Role::kFollower);
      ASSERT_EQ(c.read_states(1).size(), 1u);
    }
    EXPECT_EQ(c.read_states(1)[0].context, "stale");
    EXPECT_FALSE(c.read_states(1)[0].ok);
    EXPECT_TRUE(c.read_states(2).empty()) << "the forwarded request was lost";
  }
}

// A leader that steps down fails the reads forwarded to it too: the follower hears
// "rejected" and can retry.
TEST(Dissertation6_4_ReadIndex, ForwardedReadFailsWhenLeaderStepsDown) {
  TestCluster c(3);
  leader_with_one_command(c);
  // 2's request reaches 1; the heartbeats of the round never get answered.
  c.drop_when = [](const pb::Message& m) { return m.has_heartbeat_response(); };
  c.node(2).read_index("f");
  c.stabilize();
  ASSERT_TRUE(c.read_states(2).empty());
  // 1 learns of a higher term and steps down (a transfer's vote request, which a
  // leader in its lease does not ignore).
  pb::Message request = vote_request(3, 1, c.node(1).term() + 1, 9, 9);
  request.mutable_vote_request()->set_transfer(true);
  c.node(1).step(request);
  c.stabilize();
  ASSERT_EQ(c.node(1).role(), Role::kFollower);
  ASSERT_EQ(c.read_states(2).size(), 1u);
  EXPECT_EQ(c.read_states(2)[0].context, "f");
  EXPECT_FALSE(c.read_states(2)[0].ok);
}

// ---------------------------------------------------------------------------
// §6.4.1: leases

// §6.4.1: after a majority acknowledged a heartbeat sent at tick t, the leader may
// serve reads without a round trip until t + election_timeout - drift margin; then
// the lease has expired and a read falls back to a ReadIndex round.
TEST(Dissertation6_4_1_Lease, ServedAtOnceOnlyWhileValid) {
  TestCluster c(3);
  leader_with_one_command(c);
  EXPECT_FALSE(c.node(1).lease_valid()) << "no heartbeat acknowledged yet";

  c.tick(1);      // heartbeat sent at the leader's tick 1
  c.stabilize();  // acknowledged by 2 and 3
  ASSERT_TRUE(c.node(1).lease_valid());
  c.node(1).read_index("l0", ReadMode::kLease);
  c.process_readies();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
  EXPECT_EQ(c.read_states(1)[0].index, 2u);
  EXPECT_TRUE(queued_to(c, is_heartbeat).empty()) << "no round trip";

  // The leader's own clock runs; its heartbeats are lost. Lease = 10 - 2 = 8 ticks
  // from tick 1: valid through tick 8.
  const Options defaults;
  const int lease_ticks = defaults.election_timeout_ticks - defaults.lease_drift_margin_ticks;
  for (int i = 1; i < lease_ticks; ++i) {
    c.tick(1);
    c.drop_pending();
  }
  ASSERT_TRUE(c.node(1).lease_valid());
  c.node(1).read_index("l1", ReadMode::kLease);
  c.process_readies();
  ASSERT_EQ(c.read_states(1).size(), 2u);
  EXPECT_TRUE(c.read_states(1)[1].ok);

  c.tick(1);
  c.drop_pending();
  EXPECT_FALSE(c.node(1).lease_valid());
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  c.node(1).read_index("l2", ReadMode::kLease);
  c.process_readies();
  EXPECT_EQ(c.read_states(1).size(), 2u) << "expired lease: not served at once";
  EXPECT_FALSE(queued_to(c, is_heartbeat).empty()) << "falls back to a ReadIndex round";
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 3u);
  EXPECT_EQ(c.read_states(1)[2].context, "l2");
  EXPECT_TRUE(c.read_states(1)[2].ok);
  EXPECT_TRUE(c.node(1).lease_valid()) << "the round's acknowledgements renewed it";
}

// §6.4.1: a follower's lease read is answered by the leader from its lease.
TEST(Dissertation6_4_1_Lease, FollowerLeaseReadAnsweredFromLeadersLease) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.tick(1);
  c.stabilize();
  ASSERT_TRUE(c.node(1).lease_valid());
  c.node(2).read_index("f", ReadMode::kLease);
  c.process_readies();
  c.deliver_pending();  // the request reaches 1, which answers at once
  EXPECT_TRUE(queued_to(c, is_heartbeat).empty());
  c.stabilize();
  ASSERT_EQ(c.read_states(2).size(), 1u);
  EXPECT_TRUE(c.read_states(2)[0].ok);
  EXPECT_EQ(c.read_states(2)[0].index, 2u);
}

// §6.4.1: the lease is only as good as the followers' promise not to elect another
// leader meanwhile, which they make only with CheckQuorum: without it a lease read
// falls back to ReadIndex.
TEST(Dissertation6_4_1_Lease, FallsBackWithoutCheckQuorum) {
  TestCluster c(3, 1, [](Options& o) { o.check_quorum = false; });
  leader_with_one_command(c);
  c.tick(1);
  c.stabilize();
  EXPECT_FALSE(c.node(1).lease_valid());
  c.node(1).read_index("l", ReadMode::kLease);
  c.process_readies();
  EXPECT_TRUE(c.read_states(1).empty());
  EXPECT_EQ(queued_to(c, is_heartbeat), (std::set<NodeId>{2, 3}));
  c.stabilize();
  ASSERT_EQ(c.read_states(1).size(), 1u);
  EXPECT_TRUE(c.read_states(1)[0].ok);
}

// §6.4.1 with §6.4: a new leader has no lease until its no-op commits (before that
// its commit index may lag), even if heartbeats were acknowledged.
TEST(Dissertation6_4_1_Lease, NoLeaseBeforeNoopCommits) {
  TestCluster c(3);
  c.node(1).campaign();
  c.deliver_pending();
  c.deliver_pending();
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  c.drop_when = [](const pb::Message& m) { return m.has_append_request(); };
  c.tick(1);
  c.stabilize();
  ASSERT_LT(c.node(1).commit_index(), c.node(1).last_index());
  EXPECT_FALSE(c.node(1).lease_valid());
  c.node(1).read_index("l", ReadMode::kLease);
  c.process_readies();
  EXPECT_TRUE(c.read_states(1).empty());
}

// §6.4.1 with §3.10: a transfer's vote requests bypass the followers' lease, so a
// leader that has sent TimeoutNow cannot trust its lease again in this term, even
// after it aborted the transfer: the TimeoutNow may still be in flight, and the
// target it reaches may win without the followers' promise holding. Here a TimeoutNow
// delayed past the abort elects 2, which commits "y", while 1 (cut off) would still
// have served a lease read at the old commit index.
TEST(Dissertation6_4_1_Lease, NoLeaseAfterTimeoutNowInThisTerm) {
  TestCluster c(3);
  leader_with_one_command(c);
  ASSERT_FALSE(c.node(1).transfer_leadership(2).has_value());
  c.process_readies();
  std::deque<pb::Message> delayed;
  std::erase_if(c.queue(), [&](const pb::Message& m) {
    if (!m.has_timeout_now()) return false;
    delayed.push_back(m);
    return true;
  });
  ASSERT_EQ(delayed.size(), 1u);
  const int timeout = Options{}.election_timeout_ticks;
  run_rounds(c, timeout);
  ASSERT_EQ(c.node(1).status().transfer_target, kNoNode) << "aborted";
  ASSERT_EQ(c.node(1).role(), Role::kLeader);

  c.isolate(1);
  c.node(2).step(delayed.front());  // the TimeoutNow finally arrives
  c.stabilize();
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  const ProposeResult y = c.propose(2, "y");
  c.stabilize();
  ASSERT_EQ(c.node(2).commit_index(), y.last_index);

  ASSERT_EQ(c.node(1).role(), Role::kLeader) << "1 has not heard of it";
  EXPECT_FALSE(c.node(1).lease_valid());
  c.node(1).read_index("stale?", ReadMode::kLease);
  c.process_readies();
  for (const ReadState& s : c.read_states(1)) {
    EXPECT_FALSE(s.ok && s.index < y.last_index) << "stale lease read at " << s.index;
  }
}

// §6.4.1 with §4.2.3: the lease rests on the followers that acknowledged it refusing
// to vote for any other candidate for an election timeout. A follower that crashes
// and restarts has forgotten when it last heard from the leader, so it keeps that
// promise for an election timeout from its restart; otherwise a candidate cut off
// from the leader could win with its vote while the old leader still serves lease
// reads at an old commit index.
TEST(Dissertation6_4_1_Lease, RestartedFollowerKeepsItsPromise) {
  TestCluster c(3);
  leader_with_one_command(c);
  c.cut(1, 3);  // 3 no longer hears from 1
  c.tick(1);
  c.stabilize();  // 2 acknowledges a heartbeat: the lease of 1 rests on {1, 2}
  ASSERT_TRUE(c.node(1).lease_valid());
  c.restart(2);
  c.isolate(1);
  c.node(3).campaign();  // 3's log is as up to date as 2's
  c.stabilize();
  EXPECT_NE(c.node(3).role(), Role::kLeader) << "2 voted although 1's lease may be valid";

  // Time runs everywhere: 3 is elected once 2's promise has run out, and by then the
  // lease of 1 has expired.
  bool elected = false;
  for (int i = 0; i < 100 && !elected; ++i) {
    run_rounds(c, 1);
    elected = c.node(3).role() == Role::kLeader;
    if (elected) {
      EXPECT_FALSE(c.node(1).lease_valid());
    }
  }
  EXPECT_TRUE(elected);
}

// The restarted follower's promise lasts one election timeout from the restart, no
// longer: a node restarted with a term ignores a vote request at once, but once it has
// timed out itself (and become a pre-candidate) it votes again.
TEST(Dissertation6_4_1_Lease, RestartPromiseLastsOneElectionTimeout) {
  Options options;
  options.id = 2;
  Peer restarted(options, voters({1, 2, 3}), {}, make_hard_state(1));
  EXPECT_TRUE(restarted.step(vote_request(3, 2, 2, 0, 0)).empty());
  EXPECT_EQ(restarted->term(), 1u);
  for (int i = 0; i < 100 && restarted->role() == Role::kFollower; ++i) restarted->tick();
  ASSERT_EQ(restarted->role(), Role::kPreCandidate);
  restarted.drain();
  const std::vector<pb::Message> out = restarted.step(vote_request(3, 2, 2, 0, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].vote_response().granted());
  EXPECT_EQ(restarted->vote(), 3u);

  // A brand-new node (term 0) has acknowledged nothing and promised nothing.
  Peer fresh(options, voters({1, 2, 3}));
  const std::vector<pb::Message> fresh_out = fresh.step(vote_request(3, 2, 1, 0, 0));
  ASSERT_EQ(fresh_out.size(), 1u);
  EXPECT_TRUE(fresh_out[0].vote_response().granted());
}

}  // namespace
}  // namespace raft::core::testing

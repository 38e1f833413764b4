// Log compaction and InstallSnapshot, checked against the Raft paper §7: a leader
// that has discarded entries a follower still needs sends it a snapshot instead
// (here the core sends the metadata; the runtime streams the data); the follower
// discards its log if the snapshot is newer than it, or keeps the entries that follow
// the snapshot's last entry if its log already contains that entry.
#include <gtest/gtest.h>

#include "tests/core/core_test_util.h"
#include "tests/core/feature_test_util.h"

namespace raft::core::testing {
namespace {

pb::Message snapshot_request(NodeId from, NodeId to, Term term, Index index, Term snapshot_term,
                             const pb::Configuration& configuration) {
  pb::Message m = make_message(from, to, term);
  pb::SnapshotMetadata* metadata = m.mutable_snapshot_request()->mutable_metadata();
  metadata->set_index(index);
  metadata->set_term(snapshot_term);
  *metadata->mutable_configuration() = configuration;
  m.mutable_snapshot_request()->set_done(true);
  return m;
}

// Leader 1 of 3 with node 3 cut off while ten commands commit, then the leader's
// storage compacted through its applied index. Returns that index.
Index lagging_follower_and_compacted_leader(TestCluster& c) {
  make_leader(c, 1);
  c.isolate(3);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.propose(1, "c" + std::to_string(i)).ok());
  c.stabilize();
  run_rounds(c, 1);
  const Index applied = c.node(1).status().applied_index;
  EXPECT_EQ(applied, c.node(1).last_index());
  c.compact(1, applied);
  EXPECT_EQ(c.storage(1).first_index(), applied + 1);
  return applied;
}

std::vector<std::pair<Index, Term>> index_terms(const std::vector<pb::Entry>& entries) {
  std::vector<std::pair<Index, Term>> out;
  for (const pb::Entry& e : entries) out.emplace_back(e.index(), e.term());
  return out;
}

// §7: "the leader must occasionally send snapshots to followers that lag behind"
// (those whose next entry it has discarded); the follower installs it (Ready::snapshot,
// before any entries), and replication continues from the entry after it.
TEST(Paper7_InstallSnapshot, LaggingFollowerGetsSnapshot) {
  TestCluster c(3);
  const Index snapshot_index = lagging_follower_and_compacted_leader(c);

  std::vector<pb::SnapshotMetadata> sent;
  c.on_deliver = [&](const pb::Message& m) {
    if (m.has_snapshot_request()) sent.push_back(m.snapshot_request().metadata());
  };
  c.heal();
  run_rounds(c, 3);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].index(), snapshot_index);
  EXPECT_EQ(sent[0].term(), c.node(1).term());
  EXPECT_EQ(describe(sent[0].configuration()), "voters=[1 2 3]");
  ASSERT_EQ(c.installed_snapshots(3).size(), 1u);
  EXPECT_EQ(c.installed_snapshots(3)[0].index(), snapshot_index);
  EXPECT_EQ(c.storage(3).snapshot_metadata().index(), snapshot_index);
  EXPECT_EQ(describe(c.node(3).configuration()), "voters=[1 2 3]");

  // The log continues after the snapshot.
  const ProposeResult x = c.propose(1, "after");
  ASSERT_TRUE(x.ok());
  c.stabilize();
  run_rounds(c, 1);
  EXPECT_EQ(index_terms(c.log(3)), index_terms(c.log(1)));
  EXPECT_EQ(c.log(3).back().data(), "after");
  EXPECT_EQ(c.node(3).commit_index(), x.last_index);
  EXPECT_EQ(c.node(1).commit_index(), x.last_index);
  EXPECT_EQ(c.applied(3), (std::vector<std::string>{"after"}))
      << "entries covered by the snapshot are not applied one by one";
  EXPECT_EQ(c.node(1).status().peers.size(), 2u);
  for (const Status::Peer& peer : c.node(1).status().peers) {
    EXPECT_STREQ(peer.state, "replicate");
    EXPECT_EQ(peer.match_index, x.last_index);
  }
}

// §7 + the runtime's report: a snapshot that failed to reach the follower
// (report_snapshot(false)) is sent again; until then the follower is paused.
TEST(Paper7_InstallSnapshot, FailedSnapshotIsRetried) {
  TestCluster c(3);
  const Index snapshot_index = lagging_follower_and_compacted_leader(c);
  int sent = 0;
  c.on_deliver = [&](const pb::Message& m) { sent += m.has_snapshot_request(); };
  bool lose_snapshots = true;
  c.drop_when = [&](const pb::Message& m) { return lose_snapshots && m.has_snapshot_request(); };
  c.heal();
  run_rounds(c, 5);
  EXPECT_EQ(sent, 0);
  EXPECT_TRUE(c.installed_snapshots(3).empty());
  auto peer3 = [&] {
    for (const Status::Peer& p : c.node(1).status().peers) {
      if (p.id == 3) return p;
    }
    return Status::Peer{};
  };
  EXPECT_STREQ(peer3().state, "snapshot") << "paused while the snapshot is in flight";

  lose_snapshots = false;
  run_rounds(c, 3);
  EXPECT_EQ(sent, 0) << "no resend before the runtime reports the failure";

  c.node(1).report_snapshot(3, false);
  run_rounds(c, 3);
  EXPECT_EQ(sent, 1);
  ASSERT_EQ(c.installed_snapshots(3).size(), 1u);
  EXPECT_EQ(c.installed_snapshots(3)[0].index(), snapshot_index);
  EXPECT_STREQ(peer3().state, "replicate");
  EXPECT_EQ(c.node(3).commit_index(), c.node(1).commit_index());
}

// report_snapshot(true) when the follower's own acknowledgement was lost: the leader
// resumes probing right after the snapshot instead of sending it again.
TEST(Paper7_InstallSnapshot, DeliveredSnapshotResumesAfterIt) {
  TestCluster c(3);
  const Index snapshot_index = lagging_follower_and_compacted_leader(c);
  int sent = 0;
  c.on_deliver = [&](const pb::Message& m) { sent += m.has_snapshot_request(); };
  // Lose the follower's acknowledgement of the snapshot (its earlier rejection, which
  // told the leader it lags, gets through).
  bool lose_acks = true;
  c.drop_when = [&](const pb::Message& m) {
    return lose_acks && m.from() == 3 && m.has_append_response() && m.append_response().success() &&
           m.append_response().index() >= snapshot_index;
  };
  c.heal();
  run_rounds(c, 3);
  ASSERT_EQ(sent, 1);
  ASSERT_EQ(c.installed_snapshots(3).size(), 1u);
  for (const Status::Peer& p : c.node(1).status().peers) {
    if (p.id == 3) {
      EXPECT_STREQ(p.state, "snapshot");
    }
  }
  lose_acks = false;
  c.node(1).report_snapshot(3, true);
  const ProposeResult x = c.propose(1, "after");
  c.stabilize();
  run_rounds(c, 2);
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(c.node(3).last_index(), x.last_index);
  EXPECT_EQ(c.node(3).commit_index(), x.last_index);
}

// §7: the snapshot carries the configuration in force at its last index, so a member
// added before the compaction point learns the membership from the snapshot.
TEST(Paper7_InstallSnapshot, NewMemberLearnsConfigurationFromSnapshot) {
  TestCluster c(3);
  make_leader(c, 1);
  c.add_node(joiner_options(4));
  c.drop_when = [](const pb::Message& m) { return m.to() == 4; };
  ASSERT_TRUE(c.propose_conf_change(1, add_learner(4)).ok());
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  run_rounds(c, 1);
  c.compact(1, c.node(1).status().applied_index);
  ASSERT_EQ(describe(c.storage(1).snapshot_metadata().configuration()),
            "voters=[1 2 3] learners=[4]");

  c.drop_when = nullptr;
  run_rounds(c, 3);
  ASSERT_EQ(c.installed_snapshots(4).size(), 1u);
  EXPECT_EQ(describe(c.node(4).configuration()), "voters=[1 2 3] learners=[4]");
  EXPECT_EQ(c.node(4).commit_index(), c.node(1).commit_index());
  // And it restarts into the same configuration, from the snapshot's metadata.
  c.restart(4);
  EXPECT_EQ(describe(c.node(4).configuration()), "voters=[1 2 3] learners=[4]");
}

// §7: a snapshot that describes nothing new (its last index is at or below the
// follower's commit index: a duplicate or a late one) is acknowledged without being
// installed; the follower's log is untouched.
TEST(Paper7_InstallSnapshot, StaleSnapshotNotInstalled) {
  Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 1, 1, 1}),
                make_hard_state(1, 1, 5));
  ASSERT_EQ(follower->commit_index(), 5u);
  follower->step(snapshot_request(1, 2, 1, 3, 1, voters({1, 2, 3})));
  Ready ready = follower.take();
  EXPECT_FALSE(ready.snapshot.has_value());
  follower.persist(ready);
  ASSERT_EQ(ready.persisted_messages.size(), 1u);
  const pb::AppendResponse& response = ready.persisted_messages[0].append_response();
  EXPECT_TRUE(response.success());
  EXPECT_EQ(response.index(), 5u) << "tells the leader how far it really is";
  EXPECT_EQ(follower.log().size(), 5u);
  EXPECT_EQ(follower->commit_index(), 5u);
}

// §7: "if the follower receives a snapshot that describes a prefix of its log ...
// log entries covered by the snapshot are deleted but entries following the snapshot
// are still valid and must be retained": here the commit index advances to the
// snapshot's index and the log is kept.
TEST(Paper7_InstallSnapshot, SnapshotMatchingLogAdvancesCommit) {
  Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 1, 1, 1}),
                make_hard_state(1, 1, 2));
  ASSERT_EQ(follower->commit_index(), 2u);
  follower->step(snapshot_request(1, 2, 1, 4, 1, voters({1, 2, 3})));
  Ready ready = follower.take();
  EXPECT_FALSE(ready.snapshot.has_value());
  follower.persist(ready);
  ASSERT_EQ(ready.persisted_messages.size(), 1u);
  EXPECT_TRUE(ready.persisted_messages[0].append_response().success());
  EXPECT_EQ(ready.persisted_messages[0].append_response().index(), 4u);
  EXPECT_EQ(follower->commit_index(), 4u);
  EXPECT_EQ(follower.log().size(), 5u) << "the entry after the snapshot is kept";
  follower.drain();
  ASSERT_FALSE(follower.applied().empty());
  EXPECT_EQ(follower.applied().back().index(), 4u);
}

// §7: "if instead the snapshot contains new information not already in the
// recipient's log ... the follower discards its entire log": a conflicting log is
// replaced, and the snapshot's configuration takes effect.
TEST(Paper7_InstallSnapshot, ConflictingLogReplaced) {
  Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 2, 2}),
                make_hard_state(2, 0, 1));
  pb::Configuration configuration = voters({1, 2, 3});
  configuration.add_learners(4);
  follower->step(snapshot_request(1, 2, 3, 4, 3, configuration));
  Ready ready = follower.take();
  ASSERT_TRUE(ready.snapshot.has_value());
  EXPECT_EQ(ready.snapshot->index(), 4u);
  EXPECT_EQ(ready.snapshot->term(), 3u);
  EXPECT_TRUE(ready.must_sync);
  EXPECT_TRUE(ready.committed_entries.empty()) << "nothing to apply from the replaced log";
  follower.persist(ready);
  follower.drain();
  EXPECT_EQ(follower.storage().first_index(), 5u);
  EXPECT_TRUE(follower.log().empty());
  EXPECT_EQ(follower->commit_index(), 4u);
  EXPECT_EQ(follower->last_index(), 4u);
  EXPECT_EQ(describe(follower->configuration()), "voters=[1 2 3] learners=[4]");
  ASSERT_EQ(ready.persisted_messages.size(), 1u);
  EXPECT_EQ(ready.persisted_messages[0].append_response().index(), 4u);

  // The log continues after it.
  follower.step(append_request(1, 2, 3, 4, 3, {make_entry(5, 3, "y")}, 5));
  EXPECT_EQ(follower->last_index(), 5u);
  EXPECT_EQ(follower->commit_index(), 5u);
  ASSERT_FALSE(follower.applied().empty());
  EXPECT_EQ(follower.applied().back().data(), "y");
}

// The follower's hard state never claims a commit index beyond what is durable: while
// a received snapshot is not yet persisted, the commit it implies is not stored.
TEST(Paper7_InstallSnapshot, CommitNotStoredBeforeSnapshotIsDurable) {
  Peer follower(paper_options(2), voters({1, 2, 3}), {}, make_hard_state(1));
  follower->step(snapshot_request(1, 2, 1, 10, 1, voters({1, 2, 3})));
  Ready ready = follower.take();
  ASSERT_TRUE(ready.snapshot.has_value());
  if (ready.hard_state) {
    EXPECT_LT(ready.hard_state->commit(), 10u);
  }
  EXPECT_EQ(ready.persisted_messages.size(), 1u) << "the ack waits for the install";
  follower.persist(ready);
  Ready next = follower.take();
  ASSERT_TRUE(next.hard_state.has_value());
  EXPECT_EQ(next.hard_state->commit(), 10u);
}

// The same with a log to lose: the follower's entries after its commit index are not
// the leader's (2..4 here, of a deposed leader; the snapshot's entry 4 has another
// term). The install and the hard state go to storage together, unsynced; a crash
// may keep the hard state and lose the install, when the restarted node has only its
// old log. Then a stored commit index past the old one would make it take a deposed
// leader's entries for committed ones. Found in the simulator's first traces with
// compacted logs (a hard state of commit 353 written with an install at 354).
TEST(Paper7_InstallSnapshot, CommitStoredWithAnInstallCoversOnlyTheOldLog) {
  const std::vector<pb::Entry> old_log = log_of_terms({1, 1, 2, 2});
  Peer follower(paper_options(2), voters({1, 2, 3}), old_log, make_hard_state(2, 0, 1));
  follower->step(snapshot_request(1, 2, 3, 4, 3, voters({1, 2, 3})));
  Ready ready = follower.take();
  ASSERT_TRUE(ready.snapshot.has_value());
  if (ready.hard_state) {
    EXPECT_LE(ready.hard_state->commit(), 1u) << "covers entries the old log may keep";

    // The crash that keeps this hard state and loses the install.
    Peer restarted(paper_options(2), voters({1, 2, 3}), old_log, *ready.hard_state);
    EXPECT_LE(restarted->commit_index(), 1u);
    restarted.drain();
    for (const pb::Entry& entry : restarted.applied()) {
      EXPECT_LE(entry.index(), 1u) << "applied a deposed leader's entry";
    }
  }

  // Once the install is durable, the commit it implies is stored.
  follower.persist(ready);
  Ready next = follower.take();
  ASSERT_TRUE(next.hard_state.has_value());
  EXPECT_EQ(next.hard_state->commit(), 4u);
}

}  // namespace
}  // namespace raft::core::testing

// The Raft paper's (Ongaro & Ousterhout, 2014) Figure 7 and Figure 8, replayed with
// the exact logs they draw.
//
// Figure 7: "When the leader at the top comes to power, it is possible that any of
// scenarios (a–f) could occur in follower logs ... Followers may be missing entries
// (a–b), may have extra uncommitted entries (c–d), or both (e–f)." The leader forces
// each follower's log to duplicate its own (§5.3).
//
// Figure 8: "A time sequence showing why a leader cannot determine commitment using
// log entries from older terms" (§5.4.2).
//
// PreVote and CheckQuorum (on by default) are off: the figures are about the paper's
// basic algorithm, and elections are started by hand (campaign) to follow the figure.
#include <gtest/gtest.h>

#include "tests/core/core_test_util.h"

namespace raft::core::testing {
namespace {

void figure_options(Options& o) {
  o.pre_vote = false;
  o.check_quorum = false;
}

// The leader's log for term 8, indexes 1..10.
const std::vector<Term> kFigure7Leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};

struct Figure7Follower {
  const char* name;
  std::vector<Term> log;
  Term term;         // its current term (the last it can have seen)
  bool grants_vote;  // whether its log lets it vote for the leader (§5.4.1)
};

const Figure7Follower kFigure7Followers[] = {
    {"a", {1, 1, 1, 4, 4, 5, 5, 6, 6}, 6, true},
    {"b", {1, 1, 1, 4}, 4, true},
    {"c", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}, 6, false},
    {"d", {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, 7, false},
    {"e", {1, 1, 1, 4, 4, 4, 4}, 4, true},
    {"f", {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, 3, true},
};

// gtest prints a parameter with this (the scenario's letter) instead of its bytes.
void PrintTo(const Figure7Follower& follower, std::ostream* os) {
  *os << follower.name;
}

// The leader's log after it comes to power: Figure 7's, plus its term-8 no-op.
std::vector<Term> figure7_leader_after_election() {
  std::vector<Term> terms = kFigure7Leader;
  terms.push_back(8);
  return terms;
}

class Paper5_3_Figure7 : public ::testing::TestWithParam<Figure7Follower> {};

// Each scenario on its own: node 1 is the leader, node 2 the follower of the scenario,
// node 3 a follower with the leader's log (so the leader has a majority even when the
// scenario's follower refuses its vote).
TEST_P(Paper5_3_Figure7, FollowerEndsWithLeadersLog) {
  const Figure7Follower& follower = GetParam();
  TestCluster cluster(3, 1, [](Options& o) { figure_options(o); });
  cluster.set_log(1, log_of_terms(kFigure7Leader), make_hard_state(7));
  cluster.set_log(2, log_of_terms(follower.log), make_hard_state(follower.term));
  cluster.set_log(3, log_of_terms(kFigure7Leader), make_hard_state(7));
  int rejections = 0;
  std::optional<bool> vote;
  cluster.on_deliver = [&](const pb::Message& m) {
    if (m.from() == 2 && m.has_append_response() && !m.append_response().success()) ++rejections;
    if (m.from() == 2 && m.has_vote_response()) vote = m.vote_response().granted();
  };
  cluster.node(1).campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.node(1).role(), Role::kLeader);
  ASSERT_EQ(cluster.node(1).term(), 8u);
  cluster.tick(1);  // a heartbeat spreads the final commit index
  cluster.stabilize();
  EXPECT_EQ(vote, follower.grants_vote);
  EXPECT_EQ(terms_of(cluster.log(2)), figure7_leader_after_election());
  for (std::size_t i = 0; i < kFigure7Leader.size(); ++i) {
    // The very entries, not just their terms.
    EXPECT_EQ(cluster.log(2)[i].data(), log_of_terms(kFigure7Leader)[i].data())
        << "index " << i + 1;
  }
  EXPECT_EQ(cluster.node(2).commit_index(), 11u);
  // With the conflict hint (§5.3) one rejected probe is enough for every scenario
  // (c and d need none: the leader's first probe matches and the extra entries go).
  EXPECT_LE(rejections, 1);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Paper5_3_Figure7, ::testing::ValuesIn(kFigure7Followers),
                         [](const ::testing::TestParamInfo<Figure7Follower>& param) {
                           return std::string(param.param.name);
                         });

// The whole figure at once: seven servers, the leader and followers a–f. The leader
// wins with the votes of a, b, e and f (c and d hold logs more up-to-date than its
// own, §5.4.1) and brings all six logs to its own.
TEST(Paper5_3_Figure7All, LeaderElectedAndEveryFollowerConverges) {
  TestCluster cluster(7, 1, [](Options& o) { figure_options(o); });
  cluster.set_log(1, log_of_terms(kFigure7Leader), make_hard_state(7));
  NodeId id = 2;
  for (const Figure7Follower& follower : kFigure7Followers) {
    cluster.set_log(id++, log_of_terms(follower.log), make_hard_state(follower.term));
  }
  cluster.node(1).campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.node(1).role(), Role::kLeader);
  EXPECT_EQ(cluster.node(1).term(), 8u);
  cluster.tick(1);
  cluster.stabilize();
  for (NodeId follower = 2; follower <= 7; ++follower) {
    SCOPED_TRACE(::testing::Message() << "follower " << kFigure7Followers[follower - 2].name);
    EXPECT_EQ(terms_of(cluster.log(follower)), figure7_leader_after_election());
    EXPECT_EQ(cluster.node(follower).role(), Role::kFollower);
    EXPECT_EQ(cluster.node(follower).leader(), 1u);
    EXPECT_EQ(cluster.node(follower).term(), 8u);
  }
  EXPECT_EQ(cluster.node(1).commit_index(), 11u);
}

// ---------------------------------------------------------------------------
// Figure 8. Servers S1..S5 are nodes 1..5. In this implementation every new leader
// appends a no-op of its term (§8), and those no-ops are exactly the figure's entries:
// S1's term-2 no-op at index 2, S5's term-3 no-op at index 2, S1's term-4 no-op at
// index 3. Each AppendEntries carries one entry (max_append_bytes = 1) so the test can
// drop the replication of a single entry.

bool carries_index(const pb::Message& m, Index index) {
  if (!m.has_append_request()) return false;
  for (const pb::Entry& entry : m.append_request().entries()) {
    if (entry.index() == index) return true;
  }
  return false;
}

Term term_at(TestCluster& cluster, NodeId id, Index index) {
  return cluster.storage(id).term(index).value_or(0);
}

// Drives the cluster to the figure's state (c): S1 leads in term 4 and has replicated
// its term-2 entry at index 2 to S2 and S3 — a majority, and S1 knows it — but its
// term-4 entry at index 3 only to S2 (no majority). S4 is cut off from S1 and S5 is
// down. (In the figure S2 lacks index 3; here S2 must accept an append to tell S1 it
// holds index 2, and every append carries an entry, so it gets index 3 too. That
// changes nothing: index 3 is still on a minority.)
void figure8_state_c(TestCluster& cluster) {
  // All servers start with the term-1 entry at index 1, committed.
  for (NodeId id = 1; id <= 5; ++id)
    cluster.set_log(id, log_of_terms({1}), make_hard_state(1, kNoNode, 1));

  // (a) S1 leads in term 2 and replicates index 2 to S2 only.
  cluster.node(1).campaign();
  cluster.drop_when = [](const pb::Message& m) { return m.has_append_request() && m.to() != 2; };
  cluster.stabilize();
  ASSERT_EQ(cluster.node(1).role(), Role::kLeader);
  ASSERT_EQ(cluster.node(1).term(), 2u);
  ASSERT_EQ(terms_of(cluster.log(1)), (std::vector<Term>{1, 2}));
  ASSERT_EQ(terms_of(cluster.log(2)), (std::vector<Term>{1, 2}));
  ASSERT_EQ(terms_of(cluster.log(3)), (std::vector<Term>{1}));
  ASSERT_EQ(cluster.node(1).commit_index(), 1u);

  // (b) S1 crashes; S5 is elected for term 3 with votes from S3, S4 and itself, and
  // accepts a different entry at index 2 (its no-op), which reaches no one.
  cluster.isolate(1);
  cluster.drop_when = [](const pb::Message& m) { return m.has_append_request(); };
  cluster.node(5).campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.node(5).role(), Role::kLeader);
  ASSERT_EQ(cluster.node(5).term(), 3u);
  ASSERT_EQ(terms_of(cluster.log(5)), (std::vector<Term>{1, 3}));

  // (c) S5 crashes; S1 restarts and is elected for term 4 (its term-3 candidacy fails:
  // S3 and S4 voted for S5 in term 3). It replicates index 2 to S3, index 3 to S2 only.
  cluster.heal();
  cluster.isolate(5);
  cluster.restart(1);
  cluster.drop_when = nullptr;
  cluster.node(1).campaign();
  cluster.stabilize();
  ASSERT_NE(cluster.node(1).role(), Role::kLeader);
  cluster.node(1).campaign();
  cluster.drop_when = [&cluster](const pb::Message& m) {
    if (!m.has_append_request()) return false;
    // S3's first probe (prev index 2) is rejected, which is what teaches S1 where S3's
    // log ends; once S3 holds index 2, index 3 is kept from it.
    return m.to() == 4 ||
           (m.to() == 3 && carries_index(m, 3) && cluster.storage(3).last_index() >= 2);
  };
  cluster.stabilize();
  ASSERT_EQ(cluster.node(1).role(), Role::kLeader);
  ASSERT_EQ(cluster.node(1).term(), 4u);
  ASSERT_EQ(terms_of(cluster.log(1)), (std::vector<Term>{1, 2, 4}));
  ASSERT_EQ(terms_of(cluster.log(2)), (std::vector<Term>{1, 2, 4}));
  ASSERT_EQ(terms_of(cluster.log(3)), (std::vector<Term>{1, 2}));
  ASSERT_EQ(terms_of(cluster.log(4)), (std::vector<Term>{1}));
  ASSERT_EQ(terms_of(cluster.log(5)), (std::vector<Term>{1, 3}));
  cluster.cut(1, 4);
  cluster.drop_when = nullptr;
}

// "A leader cannot immediately conclude that an entry from a previous term is committed
// once it is stored on a majority of servers" (§5.4.2): in (c) the term-2 entry is on
// S1, S2 and S3, yet S1 must not commit it — as (d) shows, it can still be overwritten.
TEST(Paper5_4_2_Figure8, OldTermEntryOnMajorityIsNotCommittedByCounting) {
  TestCluster cluster(5, 1, [](Options& o) {
    figure_options(o);
    o.max_append_bytes = 1;
  });
  figure8_state_c(cluster);
  if (HasFatalFailure()) return;
  const Status status = cluster.node(1).status();
  int holders = 1;  // S1 itself
  for (const Status::Peer& peer : status.peers) holders += peer.match_index >= 2;
  EXPECT_GE(holders, 3) << "the term-2 entry is stored on a majority";
  EXPECT_EQ(cluster.node(1).commit_index(), 1u) << "but it is not committed by counting replicas";
  for (NodeId id = 1; id <= 4; ++id)
    EXPECT_LE(cluster.node(id).commit_index(), 1u) << "node " << id;

  // (d) S1 crashes; S5 restarts and is elected (votes from S3 and S4: its last term 3
  // is later than their 2 and 1) and overwrites index 2 everywhere with its term-3 entry.
  cluster.heal();
  cluster.isolate(1);
  cluster.restart(5);
  cluster.node(5).campaign();  // term 4: refused, everyone has voted for S1 in term 4
  cluster.stabilize();
  ASSERT_NE(cluster.node(5).role(), Role::kLeader);
  cluster.node(5).campaign();  // term 5
  cluster.stabilize();
  ASSERT_EQ(cluster.node(5).role(), Role::kLeader);
  for (NodeId id = 2; id <= 5; ++id) {
    EXPECT_EQ(term_at(cluster, id, 2), 3u) << "node " << id << ": the term-2 entry was overwritten";
  }
  EXPECT_GE(cluster.node(5).commit_index(), 2u);
}

// (e) "If S1 replicates an entry from its current term on a majority of the servers
// before crashing ... then this entry is committed (S5 cannot win an election). At this
// point all preceding entries in the log are committed as well" (Figure 8).
TEST(Paper5_4_2_Figure8, CurrentTermEntryCommitsOlderEntriesIndirectly) {
  TestCluster cluster(5, 1, [](Options& o) {
    figure_options(o);
    o.max_append_bytes = 1;
  });
  figure8_state_c(cluster);
  if (HasFatalFailure()) return;
  ASSERT_EQ(cluster.node(1).commit_index(), 1u);
  // The dropped appends are retried after heartbeats.
  for (int i = 0; i < 3; ++i) {
    cluster.tick(1);
    cluster.stabilize();
  }
  ASSERT_EQ(term_at(cluster, 2, 3), 4u);
  ASSERT_EQ(term_at(cluster, 3, 3), 4u);
  EXPECT_EQ(cluster.node(1).commit_index(), 3u) << "index 3 (term 4) is on S1, S2, S3";
  EXPECT_EQ(term_at(cluster, 1, 2), 2u) << "index 2 (term 2) committed with it";

  // S1 crashes; S5 restarts but cannot win: S2 and S3 hold a later last term than its 3.
  cluster.heal();
  cluster.isolate(1);
  cluster.restart(5);
  for (int attempt = 0; attempt < 3; ++attempt) {
    cluster.node(5).campaign();
    cluster.stabilize();
    EXPECT_NE(cluster.node(5).role(), Role::kLeader) << "attempt " << attempt;
  }
  // S2 can, and the committed entries survive.
  cluster.node(2).campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.node(2).role(), Role::kLeader);
  cluster.tick(2);
  cluster.stabilize();
  for (NodeId id = 2; id <= 5; ++id) {
    EXPECT_EQ(term_at(cluster, id, 2), 2u) << "node " << id;
    EXPECT_EQ(term_at(cluster, id, 3), 4u) << "node " << id;
    EXPECT_GE(cluster.node(id).commit_index(), 3u) << "node " << id;
  }
}

}  // namespace
}  // namespace raft::core::testing

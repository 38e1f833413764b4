// Quorum arithmetic (quorum.h), checked exhaustively on small clusters against a
// brute-force definition: "a majority of the servers" (Raft paper §5.2, §5.3) and
// joint consensus, "agreement (for elections and entry commitment) requires separate
// majorities from both the old and new configurations" (§6).
#include "src/core/quorum.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

namespace raft::core {
namespace {

std::vector<NodeId> ids(int n, NodeId first = 1) {
  std::vector<NodeId> out;
  for (int i = 0; i < n; ++i) out.push_back(first + static_cast<NodeId>(i));
  return out;
}

// The definition: the largest index x such that a majority acknowledged >= x.
Index brute_force_commit(const std::vector<NodeId>& voters,
                         const std::map<NodeId, std::optional<Index>>& acked) {
  Index best = 0;
  for (Index x = 0; x <= 10; ++x) {
    std::size_t count = 0;
    for (NodeId id : voters) count += acked.at(id).value_or(0) >= x;
    if (count >= voters.size() / 2 + 1) best = x;
  }
  return best;
}

VoteOutcome brute_force_vote(const std::vector<NodeId>& voters,
                             const std::map<NodeId, std::optional<bool>>& votes) {
  std::size_t yes = 0, pending = 0;
  for (NodeId id : voters) {
    const std::optional<bool>& v = votes.at(id);
    yes += v.has_value() && *v;
    pending += !v.has_value();
  }
  const std::size_t majority = voters.size() / 2 + 1;
  if (yes >= majority) return VoteOutcome::kWon;
  if (yes + pending >= majority) return VoteOutcome::kPending;
  return VoteOutcome::kLost;
}

// Calls `visit` with every assignment of `values` to `n` positions.
template <typename T, typename F>
void for_each_assignment(int n, const std::vector<T>& values, F visit) {
  std::vector<std::size_t> digits(static_cast<std::size_t>(n), 0);
  while (true) {
    std::vector<T> assignment;
    for (std::size_t d : digits) assignment.push_back(values[d]);
    visit(assignment);
    std::size_t i = 0;
    while (i < digits.size() && ++digits[i] == values.size()) digits[i++] = 0;
    if (i == digits.size()) return;
  }
}

// "A log entry is committed once the leader that created the entry has replicated it
// on a majority of the servers" (§5.3): the commit index is the largest index a
// majority has acknowledged. Every assignment of {none, 0, 1, 2, 3} to 1..7 voters.
TEST(Paper5_3_Quorum, MajorityCommitIndexExhaustive) {
  const std::vector<std::optional<Index>> values = {std::nullopt, 0, 1, 2, 3};
  for (int n = 1; n <= 7; ++n) {
    const std::vector<NodeId> voters = ids(n);
    const MajorityQuorum quorum(voters);
    int cases = 0;
    for_each_assignment(n, values, [&](const std::vector<std::optional<Index>>& assignment) {
      std::map<NodeId, std::optional<Index>> acked;
      for (int i = 0; i < n; ++i)
        acked[voters[static_cast<std::size_t>(i)]] = assignment[static_cast<std::size_t>(i)];
      const Index got = quorum.committed_index([&](NodeId id) { return acked.at(id); });
      const Index want = brute_force_commit(voters, acked);
      if (got != want) {
        ADD_FAILURE() << "n=" << n << " case " << cases << ": got " << got << " want " << want;
      }
      ++cases;
    });
  }
}

// Voters not in the quorum's set are never asked; duplicates count once.
TEST(Paper5_3_Quorum, MajorityIgnoresOthersAndDuplicates) {
  const MajorityQuorum quorum({3, 1, 2, 3, 1});
  EXPECT_EQ(quorum.voters(), (std::vector<NodeId>{1, 2, 3}));
  EXPECT_TRUE(quorum.contains(2));
  EXPECT_FALSE(quorum.contains(4));
  EXPECT_EQ(quorum.committed_index([](NodeId id) -> std::optional<Index> {
    EXPECT_NE(id, 4u);
    return id == 1 ? 7 : 5;
  }),
            5u);
}

// "A candidate wins an election if it receives votes from a majority of the servers
// in the full cluster" (§5.2); it has lost once a majority can no longer be reached.
// Every assignment of {pending, granted, rejected} to 1..7 voters.
TEST(Paper5_2_Quorum, VoteOutcomeExhaustive) {
  const std::vector<std::optional<bool>> values = {std::nullopt, true, false};
  for (int n = 1; n <= 7; ++n) {
    const std::vector<NodeId> voters = ids(n);
    const MajorityQuorum quorum(voters);
    for_each_assignment(n, values, [&](const std::vector<std::optional<bool>>& assignment) {
      std::map<NodeId, std::optional<bool>> votes;
      for (int i = 0; i < n; ++i)
        votes[voters[static_cast<std::size_t>(i)]] = assignment[static_cast<std::size_t>(i)];
      const VoteOutcome got = quorum.vote_result([&](NodeId id) { return votes.at(id); });
      EXPECT_EQ(got, brute_force_vote(voters, votes)) << "n=" << n;
    });
  }
}

// An empty voter set is the neutral element: it agrees to everything.
TEST(Paper6_Quorum, EmptyMajorityIsNeutral) {
  const MajorityQuorum empty;
  EXPECT_EQ(empty.committed_index([](NodeId) -> std::optional<Index> { return 0; }), kNoLimit);
  EXPECT_EQ(empty.vote_result([](NodeId) -> std::optional<bool> { return false; }),
            VoteOutcome::kWon);
}

// "Agreement (for elections and entry commitment) requires separate majorities from
// both the old and new configurations" (§6). Overlapping halves {1,2,3} and {3,4,5},
// every assignment of {none, 0, 1, 2} and of {pending, granted, rejected}.
TEST(Paper6_Quorum, JointNeedsBothHalvesExhaustive) {
  const std::vector<NodeId> incoming = {1, 2, 3}, outgoing = {3, 4, 5};
  const JointQuorum joint{MajorityQuorum(incoming), MajorityQuorum(outgoing)};
  EXPECT_TRUE(joint.joint());
  EXPECT_EQ(joint.all_voters(), (std::vector<NodeId>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(joint.contains(5));
  EXPECT_FALSE(joint.contains(6));

  for_each_assignment(
      5, std::vector<std::optional<Index>>{std::nullopt, 0, 1, 2},
      [&](const std::vector<std::optional<Index>>& assignment) {
        std::map<NodeId, std::optional<Index>> acked;
        for (int i = 0; i < 5; ++i)
          acked[static_cast<NodeId>(i + 1)] = assignment[static_cast<std::size_t>(i)];
        const Index want =
            std::min(brute_force_commit(incoming, acked), brute_force_commit(outgoing, acked));
        EXPECT_EQ(joint.committed_index([&](NodeId id) { return acked.at(id); }), want);
      });
  for_each_assignment(5, std::vector<std::optional<bool>>{std::nullopt, true, false},
                      [&](const std::vector<std::optional<bool>>& assignment) {
                        std::map<NodeId, std::optional<bool>> votes;
                        for (int i = 0; i < 5; ++i)
                          votes[static_cast<NodeId>(i + 1)] =
                              assignment[static_cast<std::size_t>(i)];
                        const VoteOutcome in = brute_force_vote(incoming, votes);
                        const VoteOutcome out = brute_force_vote(outgoing, votes);
                        VoteOutcome want = VoteOutcome::kPending;
                        if (in == VoteOutcome::kLost || out == VoteOutcome::kLost) {
                          want = VoteOutcome::kLost;
                        } else if (in == VoteOutcome::kWon && out == VoteOutcome::kWon) {
                          want = VoteOutcome::kWon;
                        }
                        EXPECT_EQ(joint.vote_result([&](NodeId id) { return votes.at(id); }), want);
                      });
}

// Concrete joint cases: a majority of the whole is not enough.
TEST(Paper6_Quorum, JointMajorityOfOneHalfIsNotEnough) {
  const JointQuorum joint{MajorityQuorum({1, 2, 3}), MajorityQuorum({4, 5, 6})};
  // Five of six acknowledged index 5, but only one of the outgoing half.
  const std::map<NodeId, Index> acked = {{1, 5}, {2, 5}, {3, 5}, {4, 5}, {5, 1}, {6, 1}};
  EXPECT_EQ(joint.committed_index([&](NodeId id) -> std::optional<Index> { return acked.at(id); }),
            1u);
  const std::map<NodeId, bool> votes = {{1, true}, {2, true},  {3, true},
                                        {4, true}, {5, false}, {6, false}};
  EXPECT_EQ(joint.vote_result([&](NodeId id) -> std::optional<bool> { return votes.at(id); }),
            VoteOutcome::kLost);
}

// Outside joint consensus the outgoing half is empty and changes nothing.
TEST(Paper6_Quorum, EmptyOutgoingHalfIsNeutral) {
  const std::vector<NodeId> voters = {1, 2, 3, 4};
  const JointQuorum simple{MajorityQuorum(voters), MajorityQuorum()};
  const MajorityQuorum majority(voters);
  EXPECT_FALSE(simple.joint());
  EXPECT_EQ(simple.all_voters(), voters);
  for_each_assignment(4, std::vector<std::optional<Index>>{std::nullopt, 1, 2},
                      [&](const std::vector<std::optional<Index>>& assignment) {
                        auto acked = [&](NodeId id) { return assignment[id - 1]; };
                        EXPECT_EQ(simple.committed_index(acked), majority.committed_index(acked));
                      });
  for_each_assignment(4, std::vector<std::optional<bool>>{std::nullopt, true, false},
                      [&](const std::vector<std::optional<bool>>& assignment) {
                        auto vote = [&](NodeId id) { return assignment[id - 1]; };
                        EXPECT_EQ(simple.vote_result(vote), majority.vote_result(vote));
                      });
}

}  // namespace
}  // namespace raft::core

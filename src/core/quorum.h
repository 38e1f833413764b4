// Quorum arithmetic, pure and separate so it can be tested exhaustively: the commit
// index a set of match indexes supports, and the outcome of a vote, for a single
// majority and for joint consensus (a majority of each of two voter sets, §6).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "src/core/types.h"

namespace raft::core {

enum class VoteOutcome { kPending, kWon, kLost };

// A set of voters (no duplicates). An empty set is a degenerate quorum that agrees
// to everything: it makes the outgoing half of a non-joint configuration neutral.
class MajorityQuorum {
 public:
  MajorityQuorum() = default;
  explicit MajorityQuorum(std::vector<NodeId> voters);

  const std::vector<NodeId>& voters() const { return voters_; }
  bool contains(NodeId id) const;

  // The largest index that a majority of the voters have acknowledged: the
  // (n/2+1)-th largest of their acknowledged indexes. `acked(id)` returns nullopt for
  // a voter not heard from (counted as 0). kNoLimit for the empty set.
  Index committed_index(const std::function<std::optional<Index>(NodeId)>& acked) const;

  // `vote(id)`: true granted, false rejected, nullopt not yet answered.
  VoteOutcome vote_result(const std::function<std::optional<bool>(NodeId)>& vote) const;

 private:
  std::vector<NodeId> voters_;
};

// Joint consensus: decisions need both halves. Outside a joint configuration the
// outgoing half is empty and agrees to everything.
class JointQuorum {
 public:
  JointQuorum() = default;
  JointQuorum(MajorityQuorum incoming, MajorityQuorum outgoing)
      : incoming_(std::move(incoming)), outgoing_(std::move(outgoing)) {}

  const MajorityQuorum& incoming() const { return incoming_; }
  const MajorityQuorum& outgoing() const { return outgoing_; }
  bool joint() const { return !outgoing_.voters().empty(); }
  bool contains(NodeId id) const { return incoming_.contains(id) || outgoing_.contains(id); }
  // Every voter of either half, once.
  std::vector<NodeId> all_voters() const;

  Index committed_index(const std::function<std::optional<Index>(NodeId)>& acked) const;
  VoteOutcome vote_result(const std::function<std::optional<bool>(NodeId)>& vote) const;

 private:
  MajorityQuorum incoming_;
  MajorityQuorum outgoing_;
};

}  // namespace raft::core

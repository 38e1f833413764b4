#include "src/core/quorum.h"

#include <algorithm>

namespace raft::core {

MajorityQuorum::MajorityQuorum(std::vector<NodeId> voters) : voters_(std::move(voters)) {
  std::sort(voters_.begin(), voters_.end());
  voters_.erase(std::unique(voters_.begin(), voters_.end()), voters_.end());
}

bool MajorityQuorum::contains(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

Index MajorityQuorum::committed_index(
    const std::function<std::optional<Index>(NodeId)>& acked) const {
  if (voters_.empty()) return kNoLimit;
  // Small clusters are the rule; a stack buffer avoids a heap allocation per commit.
  constexpr std::size_t kStackVoters = 16;
  Index stack[kStackVoters];
  std::vector<Index> heap;
  Index* indexes = stack;
  if (voters_.size() > kStackVoters) {
    heap.resize(voters_.size());
    indexes = heap.data();
  }
  for (std::size_t i = 0; i < voters_.size(); ++i) indexes[i] = acked(voters_[i]).value_or(0);
  const std::size_t n = voters_.size();
  // Sorted descending, the entry at position n/2 is acknowledged by n/2+1 voters.
  std::nth_element(indexes, indexes + n / 2, indexes + n, std::greater<Index>());
  return indexes[n / 2];
}

VoteOutcome MajorityQuorum::vote_result(
    const std::function<std::optional<bool>(NodeId)>& vote) const {
  if (voters_.empty()) return VoteOutcome::kWon;
  std::size_t granted = 0, missing = 0;
  for (NodeId id : voters_) {
    const std::optional<bool> v = vote(id);
    if (!v) ++missing;
    else if (*v) ++granted;
  }
  const std::size_t majority = voters_.size() / 2 + 1;
  if (granted >= majority) return VoteOutcome::kWon;
  if (granted + missing >= majority) return VoteOutcome::kPending;
  return VoteOutcome::kLost;
}

std::vector<NodeId> JointQuorum::all_voters() const {
  std::vector<NodeId> all = incoming_.voters();
  for (NodeId id : outgoing_.voters()) {
    if (!incoming_.contains(id)) all.push_back(id);
  }
  std::sort(all.begin(), all.end());
  return all;
}

Index JointQuorum::committed_index(
    const std::function<std::optional<Index>(NodeId)>& acked) const {
  return std::min(incoming_.committed_index(acked), outgoing_.committed_index(acked));
}

VoteOutcome JointQuorum::vote_result(
    const std::function<std::optional<bool>(NodeId)>& vote) const {
  const VoteOutcome in = incoming_.vote_result(vote);
  const VoteOutcome out = outgoing_.vote_result(vote);
  if (in == VoteOutcome::kLost || out == VoteOutcome::kLost) return VoteOutcome::kLost;
  if (in == VoteOutcome::kWon && out == VoteOutcome::kWon) return VoteOutcome::kWon;
  return VoteOutcome::kPending;
}

}  // namespace raft::core

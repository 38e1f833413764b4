#include "src/core/tracker.h"

#include <algorithm>

namespace raft::core {

namespace {
std::vector<NodeId> to_vector(const google::protobuf::RepeatedField<std::uint64_t>& ids) {
  return std::vector<NodeId>(ids.begin(), ids.end());
}
}  // namespace

void ProgressTracker::set_configuration(const pb::Configuration& configuration,
                                        Index next_index) {
  quorum_ = JointQuorum(MajorityQuorum(to_vector(configuration.voters())),
                        MajorityQuorum(to_vector(configuration.voters_outgoing())));
  learners_ = to_vector(configuration.learners());
  for (NodeId id : configuration.learners_next()) learners_.push_back(id);
  std::sort(learners_.begin(), learners_.end());
  learners_.erase(std::unique(learners_.begin(), learners_.end()), learners_.end());

  std::map<NodeId, Progress> next;
  auto carry = [&](NodeId id, bool learner) {
    auto it = progress_.find(id);
    if (it != progress_.end()) {
      it->second.set_learner(learner);
      next.emplace(id, std::move(it->second));
    } else {
      next.emplace(id, Progress(next_index, max_inflight_, learner));
    }
  };
  for (NodeId id : quorum_.all_voters()) carry(id, false);
  for (NodeId id : learners_) {
    if (!quorum_.contains(id)) carry(id, true);
  }
  progress_ = std::move(next);
}

bool ProgressTracker::is_learner(NodeId id) const {
  return std::binary_search(learners_.begin(), learners_.end(), id) && !quorum_.contains(id);
}

Progress* ProgressTracker::progress(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void ProgressTracker::reset_progress(Index next_index, NodeId self, Index self_match) {
  for (auto& [id, p] : progress_) {
    p = Progress(next_index, max_inflight_, p.learner());
    if (id == self) {
      p.on_ack(self_match);
      p.become_replicate();
      p.set_recently_active(true);
    }
  }
}

Index ProgressTracker::committed_index() const {
  return quorum_.committed_index([this](NodeId id) -> std::optional<Index> {
    auto it = progress_.find(id);
    if (it == progress_.end()) return std::nullopt;
    return it->second.match_index();
  });
}

void ProgressTracker::record_vote(NodeId id, bool granted) {
  // The first answer counts; a duplicate or a changed mind within a term does not.
  votes_.emplace(id, granted);
}

VoteOutcome ProgressTracker::vote_result() const {
  return quorum_.vote_result([this](NodeId id) -> std::optional<bool> {
    auto it = votes_.find(id);
    if (it == votes_.end()) return std::nullopt;
    return it->second;
  });
}

std::size_t ProgressTracker::granted_votes() const {
  return static_cast<std::size_t>(
      std::count_if(votes_.begin(), votes_.end(), [](const auto& v) { return v.second; }));
}

bool ProgressTracker::quorum_active(NodeId self) {
  const VoteOutcome outcome = quorum_.vote_result([this, self](NodeId id) -> std::optional<bool> {
    if (id == self) return true;
    auto it = progress_.find(id);
    return it != progress_.end() && it->second.recently_active();
  });
  for (auto& [id, p] : progress_) p.set_recently_active(id == self);
  return outcome == VoteOutcome::kWon;
}

}  // namespace raft::core

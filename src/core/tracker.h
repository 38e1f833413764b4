// The leader's and candidate's view of the cluster: the configuration's quorum, a
// Progress per member, and the votes of the current election. Pure bookkeeping; the
// protocol decisions stay in raft.cc.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "src/core/progress.h"
#include "src/core/quorum.h"

namespace raft::core {

class ProgressTracker {
 public:
  explicit ProgressTracker(std::uint32_t max_inflight) : max_inflight_(max_inflight) {}

  // Installs a configuration. Members that stay keep their progress; new ones start
  // probing at `next_index`; removed ones are forgotten.
  void set_configuration(const pb::Configuration& configuration, Index next_index);

  const JointQuorum& quorum() const { return quorum_; }
  bool is_voter(NodeId id) const { return quorum_.contains(id); }
  bool is_learner(NodeId id) const;
  bool is_member(NodeId id) const { return progress_.count(id) > 0; }

  Progress* progress(NodeId id);
  const std::map<NodeId, Progress>& all() const { return progress_; }
  // Resets every member's progress (a new leader): next = next_index, match = 0,
  // except `self`, whose match is `self_match`.
  void reset_progress(Index next_index, NodeId self, Index self_match);

  // The largest index a quorum of voters has acknowledged (match_index).
  Index committed_index() const;

  // Elections.
  void reset_votes() { votes_.clear(); }
  void record_vote(NodeId id, bool granted);
  VoteOutcome vote_result() const;
  std::size_t granted_votes() const;

  // CheckQuorum: whether a quorum (counting `self`) was recently active; clears the
  // flags for the next period.
  bool quorum_active(NodeId self);

 private:
  std::uint32_t max_inflight_;
  JointQuorum quorum_;
  std::vector<NodeId> learners_;  // sorted
  std::map<NodeId, Progress> progress_;  // every voter and learner
  std::map<NodeId, bool> votes_;
};

}  // namespace raft::core

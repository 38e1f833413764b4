#include "tests/sim/membership.h"

#include <algorithm>
#include <vector>

#include "src/core/confchange.h"
#include "tests/sim/trace.h"

namespace raft::sim {
namespace {

using Ids = std::vector<core::NodeId>;

bool contains(const google::protobuf::RepeatedField<std::uint64_t>& ids, core::NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

core::NodeId take(core::Rng& rng, Ids& ids) {
  const std::size_t i = rng.below(ids.size());
  const core::NodeId id = ids[i];
  ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(i));
  return id;
}

void add(pb::ConfChange& change, pb::ConfChangeType type, core::NodeId id) {
  pb::ConfChangeSingle* single = change.add_changes();
  single->set_type(type);
  single->mutable_member()->set_id(id);
  if (type != pb::CONF_REMOVE) single->mutable_member()->set_name("n" + std::to_string(id));
}

enum class Kind {
  kAddLearner,
  kPromote,
  kDemote,
  kSwap,  // joint: promote a learner, demote a voter
  kPromoteTwo,
  kRemoveVoter,
  kRemoveLearner,
  kReplace,  // joint: promote a learner, remove a voter
  kRemoveTwo,
};

}  // namespace

bool is_member(const pb::Configuration& configuration, core::NodeId id) {
  return contains(configuration.voters(), id) || contains(configuration.voters_outgoing(), id) ||
         contains(configuration.learners(), id) || contains(configuration.learners_next(), id);
}

std::optional<Time> MembershipSchedule::next_gap() {
  if (config_.change_mtbf_ticks == 0) return std::nullopt;
  return rng_.between(1, 2 * config_.change_mtbf_ticks * kMsPerTick);
}

bool MembershipSchedule::burst() {
  return config_.burst_ppm > 0 && rng_.chance(config_.burst_ppm, 1'000'000);
}

std::optional<MembershipSchedule::Change> MembershipSchedule::pick(
    const pb::Configuration& current) {
  if (core::is_joint(current)) return std::nullopt;
  Ids voters(current.voters().begin(), current.voters().end());
  Ids learners(current.learners().begin(), current.learners().end());
  Ids outsiders;
  for (int i = 1; i <= total_nodes_; ++i) {
    const auto id = static_cast<core::NodeId>(i);
    if (!is_member(current, id)) outsiders.push_back(id);
  }
  const auto v = static_cast<int>(voters.size());
  std::vector<Kind> kinds;
  if (!outsiders.empty()) kinds.push_back(Kind::kAddLearner);
  if (!learners.empty() && v < config_.max_voters) kinds.push_back(Kind::kPromote);
  // A demoted voter stays a learner, so it hears of its demotion: safe in every seed.
  if (v > config_.min_voters) kinds.push_back(Kind::kDemote);
  if (!learners.empty() && v >= config_.min_voters) kinds.push_back(Kind::kSwap);
  if (learners.size() >= 2 && v + 2 <= config_.max_voters) kinds.push_back(Kind::kPromoteTwo);
  if (config_.remove_voters) {
    if (v > config_.min_voters) kinds.push_back(Kind::kRemoveVoter);
    if (!learners.empty()) kinds.push_back(Kind::kRemoveLearner);
    if (!learners.empty() && v >= config_.min_voters) kinds.push_back(Kind::kReplace);
    if (v - 2 >= config_.min_voters) kinds.push_back(Kind::kRemoveTwo);
  }
  if (kinds.empty()) return std::nullopt;

  Change out;
  pb::ConfChange& change = out.change;
  switch (kinds[rng_.below(kinds.size())]) {
    case Kind::kAddLearner: {
      const core::NodeId id = take(rng_, outsiders);
      add(change, pb::CONF_ADD_LEARNER, id);
      out.description = "add learner " + node_tag(id);
      break;
    }
    case Kind::kPromote: {
      const core::NodeId id = take(rng_, learners);
      add(change, pb::CONF_ADD_VOTER, id);
      out.description = "promote " + node_tag(id);
      break;
    }
    case Kind::kDemote: {
      const core::NodeId id = take(rng_, voters);
      add(change, pb::CONF_ADD_LEARNER, id);
      out.description = "demote " + node_tag(id);
      break;
    }
    case Kind::kRemoveVoter: {
      const core::NodeId id = take(rng_, voters);
      add(change, pb::CONF_REMOVE, id);
      out.description = "remove voter " + node_tag(id);
      break;
    }
    case Kind::kRemoveLearner: {
      const core::NodeId id = take(rng_, learners);
      add(change, pb::CONF_REMOVE, id);
      out.description = "remove learner " + node_tag(id);
      break;
    }
    case Kind::kReplace: {
      const core::NodeId in = take(rng_, learners);
      const core::NodeId gone = take(rng_, voters);
      add(change, pb::CONF_ADD_VOTER, in);
      add(change, pb::CONF_REMOVE, gone);
      out.description = "joint: promote " + node_tag(in) + ", remove " + node_tag(gone);
      break;
    }
    case Kind::kSwap: {
      const core::NodeId in = take(rng_, learners);
      const core::NodeId out_id = take(rng_, voters);
      add(change, pb::CONF_ADD_VOTER, in);
      add(change, pb::CONF_ADD_LEARNER, out_id);
      out.description = "joint: promote " + node_tag(in) + ", demote " + node_tag(out_id);
      break;
    }
    case Kind::kPromoteTwo: {
      const core::NodeId a = take(rng_, learners);
      const core::NodeId b = take(rng_, learners);
      add(change, pb::CONF_ADD_VOTER, a);
      add(change, pb::CONF_ADD_VOTER, b);
      out.description = "joint: promote " + node_tag(a) + " and " + node_tag(b);
      break;
    }
    case Kind::kRemoveTwo: {
      const core::NodeId a = take(rng_, voters);
      const core::NodeId b = take(rng_, voters);
      add(change, pb::CONF_REMOVE, a);
      add(change, pb::CONF_REMOVE, b);
      out.description = "joint: remove " + node_tag(a) + " and " + node_tag(b);
      break;
    }
  }
  if (change.changes_size() > 1 && rng_.chance(1, 2)) {
    change.set_transition(pb::TRANSITION_JOINT_IMPLICIT);
  }
  return out;
}

}  // namespace raft::sim

#include "src/core/confchange.h"

#include <algorithm>
#include <set>
#include <vector>

namespace raft::core {

namespace {

using IdSet = std::set<NodeId>;

IdSet to_set(const google::protobuf::RepeatedField<std::uint64_t>& ids) {
  return IdSet(ids.begin(), ids.end());
}

void assign(google::protobuf::RepeatedField<std::uint64_t>* out, const IdSet& ids) {
  out->Clear();
  for (NodeId id : ids) out->Add(id);
}

struct Sets {
  IdSet voters, outgoing, learners, learners_next;
};

std::string apply_single(Sets& sets, const pb::ConfChangeSingle& single) {
  const NodeId id = single.member().id();
  if (id == kNoNode) return "member id 0 is not allowed";
  switch (single.type()) {
    case pb::CONF_ADD_VOTER:
      sets.learners.erase(id);
      sets.learners_next.erase(id);
      sets.voters.insert(id);
      return {};
    case pb::CONF_ADD_LEARNER:
      sets.voters.erase(id);
      // Still a voter of the outgoing half: it may only become a learner once the
      // joint configuration is left.
      if (sets.outgoing.count(id)) {
        sets.learners_next.insert(id);
      } else {
        sets.learners.insert(id);
      }
      return {};
    case pb::CONF_REMOVE:
      sets.voters.erase(id);
      sets.learners.erase(id);
      sets.learners_next.erase(id);
      return {};
    default:
      return "unknown change type " + std::to_string(single.type());
  }
}

std::size_t symmetric_difference_size(const IdSet& a, const IdSet& b) {
  std::size_t n = 0;
  for (NodeId id : a) n += b.count(id) == 0;
  for (NodeId id : b) n += a.count(id) == 0;
  return n;
}

}  // namespace

ConfChangeResult apply_conf_change(const pb::Configuration& current, const pb::ConfChange& change) {
  Sets sets{to_set(current.voters()), to_set(current.voters_outgoing()), to_set(current.learners()),
            to_set(current.learners_next())};
  const bool joint = !sets.outgoing.empty();
  pb::Configuration next = current;

  if (change.changes_size() == 0) {
    if (!joint) return {std::nullopt, "not in a joint configuration: nothing to leave"};
    sets.outgoing.clear();
    sets.learners.insert(sets.learners_next.begin(), sets.learners_next.end());
    sets.learners_next.clear();
    next.set_auto_leave(false);
  } else {
    if (joint) return {std::nullopt, "a joint configuration must be left before another change"};
    const bool enter_joint =
        change.changes_size() > 1 || change.transition() != pb::TRANSITION_AUTO;
    if (enter_joint) sets.outgoing = sets.voters;
    for (const pb::ConfChangeSingle& single : change.changes()) {
      if (std::string error = apply_single(sets, single); !error.empty()) return {std::nullopt, error};
    }
    if (!enter_joint && symmetric_difference_size(sets.voters, to_set(current.voters())) > 1) {
      return {std::nullopt, "a simple change may add or remove at most one voter"};
    }
    if (enter_joint) {
      next.set_auto_leave(change.transition() != pb::TRANSITION_JOINT_EXPLICIT);
    }
  }
  if (sets.voters.empty()) return {std::nullopt, "the configuration would have no voters"};

  assign(next.mutable_voters(), sets.voters);
  assign(next.mutable_voters_outgoing(), sets.outgoing);
  assign(next.mutable_learners(), sets.learners);
  assign(next.mutable_learners_next(), sets.learners_next);

  // Keep the address book in step: add or update members named by the change, drop
  // members that are no longer in any set.
  for (const pb::ConfChangeSingle& single : change.changes()) {
    if (single.type() == pb::CONF_REMOVE) continue;
    auto* members = next.mutable_members();
    auto it = std::find_if(members->begin(), members->end(),
                           [&](const pb::Member& m) { return m.id() == single.member().id(); });
    if (it != members->end()) {
      pb::Member merged = *it;
      if (!single.member().name().empty()) merged.set_name(single.member().name());
      if (!single.member().peer_address().empty()) merged.set_peer_address(single.member().peer_address());
      if (!single.member().client_address().empty()) merged.set_client_address(single.member().client_address());
      *it = merged;
    } else {
      *members->Add() = single.member();
    }
  }
  auto* members = next.mutable_members();
  members->erase(std::remove_if(members->begin(), members->end(),
                                [&](const pb::Member& m) {
                                  const NodeId id = m.id();
                                  return !sets.voters.count(id) && !sets.outgoing.count(id) &&
                                         !sets.learners.count(id) && !sets.learners_next.count(id);
                                }),
                 members->end());
  return {std::move(next), {}};
}

namespace {

bool lists(const google::protobuf::RepeatedField<std::uint64_t>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

bool is_voter(const pb::Configuration& configuration, NodeId id) {
  return lists(configuration.voters(), id) || lists(configuration.voters_outgoing(), id);
}

bool is_member(const pb::Configuration& configuration, NodeId id) {
  return is_voter(configuration, id) || lists(configuration.learners(), id) ||
         lists(configuration.learners_next(), id);
}

std::vector<NodeId> member_ids(const pb::Configuration& configuration) {
  std::vector<NodeId> ids;
  for (const auto* list : {&configuration.voters(), &configuration.voters_outgoing(),
                           &configuration.learners(), &configuration.learners_next()}) {
    for (NodeId id : *list) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  return ids;
}

std::string describe(const pb::Configuration& configuration, bool with_names) {
  auto label = [&](std::uint64_t id) {
    if (with_names) {
      for (const pb::Member& m : configuration.members()) {
        if (m.id() == id && !m.name().empty()) return m.name();
      }
    }
    return std::to_string(id);
  };
  auto list = [&](const google::protobuf::RepeatedField<std::uint64_t>& ids) {
    std::string out = "[";
    for (int i = 0; i < ids.size(); ++i) out += (i ? " " : "") + label(ids[i]);
    return out + "]";
  };
  std::string out = "voters=" + list(configuration.voters());
  if (configuration.voters_outgoing_size()) out += " outgoing=" + list(configuration.voters_outgoing());
  if (configuration.learners_size()) out += " learners=" + list(configuration.learners());
  if (configuration.learners_next_size()) out += " learners_next=" + list(configuration.learners_next());
  if (configuration.auto_leave()) out += " auto_leave";
  return out;
}

void for_each_configuration_entry(const LogStorage& storage,
                                  const std::function<void(const pb::Entry&)>& visit) {
  Index next = storage.first_index();
  const Index end = storage.last_index() + 1;
  while (next < end) {
    std::vector<pb::Entry> batch;
    storage.entries(next, end, 4 << 20, &batch);
    if (batch.empty()) break;
    for (const pb::Entry& entry : batch) {
      if (entry.type() == pb::ENTRY_CONF_CHANGE) visit(entry);
    }
    next = batch.back().index() + 1;
  }
}

}  // namespace raft::core

// Membership arithmetic: what a ConfChange does to a Configuration. Pure and
// separate so every rule can be tested on its own.
//
// Rules (Raft paper §6, dissertation §4.1–4.3):
//   - One change (TRANSITION_AUTO) is applied directly: at most one voter is added or
//     removed, so any majority of the old voters overlaps any majority of the new.
//   - Several changes, or an explicit joint transition, enter joint consensus: the
//     old voters become `voters_outgoing`, the changes apply to `voters`, and every
//     decision needs a majority of both until the joint configuration is left.
//   - An empty change list leaves the joint configuration.
//   - A voter demoted to learner during a joint change stays a voter of the outgoing
//     half and becomes a learner (`learners_next`) when the joint config is left.
//   - A configuration always keeps at least one voter.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/core/log_storage.h"
#include "src/core/types.h"

namespace raft::core {

struct ConfChangeResult {
  std::optional<pb::Configuration> configuration;  // set on success
  std::string error;                               // why not, on failure
};

ConfChangeResult apply_conf_change(const pb::Configuration& current, const pb::ConfChange& change);

// Whether `configuration` is joint (two voter sets).
inline bool is_joint(const pb::Configuration& configuration) {
  return configuration.voters_outgoing_size() > 0;
}

// Whether `id` votes in `configuration` (in either half of a joint one).
bool is_voter(const pb::Configuration& configuration, NodeId id);
// Whether `configuration` names `id` at all: a voter, a learner or a learner-to-be.
bool is_member(const pb::Configuration& configuration, NodeId id);
// Every id `configuration` names, each once: voters, outgoing voters, learners,
// learners-to-be.
std::vector<NodeId> member_ids(const pb::Configuration& configuration);

// A one-line description for logs and tests: "voters=[1 2 3] outgoing=[...] learners=[...]";
// with_names: each member by the name its record gives, where it gives one.
std::string describe(const pb::Configuration& configuration, bool with_names = false);

// Calls `visit` with every configuration-change entry `storage` holds as an entry
// (after its snapshot point), oldest first: how a node finds, on load, the
// configurations it adopted when they were appended, committed or not.
void for_each_configuration_entry(const LogStorage& storage,
                                  const std::function<void(const pb::Entry&)>& visit);

}  // namespace raft::core

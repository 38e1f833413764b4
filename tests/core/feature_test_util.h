// Helpers shared by the tests of the dissertation's extensions (membership,
// leadership transfer, ReadIndex and leases, snapshots, PreVote): building
// ConfChanges, starting a joining node, and driving a TestCluster in rounds.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "src/core/confchange.h"
#include "tests/core/test_cluster.h"

namespace raft::core::testing {

inline pb::ConfChangeSingle conf_single(pb::ConfChangeType type, NodeId id) {
  pb::ConfChangeSingle single;
  single.set_type(type);
  single.mutable_member()->set_id(id);
  single.mutable_member()->set_peer_address("n" + std::to_string(id) + ":7000");
  return single;
}

inline pb::ConfChange conf_change(std::initializer_list<pb::ConfChangeSingle> singles,
                                  pb::ConfChangeTransition transition = pb::TRANSITION_AUTO) {
  pb::ConfChange change;
  for (const pb::ConfChangeSingle& single : singles) *change.add_changes() = single;
  change.set_transition(transition);
  return change;
}

inline pb::ConfChange add_voter(NodeId id) {
  return conf_change({conf_single(pb::CONF_ADD_VOTER, id)});
}
inline pb::ConfChange add_learner(NodeId id) {
  return conf_change({conf_single(pb::CONF_ADD_LEARNER, id)});
}
inline pb::ConfChange remove_member(NodeId id) {
  return conf_change({conf_single(pb::CONF_REMOVE, id)});
}

// Options of a node that joins an existing cluster (default tuning, fixed seed).
inline Options joiner_options(NodeId id) {
  Options options;
  options.id = id;
  options.random_seed = 7000 + id;
  return options;
}

// `rounds` times: tick every node once, then deliver until the network is quiet.
inline void run_rounds(TestCluster& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    c.tick_all();
    c.stabilize();
  }
}

// Makes `id` the leader of a fresh cluster (a campaign that skips PreVote; nobody has
// heard from a leader yet, so every voter grants) and lets the no-op commit.
inline void make_leader(TestCluster& c, NodeId id) {
  c.node(id).campaign();
  c.stabilize();
  ASSERT_EQ(c.node(id).role(), Role::kLeader);
}

// The ids that queued messages matching `filter` are addressed to.
inline std::set<NodeId> queued_to(TestCluster& c,
                                  const std::function<bool(const pb::Message&)>& filter) {
  std::set<NodeId> out;
  for (const pb::Message& m : c.queue()) {
    if (filter(m)) out.insert(m.to());
  }
  return out;
}

inline std::vector<NodeId> voter_ids(const pb::Configuration& configuration) {
  return std::vector<NodeId>(configuration.voters().begin(), configuration.voters().end());
}

}  // namespace raft::core::testing

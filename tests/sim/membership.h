// The membership schedule: random configuration changes proposed through the current
// leader during the safety phase, mixed with every fault the nemesis injects.
//
// Every change keeps the cluster able to converge once the faults stop: voters stay
// within [min_voters, max_voters] (3 at least, so one crashed voter never stalls a
// cluster on its own), and every id it names is a simulated node that runs. The kinds:
//   add learner      a node outside the configuration (a spare that never belonged,
//                    or a removed node with its old data) joins as a learner;
//   promote          a learner becomes a voter (one voter added: a simple change);
//   demote           a voter becomes a learner;
//   remove           a voter or a learner leaves the configuration; a removed node
//                    keeps running (it must not disturb the cluster);
//   joint change     two members at once through joint consensus, left automatically
//                    once committed: swap (promote a learner, demote a voter),
//                    replace (promote a learner, remove a voter), promote two
//                    learners, or remove two voters.
// Removals happen only in seeds with PreVote or CheckQuorum on (remove_voters): with
// neither, a removed server that never learnt of its removal disrupts the cluster
// with ever higher terms (dissertation §4.2.3). A demoted voter stays a learner and
// hears of its demotion, so demotions happen in every seed.
// A change that cannot be proposed now (no leader, a change in flight, a leader that
// has not committed in its term yet) is simply dropped: the next one comes later.
// With burst_ppm a second change follows the first at once: the core must refuse it
// while the first is in flight (one change at a time).
//
// Like the Nemesis, the schedule only decides; the Cluster carries changes out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "src/core/rng.h"
#include "src/core/types.h"
#include "tests/sim/config.h"

namespace raft::sim {

class MembershipSchedule {
 public:
  MembershipSchedule(const MembershipConfig& config, int total_nodes, std::uint64_t seed)
      : config_(config), total_nodes_(total_nodes), rng_(seed) {}

  // Time until the next change; nullopt when the seed never changes membership.
  std::optional<Time> next_gap();
  // Whether a second change follows this one at once.
  bool burst();

  struct Change {
    pb::ConfChange change;
    std::string description;  // "promote n4", "joint: promote n4, remove n2"
  };
  // A random change of `current` within the bounds; nullopt when none fits (in a
  // joint configuration, which the core leaves by itself).
  std::optional<Change> pick(const pb::Configuration& current);

 private:
  MembershipConfig config_;
  int total_nodes_;
  core::Rng rng_;
};

// Whether `id` is named anywhere in `configuration` (voter of either half or learner).
bool is_member(const pb::Configuration& configuration, core::NodeId id);

}  // namespace raft::sim

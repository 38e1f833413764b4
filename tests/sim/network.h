// The simulated network between cores: decides the fate of every message (lost,
// delayed, delivered twice) and which directed links are currently cut.
//
// Model: each message independently may be dropped (drop_ppm), delayed uniformly in
// [min_delay, max_delay] (which reorders messages), occasionally held back much longer
// (a "spike": a late message from an old term arriving after everything moved on), or
// duplicated (a second copy with its own delay). Links are directed, so one-way cuts
// are possible; a message is lost if its link is cut when it would arrive (packets in
// the pipe when a partition starts are lost too). Each directed link holds at most
// max_in_flight_per_link messages, beyond which it drops (a bounded queue).
//
// Partitions are shapes over the node set, drawn from the seed: a symmetric split,
// an isolated node, a majority/minority split, a one-way cut, and a "bridge" node
// that sees both sides of a split while the sides cannot see each other. heal()
// restores every link. The network knows nothing about Raft; the Cluster asks it
// route() when a message is sent and linked() when it arrives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/rng.h"
#include "src/core/types.h"
#include "tests/sim/config.h"

namespace raft::sim {

enum class PartitionKind { kSplit, kIsolate, kMajorityMinority, kOneWay, kBridge };
const char* to_string(PartitionKind kind);

class SimNetwork {
 public:
  SimNetwork(int node_count, const NetworkConfig& config, std::uint64_t seed);

  // The delivery delays of a message sent now from `from` to `to`: empty when the
  // message is lost, two entries when it is duplicated.
  struct Route {
    int copies = 0;
    Time delay_ms[2] = {0, 0};
  };
  Route route(core::NodeId from, core::NodeId to);
  // A message of this link was delivered or discarded on arrival (frees its slot).
  void arrived(core::NodeId from, core::NodeId to);

  bool linked(core::NodeId from, core::NodeId to) const { return !cut_[index(from, to)]; }
  bool partitioned() const { return partitioned_; }

  // Cuts links into a shape of `kind`; returns a description ("{1,2} | {3,4,5}").
  // `focus`, if set, is the node singled out: the isolated one, the one in the
  // minority, the one whose links are cut one way, or the bridge.
  std::string partition(PartitionKind kind, core::NodeId focus = core::kNoNode);
  std::string partition_random(core::NodeId focus = core::kNoNode);
  // Cuts every link into `x`: it hears nobody, and everybody still hears it.
  std::string deafen(core::NodeId x);
  void heal();

  // The liveness phase: no more loss, duplication or spikes (delays stay).
  void quiet();

  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t duplicated() const { return duplicated_; }

 private:
  std::size_t index(core::NodeId from, core::NodeId to) const {
    return static_cast<std::size_t>(from - 1) * static_cast<std::size_t>(node_count_) +
           static_cast<std::size_t>(to - 1);
  }
  void cut(core::NodeId from, core::NodeId to) { cut_[index(from, to)] = true; }
  void cut_both(core::NodeId a, core::NodeId b) {
    cut(a, b);
    cut(b, a);
  }
  // Cuts every link between the two groups, both ways.
  void separate(const std::vector<core::NodeId>& a, const std::vector<core::NodeId>& b);
  // All ids in random order, `focus` (if set) first.
  std::vector<core::NodeId> shuffled_ids(core::NodeId focus);
  Time delay();

  int node_count_;
  NetworkConfig config_;
  core::Rng rng_;
  std::vector<bool> cut_;                 // [from][to]
  std::vector<std::uint32_t> in_flight_;  // [from][to]
  bool partitioned_ = false;
  std::uint64_t dropped_ = 0;
  std::uint64_t duplicated_ = 0;
};

}  // namespace raft::sim

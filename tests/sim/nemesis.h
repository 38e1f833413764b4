// The fault schedule: when the next crash, partition or pause happens, whom it hits
// and how long it lasts. It only decides; the Cluster carries the faults out.
//
// Each kind of fault is an independent stream of events whose gaps are uniform in
// [1 ms, 2 * mean] (mean = the seed's mean time between faults of that kind), so
// faults land at arbitrary milliseconds: between a write and its sync, between a vote
// and its persistence, in the middle of a batch of appends. Faults overlap freely (a
// node may crash during a partition; several nodes may be down at once), except that
// one partition shape is active at a time. Nothing is scheduled after the safety
// phase ends. Half of the faults single out the current leader (crash it, pause it,
// isolate it or put it in the minority), as Jepsen's nemeses do: losing leaders with
// uncommitted entries, repeatedly, is what builds the Figure 8 situations in which
// unsafe commits and elections show. For the same reason a new leader may be struck
// (isolated or crashed) within milliseconds of its election, before its first
// appends land, and a node that just granted a vote may crash before its sync
// completes and restart at once (a vote that was not durable is forgotten).
#pragma once

#include <cstdint>
#include <optional>

#include "src/core/rng.h"
#include "src/core/types.h"
#include "tests/sim/config.h"

namespace raft::sim {

enum class FaultKind { kCrash, kPartition, kPause };

class Nemesis {
 public:
  Nemesis(const FaultConfig& config, int node_count, std::uint64_t seed)
      : config_(config), node_count_(node_count), rng_(seed) {}

  // Time until the next fault of this kind; nullopt when the seed never injects it.
  std::optional<Time> next_gap(FaultKind kind) {
    const std::uint64_t mean_ticks = mtbf(kind);
    if (mean_ticks == 0) return std::nullopt;
    return rng_.between(1, 2 * mean_ticks * kMsPerTick);
  }
  // How long this fault lasts.
  Time duration(FaultKind kind) {
    switch (kind) {
      case FaultKind::kCrash: return rng_.between(1, config_.max_down_ticks * kMsPerTick);
      case FaultKind::kPartition:
        return rng_.between(config_.max_partition_ticks * kMsPerTick / 4,
                            config_.max_partition_ticks * kMsPerTick);
      case FaultKind::kPause: return rng_.between(1, config_.max_pause_ticks * kMsPerTick);
    }
    return 1;
  }
  // Whether to strike a node that just became leader, and after how many ms.
  std::optional<Time> strike_new_leader(Time max_delay_ms) {
    return strike(config_.strike_new_leader_ppm, max_delay_ms);
  }
  // Whether a leader that just told its successor to campaign (TimeoutNow) stops
  // hearing the cluster, and after how many ms.
  std::optional<Time> deafen_after_handover(Time max_delay_ms) {
    return strike(config_.deafen_after_handover_ppm, max_delay_ms);
  }
  // Whether to crash a node that just granted a vote (`install` false) or installed a
  // snapshot: after how many ms (within a sync), and for how long (a quick restart, a
  // few round trips).
  struct QuickCrash {
    Time after_ms;
    Time down_ms;
  };
  std::optional<QuickCrash> crash_soon(bool install, Time max_sync_ms, Time max_delay_ms) {
    const std::uint32_t ppm =
        install ? config_.crash_after_install_ppm : config_.crash_after_vote_ppm;
    if (ppm == 0 || !rng_.chance(ppm, 1'000'000)) return std::nullopt;
    return QuickCrash{rng_.between(0, max_sync_ms), rng_.between(1, 4 * max_delay_ms)};
  }
  // Whether this fault should single out the leader (when there is one).
  bool target_leader() { return rng_.chance(1, 2); }
  core::NodeId pick_node() {
    return static_cast<core::NodeId>(rng_.between(1, static_cast<std::uint64_t>(node_count_)));
  }
  core::Rng& rng() { return rng_; }

 private:
  std::optional<Time> strike(std::uint32_t ppm, Time max_delay_ms) {
    if (ppm == 0 || !rng_.chance(ppm, 1'000'000)) return std::nullopt;
    return rng_.between(0, max_delay_ms);
  }
  std::uint64_t mtbf(FaultKind kind) const {
    switch (kind) {
      case FaultKind::kCrash: return config_.crash_mtbf_ticks;
      case FaultKind::kPartition: return config_.partition_mtbf_ticks;
      case FaultKind::kPause: return config_.pause_mtbf_ticks;
    }
    return 0;
  }

  FaultConfig config_;
  int node_count_;
  core::Rng rng_;
};

}  // namespace raft::sim

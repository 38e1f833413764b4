// Tuning and identity of one consensus core. Every limit has a default that is sane
// for a LAN cluster; the runtime maps wall-clock durations onto ticks.
#pragma once

#include <cstdint>

#include "src/core/planted_bugs.h"
#include "src/core/types.h"

namespace raft::core {

struct Options {
  // This node's id. REQUIRES: non-zero.
  NodeId id = kNoNode;

  // Seed of the election-timeout jitter. Give each node a different one (the runtime
  // draws it from a real random source; tests pass fixed seeds).
  std::uint64_t random_seed = 1;

  // A follower that hears from no leader for this many ticks starts an election. The
  // actual timeout is drawn uniformly from [election_timeout_ticks,
  // 2 * election_timeout_ticks - 1] at every reset (§5.2, randomized timeouts).
  // Default: 10. REQUIRES: > heartbeat_interval_ticks.
  int election_timeout_ticks = 10;

  // A leader sends heartbeats every this many ticks. Default: 1.
  int heartbeat_interval_ticks = 1;

  // Largest total encoded size of the entries in one AppendEntries message (at least
  // one entry is always sent). Default: 1 MiB.
  std::uint64_t max_append_bytes = 1 << 20;

  // Appends in flight (sent, not yet acknowledged) to one follower in replicate mode:
  // the pipelining window. Default: 256. REQUIRES: > 0.
  std::uint32_t max_inflight_appends = 256;

  // Nagle's rule for appends: while an append to a follower is unacknowledged, the
  // next goes out only if it is full (max_append_bytes reached with more entries
  // behind it); a partial one waits for the acknowledgement and then carries every
  // entry proposed meanwhile. A backlog still streams through the whole window, but a
  // stream of small proposals no longer costs an append (and an answer, a disk write
  // and a wake-up of each follower) per leader iteration. The price: an entry proposed
  // while an append is in flight waits up to one follower round trip longer to leave;
  // on a local network that is about one follower disk sync, which the follower's disk
  // would have queued it behind anyway. Turn it off for links whose round trip is much
  // longer than a disk sync. Default: on.
  bool coalesce_appends = true;

  // A leader refuses proposals while the entries it appended but has not committed
  // exceed this many bytes (back-pressure when followers or the disk fall behind).
  // Default: 64 MiB. kNoLimit disables the limit.
  std::uint64_t max_uncommitted_bytes = 64 << 20;

  // Largest total size of committed entries handed out in one Ready, so applying a
  // long backlog does not build one huge batch. Default: 16 MiB.
  std::uint64_t max_committed_bytes_per_ready = 16 << 20;

  // PreVote (dissertation §9.6): probe for a majority before disrupting the cluster
  // with a higher term. Default: on.
  bool pre_vote = true;

  // CheckQuorum (dissertation §6.2): a leader that has not heard from a quorum within
  // an election timeout steps down; followers ignore vote requests while they hear
  // from a leader. Default: on.
  bool check_quorum = true;

  // Lease reads (dissertation §6.4.1) trust the leader's lease for
  // election_timeout_ticks minus this margin after a quorum acknowledged a heartbeat,
  // to allow for clocks that tick at slightly different rates. Lease reads are only
  // served with check_quorum on (followers honour the lease only then). Default: 2.
  int lease_drift_margin_ticks = 2;

  // A ReadIndex round (dissertation §6.4) goes only to as many voters as make a
  // quorum with the leader: those that answered the latest heartbeat broadcast first
  // (the core has no clock; the order answers arrive in is its measure of speed). If
  // the round is not confirmed within read_round_widen_ticks it goes to every voter,
  // as does every periodic heartbeat. Each read round then costs one follower's
  // answer in a 3-node cluster instead of two. Off: every round goes to all voters.
  // Default: on, 2 ticks.
  bool narrow_read_rounds = true;
  int read_round_widen_ticks = 2;

  // For the simulator's self-test only; ignored unless the core was built with
  // RAFT_PLANTED_BUGS (see planted_bugs.h).
  PlantedBug planted_bug = PlantedBug::kNone;
};

}  // namespace raft::core

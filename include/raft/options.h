// Everything a Node is opened with. Each field documents its default; only `id` and
// either `data_dir` or the stores are required.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "raft/log_store.h"
#include "raft/snapshot_store.h"
#include "raft/transport.h"
#include "raft/types.h"

namespace raft {

enum class ReadConsistency {
  kLinearizable,  ///< ReadIndex: one heartbeat round with a quorum (default)
  kLease,         ///< trust the leader lease: no round trip (needs check_quorum)
};

/// Everything Node::open() needs besides the state machine. Only `id` and either
/// `data_dir` or both stores are required; every other field has a working default.
struct NodeOptions {
  /// This node's id. REQUIRES: non-zero, unique in the cluster.
  NodeId id = 0;

  /// Guards against talking to the wrong cluster: every message carries it and peers
  /// drop messages with another. Default: 1.
  std::uint64_t cluster_id = 1;

  /// Directory for the write-ahead log and snapshots. Required unless both
  /// log_store and snapshot_store are given.
  std::string data_dir;

  /// Founding members when the data directory is empty; ignored once the node has
  /// state. Leave empty with `join = true` for a node that will be added to a running
  /// cluster (it waits, as a non-voter, for the leader to contact it).
  std::vector<Peer> initial_cluster;
  bool join = false;  ///< this node will be added to a running cluster
  /// With `join`: members of the running cluster (ids and peer addresses) to answer
  /// until this node learns the configuration from the leader's log or snapshot.
  std::vector<Peer> join_peers;
  /// Disaster recovery, for a cluster whose majority is lost for good: before it
  /// starts, this node appends to its log a configuration naming itself as the only
  /// voter, then elects itself and commits everything its log holds; new members join
  /// it afterwards. Entries only the lost members held are gone. Every other member
  /// must stay stopped and rejoin with an empty data directory. Ask for it once: a
  /// later start with it set removes every member added since (a start whose
  /// configuration already names only this node changes nothing). See
  /// docs/operations.md, "Losing the majority".
  bool force_new_cluster = false;

  /// Timing. The core runs on ticks of `tick_interval`; timeouts are rounded to ticks.
  /// Default heartbeat 50 ms; election timeout randomized in [250, 500) ms.
  std::chrono::milliseconds tick_interval{10};
  std::chrono::milliseconds heartbeat_interval{50};  ///< leader to followers when idle
  std::chrono::milliseconds election_timeout{250};   ///< lower bound; randomized up to 2x

  /// Protocol features (see the core's Options). Default: both on.
  bool pre_vote = true;      ///< a candidate first asks whether it could win (§9.6)
  bool check_quorum = true;  ///< a leader that hears from no quorum steps down
  /// Lease reads (ReadConsistency::kLease) trust the leader's lease for the election
  /// timeout minus this margin after a quorum acknowledged a heartbeat: room for
  /// clocks that run at slightly different rates. Rounded up to ticks; must be below
  /// the election timeout. Default: 20 ms.
  std::chrono::milliseconds lease_drift_margin{20};

  /// Limits. Defaults: 1 MiB per append message, 256 in-flight appends per follower,
  /// 64 MiB uncommitted, 1 MiB per command, 10,000 queued proposals.
  std::uint64_t max_append_bytes = 1 << 20;        ///< entries per append message
  std::uint32_t max_inflight_appends = 256;        ///< unacknowledged appends per follower
  std::uint64_t max_uncommitted_bytes = 64 << 20;  ///< beyond it proposals get kBusy
  std::uint64_t max_command_bytes = 1 << 20;       ///< larger commands get kTooLarge
  std::size_t max_pending_proposals = 10000;       ///< queued proposals; beyond: kBusy
  /// While an append to a follower is unacknowledged, hold a partial next one until
  /// the answer comes (Nagle's rule; a backlog still fills the window). Fewer, fuller
  /// appends; an entry may wait up to one follower round trip longer. Turn off for
  /// links whose round trip is much longer than a disk sync. Default: on.
  bool coalesce_appends = true;
  /// A linearizable read's round of heartbeats goes only to as many voters as make a
  /// quorum with the leader (those that answered the last heartbeat broadcast
  /// first), and to all of them if not confirmed within two ticks. In a 3-node
  /// cluster a round then costs one follower's answer instead of two. Default: on.
  bool narrow_read_rounds = true;

  /// For a state machine whose apply() takes microseconds: while the apply thread has
  /// nothing to do, the event loop applies committed commands itself and answers
  /// their proposals, a thread wake-up fewer per commit on every node. Batches
  /// committed while the apply thread is busy (taking or restoring a snapshot, or
  /// still applying) go to it, in log order as always; apply() is never called on two
  /// threads at once. A slow apply() then delays replication and elections: leave it
  /// off unless every command is cheap. Default: off.
  bool apply_on_loop = false;

  /// Gives one batch of answers: the node calls it on the answering thread with a
  /// function that runs every callback of the batch (the propose() callbacks of the
  /// entries applied together; the read_barrier() callbacks of one read round), which
  /// it must call exactly once, there and then. For callbacks that hand their answers
  /// to other threads: they can wake each of those once per batch instead of once per
  /// answer (raftd opens an http::AnswerBatch around it). Default: empty, the
  /// callbacks run directly.
  std::function<void(const std::function<void()>& answer_all)> answer_batch;

  /// How long propose/read/membership calls wait before failing with kTimeout.
  /// Default: 5 s.
  std::chrono::milliseconds request_timeout{5000};

  /// Take a snapshot and compact the log once this many entries were applied since
  /// the last one (0: never automatically). Keep `snapshot_trailing_entries` after the
  /// snapshot so slightly slow followers still catch up from the log. Defaults:
  /// 10,000 and 1,000.
  std::uint64_t snapshot_threshold_entries = 10000;  ///< entries between snapshots
  std::uint64_t snapshot_trailing_entries = 1000;    ///< entries kept behind a snapshot

  /// An automatic snapshot also waits until the commands applied since the last one
  /// add up to this many times that snapshot's size (0: count entries only). Saving
  /// costs about the state's size in writes, so a small state is snapshotted every
  /// `snapshot_threshold_entries`, while a large one is not rewritten for every few
  /// entries: its share of the disk's writes stays under 1/(1 + ratio), and the log
  /// kept on disk within about ratio times the state. A higher ratio keeps more log
  /// (and more of it in the log's memory cache) and snapshots less often. Default: 4.
  double snapshot_log_ratio = 4;

  /// Default consistency of read_barrier(). Default: linearizable (ReadIndex).
  ReadConsistency read_consistency = ReadConsistency::kLinearizable;

  /// Bring your own storage or transport; null uses the defaults (the write-ahead log
  /// and file snapshots under data_dir; HTTP on `peer_address` of this node's entry
  /// in initial_cluster or `listen_address`).
  std::shared_ptr<LogStore> log_store;            ///< null: the write-ahead log
  std::shared_ptr<SnapshotStore> snapshot_store;  ///< null: file snapshots
  std::shared_ptr<Transport> transport;           ///< null: the HTTP transport
  std::string listen_address;  ///< host:port for the HTTP transport

  /// Seed of the election jitter. Default 0: drawn from std::random_device.
  std::uint64_t random_seed = 0;
};

}  // namespace raft

// What a leader knows about one follower's log, and the flow control of appends to
// it. All transitions of a follower's replication state live in this class.
//
//   Probe:     the leader does not know where the follower's log matches its own. It
//              sends one append at a time (a probe) and waits for the answer; a
//              rejection moves next_index back (using the conflict hint).
//   Replicate: the follower is in step. The leader streams appends without waiting
//              for acknowledgements, optimistically advancing next_index, up to
//              max_inflight_appends unacknowledged messages (the pipelining window).
//   Snapshot:  the follower needs entries the leader has compacted away; a snapshot
//              is being sent and appends pause until it is acknowledged.
//
// Invariant: match_index < next_index (0 <= match < next).
#pragma once

#include <cstdint>
#include <vector>

#include "src/core/types.h"

namespace raft::core {

// A bounded FIFO of the last indexes of in-flight appends, freed as acknowledgements
// arrive. Acknowledgements are cumulative, so freeing "everything up to index i" is
// one pass from the front.
class Inflights {
 public:
  explicit Inflights(std::uint32_t capacity) : capacity_(capacity) {}

  bool full() const { return count_ == capacity_; }
  std::uint32_t count() const { return count_; }
  // REQUIRES: !full() and last_index >= every index already added.
  void add(Index last_index);
  // Frees every in-flight append whose last index is <= index.
  void free_up_to(Index index);
  // Frees the oldest in-flight append, if any.
  void free_first();
  void clear() { start_ = count_ = 0; }

 private:
  std::uint32_t capacity_;
  std::uint32_t start_ = 0;  // ring position of the oldest
  std::uint32_t count_ = 0;
  std::vector<Index> ring_;  // grown lazily up to capacity_
};

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState state);

class Progress {
 public:
  Progress(Index next_index, std::uint32_t max_inflight, bool learner)
      : next_index_(next_index), learner_(learner), inflights_(max_inflight) {}

  Index match_index() const { return match_index_; }
  Index next_index() const { return next_index_; }
  ProgressState state() const { return state_; }
  bool learner() const { return learner_; }
  void set_learner(bool learner) { learner_ = learner; }
  Index pending_snapshot() const { return pending_snapshot_; }
  bool recently_active() const { return recently_active_; }
  void set_recently_active(bool active) { recently_active_ = active; }
  const Inflights& inflights() const { return inflights_; }
  // The commit index the last append to this follower carried.
  Index commit_sent() const { return commit_sent_; }
  void set_commit_sent(Index commit) { commit_sent_ = commit; }

  // Whether the leader must hold back appends: a probe already outstanding, the
  // pipelining window full, or a snapshot in flight.
  bool paused() const;

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);
  // The snapshot transfer failed: probe again from match_index + 1.
  void on_snapshot_failed() {
    pending_snapshot_ = 0;
    become_probe();
  }

  // An append covering up to `last_index` was sent (possibly with no entries:
  // last_index = next_index - 1, a probe).
  void on_append_sent(Index last_index, bool has_entries);

  // A successful acknowledgement up to `index`. Returns false for a stale one that
  // taught us nothing (index <= match_index).
  bool on_ack(Index index);

  // A rejection of the append whose prev_log_index was `rejected`, with the
  // follower's hint: the leader's next candidate for next_index (already computed
  // by the caller from the conflict term/index). Returns false when stale.
  bool on_reject(Index rejected, Index hint_next);

  // A heartbeat response arrived: the follower is reachable. In probe mode, the
  // outstanding probe may have been lost, so allow another. In replicate mode with a
  // full window, the appends in it may all have been lost (nothing would ever be sent
  // again): free one slot so the next append goes out; a follower that missed entries
  // rejects it and the leader falls back to probing. With `coalescing` (the leader
  // holds partial appends while one is in flight, Options::coalesce_appends) a single
  // lost append holds everything back, so any window that is not empty frees a slot.
  void on_heartbeat_response(bool coalescing);

 private:
  Index match_index_ = 0;
  Index next_index_;
  ProgressState state_ = ProgressState::kProbe;
  Index commit_sent_ = 0;
  // Probe: an append was sent and not yet answered.
  bool probe_sent_ = false;
  // Snapshot: the index of the snapshot being sent.
  Index pending_snapshot_ = 0;
  // CheckQuorum: heard from since the last quorum check.
  bool recently_active_ = false;
  bool learner_;
  Inflights inflights_;
};

}  // namespace raft::core

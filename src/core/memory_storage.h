// An in-memory LogStorage: the reference implementation of the interface, used by
// tests, the simulator and benchmarks. It also has the write side a caller needs
// to handle a Ready (append with truncation, set hard state, compact, install a
// snapshot). Not thread-safe: callers serialize access.
#pragma once

#include <deque>

#include "src/core/log_storage.h"

namespace raft::core {

class MemoryLogStorage final : public LogStorage {
 public:
  // A new, empty node whose initial configuration is `bootstrap`.
  explicit MemoryLogStorage(pb::Configuration bootstrap = {});

  pb::HardState hard_state() const override { return hard_state_; }
  pb::SnapshotMetadata snapshot_metadata() const override { return snapshot_; }
  Index first_index() const override { return snapshot_.index() + 1; }
  Index last_index() const override { return snapshot_.index() + entries_.size(); }
  std::optional<Term> term(Index index) const override;
  void entries(Index lo, Index hi, std::uint64_t max_bytes,
               std::vector<pb::Entry>* out) const override;

  // Write side.
  void set_hard_state(const pb::HardState& state) { hard_state_ = state; }
  // Appends `entries`, first dropping every held entry at or after the first new
  // index. REQUIRES: entries are consecutive and the first new index is at most
  // last_index() + 1 and greater than the snapshot index.
  void append(const std::vector<pb::Entry>& entries);
  // Drops every entry up to and including `index` (already covered by a snapshot
  // whose metadata is `snapshot`). REQUIRES: snapshot.index() == index <= last_index().
  void compact(const pb::SnapshotMetadata& snapshot);
  // Replaces the whole log with a snapshot (a follower installing one).
  void install_snapshot(const pb::SnapshotMetadata& snapshot);

 private:
  pb::HardState hard_state_;
  pb::SnapshotMetadata snapshot_;
  std::deque<pb::Entry> entries_;  // entries_[i] has index snapshot_.index() + 1 + i
};

}  // namespace raft::core

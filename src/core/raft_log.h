// The log as the core sees it: durable entries read through LogStorage, followed by
// the unstable entries the core appended but the caller has not yet persisted, plus
// the commit and apply cursors.
//
//        storage (durable)                unstable (in memory)
//   [first_index ...... offset-1] [offset ........................ last_index]
//                                  ^ handed out for persisting ^ not yet handed out
//
// Invariants:
//   applied <= applying <= committed <= last_index
//   applying <= persisted_index()       (only durable entries are applied), except
//                                       while a received snapshot is pending: then
//                                       applying is its index and nothing is applied
//                                       until it is durable
//   offset - 1 <= handed_out <= last_index
// Entries in storage at indexes >= offset are stale (being overwritten) and never
// read.
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "src/core/log_storage.h"

namespace raft::core {

class RaftLog {
 public:
  explicit RaftLog(const LogStorage& storage);

  Index first_index() const {
    return pending_snapshot_ ? pending_snapshot_->index() + 1 : storage_.first_index();
  }
  // The snapshot the log starts after: a received one not yet persisted, else the
  // storage's.
  pb::SnapshotMetadata snapshot_metadata() const {
    return pending_snapshot_ ? *pending_snapshot_ : storage_.snapshot_metadata();
  }
  Index last_index() const { return offset_ + unstable_.size() - 1; }
  Term last_term() const;
  // Term at `index` for first_index() - 1 <= index <= last_index(); nullopt when
  // compacted away or beyond the end.
  std::optional<Term> term(Index index) const;
  bool match_term(Index index, Term term) const;

  // §5.4.1: is a log ending at (last_term, last_index) at least as up to date as ours?
  bool is_up_to_date(Term last_term, Index last_index) const;

  // Leader: appends new entries at the end. Returns the new last index.
  Index append(std::vector<pb::Entry>&& entries);

  // Follower (§5.3): if our entry at prev_index has prev_term, appends `entries`,
  // truncating from the first conflicting one, and returns the index of the last
  // new entry; otherwise nullopt (the consistency check failed).
  std::optional<Index> maybe_append(Index prev_index, Term prev_term,
                                    const google::protobuf::RepeatedPtrField<pb::Entry>& entries);

  // For a rejection hint: the largest index <= `index` whose term is <= `term`
  // (entries with larger terms there cannot match the leader's at that index).
  Index find_conflict_by_term(Index index, Term term) const;
  // The first index of the run of entries with term `term` that contains `index`.
  Index first_index_of_term_at(Index index) const;

  // Entries in [lo, hi), at most max_bytes (at least one entry when lo < hi).
  // nullopt when lo has been compacted away.
  std::optional<std::vector<pb::Entry>> slice(Index lo, Index hi, std::uint64_t max_bytes) const;
  // True when slice(lo, last_index() + 1, max_bytes) would hold every entry from lo
  // on and they are all unstable (in memory), so the answer costs no storage read and
  // no copy. False when it would stop short, or when it cannot tell cheaply.
  bool unstable_tail_fits(Index lo, std::uint64_t max_bytes) const;

  // Commit. REQUIRES for commit_to: index <= last_index().
  Index committed() const { return committed_; }
  void commit_to(Index index);

  // Replaces the whole log with a snapshot received from the leader. It is handed
  // out for persisting once (take_snapshot) and durable after stable_snapshot.
  void restore(const pb::SnapshotMetadata& snapshot);
  std::optional<pb::SnapshotMetadata> take_snapshot();
  void stable_snapshot(Index index);
  // A received snapshot replaces the log in memory but not yet in storage.
  bool snapshot_pending() const { return pending_snapshot_.has_value(); }

  // Persistence bookkeeping. While a received snapshot is not yet durable nothing
  // after it is either.
  Index persisted_index() const {
    return pending_snapshot_ ? pending_snapshot_->index() - 1 : offset_ - 1;
  }
  // The unstable entries not yet handed out; marks them handed out.
  std::vector<pb::Entry> take_unpersisted();
  bool has_unpersisted() const {
    return handed_out_ < last_index() || (pending_snapshot_ && !snapshot_handed_out_);
  }
  // The caller persisted everything up to (index, term). Ignored when the entry at
  // `index` has since been replaced (a later Ready carries its replacement).
  void stable_to(Index index, Term term);

  // Application bookkeeping.
  Index applied() const { return applied_; }
  Index applying() const { return applying_; }
  bool has_committed_to_apply() const;
  // Committed, durable entries after `applying`, at most max_bytes (at least one).
  std::vector<pb::Entry> take_committed(std::uint64_t max_bytes);
  void applied_to(Index index);

 private:
  // Drops every entry at or after `index` (which must be > committed_) so new ones
  // can be appended there.
  void truncate_from(Index index);
  const pb::Entry& unstable_at(Index index) const { return unstable_[index - offset_]; }

  const LogStorage& storage_;
  std::optional<pb::SnapshotMetadata> pending_snapshot_;  // received, not yet durable
  bool snapshot_handed_out_ = false;
  Index offset_;                   // index of unstable_.front()
  std::deque<pb::Entry> unstable_;
  Index handed_out_;
  Index committed_;
  Index applying_;
  Index applied_;
};

}  // namespace raft::core

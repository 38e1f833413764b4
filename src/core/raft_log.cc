#include "src/core/raft_log.h"

#include <algorithm>
#include <cassert>

namespace raft::core {

RaftLog::RaftLog(const LogStorage& storage)
    : storage_(storage),
      offset_(storage.last_index() + 1),
      handed_out_(storage.last_index()),
      // The stored commit index is a hint written without its own fsync, so after a
      // crash it may be ahead of the entries that survived: clamp it.
      committed_(std::clamp(storage.hard_state().commit(), storage.snapshot_metadata().index(),
                            storage.last_index())),
      applying_(storage.snapshot_metadata().index()),
      applied_(storage.snapshot_metadata().index()) {}

Term RaftLog::last_term() const { return term(last_index()).value_or(0); }

std::optional<Term> RaftLog::term(Index index) const {
  if (index >= offset_) {
    if (index > last_index()) return std::nullopt;
    return unstable_at(index).term();
  }
  if (pending_snapshot_) {
    // Storage still holds the log being replaced: answer only for the snapshot point.
    if (index == pending_snapshot_->index()) return pending_snapshot_->term();
    return std::nullopt;
  }
  return storage_.term(index);
}

bool RaftLog::match_term(Index index, Term t) const {
  const std::optional<Term> actual = term(index);
  return actual && *actual == t;
}

bool RaftLog::is_up_to_date(Term candidate_last_term, Index candidate_last_index) const {
  const Term our_last_term = last_term();
  return candidate_last_term > our_last_term ||
         (candidate_last_term == our_last_term && candidate_last_index >= last_index());
}

Index RaftLog::append(std::vector<pb::Entry>&& entries) {
  for (pb::Entry& entry : entries) {
    assert(entry.index() == last_index() + 1);
    unstable_.push_back(std::move(entry));
  }
  return last_index();
}

void RaftLog::truncate_from(Index index) {
  assert(index > committed_ && "a committed entry is never overwritten");
  if (index >= offset_) {
    unstable_.erase(unstable_.begin() + static_cast<std::ptrdiff_t>(index - offset_), unstable_.end());
  } else {
    // Replacing durable entries: the new ones become the unstable tail, and the next
    // Ready tells the caller to truncate its log there.
    unstable_.clear();
    offset_ = index;
  }
  handed_out_ = std::min(handed_out_, index - 1);
}

std::optional<Index> RaftLog::maybe_append(
    Index prev_index, Term prev_term, const google::protobuf::RepeatedPtrField<pb::Entry>& entries) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  const Index last_new = prev_index + static_cast<Index>(entries.size());
  // Skip the entries we already hold (a duplicate or overlapping append); truncate at
  // the first that conflicts (§5.3: "delete the existing entry and all that follow").
  int i = 0;
  for (; i < entries.size(); ++i) {
    const pb::Entry& entry = entries[i];
    if (entry.index() > last_index()) break;
    const std::optional<Term> existing = term(entry.index());
    if (!existing) continue;  // compacted: covered by a snapshot, so committed and equal
    if (*existing != entry.term()) {
      truncate_from(entry.index());
      break;
    }
  }
  for (; i < entries.size(); ++i) {
    assert(entries[i].index() == last_index() + 1);
    unstable_.push_back(entries[i]);
  }
  return last_new;
}

Index RaftLog::find_conflict_by_term(Index index, Term t) const {
  index = std::min(index, last_index());
  while (index > 0) {
    const std::optional<Term> actual = term(index);
    if (!actual || *actual <= t) break;
    --index;
  }
  return index;
}

Index RaftLog::first_index_of_term_at(Index index) const {
  const std::optional<Term> t = term(index);
  if (!t) return index;
  while (index > first_index()) {
    const std::optional<Term> before = term(index - 1);
    if (!before || *before != *t) break;
    --index;
  }
  return index;
}

std::optional<std::vector<pb::Entry>> RaftLog::slice(Index lo, Index hi, std::uint64_t max_bytes) const {
  std::vector<pb::Entry> out;
  if (lo >= hi) return out;
  if (lo < first_index()) return std::nullopt;
  assert(hi <= last_index() + 1);
  if (lo < offset_ && !pending_snapshot_) {
    storage_.entries(lo, std::min(hi, offset_), max_bytes, &out);
    if (out.empty()) return out;
    // The storage stopped on the byte budget: don't add unstable entries after it.
    if (out.back().index() + 1 < std::min(hi, offset_)) return out;
  }
  std::uint64_t bytes = 0;
  for (const pb::Entry& e : out) bytes += e.ByteSizeLong();
  for (Index i = std::max(lo, offset_); i < hi; ++i) {
    const pb::Entry& entry = unstable_at(i);
    bytes += entry.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

bool RaftLog::unstable_tail_fits(Index lo, std::uint64_t max_bytes) const {
  if (lo < offset_ || pending_snapshot_) return false;
  std::uint64_t bytes = 0;
  for (Index i = lo; i <= last_index(); ++i) {
    bytes += unstable_at(i).ByteSizeLong();
    if (i > lo && bytes > max_bytes) return false;  // as slice(): the first entry always fits
  }
  return true;
}

void RaftLog::commit_to(Index index) {
  assert(index <= last_index());
  committed_ = std::max(committed_, index);
}

void RaftLog::restore(const pb::SnapshotMetadata& snapshot) {
  assert(snapshot.index() > committed_);
  pending_snapshot_ = snapshot;
  snapshot_handed_out_ = false;
  unstable_.clear();
  offset_ = snapshot.index() + 1;
  handed_out_ = snapshot.index();
  committed_ = applying_ = applied_ = snapshot.index();
}

std::optional<pb::SnapshotMetadata> RaftLog::take_snapshot() {
  if (!pending_snapshot_ || snapshot_handed_out_) return std::nullopt;
  snapshot_handed_out_ = true;
  return pending_snapshot_;
}

void RaftLog::stable_snapshot(Index index) {
  if (pending_snapshot_ && snapshot_handed_out_ && pending_snapshot_->index() == index) {
    pending_snapshot_.reset();
  }
}

std::vector<pb::Entry> RaftLog::take_unpersisted() {
  std::vector<pb::Entry> out;
  for (Index i = handed_out_ + 1; i <= last_index(); ++i) out.push_back(unstable_at(i));
  handed_out_ = last_index();
  return out;
}

void RaftLog::stable_to(Index index, Term t) {
  if (index < offset_ || index > handed_out_) return;
  if (unstable_at(index).term() != t) return;  // since replaced
  unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<std::ptrdiff_t>(index - offset_ + 1));
  offset_ = index + 1;
}

bool RaftLog::has_committed_to_apply() const {
  return !pending_snapshot_ && applying_ < std::min(committed_, persisted_index());
}

std::vector<pb::Entry> RaftLog::take_committed(std::uint64_t max_bytes) {
  std::vector<pb::Entry> out;
  if (pending_snapshot_) return out;
  const Index hi = std::min(committed_, persisted_index()) + 1;
  if (applying_ + 1 >= hi) return out;
  storage_.entries(applying_ + 1, hi, max_bytes, &out);
  if (!out.empty()) applying_ = out.back().index();
  return out;
}

void RaftLog::applied_to(Index index) {
  assert(index <= applying_);
  applied_ = std::max(applied_, index);
}

}  // namespace raft::core

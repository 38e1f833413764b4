#include "src/core/progress.h"

#include <algorithm>
#include <cassert>

namespace raft::core {

void Inflights::add(Index last_index) {
  assert(!full());
  const std::uint32_t position = (start_ + count_) % capacity_;
  if (position >= ring_.size()) {
    // Grow lazily: most followers never fill a 256-deep window. Positions wrap only
    // once the ring has reached full capacity, so growing in place is safe.
    ring_.resize(std::min<std::size_t>(capacity_, std::max<std::size_t>(2 * ring_.size(), position + 1)));
  }
  ring_[position] = last_index;
  ++count_;
}

void Inflights::free_up_to(Index index) {
  while (count_ > 0 && ring_[start_] <= index) {
    start_ = (start_ + 1) % capacity_;
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::free_first() {
  if (count_ == 0) return;
  start_ = (start_ + 1) % capacity_;
  if (--count_ == 0) start_ = 0;
}

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "?";
}

bool Progress::paused() const {
  switch (state_) {
    case ProgressState::kProbe: return probe_sent_;
    case ProgressState::kReplicate: return inflights_.full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

void Progress::become_probe() {
  // Coming back from a snapshot, resume right after it (or after match if further).
  if (state_ == ProgressState::kSnapshot) {
    next_index_ = std::max(match_index_ + 1, pending_snapshot_ + 1);
  } else {
    next_index_ = match_index_ + 1;
  }
  state_ = ProgressState::kProbe;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  inflights_.clear();
}

void Progress::become_replicate() {
  state_ = ProgressState::kReplicate;
  next_index_ = match_index_ + 1;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  inflights_.clear();
}

void Progress::become_snapshot(Index snapshot_index) {
  state_ = ProgressState::kSnapshot;
  probe_sent_ = false;
  pending_snapshot_ = snapshot_index;
  inflights_.clear();
}

void Progress::on_append_sent(Index last_index, bool has_entries) {
  switch (state_) {
    case ProgressState::kReplicate:
      if (has_entries) {
        next_index_ = last_index + 1;
        inflights_.add(last_index);
      }
      break;
    case ProgressState::kProbe:
      probe_sent_ = true;
      break;
    case ProgressState::kSnapshot:
      assert(false && "no appends while a snapshot is in flight");
      break;
  }
}

void Progress::on_heartbeat_response(bool coalescing) {
  probe_sent_ = false;
  if (state_ == ProgressState::kReplicate &&
      (inflights_.full() || (coalescing && inflights_.count() > 0))) {
    inflights_.free_first();
  }
}

bool Progress::on_ack(Index index) {
  bool updated = false;
  if (index > match_index_) {
    match_index_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_index_ = std::max(next_index_, index + 1);
  inflights_.free_up_to(index);
  return updated;
}

bool Progress::on_reject(Index rejected, Index hint_next) {
  if (state_ == ProgressState::kReplicate) {
    // Appends are pipelined: only a rejection of something past what is known to
    // match is news. Fall back to probing from match_index + 1.
    if (rejected <= match_index_) return false;
    become_probe();
    next_index_ = std::max(std::min(rejected, hint_next), match_index_ + 1);
    return true;
  }
  // Probe: only the answer to the current probe (prev_log_index = next_index - 1)
  // counts; an older one is a duplicate or reordered reply.
  if (next_index_ == 0 || rejected != next_index_ - 1) return false;
  next_index_ = std::max(std::min(rejected, hint_next), match_index_ + 1);
  probe_sent_ = false;
  return true;
}

}  // namespace raft::core

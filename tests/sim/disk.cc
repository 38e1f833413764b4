#include "tests/sim/disk.h"

#include <stdexcept>

namespace raft::sim {

SimDisk::SimDisk(const pb::Configuration& bootstrap) : written_(bootstrap), durable_(bootstrap) {}

void SimDisk::apply(const LogWrite& write, std::size_t entries, core::MemoryLogStorage& log) {
  if (write.install) log.install_snapshot(*write.install);
  // A write issued before a compaction may reach the durable log after it: the entries
  // it holds at or before the compaction point are committed, and compacted already.
  std::size_t skip = 0;
  while (skip < entries && write.entries[skip].index() <= log.snapshot_metadata().index()) ++skip;
  if (skip == entries) return;
  log.append(std::vector<pb::Entry>(write.entries.begin() + static_cast<std::ptrdiff_t>(skip),
                                    write.entries.begin() + static_cast<std::ptrdiff_t>(entries)));
}

std::uint64_t SimDisk::write(const std::optional<pb::SnapshotMetadata>& install,
                             const std::vector<pb::Entry>& entries,
                             const std::optional<pb::HardState>& hard_state) {
  if (install || !entries.empty()) {
    LogWrite log_write{next_sequence_++, install, entries};
    if (!entries.empty()) {
      // The core never rewrites a committed entry (and a compacted one is committed),
      // and appends without gaps.
      const core::Index point = install ? install->index() : written_.snapshot_metadata().index();
      const core::Index end = install ? install->index() : written_.last_index();
      const core::Index first = entries.front().index();
      if (first <= point || first > end + 1) {
        throw std::logic_error("simulator: the core wrote entries from index " +
                               std::to_string(first) + " to a log compacted to " +
                               std::to_string(point) + " and ending at " + std::to_string(end));
      }
    }
    apply(log_write, entries.size(), written_);
    unsynced_log_.push_back(std::move(log_write));
  }
  if (hard_state) {
    written_.set_hard_state(*hard_state);
    unsynced_hard_state_.push_back(HardStateWrite{next_sequence_++, *hard_state});
  }
  return written_sequence();
}

void SimDisk::sync_to(std::uint64_t sequence) {
  while (!unsynced_log_.empty() && unsynced_log_.front().sequence <= sequence) {
    apply(unsynced_log_.front(), unsynced_log_.front().entries.size(), durable_);
    unsynced_log_.pop_front();
  }
  while (!unsynced_hard_state_.empty() && unsynced_hard_state_.front().sequence <= sequence) {
    durable_.set_hard_state(unsynced_hard_state_.front().hard_state);
    unsynced_hard_state_.pop_front();
  }
  if (sequence > synced_sequence_) synced_sequence_ = sequence;
}

std::string SimDisk::crash(core::Rng& rng, std::uint32_t torn_write_ppm) {
  std::string account;
  // The log file: a prefix of its unsynced writes survives, and the first lost one
  // may be torn (an install is one record: it survives whole or not at all).
  const std::size_t log_writes = unsynced_log_.size();
  const std::size_t kept = rng.below(log_writes + 1);
  std::size_t torn_entries = 0;
  for (std::size_t i = 0; i < kept; ++i)
    apply(unsynced_log_[i], unsynced_log_[i].entries.size(), durable_);
  if (kept < log_writes && torn_write_ppm > 0 && rng.chance(torn_write_ppm, 1'000'000)) {
    const LogWrite& torn = unsynced_log_[kept];
    if (!torn.install && !torn.entries.empty()) {
      torn_entries = rng.below(torn.entries.size());  // a strict prefix: the write did not finish
      if (torn_entries > 0) apply(torn, torn_entries, durable_);
    }
  }
  // The hard-state file: a prefix of its unsynced records, each atomic.
  const std::size_t hard_state_writes = unsynced_hard_state_.size();
  const std::size_t kept_hard_states = rng.below(hard_state_writes + 1);
  if (kept_hard_states > 0)
    durable_.set_hard_state(unsynced_hard_state_[kept_hard_states - 1].hard_state);

  account =
      "kept " + std::to_string(kept) + "/" + std::to_string(log_writes) + " unsynced log writes";
  if (torn_entries > 0) account += " + " + std::to_string(torn_entries) + " entries of a torn one";
  account += ", " + std::to_string(kept_hard_states) + "/" + std::to_string(hard_state_writes) +
             " hard states; log ends at " + std::to_string(durable_.last_index()) + ", term " +
             std::to_string(durable_.hard_state().term());
  if (durable_.snapshot_metadata().index() > 0)
    account += ", compacted to " + std::to_string(durable_.snapshot_metadata().index());
  if (snapshot_) account += "; snapshot at " + std::to_string(snapshot_->metadata.index());

  unsynced_log_.clear();
  unsynced_hard_state_.clear();
  synced_sequence_ = written_sequence();
  written_ = durable_;
  return account;
}

void SimDisk::save_snapshot(SimSnapshot snapshot) {
  if (snapshot_ && snapshot_->metadata.index() >= snapshot.metadata.index()) return;
  snapshot_ = std::move(snapshot);
}

bool SimDisk::compact(const pb::SnapshotMetadata& point) {
  for (const core::MemoryLogStorage* log : {&written_, &durable_}) {
    if (point.index() <= log->snapshot_metadata().index()) return false;
    const std::optional<core::Term> term = log->term(point.index());
    if (!term || *term != point.term()) return false;
  }
  written_.compact(point);
  durable_.compact(point);
  return true;
}

}  // namespace raft::sim

#include "tests/sim/disk.h"

namespace raft::sim {

SimDisk::SimDisk(const pb::Configuration& bootstrap) : written_(bootstrap), durable_(bootstrap) {}

std::uint64_t SimDisk::write(const std::vector<pb::Entry>& entries,
                             const std::optional<pb::HardState>& hard_state) {
  if (!entries.empty()) {
    written_.append(entries);
    unsynced_log_.push_back(LogWrite{next_sequence_++, entries});
  }
  if (hard_state) {
    written_.set_hard_state(*hard_state);
    unsynced_hard_state_.push_back(HardStateWrite{next_sequence_++, *hard_state});
  }
  return written_sequence();
}

void SimDisk::sync_to(std::uint64_t sequence) {
  while (!unsynced_log_.empty() && unsynced_log_.front().sequence <= sequence) {
    durable_.append(unsynced_log_.front().entries);
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
  // The log file: a prefix of its unsynced appends survives, and the first lost one
  // may be torn.
  const std::size_t log_writes = unsynced_log_.size();
  const std::size_t kept = rng.below(log_writes + 1);
  std::size_t torn_entries = 0;
  for (std::size_t i = 0; i < kept; ++i) durable_.append(unsynced_log_[i].entries);
  if (kept < log_writes && torn_write_ppm > 0 && rng.chance(torn_write_ppm, 1'000'000)) {
    const std::vector<pb::Entry>& torn = unsynced_log_[kept].entries;
    torn_entries = rng.below(torn.size());  // a strict prefix: the write did not finish
    if (torn_entries > 0) {
      durable_.append(std::vector<pb::Entry>(
          torn.begin(), torn.begin() + static_cast<std::ptrdiff_t>(torn_entries)));
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

  unsynced_log_.clear();
  unsynced_hard_state_.clear();
  synced_sequence_ = written_sequence();
  written_ = durable_;
  return account;
}

}  // namespace raft::sim

// The simulated disk of one node: what a Ready writes, when it becomes durable, and
// what a crash leaves behind.
//
// Model (what a real disk with a write-ahead log does):
//   - Two files: the log (entries, appended in records; an append that starts at or
//     before the current end replaces the suffix from there) and the hard state
//     (term, vote, commit: a small record rewritten whole).
//   - A write lands in the page cache at once: the running core sees it through
//     written(). It becomes durable only when a sync that started after it completes;
//     one sync covers every write issued before it started (group commit).
//   - A crash keeps the synced state plus, per file, a random PREFIX of that file's
//     unsynced writes: a file's writes reach the platter in order (an append-only log
//     recovers up to its first bad record), but the two files are independent, so the
//     hard state may survive without the entries written with it or vice versa. The
//     first log write that is lost may be torn: a random prefix of its entries
//     survives (the recovery code cuts the tail at the first record whose checksum
//     fails). A hard-state record is never torn (it is written atomically, e.g. to
//     alternating checksummed slots).
//   - A snapshot store holding the newest snapshot. A snapshot counts only once it is
//     durable (a real store syncs it, then renames it into place), so saving one is
//     durable at once, and a crash keeps it. A node compacts its log only behind a
//     saved snapshot: the compaction drops the same prefix from the written and the
//     durable log (a real log syncs its compaction record).
//   - A follower installing a snapshot from its leader replaces its log with the
//     snapshot's point: a write to the log file like an append, in order with the
//     others and as unsynced until a sync (a crash may keep the old log beside the
//     new snapshot in the store).
// The restarted core reads written(), which a crash resets to the surviving state.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "src/core/memory_storage.h"
#include "src/core/rng.h"
#include "tests/sim/snapshot.h"

namespace raft::sim {

class SimDisk {
 public:
  explicit SimDisk(const pb::Configuration& bootstrap);

  // What the running core reads: everything written, synced or not.
  const core::MemoryLogStorage& written() const { return written_; }
  // What is durable for certain: everything covered by a completed sync.
  const core::MemoryLogStorage& durable() const { return durable_; }

  // Writes one Ready: the snapshot it installs (replacing the whole log), its entries
  // (replacing the suffix they overlap) and its hard state. Returns the sequence
  // number of the last write issued so far.
  std::uint64_t write(const std::optional<pb::SnapshotMetadata>& install,
                      const std::vector<pb::Entry>& entries,
                      const std::optional<pb::HardState>& hard_state);
  std::uint64_t written_sequence() const { return next_sequence_ - 1; }
  std::uint64_t synced_sequence() const { return synced_sequence_; }
  bool has_unsynced() const { return synced_sequence_ < written_sequence(); }

  // A sync that started when written_sequence() was `sequence` completed: every write
  // up to it is durable.
  void sync_to(std::uint64_t sequence);

  // Power loss: unsynced writes are lost, except for a per-file prefix (see above).
  // Returns a one-line account for the trace.
  std::string crash(core::Rng& rng, std::uint32_t torn_write_ppm);

  // The snapshot store's newest snapshot, if any.
  const std::optional<SimSnapshot>& snapshot() const { return snapshot_; }
  // Saves `snapshot` unless the store holds one at least as new; durable at once.
  void save_snapshot(SimSnapshot snapshot);
  // Drops the entries up to `point` from both logs. False (nothing dropped) unless
  // both hold `point`'s index with its term, past their compaction points.
  bool compact(const pb::SnapshotMetadata& point);

 private:
  struct LogWrite {
    std::uint64_t sequence;
    std::optional<pb::SnapshotMetadata> install;  // applied before the entries
    std::vector<pb::Entry> entries;
  };
  // Applies `write` (or only the first `entries` of its entries) to `log`.
  static void apply(const LogWrite& write, std::size_t entries, core::MemoryLogStorage& log);
  struct HardStateWrite {
    std::uint64_t sequence;
    pb::HardState hard_state;
  };

  core::MemoryLogStorage written_;
  core::MemoryLogStorage durable_;
  std::deque<LogWrite> unsynced_log_;
  std::deque<HardStateWrite> unsynced_hard_state_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t synced_sequence_ = 0;
  std::optional<SimSnapshot> snapshot_;
};

}  // namespace raft::sim

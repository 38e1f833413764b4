// What the consensus core reads of durable state: the read side of a log store.
//
// The core never writes storage. It hands the caller what to persist in a Ready
// (entries, hard state, snapshot); the caller writes it, then makes it visible here
// and tells the core. Entries the core produced but that are not yet persisted live
// in the core's own unstable buffer, so this interface only ever answers for durable
// data.
//
// Implementations: the in-memory raft::core::MemoryLogStorage (tests, simulator) and
// the durable write-ahead log (src/storage/). Both pass the same conformance suite.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/types.h"

namespace raft {

/// Thrown by a LogStorage that cannot read what it promised (an I/O error, corruption
/// found late). The core lets it propagate: a node whose log is unreadable must stop.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The read side of the Raft log, as the consensus core reads it: hard state, the
/// snapshot point, entry terms and ranges. Implementations must be thread-safe.
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  /// The durable hard state; all zero for a new node.
  virtual pb::HardState hard_state() const = 0;

  /// The latest snapshot's metadata. For a log that was never compacted this is the
  /// bootstrap point: index 0, term 0, and the initial configuration.
  virtual pb::SnapshotMetadata snapshot_metadata() const = 0;

  /// The first index held as an entry: snapshot_metadata().index + 1.
  virtual Index first_index() const = 0;

  /// The last durable index; first_index() - 1 when no entry is held.
  virtual Index last_index() const = 0;

  /// Term of the entry at `index`, for snapshot index <= index <= last_index()
  /// (the snapshot index answers with the snapshot's term). nullopt outside.
  virtual std::optional<Term> term(Index index) const = 0;

  /// Appends to `out` the entries in [lo, hi), lo >= first_index(),
  /// hi <= last_index() + 1, stopping once their encoded size would pass `max_bytes`,
  /// but always at least one entry when lo < hi.
  virtual void entries(Index lo, Index hi, std::uint64_t max_bytes,
                       std::vector<pb::Entry>* out) const = 0;
};

}  // namespace raft

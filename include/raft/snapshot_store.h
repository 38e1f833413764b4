// Where snapshots live: written as a stream (by the state machine, or by the
// transport receiving one from the leader), committed atomically, read back as a
// stream. The default implementation keeps them as files (src/storage/); a user may
// bring their own.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "proto/raft.pb.h"
#include "raft/types.h"

namespace raft {

/// Reads one snapshot's data from the start.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  /// The snapshot's metadata, with size_bytes and crc32c of the data.
  virtual const pb::SnapshotMetadata& metadata() const = 0;
  /// Reads up to `n` bytes into `buffer`; returns how many, 0 at the end. Throws
  /// std::runtime_error on an I/O error.
  virtual std::size_t read(char* buffer, std::size_t n) = 0;
};

/// Writes one snapshot. Nothing is visible to readers until commit() returns.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;  ///< aborts unless committed
  /// Appends data. Throws std::runtime_error on an I/O error (the snapshot is then
  /// aborted).
  virtual void write(const char* data, std::size_t n) = 0;
  /// Makes the snapshot durable and visible, and returns its final metadata (with
  /// size and checksum). When the writer was created with an expected size and
  /// checksum (a snapshot received from a peer), a mismatch throws and nothing is
  /// kept. Old snapshots may be removed once the new one is durable.
  virtual pb::SnapshotMetadata commit() = 0;
};

/// Where snapshots live: written by the state machine (or received from a leader)
/// through a SnapshotWriter, read back through a SnapshotReader. The default keeps
/// them as checksummed files in the data directory.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  /// Starts a snapshot with `metadata` (index, term, configuration). If
  /// metadata.size_bytes() or metadata.crc32c() are non-zero they are verified at
  /// commit.
  virtual std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) = 0;
  /// The newest committed snapshot's metadata, if any.
  virtual std::optional<pb::SnapshotMetadata> latest() const = 0;
  /// Opens the newest committed snapshot; nullptr if there is none.
  virtual std::unique_ptr<SnapshotReader> open_latest() const = 0;
};

}  // namespace raft

// The runtime's durable log: the read side the core needs (LogStorage) plus an
// asynchronous write side, so the node's event loop never waits on the disk.
//
// The default implementation is the segmented write-ahead log (src/storage/); an
// in-memory one serves tests and benchmarks. A user may bring their own.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "raft/latency_histogram.h"
#include "raft/log_storage.h"
#include "raft/result.h"

namespace raft {

/// One Ready's worth of durable changes, applied in this order.
struct LogWrite {
  /// Replace the whole log with this snapshot point (a follower installing a
  /// snapshot from the leader).
  std::optional<pb::SnapshotMetadata> snapshot;
  /// Drop every entry at or after entries.front().index(), then append these.
  std::vector<pb::Entry> entries;
  std::optional<pb::HardState> hard_state;  ///< term, vote and commit to record
  /// Whether this write must be fsynced before it is reported done. A write with
  /// sync == false may be reported once written (it is made durable by a later sync).
  bool sync = true;
};

/// The durable Raft log: LogStorage plus asynchronous writes, so the node's event
/// loop never waits on the disk. The default is the segmented write-ahead log.
class LogStore : public LogStorage {
 public:
  /// Queues a write. Writes take effect in submission order. `done` is called once
  /// this write (and every earlier one) is durable (or written, when !sync) and
  /// visible through the LogStorage methods, or with an error after which the store
  /// accepts no more writes. `done` may run on a storage thread or inline.
  virtual void submit(LogWrite write, std::function<void(const Status&)> done) = 0;
  /// Optional: performs the write on the calling thread, when the store can do so
  /// at once (nothing else queued or being written), calling `done` before it
  /// returns true. Returns false, leaving both arguments untouched, otherwise.
  virtual bool try_write_here(LogWrite& write, std::function<void(const Status&)>& done) {
    (void)write;
    (void)done;
    return false;
  }

  /// Drops the entries up to and including snapshot.index(), which a durable snapshot
  /// now covers. Crash-safe; may run in the background.
  virtual void compact(const pb::SnapshotMetadata& snapshot) = 0;

  /// Flushes and closes; later calls fail.
  virtual void close() = 0;

  /// Latency of the store's syncs to stable storage (fdatasync), for metrics. A store
  /// that does not sync reports an empty histogram. Thread-safe.
  virtual LatencySnapshot sync_latency() const { return {}; }
};

}  // namespace raft

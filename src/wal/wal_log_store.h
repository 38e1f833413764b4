// The durable LogStore: a write-ahead log of segment files plus an in-memory copy of
// the live log that serves every read (the log is bounded by snapshots, so the copy
// is too). Format and recovery rules: docs/storage-format.md.
//
//   DIR/wal-00000000000000000001.seg   segments, replayed in sequence order; each
//   DIR/wal-00000000000000000002.seg   starts with the hard state and snapshot point
//   ...                                 in force when it was created
//
// Writes are group-committed on a dedicated thread: every LogWrite submitted while a
// sync is running is encoded into the next batch and shares the next fdatasync, and
// each caller learns, through its callback, that its write (and every earlier one) is
// durable. A failed write or fsync is never retried: the store fails every pending
// and later write with the error and must be reopened (the node stops).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "raft/log_store.h"
#include "src/core/memory_storage.h"
#include "src/wal/file_system.h"

namespace raft::wal {

struct WalOptions {
  std::string dir;
  // A segment is closed and a new one started once it would grow past this.
  // Default: 64 MiB.
  std::uint64_t max_segment_bytes = 64 << 20;
  std::shared_ptr<FileSystem> file_system;  // null: POSIX
};

struct WalStats {
  std::uint64_t syncs = 0;
  std::uint64_t writes = 0;  // LogWrites made durable
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  double last_sync_ms = 0;
};

class WalLogStore final : public LogStore {
 public:
  // Opens the log in options.dir (creating it if absent) and recovers it. A torn
  // write at the tail of the newest segment is cut off; any other damage throws
  // StorageError naming the file and offset.
  static std::shared_ptr<WalLogStore> open(WalOptions options);
  ~WalLogStore() override;

  // LogStorage (thread-safe, served from memory).
  pb::HardState hard_state() const override;
  pb::SnapshotMetadata snapshot_metadata() const override;
  Index first_index() const override;
  Index last_index() const override;
  std::optional<Term> term(Index index) const override;
  void entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const override;

  // LogStore.
  void submit(LogWrite write, std::function<void(const Status&)> done) override;
  void compact(const pb::SnapshotMetadata& snapshot) override;
  void close() override;

  WalStats stats() const;

 private:
  explicit WalLogStore(WalOptions options);
  void recover();
  void open_segment(std::uint64_t seq, std::uint64_t offset, bool fresh);
  void writer_loop();
  std::string segment_path(std::uint64_t seq) const;

  struct Compaction {
    pb::SnapshotMetadata snapshot;
  };
  struct Pending {
    std::variant<LogWrite, Compaction> item;
    std::function<void(const Status&)> done;
  };

  WalOptions options_;
  std::shared_ptr<FileSystem> fs_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  core::MemoryLogStorage log_;  // durable state as of the last completed batch
  std::deque<Pending> queue_;
  std::optional<Error> failure_;  // sticky
  bool closing_ = false;
  WalStats stats_;

  // Writer thread only.
  std::unique_ptr<WritableFile> segment_;
  std::uint64_t segment_seq_ = 0;
  std::map<std::uint64_t, Index> segment_max_index_;  // highest entry index per segment
  pb::HardState written_hard_state_;
  pb::SnapshotMetadata written_snapshot_;
  std::thread writer_;
};

}  // namespace raft::wal

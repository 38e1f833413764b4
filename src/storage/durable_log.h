// The durable Raft log: a write-ahead log of segment files that holds the entries,
// the hard state and the snapshot point, and serves the core's reads.
// Format, recovery rules and crash-safety arguments: docs/storage-format.md.
//
//   DIR/wal-0000000007-00000000000000120001-00000000000000124000.closed
//   DIR/wal-0000000008.open      <- the only segment written to; preallocated
//
// Write side (what a Ready asks for): write_async() (or submit()) queues a LogWrite (install snapshot
// point, append entries truncating at entries.front().index(), set hard state). A
// dedicated writer thread takes every write queued while it was busy, encodes them
// into one buffer, writes it with one pwrite into the preallocated open segment and
// makes it durable with one fdatasync (group commit). Only then does it publish the
// writes to readers and calls each callback with the durable last index: a few
// (a Node's one per Ready) right there, many through a completion thread that calls
// them in submission order while the writer already writes the next batch (waking
// hundreds of waiting callers takes as long as a fast fdatasync). The caller's
// thread touches the disk only through try_write_here(): the same write done on the
// caller's thread when the log is idle, for a caller that would only wait for it
// (a node's event loop under light load: see NodeImpl::persist). The segments a
// compaction makes obsolete go to a third thread, which removes them gently
// (segment_remover.h): the writer never waits for a file system's discards.
//
// Read side (raft::LogStorage): served from an in-memory index of every live
// entry's location (term, segment, offset, size) and a cache of the newest entries
// (max_cache_bytes); older entries are read back from their segment. Thread-safe:
// any number of reader threads alongside the writer thread.
//
// Failure: an I/O error (EIO, ENOSPC, ...) on a write or sync is never retried and
// never acknowledged. The log enters a failed state: the failing write, every
// pending one and every later one complete with the error (sticky, see status()),
// and nothing more is written. Reads of what was durable keep working. Reopen after
// fixing the cause: recovery decides what survived.
//
// Invariants (held under mu_):
//   base_.index() + index_.size() == last index
//   cache_ holds the entries cache_first_ .. last index (a suffix), or is empty
//   every location in index_ names a segment in segments_
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "raft/log_store.h"
#include "src/storage/env.h"
#include "src/storage/segment_remover.h"
#include "src/storage/wal_image.h"

namespace raft::storage {

struct DurableLogOptions {
  // The log's directory. REQUIRES: not empty. Created if absent.
  std::string dir;
  // Where the files live. Default (null): the real file system, posix_env().
  std::shared_ptr<Env> env;
  // A segment is closed and a new one opened once the next batch would take it past
  // this size (a single batch larger than this gets a segment of its own).
  // Default: 64 MiB.
  std::uint64_t max_segment_bytes = 64ull << 20;
  // Reserve each segment's blocks when it is created (fallocate), so appends change
  // no file size and a full disk is found at creation. Default: true.
  bool preallocate = true;
  // With preallocate: keep up to this many bytes past the newest record written as
  // real zeros, refilled once half of them are used. fallocate reserves blocks as
  // unwritten extents (ext4, XFS): the first write into one converts it, and then
  // fdatasync writes the inode too, a third device write (after the data, before the
  // cache flush) on every sync whose batch reaches a new block, so under load on
  // every sync. A write over zeros is a plain overwrite. On this repository's test
  // machine an fdatasync after a 16 KB append took 232-253 us into fallocated space
  // and 170-172 us over zeros (docs/performance.md). Zero: fallocate alone.
  // Default: 256 KiB.
  std::uint64_t zero_ahead_bytes = 256ull << 10;
  // Bytes of the newest entries kept decoded in memory for reads; older entries are
  // read from disk on demand. Default: 64 MiB.
  std::uint64_t max_cache_bytes = 64ull << 20;
  // Upper bound on the bytes one group commit encodes (more waits for the next).
  // Default: 16 MiB.
  std::uint64_t max_batch_bytes = 16ull << 20;
  // try_write_here() declines while the latest fdatasync took longer than this, so a
  // slow or stalling disk holds the caller's thread for at most the one write that
  // met the stall; the writer thread takes the writes until a sync is fast again.
  // Zero: never write on the caller's thread. Default: 2 ms.
  std::chrono::microseconds caller_write_max_sync{2000};
  // Segments made obsolete by a compaction are removed on a thread of their own,
  // shrunk this many bytes at a time with a sync after each step before the unlink,
  // so that file systems that discard freed blocks online never hold the log's syncs
  // for long (segment_remover.h has the figures). Zero: unlink each at once (still
  // off the writer thread). Default: 1 MiB.
  std::uint64_t removal_step_bytes = 1ull << 20;
};

// What recovery found and did, for logs and the dump tool.
struct RecoveryReport {
  std::size_t segments = 0;
  std::optional<TornTail> torn_tail;          // cut off at open
  // Obsolete, left by a crash mid-compaction or mid-removal (wal-<seq>.removing).
  std::vector<std::string> removed_segments;
};

struct DurableLogStats {
  std::uint64_t syncs = 0;          // fdatasync calls on segments
  std::uint64_t batches = 0;        // group commits written
  std::uint64_t writes = 0;         // LogWrites completed
  std::uint64_t bytes_written = 0;  // record bytes
  std::uint64_t segments_created = 0;
  std::uint64_t disk_reads = 0;     // entries read back from segments (cache misses)
  std::uint64_t segments_removed = 0;  // obsolete segments removed since open
};

class DurableLog final : public LogStore {
 public:
  // Completion of a write: the log's durable last index once this write and every
  // earlier one are durable, or the error that stopped the log.
  using WriteCallback = std::function<void(const Result<Index>&)>;

  // Opens (creating if needed) and recovers the log in options.dir: a torn write at
  // the tail of the open segment is cut off; any other damage fails with an error
  // naming the file and offset. Starts the writer thread.
  static Result<std::shared_ptr<DurableLog>> open(DurableLogOptions options);
  ~DurableLog() override;  // close()s

  // --- raft::LogStorage (thread-safe). Reads may throw StorageError when an entry
  // cannot be read back from disk.
  pb::HardState hard_state() const override;
  pb::SnapshotMetadata snapshot_metadata() const override;
  Index first_index() const override;
  Index last_index() const override;
  std::optional<Term> term(Index index) const override;
  void entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const override;

  // --- write side (thread-safe; writes take effect in submission order)
  // Queues a write. REQUIRES for entries: consecutive indexes, the first in
  // (snapshot index, last index + 1] as of the writes before it (else this write
  // fails with kInvalidArgument and the log goes on). `done` runs on the writer or
  // the completion thread, in submission order (inline if the log is already
  // closed); it must not drop the last reference to the log. With write.sync ==
  // false the write is reported once written (a later sync makes it durable).
  void write_async(LogWrite write, WriteCallback done);
  // raft::LogStore form of the same.
  void submit(LogWrite write, std::function<void(const Status&)> done) override;
  // The same write, encoded, written and synced on the calling thread, with `done`
  // called there before it returns true: two thread hand-offs fewer than submit(),
  // for a caller with nothing else to do until the write is durable. Declines
  // (false, arguments untouched) unless the log is idle (nothing queued or being
  // written, not closing) and the latest sync was fast (caller_write_max_sync).
  bool try_write_here(LogWrite& write, std::function<void(const Status&)>& done) override;
  // Drops entries up to and including snapshot.index() (a durable snapshot covers
  // them): a compaction record is synced, then the closed segments wholly below the
  // point are removed (in the background: segment_remover.h). Ignored unless
  // base < snapshot.index() <= last index when it runs. Asynchronous; flush() waits
  // for it, removals included.
  void compact(const pb::SnapshotMetadata& snapshot) override;
  // Waits until every earlier write and compaction is durable; returns the durable
  // last index or the sticky error.
  Result<Index> flush();
  // Synchronous write: write_async() and wait, for the removal of any segments it
  // made obsolete too.
  Result<Index> write(LogWrite write);
  // Finishes queued work, syncs and stops the writer thread. Later writes fail with
  // kShuttingDown. Idempotent.
  void close() override;

  // The last index known durable (what callbacks have reported).
  Index durable_index() const { return durable_index_.load(std::memory_order_acquire); }
  // Ok, or the sticky error that stopped writes.
  Status status() const;
  const RecoveryReport& recovery() const { return recovery_; }
  DurableLogStats stats() const;
  // Every fdatasync of a segment, timed (one per group commit that needed a sync).
  LatencySnapshot sync_latency() const override { return sync_latency_.snapshot(); }
  const DurableLogOptions& options() const { return options_; }

 private:
  struct Op;
  struct Segment {
    SegmentName name;
    std::string file_name;
    std::shared_ptr<RandomAccessFile> file;  // shared: readers keep it past removal
  };
  struct ReadPlan;  // entries() split into cached entries and disk reads

  explicit DurableLog(DurableLogOptions options);
  Status recover();
  void writer_loop();
  static WriteCallback status_callback(std::function<void(const Status&)> done);
  // try_write_here(): takes writing_ if nothing is queued, being written or waiting
  // to be completed.
  bool claim_idle_writer();
  // Clears writing_ and wakes the writer thread if work queued meanwhile.
  void release_writer();
  void completer_loop();
  struct Completion {
    WriteCallback done;
    Result<Index> result;
  };
  // Calls a batch's callbacks in order: here if they are few and nothing is pending,
  // else through the completion thread.
  void complete(std::vector<Completion> batch);
  // complete() every op of a failed batch with `error`.
  void complete_all(std::vector<Op>& ops, const Error& error);
  void process(std::vector<Op>& ops);
  Status write_segment_header(WritableFile& file, std::uint64_t seq) const;
  Status create_open_segment(std::uint64_t seq);
  Status roll_segment();
  // Writes zeros past the newest record (options_.zero_ahead_bytes) when fewer than
  // half of them are left and the batch just written was small. Only beyond
  // open_bytes_, so never over a record.
  Status zero_ahead(std::uint64_t batch_bytes);
  static constexpr std::uint64_t kZeroAheadMaxBatchBytes = 32 << 10;
  // Drops from segments_ the closed segments wholly obsolete (before an install
  // record, or entirely at or below the snapshot point), oldest first.
  std::vector<ObsoleteSegment> take_obsolete_segments(std::uint64_t install_seq);
  // Recovery: removes at once what a crash left to remove.
  Status remove_leftover_segments(std::uint64_t install_seq);
  void fail(const Error& error);
  // What write() and flush() return: `result`, once the removals queued so far are
  // done, or the error a removal met.
  Result<Index> finished(Result<Index> result);
  // fdatasync of the open segment, timed into sync_latency_.
  Status sync_open_segment();
  pb::Entry read_entry(const EntryLocation& location, const std::shared_ptr<RandomAccessFile>& file) const;
  void cache_append(pb::Entry entry);

  const DurableLogOptions options_;
  Env* env_ = nullptr;
  std::shared_ptr<Env> env_owner_;
  RecoveryReport recovery_;

  // --- the published state (readers and writer)
  mutable std::mutex mu_;
  pb::HardState hard_state_;
  pb::SnapshotMetadata base_;
  std::deque<EntryLocation> index_;  // index_[i] is index base_.index() + 1 + i
  std::deque<pb::Entry> cache_;
  Index cache_first_ = 1;
  std::uint64_t cache_bytes_ = 0;
  std::map<std::uint64_t, Segment> segments_;  // by sequence number
  std::optional<Error> failed_;                // sticky
  DurableLogStats stats_;
  std::atomic<Index> durable_index_{0};
  mutable std::atomic<std::uint64_t> disk_reads_{0};
  LatencyHistogram sync_latency_;

  // --- the writer's own state (only the holder of writing_, or open() before the
  // writer thread starts)
  std::unique_ptr<WritableFile> open_file_;
  std::uint64_t open_seq_ = 0;
  std::uint64_t open_bytes_ = 0;          // where the next record goes
  std::uint64_t open_header_bytes_ = 0;   // end of the header record
  Index open_prev_last_ = 0;              // its header's prev_last_index
  std::optional<Index> open_first_entry_;
  bool unsynced_ = false;                 // written, not yet fdatasynced
  // Bytes before this were written, by records or by zero_ahead(); beyond it the
  // open segment may be fallocated but unwritten. Invariant: >= open_bytes_.
  std::uint64_t open_zeroed_to_ = 0;

  // --- the queue between submitters and the writer thread
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  bool closing_ = false;
  // A batch is being processed, by the writer thread or by try_write_here() on its
  // caller's thread: whoever set it owns the writer's state above until it clears it.
  bool writing_ = false;
  std::atomic<std::int64_t> last_sync_micros_{0};
  std::thread writer_;

  // --- the queue between the writer thread and the completion thread
  std::mutex completion_mu_;
  std::condition_variable completion_cv_;
  std::vector<Completion> completions_;
  bool completer_busy_ = false;  // calling a batch taken from completions_
  bool completer_closing_ = false;
  // At most this many callbacks of one batch are called on the writer thread itself.
  static constexpr std::size_t kInlineCallbacks = 4;
  std::thread completer_;

  // Removes the segments compactions made obsolete (started after recovery).
  std::unique_ptr<SegmentRemover> remover_;
};

}  // namespace raft::storage

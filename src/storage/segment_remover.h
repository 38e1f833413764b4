// Removes the write-ahead log's obsolete segments on a thread of its own, gently.
//
// Why not a plain unlink on the log's writer thread: with online discard (ext4
// mounted `discard`), the journal commit that frees a file's blocks also discards
// them, and every fdatasync on the file system waits for that commit. Three logs
// each unlinking a written 64 MiB segment at once (the three nodes of a cluster
// compact at the same index) held concurrent fdatasyncs up to 68-79 ms; inside a
// running cluster the unlink itself took 150-160 ms on each writer thread, and
// every commit waited. Shrinking the file `step_bytes` at a time, each step synced,
// spreads the discards over many small commits: 3.5-6.5 ms at most meanwhile, for
// 1 MiB steps. The steps run here, so the writer never waits for them.
//
// Crash safety. A segment handed over is obsolete: the compaction or install record
// that made it so is durable. It is first renamed to wal-<seq>.removing and the
// directory synced, so a half-shrunk file never carries a segment's name; recovery
// removes leftover .removing files. Until that rename is durable the file keeps its
// segment name and its whole contents, and recovery drops it as obsolete, as after
// any crash mid-compaction. Segments are handled oldest first, so what is left of
// the log after a crash is always a suffix of segments.
//
// A file some reader still holds (a shared_ptr besides ours) is unlinked without
// shrinking: its reads keep working until the reader lets go. So is a file of at
// most four steps (worth_removing_in_steps in env.h), with no rename: its discards
// are brief, and a crash leaves it to recovery under its segment name.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raft/result.h"
#include "src/storage/env.h"

namespace raft::storage {

struct ObsoleteSegment {
  std::uint64_t seq = 0;
  std::string file_name;                   // its segment name, in the log's directory
  std::shared_ptr<RandomAccessFile> file;  // the log's read handle, if it had one
};

class SegmentRemover {
 public:
  // `on_failure` is called (on the remover's thread) with the first I/O error; the
  // remover then stops removing (recovery finishes the job at the next open).
  // step_bytes == 0: unlink each file at once.
  SegmentRemover(Env& env, std::string dir, std::uint64_t step_bytes,
                 std::function<void(const Error&)> on_failure);
  // stop()s.
  ~SegmentRemover();

  SegmentRemover(const SegmentRemover&) = delete;
  SegmentRemover& operator=(const SegmentRemover&) = delete;

  // Queues the segments, oldest first.
  void remove(std::vector<ObsoleteSegment> segments);
  // Waits until every segment queued so far is removed (or removal failed).
  void wait_idle();
  // Segments removed so far.
  std::uint64_t removed() const;
  // Finishes the removals already queued and ends the thread. Idempotent; later
  // remove() calls are dropped (recovery finishes them).
  void stop();

  // wal-<seq>.removing, and whether a file name is one.
  static std::string removing_file_name(std::uint64_t seq);
  static bool is_removing_file_name(const std::string& file_name);

 private:
  void run();
  Status remove_one(ObsoleteSegment& segment);

  Env& env_;
  const std::string dir_;
  const std::uint64_t step_bytes_;
  const std::function<void(const Error&)> on_failure_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // remover: work queued or stopping
  std::condition_variable idle_cv_;  // wait_idle(): the queue drained
  std::deque<ObsoleteSegment> queue_;
  bool busy_ = false;     // a segment taken from queue_ is being removed
  bool stopping_ = false;
  bool failed_ = false;   // an I/O error: later segments are left to recovery
  std::uint64_t removed_ = 0;
  std::thread thread_;
};

}  // namespace raft::storage

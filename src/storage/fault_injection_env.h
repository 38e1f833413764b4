// An in-memory Env for tests that models what a crash does to files, and fails on
// demand the way a disk does.
//
// The model (deliberately the pessimistic reading of POSIX):
//   - each file has its current bytes and its durable bytes; sync_data()/sync()
//     make the current bytes durable;
//   - the directory has its current names and its durable names; sync_dir() makes
//     the current names of that directory durable (creations, renames, removals);
//   - crash() forgets everything not durable: names revert to the durable ones and
//     every file's bytes to its durable bytes. crash_tearing() does the same but
//     keeps the first `keep_bytes` of one file's unsynced bytes (a write torn at any
//     byte).
// Faults: fail every sync (EIO), fail every write (EIO), a disk capacity (ENOSPC
// once the files would outgrow it). Faults stay until cleared, as a broken disk does.
//
// Thread-safe (one mutex): the log writes on its own thread while tests read.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "src/storage/env.h"

namespace raft::storage {

class FaultInjectionEnv final : public Env {
 public:
  FaultInjectionEnv();
  ~FaultInjectionEnv() override;

  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path, bool truncate) override;
  Result<std::unique_ptr<RandomAccessFile>> open_readable(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;

  // --- crashes
  // Loses every unsynced byte and every unsynced directory change. Files opened
  // before the crash must not be used afterwards (their owner "died").
  void crash();
  // Like crash(), but the file at `path` keeps the first `keep_bytes` bytes of what
  // was written to it since its last sync (a torn write).
  void crash_tearing(const std::string& path, std::uint64_t keep_bytes);
  // How many bytes of `path` are not yet durable (from the first differing byte to
  // the end of the longer version).
  std::uint64_t unsynced_bytes(const std::string& path) const;

  // --- faults
  void set_fail_syncs(bool fail);   // sync_data/sync/sync_dir fail with EIO
  void set_fail_writes(bool fail);  // append/write_at/allocate fail with EIO
  // Every sync_data/sync takes at least this long (a slow or stalling disk).
  void set_sync_delay(std::chrono::microseconds delay);
  // Total bytes all files may hold; writes past it fail with ENOSPC. 0: unlimited.
  void set_capacity_bytes(std::uint64_t capacity_bytes);
  // The process "dies" after `ops` more mutating calls (write, truncate, allocate,
  // sync, create, rename, remove, sync_dir): every later one fails with EIO and
  // changes nothing. Follow with crash() to see what a crash at exactly that point
  // leaves. Lets a test crash between any two steps, e.g. inside a segment roll.
  void freeze_after_ops(std::uint64_t ops);
  std::uint64_t mutating_ops() const;  // performed so far

  // --- inspection and damage (tests)
  std::string contents(const std::string& path) const;
  // Replaces the current and durable bytes (damage that "is on the disk").
  void set_contents(const std::string& path, std::string bytes);
  std::uint64_t sync_count() const;

  struct Inode;
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace raft::storage

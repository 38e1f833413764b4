// The file-system seam of the storage layer: every byte the write-ahead log and the
// snapshot store read or write, and every fsync they issue, goes through `Env`.
//
// Why a seam: crash consistency cannot be tested on a real disk (a test cannot make
// the kernel forget unsynced pages), and neither can EIO or ENOSPC. The in-memory
// FaultInjectionEnv (fault_injection_env.h) models exactly what POSIX promises and no
// more, and can fail on demand. The real implementation is posix_env().
//
// Durability contract (the one POSIX gives, and the one the fault model enforces):
//   - bytes written to a file survive a crash only after sync_data()/sync() of it;
//   - a file's name (creation, rename, removal) survives only after sync_dir() of
//     its directory.
//
// Errors are values: every call returns a Status (raft::Status, code kStorage) whose
// message names the operation, the path and, where it matters, the offset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "raft/result.h"

namespace raft::storage {

// "op path: strerror (ENAME)"; with offset: "op path at offset N: ...".
Error io_error(std::string_view op, const std::string& path, int err);
Error io_error_at(std::string_view op, const std::string& path, std::uint64_t offset, int err);
// Damage found while reading: "corruption in PATH at offset N: WHAT".
Error corruption(const std::string& path, std::uint64_t offset, std::string_view what);

// A file opened for positional reads. Thread-safe (pread).
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into *out (replacing its contents). Fewer bytes
  // than asked only at the end of the file.
  virtual Status read_at(std::uint64_t offset, std::size_t n, std::string* out) const = 0;
  virtual Result<std::uint64_t> size() const = 0;
  virtual const std::string& path() const = 0;
};

// A file opened for writing. Used by one thread at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends at the current end of the file (its size).
  virtual Status append(std::string_view data) = 0;
  // Writes at `offset` (pwrite), extending the file if needed. Writing inside a
  // preallocated range changes no size; over bytes already written (not merely
  // fallocated) it changes no metadata at all, which is what lets sync_data() be
  // cheap (DurableLogOptions::zero_ahead_bytes).
  virtual Status write_at(std::uint64_t offset, std::string_view data) = 0;
  // fdatasync: makes the written bytes durable, plus the metadata needed to read
  // them back (the size), not timestamps.
  virtual Status sync_data() = 0;
  // fsync: bytes and all metadata.
  virtual Status sync() = 0;
  virtual Status truncate(std::uint64_t size_bytes) = 0;
  // Reserves disk blocks up to `size_bytes` and extends the file to that size with
  // zeros (fallocate mode 0). Fails with ENOSPC when the disk is full, which is the
  // point: a full disk is found when a segment is created, not mid-append.
  virtual Status allocate(std::uint64_t size_bytes) = 0;
  virtual Result<std::uint64_t> size() const = 0;
  virtual Status close() = 0;
  virtual const std::string& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // Opens for writing, creating the file if absent; `truncate` empties it.
  virtual Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path,
                                                              bool truncate) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> open_readable(const std::string& path) = 0;
  // rename(2): atomic replacement of `to`. Durable after sync_dir().
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // unlink(2). Durable after sync_dir().
  virtual Status remove(const std::string& path) = 0;
  // The names (not paths) in `dir`, without "." and "..", sorted.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Creates `dir` and its missing parents; fine if it exists.
  virtual Status create_dir(const std::string& dir) = 0;
  // fsync of a directory: makes creations, renames and removals in it durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// The real file system (POSIX calls; fallocate and fdatasync where Linux has them).
std::shared_ptr<Env> posix_env();

// Reads a whole file (recovery reads segments whole; they are bounded in size).
Status read_whole_file(Env& env, const std::string& path, std::string* out);

// "dir/name"
std::string join_path(const std::string& dir, const std::string& name);

// Removes a file gently: shrinks it `step_bytes` at a time, syncing each step, then
// unlinks it. On a file system that discards freed blocks online, one unlink of a
// large file holds every other fsync on the disk while its blocks are discarded;
// synced steps spread the discards over many small journal commits (figures in
// segment_remover.h). step_bytes == 0: just unlink.
// REQUIRES: nobody reads the file (a read would find it cut), and its name is one
// that recovery removes when found, since a crash can leave it half shrunk.
Status remove_in_steps(Env& env, const std::string& path, std::uint64_t step_bytes);
// Whether a file of `size_bytes` is worth removing in steps: only one longer than
// four steps. A smaller file's discards hold the disk too briefly to matter, while
// the steps and the rename that must precede them add syncs that do.
bool worth_removing_in_steps(std::uint64_t size_bytes, std::uint64_t step_bytes);

}  // namespace raft::storage

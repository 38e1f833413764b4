// The one seam through which the write-ahead log and the snapshot store touch files,
// so tests can substitute a file system that fails on demand (EIO, ENOSPC), and so
// every place that syncs is visible in one interface. Errors are thrown as
// std::system_error carrying errno and the path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace raft::wal {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends at the current end. Short writes are retried; errors throw.
  virtual void append(const char* data, std::size_t n) = 0;
  // Makes the appended data durable (fdatasync: the file was preallocated, so no
  // metadata needs to reach the disk).
  virtual void sync() = 0;
  // Reserves `bytes` on disk without changing the logical size, so later appends do
  // not change metadata that fdatasync would have to write.
  virtual void preallocate(std::uint64_t bytes) = 0;
  virtual std::uint64_t size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens for appending at `offset` (truncating anything after it), creating it if
  // absent.
  virtual std::unique_ptr<WritableFile> open_for_append(const std::string& path, std::uint64_t offset) = 0;
  // The whole contents (logs and snapshots are read sequentially at start-up).
  virtual std::string read_file(const std::string& path) = 0;
  virtual std::vector<std::string> list(const std::string& dir) = 0;  // names, not paths
  virtual bool exists(const std::string& path) = 0;
  virtual void create_dir(const std::string& dir) = 0;
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void remove(const std::string& path) = 0;
  virtual void truncate(const std::string& path, std::uint64_t size) = 0;
  // fsync on a directory: makes creations, renames and removals in it durable.
  virtual void sync_dir(const std::string& dir) = 0;
};

// The real one: POSIX calls.
std::shared_ptr<FileSystem> posix_file_system();

}  // namespace raft::wal

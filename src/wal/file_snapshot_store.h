// Snapshots as files: written to a temporary name, fsynced, renamed into place, the
// directory fsynced; only then are older snapshots removed (the newest two are kept).
//
//   DIR/snapshot-<index:20>-<term:20>.snap   data, then the metadata, then a trailer
//   trailer := metadata_length:u32le "RSNP"
//
// The metadata records the data's size and CRC-32C; a received snapshot whose data
// does not match the sender's metadata is refused at commit, and a reader checks the
// checksum when it reaches the end of the data.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "raft/snapshot_store.h"
#include "src/wal/file_system.h"

namespace raft::wal {

class FileSnapshotStore final : public SnapshotStore {
 public:
  // Opens (creating) `dir`; removes leftover temporary files; throws StorageError if
  // the newest snapshot is unreadable.
  explicit FileSnapshotStore(std::string dir, std::shared_ptr<FileSystem> fs = nullptr);

  std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) override;
  std::optional<pb::SnapshotMetadata> latest() const override;
  std::unique_ptr<SnapshotReader> open_latest() const override;

  // Called by the writer once a snapshot is durable under its final name.
  void committed(const pb::SnapshotMetadata& metadata, const std::string& path);
  const std::string& dir() const { return dir_; }
  FileSystem& fs() { return *fs_; }

 private:
  std::string dir_;
  std::shared_ptr<FileSystem> fs_;
  mutable std::mutex mutex_;
  std::optional<pb::SnapshotMetadata> latest_;
  std::string latest_path_;
};

// Reads a snapshot file's metadata (the trailer). Throws StorageError if malformed.
pb::SnapshotMetadata read_snapshot_metadata(const std::string& contents, const std::string& path);

}  // namespace raft::wal

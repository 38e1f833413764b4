// Snapshots as files: the default raft::SnapshotStore (include/raft/snapshot_store.h).
//
//   DIR/snapshot-00000000000000120000-00000000000000000007.snap   index, term
//   DIR/snapshot-00000000000000130000-00000000000000000007.snap.tmp  being written
//
// A snapshot file is the state machine's bytes, then one framed record holding the
// pb::SnapshotMetadata (index, term, configuration, size_bytes, crc32c of the data),
// then a 16-byte trailer locating that record (docs/storage-format.md, "Snapshots").
// The data is streamed: the writer never holds a snapshot in memory, and neither
// does the reader, which checks the data's CRC as the last byte goes by.
//
// Commit is atomic and durable: write to NAME.tmp, fsync, rename to NAME, fsync the
// directory. Only then are older snapshots beyond `retain_snapshots` removed, so a
// crash at any point leaves at least one complete snapshot. An old snapshot is
// renamed to NAME.removing (the directory synced) and then shrunk in synced steps
// before the unlink (env.h, remove_in_steps), unless a reader has it open (then it
// is unlinked at once and the reader keeps reading) or it is small enough for one
// unlink (worth_removing_in_steps). Leftover .tmp and .removing
// files are removed at open.
//
// Thread-safe: one writer at a time per snapshot, any number of readers.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "raft/result.h"
#include "raft/snapshot_store.h"
#include "src/storage/env.h"

namespace raft::storage {

struct FileSnapshotStoreOptions {
  // REQUIRES: not empty. Created if absent.
  std::string dir;
  // Default (null): posix_env().
  std::shared_ptr<Env> env;
  // How many committed snapshots to keep (the newest ones). Keeping one older
  // snapshot costs disk but gives an operator a fallback. REQUIRES: >= 1. Default: 2.
  std::size_t retain_snapshots = 2;
  // Snapshots beyond retention are shrunk this many bytes at a time, each step
  // synced, before they are unlinked, so that file systems that discard freed blocks
  // online do not hold the log's syncs while a large file's blocks are discarded.
  // Zero: unlink at once. Default: 1 MiB.
  std::uint64_t removal_step_bytes = 1ull << 20;
};

struct SnapshotFileInfo {
  std::string file_name;
  pb::SnapshotMetadata metadata;
  std::uint64_t file_bytes = 0;
};

// What a snapshot file's name and tail say, without reading its data. Errors name
// the file and offset.
Result<SnapshotFileInfo> read_snapshot_info(Env& env, const std::string& dir, const std::string& file_name);
// Reads all of a snapshot's data and checks its size and CRC.
Status verify_snapshot(Env& env, const std::string& dir, const SnapshotFileInfo& info);
// "snapshot-<index>-<term>.snap"
std::string snapshot_file_name(Index index, Term term);

class FileSnapshotStore final : public SnapshotStore, public std::enable_shared_from_this<FileSnapshotStore> {
 public:
  // Opens the directory: removes leftover temporary files and reads every
  // snapshot's metadata. A damaged snapshot file is an error naming it.
  static Result<std::shared_ptr<FileSnapshotStore>> open(FileSnapshotStoreOptions options);

  // Starts a snapshot. Throws std::runtime_error if the file cannot be created.
  std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) override;
  std::optional<pb::SnapshotMetadata> latest() const override;
  // The newest snapshot; its read() throws std::runtime_error on an I/O error or
  // when the data does not match the recorded size and CRC (found at the end).
  std::unique_ptr<SnapshotReader> open_latest() const override;

  // Every committed snapshot, oldest first.
  std::vector<SnapshotFileInfo> list() const;
  std::unique_ptr<SnapshotReader> open_snapshot(const SnapshotFileInfo& info) const;
  const std::string& dir() const { return options_.dir; }

 private:
  friend class FileSnapshotWriter;
  explicit FileSnapshotStore(FileSnapshotStoreOptions options);
  Status load();
  // After a commit: records the new file and removes the oldest beyond retention.
  Status committed(SnapshotFileInfo info);

  const FileSnapshotStoreOptions options_;
  Env* env_;
  std::shared_ptr<Env> env_owner_;
  mutable std::mutex mu_;
  std::vector<SnapshotFileInfo> snapshots_;  // by index, oldest first
  // A token per file some reader has open; the readers hold it. A file whose token
  // is alive is never shrunk. Opening and the decision to shrink both happen under
  // mu_, so a reader either holds the token first or finds the file renamed away.
  mutable std::map<std::string, std::weak_ptr<void>> readers_;
};

}  // namespace raft::storage

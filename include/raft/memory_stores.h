// In-memory LogStore and SnapshotStore with the same contracts as the durable ones:
// for tests, benchmarks and examples. Nothing survives the process.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "raft/log_store.h"
#include "raft/snapshot_store.h"

namespace raft {

/// Thread-safe. submit() applies the write at once and calls `done` inline.
class MemoryLogStore final : public LogStore {
 public:
  MemoryLogStore();
  ~MemoryLogStore() override;

  pb::HardState hard_state() const override;
  pb::SnapshotMetadata snapshot_metadata() const override;
  Index first_index() const override;
  Index last_index() const override;
  std::optional<Term> term(Index index) const override;
  void entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const override;

  void submit(LogWrite write, std::function<void(const Status&)> done) override;
  void compact(const pb::SnapshotMetadata& snapshot) override;
  void close() override;

 private:
  struct State;
  mutable std::mutex mutex_;
  std::unique_ptr<State> state_;
};

/// Thread-safe. Keeps every committed snapshot's data in memory (the newest is what
/// open_latest() returns).
class MemorySnapshotStore final : public SnapshotStore {
 public:
  std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) override;
  std::optional<pb::SnapshotMetadata> latest() const override;
  std::unique_ptr<SnapshotReader> open_latest() const override;

 private:
  friend class MemorySnapshotWriter;
  void install(pb::SnapshotMetadata metadata, std::shared_ptr<const std::string> data);

  mutable std::mutex mutex_;
  std::optional<pb::SnapshotMetadata> latest_;
  std::shared_ptr<const std::string> data_;
};

}  // namespace raft

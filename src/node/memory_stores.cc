#include "raft/memory_stores.h"

#include <cstring>
#include <stdexcept>

#include "src/core/memory_storage.h"
#include "src/util/crc32c.h"

namespace raft {

struct MemoryLogStore::State {
  core::MemoryLogStorage log;
  bool closed = false;
};

MemoryLogStore::MemoryLogStore() : state_(std::make_unique<State>()) {}
MemoryLogStore::~MemoryLogStore() = default;

pb::HardState MemoryLogStore::hard_state() const {
  std::lock_guard lock(mutex_);
  return state_->log.hard_state();
}
pb::SnapshotMetadata MemoryLogStore::snapshot_metadata() const {
  std::lock_guard lock(mutex_);
  return state_->log.snapshot_metadata();
}
Index MemoryLogStore::first_index() const {
  std::lock_guard lock(mutex_);
  return state_->log.first_index();
}
Index MemoryLogStore::last_index() const {
  std::lock_guard lock(mutex_);
  return state_->log.last_index();
}
std::optional<Term> MemoryLogStore::term(Index index) const {
  std::lock_guard lock(mutex_);
  return state_->log.term(index);
}
void MemoryLogStore::entries(Index lo, Index hi, std::uint64_t max_bytes,
                             std::vector<pb::Entry>* out) const {
  std::lock_guard lock(mutex_);
  state_->log.entries(lo, hi, max_bytes, out);
}

void MemoryLogStore::submit(LogWrite write, std::function<void(const Status&)> done) {
  {
    std::lock_guard lock(mutex_);
    if (state_->closed) {
      done(make_error(ErrorCode::kShuttingDown, "log store closed"));
      return;
    }
    if (write.snapshot) state_->log.install_snapshot(*write.snapshot);
    state_->log.append(write.entries);
    if (write.hard_state) state_->log.set_hard_state(*write.hard_state);
  }
  done(Ok{});
}

void MemoryLogStore::compact(const pb::SnapshotMetadata& snapshot) {
  std::lock_guard lock(mutex_);
  if (snapshot.index() <= state_->log.snapshot_metadata().index() ||
      snapshot.index() > state_->log.last_index()) {
    return;
  }
  state_->log.compact(snapshot);
}

void MemoryLogStore::close() {
  std::lock_guard lock(mutex_);
  state_->closed = true;
}

// ---------------------------------------------------------------------------

class MemorySnapshotWriter final : public SnapshotWriter {
 public:
  MemorySnapshotWriter(MemorySnapshotStore* store, pb::SnapshotMetadata metadata)
      : store_(store), metadata_(std::move(metadata)) {}

  void write(const char* data, std::size_t n) override {
    data_.append(data, n);
    crc_ = util::crc32c_extend(crc_, data, n);
  }

  pb::SnapshotMetadata commit() override {
    if (metadata_.size_bytes() != 0 && metadata_.size_bytes() != data_.size()) {
      throw std::runtime_error("snapshot size mismatch: expected " +
                               std::to_string(metadata_.size_bytes()) + " bytes, got " +
                               std::to_string(data_.size()));
    }
    if (metadata_.crc32c() != 0 && metadata_.crc32c() != crc_) {
      throw std::runtime_error("snapshot checksum mismatch");
    }
    metadata_.set_size_bytes(data_.size());
    metadata_.set_crc32c(crc_);
    store_->install(metadata_, std::make_shared<const std::string>(std::move(data_)));
    return metadata_;
  }

 private:
  MemorySnapshotStore* store_;
  pb::SnapshotMetadata metadata_;
  std::string data_;
  std::uint32_t crc_ = 0;
};

namespace {
class MemorySnapshotReader final : public SnapshotReader {
 public:
  MemorySnapshotReader(pb::SnapshotMetadata metadata, std::shared_ptr<const std::string> data)
      : metadata_(std::move(metadata)), data_(std::move(data)) {}
  const pb::SnapshotMetadata& metadata() const override { return metadata_; }
  std::size_t read(char* buffer, std::size_t n) override {
    const std::size_t count = std::min(n, data_->size() - offset_);
    std::memcpy(buffer, data_->data() + offset_, count);
    offset_ += count;
    return count;
  }

 private:
  pb::SnapshotMetadata metadata_;
  std::shared_ptr<const std::string> data_;
  std::size_t offset_ = 0;
};
}  // namespace

std::unique_ptr<SnapshotWriter> MemorySnapshotStore::create(const pb::SnapshotMetadata& metadata) {
  return std::make_unique<MemorySnapshotWriter>(this, metadata);
}

void MemorySnapshotStore::install(pb::SnapshotMetadata metadata,
                                  std::shared_ptr<const std::string> data) {
  std::lock_guard lock(mutex_);
  if (latest_ && latest_->index() > metadata.index()) return;  // never go backwards
  latest_ = std::move(metadata);
  data_ = std::move(data);
}

std::optional<pb::SnapshotMetadata> MemorySnapshotStore::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::unique_ptr<SnapshotReader> MemorySnapshotStore::open_latest() const {
  std::lock_guard lock(mutex_);
  if (!latest_) return nullptr;
  return std::make_unique<MemorySnapshotReader>(*latest_, data_);
}

}  // namespace raft

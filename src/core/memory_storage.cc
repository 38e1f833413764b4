#include "src/core/memory_storage.h"

#include <cassert>

namespace raft::core {

MemoryLogStorage::MemoryLogStorage(pb::Configuration bootstrap) {
  *snapshot_.mutable_configuration() = std::move(bootstrap);
}

std::optional<Term> MemoryLogStorage::term(Index index) const {
  if (index == snapshot_.index()) return snapshot_.term();
  if (index < snapshot_.index() || index > last_index()) return std::nullopt;
  return entries_[index - first_index()].term();
}

void MemoryLogStorage::entries(Index lo, Index hi, std::uint64_t max_bytes,
                               std::vector<pb::Entry>* out) const {
  assert(lo >= first_index() && hi <= last_index() + 1);
  std::uint64_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const pb::Entry& entry = entries_[i - first_index()];
    bytes += entry.ByteSizeLong();
    if (i > lo && bytes > max_bytes) break;
    out->push_back(entry);
  }
}

void MemoryLogStorage::append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  const Index first_new = entries.front().index();
  assert(first_new > snapshot_.index() && first_new <= last_index() + 1);
  entries_.resize(first_new - first_index());
  for (const pb::Entry& entry : entries) {
    assert(entry.index() == last_index() + 1);
    entries_.push_back(entry);
  }
}

void MemoryLogStorage::compact(const pb::SnapshotMetadata& snapshot) {
  assert(snapshot.index() >= snapshot_.index() && snapshot.index() <= last_index());
  const Index drop = snapshot.index() - snapshot_.index();
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(drop));
  snapshot_ = snapshot;
}

void MemoryLogStorage::install_snapshot(const pb::SnapshotMetadata& snapshot) {
  entries_.clear();
  snapshot_ = snapshot;
}

}  // namespace raft::core

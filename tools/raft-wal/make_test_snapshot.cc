// Test helper for raft-wal's CTest cases: writes one committed snapshot (index 7,
// term 2, 4 KiB of data) into DIR/snapshots and creates an empty DIR/wal, so that
// `raft-wal dump DIR` has a snapshot to check. Exit status 0 on success.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "src/storage/snapshot_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-test-snapshot DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::filesystem::create_directories(dir + "/wal");
    raft::storage::FileSnapshotStoreOptions options;
    options.dir = dir + "/snapshots";
    auto store = raft::storage::FileSnapshotStore::open(options);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    raft::pb::SnapshotMetadata metadata;
    metadata.set_index(7);
    metadata.set_term(2);
    metadata.mutable_configuration()->add_voters(1);
    auto writer = store.value()->create(metadata);
    const std::string data(4096, 's');
    writer->write(data.data(), data.size());
    writer->commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make-test-snapshot: %s\n", e.what());
    return 1;
  }
  return 0;
}

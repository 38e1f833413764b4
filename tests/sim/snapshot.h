// A simulated snapshot: the key-value state at an index, as a node's snapshot store
// keeps it and as a leader sends it (in SnapshotRequest.data) to a follower whose
// next entries were compacted away.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "proto/raft.pb.h"

namespace raft::sim {

struct SimSnapshot {
  pb::SnapshotMetadata metadata;
  std::map<std::string, std::string> data;  // the key-value state at metadata.index()
};

// The state as SnapshotRequest.data (the metadata travels beside it).
std::string encode_snapshot_data(const SimSnapshot& snapshot);
// Fills `snapshot`'s state; false for bytes encode_snapshot_data() did not write.
bool decode_snapshot_data(std::string_view bytes, SimSnapshot* snapshot);

}  // namespace raft::sim

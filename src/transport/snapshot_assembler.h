// The receiving end of snapshot streaming. A leader sends a snapshot as a sequence
// of /raft/snapshot requests, one chunk each, in order; this class puts them back
// together into the node's SnapshotWriter and lets nothing reach the node's core
// until the whole data is there and its CRC-32C matches the metadata. It is checked
// here, on the bytes as received, and again by the writer's commit(): a store that
// forgets to verify cannot make the node install a damaged snapshot.
//
// One transfer is kept per (sender, snapshot index). A chunk at offset 0 (re)starts
// a transfer and replaces any earlier one from the same sender (a leader streams one
// snapshot to a follower at a time); any other chunk must continue exactly where the
// previous one ended, else 409 and the transfer is abandoned. A transfer lives as
// long as the connection that carries it (the sender starts over on a new one after
// any failure), so it is abandoned when that connection closes; and, as a backstop,
// when no chunk came for an idle timeout. Either way a leader that died mid-stream
// does not pin a writer (and its temporary file) forever.
//
// Not thread-safe: the HTTP transport calls it from its single disk thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "raft/snapshot_store.h"
#include "raft/transport.h"
#include "src/transport/log.h"

namespace raft::transport {

struct SnapshotAssemblerOptions {
  std::size_t max_in_progress = 4;                // concurrent transfers (503 beyond)
  std::chrono::milliseconds idle_timeout{60000};  // a stalled transfer is dropped after this
};

class SnapshotAssembler {
 public:
  using Clock = std::chrono::steady_clock;

  // What to answer the chunk's request with: 204 accepted, 200 committed (and handed
  // to the node), 400 the data does not match its metadata, 409 out of order, 500 the
  // writer failed, 503 the node refused or too many transfers.
  struct Outcome {
    unsigned status = 0;
    std::string reason;
  };

  SnapshotAssembler(SnapshotAssemblerOptions options, Logger log);
  ~SnapshotAssembler();

  // Takes one chunk that passed decode_snapshot_chunk(), received on `connection`
  // (any id that tells connections apart). Calls handler.on_snapshot_begin() on a
  // first chunk and handler.on_snapshot_received() once the last one is committed.
  Outcome accept(pb::Message&& chunk, TransportHandler& handler, Clock::time_point now,
                 std::uint64_t connection = 0);

  // Abandons the transfers carried by `connection`, which closed.
  void abandon(std::uint64_t connection);
  // Abandons every transfer in progress (their writers abort).
  void clear();
  std::size_t in_progress() const { return transfers_.size(); }

 private:
  struct Transfer {
    std::unique_ptr<SnapshotWriter> writer;
    pb::SnapshotMetadata metadata;  // as the first chunk announced it
    std::uint64_t next_offset = 0;
    std::uint32_t crc32c = 0;  // of the bytes received so far
    Clock::time_point last_chunk;
    std::uint64_t connection = 0;  // that carries it
  };
  using Key = std::pair<NodeId, Index>;  // (sender, snapshot index)

  void expire_idle(Clock::time_point now);
  Outcome begin(const Key& key, const pb::Message& header, TransportHandler& handler,
                Clock::time_point now, std::uint64_t connection);

  SnapshotAssemblerOptions options_;
  Logger log_;
  std::map<Key, Transfer> transfers_;
};

}  // namespace raft::transport

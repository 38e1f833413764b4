// How nodes reach each other. The library ships an HTTP/1.1 transport (protobuf
// batches streamed as the chunks of one request per peer; src/transport/) and an in-process
// one for tests and benchmarks; a user may bring their own by implementing this.
//
// Contract: send() never blocks and may drop (Raft retries everything); messages to
// one peer are delivered in order or not at all (a dropped message may be followed
// by later ones); every message carries the sender's cluster id and a receiver drops
// messages of another cluster.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/snapshot_store.h"
#include "raft/types.h"

namespace raft {

/// What a transport delivers to its node. Called from transport threads: must be
/// thread-safe and quick (hand off to the node's loop).
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  /// Messages from peers, in the order each peer sent them.
  virtual void on_messages(std::vector<pb::Message>&& messages) = 0;
  /// A peer starts streaming a snapshot (`request` holds its SnapshotRequest with the
  /// metadata, no data). Returns where to write the data, or nullptr to refuse.
  virtual std::unique_ptr<SnapshotWriter> on_snapshot_begin(const pb::Message& request) = 0;
  /// The data was written and committed (size and checksum verified): `request`
  /// carries the final metadata. The node now hands it to its core.
  virtual void on_snapshot_received(pb::Message&& request) = 0;
};

/// Counters of a transport since it started.
struct TransportStats {
  std::uint64_t messages_sent = 0;      ///< Raft messages written to a peer's connection
  std::uint64_t messages_dropped = 0;   ///< queue full or peer unreachable
  std::uint64_t bytes_sent = 0;         ///< bytes written to peers, framing included
  std::uint64_t bytes_received = 0;     ///< bytes read from peers, framing included
  std::uint64_t rejected_requests = 0;  ///< malformed, oversized or foreign-cluster
};

/// Carries Raft messages and snapshots between nodes. The default is HTTP/1.1 with
/// protobuf bodies (docs/wire-protocol.md); an in-process one serves tests.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Starts serving and sending. `handler` must outlive the transport's stop().
  virtual void start(TransportHandler* handler) = 0;
  /// Adds or updates a peer's address (host:port). Thread-safe.
  virtual void set_peer(NodeId id, const std::string& address) = 0;
  /// Forgets a peer (a removed member); its queued messages are dropped. Thread-safe.
  virtual void remove_peer(NodeId id) = 0;
  /// Queues messages for their recipients (m.to()). Never blocks.
  virtual void send(std::vector<pb::Message>&& messages) = 0;
  /// Streams a snapshot to request.to(): `request` is the core's SnapshotRequest
  /// (metadata only); the data comes from `data` in chunks. `done(true)` once the
  /// receiver committed it, `done(false)` on any failure. Called from a transport
  /// thread.
  virtual void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                             std::function<void(bool delivered)> done) = 0;
  /// Stops serving and sending; returns once no handler call is running or will run.
  virtual void stop() = 0;
  /// Counters since start. Thread-safe.
  virtual TransportStats stats() const = 0;
};

}  // namespace raft

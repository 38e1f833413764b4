// The library's default Transport: Raft messages between nodes as HTTP/1.1 requests
// with protobuf bodies (docs/wire-protocol.md has the endpoints, status codes and
// framing). What it promises beyond the Transport contract:
//
// - One persistent connection per peer carrying one endless chunked request (a
//   stream): every message queued while the previous chunk was being written goes
//   into the next chunk, one MessageBatch, and no chunk waits for an answer.
// - Bounded everything: per-peer queues in messages and bytes (full: drop, Raft
//   retries), batches, incoming body, chunk and header sizes, connections, snapshot
//   transfers; and a deadline or a stall watchdog on every network operation.
// - Snapshots stream in chunks on their own connection; the receiver checks the
//   size and CRC-32C of the data before the node hears of it.
// - A peer's garbage, oversized or foreign-cluster requests get a 4xx and are
//   counted in stats().rejected_requests; they never reach the node.
//
// Threading. One io thread runs the listener, every connection (both directions)
// and all timers, and calls TransportHandler::on_messages and the done callbacks of
// send_snapshot: the transport's own thread, or, with options.io_context, whichever
// thread runs that context (a Node lends its event loop, so a message is stepped
// where it was read, without waking another thread). One disk thread does the snapshot I/O (reading the snapshot being
// sent; on_snapshot_begin, the writer's write/commit and on_snapshot_received for
// one being received), so a slow disk never delays heartbeats. Public methods are
// thread-safe; send() only encodes on the caller's thread and takes short locks.
// After stop() returns no handler or done callback runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "raft/transport.h"
#include "src/transport/log.h"

namespace boost::asio {
class io_context;
}

namespace raft::transport {

struct HttpTransportOptions {
  // Where to listen for peers: "host:port" (IPv6 literal in brackets). Port 0 picks
  // a free port; port() tells which. Default: 127.0.0.1:7001.
  std::string listen_address = "127.0.0.1:7001";
  // Every message carries it and a receiver refuses any other (403), so a node
  // started with another cluster's peer list cannot disturb that cluster.
  // REQUIRES: non-zero. Default: 1.
  std::uint64_t cluster_id = 1;
  // This node's id. When non-zero, messages addressed to another id are refused
  // (421): a peer list that maps ids to the wrong addresses shows up at once.
  // Default: 0 (not checked).
  NodeId local_id = 0;

  // The address peers reach this node at, sent with every message stream (see
  // kSenderAddressHeader). Default: empty, meaning listen_address with the port
  // actually bound.
  std::string advertise_address;

  // Incoming request body limit (413 above). Must hold the largest single message
  // the core sends (an append of max_append_bytes, or one command larger than that)
  // and a snapshot chunk. REQUIRES: >= 2 * snapshot_chunk_bytes. Default: 64 MiB.
  std::uint64_t max_body_bytes = 64 << 20;
  // Incoming request header limit (431 above). Default: 16 KiB.
  std::uint32_t max_header_bytes = 16 << 10;
  // A request is closed once it holds this many bytes; one larger message goes
  // alone. Messages larger than max_body_bytes are dropped when sent (the peer
  // would refuse them). Default: 4 MiB.
  std::uint64_t max_batch_bytes = 4 << 20;
  // Per peer: messages waiting to be sent, then new ones are dropped. Defaults:
  // 10,000 messages, 64 MiB.
  std::size_t max_queued_messages = 10000;
  std::uint64_t max_queued_bytes = 64 << 20;
  // Incoming connections; more are closed on accept. Default: 256.
  std::size_t max_connections = 256;
  // Snapshot data per /raft/snapshot request. Default: 1 MiB.
  std::size_t snapshot_chunk_bytes = 1 << 20;
  // Snapshots being sent at once (more fail at once with done(false)), and being
  // received at once (more are refused with 503). Defaults: 4 and 4.
  std::size_t max_outgoing_snapshots = 4;
  std::size_t max_incoming_snapshots = 4;

  // Timeouts. Defaults: connect (with name resolution) 1 s; writing one request or
  // response 10 s (a message stream's write: no progress for 10-20 s); the answer to
  // a snapshot chunk 10 s, to its last chunk (the receiver syncs it) 60 s; an incoming
  // connection idle between requests 120 s (a stream completing no chunk: 120-240 s);
  // one incoming request from its first byte 30 s; a half-received snapshot with no new
  // chunk 60 s; stop() waiting for connections to wind down 2 s.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds response_timeout{10000};
  std::chrono::milliseconds snapshot_commit_timeout{60000};
  std::chrono::milliseconds idle_timeout{120000};
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds snapshot_idle_timeout{60000};
  std::chrono::milliseconds stop_timeout{2000};

  // Reconnecting to an unreachable peer: exponential backoff from min to max, reset
  // once the peer answers. Defaults: 25 ms, 1 s.
  std::chrono::milliseconds min_backoff{25};
  std::chrono::milliseconds max_backoff{1000};

  // Where log lines go (a peer of another cluster, an unreachable peer, a rejected
  // snapshot...). Default: stderr.
  LogFunction log;

  // Runs the connections and timers on this context instead of a thread of the
  // transport's own. Not owned. REQUIRES: it outlives the transport's io objects:
  // it runs until stop() returns, stop() is not called from its thread, and it is
  // destroyed before the transport (connections stop() had to abandon still live in
  // it). Default: null (own thread).
  boost::asio::io_context* io_context = nullptr;
};

// Empty if `options` are usable, else what is wrong with them.
std::string validate(const HttpTransportOptions& options);

class HttpTransport final : public Transport {
 public:
  explicit HttpTransport(HttpTransportOptions options);
  ~HttpTransport() override;  // stop()s
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Binds the listen address and starts the io and disk threads. Throws
  // std::invalid_argument for bad options, std::runtime_error when it cannot listen
  // (the port is taken), std::logic_error when called twice or after stop().
  void start(TransportHandler* handler) override;
  void set_peer(NodeId id, const std::string& address) override;
  void remove_peer(NodeId id) override;
  void send(std::vector<pb::Message>&& messages) override;
  void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                     std::function<void(bool delivered)> done) override;
  // Idempotent. A transport cannot be started again.
  void stop() override;
  TransportStats stats() const override;

  // The port it listens on (the chosen one with port 0); 0 before start().
  std::uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace raft::transport

// The HTTP/1.1 transport between nodes (docs/wire-protocol.md):
//   POST /raft/messages   body: a MessageBatch (protobuf)         -> 204
//   POST /raft/snapshot   body: one SnapshotRequest chunk, in order -> 204, 200 when committed
//   GET  /raft/health                                               -> 200
// 400 malformed body, 403 another cluster's message, 404 unknown path, 405 wrong
// method, 409 snapshot chunk out of order, 413 body over the limit.
//
// Sending: one persistent, pipelined connection per peer (PeerConnection). Messages
// queue per peer (bounded: beyond the limit they are dropped, and Raft retries); every
// message queued while the previous request is being written goes into the next
// request, so batching grows with load. Snapshots stream in chunks on their own
// connection from a dedicated thread.
//
// Threads: one io thread runs the server and all sending; snapshot transfers run on
// their own short-lived threads. Public methods are thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "raft/transport.h"
#include "src/http/server.h"
#include "src/transport/peer_connection.h"

namespace raft::transport {

struct HttpTransportOptions {
  std::string listen_address = "127.0.0.1:7001";  // host:port
  std::uint64_t cluster_id = 1;
  std::uint64_t max_body_bytes = 64 << 20;          // incoming request limit
  std::uint64_t max_batch_bytes = 4 << 20;          // outgoing request size target
  std::size_t max_queued_messages = 10000;          // per peer, then drop
  std::uint64_t max_queued_bytes = 64 << 20;        // per peer, then drop
  std::size_t snapshot_chunk_bytes = 1 << 20;
  PeerConnectionOptions connection;
};

class HttpPeerTransport final : public Transport {
 public:
  explicit HttpPeerTransport(HttpTransportOptions options);
  ~HttpPeerTransport() override;

  // Binds the listen address (throws std::runtime_error if it cannot) and starts the
  // io thread.
  void start(TransportHandler* handler) override;
  void set_peer(NodeId id, const std::string& address) override;
  void remove_peer(NodeId id) override;
  void send(std::vector<pb::Message>&& messages) override;
  void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                     std::function<void(bool delivered)> done) override;
  void stop() override;
  TransportStats stats() const override;

  // The bound port (useful with port 0).
  std::uint16_t port() const;

 private:
  struct Peer {
    std::string address;
    std::shared_ptr<PeerConnection> connection;
    std::deque<pb::Message> queue;
    std::uint64_t queued_bytes = 0;
    bool flush_scheduled = false;
  };

  void handle(http::Request&& request, http::Responder respond);
  void handle_messages(const http::Request& request, http::Responder& respond);
  void handle_snapshot_chunk(const http::Request& request, http::Responder& respond);
  void flush(NodeId id);  // io thread

  HttpTransportOptions options_;
  boost::asio::io_context io_;
  std::unique_ptr<http::Server> server_;
  std::thread io_thread_;
  TransportHandler* handler_ = nullptr;
  std::atomic<bool> stopped_{false};
  bool started_ = false;

  mutable std::mutex mutex_;  // guards peers_ and snapshot state
  std::map<NodeId, Peer> peers_;

  // Incoming snapshots: one writer per (sender, snapshot index), chunks in order.
  struct Incoming {
    std::unique_ptr<SnapshotWriter> writer;
    std::uint64_t next_offset = 0;
  };
  std::map<std::pair<NodeId, Index>, Incoming> incoming_;
  std::set<std::thread::id> snapshot_threads_running_;
  std::vector<std::thread> snapshot_threads_;

  std::atomic<std::uint64_t> messages_sent_{0};
  std::atomic<std::uint64_t> messages_dropped_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
  std::atomic<std::uint64_t> bytes_received_{0};
  std::atomic<std::uint64_t> rejected_requests_{0};
};

}  // namespace raft::transport

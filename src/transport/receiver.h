// What the HTTP transport does with a well-formed HTTP request from a peer: the
// routing table of docs/wire-protocol.md. Bodies are decoded and validated by the
// codec; messages go to the node's handler on the io thread (on_messages only queues
// them); snapshot chunks go to the SnapshotAssembler on the disk thread, because
// writing and committing a snapshot touches the disk.
//
//   GET  /raft/health                      200
//   POST /raft/messages   MessageBatch     204 | 400 | 403 | 413 | 421 | 503
//   POST /raft/stream     chunked, one     204 at the end | the first refusal
//                         MessageBatch     (400 | 403 | 411 | 413 | 421 | 503),
//                         per chunk        then the connection closes
//   POST /raft/snapshot   one chunk        204 chunk kept | 200 committed |
//                                          400 | 403 | 409 | 413 | 421 | 500 | 503
//   other paths 404; other methods 405; a POST body that is not
//   application/x-protobuf 415.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "raft/transport.h"
#include "src/transport/codec.h"
#include "src/transport/counters.h"
#include "src/transport/http_types.h"
#include "src/transport/log.h"
#include "src/transport/snapshot_assembler.h"

namespace raft::transport {

class Receiver {
 public:
  // `handler` and `stopping` must outlive the receiver; `disk` runs snapshot writes
  // and must run one task at a time (the assembler is not thread-safe).
  // `learn_peer` is told a sender's address from its stream's header
  // (kSenderAddressHeader), once per sender id (io thread).
  using LearnPeer = std::function<void(NodeId id, const std::string& address)>;
  Receiver(DecodeLimits limits, SnapshotAssemblerOptions snapshots, TransportHandler* handler,
           boost::asio::any_io_executor disk, const std::atomic<bool>* stopping, Logger log,
           LearnPeer learn_peer);

  // Answers one request that came on `connection` (io thread). Never throws for
  // anything a peer can send.
  boost::asio::awaitable<HttpResponse> handle(HttpRequest& request, std::uint64_t connection);
  // A request to kStreamPath, its header read: nullopt when the stream is accepted,
  // else the refusal (io thread).
  std::optional<HttpResponse> open_stream(const HttpRequest& header);
  // One chunk of an accepted stream: delivered and nullopt, or the refusal that ends
  // the stream (io thread).
  std::optional<HttpResponse> stream_batch(const HttpRequest& header, std::string_view body);

  // `connection` closed: snapshot transfers it carried are abandoned (io thread).
  void connection_closed(std::uint64_t connection);

  // Abandons half-received snapshots. REQUIRES: the disk executor has stopped.
  void clear_snapshots();

 private:
  HttpResponse reject(const DecodeFailure& failure, const char* endpoint);
  // What every POST must be (method, content type, a receiver not stopping).
  std::optional<HttpResponse> refuse_post(const HttpRequest& request) const;
  boost::asio::awaitable<HttpResponse> snapshot_chunk(pb::Message&& chunk,
                                                      std::uint64_t connection);

  DecodeLimits limits_;
  TransportHandler* handler_;
  boost::asio::any_io_executor disk_;
  const std::atomic<bool>* stopping_;
  Logger log_;
  LogThrottle foreign_log_throttle_;
  SnapshotAssembler assembler_;                   // disk thread only
  std::set<std::uint64_t> snapshot_connections_;  // io thread: connections that carried chunks
  LearnPeer learn_peer_;
  // io thread: ids whose address learn_peer_ was told, up to kMaxSendersSeen (a
  // bound against a peer that invents ids).
  static constexpr std::size_t kMaxSendersSeen = 1024;
  std::set<NodeId> senders_seen_;
};

}  // namespace raft::transport

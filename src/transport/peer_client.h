// Sending to one peer: a bounded queue of encoded messages and one persistent HTTP/1.1
// connection that drains it as a stream.
//
// The connection carries one request, POST /raft/stream with chunked transfer
// encoding, for as long as it lives. The writer takes everything queued since its
// last write (up to max_batch_bytes) as one MessageBatch and writes it as one chunk:
// one send per batch, and no answer to wait for or read. The peer answers the request
// only to end it: when it refuses a chunk (the reason is logged) or stops. Per-batch
// answers cost a send and a receive on each side for nothing Raft needs, since Raft's
// own responses say what arrived (etcd's rafthttp streams for the same reason).
//
// Failure policy: Raft retries everything, so nothing here retries a message. A full
// queue drops the new message; a broken connection loses what the kernel had not
// delivered; a peer that cannot be reached gets its queue dropped at each failed
// attempt (what piled up is stale by then). It, and a peer that refuses the stream,
// are retried with exponential backoff, capped, reset once a stream has stayed up
// for max_backoff (so a peer that accepts and hangs up is not hammered either). A
// write that makes no progress for one to two write_timeouts (a peer that stopped reading)
// breaks the connection. The connection is opened lazily, when there is something to
// send.
//
// Threading: enqueue() and close() are thread-safe and never block; everything else
// runs on the io thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "raft/types.h"
#include "src/transport/connector.h"
#include "src/transport/counters.h"
#include "src/transport/log.h"

namespace raft::transport {

struct PeerClientOptions {
  std::size_t max_queued_messages = 10000;
  std::uint64_t max_queued_bytes = 64 << 20;
  std::uint64_t max_batch_bytes = 4 << 20;  // a batch closes once it holds this much
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds min_backoff{25};
  std::chrono::milliseconds max_backoff{1000};
  std::string sender_address;  // sent as kSenderAddressHeader when not empty
};

class PeerClient : public std::enable_shared_from_this<PeerClient> {
 public:
  PeerClient(boost::asio::io_context& io, NodeId peer, std::string address,
             std::uint64_t cluster_id, PeerClientOptions options,
             std::shared_ptr<Counters> counters, Logger log);
  ~PeerClient();

  // Spawns the sending coroutine. Call once.
  void start();
  // Queues one encoded message (a MessageBatch element: encode_batch_element()), or
  // drops it, counted, when the queue is full or the client closed. Thread-safe,
  // never blocks.
  bool enqueue(std::string&& element);
  // Drops what is queued and in flight and ends the coroutines. Thread-safe.
  void close();

  const std::string& address() const { return address_; }

 private:
  struct Connection;
  struct Batch {
    std::string body;
    std::uint64_t messages = 0;
  };

  boost::asio::awaitable<void> run();
  // Writes the stream's header, then a chunk per batch until the connection breaks.
  boost::asio::awaitable<void> write_stream(std::shared_ptr<Connection> connection);
  // Waits for the answer that ends the stream (or for the connection to break).
  boost::asio::awaitable<void> read_answer(std::shared_ptr<Connection> connection);
  // Waits until `timer` is cancelled (a wake-up) or, with a duration, expires.
  static boost::asio::awaitable<void> wait(boost::asio::steady_timer& timer);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds duration);

  bool has_queued() const;
  std::optional<Batch> take_batch();
  void drop_queued();
  void break_connection(Connection& connection);
  void note_refusal(unsigned status, std::string_view body);
  void note_unreachable(const std::string& why);

  boost::asio::io_context& io_;
  const NodeId peer_;
  const std::string address_;
  const std::string batch_head_;  // the encoded cluster id every body starts with
  const PeerClientOptions options_;
  const std::shared_ptr<Counters> counters_;
  const Logger log_;

  // io thread only.
  boost::asio::steady_timer writer_wake_;  // cancelled to wake the writer
  boost::asio::steady_timer backoff_timer_;
  Connector connector_;
  std::shared_ptr<Connection> connection_;  // the current one, for close()
  bool reachable_ = true;                   // for logging changes only
  LogThrottle rejection_log_throttle_;

  std::atomic<bool> closed_{false};
  mutable std::mutex mutex_;  // guards the queue
  std::deque<std::string> queue_;
  std::uint64_t queued_bytes_ = 0;
  bool wake_posted_ = false;
};

}  // namespace raft::transport

// Sending to one peer: a bounded queue of encoded messages and one persistent,
// pipelined HTTP/1.1 connection that drains it.
//
// Two coroutines share the connection. The writer takes everything queued since its
// last write (up to max_batch_bytes) as one MessageBatch request and writes it
// without waiting for earlier responses, up to max_in_flight_requests unanswered;
// so batches grow with load and replication never waits a round trip per batch. The
// reader consumes the responses, which come back in request order, and counts each
// batch sent (2xx) or dropped.
//
// Failure policy: Raft retries everything, so nothing here retries a message. A full
// queue drops the new message; a broken connection drops the batches in flight; a
// peer that cannot be reached gets its queue dropped at each failed attempt (what
// piled up is stale by then) and is retried with exponential backoff, capped, reset
// once the peer answers a request. The connection is opened lazily, when there is
// something to send.
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
  std::size_t max_in_flight_requests = 64;  // written and not yet answered
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds response_timeout{10000};
  std::chrono::milliseconds min_backoff{25};
  std::chrono::milliseconds max_backoff{1000};
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
  boost::asio::awaitable<void> write_requests(std::shared_ptr<Connection> connection);
  boost::asio::awaitable<void> read_responses(std::shared_ptr<Connection> connection);
  // Waits until `timer` is cancelled (a wake-up) or, with a duration, expires.
  static boost::asio::awaitable<void> wait(boost::asio::steady_timer& timer);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds duration);

  bool has_queued() const;
  std::optional<Batch> take_batch();
  void drop_queued();
  void break_connection(Connection& connection);
  void note_answer(Connection& connection, unsigned status, std::string_view body,
                   std::uint64_t messages);
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

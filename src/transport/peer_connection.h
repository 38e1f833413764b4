// One persistent, pipelined HTTP/1.1 connection to a peer: requests are written back
// to back without waiting for the previous response (responses come back in order),
// so replication never waits a round trip per batch. The connection reconnects with
// capped exponential backoff; while it is down, send() refuses and the caller drops
// (Raft retries everything).
//
// All methods run on the transport's single io thread (not thread-safe).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace raft::transport {

struct PeerConnectionOptions {
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};  // a response must arrive within this
  std::chrono::milliseconds min_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
  std::size_t max_in_flight = 64;  // requests written and not yet answered
};

class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  // Called once per request: true if the peer answered 2xx.
  using Done = std::function<void(bool ok, int status)>;

  PeerConnection(boost::asio::io_context& io, std::string address, PeerConnectionOptions options);

  // Whether a request can be queued now (connected or connecting, window not full).
  bool ready() const;
  // Queues a request. REQUIRES: ready().
  void send(Request request, Done done);
  // Requests queued or written and not yet answered.
  std::size_t in_flight() const { return pending_.size() + unwritten_.size(); }
  const std::string& address() const { return address_; }
  void close();

 private:
  void connect();
  void write_next();
  void read_next();
  void fail(const std::string& why);

  boost::asio::io_context& io_;
  std::string address_;
  PeerConnectionOptions options_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer backoff_timer_;
  std::chrono::milliseconds backoff_;
  enum class State { kIdle, kConnecting, kConnected, kBackingOff, kClosed } state_ = State::kIdle;
  struct Outgoing {
    std::shared_ptr<Request> request;
    Done done;
  };
  std::deque<Outgoing> unwritten_;  // queued, not yet written
  std::deque<Done> pending_;        // written, awaiting their response, in order
  bool writing_ = false;
  bool reading_ = false;
  // Bumped per connection attempt: completions of an abandoned socket are ignored.
  std::uint64_t generation_ = 0;
};

}  // namespace raft::transport

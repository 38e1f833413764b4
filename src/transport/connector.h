// Opening a TCP connection to a peer's "host:port" within a deadline: IP literals
// connect directly; names are resolved first, and the resolution counts against the
// same deadline (a hung DNS server must not stall a peer's queue forever). Used by
// the per-peer message connection and by snapshot transfers.
//
// Not thread-safe: one connect at a time, on the io thread that owns the stream.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace raft::transport {

class Connector {
 public:
  explicit Connector(boost::asio::io_context& io);

  // Connects `stream` to `address` ("host:port"), disabling Nagle's algorithm on
  // success (requests are whole batches; waiting to coalesce them only adds latency).
  boost::asio::awaitable<boost::beast::error_code> connect(boost::beast::tcp_stream& stream,
                                                           const std::string& address,
                                                           std::chrono::milliseconds timeout);
  // Abandons a resolution in progress (the caller closes the stream itself).
  void cancel();

 private:
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer resolve_deadline_;
  std::uint64_t resolution_ = 0;  // tells a late deadline from the current one
};

}  // namespace raft::transport

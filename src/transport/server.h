// The listening side of the HTTP transport: accepts peers' connections and runs one
// session per connection, reading requests one after another (a peer pipelines them:
// many requests arrive back to back and are answered in order) and answering each
// through the handler (the Receiver).
//
// One path is a stream (StreamRoute): a chunked request that lasts as long as the
// connection, each chunk handed over as it completes and none answered. It is
// answered once, when it ends (204) or when a chunk is refused (the refusal, then the
// connection closes). Its reads carry no per-read deadline; a StallWatchdog closes a
// stream that completes no chunk within one to two idle_timeouts.
//
// Nothing a peer sends can make it crash or hang: every read and write has a
// timeout (an idle connection between requests, a request once its first byte
// arrived, a response write), every request has a header and a body limit (431 and
// 413, then the connection is closed because the rest of the request cannot be
// skipped safely), anything that does not parse as HTTP/1.1 gets 400 and a close, and
// the number of connections is bounded (more are closed on accept).
//
// Threading: everything runs on the one io thread of the io_context it is given.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "raft/result.h"
#include "src/transport/address.h"
#include "src/transport/counters.h"
#include "src/transport/http_types.h"
#include "src/transport/log.h"

namespace raft::transport {

struct ServerOptions {
  std::uint64_t max_body_bytes = 64 << 20;
  std::uint32_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds idle_timeout{120000};  // between requests
  std::chrono::milliseconds read_timeout{30000};   // one request, from its first byte
  std::chrono::milliseconds write_timeout{10000};  // one response
  std::size_t max_connections = 256;
};

class PeerServer : public std::enable_shared_from_this<PeerServer> {
 public:
  // Answers one parsed request that came on the given connection; runs on the io
  // thread and may suspend.
  using Handler =
      std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&, std::uint64_t connection)>;
  // Told when a connection closed (io thread).
  using ClosedHandler = std::function<void(std::uint64_t connection)>;

  // Requests to `path` are streams. `open` checks a stream's header, `chunk` takes
  // one complete chunk (both on the io thread, never suspending); either returns
  // nullopt to go on, or the response that refuses the stream.
  struct StreamRoute {
    std::string path;
    std::function<std::optional<HttpResponse>(const HttpRequest& header)> open;
    std::function<std::optional<HttpResponse>(const HttpRequest& header, std::string_view chunk)>
        chunk;
  };

  PeerServer(boost::asio::io_context& io, ServerOptions options, Handler handler,
             StreamRoute stream_route, ClosedHandler on_closed, std::shared_ptr<Counters> counters,
             Logger log);
  ~PeerServer();

  // Binds and listens now, on the calling thread, so that the caller of start()
  // learns at once that the port is taken. Call before start().
  Status listen(const HostPort& address);
  // The bound port (the real one when listening on port 0).
  std::uint16_t port() const { return port_; }
  // Spawns the accept loop on the io_context.
  void start();
  // Stops accepting and closes every connection. io thread only.
  void close();

 private:
  boost::asio::awaitable<void> accept_loop();
  bool is_stream_target(std::string_view target) const;
  boost::asio::awaitable<void> session(std::shared_ptr<boost::beast::tcp_stream> stream,
                                       std::uint64_t id);
  // Reads a stream's chunks until it ends; returns the response to give, or nullopt
  // when there is nobody to answer (the peer went away or stalled).
  boost::asio::awaitable<std::optional<HttpResponse>> read_stream(
      boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer,
      boost::beast::http::request_parser<boost::beast::http::string_body>& parser);
  boost::asio::awaitable<HttpResponse> answer(HttpRequest& request, std::uint64_t connection);
  boost::asio::awaitable<void> refuse(boost::beast::tcp_stream& stream, unsigned status,
                                      std::string_view reason);

  boost::asio::io_context& io_;
  ServerOptions options_;
  Handler handler_;
  StreamRoute stream_route_;
  ClosedHandler on_closed_;
  std::shared_ptr<Counters> counters_;
  Logger log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool closed_ = false;
  std::uint64_t next_session_ = 0;
  // Open connections, so close() can cut them.
  std::map<std::uint64_t, std::shared_ptr<boost::beast::tcp_stream>> sessions_;
  LogThrottle accept_error_throttle_;
};

}  // namespace raft::transport

#include "src/transport/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <optional>

#include "src/transport/stall_watchdog.h"

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kFirstReadBytes = 16 * 1024;
// How long and how much a refused request's remaining bytes are read and discarded.
constexpr std::chrono::milliseconds kLingerTime{250};
constexpr std::size_t kLingerBytes = 1 << 20;

// The answer to a request that could not be read, or nullopt when there is nobody
// to answer (the peer went away, or was too slow).
std::optional<unsigned> status_for_read_error(const beast::error_code& ec) {
  if (ec == beast_http::error::body_limit) return 413;
  if (ec == beast_http::error::header_limit) return 431;
  if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message)
    return std::nullopt;
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category())
    return 400;
  return std::nullopt;  // timeout, reset, aborted
}

}  // namespace

PeerServer::PeerServer(net::io_context& io, ServerOptions options, Handler handler,
                       StreamRoute stream_route, ClosedHandler on_closed,
                       std::shared_ptr<Counters> counters, Logger log)
    : io_(io),
      options_(options),
      handler_(std::move(handler)),
      stream_route_(std::move(stream_route)),
      on_closed_(std::move(on_closed)),
      counters_(std::move(counters)),
      log_(std::move(log)),
      acceptor_(io) {}

PeerServer::~PeerServer() = default;

Status PeerServer::listen(const HostPort& address) {
  beast::error_code ec;
  tcp::endpoint endpoint;
  const net::ip::address ip = net::ip::make_address(address.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, address.port);
  } else {
    // A name ("localhost"): resolved once, now; listening is set up before serving.
    tcp::resolver resolver(io_);
    auto results =
        resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "cannot resolve listen address " + format_host_port(address) + ": " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  const auto fail = [&](const char* what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot listen on ") +
                                                       format_host_port(address) + " (" + what +
                                                       "): " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("open");
  // A restarted node must get its port back while old connections sit in TIME_WAIT.
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (acceptor_.bind(endpoint, ec)) return fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  return Ok{};
}

void PeerServer::start() {
  net::co_spawn(io_, accept_loop(), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      self->log_(std::string("accept loop failed: ") + error.what());
    }
  });
}

void PeerServer::close() {
  closed_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, stream] : sessions_) stream->close();
}

net::awaitable<void> PeerServer::accept_loop() {
  auto self = shared_from_this();
  while (!closed_) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
    if (closed_) break;
    if (ec) {
      // Out of descriptors, most likely: pause instead of spinning on the error.
      std::uint64_t suppressed = 0;
      if (accept_error_throttle_.allow(&suppressed)) log_("accept failed: " + ec.message());
      net::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    if (sessions_.size() >= options_.max_connections) {
      Counters::add(counters_->rejected_requests, 1);
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    const std::uint64_t id = next_session_++;
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    sessions_.emplace(id, stream);
    net::co_spawn(io_, session(stream, id), [self, id](std::exception_ptr e) {
      self->sessions_.erase(id);
      if (self->on_closed_) self->on_closed_(id);
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& error) {
        self->log_(std::string("peer session failed: ") + error.what());
      }
    });
  }
}

net::awaitable<void> PeerServer::session(std::shared_ptr<beast::tcp_stream> stream,
                                         std::uint64_t id) {
  beast::flat_buffer buffer;
  while (!closed_) {
    if (buffer.size() == 0) {
      // Idle between requests: wait for the first byte of the next one with the
      // (long) idle timeout; the request itself then gets the read timeout.
      stream->expires_after(options_.idle_timeout);
      auto [ec, n] = co_await stream->async_read_some(buffer.prepare(kFirstReadBytes),
                                                      net::as_tuple(net::use_awaitable));
      if (ec) break;
      buffer.commit(n);
    }
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(options_.max_header_bytes);
    parser.body_limit(options_.max_body_bytes);
    stream->expires_after(options_.read_timeout);
    auto [ec, n] = co_await beast_http::async_read_header(*stream, buffer, parser,
                                                          net::as_tuple(net::use_awaitable));
    const bool is_stream = !ec && is_stream_target(parser.get().target());
    if (!ec && !is_stream && !parser.is_done()) {
      auto [body_ec, body_n] = co_await beast_http::async_read(*stream, buffer, parser,
                                                               net::as_tuple(net::use_awaitable));
      ec = body_ec;
    }
    if (ec) {
      if (ec != beast_http::error::end_of_stream) Counters::add(counters_->rejected_requests, 1);
      if (const std::optional<unsigned> status = status_for_read_error(ec); status && !closed_) {
        const std::string reason = ec.message();  // named: see offload.h
        co_await refuse(*stream, *status, reason);
      }
      break;
    }
    const unsigned version = parser.get().version();
    const bool keep_alive = parser.get().keep_alive();
    HttpResponse response;
    if (is_stream) {
      // The parser goes on reading the stream's chunks: its message stays inside.
      std::optional<HttpResponse> outcome = stream_route_.open(parser.get());
      if (!outcome) outcome = co_await read_stream(*stream, buffer, parser);
      if (!outcome) break;  // nobody to answer
      if (outcome->result_int() >= 300) {
        // The rest of the stream cannot be skipped: refuse, then close.
        Counters::add(counters_->rejected_requests, 1);
        if (!closed_) {
          const std::string reason = outcome->body();  // named: see offload.h
          co_await refuse(*stream, outcome->result_int(), reason);
        }
        break;
      }
      response = std::move(*outcome);
    } else {
      HttpRequest request = parser.release();
      Counters::add(counters_->bytes_received, request.body().size());
      response = co_await answer(request, id);
    }
    if (response.result_int() >= 400) Counters::add(counters_->rejected_requests, 1);
    response.version(version == 10 ? 10 : 11);
    response.keep_alive(keep_alive && !closed_);
    response.prepare_payload();
    stream->expires_after(options_.write_timeout);
    auto [write_ec, written] =
        co_await beast_http::async_write(*stream, response, net::as_tuple(net::use_awaitable));
    if (write_ec || !response.keep_alive()) break;
  }
  beast::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream->close();
}

bool PeerServer::is_stream_target(std::string_view target) const {
  return !stream_route_.path.empty() && target.substr(0, target.find('?')) == stream_route_.path;
}

net::awaitable<std::optional<HttpResponse>> PeerServer::read_stream(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    beast_http::request_parser<beast_http::string_body>& parser) {
  stream.expires_never();  // the watchdog stands in for per-read deadlines
  auto watchdog =
      std::make_shared<StallWatchdog>(io_, options_.idle_timeout, [&stream] { stream.close(); });
  watchdog->set_waiting(true);
  watchdog->start();

  std::string chunk;
  std::optional<HttpResponse> refusal;
  // The parser keeps references to these two: they live as long as the reads below.
  auto on_chunk_header = [&](std::uint64_t size, beast::string_view, beast::error_code& ec) {
    if (size > options_.max_body_bytes) {
      ec = beast_http::error::body_limit;
      return;
    }
    chunk.clear();
    chunk.reserve(size);
  };
  auto on_chunk_body = [&](std::uint64_t remain, beast::string_view piece,
                           beast::error_code& ec) -> std::size_t {
    chunk.append(piece.data(), piece.size());
    if (remain == piece.size()) {  // the chunk is complete
      watchdog->progress();
      Counters::add(counters_->bytes_received, chunk.size());
      refusal = stream_route_.chunk(parser.get(), chunk);
      if (refusal) ec = beast_http::error::bad_chunk;  // stops the parser; the peer gets `refusal`
    }
    return piece.size();
  };
  parser.body_limit(boost::none);  // the limit is per chunk: on_chunk_header
  parser.on_chunk_header(on_chunk_header);
  parser.on_chunk_body(on_chunk_body);

  beast::error_code ec;
  while (!ec && !parser.is_done()) {
    auto [read_ec, n] = co_await beast_http::async_read_some(stream, buffer, parser,
                                                             net::as_tuple(net::use_awaitable));
    ec = read_ec;
  }
  watchdog->stop();
  if (refusal) co_return refusal;
  if (!ec) co_return make_response(204);  // the sender ended the stream
  if (const std::optional<unsigned> status = status_for_read_error(ec)) {
    co_return make_response(*status, ec.message());
  }
  co_return std::nullopt;
}

net::awaitable<HttpResponse> PeerServer::answer(HttpRequest& request, std::uint64_t connection) {
  try {
    co_return co_await handler_(request, connection);
  } catch (const std::exception& e) {
    // A bug, or a node callback that threw: the peer gets 500, the node keeps going.
    log_(std::string("request to ") + std::string(request.target()) + " failed: " + e.what());
  }
  co_return make_response(500, "internal error");
}

net::awaitable<void> PeerServer::refuse(beast::tcp_stream& stream, unsigned status,
                                        std::string_view reason) {
  HttpResponse response = make_response(status, reason);
  response.keep_alive(false);
  response.prepare_payload();
  stream.expires_after(options_.write_timeout);
  auto [ec, written] =
      co_await beast_http::async_write(stream, response, net::as_tuple(net::use_awaitable));
  if (ec) co_return;
  // Lingering close: the peer may still be sending the body we refused. Closing with
  // unread data makes the kernel send a reset, which can destroy our answer before
  // the peer reads it; so stop sending, then read and discard for a short while.
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::size_t discarded = 0;
  char scratch[4096];
  while (discarded < kLingerBytes) {
    auto [read_ec, n] =
        co_await stream.async_read_some(net::buffer(scratch), net::as_tuple(net::use_awaitable));
    if (read_ec) break;
    discarded += n;
  }
}

}  // namespace raft::transport

#include "src/http/server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <mutex>
#include <set>

namespace raft::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

Response json_response(beast_http::status status, std::string body, unsigned version, bool keep_alive) {
  Response response{status, version};
  response.set(beast_http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

namespace {

class Session;

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(net::io_context& io_context, ServerOptions opts, Handler h)
      : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(net::make_strand(io_context)) {}

  void accept();
  void forget(Session* session) {
    std::lock_guard lock(mutex);
    sessions.erase(session);
  }

  net::io_context& io;
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::mutex mutex;
  std::set<Session*> sessions;  // live sessions, closed by stop()
  bool stopped = false;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Server::State> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); }); }

  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.close();
    });
  }

  ~Session() { server_->forget(this); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(server_->options.read_timeout);
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset || ec == net::error::eof) {
      return close_now();
    }
    if (ec == beast_http::error::body_limit) {
      return write(json_response(beast_http::status::payload_too_large,
                                 R"({"error":"request body too large"})", 11, false));
    }
    if (ec) {
      return write(json_response(beast_http::status::bad_request,
                                 R"({"error":"malformed HTTP request"})", 11, false));
    }
    Request request = parser_->release();
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive();
    auto self = shared_from_this();
    // The handler may answer from any thread: hop back onto this session's strand.
    Responder respond = [self, version, keep_alive](Response&& response) {
      response.version(version);
      response.keep_alive(keep_alive && response.keep_alive());
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    };
    try {
      server_->handler(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      write(json_response(beast_http::status::internal_server_error,
                          std::string(R"({"error":"internal error"})"), version, false));
    }
  }

  void write(Response&& response) {
    auto shared = std::make_shared<Response>(std::move(response));
    stream_.expires_after(server_->options.write_timeout);
    beast_http::async_write(stream_, *shared,
                            [self = shared_from_this(), shared](beast::error_code ec, std::size_t) {
                              if (ec || !shared->keep_alive()) return self->close_now();
                              self->read();
                            });
  }

  void close_now() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::shared_ptr<Server::State> server_;
};

}  // namespace

void Server::State::accept() {
  acceptor.async_accept(net::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted) return;
    } else {
      auto session = std::make_shared<Session>(std::move(socket), self);
      {
        std::lock_guard lock(self->mutex);
        if (self->stopped) return;
        self->sessions.insert(session.get());
      }
      session->start();
    }
    self->accept();
  });
}

Server::Server(net::io_context& io, ServerOptions options, Handler handler)
    : state_(std::make_shared<State>(io, std::move(options), std::move(handler))) {}

Server::~Server() { stop(); }

Status Server::start() {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(state_->options.host, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "bad listen host '" + state_->options.host + "'");
  const tcp::endpoint endpoint{address, state_->options.port};
  const std::string where = state_->options.host + ":" + std::to_string(state_->options.port);
  state_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(endpoint, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "cannot listen on " + where + ": " + ec.message());
  state_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "cannot listen on " + where + ": " + ec.message());
  state_->accept();
  return Ok{};
}

std::uint16_t Server::port() const {
  beast::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

void Server::stop() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    for (Session* s : state_->sessions) {
      // A session may be mid-destruction; shared_from_this would throw then.
      try {
        live.push_back(s->shared_from_this());
      } catch (const std::bad_weak_ptr&) {
      }
    }
  }
  net::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& session : live) session->close();
}

}  // namespace raft::http

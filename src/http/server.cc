#include "src/http/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "src/http/epoll_lane.h"
#include "src/http/server_state.h"
#include "src/http/uring_lane.h"

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

Server::State::State(net::io_context& io_context, ServerOptions opts, Handler h)
    : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(net::make_strand(io_context)) {
  backend = options.io == IoBackend::kIoUring && detail::UringLane::supported() ? IoBackend::kIoUring : IoBackend::kEpoll;
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    if (backend == IoBackend::kIoUring) {
      lanes.push_back(std::make_unique<detail::UringLane>(*this));
    } else {
      lanes.push_back(std::make_unique<detail::EpollLane>(*this));
    }
  }
}

void Server::State::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || self->stopped) return;
    if (ec) return self->pause_accepting();
    const int fd = socket.release(ec);
    if (!ec && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) {
      self->lanes[self->next_lane++ % self->lanes.size()]->adopt(fd);
    } else if (!ec) {
      ::close(fd);
    }
    self->accept();
  });
}

void Server::State::pause_accepting() {
  // Out of descriptors, most likely (EMFILE, ENFILE, ENOBUFS): the connection stays
  // in the listen backlog, and accepting again at once would fail again at once,
  // spinning this thread until a descriptor frees.
  auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor(), kAcceptRetryPause);
  timer->async_wait([self = shared_from_this(), timer](beast::error_code ec) {
    if (!ec && !self->stopped) self->accept();
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
  for (auto& lane : state_->lanes) {
    if (Status s = lane->start(); !s.ok()) return s;
  }
  state_->accept();
  return Ok{};
}

IoBackend Server::backend() const { return state_->backend; }

std::uint64_t Server::wakeups() const {
  std::uint64_t total = 0;
  for (const auto& lane : state_->lanes) total += lane->wakeups();
  return total;
}

const char* to_string(IoBackend backend) { return backend == IoBackend::kIoUring ? "io_uring" : "epoll"; }

std::uint16_t Server::port() const {
  beast::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

void Server::stop() {
  if (state_->stopped.exchange(true)) return;
  net::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (auto& lane : state_->lanes) lane->stop();
}

}  // namespace raft::http

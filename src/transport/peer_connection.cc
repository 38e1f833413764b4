#include "src/transport/peer_connection.h"

#include <boost/asio/ip/tcp.hpp>

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

PeerConnection::PeerConnection(net::io_context& io, std::string address, PeerConnectionOptions options)
    : io_(io), address_(std::move(address)), options_(options), backoff_timer_(io), backoff_(options.min_backoff) {}

bool PeerConnection::ready() const {
  return state_ != State::kClosed && state_ != State::kBackingOff &&
         pending_.size() + unwritten_.size() < options_.max_in_flight;
}

void PeerConnection::send(Request request, Done done) {
  unwritten_.push_back(Outgoing{std::make_shared<Request>(std::move(request)), std::move(done)});
  if (state_ == State::kIdle) return connect();
  if (state_ == State::kConnected) write_next();
}

void PeerConnection::connect() {
  state_ = State::kConnecting;
  const std::size_t colon = address_.rfind(':');
  beast::error_code ec;
  const auto ip = net::ip::make_address(address_.substr(0, colon), ec);
  if (colon == std::string::npos || ec) return fail("bad peer address " + address_);
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(std::stoi(address_.substr(colon + 1))));
  stream_ = std::make_unique<beast::tcp_stream>(io_);
  stream_->expires_after(options_.connect_timeout);
  const std::uint64_t generation = ++generation_;
  writing_ = reading_ = false;
  buffer_.clear();
  stream_->async_connect(endpoint, [self = shared_from_this(), generation](beast::error_code connect_ec) {
    if (self->generation_ != generation || self->state_ != State::kConnecting) return;
    if (connect_ec) return self->fail(connect_ec.message());
    self->stream_->socket().set_option(tcp::no_delay(true));
    self->state_ = State::kConnected;
    self->backoff_ = self->options_.min_backoff;
    self->write_next();
  });
}

void PeerConnection::write_next() {
  if (writing_ || unwritten_.empty() || state_ != State::kConnected) return;
  writing_ = true;
  Outgoing out = std::move(unwritten_.front());
  unwritten_.pop_front();
  auto request = out.request;
  pending_.push_back(std::move(out.done));
  stream_->expires_after(options_.request_timeout);
  const std::uint64_t generation = generation_;
  bhttp::async_write(*stream_, *request, [self = shared_from_this(), request, generation](beast::error_code ec, std::size_t) {
    if (self->generation_ != generation) return;
    self->writing_ = false;
    if (self->state_ != State::kConnected) return;
    if (ec) return self->fail(ec.message());
    self->read_next();
    self->write_next();  // pipelining: the next request goes out before this answer
  });
}

void PeerConnection::read_next() {
  if (reading_ || pending_.empty() || state_ != State::kConnected) return;
  reading_ = true;
  parser_ = std::make_unique<bhttp::response_parser<bhttp::string_body>>();
  parser_->body_limit(1 << 20);
  const std::uint64_t generation = generation_;
  bhttp::async_read(*stream_, buffer_, *parser_, [self = shared_from_this(), generation](beast::error_code ec, std::size_t) {
    if (self->generation_ != generation) return;
    self->reading_ = false;
    if (self->state_ != State::kConnected) return;
    if (ec) return self->fail(ec.message());
    const int status = self->parser_->get().result_int();
    const bool keep_alive = self->parser_->get().keep_alive();
    Done done = std::move(self->pending_.front());
    self->pending_.pop_front();
    done(status >= 200 && status < 300, status);
    if (!keep_alive) return self->fail("peer closed the connection");
    if (self->pending_.empty() && self->unwritten_.empty()) {
      self->stream_->expires_never();  // idle: keep the connection open
    } else {
      self->stream_->expires_after(self->options_.request_timeout);
    }
    self->read_next();
  });
}

void PeerConnection::fail(const std::string&) {
  if (state_ == State::kClosed) return;
  ++generation_;
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().close(ignored);
  }
  // Everything written or queued is lost: Raft resends what matters.
  std::deque<Done> lost = std::move(pending_);
  pending_.clear();
  for (Outgoing& out : unwritten_) lost.push_back(std::move(out.done));
  unwritten_.clear();
  state_ = State::kBackingOff;
  for (Done& done : lost) done(false, 0);
  backoff_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  backoff_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ != State::kBackingOff) return;
    self->state_ = State::kIdle;
  });
}

void PeerConnection::close() {
  state_ = State::kClosed;
  backoff_timer_.cancel();
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().close(ignored);
  }
  std::deque<Done> lost = std::move(pending_);
  pending_.clear();
  for (Outgoing& out : unwritten_) lost.push_back(std::move(out.done));
  unwritten_.clear();
  for (Done& done : lost) done(false, 0);
}

}  // namespace raft::transport

#include "src/transport/peer_client.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <vector>

#include "src/transport/codec.h"
#include "src/transport/http_types.h"

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

// Responses carry at most a short reason.
constexpr std::uint64_t kMaxResponseBodyBytes = 64 * 1024;

void log_exception(const Logger& log, const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& error) {
    log(std::string(what) + ": " + error.what());
  }
}

}  // namespace

struct PeerClient::Connection {
  explicit Connection(net::io_context& io) : stream(io), reader_wake(io) {}

  beast::tcp_stream stream;
  beast::flat_buffer buffer;            // the reader's
  net::steady_timer reader_wake;        // cancelled when a request goes out
  std::deque<std::uint64_t> in_flight;  // message counts of unanswered requests, oldest first
  bool broken = false;
  bool answered = false;  // the peer answered at least one request
  std::string why;        // why it broke, for the log
};

PeerClient::PeerClient(net::io_context& io, NodeId peer, std::string address,
                       std::uint64_t cluster_id, PeerClientOptions options,
                       std::shared_ptr<Counters> counters, Logger log)
    : io_(io),
      peer_(peer),
      address_(std::move(address)),
      batch_head_(encode_batch_head(cluster_id)),
      options_(options),
      counters_(std::move(counters)),
      log_(std::move(log)),
      writer_wake_(io),
      backoff_timer_(io),
      connector_(io) {}

PeerClient::~PeerClient() = default;

void PeerClient::start() {
  net::co_spawn(io_, run(), [self = shared_from_this()](std::exception_ptr e) {
    log_exception(self->log_, "peer sender failed", e);
    self->drop_queued();
  });
}

bool PeerClient::enqueue(std::string&& element) {
  bool post_wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || queue_.size() >= options_.max_queued_messages ||
        queued_bytes_ + element.size() > options_.max_queued_bytes) {
      Counters::add(counters_->messages_dropped, 1);
      return false;
    }
    queued_bytes_ += element.size();
    queue_.push_back(std::move(element));
    // One wake-up in the io queue at a time is enough: the writer takes everything.
    post_wake = !wake_posted_;
    wake_posted_ = true;
  }
  if (post_wake) {
    net::post(io_, [self = shared_from_this()] {
      {
        std::lock_guard lock(self->mutex_);
        self->wake_posted_ = false;
      }
      self->writer_wake_.cancel();
    });
  }
  return true;
}

void PeerClient::close() {
  if (closed_.exchange(true)) return;
  drop_queued();
  net::post(io_, [self = shared_from_this()] {
    self->writer_wake_.cancel();
    self->backoff_timer_.cancel();
    self->connector_.cancel();
    if (self->connection_) self->break_connection(*self->connection_);
  });
}

bool PeerClient::has_queued() const {
  std::lock_guard lock(mutex_);
  return !queue_.empty();
}

std::optional<PeerClient::Batch> PeerClient::take_batch() {
  std::vector<std::string> elements;
  std::uint64_t bytes = batch_head_.size();
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty()) {
      const std::size_t size = queue_.front().size();
      if (!elements.empty() && bytes + size > options_.max_batch_bytes) break;
      bytes += size;
      queued_bytes_ -= size;
      elements.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (elements.empty()) return std::nullopt;
  // Concatenated outside the lock, so enqueue() never waits for a copy.
  Batch batch;
  batch.body.reserve(bytes);
  batch.body = batch_head_;
  for (const std::string& element : elements) batch.body += element;
  batch.messages = elements.size();
  return batch;
}

void PeerClient::drop_queued() {
  std::lock_guard lock(mutex_);
  Counters::add(counters_->messages_dropped, queue_.size());
  queue_.clear();
  queued_bytes_ = 0;
}

net::awaitable<void> PeerClient::wait(net::steady_timer& timer) {
  timer.expires_at(net::steady_timer::time_point::max());
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

net::awaitable<void> PeerClient::sleep(std::chrono::milliseconds duration) {
  backoff_timer_.expires_after(duration);
  co_await backoff_timer_.async_wait(net::as_tuple(net::use_awaitable));
}

net::awaitable<void> PeerClient::run() {
  auto self = shared_from_this();
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (!closed_) {
    if (!has_queued()) {
      co_await wait(writer_wake_);
      continue;
    }
    auto connection = std::make_shared<Connection>(io_);
    connection_ = connection;
    const beast::error_code ec =
        co_await connector_.connect(connection->stream, address_, options_.connect_timeout);
    if (closed_) break;
    if (ec) {
      connection_.reset();
      note_unreachable(ec.message());
      drop_queued();  // stale by the next attempt; Raft sends fresh ones
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    net::co_spawn(io_, read_responses(connection), [self](std::exception_ptr e) {
      log_exception(self->log_, "peer response reader failed", e);
    });
    co_await write_requests(connection);
    break_connection(*connection);
    connection_.reset();
    if (closed_) break;
    if (connection->answered) {
      if (!connection->why.empty()) {
        log_("connection to node " + std::to_string(peer_) + " at " + address_ +
             " lost: " + connection->why);
      }
      backoff = options_.min_backoff;
    } else {
      // Connected but never answered: do not hammer a peer that accepts and hangs up.
      note_unreachable(connection->why);
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  drop_queued();
}

net::awaitable<void> PeerClient::write_requests(std::shared_ptr<Connection> connection) {
  for (;;) {
    if (closed_ || connection->broken) co_return;
    if (connection->in_flight.size() >= options_.max_in_flight_requests || !has_queued()) {
      co_await wait(writer_wake_);
      continue;
    }
    std::optional<Batch> batch = take_batch();
    if (!batch) continue;
    HttpRequest request{beast_http::verb::post, std::string(kMessagesPath), 11};
    request.set(beast_http::field::host, address_);
    request.set(beast_http::field::content_type, kProtobufContentType);
    request.keep_alive(true);
    request.body() = std::move(batch->body);
    request.prepare_payload();
    const std::size_t bytes = request.body().size();
    connection->in_flight.push_back(batch->messages);
    connection->reader_wake.cancel();
    connection->stream.expires_after(options_.write_timeout);
    auto [ec, written] = co_await beast_http::async_write(connection->stream, request,
                                                          net::as_tuple(net::use_awaitable));
    if (ec) {
      if (connection->why.empty()) connection->why = "writing a request: " + ec.message();
      co_return;
    }
    Counters::add(counters_->bytes_sent, bytes);
  }
}

net::awaitable<void> PeerClient::read_responses(std::shared_ptr<Connection> connection) {
  auto self = shared_from_this();
  while (!closed_ && !connection->broken) {
    if (connection->in_flight.empty()) {
      co_await wait(connection->reader_wake);
      continue;
    }
    beast_http::response_parser<beast_http::string_body> parser;
    parser.body_limit(kMaxResponseBodyBytes);
    connection->stream.expires_after(options_.response_timeout);
    auto [ec, n] = co_await beast_http::async_read(connection->stream, connection->buffer, parser,
                                                   net::as_tuple(net::use_awaitable));
    if (closed_ || connection->broken) break;
    if (ec) {
      connection->why = "reading a response: " + ec.message();
      break;
    }
    const std::uint64_t messages = connection->in_flight.front();
    connection->in_flight.pop_front();
    note_answer(*connection, parser.get().result_int(), parser.get().body(), messages);
    writer_wake_.cancel();  // the window has room again
    if (!parser.get().keep_alive()) {
      connection->why = "the peer closed the connection";
      break;
    }
  }
  break_connection(*connection);
}

void PeerClient::break_connection(Connection& connection) {
  connection.broken = true;
  beast::error_code ignored;
  connection.stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  connection.stream.close();
  connection.reader_wake.cancel();
  std::uint64_t lost = 0;
  for (std::uint64_t messages : connection.in_flight) lost += messages;
  connection.in_flight.clear();
  Counters::add(counters_->messages_dropped, lost);
  writer_wake_.cancel();
}

void PeerClient::note_answer(Connection& connection, unsigned status, std::string_view body,
                             std::uint64_t messages) {
  connection.answered = true;
  if (!reachable_) {
    reachable_ = true;
    log_("node " + std::to_string(peer_) + " at " + address_ + " answers again");
  }
  if (status >= 200 && status < 300) {
    Counters::add(counters_->messages_sent, messages);
    return;
  }
  Counters::add(counters_->messages_dropped, messages);
  std::uint64_t suppressed = 0;
  if (!rejection_log_throttle_.allow(&suppressed)) return;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  std::string line = "node " + std::to_string(peer_) + " at " + address_ + " refused " +
                     std::to_string(messages) + " messages: " + std::to_string(status) + " " +
                     std::string(body.substr(0, 200));
  if (status == 403) line += " (is this node's peer list pointing at another cluster?)";
  if (suppressed > 0) line += " (" + std::to_string(suppressed) + " similar refusals not logged)";
  log_(line);
}

void PeerClient::note_unreachable(const std::string& why) {
  if (!reachable_) return;
  reachable_ = false;
  log_("cannot reach node " + std::to_string(peer_) + " at " + address_ + ": " + why +
       "; its messages are dropped until it answers");
}

}  // namespace raft::transport

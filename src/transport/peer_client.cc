#include "src/transport/peer_client.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <vector>

#include "src/transport/codec.h"
#include "src/transport/http_types.h"
#include "src/transport/stall_watchdog.h"

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

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
  explicit Connection(net::io_context& io) : stream(io) {}

  beast::tcp_stream stream;                 // without deadlines once connected: see `watchdog`
  beast::flat_buffer buffer;                // the reader's
  std::shared_ptr<StallWatchdog> watchdog;  // breaks the connection when a write stalls
  std::chrono::steady_clock::time_point opened;
  bool broken = false;
  bool refused = false;  // the peer answered the stream with a refusal
  std::string why;       // why it broke, for the log
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
  // On the io thread (a transport running on its node's loop) the writer is woken
  // right here: it then writes before any task the caller posts after this send,
  // such as a node's own log write that should follow its appends onto the wire.
  const bool on_io_thread = io_.get_executor().running_in_this_thread();
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
    post_wake = !on_io_thread && !wake_posted_;
    if (post_wake) wake_posted_ = true;
  }
  if (on_io_thread) {
    writer_wake_.cancel();
  } else if (post_wake) {
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
    connection->stream.expires_never();
    connection->opened = std::chrono::steady_clock::now();
    connection->watchdog = std::make_shared<StallWatchdog>(
        io_, options_.write_timeout,
        [weak_self = weak_from_this(), weak_connection = std::weak_ptr(connection)] {
          auto client = weak_self.lock();
          auto stalled = weak_connection.lock();
          if (!client || !stalled) return;
          if (stalled->why.empty()) stalled->why = "a write made no progress";
          client->break_connection(*stalled);
        });
    connection->watchdog->start();
    net::co_spawn(io_, read_answer(connection), [self](std::exception_ptr e) {
      log_exception(self->log_, "peer stream reader failed", e);
    });
    co_await write_stream(connection);
    break_connection(*connection);
    connection_.reset();
    if (closed_) break;
    // A stream that lived a while broke for a reason of the moment: reconnect at once.
    // One refused or cut short must not turn into a reconnection loop.
    const bool lived =
        std::chrono::steady_clock::now() - connection->opened >= options_.max_backoff;
    if (lived && !connection->refused) {
      if (!connection->why.empty()) {
        log_("connection to node " + std::to_string(peer_) + " at " + address_ +
             " lost: " + connection->why);
      }
      backoff = options_.min_backoff;
    } else {
      // What queued for a peer that hung up at once is stale by the next attempt; a
      // refusal concerned one batch, and later messages may well be accepted.
      if (!connection->refused) {
        note_unreachable(connection->why);
        drop_queued();
      }
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  drop_queued();
}

net::awaitable<void> PeerClient::write_stream(std::shared_ptr<Connection> connection) {
  beast_http::request<beast_http::empty_body> header{beast_http::verb::post,
                                                     std::string(kStreamPath), 11};
  header.set(beast_http::field::host, address_);
  header.set(beast_http::field::content_type, kProtobufContentType);
  if (!options_.sender_address.empty()) header.set(kSenderAddressHeader, options_.sender_address);
  header.chunked(true);
  beast_http::request_serializer<beast_http::empty_body> serializer(header);
  connection->watchdog->set_waiting(true);
  auto [header_ec, header_bytes] = co_await beast_http::async_write_header(
      connection->stream, serializer, net::as_tuple(net::use_awaitable));
  connection->watchdog->set_waiting(false);
  if (header_ec) {
    if (connection->why.empty())
      connection->why = "writing the stream header: " + header_ec.message();
    co_return;
  }
  for (;;) {
    if (closed_ || connection->broken) co_return;
    if (!has_queued()) {
      co_await wait(writer_wake_);
      continue;
    }
    std::optional<Batch> batch = take_batch();
    if (!batch) continue;
    connection->watchdog->set_waiting(true);
    auto [ec, written] = co_await net::async_write(connection->stream,
                                                   beast_http::make_chunk(net::buffer(batch->body)),
                                                   net::as_tuple(net::use_awaitable));
    connection->watchdog->progress();
    connection->watchdog->set_waiting(false);
    if (ec) {
      Counters::add(counters_->messages_dropped, batch->messages);
      if (connection->why.empty()) connection->why = "writing a batch: " + ec.message();
      co_return;
    }
    Counters::add(counters_->messages_sent, batch->messages);
    Counters::add(counters_->bytes_sent, batch->body.size());
    if (!reachable_) {
      reachable_ = true;
      log_("node " + std::to_string(peer_) + " at " + address_ + " is reachable again");
    }
  }
}

net::awaitable<void> PeerClient::read_answer(std::shared_ptr<Connection> connection) {
  auto self = shared_from_this();
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(kMaxResponseBodyBytes);
  auto [ec, n] = co_await beast_http::async_read(connection->stream, connection->buffer, parser,
                                                 net::as_tuple(net::use_awaitable));
  if (!closed_ && !connection->broken && connection->why.empty()) {
    const unsigned status = parser.get().result_int();
    if (ec == beast_http::error::end_of_stream) {
      connection->why = "the peer closed the connection";
    } else if (ec) {
      connection->why = "reading from the stream: " + ec.message();
    } else if (status >= 300) {
      connection->refused = true;
      connection->why = "refused with " + std::to_string(status);
      note_refusal(status, parser.get().body());
    } else {
      connection->why = "the peer ended the stream";
    }
  }
  break_connection(*connection);
}

void PeerClient::break_connection(Connection& connection) {
  if (connection.broken) return;
  connection.broken = true;
  if (connection.watchdog) connection.watchdog->stop();
  beast::error_code ignored;
  connection.stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  connection.stream.close();
  writer_wake_.cancel();
}

void PeerClient::note_refusal(unsigned status, std::string_view body) {
  std::uint64_t suppressed = 0;
  if (!rejection_log_throttle_.allow(&suppressed)) return;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  std::string line = "node " + std::to_string(peer_) + " at " + address_ +
                     " refused the message stream: " + std::to_string(status) + " " +
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

#include "src/http/lane.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <climits>
#include <cstring>
#include <future>

#include "src/http/server_state.h"
#include "src/util/thread_name.h"

namespace raft::http::detail {

namespace beast = boost::beast;

namespace {

// The answer as it goes on the wire, in one contiguous buffer: one send, and none of
// the per-field buffer sequence the generic serializer walks (a visible cost in
// raftd's profile at tens of thousands of answers a second).
void wire_bytes(Response& response, std::string& out) {
  response.prepare_payload();
  const std::string& body = response.body();
  out.clear();
  out.reserve(256 + body.size());
  out += response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(response.result_int());
  out += ' ';
  const beast::string_view reason = response.reason();
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& field : response) {
    out.append(field.name_string().data(), field.name_string().size());
    out += ": ";
    out.append(field.value().data(), field.value().size());
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
}

// The wake-ups held by this thread's open AnswerBatch scopes: one connection per
// lane, which keeps its server, and so the lane, alive until the wake-up goes out.
struct HeldWakes {
  int depth = 0;
  std::vector<std::shared_ptr<Connection>> lanes;
};
thread_local HeldWakes held_wakes;

}  // namespace

Lane::Lane(const Server::State& server)
    : server_(server),
      sweep_interval_(std::clamp<Clock::duration>(std::min(server.options.read_timeout, server.options.write_timeout) / 4,
                                                  std::chrono::milliseconds(5), std::chrono::seconds(1))) {}

Lane::~Lane() {
  stop();
  for (int fd : incoming_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Lane::start() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: cannot create an eventfd: ") + std::strerror(errno));
  }
  // open() runs on the lane's thread: io_uring ties a ring to the thread that made it
  // (its completions interrupt that thread's blocking calls), so it must be ours.
  std::promise<Status> opened;
  std::future<Status> result = opened.get_future();
  thread_ = std::thread([this, &opened] {
    util::name_this_thread("http-lane");
    Status status = open();
    const bool ok = status.ok();
    opened.set_value(std::move(status));
    if (ok) run();
  });
  Status status = result.get();
  if (!status.ok()) thread_.join();
  return status;
}

void Lane::wake_if_asleep() {
  if (!asleep_.exchange(false)) return;
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(wake_fd_, &one, sizeof one);  // cannot fail short of EBADF
}

void Lane::adopt(int fd) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    incoming_.push_back(fd);
  }
  wake_if_asleep();
}

void Lane::deliver(std::shared_ptr<Connection> connection, Response&& response) {
  if (held_wakes.depth > 0 && std::none_of(held_wakes.lanes.begin(), held_wakes.lanes.end(),
                                           [this](const auto& c) { return &c->lane == this; })) {
    held_wakes.lanes.push_back(connection);
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    outbox_.emplace_back(std::move(connection), std::move(response));
  }
  // Outside the lock: the woken lane takes the lock first thing.
  if (held_wakes.depth == 0) wake_if_asleep();
}

void Lane::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    outbox_.clear();
  }
  asleep_ = true;  // make sure the wake goes out even if the lane is busy
  wake_if_asleep();
  if (thread_.joinable()) thread_.join();
}

void Lane::run() {
  std::vector<std::pair<std::shared_ptr<Connection>, Response>> answers;
  std::vector<int> adopted;
  for (;;) {
    bool worked;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      answers.swap(outbox_);
      adopted.swap(incoming_);
      worked = !answers.empty() || !adopted.empty();
      asleep_ = !worked;  // whoever queues next sees it and wakes us
    }
    int timeout = timeout_ms();
    if (worked) {
      for (int fd : adopted) register_connection(fd);
      adopted.clear();
      for (auto& [connection, response] : answers) answer(*connection, std::move(response));
      answers.clear();
      // More queued meanwhile: only poll the sockets, so a steady stream of answers
      // cannot starve the reads. Nothing queued: sleep until an event or a wake-up.
      std::lock_guard lock(mutex_);
      if (outbox_.empty() && incoming_.empty()) {
        asleep_ = true;
      } else {
        timeout = 0;
      }
    }
    poll(timeout);
    if (now_ >= next_sweep_) sweep();
  }
  shut_down();
}

void Lane::woke() {
  asleep_ = false;
  now_ = Clock::now();
}

int Lane::timeout_ms() const {
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - Clock::now()).count();
  return int(std::clamp<std::int64_t>(wait, 0, INT_MAX));
}

void Lane::register_connection(int fd) {
  auto connection = std::make_shared<Connection>(next_id_++, *this, fd);
  connection->server = server_.shared_from_this();
  if (!watch(*connection)) return;  // the destructor closes fd
  connections_.emplace(connection->id, connection);
  start_request(*connection);
}

// Feeds bytes to the parser; the ones it cannot take yet (an incomplete header, or the
// next pipelined request) wait in `unparsed`.
void Lane::received(Connection& connection, const char* data, std::size_t size) {
  std::string held;
  if (!connection.unparsed.empty()) {
    held = std::move(connection.unparsed);
    if (size != 0) held.append(data, size);
    data = held.data();
    size = held.size();
  }
  connection.unparsed.clear();
  std::size_t used = 0;
  while (used < size && connection.phase == Connection::Phase::kReading) {
    beast::error_code ec;
    used += connection.parser->put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == beast_http::error::need_more) break;
    if (ec == beast_http::error::body_limit) {
      connection.phase = Connection::Phase::kAnswering;
      return answer(connection, json_response(beast_http::status::payload_too_large,
                                              R"({"error":"request body too large"})", 11, false));
    }
    if (ec) {
      connection.phase = Connection::Phase::kAnswering;
      return answer(connection, json_response(beast_http::status::bad_request,
                                              R"({"error":"malformed HTTP request"})", 11, false));
    }
    if (connection.parser->is_done()) {
      connection.unparsed.assign(data + used, size - used);
      return dispatch(connection);
    }
  }
  connection.unparsed.assign(data + used, size - used);
}

void Lane::dispatch(Connection& connection) {
  Request request = connection.parser->release();
  connection.parser.reset();
  connection.phase = Connection::Phase::kAnswering;
  connection.deadline = Clock::time_point::max();  // the handler has the request deadline
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  // The handler may answer from any thread: the answer goes through the lane.
  Responder respond = [self = connections_.at(connection.id), version, keep_alive](Response&& response) {
    response.version(version);
    response.keep_alive(keep_alive && response.keep_alive());
    self->lane.deliver(self, std::move(response));
  };
  try {
    server_.handler(std::move(request), std::move(respond));
  } catch (const std::exception&) {
    answer(connection, json_response(beast_http::status::internal_server_error,
                                     std::string(R"({"error":"internal error"})"), version, false));
  }
}

void Lane::answer(Connection& connection, Response&& response) {
  // A connection closed meanwhile, or a second answer to one request, is dropped.
  if (connection.fd < 0 || connection.phase != Connection::Phase::kAnswering) return;
  connection.close_after_write = !response.keep_alive();
  wire_bytes(response, connection.out);
  connection.out_sent = 0;
  connection.phase = Connection::Phase::kWriting;
  connection.deadline = now_ + server_.options.write_timeout;
  want_write(connection);
}

void Lane::written(Connection& connection) {
  if (connection.close_after_write) {
    ::shutdown(connection.fd, SHUT_WR);
    return close(connection);
  }
  start_request(connection);
}

void Lane::start_request(Connection& connection) {
  connection.phase = Connection::Phase::kReading;
  connection.parser.emplace();
  connection.parser->eager(true);
  connection.parser->body_limit(server_.options.body_limit_bytes);
  connection.parser->header_limit(64 * 1024);
  connection.deadline = now_ + server_.options.read_timeout;
  if (!connection.unparsed.empty()) received(connection, nullptr, 0);  // a pipelined request
  if (connection.phase == Connection::Phase::kReading) want_read(connection);
}

// Closes the connections whose read or write outlived its timeout.
void Lane::sweep() {
  std::vector<std::shared_ptr<Connection>> expired;
  for (const auto& [id, connection] : connections_) {
    if (connection->deadline <= now_) expired.push_back(connection);
  }
  for (const auto& connection : expired) close(*connection);
  next_sweep_ = now_ + sweep_interval_;
}

}  // namespace raft::http::detail

namespace raft::http {

AnswerBatch::AnswerBatch() {
  ++detail::held_wakes.depth;
}

AnswerBatch::~AnswerBatch() {
  if (--detail::held_wakes.depth > 0) return;
  std::vector<std::shared_ptr<detail::Connection>> lanes = std::move(detail::held_wakes.lanes);
  detail::held_wakes.lanes.clear();
  for (const auto& connection : lanes) connection->lane.wake_if_asleep();
}

}  // namespace raft::http

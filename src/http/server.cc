#include "src/http/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "src/util/thread_name.h"

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

using Clock = std::chrono::steady_clock;

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

class Lane;

// One client connection. Every field but `id`, `lane` and `server` belongs to the lane
// thread; other threads only hold the pointer, to hand an answer back to the lane.
struct Connection {
  Connection(std::uint64_t connection_id, Lane& owner, int socket) : id(connection_id), lane(owner), fd(socket) {}
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }

  // kReading: parsing a request. kAnswering: the handler has it, no bytes are read.
  // kWriting: the answer is going out; the next request is read once it has.
  enum class Phase { kReading, kAnswering, kWriting };

  const std::uint64_t id;
  Lane& lane;
  // Keeps the lanes alive for an answer given after the server is gone (dropped then).
  std::shared_ptr<const Server::State> server;
  int fd;  // -1 once closed
  Phase phase = Phase::kReading;
  // False only when a receive came back short (or empty) and no readiness edge has
  // come since: the socket is then known to be drained, so the next read waits for
  // epoll instead of trying a receive that would fail with EAGAIN.
  bool maybe_readable = true;
  bool hung_up = false;  // the client shut its side (or the socket failed): read to the end
  std::string unparsed;  // bytes received but not yet taken by the parser
  std::optional<beast_http::request_parser<beast_http::string_body>> parser;
  std::string out;  // the answer being written
  std::size_t out_sent = 0;
  bool close_after_write = false;
  Clock::time_point deadline = Clock::time_point::max();  // of the pending read or write
};

// One thread, its epoll set and its connections (see server.h). The lane's own code
// runs on its thread; adopt(), deliver() and stop() are the only entries from others.
class Lane {
 public:
  explicit Lane(const Server::State& server);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  Status start();
  // Any thread: hand over an accepted, non-blocking socket.
  void adopt(int fd);
  // Any thread: queue an answer. The lane is woken only if it sleeps in epoll_wait
  // and nobody has woken it yet: one wake-up per batch of answers, none while busy.
  void deliver(std::shared_ptr<Connection> connection, Response&& response);
  // Any thread but this lane's: close every connection and join the thread.
  void stop();

 private:
  void run();
  void wake_if_asleep();
  void register_connection(int fd);
  void on_event(const epoll_event& event);
  void read_requests(Connection& connection);
  void parse(Connection& connection, const char* data, std::size_t size);
  void dispatch(Connection& connection);
  void answer(Connection& connection, Response&& response);
  void write_pending(Connection& connection);
  void start_request(Connection& connection);
  void close(Connection& connection);
  void sweep();
  int epoll_timeout_ms() const;

  static constexpr std::uint64_t kWakeId = 0;  // the eventfd's tag in the epoll set

  const Server::State& server_;  // its options and handler
  const Clock::duration sweep_interval_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;

  std::mutex mutex_;  // guards the three below
  std::vector<std::pair<std::shared_ptr<Connection>, Response>> outbox_;
  std::vector<int> incoming_;
  bool stopping_ = false;
  // Set under mutex_ once the queues were seen empty, just before epoll_wait; whoever
  // queues next clears it and writes the eventfd. So a busy lane is never woken.
  std::atomic<bool> asleep_{false};

  // Lane thread only.
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = kWakeId + 1;
  Clock::time_point now_ = Clock::now();  // as of the last wake-up: deadlines need no finer clock
  Clock::time_point next_sweep_ = now_;
  std::vector<char> read_buffer_ = std::vector<char>(64 * 1024);
};

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(net::io_context& io_context, ServerOptions opts, Handler h)
      : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(net::make_strand(io_context)) {
    for (int i = 0; i < std::max(1, options.threads); ++i) lanes.push_back(std::make_unique<Lane>(*this));
  }

  void accept();
  void pause_accepting();  // after a failed accept: try again in kAcceptRetryPause

  static constexpr std::chrono::milliseconds kAcceptRetryPause{50};

  net::io_context& io;
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::vector<std::unique_ptr<Lane>> lanes;
  std::size_t next_lane = 0;  // round robin; the accept chain only
  std::atomic<bool> stopped{false};
};

namespace {

Lane::Lane(const Server::State& server)
    : server_(server),
      sweep_interval_(std::clamp<Clock::duration>(std::min(server.options.read_timeout, server.options.write_timeout) / 4,
                                                  std::chrono::milliseconds(5), std::chrono::seconds(1))) {}

Lane::~Lane() {
  stop();
  for (int fd : incoming_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status Lane::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: cannot create its epoll set: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered: stays ready until run() reads it
  event.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: epoll_ctl: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] {
    util::name_this_thread("http-lane");
    run();
  });
  return Ok{};
}

void Lane::wake_if_asleep() {
  if (!asleep_.exchange(false)) return;
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
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    outbox_.emplace_back(std::move(connection), std::move(response));
  }
  // Outside the lock: the woken lane takes the lock first thing.
  wake_if_asleep();
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
  std::vector<epoll_event> events(128);
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
    int timeout = epoll_timeout_ms();
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
    const int ready = ::epoll_wait(epoll_fd_, events.data(), int(events.size()), timeout);
    asleep_ = false;
    now_ = Clock::now();
    for (int i = 0; i < ready; ++i) on_event(events[std::size_t(i)]);
    if (now_ >= next_sweep_) sweep();
  }
  for (auto& [id, connection] : connections_) {
    if (connection->fd >= 0) ::close(connection->fd);
    connection->fd = -1;
  }
  connections_.clear();
}

int Lane::epoll_timeout_ms() const {
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - Clock::now()).count();
  return int(std::clamp<std::int64_t>(wait, 0, INT_MAX));
}

void Lane::register_connection(int fd) {
  auto connection = std::make_shared<Connection>(next_id_++, *this, fd);
  connection->server = server_.shared_from_this();
  // Edge-triggered, registered once for the connection's life: no epoll_ctl per request.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = connection->id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return;  // the destructor closes fd
  connections_.emplace(connection->id, connection);
  start_request(*connection);
}

void Lane::on_event(const epoll_event& event) {
  if (event.data.u64 == kWakeId) {
    std::uint64_t count;
    [[maybe_unused]] const ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
    return;
  }
  const auto found = connections_.find(event.data.u64);
  if (found == connections_.end()) return;  // closed earlier in this batch
  const std::shared_ptr<Connection> connection = found->second;
  if (event.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) connection->hung_up = true;
  if (event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    connection->maybe_readable = true;
    if (connection->phase == Connection::Phase::kReading) read_requests(*connection);
  }
  if ((event.events & (EPOLLOUT | EPOLLERR)) && connection->phase == Connection::Phase::kWriting) {
    write_pending(*connection);
  }
}

// Reads while a request is wanted and bytes may be waiting. A receive that fills less
// than the buffer has drained the socket (TCP hands over all it has), and the next
// arrival raises a new edge; so no receive is spent to learn that nothing is left.
// Except after a hang-up: its edge may have come with the data, and the end of the
// stream is only learnt by reading on.
void Lane::read_requests(Connection& connection) {
  while (connection.phase == Connection::Phase::kReading && connection.maybe_readable && connection.fd >= 0) {
    const ssize_t n = ::recv(connection.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        connection.maybe_readable = false;
        return;
      }
      return close(connection);  // reset by the client
    }
    if (n == 0) return close(connection);  // the client is done (mid-request or not)
    if (std::size_t(n) < read_buffer_.size() && !connection.hung_up) connection.maybe_readable = false;
    parse(connection, read_buffer_.data(), std::size_t(n));
  }
}

// Feeds bytes to the parser; the ones it cannot take yet (an incomplete header, or the
// next pipelined request) wait in `unparsed`.
void Lane::parse(Connection& connection, const char* data, std::size_t size) {
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
    used += connection.parser->put(net::buffer(data + used, size - used), ec);
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
  write_pending(connection);
}

void Lane::write_pending(Connection& connection) {
  while (connection.out_sent < connection.out.size()) {
    const ssize_t n = ::send(connection.fd, connection.out.data() + connection.out_sent,
                             connection.out.size() - connection.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT resumes it
      return close(connection);
    }
    connection.out_sent += std::size_t(n);
  }
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
  if (!connection.unparsed.empty()) parse(connection, nullptr, 0);  // a pipelined request
  read_requests(connection);
}

void Lane::close(Connection& connection) {
  if (connection.fd < 0) return;
  ::close(connection.fd);  // also leaves the epoll set
  connection.fd = -1;
  connections_.erase(connection.id);  // answers still held elsewhere find fd < 0
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

}  // namespace

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

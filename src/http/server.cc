#include "src/http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <mutex>
#include <thread>
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

class Session;
using Clock = std::chrono::steady_clock;
// The socket type bound to a lane's executor: no type-erased executor per operation.
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

// One io thread, its sessions and the answers waiting for it (see server.h).
struct Lane {
  explicit Lane(Clock::duration sweep_every) : sweep_interval(sweep_every) {}

  net::io_context io{1};  // one thread: its sessions need no strand
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::thread thread;
  std::mutex mutex;
  std::vector<std::pair<std::shared_ptr<Session>, Response>> outbox;
  bool drain_posted = false;  // a drain() is queued and will see the outbox
  bool closed = false;        // stopped: answers are dropped, new sessions not started
  // The lane's live sessions: the deadline sweep walks them, and stop() closes them.
  // Timeouts: each session keeps a deadline, and one timer per lane closes the
  // sessions past it (a timer per read and write cost more than the reads).
  const Clock::duration sweep_interval;
  net::steady_timer sweep_timer{io};
  std::vector<std::weak_ptr<Session>> sessions;  // lane thread only
  bool sweeping = true;                          // lane thread only

  // Any thread. Queues the answer; the first answer of a batch posts the drain.
  void deliver(std::shared_ptr<Session> session, Response&& response) {
    {
      std::lock_guard lock(mutex);
      if (closed) return;
      outbox.emplace_back(std::move(session), std::move(response));
      if (drain_posted) return;
      drain_posted = true;
    }
    net::post(io, [this] { drain(); });
  }
  void drain();      // lane thread
  void sweep();      // lane thread
  void close_all();  // lane thread: ends the sweep and closes every session
};

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(net::io_context& io_context, ServerOptions opts, Handler h)
      : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(net::make_strand(io_context)) {
    const auto shortest = std::min(options.read_timeout, options.write_timeout);
    const Clock::duration sweep_every = std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(5),
                                                                    std::chrono::seconds(1));
    for (int i = 0; i < std::max(1, options.threads); ++i) lanes.push_back(std::make_unique<Lane>(sweep_every));
  }

  void accept();

  net::io_context& io;
  ServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::vector<std::unique_ptr<Lane>> lanes;
  std::size_t next_lane = 0;  // round robin; the accept chain only
  std::atomic<bool> stopped{false};
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket&& socket, std::shared_ptr<Server::State> server, Lane& lane)
      : socket_(std::move(socket)), server_(std::move(server)), lane_(lane) {}

  void start() {
    net::post(lane_.io, [self = shared_from_this()] {
      {
        std::lock_guard lock(self->lane_.mutex);
        if (self->lane_.closed) return;  // stop() came first: the socket closes with us
      }
      self->lane_.sessions.push_back(self);
      self->read();
    });
  }

  // Lane thread.
  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // Lane thread. One request is answered at a time, so one buffer serves them all.
  void write(Response&& response) {
    const bool keep_alive = response.keep_alive();
    wire_bytes(response, out_);
    deadline_ = Clock::now() + server_->options.write_timeout;
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       if (ec || !keep_alive) return self->close_now();
                       self->read();
                     });
  }

  // Lane thread: closes the connection if a read or write outlived its timeout; the
  // pending operation then ends with operation_aborted.
  void expire_if_due(Clock::time_point now) {
    if (now < deadline_) return;
    deadline_ = Clock::time_point::max();
    beast::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit_bytes);
    parser_->header_limit(64 * 1024);
    deadline_ = Clock::now() + server_->options.read_timeout;
    beast_http::async_read(socket_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    deadline_ = Clock::time_point::max();  // the handler has the request deadline
    if (ec == beast_http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == net::error::bad_descriptor || ec == net::error::connection_reset || ec == net::error::eof) {
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
    // The handler may answer from any thread: the answer goes through the lane.
    Responder respond = [self = shared_from_this(), version, keep_alive](Response&& response) {
      response.version(version);
      response.keep_alive(keep_alive && response.keep_alive());
      self->lane_.deliver(self, std::move(response));
    };
    try {
      server_->handler(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      write(json_response(beast_http::status::internal_server_error,
                          std::string(R"({"error":"internal error"})"), version, false));
    }
  }

  void close_now() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  Clock::time_point deadline_ = Clock::time_point::max();  // of the pending read or write
  beast::flat_buffer buffer_;
  std::string out_;  // the answer being written
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::shared_ptr<Server::State> server_;
  Lane& lane_;  // owned by server_
};

void Lane::drain() {
  std::vector<std::pair<std::shared_ptr<Session>, Response>> batch;
  {
    std::lock_guard lock(mutex);
    batch.swap(outbox);
    drain_posted = false;
  }
  for (auto& [session, response] : batch) session->write(std::move(response));
}

void Lane::sweep() {
  if (!sweeping) return;
  const Clock::time_point now = Clock::now();
  std::erase_if(sessions, [now](const std::weak_ptr<Session>& weak) {
    std::shared_ptr<Session> session = weak.lock();
    if (!session) return true;
    session->expire_if_due(now);
    return false;
  });
  sweep_timer.expires_after(sweep_interval);
  sweep_timer.async_wait([this](const beast::error_code& ec) {
    if (!ec) sweep();
  });
}

void Lane::close_all() {
  sweeping = false;
  sweep_timer.cancel();
  for (const std::weak_ptr<Session>& weak : sessions) {
    if (std::shared_ptr<Session> session = weak.lock()) session->close();
  }
  sessions.clear();
}

}  // namespace

void Server::State::accept() {
  Lane& lane = *lanes[next_lane++ % lanes.size()];
  acceptor.async_accept(lane.io.get_executor(), [self = shared_from_this(), &lane](beast::error_code ec, Socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted) return;
    } else {
      if (self->stopped) return;
      std::make_shared<Session>(std::move(socket), self, lane)->start();
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
  for (auto& lane : state_->lanes) {
    net::post(lane->io, [lane = lane.get()] { lane->sweep(); });
    lane->thread = std::thread([io = &lane->io] {
      util::name_this_thread("http-lane");
      io->run();
    });
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
  // Each lane closes its sessions and runs until their aborted operations are done.
  for (auto& lane : state_->lanes) {
    {
      std::lock_guard lock(lane->mutex);
      lane->closed = true;
      lane->outbox.clear();
    }
    net::post(lane->io, [lane = lane.get()] { lane->close_all(); });
    lane->work.reset();
    if (lane->thread.joinable()) lane->thread.join();
  }
}

}  // namespace raft::http

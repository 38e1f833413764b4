// A small HTTP/1.1 server: one listener, keep-alive connections, a timeout on every
// read and write, a body limit on every request (413 beyond it), 400 for garbage,
// and an orderly stop. Requests are parsed by Boost.Beast's parser and handed to an
// asynchronous handler that answers exactly once, from any thread. raftd's client
// API and dashboard are served by it.
//
// Threads: the server runs `threads` lanes, each a thread with its own connections; a
// connection lives on one lane for its whole life. Answers given from other threads
// (a Raft node's apply thread answers many requests at once) go into the lane's
// outbox, and a sleeping lane is woken once for all the answers queued meanwhile; a
// busy lane is not woken at all. A thread that gives many answers in a row opens an
// AnswerBatch, so the lane is woken once when it ends, not once for each answer it
// would otherwise drain in between.
//
// The lanes run their own loop rather than Boost.Asio's, for the system calls: on the
// VMs this runs on one costs about a microsecond before it does anything. By default
// a lane queues its receives and sends on io_uring and hands the queue to the kernel
// once per turn, with the same call collecting what completed (src/http/uring_lane.h);
// where the kernel refuses io_uring it uses epoll, one receive and one send per
// request (src/http/epoll_lane.h). `bench/raftd-ab` measured each step; see
// docs/performance.md.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "raft/result.h"

namespace raft::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
// Sends the response for one request. Call exactly once, from any thread.
using Responder = std::function<void(Response&&)>;
using Handler = std::function<void(Request&& request, Responder respond)>;

enum class IoBackend {
  kIoUring,  // io_uring (Linux 5.19 or later, and not refused by seccomp or sysctl)
  kEpoll,
};
const char* to_string(IoBackend backend);

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see Server::port())
  std::uint64_t body_limit_bytes = 2 << 20;
  std::chrono::milliseconds read_timeout{30000};  // idle keep-alive connections close after this
  std::chrono::milliseconds write_timeout{30000};
  int threads = 2;  // lanes (io threads) serving connections; at least 1
  // kIoUring falls back to kEpoll where this kernel cannot give the lanes io_uring.
  IoBackend io = IoBackend::kIoUring;
};

// While one lives on a thread, the answers that thread gives (Responder calls) wait
// in their lanes' outboxes and each lane is woken once, when the last one ends. A
// lane woken per answer drains it, sleeps and is woken again for the next: on a VM a
// wake-up costs a hypervisor exit on both sides, and a Raft node answers a batch of
// applied writes or a round of reads at once. Nestable; answers given from other
// threads are not held.
class AnswerBatch {
 public:
  AnswerBatch();
  ~AnswerBatch();
  AnswerBatch(const AnswerBatch&) = delete;
  AnswerBatch& operator=(const AnswerBatch&) = delete;
};

// A JSON error body: {"error":"..."} with the given status.
Response json_response(beast_http::status status, std::string body, unsigned version = 11, bool keep_alive = true);

class Server {
 public:
  // `io` runs the listener only (Boost.Asio's acceptor); connections are served by
  // the server's own lanes.
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Fails (e.g. port in use) with a clear message.
  Status start();
  std::uint16_t port() const;
  // The I/O the lanes use: options.io, or kEpoll where io_uring was asked and refused.
  IoBackend backend() const;
  // How many times the lanes were woken from their sleep to send answers (or take a
  // new connection): one per lane per AnswerBatch at most.
  std::uint64_t wakeups() const;
  // Stops accepting, closes every connection and joins the lanes' threads. Handlers
  // still running may answer; their responses are dropped. Not from a lane thread.
  void stop();

  struct State;  // public so the implementation's helpers can name it

 private:
  std::shared_ptr<State> state_;
};

}  // namespace raft::http

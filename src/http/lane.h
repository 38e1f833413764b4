// A lane: one server thread and the client connections it owns for their whole life
// (see server.h). This is the part both ways of doing the socket I/O share: the
// queues other threads hand sockets and answers through, the HTTP/1.1 exchange on
// each connection (parse, hand to the handler, write the answer, read the next), and
// the timeouts. How bytes come in and go out is a subclass's: EpollLane (readiness,
// then a receive or send per request) and UringLane (io_uring: receives and sends are
// queued and submitted together, many per system call).
//
// Every connection is in one phase at a time, and the phases decide which I/O is
// wanted: kReading wants bytes (nothing is read in the other phases, so a client
// pipelining requests is held back by TCP, not by our memory); kWriting wants
// `out` to go out; kAnswering waits for the handler.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/http/server.h"

namespace raft::http::detail {

using Clock = std::chrono::steady_clock;

class Lane;

// One client connection. Every field but `id`, `lane` and `server` belongs to the lane
// thread; other threads only hold the pointer, to hand an answer back to the lane.
struct Connection {
  Connection(std::uint64_t connection_id, Lane& owner, int socket) : id(connection_id), lane(owner), fd(socket) {}
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }

  enum class Phase { kReading, kAnswering, kWriting };

  const std::uint64_t id;
  Lane& lane;
  // Keeps the lanes alive for an answer given after the server is gone (dropped then).
  std::shared_ptr<const Server::State> server;
  int fd;  // -1 once closed
  Phase phase = Phase::kReading;
  std::string unparsed;  // bytes received but not yet taken by the parser
  std::optional<beast_http::request_parser<beast_http::string_body>> parser;
  std::string out;  // the answer being written
  std::size_t out_sent = 0;
  bool close_after_write = false;
  Clock::time_point deadline = Clock::time_point::max();  // of the pending read or write

  // EpollLane only. False only when a receive came back short (or empty) and no
  // readiness edge has come since: the socket is then known to be drained, so the
  // next read waits for epoll instead of trying a receive that would fail with EAGAIN.
  bool maybe_readable = true;
  bool hung_up = false;  // the client shut its side (or the socket failed): read to the end

  // UringLane only: a receive or a send the kernel holds. While either is set the
  // connection (and `out`, which a send reads) must outlive a close.
  bool receiving = false;
  bool sending = false;
};

class Lane {
 public:
  explicit Lane(const Server::State& server);
  // A subclass's destructor calls stop() first: the thread runs the subclass's code.
  virtual ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Creates the lane's resources and starts its thread.
  Status start();
  // Any thread: hand over an accepted, non-blocking socket.
  void adopt(int fd);
  // Any thread: queue an answer. The lane is woken only if it sleeps and nobody has
  // woken it yet: one wake-up per batch of answers, none while busy; inside an
  // AnswerBatch, when the batch ends.
  void deliver(std::shared_ptr<Connection> connection, Response&& response);
  // Any thread but this lane's: close every connection and join the thread.
  void stop();
  // Any thread: how many times an answer (or a socket) woke the sleeping lane.
  std::uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 protected:
  // The subclass's I/O, all on the lane thread.
  // First, before run(): its kernel objects (the eventfd `wake_fd_` exists).
  virtual Status open() = 0;
  // A new connection joins the lane; false when the kernel refuses it.
  virtual bool watch(Connection& connection) = 0;
  // Sleeps until I/O completes, `wake_fd_` is written or `timeout_ms` passes (0: do
  // not sleep), then calls woke() and carries on every connection that can.
  virtual void poll(int timeout_ms) = 0;
  // The connection, in kReading, wants bytes: each chunk goes to received().
  virtual void want_read(Connection& connection) = 0;
  // The connection, in kWriting, wants out[out_sent..] sent; then written().
  virtual void want_write(Connection& connection) = 0;
  // Closes the socket and forgets the connection (answers still held elsewhere then
  // find fd < 0). Also for connections the subclass found broken.
  virtual void close(Connection& connection) = 0;
  // The thread's last act: close every connection and let go of the kernel objects.
  virtual void shut_down() = 0;

  // The protocol, for the subclass to call.
  void woke();  // right after the sleep in poll() ends
  void received(Connection& connection, const char* data, std::size_t size);
  void written(Connection& connection);  // every byte of `out` is sent
  void start_request(Connection& connection);

  const Server::State& server_;  // its options and handler
  int wake_fd_ = -1;             // an eventfd: written to wake a sleeping lane
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;  // the open ones
  Clock::time_point now_ = Clock::now();  // as of the last wake-up: deadlines need no finer clock

 private:
  friend class raft::http::AnswerBatch;  // wakes the lanes its answers went to

  void run();
  void wake_if_asleep();
  void register_connection(int fd);
  void dispatch(Connection& connection);
  void answer(Connection& connection, Response&& response);
  void sweep();
  int timeout_ms() const;

  const Clock::duration sweep_interval_;
  std::thread thread_;

  std::mutex mutex_;  // guards the three below
  std::vector<std::pair<std::shared_ptr<Connection>, Response>> outbox_;
  std::vector<int> incoming_;
  bool stopping_ = false;
  // Set under mutex_ once the queues were seen empty, just before the lane sleeps;
  // whoever queues next clears it and writes the eventfd. So a busy lane is never woken.
  std::atomic<bool> asleep_{false};
  std::atomic<std::uint64_t> wakeups_{0};

  // Lane thread only.
  std::uint64_t next_id_ = 1;  // 0 is no connection's (the subclasses tag their wake-up with it)
  Clock::time_point next_sweep_ = now_;
};

}  // namespace raft::http::detail

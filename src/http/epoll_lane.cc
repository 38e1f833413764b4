#include "src/http/epoll_lane.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace raft::http::detail {

EpollLane::~EpollLane() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status EpollLane::open() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: cannot create its epoll set: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered: stays ready until on_event reads it
  event.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: epoll_ctl: ") + std::strerror(errno));
  }
  return Ok{};
}

bool EpollLane::watch(Connection& connection) {
  // Edge-triggered, registered once for the connection's life: no epoll_ctl per request.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = connection.id;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, connection.fd, &event) == 0;
}

void EpollLane::poll(int timeout_ms) {
  const int ready = ::epoll_wait(epoll_fd_, events_.data(), int(events_.size()), timeout_ms);
  woke();
  for (int i = 0; i < ready; ++i) on_event(events_[std::size_t(i)]);
}

void EpollLane::on_event(const epoll_event& event) {
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
    if (connection->phase == Connection::Phase::kReading) want_read(*connection);
  }
  if ((event.events & (EPOLLOUT | EPOLLERR)) && connection->phase == Connection::Phase::kWriting) {
    want_write(*connection);
  }
}

// Reads while a request is wanted and bytes may be waiting. A receive that fills less
// than the buffer has drained the socket (TCP hands over all it has), and the next
// arrival raises a new edge; so no receive is spent to learn that nothing is left.
// Except after a hang-up: its edge may have come with the data, and the end of the
// stream is only learnt by reading on.
void EpollLane::want_read(Connection& connection) {
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
    received(connection, read_buffer_.data(), std::size_t(n));
  }
}

void EpollLane::want_write(Connection& connection) {
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
  written(connection);
}

void EpollLane::close(Connection& connection) {
  if (connection.fd < 0) return;
  ::close(connection.fd);  // also leaves the epoll set
  connection.fd = -1;
  connections_.erase(connection.id);  // answers still held elsewhere find fd < 0
}

void EpollLane::shut_down() {
  for (auto& [id, connection] : connections_) {
    if (connection->fd >= 0) ::close(connection->fd);
    connection->fd = -1;
  }
  connections_.clear();
}

}  // namespace raft::http::detail

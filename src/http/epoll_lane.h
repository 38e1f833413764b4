// A lane on epoll: each socket registered once, edge-triggered, and read or written
// with one system call per receive or send, as soon as it is ready (see lane.h).
// Every Linux kernel has it; the server falls back to it where io_uring is refused.
#pragma once

#include <sys/epoll.h>

#include <vector>

#include "src/http/lane.h"

namespace raft::http::detail {

class EpollLane final : public Lane {
 public:
  using Lane::Lane;
  ~EpollLane() override;

 private:
  Status open() override;
  bool watch(Connection& connection) override;
  void poll(int timeout_ms) override;
  void want_read(Connection& connection) override;
  void want_write(Connection& connection) override;
  void close(Connection& connection) override;
  void shut_down() override;

  void on_event(const epoll_event& event);

  static constexpr std::uint64_t kWakeId = 0;  // the eventfd's tag in the epoll set

  int epoll_fd_ = -1;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(128);
  std::vector<char> read_buffer_ = std::vector<char>(64 * 1024);
};

}  // namespace raft::http::detail

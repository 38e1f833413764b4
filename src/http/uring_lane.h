// A lane on io_uring (see lane.h). Each connection that wants bytes has one receive
// queued in the kernel, into a buffer the kernel picks from the lane's pool when data
// arrives (a provided-buffer ring: an idle connection holds no buffer); each answer is
// one queued send. The queue goes to the kernel once per turn of the loop, in the same
// system call that collects what completed, so a turn that answers 30 requests and
// reads 30 more costs one io_uring_enter instead of 60 sends and receives.
//
// Why: on the VMs this runs on a system call costs about a microsecond before it does
// anything, and raftd's leader under load made two or more per request.
// `bench/raftd-ab` (see docs/performance.md) has the before and after.
//
// Closing a connection with a receive or send still queued cancels them first; the
// connection (with the buffer a send reads) waits in `draining_` until the kernel has
// reported both, so nothing the kernel holds is freed under it.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "src/http/lane.h"

namespace raft::http::detail {

class UringLane final : public Lane {
 public:
  using Lane::Lane;
  ~UringLane() override;

  // Whether this kernel lets a process use io_uring with everything this lane needs
  // (provided-buffer rings: Linux 5.19). Seccomp (Docker's default profile), an old
  // kernel or kernel.io_uring_disabled say no. Checked once per process.
  static bool supported();

 private:
  static bool probe();

  Status open() override;
  bool watch(Connection& connection) override;
  void poll(int timeout_ms) override;
  void want_read(Connection& connection) override;
  void want_write(Connection& connection) override;
  void close(Connection& connection) override;
  void shut_down() override;

  // What an operation's user_data says besides its connection id (id << 2 | op).
  enum Op : std::uint64_t { kWake = 0, kReceive = 1, kSend = 2, kCancel = 3 };
  struct Completion {
    std::uint64_t user_data;
    int result;
    unsigned flags;
  };

  io_uring_sqe* next_sqe();  // submits the queue first when it is full
  void read_wake_fd();
  void reap();
  void complete(const Completion& completion);
  void on_received(Connection& connection, int result, unsigned flags);
  void on_sent(Connection& connection, int result);
  void give_back(unsigned buffer);

  static constexpr unsigned kQueueEntries = 256;
  static constexpr unsigned kCompletionEntries = 8192;
  static constexpr unsigned kBuffers = 256;  // a power of two (the ring's mask)
  static constexpr unsigned kBufferBytes = 4096;
  static constexpr int kBufferGroup = 0;

  io_uring ring_{};
  bool ring_open_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;  // mmapped, shared with the kernel
  std::unique_ptr<char[]> buffers_;           // kBuffers of kBufferBytes
  std::uint64_t wake_count_ = 0;              // where the eventfd read lands
  bool shutting_down_ = false;
  std::vector<Completion> completions_;
  // Closed connections with an operation still in the kernel.
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> draining_;
};

}  // namespace raft::http::detail

// Notices a long-lived connection that stopped making progress, by looking once per
// period instead of arming a deadline around every read and write.
//
// Why: beast::tcp_stream's per-operation deadlines cost a timer-queue insertion and a
// cancellation per operation, and re-arm the timerfd whenever the earliest deadline
// moves (0.35 timerfd_settime calls per heartbeat on a follower, measured with
// strace). A peer stream carries thousands of small chunks a second; a stall is a
// matter of seconds. So: the owner says when it starts waiting for something
// (set_waiting), reports each step (progress), and the watchdog calls on_stall once
// if a whole period passed while waiting with no step. A stall is therefore noticed
// between one and two periods after the last step.
//
// Threading: io thread only (the one that runs the io_context it is given).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace raft::transport {

class StallWatchdog : public std::enable_shared_from_this<StallWatchdog> {
 public:
  StallWatchdog(boost::asio::io_context& io, std::chrono::milliseconds period,
                std::function<void()> on_stall);

  // Starts looking. Call once.
  void start();
  // Whether the owner is waiting for something (a write to finish, the next chunk).
  void set_waiting(bool waiting) { waiting_ = waiting; }
  // The thing waited for made a step.
  void progress() { progressed_ = true; }
  // Stops looking; on_stall is not called after this.
  void stop();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  const std::chrono::milliseconds period_;
  std::function<void()> on_stall_;
  bool waiting_ = false;
  bool progressed_ = false;
  bool stopped_ = false;
};

}  // namespace raft::transport

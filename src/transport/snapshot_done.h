// The completion of Transport::send_snapshot(), made safe to race: it runs at most
// once, whoever gets there first (the transfer, or stop() for a transfer that never
// got to end), so a node hears exactly one outcome per snapshot it sends.
#pragma once

#include <functional>
#include <mutex>
#include <utility>

namespace raft::transport {

class SnapshotDone {
 public:
  explicit SnapshotDone(std::function<void(bool delivered)> done) : done_(std::move(done)) {}

  // Thread-safe; every call after the first does nothing.
  void operator()(bool delivered) {
    std::function<void(bool)> done;
    {
      std::lock_guard lock(mutex_);
      done.swap(done_);
    }
    if (done) done(delivered);
  }

 private:
  std::mutex mutex_;
  std::function<void(bool)> done_;  // null once called
};

}  // namespace raft::transport

// The apply thread: runs the user's StateMachine, in log order, off the event loop,
// so a slow state machine never stalls replication. Tasks (apply a batch, take a
// snapshot, restore one) run one at a time in the order they were queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace raft {

class ApplyWorker {
 public:
  ApplyWorker();
  ~ApplyWorker();  // stop()s
  ApplyWorker(const ApplyWorker&) = delete;
  ApplyWorker& operator=(const ApplyWorker&) = delete;

  // Queues a task. Tasks queued after stop() are dropped.
  void post(std::function<void()> task);
  // Finishes the running task, drops the queued ones, joins the thread. Idempotent.
  void stop();
  std::size_t queued() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace raft

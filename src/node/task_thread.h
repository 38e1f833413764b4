// A named thread that runs posted tasks one at a time, in the order they were posted.
// The node runs two: the apply thread (the user's StateMachine, off the event loop, so
// a slow state machine never stalls replication) and the snapshot thread (a finished
// snapshot's fsyncs and rename, off the apply thread, so applying goes on meanwhile).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace raft {

class TaskThread {
 public:
  explicit TaskThread(std::string name);
  ~TaskThread();  // stop()s
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Queues a task. Tasks queued after stop() are dropped.
  void post(std::function<void()> task);
  // Finishes the running task, drops the queued ones, joins the thread. Idempotent.
  void stop();

 private:
  void run();

  const std::string name_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace raft

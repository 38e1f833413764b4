#include "src/node/task_thread.h"

#include <utility>

#include "src/util/thread_name.h"

namespace raft {

TaskThread::TaskThread(std::string name)
    : name_(std::move(name)), thread_([this] {
        util::name_this_thread(name_.c_str());
        run();
      }) {}

TaskThread::~TaskThread() { stop(); }

void TaskThread::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void TaskThread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TaskThread::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace raft

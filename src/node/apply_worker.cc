#include "src/node/apply_worker.h"

#include "src/util/thread_name.h"

namespace raft {

ApplyWorker::ApplyWorker() : thread_([this] {
        util::name_this_thread("raft-apply");
        run();
      }) {}

ApplyWorker::~ApplyWorker() { stop(); }

void ApplyWorker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ApplyWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::size_t ApplyWorker::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void ApplyWorker::run() {
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

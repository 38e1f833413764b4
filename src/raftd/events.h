// A bounded, thread-safe ring of recent cluster events (elections, membership
// changes, snapshots, errors) for the dashboard's timeline and for structured logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace raftd {

struct Event {
  std::int64_t unix_ms = 0;
  std::string kind;  // "leader", "term", "membership", "snapshot", "error", "info"
  std::string text;
};

class EventLog {
 public:
  explicit EventLog(std::size_t capacity = 200) : capacity_(capacity) {}
  void add(std::string kind, std::string text) {
    Event event{std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count(),
                std::move(kind), std::move(text)};
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    while (events_.size() > capacity_) events_.pop_front();
  }
  std::vector<Event> recent() const {
    std::lock_guard lock(mutex_);
    return {events_.begin(), events_.end()};
  }

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Event> events_;
};

}  // namespace raftd

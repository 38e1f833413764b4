#include "src/transport/log.h"

#include <cstdio>
#include <string>

namespace raft::transport {

Logger::Logger(LogFunction sink) : sink_(std::move(sink)) {}

void Logger::operator()(std::string_view line) const {
  if (sink_) return sink_(line);
  // One fprintf per line keeps concurrent lines from interleaving.
  std::fprintf(stderr, "raft transport: %.*s\n", static_cast<int>(line.size()), line.data());
}

bool LogThrottle::allow(std::uint64_t* suppressed) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t next = next_allowed_ns_.load(std::memory_order_relaxed);
  const std::int64_t interval =
      std::chrono::duration_cast<std::chrono::nanoseconds>(interval_).count();
  if (now >= next &&
      next_allowed_ns_.compare_exchange_strong(next, now + interval, std::memory_order_relaxed)) {
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace raft::transport

// Where the transport reports what an operator must know about (a peer of another
// cluster, a snapshot that failed its checksum, a peer that cannot be reached), and a
// throttle so that a misconfigured peer retrying every few milliseconds cannot flood
// the log.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace raft::transport {

// Receives one line, without a trailing newline. Called from transport threads.
using LogFunction = std::function<void(std::string_view line)>;

class Logger {
 public:
  // A null `sink` writes to stderr, prefixed with "raft transport: ".
  explicit Logger(LogFunction sink = nullptr);
  void operator()(std::string_view line) const;

 private:
  LogFunction sink_;
};

// Lets through at most one event per `interval`; thread-safe. Events held back are
// counted so the next line can say how many were suppressed.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds interval = std::chrono::seconds(5))
      : interval_(interval) {}
  // Whether to log now; `suppressed` gets how many events were held back since the
  // last one let through.
  bool allow(std::uint64_t* suppressed);

 private:
  std::chrono::milliseconds interval_;
  std::atomic<std::int64_t> next_allowed_ns_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace raft::transport

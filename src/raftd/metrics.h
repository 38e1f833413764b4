// raftd's own measurements, rendered in the Prometheus text format at GET /metrics
// and summarized per second for the dashboard's charts. Lock-free counters and
// histograms (raft::LatencyHistogram).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "raft/latency_histogram.h"

namespace raftd {

// Appends the Prometheus lines of a latency histogram named `name` (in seconds).
void render_histogram(std::string& out, const std::string& name, const std::string& help,
                      const raft::LatencySnapshot& snapshot);

// One second of traffic as the dashboard charts it.
struct SecondStats {
  std::int64_t unix_seconds = 0;
  std::uint64_t writes = 0;
  std::uint64_t reads = 0;
  double write_p50_ms = 0;
  double write_p99_ms = 0;
};

class Metrics {
 public:
  std::atomic<std::uint64_t> writes_ok{0};
  std::atomic<std::uint64_t> writes_failed{0};
  std::atomic<std::uint64_t> reads_ok{0};
  std::atomic<std::uint64_t> reads_failed{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> http_requests{0};
  // Set once before the client API starts serving (raftd: http::Server::wakeups).
  std::function<std::uint64_t()> http_wakeups;
  raft::LatencyHistogram write_latency;  // client-visible commit latency on this node
  raft::LatencyHistogram read_latency;

  void record_write(std::chrono::nanoseconds latency, bool ok);
  void record_read(std::chrono::nanoseconds latency, bool ok);
  // The last `seconds` seconds, oldest first (the current second excluded).
  std::deque<SecondStats> recent(std::size_t seconds = 60) const;

 private:
  // Closes the current second if the clock moved on. REQUIRES: mutex_ held. Const so
  // readers can roll too; the rolled state is a cache of what was recorded.
  void roll(std::int64_t now_seconds) const;
  mutable std::mutex mutex_;
  mutable std::deque<SecondStats> history_;
  mutable SecondStats current_;
  mutable std::deque<double> current_write_ms_;
};

}  // namespace raftd

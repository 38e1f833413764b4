// raftd's own measurements, rendered in the Prometheus text format at GET /metrics
// and summarized per second for the dashboard's charts. Lock-free counters; the
// histogram uses fixed exponential buckets so recording is one atomic increment.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace raftd {

// Latency histogram with buckets from 50 µs doubling to ~52 s.
class LatencyHistogram {
 public:
  static constexpr std::size_t kBuckets = 21;
  void record(std::chrono::nanoseconds latency);
  // Appends the Prometheus lines for metric `name` (seconds).
  void render(std::string& out, const std::string& name, const std::string& help) const;
  // Quantile estimate in milliseconds from the buckets (upper bound of the bucket).
  double quantile_ms(double q) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  static double bucket_bound_seconds(std::size_t i);

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

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
  LatencyHistogram write_latency;  // client-visible commit latency on this node
  LatencyHistogram read_latency;

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

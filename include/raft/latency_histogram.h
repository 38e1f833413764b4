// A latency histogram cheap enough for hot paths (recording is three relaxed atomic
// increments), with fixed exponential buckets so snapshots from different sources
// (commit latency, disk sync latency) line up in Prometheus.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace raft {

/// A copy of a histogram at one moment. Bucket i counts latencies in
/// (bound(i-1), bound(i)] seconds; the last bucket counts everything above the largest
/// bound.
struct LatencySnapshot {
  static constexpr std::size_t kBuckets = 21;  ///< 50 µs doubling up to ~52 s
  /// Upper bound of bucket `i` in seconds: 50 µs * 2^i.
  static double bucket_bound_seconds(std::size_t i);

  std::array<std::uint64_t, kBuckets + 1> buckets{};  ///< counts per bucket, +Inf last
  std::uint64_t count = 0;                            ///< sum of the buckets
  double sum_seconds = 0;                             ///< sum of every latency recorded

  /// Upper bound of the bucket holding quantile q (0..1), in milliseconds; 0 if empty.
  double quantile_ms(double q) const;
};

/// A histogram of latencies in fixed exponential buckets. Thread-safe: record() from
/// any number of threads while others take snapshots.
class LatencyHistogram {
 public:
  /// Counts one latency.
  void record(std::chrono::nanoseconds latency);
  /// A consistent copy (its count is the sum of its buckets).
  LatencySnapshot snapshot() const;
  /// Latencies recorded so far.
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, LatencySnapshot::kBuckets + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace raft
